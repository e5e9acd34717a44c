"""ckx serve: latency and throughput of cached requests over HTTP vs in-process ``ckx.access``.

    python bench/serve.py [--n 500] [--clients 8] [--workers 2]

Starts ``ckx serve`` on a free loopback port with a temp CKX_HOME, warms it (index built,
``get,python3`` cached), then times each request end to end from the client: one client with
a kept-alive connection (latency), then ``--clients`` threads at once (throughput). The
in-process figures call ``ckx.access`` in this process on the same home. Target (2 cores):
p50 under 5 ms for a cached search over HTTP.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEARCH = {"action": "search", "automation": "script", "tags": "get,python3"}
RUN = {"action": "run", "automation": "script", "tags": "get,python3", "quiet": True}


def start(home: str, workers: int) -> tuple[subprocess.Popen, str]:
    env = {**os.environ, "CKX_HOME": home}
    p = subprocess.Popen(
        [sys.executable, "-m", "ckx", "serve", "--port=0", f"--workers={workers}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert p.stderr is not None
    for line in p.stderr:
        m = re.search(r"listening on (http://\S+)", line)
        if m:
            threading.Thread(target=p.stderr.read, daemon=True).start()
            return p, m.group(1)
    raise SystemExit("ckx serve did not start")


def timed(call, n: int) -> list[float]:
    out = []
    for _ in range(n):
        t = time.perf_counter()
        r = call()
        out.append(time.perf_counter() - t)
        assert r.get("return") == 0, r
    return out


def row(name: str, times: list[float], wall: float | None = None) -> str:
    ts = sorted(times)
    p50 = statistics.median(ts) * 1e3
    p99 = ts[min(len(ts) - 1, int(len(ts) * 0.99))] * 1e3
    rps = len(ts) / (wall if wall is not None else sum(ts))
    return f"{name:<44} {len(ts):>6} {rps:>9.0f} {p50:>8.2f} {p99:>8.2f}"


def _cpu_s(pid: int) -> float:
    """user + system CPU seconds of ``pid`` (Linux /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_request(server: subprocess.Popen, call, n: int) -> str:
    """CPU ms per request in the server, its workers and this client: what a request costs
    whatever else loads the machine (wall times on a shared machine include waiting for a CPU)."""
    if not Path("/proc/self/stat").exists():
        return "(CPU accounting needs Linux /proc)"
    ps = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(server.pid)], capture_output=True, text=True
    )
    kids = [int(x) for x in ps.stdout.split()]
    s0, w0, c0 = _cpu_s(server.pid), sum(map(_cpu_s, kids)), time.process_time()
    timed(call, n)
    s = (_cpu_s(server.pid) - s0) / n * 1e3
    w = (sum(map(_cpu_s, kids)) - w0) / n * 1e3
    c = (time.process_time() - c0) / n * 1e3
    return f"CPU ms per cached search over HTTP: server {s:.2f}, worker {w:.2f}, client {c:.2f}, total {s + w + c:.2f}"


def concurrent(url: str, req: dict, clients: int, n: int) -> tuple[list[float], float]:
    from ckx.client import Client

    def worker(_: int) -> list[float]:
        with Client(url) as c:
            return timed(lambda: c.access(req), n)

    t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        parts = list(pool.map(worker, range(clients)))
    return [x for p in parts for x in p], time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as home:
        os.environ["CKX_HOME"] = home
        import ckx
        from ckx.client import Client

        assert ckx.access(RUN)["return"] == 0  # cache get,python3
        proc, url = start(home, a.workers)
        try:
            with Client(url) as c:
                timed(lambda: c.access(SEARCH), 50)  # warm both workers
                rows = [
                    row("search, in-process ckx.access", timed(lambda: ckx.access(SEARCH), a.n)),
                    row("search, HTTP, 1 client", timed(lambda: c.access(SEARCH), a.n)),
                    row(
                        f"search, HTTP, {a.clients} clients",
                        *concurrent(url, SEARCH, a.clients, a.n // a.clients),
                    ),
                    row(
                        "cached run get,python3, in-process",
                        timed(lambda: ckx.access(RUN), a.n // 5),
                    ),
                    row(
                        "cached run get,python3, HTTP, 1 client",
                        timed(lambda: c.access(RUN), a.n // 5),
                    ),
                ]
                cpu = cpu_per_request(proc, lambda: c.access(SEARCH), a.n)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    py = sys.version.split()[0]
    print(
        f"ckx serve --workers={a.workers}; {os.cpu_count()} CPUs; Python {py}; load average {load}"
    )
    print(f"{'request':<44} {'n':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    print("-" * 79)
    print("\n".join(rows))
    print(cpu)
    print("target: search over HTTP, 1 client, p50 < 5 ms")


if __name__ == "__main__":
    main()

"""A real Ray cluster on 127.0.0.1 for the tests: a head node and worker nodes started with
``ray start``, each in a session of its own, on free ports and in a temp folder of their own,
with its own ``CKX_HOME`` (as separate machines would have). ``stop()`` kills exactly the
processes of those sessions (never other Ray clusters on the machine: ``ray stop`` would stop
every cluster of this user)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))


def free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class LocalRayCluster:
    def __init__(self, homes: list[Path], num_cpus: int = 1) -> None:
        self.homes = homes
        self.num_cpus = num_cpus
        self.temp = Path(tempfile.mkdtemp(prefix="ckxray-", dir="/tmp"))
        self.sessions: list[int] = []
        self.address = ""

    def _start(self, args: list[str], home: Path) -> None:
        ports = free_ports(8 + 40)  # 40 for worker processes: all distinct, all free now
        env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
        env.update(CKX_HOME=str(home), RAY_USAGE_STATS_ENABLED="0")
        env.pop("CKX_MIRROR", None)
        cmd = [
            RAY, "start", *args,
            "--node-ip-address=127.0.0.1",
            f"--num-cpus={self.num_cpus}",
            "--num-gpus=0",
            "--object-store-memory=100000000",
            "--disable-usage-stats",
            f"--node-manager-port={ports[0]}",
            f"--object-manager-port={ports[1]}",
            f"--metrics-export-port={ports[2]}",
            f"--dashboard-agent-listen-port={ports[3]}",
            f"--dashboard-agent-grpc-port={ports[4]}",
            f"--runtime-env-agent-port={ports[5]}",
            "--worker-port-list=" + ",".join(map(str, ports[8:])),
        ]  # fmt: skip
        if "--head" in args:
            cmd += ["--include-dashboard=false", f"--dashboard-port={ports[7]}"]
            cmd += [f"--temp-dir={self.temp}"]
        p = subprocess.Popen(
            cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        self.sessions.append(p.pid)
        out, _ = p.communicate(timeout=120)
        if p.returncode != 0:
            raise RuntimeError(f"ray start failed ({p.returncode}):\n{out[-3000:]}")

    def start(self) -> LocalRayCluster:
        port = free_ports(1)[0]
        self.address = f"127.0.0.1:{port}"
        self._start(["--head", f"--port={port}"], self.homes[0])
        for home in self.homes[1:]:
            self._start([f"--address={self.address}"], home)
        return self

    def processes(self) -> list[tuple[int, int, str]]:
        """(pid, session id, command line) of every live process of this cluster."""
        out = subprocess.run(
            ["ps", "-eo", "pid=,sid=,stat=,args="], capture_output=True, text=True
        ).stdout
        procs = []
        for line in out.splitlines():
            parts = line.split(None, 3)
            if len(parts) == 4 and int(parts[1]) in self.sessions and "Z" not in parts[2]:
                procs.append((int(parts[0]), int(parts[1]), parts[3]))
        return procs

    def stop(self) -> None:
        for _ in range(3):
            procs = self.processes()
            if not procs:
                break
            for pid, _, _ in procs:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        shutil.rmtree(self.temp, ignore_errors=True)

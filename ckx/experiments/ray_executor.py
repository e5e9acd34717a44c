"""``--executor=ray``: each sweep point is one Ray task that runs ckx on a worker node.

Only this module imports ``ray`` (inside functions, when a sweep asks for it: the extra
``ray``, docs/install.md). The driver connects to a running cluster (``--ray_address``,
else ``RAY_ADDRESS``, else ``auto``: a cluster started on this machine with ``ray start``);
it never starts one. A task reserves ``--ray_resources`` (default ``CPU=1``), runs the point
with the worker's own ``CKX_HOME`` (its cache, its ``CKX_MIRROR``) and returns the point's
answer: the characteristics, plan locks and kept files of its repetitions, a few kB. Ray
re-runs a task whose worker or node was lost (``--ray_retries``, default 1); a point whose
retries are spent is answered as failed (kind ``lost``), so the driver records it whole or
as failed, never in part. See docs/scale-out.md.
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any

from ckx.core.errors import UsageError, missing_extra
from ckx.experiments.worker import error_answer

if TYPE_CHECKING:
    from ckx.experiments.executors import OnDone, OnStart

_STANDARD = {"CPU": "num_cpus", "GPU": "num_gpus", "memory": "memory"}


def parse_resources(spec: Any) -> dict[str, Any]:
    """``CPU=2,GPU=1,accel=1`` (or a dict) -> Ray task options (``num_cpus``, ``resources``...)."""
    if spec in (None, "", True):
        return {"num_cpus": 1}
    if isinstance(spec, dict):
        items = [(str(k), v) for k, v in spec.items()]
    else:
        items = [tuple(x.split("=", 1)) for x in str(spec).split(",") if x.strip()]  # type: ignore[misc]
    opts: dict[str, Any] = {"num_cpus": 1}
    custom: dict[str, float] = {}
    for item in items:
        if len(item) != 2:
            raise UsageError(
                f"--ray_resources: '{'='.join(item)}' is not NAME=AMOUNT",
                hint="e.g. --ray_resources=CPU=4,GPU=1",
            )
        name, amount = item[0].strip(), item[1]
        try:
            value = float(amount)
        except (TypeError, ValueError):
            raise UsageError(f"--ray_resources: {name}={amount} is not a number") from None
        if value < 0:
            raise UsageError(f"--ray_resources: {name} must not be negative")
        if name in _STANDARD:
            opts[_STANDARD[name]] = int(value) if name == "memory" else value
        else:
            custom[name] = value
    if custom:
        opts["resources"] = custom
    return opts


def _ray():
    try:
        import ray
    except ImportError:
        raise missing_extra("ray", "ray", "--executor=ray") from None
    return ray


def ray_point(payload: dict[str, Any]) -> dict[str, Any]:
    """The Ray task: run one point on this worker node, in a context of its own ``CKX_HOME``."""
    import ray

    from ckx.experiments.worker import execute_here

    where = {
        "executor": "ray",
        "node_id": ray.get_runtime_context().get_node_id(),
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
    }
    return execute_here(payload, where)


#: Seconds the driver waits for a Ray cluster to answer (a TCP check first, then Ray itself,
#: in a child process that is killed when the time is up): Ray alone retries for minutes.
CONNECT_TIMEOUT_VAR = "CKX_RAY_CONNECT_TIMEOUT"
CONNECT_TIMEOUT_S = 45.0
_PROBE = "import sys; from ckx.experiments.ray_executor import probe_main; probe_main(sys.argv[1])"


def connect_timeout() -> float:
    raw = os.environ.get(CONNECT_TIMEOUT_VAR)
    try:
        value = float(raw) if raw else CONNECT_TIMEOUT_S
    except ValueError:
        raise UsageError(f"{CONNECT_TIMEOUT_VAR}={raw!r} is not a number of seconds") from None
    return value if value > 0 else CONNECT_TIMEOUT_S


def _unreachable(address: str, why: str) -> UsageError:
    return UsageError(
        f"cannot reach a Ray cluster at {address}: {why}",
        hint="start one (ray start --head; docs/scale-out.md) and pass "
        "--ray_address=HOST:PORT or set RAY_ADDRESS",
    )


def _check_port(address: str, timeout: float) -> None:
    """A HOST:PORT address where nothing listens fails here, at once."""
    host, sep, port = address.rpartition(":")
    if address == "auto" or "://" in address or not sep or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=min(timeout, 10)).close()
    except TimeoutError:
        raise _unreachable(address, f"no answer within {min(timeout, 10):.0f} s") from None
    except OSError as e:
        raise _unreachable(address, e.strerror or str(e)) from None


def probe_main(address: str) -> None:
    """In a child process: join the cluster at ``address``, print its live nodes' resources
    as one JSON line, leave."""
    import json
    import logging

    import ray

    try:
        ray.init(
            address=address, log_to_driver=False, logging_level=logging.ERROR,
            configure_logging=False,
        )  # fmt: skip
        nodes = [dict(n.get("Resources") or {}) for n in ray.nodes() if n.get("Alive")]
        print(json.dumps({"nodes": nodes}), flush=True)
    except Exception as e:  # answered as text: the driver turns it into a UsageError
        print(json.dumps({"error": f"{type(e).__name__}: {e}"[:500]}), flush=True)
    finally:
        ray.shutdown()


def probe_cluster(address: str, timeout: float) -> list[dict[str, float]]:
    """The resources of each live node of the cluster at ``address``, asked in a child
    process that gets ``timeout`` seconds; a clear UsageError when no cluster answers."""
    import json
    import signal
    import subprocess
    import sys

    _check_port(address, timeout)
    proc = subprocess.Popen(
        [sys.executable, "-c", _PROBE, address],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise _unreachable(
            address, f"no answer within {timeout:.0f} s ({CONNECT_TIMEOUT_VAR} sets the wait)"
        ) from None
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    answer = json.loads(lines[-1]) if lines else {}
    if "nodes" not in answer:
        last = (err.strip().splitlines() or ["(nothing on stderr)"])[-1]
        raise _unreachable(address, str(answer.get("error") or last)[:400])
    return answer["nodes"]


def _wanted(options: dict[str, Any]) -> dict[str, float]:
    """The resources a task reserves, by Ray's names (``CPU``, ``GPU``, ``memory``, custom)."""
    names = {v: k for k, v in _STANDARD.items()}
    out = {names[k]: float(v) for k, v in options.items() if k in names and v}
    out.update({k: float(v) for k, v in (options.get("resources") or {}).items() if v})
    return out


def check_fits(address: str, options: dict[str, Any], nodes: list[dict[str, float]]) -> None:
    """Refuse resources no live node has (Ray would wait for them without a word)."""
    want = _wanted(options)
    if not nodes:
        raise _unreachable(address, "it has no live node")
    if any(all(float(n.get(k, 0)) >= v for k, v in want.items()) for n in nodes):
        return
    have = "; ".join(", ".join(f"{k}={float(n.get(k, 0)):g}" for k in want) for n in nodes)
    asked = ",".join(f"{k}={v:g}" for k, v in want.items())
    raise UsageError(
        f"--ray_resources={asked}: no node of the Ray cluster at {address} has that much "
        f"(its {len(nodes)} live node(s): {have}); its points would wait for ever",
        hint="ask for what a node has (--ray_resources=CPU=1), or add nodes that have it "
        "(ray start --address=... --num-gpus=N); --force submits anyway (an autoscaler)",
    )


class RayExecutor:
    """Points as Ray tasks on a running cluster."""

    name = "ray"

    def __init__(
        self, address: str | None, resources: Any = None, retries: int = 1, force: bool = False
    ) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or "auto"
        self.options = parse_resources(resources)
        self.retries = retries
        self.force = force
        self.slots = 1

    def connect(self) -> None:
        """Join the cluster (refusing to start one) after asking it, within a bounded time,
        whether a node has the resources a point reserves; learn how many points fit at once."""
        import logging

        ray = _ray()
        nodes = probe_cluster(self.address, connect_timeout())
        if not self.force:
            check_fits(self.address, self.options, nodes)
        try:
            ray.init(
                address=self.address,
                log_to_driver=False,
                logging_level=logging.WARNING,
                configure_logging=False,
            )
        except (ConnectionError, RuntimeError, ValueError) as e:
            raise UsageError(
                f"cannot reach a Ray cluster at {self.address}: {e}",
                hint="start one (ray start --head; docs/scale-out.md) and pass "
                "--ray_address=HOST:PORT or set RAY_ADDRESS",
            ) from None
        total = ray.cluster_resources()
        need = float(self.options.get("num_cpus", 1)) or 1.0
        self.slots = max(1, int(float(total.get("CPU", 1)) // need))

    def describe(self) -> str:
        return f"ray at {self.address}, up to {self.slots} point(s) at once"

    def run(self, payloads: list[dict[str, Any]], on_start: OnStart, on_done: OnDone) -> None:
        ray = _ray()
        task = ray.remote(ray_point).options(max_retries=self.retries, **self.options)
        refs = {}
        try:
            for p in payloads:
                refs[task.remote(p)] = p["n"]
                on_start(p["n"])
            while refs:
                ready, _ = ray.wait(list(refs), num_returns=1)
                for ref in ready:
                    on_done(refs.pop(ref), self._answer(ray, ref))
        except BaseException:
            for ref in refs:  # Ctrl-C: the points in flight are not recorded
                ray.cancel(ref, force=True)
            raise
        finally:
            ray.shutdown()

    def _answer(self, ray, ref) -> dict[str, Any]:
        try:
            return ray.get(ref)
        except ray.exceptions.RayError as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else ""
            ans = error_answer(
                "lost",
                f"the Ray worker running the point was lost ({type(e).__name__}: {first}) "
                f"after {self.retries} retr{'y' if self.retries == 1 else 'ies'}",
                hint="the point was not recorded; --resume re-runs it",
            )
            ans["where"] = {"executor": "ray", "node_id": None, "hostname": None}
            return ans

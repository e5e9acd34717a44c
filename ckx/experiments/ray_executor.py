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


class RayExecutor:
    """Points as Ray tasks on a running cluster."""

    name = "ray"

    def __init__(self, address: str | None, resources: Any = None, retries: int = 1) -> None:
        self.address = address or os.environ.get("RAY_ADDRESS") or "auto"
        self.options = parse_resources(resources)
        self.retries = retries
        self.slots = 1

    def connect(self) -> None:
        """Join the cluster (refusing to start one); learn how many points fit at once."""
        import logging

        ray = _ray()
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

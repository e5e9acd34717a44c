"""MLCFlow's ``docker:`` meta section and ``--docker_*`` inputs, read as MLCFlow reads them.

(MLCFlow: ``automation/script/docker.py`` and ``docker_utils.py`` of mlperf-automations.) The
settings are the requested script's ``docker:`` section with the sections of its chosen
variations merged in (lists appended, mappings merged, values replaced: MLCFlow's
``merge_dicts``), then the request's ``--docker_KEY`` inputs on top. Of them:

- ``deps`` (and ``build_deps``) run **on the host first**, with MLCFlow's conditions
  (``enable_if_env`` ... against the request's env with the section's ``default_env``), and
  what they export feeds the mounts (``MLC_USE_DATASET_FROM_HOST=yes`` enables the scripts'
  data-set deps this way);
- ``mounts`` (``"${{ KEY }}:${{ KEY }}"``) are expanded with that env; a mount whose key has no
  value is skipped, as in MLCFlow; the keys used are passed into the container as
  ``--env.KEY=VALUE`` (the same paths: ckx mounts at the same place);
- ``input_mapping`` maps inputs to env for the mounts, ``input_paths`` names inputs that are
  paths (mounted), ``default_env``/``env`` go into the request's env, ``os``/``os_version``/
  ``base_image``/``image_name``/``extra_sys_deps``/``shm_size``/``port_maps``/``all_gpus``/
  ``extra_run_args``/``interactive``/``use_host_user_id``... as their ``--docker_*`` inputs;
- ``run: false`` is refused unless ``--docker_run_override``;
- ``pre_run_cmds`` (``mlc pull repo``), ``mlc_repo*``, ``user``, ``real_run`` and the like do not
  apply (ckx copies the registered repos in, runs as the caller, runs the request once): said
  once, never run.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from ckx.containers.keys import truthy
from ckx.core.errors import UsageError

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.engine.model import Node

_PLACE = re.compile(r"\$\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
#: Settings that do not apply in ckx (with the reason said once).
NOT_APPLIED = {
    "pre_run_cmds": "ckx copies the registered repos into the image and never runs them",
    "mlc_repo": "ckx copies the registered repos in; nothing is cloned",
    "mlc_repo_branch": "ckx copies the registered repos in; nothing is cloned",
    "mlc_repo_flags": "ckx copies the registered repos in; nothing is cloned",
    "user": "the container runs as your uid/gid",
    "real_run": "ckx runs the request once, inside (no fake build-time run)",
    "fake_run_deps": "ckx runs the request once, inside (no fake build-time run)",
    "skip_run_cmd": "use ckx build docker:NAME to build without running",
    "run_cmd_prefix": "ckx runs the request with ckx inside",
    "image_tag_extra": "the tag is the digest of what goes into the image",
    "use_google_dns": "the container uses Docker's DNS",
}


def merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """MLCFlow's ``merge_dicts`` (append lists, no duplicates): ``b`` into a copy of ``a``."""
    out = copy.deepcopy(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        elif isinstance(v, list) and isinstance(out.get(k), list):
            out[k] = out[k] + [x for x in v if x not in out[k]]
        else:
            out[k] = copy.deepcopy(v)
    return out


def node_settings(node: Node) -> dict[str, Any]:
    """The ``docker:`` section of the node's entry merged with those of its variations."""
    meta = node.entry.meta
    section = meta.get("docker")
    out: dict[str, Any] = dict(section) if isinstance(section, dict) else {}
    variations = meta.get("variations") or {}
    for name in node.variations:
        base, _, value = name.partition(".")
        v = variations.get(name) or (variations.get(f"{base}.#") if value else None)
        if isinstance(v, dict) and isinstance(v.get("docker"), dict):
            out = merge(out, v["docker"])
    return out


def settings(node: Node, keys: dict[str, Any]) -> dict[str, Any]:
    """The settings of a run: the root's meta section, then the request's ``--docker_KEY``."""
    out = node_settings(node)
    for k, v in keys.items():
        if k.startswith("docker_"):
            out[k[len("docker_") :]] = v
    if "it" in out or "dt" in out:
        out.setdefault("interactive", out.pop("it", False))
        out.setdefault("detached", out.pop("dt", False))
    return out


def check_runnable(node: Node, s: dict[str, Any]) -> None:
    if "run" in s and not truthy(s["run"]) and not truthy(s.get("run_override", False)):
        raise UsageError(
            f"{node.entry.alias}'s meta says it does not run in a container (docker: run: false)",
            hint="run it without --docker, or add --docker_run_override to run it anyway",
        )


def not_applied(s: dict[str, Any]) -> list[str]:
    """One line per setting that does not apply (said once)."""
    out = []
    for k, why in NOT_APPLIED.items():
        if s.get(k) not in (None, "", [], False):
            shown = s[k] if not isinstance(s[k], list) else "; ".join(map(str, s[k]))
            out.append(f"docker setting {k} ({str(shown)[:80]}) does not apply: {why}")
    return out


def request_env(s: dict[str, Any], i: dict[str, Any], env: dict[str, Any]) -> dict[str, Any]:
    """The env the settings add: ``default_env`` (under the request's), ``env``, and the
    inputs that ``input_mapping`` maps."""
    out = dict(env)
    for k, v in (s.get("default_env") or {}).items():
        out.setdefault(k, v)
    out.update(s.get("env") or {})
    for key, var in (s.get("input_mapping") or {}).items():
        if key in i and i[key] not in (None, True):
            out[var] = i[key]
    return out


def host_deps(s: dict[str, Any]) -> list[dict[str, Any]]:
    """The deps to run on the host first (``build_deps`` then ``deps``)."""
    return [
        d for d in [*(s.get("build_deps") or []), *(s.get("deps") or [])] if isinstance(d, dict)
    ]


def run_host_deps(ctx: Context, s: dict[str, Any], env: dict[str, Any], quiet: bool) -> dict:
    """Run the settings' deps on the host (MLCFlow's conditions against ``env``); return what
    they export."""
    from ckx.compat.envrules import dep_skipped
    from ckx.core.query import parse
    from ckx.engine import run_request

    new: dict[str, Any] = {}
    for dep in host_deps(s):
        if dep_skipped(dep, {**env, **new}):
            continue
        tags = dep.get("tags")
        text = ",".join(tags) if isinstance(tags, list) else str(tags or "")
        ctx.ui.info(f"on the host first (docker deps): ckx run {text}")
        req = {
            "action": "run",
            "query": parse(text),
            "env": {**env, **new, **(dep.get("env") or {})},
        }
        out = run_request(ctx, {**req, "quiet": quiet})
        new.update({k: v for k, v in (out.get("new_env") or {}).items() if isinstance(v, str)})
    return new


def expand_mounts(mounts: list[str], env: dict[str, Any]) -> tuple[list[tuple[str, str]], set[str]]:
    """``(host, container)`` pairs of ``HOST:CONTAINER`` mounts with ``${{ KEY }}`` replaced,
    and the keys used; a mount whose key has no value is skipped (as in MLCFlow)."""
    out, used = [], set()
    for m in mounts:
        j = str(m).rfind(":")
        if j <= 0:
            raise UsageError(
                f"mount '{m}' has no ':' between the host path and the container path",
                hint="write mounts as HOST:CONTAINER, e.g. --docker_mounts=/data:/data",
            )
        keys = _PLACE.findall(str(m))
        if any(env.get(k) in (None, "") for k in keys):
            continue
        used.update(keys)
        host, target = (_PLACE.sub(lambda g: str(env[g.group(1)]), p) for p in (m[:j], m[j + 1 :]))
        out.append((host, target))
    return out, used


def gpus(s: dict[str, Any], i: dict[str, Any]) -> str | None:
    """``--gpus`` value: MLCFlow's ``all_gpus``/``num_gpus``, or ``--device=cuda``."""
    if truthy(s.get("all_gpus", False)):
        return "all"
    if s.get("num_gpus") not in (None, "", False):
        return str(s["num_gpus"])
    device = str(s.get("device") or i.get("device") or "").lower()
    return "all" if device in ("cuda", "gpu") or device.startswith("cuda:") else None

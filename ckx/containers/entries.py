"""CK's docker entries: ``ckx build docker:NAME [--tag=...]`` and ``ckx run docker:NAME``.

A docker entry is a folder with a meta and a Dockerfile template, as CK's were
(``docker/<alias>/``). The meta says:

- ``image``: the image's name (``mlcommons/ck-mlperf-inference-v1``); a build tags it
  ``IMAGE:TAG`` and ``IMAGE:latest``;
- ``dockerfile``: the template (default ``Dockerfile``), where ``{{BASE}}`` is the base image
  and ``{{CKX}}`` the lines that install python3 (from the OS when the base lacks it), ckx (a
  wheel of this checkout) and the Python libraries of ``plan``; other files of the entry are in
  the build context under ``entry/``;
- ``tags``: CK's ``--tag`` choices, each with its ``base`` image (``ubuntu-20.04``:
  ``ubuntu:20.04``); ``default_tag``; ``--base=IMAGE`` builds from another local base;
- ``plan``: the ckx request whose libraries the image carries (``{automation: program,
  entry: od-bench, cmd_key: accuracy-offline}``);
- ``run``: what ``ckx run docker:NAME`` mounts: ``experiments`` (the folder inside where the
  host's experiment repo goes, CK's ``/home/ckuser/ck-experiments``).

The image is reused when its digest label matches (nothing rebuilt); ``--rebuild`` or
``--no_cache`` build again.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from ckx.containers import docker, image, source
from ckx.core.errors import NotFoundError, RunError, UsageError

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.core.entries import Entry


def find(ctx: Context, i: dict[str, Any]) -> Entry:
    if not i.get("entry"):
        names = ", ".join(e.alias for e in ctx.search("docker", None)) or "(none)"
        raise UsageError("which docker entry? e.g. ckx build docker:NAME", hint=f"entries: {names}")
    return ctx.load("docker", str(i["entry"]), repo=i.get("repo"))


def choose_tag(entry: Entry, i: dict[str, Any]) -> tuple[str, str]:
    """(CK's ``--tag``, the base image it builds FROM, or ``--base``)."""
    tags = entry.meta.get("tags_os") or {}
    tag = str(i.get("tag") or entry.meta.get("default_tag") or next(iter(tags), ""))
    if tag not in tags:
        from ckx.core.suggest import did_you_mean

        raise NotFoundError(
            f"docker:{entry.alias} has no tag '{tag}'" + did_you_mean(tag, list(tags)),
            hint="tags: " + ", ".join(tags),
        )
    base = i.get("base") or i.get("docker_base_image") or tags[tag].get("base")
    return tag, str(base)


def recipe(ctx: Context, entry: Entry, base: str, base_id: str) -> image.Recipe:
    """The image of a docker entry: its template filled with ckx and the plan's libraries."""
    libs = _plan_libs(ctx, entry.meta.get("plan") or {})
    name = str(entry.meta.get("dockerfile") or "Dockerfile")
    template = (entry.path / name).read_text(encoding="utf-8")
    files = {
        str(p): entry.path / p
        for p in source.walk(entry.path)
        if str(p) not in (name, "meta.yaml", "meta.json", "_cm.yaml", "_cm.json")
    }
    return image.Recipe(
        base=base,
        base_id=base_id,
        title=entry.cid,
        libs=libs,
        sys_packages=[str(p) for p in entry.meta.get("os_packages") or []],
        repos=source.user_repos(ctx),
        ca=source.ca_bundle(ctx.environ),
        template=template,
        files=files,
    )


def _plan_libs(ctx: Context, spec: dict[str, Any]) -> list[str]:
    if not spec:
        return []
    from ckx.core.query import parse
    from ckx.engine import make_plan

    req = {"action": "run", **spec, "quiet": True}
    req["query"] = parse(str(spec.get("tags") or ""))
    if spec.get("automation") == "program":
        from ckx import programs

        entry, req = programs.target(ctx, req)
        req = programs.build_request(ctx, req, entry, str(spec.get("cmd_key")))
    return image.python_libs(make_plan(ctx, req))


def build(ctx: Context, i: dict[str, Any]) -> dict[str, Any]:
    """``ckx build docker:NAME [--tag=TAG] [--base=IMAGE] [--rebuild] [--no_cache]``."""
    from ckx.containers.launch import build_image

    entry = find(ctx, i)
    tag, base = choose_tag(entry, i)
    docker.check_daemon()
    found = docker.require_base(base)
    r = recipe(ctx, entry, base, found["Id"])
    digest = r.digest()
    name = str(entry.meta.get("image") or image.image_name(entry.alias))
    ref = f"{name}:{tag}"
    have = docker.inspect_image(ref)
    labels = ((have or {}).get("Config") or {}).get("Labels") or {}
    if (
        have
        and labels.get("org.ckx.digest") == digest
        and not (i.get("rebuild") or i.get("no_cache"))
    ):
        ctx.ui.print(f"image {ref}: up to date (same digest), reused")
    else:
        build_image(ctx, r, ref, digest, no_cache=bool(i.get("no_cache")))
    docker.run_docker(["tag", ref, f"{name}:latest"])
    ctx.ui.print(
        f"image {ref} (also {name}:latest) from {base}; run it: ckx run docker:{entry.alias}"
    )
    if r.template is not None and "/home/ckuser/ck-experiments" in r.template:
        ctx.ui.print(
            f"or, as CK's tutorial: docker run --volume ${{CK_HOST_REPO_EXPERIMENTS}}:"
            f"/home/ckuser/ck-experiments -it {name}"
        )
    return {"return": 0, "image": ref, "latest": f"{name}:latest", "digest": digest, "base": base}


def run(ctx: Context, i: dict[str, Any]) -> dict[str, Any]:
    """``ckx run docker:NAME [--tag=TAG] [--record_repo=REPO] [-- COMMAND ...]``: the image's
    own command (or COMMAND), with the host's experiment repo mounted where the entry says."""
    entry = find(ctx, i)
    name = str(entry.meta.get("image") or image.image_name(entry.alias))
    ref = f"{name}:{i.get('tag') or 'latest'}"
    docker.check_daemon()
    if docker.inspect_image(ref) is None:
        raise NotFoundError(
            f"image {ref} is not built yet",
            hint=f"build it: ckx build docker:{entry.alias}"
            + (f" --tag={i['tag']}" if i.get("tag") else ""),
        )
    args = _experiments_mount(ctx, entry, i)
    if docker.terminal():
        args.append("-it")
    command = [str(a) for a in (i.get("unparsed") or i.get("args") or [])]
    cname = f"ckx-{entry.alias[:40]}-{os.urandom(3).hex()}"
    ctx.ui.note(f"running {ref} in container {cname}")
    start = time.monotonic()
    state = docker.run_container([*args, ref, *command], cname, stdout=None, stderr=None)
    code = int(state.get("ExitCode") or 0)
    if state.get("OOMKilled"):
        raise RunError(
            "the container ran out of memory and was killed (OOMKilled)",
            hint="give it more: docker run --memory=..., or free memory here",
        )
    if code != 0:
        raise RunError(f"the container's command failed (exit {code})", hint="see its output above")
    return {"return": 0, "image": ref, "seconds": round(time.monotonic() - start, 1)}


def _experiments_mount(ctx: Context, entry: Entry, i: dict[str, Any]) -> list[str]:
    inside = (entry.meta.get("run") or {}).get("experiments")
    if not inside:
        return []
    alias = str(i.get("record_repo") or "ck-experiments")
    try:
        repo = ctx.registry.get(alias)
    except NotFoundError:
        raise NotFoundError(
            f"no repo '{alias}' for the experiments the container records",
            hint=f"make one: ckx add repo:{alias} (or name another: --record_repo=REPO)",
        ) from None
    ctx.ui.note(f"experiments go to repo '{repo.alias}' ({repo.path}), mounted at {inside}")
    return ["-v", f"{repo.path}:{inside}"]

"""``--docker`` on ``ckx run`` and ``ckx benchmark``: plan here, build or reuse, run ckx inside.

1. **Plan on the host** (no network): the request without its ``--docker*`` keys is planned
   as a native run plans it (strict inputs included), and MLCFlow's ``docker:`` settings are
   read from the requested script (:mod:`ckx.containers.mlcmeta`).
2. **The image** (:mod:`ckx.containers.image`): its recipe comes from the plan; its tag is
   the digest of the recipe, so an unchanged plan reuses it. The base must be on this machine.
3. **Run the same request inside**: ``python -m ckx.app.jobrun JOB`` reads it from the job
   folder and writes the result dict there; the container's output is the run's output, the
   result (``--json``) and the exit code are the native run's.

``--docker --plan`` prints the Dockerfile, the mounts and the command inside; nothing is built
and nothing runs (the docker ``deps`` that would run on the host first are listed).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.containers import docker, image, keys, mlcmeta, mounts, source
from ckx.core.errors import CkxError, RunError, UsageError

if TYPE_CHECKING:
    from ckx.core.context import Context
    from ckx.engine.model import Plan

#: The base image when none is named: what ``ckx bootstrap docker`` makes.
DEFAULT_BASE = "ckx/debian:12"
#: OS packages MLCFlow's images have and its scripts call (detect-os runs ld, get-git-repo git).
MLC_OS_PACKAGES = ("binutils", "ca-certificates", "curl", "git", "sudo", "unzip", "wget")
#: Variables passed from here into builds and containers (proxies, CA bundles, pip's index).
PASS_ENV = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "FTP_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "no_proxy",
    "all_proxy",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT",
)


class Launch:
    """Everything one container run needs, decided before anything is built."""

    def __init__(self, ctx: Context, action: str, i: dict[str, Any]) -> None:
        self.ctx = ctx
        self.action = action
        self.keys, rest = keys.split(i)
        self.inner: dict[str, Any] = {k: v for k, v in rest.items() if k != "plan"}
        self.show_only = bool(i.get("plan"))
        self.mounts = mounts.Mounts()
        self.notes: list[str] = []
        self.workdir = ""
        self.host_paths: dict[str, str] = {}  # container path -> host path (the result)

    # -- 1. the plan -----------------------------------------------------------------------
    def plan(self) -> Plan:
        from ckx.engine import make_plan, make_planner

        req = self._engine_request()
        planner, provider = make_planner(self.ctx, req)
        plan = make_plan(self.ctx, req, planner)
        dialect = provider.dialect(plan.root.entry)
        dialect.check_plan(plan, req)  # strict inputs, here, before any build
        self.settings = mlcmeta.settings(plan.root, self.keys)
        mlcmeta.check_runnable(plan.root, self.settings)
        self.notes += mlcmeta.not_applied(self.settings)
        self.mlcflow = dialect.name == "mlcflow"
        return plan

    def _engine_request(self) -> dict[str, Any]:
        if self.inner.get("automation") != "program":
            return dict(self.inner)
        from ckx import programs

        entry, inner = programs.target(self.ctx, self.inner)
        key = programs.choose_cmd_key(self.ctx, entry, inner.get("cmd_key"))
        self.inner = {**inner, "cmd_key": key}
        if self.action == "benchmark":
            if inner.get("sweep") is not None:
                raise UsageError(
                    "--docker runs one benchmark point; a sweep is not run in a container",
                    hint="run the sweep inside a container yourself, or drop --docker",
                )
            from ckx.experiments.benchmark import split_query
            from ckx.experiments.records import BENCH_ONLY

            inner = {k: v for k, v in inner.items() if k not in BENCH_ONLY}
            inner["query"] = split_query(self.inner.get("query"))[1]
        return programs.build_request(self.ctx, inner, entry, key)

    # -- 2. what the container sees ----------------------------------------------------------
    def prepare(self, plan: Plan) -> None:
        s = self.settings
        env = mlcmeta.request_env(s, self.inner, dict(self.inner.get("env") or {}))
        deps = mlcmeta.host_deps(s)
        if deps and self.show_only:
            shown = ", ".join(str(d.get("tags")) for d in deps)
            self.notes.append(f"docker deps that would run on the host first: {shown}")
        elif deps:
            env.update(mlcmeta.run_host_deps(self.ctx, s, env, bool(self.inner.get("quiet"))))
        pairs, used = mlcmeta.expand_mounts(
            [*(s.get("mounts") or []), *keys.listed(self.keys.get("docker_mounts"))], env
        )
        for host, target in pairs:
            self.mounts.add(host, target, rw=True, why="docker mounts")
        inner_env = dict(self.inner.get("env") or {})
        inner_env.update({k: env[k] for k in used})
        inner_env.update(
            {k: v for k, v in env.items() if k not in inner_env and k in (s.get("env") or {})}
        )
        if self.mlcflow:
            inner_env["MLC_RUN_STATE_DOCKER"] = "yes"  # MLCFlow's scripts skip host-only deps
        self.inner = mounts.path_inputs(self.mounts, {**self.inner, "env": inner_env})
        mounts.artefacts(self.mounts, plan)
        self._outputs(plan)
        self._host_bits()

    def _outputs(self, plan: Plan) -> None:
        i = self.inner
        if self.action == "run" and i.get("automation") == "program" and not i.get("outdirname"):
            alias = plan.root.entry.alias
            out = (
                self.ctx.state_dir("work")
                / f"{alias}-{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(3).hex()}"
            )
            if not self.show_only:
                out.mkdir(parents=True)
            i["outdirname"] = str(out)
            self.mounts.add(out, rw=True, why="the run's output folder")
        if self.action == "benchmark" and i.get("record"):
            self._experiment_repo(str(i.get("record_repo") or "local"))
        if self.mlcflow:  # MLCFlow's scripts run in the current folder, as on the host
            self.workdir = os.getcwd()
            self.mounts.add(self.workdir, rw=True, why="the current folder (MLCFlow runs here)")

    def _experiment_repo(self, alias: str) -> None:
        repo = self.ctx.registry.get(alias)
        if repo.kind not in ("local", "user"):
            raise UsageError(
                f"--record_repo={alias}: experiments are recorded in the local repo or a registered one"
            )
        host = repo.folder_for("experiment")
        rel = host.relative_to(repo.path)
        inside = (
            f"{image.HOME}/repos/local/{rel}"
            if repo.kind == "local"
            else f"{image.OPT}/repos/{repo.alias}/{rel}"
        )
        if not self.show_only:
            host.mkdir(parents=True, exist_ok=True)
        self.mounts.add(host, inside, rw=True, why=f"the experiment repo '{repo.alias}'")
        self.host_paths[inside] = str(host)

    def _host_bits(self) -> None:
        self.ca = source.ca_bundle(self.ctx.environ)
        if self.ca:
            self.mounts.add(self.ca, why="this machine's CA bundle (pip, downloads)")
        from ckx.artifacts.mirror import mirrors_from_env

        self.mirrors = [m for m in mirrors_from_env(self.ctx.environ) if os.path.isdir(m)]
        store = self.ctx.home / "objects"
        if store.is_dir():
            self.mirrors.append(str(store))
        for m in self.mirrors:
            self.mounts.add(m, why="a mirror" if m != str(store) else "the object store")

    # -- 3. the image ------------------------------------------------------------------------
    def check_base(self) -> None:
        """Docker usable and the base here, before anything runs or is built (``--plan``
        only notes what a run would stop at)."""
        self.base = base_of(self.settings)
        self.base_id = "(not on this machine)"
        try:
            docker.check_daemon()
            self.base_id = docker.require_base(self.base)["Id"]
        except CkxError as e:  # not installed, not running, no base: --plan still shows
            if not self.show_only:
                raise
            self.notes.append(f"a run would stop here: {e.message}")

    def recipe(self, plan: Plan) -> None:
        s = self.settings
        self.recipe_ = image.Recipe(
            base=self.base,
            base_id=self.base_id,
            title=plan.root.entry.cid,
            libs=image.python_libs(plan),
            sys_packages=[
                *(MLC_OS_PACKAGES if self.mlcflow else ()),
                *keys.listed(s.get("extra_sys_deps")),
            ],
            repos=source.user_repos(self.ctx),
            ca=self.ca,
        )
        self.digest = self.recipe_.digest()
        name = str(s.get("image_name") or image.image_name(plan.root.entry.alias))
        self.ref = f"{name}:{s.get('image_tag') or self.digest[:16]}"

    def ensure_image(self) -> None:
        """Reuse the image of this digest, or build it (progress and a log)."""
        found = docker.inspect_image(self.ref)
        labels = ((found or {}).get("Config") or {}).get("Labels") or {}
        no_cache = str(self.settings.get("cache", "yes")).lower() in ("no", "false", "off", "0")
        rebuild = keys.truthy(self.settings.get("rebuild", False)) or no_cache
        if found and labels.get("org.ckx.digest") == self.digest and not rebuild:
            self.ctx.ui.note(f"image {self.ref}: up to date (same digest), reused")
            return
        if found and not rebuild:
            self.ctx.ui.note(f"image {self.ref} exists but was built from something else")
        build_image(self.ctx, self.recipe_, self.ref, self.digest, no_cache=no_cache)

    # -- 4. the run ----------------------------------------------------------------------------
    def container_env(self) -> dict[str, str]:
        env = {k: self.ctx.environ[k] for k in PASS_ENV if self.ctx.environ.get(k)}
        if self.ca:
            for var in (*source.CA_VARS, "SSL_CERT_FILE", "GIT_SSL_CAINFO"):
                env[var] = str(self.ca)
        if self.mirrors:
            env["CKX_MIRROR"] = os.pathsep.join(self.mirrors)
        user = self.ctx.environ.get("USER") or self.ctx.environ.get("LOGNAME") or _user_name()
        env.update(HOME=f"{image.HOME}/home", USER=user, LOGNAME=user, PYTHONUNBUFFERED="1")
        env.update(CKX_CONTAINER_IMAGE=self.ref, CKX_CONTAINER_BASE=self.base)
        return env

    def run_args(self, job: Path) -> list[str]:
        s = self.settings
        args: list[str] = []
        if keys.truthy(s.get("use_host_user_id", True)):
            gid = os.getgid() if keys.truthy(s.get("use_host_group_id", True)) else 0
            args += ["--user", f"{os.getuid()}:{gid}"]
        for k, v in self.container_env().items():
            args += ["-e", f"{k}={v}"]
        args += [
            "-v",
            f"{self.volume}:{image.HOME}",
            *self.mounts.args(),
            "-w",
            self.workdir or str(job),
        ]
        gpus = mlcmeta.gpus(s, self.inner)
        if gpus:
            args += ["--gpus", gpus]
        if s.get("shm_size"):
            args += ["--shm-size", str(s["shm_size"])]
        for p in keys.listed(s.get("port_maps")):
            args += ["-p", p]
        if keys.truthy(s.get("privileged", False)):
            args.append("--privileged")
        extra = s.get("extra_run_args")
        args += shlex.split(extra) if isinstance(extra, str) else [str(a) for a in extra or []]
        if keys.truthy(s.get("interactive", False)):
            if docker.terminal():
                args.append("-it")
            else:
                self.ctx.ui.note("--docker_it: no terminal here; the container runs without one")
        return args

    @property
    def volume(self) -> str:
        from ckx.core.digest import short_hex

        return f"ckx-home-{short_hex(str(self.ctx.home).encode(), 8)}"

    def command(self, job: Path, tty: bool = False) -> list[str]:
        setup = f'mkdir -p "$HOME" && cp {image.OPT}/repos/repos.json "$CKX_HOME/repos.json"'
        run = f"exec python -m ckx.app.jobrun {shlex.quote(str(job))}"
        if tty:  # the terminal is the run's: the request comes from a file
            run += " </dev/null"
        return ["sh", "-c", f"{setup} && {run}"]

    def inner_request(self) -> dict[str, Any]:
        out = {k: v for k, v in self.inner.items() if not k.startswith("_")}
        out["action"] = self.action
        q = out.get("query")
        if q is not None and not isinstance(q, str):
            out["query"] = str(q) or None
        return {k: v for k, v in out.items() if v is not None}


def _user_name() -> str:
    import pwd

    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return "ckx"


def base_of(s: dict[str, Any]) -> str:
    """The base image: ``base_image``, else ``os:os_version``, else ckx's default."""
    if s.get("base_image"):
        return str(s["base_image"])
    if s.get("os"):
        return f"{s['os']}:{s.get('os_version') or 'latest'}"
    return DEFAULT_BASE


def build_image(
    ctx: Context, recipe: image.Recipe, ref: str, digest: str, *, no_cache: bool
) -> None:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = ref.split(":")[0].replace("/", "-")
    log = ctx.state_dir("logs") / f"docker-build-{safe}-{stamp}.log"
    folder = ctx.state_dir("docker") / f"build-{digest[:16]}"
    ctx.ui.note(f"building image {ref} from {recipe.base} (the build's log: {log})")
    start = time.monotonic()
    recipe.write_context(folder)
    labels = {
        "org.ckx.digest": digest,
        "org.ckx.base": recipe.base,
        "org.ckx.base_id": recipe.base_id,
    }
    args = {k: ctx.environ[k] for k in PASS_ENV[:10] if ctx.environ.get(k)}
    docker.build(
        folder,
        ref,
        labels=labels,
        log=log,
        no_cache=no_cache,
        build_args=args,
        progress=ctx.ui.note,
    )
    shutil.rmtree(folder, ignore_errors=True)
    ctx.ui.note(f"built image {ref} in {time.monotonic() - start:.0f} s")


def command_text(action: str, i: dict[str, Any]) -> str:
    """The request as the ckx command line that would ask for it (for people to read)."""
    parts = ["ckx", action]
    if i.get("automation") and i.get("entry"):
        parts.append(f"{i['automation']}:{i['entry']}")
    elif i.get("query") is not None and str(i["query"]):
        parts.append(str(i["query"]))
    skip = {"action", "automation", "entry", "query", "repo", "out"}
    for k, v in sorted(i.items()):
        if k in skip or k.startswith("_") or v is None or v is False:
            continue
        parts += _option(k, v)
    return " ".join(parts)


def _option(k: str, v: Any) -> list[str]:
    if v is True:
        return [f"--{k}"]
    if isinstance(v, dict):
        return [a for sub, val in sorted(v.items()) for a in _option(f"{k}.{sub}", val)]
    if isinstance(v, (list, tuple)):
        v = ",".join(map(str, v))
    return [shlex.quote(f"--{k}={v}")]


# --- the entry points ---------------------------------------------------------------------------


def run_in_container(ctx: Context, i: dict[str, Any], action: str) -> dict[str, Any]:
    """``ckx run|benchmark ... --docker``: the module doc's three steps (or ``--plan``)."""
    launch = Launch(ctx, action, i)
    plan = launch.plan()
    launch.check_base()
    launch.prepare(plan)
    launch.recipe(plan)
    for line in launch.notes:
        ctx.ui.note(line)
    if launch.show_only:
        return show(ctx, launch, plan)
    launch.ensure_image()
    return execute(ctx, launch)


def show(ctx: Context, launch: Launch, plan: Plan) -> dict[str, Any]:
    """``--docker --plan``: the plan, the Dockerfile, the mounts, the command inside."""
    job = ctx.state_dir("docker") / "jobs" / "JOB"
    exists = docker.inspect_image(launch.ref) if "not on" not in launch.recipe_.base_id else None
    state = "exists, reused" if exists else "would be built"
    p = ctx.ui.print
    p(plan.render())
    p(f"\ncontainer (--docker): image {launch.ref} ({state}), base {launch.base}")
    p(f"Dockerfile:\n{launch.recipe_.dockerfile()}")
    p("mounts (the same paths inside):")
    p(f"  volume {launch.volume} at {image.HOME}   (the container's ckx home: its cache persists)")
    for m in launch.mounts.sorted():
        p(m.line())
    inner = command_text(launch.action, launch.inner_request())
    p(f"command inside: {inner}")
    run = [
        "docker",
        "run",
        "--name",
        "ckx-...",
        *launch.run_args(job),
        launch.ref,
        *launch.command(job),
    ]
    p("as: " + " ".join(shlex.quote(a) for a in run))
    return {
        "return": 0,
        "plan": plan.to_dict(),
        "image": launch.ref,
        "base": launch.base,
        "digest": launch.digest,
        "dockerfile": launch.recipe_.dockerfile(),
        "mounts": [
            {"source": m.source, "target": m.target, "rw": m.rw} for m in launch.mounts.sorted()
        ],
        "command": inner,
        "image_exists": bool(exists),
    }


def execute(ctx: Context, launch: Launch) -> dict[str, Any]:
    """Run the request in a container of the image; return what the run inside returned.

    The request goes in on the container's stdin (secrets are never written to disk); only a
    detached run or one with a terminal inside, which have no stdin to give, read it from the
    job folder (a file only the caller may read, removed with the folder)."""
    stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(4).hex()}"
    job = ctx.state_dir("docker", "jobs") / stamp
    job.mkdir(parents=True)
    detached = keys.truthy(launch.settings.get("detached", False))
    try:
        docker.ensure_volume(launch.volume, {"org.ckx.home": str(ctx.home)})
        name = f"ckx-{launch.ref.split(':')[0].removeprefix('ckx-')[:40]}-{os.urandom(3).hex()}"
        launch.mounts.add(job, rw=True, why="the request and its result")
        run_args = launch.run_args(job)
        request = json.dumps(launch.inner_request(), default=str)
        if detached or "-it" in run_args:
            fd = os.open(job / "request.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(request)
        args = [*run_args, launch.ref, *launch.command(job, "-it" in run_args)]
        ctx.ui.note(f"running in container {name} (image {launch.ref})")
        if detached:
            return _detached(ctx, name, args, launch)
        send = None if "-it" in run_args else request
        return _to_host(_run(ctx, job, name, args, send), launch.host_paths)
    finally:
        if not detached:
            shutil.rmtree(job, ignore_errors=True)


def _run(ctx: Context, job: Path, name: str, args: list[str], send: str | None) -> dict[str, Any]:
    log = None
    try:
        if ctx.ui.mode == "none":
            log = open(job / "output.log", "w", encoding="utf-8")  # noqa: SIM115 - closed below
        out = log if log else (None if ctx.ui.mode == "con" else ctx.ui.stderr)
        state = docker.run_container(args, name, stdout=out, stderr=log or None, send=send)
    finally:
        if log:
            log.close()
    return _result(job, state)


def _result(job: Path, state: dict[str, Any]) -> dict[str, Any]:
    f = job / "result.json"
    if state.get("OOMKilled"):
        raise RunError(
            "the container ran out of memory and was killed (OOMKilled)",
            hint="give it more memory (--docker_extra_run_args='--memory=8g'), or ask for less "
            "(fewer threads, smaller batches, --count=N)",
        )
    if f.is_file():
        return json.loads(f.read_text(encoding="utf-8"))
    code = int(state.get("ExitCode") or 0)
    if code in (137, 143):
        signal = "SIGKILL" if code == 137 else "SIGTERM"
        raise RunError(
            f"the container was killed (exit {code}: {signal}) before it gave a result",
            hint="something stopped it from outside (docker kill/stop, or the machine's own "
            "out-of-memory killer: see dmesg); run the command again",
        )
    tail = ""
    if (job / "output.log").is_file():
        tail = ": " + (job / "output.log").read_text(encoding="utf-8")[-600:].strip()
    what = "docker run failed" if not state.get("created") else "the container ended"
    raise RunError(
        f"{what} (exit {code}) without a result{tail}",
        hint="see the output above; a docker run option (--docker_extra_run_args) may be wrong",
    )


def _detached(ctx: Context, name: str, args: list[str], launch: Launch) -> dict[str, Any]:
    docker.run_docker(
        ["run", "-d", "--rm", "--name", name, "--label", f"{docker.CONTAINER_LABEL}=1", *args]
    )
    ctx.ui.print(f"started {name} (detached; it removes itself when done): docker logs -f {name}")
    return {"return": 0, "container": name, "image": launch.ref}


def _to_host(value: Any, paths: dict[str, str]) -> Any:
    """The result with the container's paths of mounted folders turned into the host's."""
    if isinstance(value, str):
        for inside, host in paths.items():
            if value == inside or value.startswith(inside + "/"):
                return host + value[len(inside) :]
        return value
    if isinstance(value, dict):
        return {k: _to_host(v, paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_host(v, paths) for v in value]
    return value

"""The one request vocabulary: every request key ckx reads itself, its roles and its type.

A request (``ckx.access(dict)``, or argv translated by the CLI) holds two kinds of keys: the
keys of this table, which ckx reads itself, and the inputs of what runs (a script's
``input_mapping``, a program's variation groups ...), which the engine checks against the
planned graph (:mod:`ckx.engine.inputcheck`). A row of :data:`KEYS` says

* ``roles``: who reads the key (:data:`ROLES`; a key may have several);
* ``type``: what its value must be (:data:`TYPES`), checked once, at the door, by
  :func:`check_request`, with the text check and the repo-name check;
* ``point``: a benchmark records it in the configuration of an experiment point (versions,
  ``adr``; an input of the program is recorded too, being no key of this table);
* ``to_script``: ckx reads it and hands it on to the script as an input too (MLCFlow's
  ``--outdirname``, ``--home``);
* ``short``: MLCFlow's one-letter spelling (``-j`` is ``--json``).

The lists other modules used to keep are views of the table: :data:`ACCEPTED` (keys every
run accepts), :data:`RESERVED` (those never handed to a script as inputs),
:data:`SUGGESTED` and :func:`options_of` (what "did you mean" offers a run), :data:`MLCFLOW_INPUTS`, :data:`MLCFLOW_REQUEST`, :data:`MLCFLOW_OPTIONS`,
:data:`BENCH_ONLY`, :data:`BENCH_KEYS`, :data:`DETECT_OPTIONS`, :data:`CLI_ONLY`,
:data:`CONTAINER`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, NoReturn

from ckx.core.errors import UsageError

#: Who reads a key.
ROLES = {
    "address": "what the request is about: the action, automation, entry (and CK's names)",
    "select": "which entries: --tags, --repo",
    "plumbing": "set by ckx's doors and callers, not typed as an option",
    "cli": "read by the command line itself and never passed on",
    "common": "every command understands it",
    "engine": "an option of the engine (run, install, benchmark), never an input of a script",
    "benchmark": "an option of benchmark and sweeps, never an input of the program run",
    "detect": "an option of ckx detect soft",
    "action": "an option of one automation's action (the description says which)",
    "mlcflow": "a flag MLCFlow's engine reads for every script (accepted for MLCFlow content)",
    "mlcflow-request": "a key of an MLCFlow request from a hook that steers MLCFlow itself",
    "mlcflow-option": "a key of an MLCFlow request from a hook that ckx takes as its option",
    "container": "--docker and MLCFlow's --docker_* (docs/containers.md): taken out of a run "
    "or benchmark before it is planned; the container runs the rest",
}

#: What a key's value must be.
TYPES = {
    "name": "a name (text)",
    "repo": "a repo name or pattern (text, never a path)",
    "query": "a tag query such as 'a,b,_v' (text)",
    "tags": "tags: text such as 'a,b' or a list of texts",
    "text": "text (quote a number: YAML reads 3.10 as the number 3.1)",
    "path": "a path (text)",
    "path_or_flag": "a path (text) or true",
    "flag": "true or false (or text such as yes/no)",
    "count": "a whole number (at most 18 digits)",
    "texts": "text (comma-separated) or a list of texts",
    "list": "a list of texts",
    "mapping": "a mapping of names to values",
    "env": "a mapping of env names to text (or lists of text)",
    "deps": "a mapping of dependency names to their fields (a mapping each)",
    "any": "any value",
}


class Key:
    """One row of the vocabulary. (A plain class: see :class:`ckx.core.commands.Command`.)"""

    __slots__ = ("name", "roles", "type", "desc", "point", "short", "to_script")

    def __init__(
        self,
        name: str,
        roles: str,
        type: str,  # noqa: A002 - the column's name
        desc: str = "",
        *,
        point: bool = False,
        short: str = "",
        to_script: bool = False,
    ) -> None:
        self.name = name
        self.roles = frozenset(roles.split())
        self.type = type
        self.desc = desc
        #: a benchmark records it in the configuration of its point
        self.point = point
        #: MLCFlow's one-letter flag for it (``-j``)
        self.short = short
        #: ckx reads it, and the planner hands it to the root as an input too
        self.to_script = to_script

    def __repr__(self) -> str:
        return f"Key({self.name!r})"


# fmt: off
#: The table (request keys ckx reads itself). Roles are space-separated.
KEYS: tuple[Key, ...] = (
    # -- what the request is about --------------------------------------------------------
    Key("action", "address mlcflow-request", "name", "the verb: run, search, benchmark, ..."),
    Key("automation", "address mlcflow-request", "name", "the kind of entry: script, program, experiment, ..."),
    Key("entry", "address", "name", "an entry's name or uid (a pattern where several may match)"),
    Key("cid", "address", "name", "[repo:]automation[:entry], wildcards allowed"),
    Key("artifact", "address", "name", "CK's and MLCFlow's name of cid"),
    Key("module_uoa", "address", "name", "CK's name of automation"),
    Key("data_uoa", "address", "name", "CK's name of entry"),
    Key("repo_uoa", "address", "repo", "CK's name of repo"),
    Key("query", "address", "query", "a tag query: tags, -tags, _variations"),
    Key("tags", "select benchmark mlcflow-request", "tags", "a tag query (text or a list of texts)"),
    Key("repo", "select", "repo", "a registered repo (a name or a pattern, never a path)"),
    # -- set by ckx's doors and callers ------------------------------------------------------
    Key("args", "plumbing", "list", "further positional words of the command line"),
    Key("unparsed", "plumbing", "list", "the words after -- on the command line"),
    Key("home", "plumbing", "path", "ckx.access: the CKX_HOME of this call; the command line: "
        "an input (MLCFlow's get-dataset-coco --home)", to_script=True),
    Key("out", "plumbing mlcflow-request", "path", "ckx.access: the output mode (con, json, none); "
        "dashboard, zip, plot: where to write"),
    Key("want_lock", "plumbing engine", "flag", "the engine returns the plan's lock"),
    Key("state", "plumbing engine mlcflow-request", "mapping", "MLCFlow's state handed to a nested run",
        point=True),
    Key("variations_list", "plumbing engine", "texts", "ckx test script: MLCFlow's "
        "tests.run_inputs field"),
    # -- the command line's own and every command's ------------------------------------------
    Key("json", "cli mlcflow mlcflow-request", "flag", "machine output", short="j"),
    Key("quiet", "common mlcflow mlcflow-request", "flag", "no prompts, take defaults"),
    Key("debug", "cli", "flag", "tracebacks"),
    Key("help", "common benchmark", "flag", "help for the action", short="h"),
    # -- the engine's options -------------------------------------------------------------
    Key("env", "engine mlcflow-request", "env", "env values of the root (--env.KEY=VALUE)"),
    Key("adr", "engine mlcflow-request", "deps", "dependency fields by name, applied at every depth", point=True),
    Key("add_deps_recursive", "engine mlcflow-request", "deps", "MLCFlow's name of adr", point=True),
    Key("new", "engine mlcflow mlcflow-option", "flag", "a new cache entry (ren: the new name)"),
    Key("renew", "engine mlcflow mlcflow-option", "flag", "rebuild the cache entries of the run"),
    Key("skip_cache", "engine mlcflow mlcflow-option", "flag", "do not use the cache"),
    Key("plan", "engine", "flag", "print the resolved graph, run nothing"),
    Key("lock", "engine", "path", "replay a lock file"),
    Key("save_lock", "engine", "path_or_flag", "write the plan's lock (to FILE or ckx.lock)"),
    Key("version", "engine mlcflow-option", "text", "the exact version", point=True),
    Key("version_min", "engine mlcflow-option", "text", "the lowest version", point=True),
    Key("version_max", "engine mlcflow-option", "text", "the highest version", point=True),
    Key("version_max_usable", "engine mlcflow-option", "text", "the version to install when "
        "nothing fits", point=True),
    Key("force", "engine benchmark", "flag", "no confirmation (rm); run a latency sweep in "
        "parallel", short="f"),
    Key("cmd_key", "engine", "text", "the command of a program"),
    Key("outdirname", "engine mlcflow", "path", "the folder a non-cached run writes into",
        to_script=True),
    # -- benchmark and sweeps ---------------------------------------------------------------
    Key("repetitions", "benchmark", "count", "how many times to run"),
    Key("record", "benchmark", "flag", "record the results as an experiment"),
    Key("record_repo", "benchmark", "repo", "the repo to record into (default local)"),
    Key("record_uoa", "benchmark", "name", "the experiment's name"),
    Key("record_tags", "benchmark", "texts", "the experiment's tags"),
    Key("print_files", "benchmark", "texts", "files of the run folder to print"),
    Key("skip_print_timers", "benchmark", "flag", "no line per repetition"),
    Key("skip_print_stats", "benchmark", "flag", "no statistics table"),
    Key("sweep", "benchmark", "mapping", "--sweep.KEY=V1,V2: run every configuration"),
    Key("sweep_exclude", "benchmark", "any", "configurations a sweep leaves out"),
    Key("executor", "benchmark", "text", "where a sweep's points run: local or ray"),
    Key("jobs", "benchmark", "count", "points of a sweep run at once"),
    Key("resume", "benchmark", "flag", "go on with a sweep that stopped"),
    Key("ray_address", "benchmark", "text", "the Ray cluster of --executor=ray"),
    Key("ray_resources", "benchmark", "any", "the resources a point needs on Ray"),
    Key("ray_retries", "benchmark", "count", "retries of a point lost on Ray"),
    # -- ckx detect soft --------------------------------------------------------------------
    Key("full_path", "detect", "path", "the executable to detect"),
    Key("search_dirs", "detect", "texts", "folders to search"),
    Key("python", "detect action", "path", "the interpreter (detect, venv create)"),
    # -- options of one automation's action -----------------------------------------------
    Key("f", "action", "flag", "MLCFlow's -f of rm: no confirmation"),
    Key("meta", "action", "mapping", "add, update: meta fields (--meta.KEY=VALUE)"),
    Key("template", "action", "name", "add, venv create: the template"),
    Key("new_alias", "action", "name", "ren: the new name"),
    Key("var", "action", "mapping", "setup kernel: CK's kernel variables"),
    Key("to", "action", "path", "prefetch: the mirror folder to fill"),
    Key("url", "action", "text", "pull repo: the git URL"),
    Key("branch", "action", "text", "pull repo: the branch"),
    Key("zip", "action", "path", "unzip repo: the ckr.zip"),
    Key("delete", "action", "flag", "rm repo: remove the folder too"),
    Key("overwrite", "action", "flag", "unzip repo: replace entries"),
    Key("allow_code", "action", "flag", "unzip repo: code entries go to an untrusted repo"),
    Key("point", "action", "text", "replay: the point's id"),
    Key("csv", "action", "flag", "experiment show: CSV"),
    Key("md", "action", "flag", "experiment show: Markdown"),
    Key("sort_by", "action", "text", "experiment show: the column to sort by"),
    Key("only_changed", "action", "flag", "experiment show, compare: only inputs that differ"),
    Key("stat", "action", "text", "experiment show: mean, median, min or max"),
    Key("x", "action", "text", "plot: the key on the x axis"),
    Key("y", "action", "text", "plot: the keys on the y axis"),
    Key("requirements", "action", "texts", "venv create: packages to install"),
    Key("system_site_packages", "action", "flag", "venv create: see the system's packages"),
    Key("token", "action", "text", "serve: the bearer token"),
    Key("token_file", "action", "path", "serve: a file holding the token"),
    # -- containers: --docker and MLCFlow's --docker_* (ckx/containers/keys.py adds CK's names) --
    Key("docker", "container", "flag", "run the request in a container: plan here, build or "
        "reuse the image, run ckx inside"),
    Key("docker_base_image", "container", "text", "the image to build FROM (default "
        "ckx/debian:12, made offline by ckx bootstrap docker)"),
    Key("docker_os", "container", "text", "the base's OS when no base image is named (the base "
        "is OS:VERSION)"),
    Key("docker_os_version", "container", "text", "the base's OS version (with --docker_os)"),
    Key("docker_cache", "container", "flag", "no: build without Docker's layer cache"),
    Key("docker_rebuild", "container", "flag", "build the image again although one with the "
        "same digest exists"),
    Key("docker_it", "container", "flag", "interactive: a terminal inside (docker run -it)"),
    Key("docker_interactive", "container", "flag", "the same as --docker_it"),
    Key("docker_dt", "container", "flag", "detached: start the container and return"),
    Key("docker_detached", "container", "flag", "the same as --docker_dt"),
    Key("docker_extra_run_args", "container", "any", "more docker run options, one string"),
    Key("docker_mounts", "container", "texts", "more mounts HOST:CONTAINER; ${{ ENV }} is replaced"),
    Key("docker_image_name", "container", "text", "the image's name (default ckx-<entry>)"),
    Key("docker_image_tag", "container", "text", "the image's tag (default: the digest of what "
        "goes into it)"),
    Key("docker_device", "container", "text", "cuda/gpu: pass the GPUs through (--gpus all)"),
    Key("docker_all_gpus", "container", "flag", "pass every GPU through (--gpus all)"),
    Key("docker_num_gpus", "container", "text", "pass N GPUs through (--gpus N)"),
    Key("docker_shm_size", "container", "text", "the container's /dev/shm size (--shm-size)"),
    Key("docker_port_maps", "container", "texts", "ports to publish, HOST:CONTAINER"),
    Key("docker_privileged", "container", "flag", "run privileged (--privileged)"),
    Key("docker_extra_sys_deps", "container", "texts", "OS packages the image installs with apt-get"),
    Key("docker_use_host_user_id", "container", "flag", "no: run as the image's user, not yours"),
    Key("docker_use_host_group_id", "container", "flag", "no: run with the image's group, not yours"),
    Key("docker_run_override", "container", "flag", "run a script whose meta says docker: run: false"),
    *(Key(k, "container", "any", "MLCFlow's, not applied by ckx (said once; docs/containers.md)")
      for k in ("docker_pre_run_cmds", "docker_mlc_repo", "docker_mlc_repo_branch", "docker_user",
                "docker_real_run", "docker_fake_run_deps", "docker_skip_run_cmd",
                "docker_noregenerate")),
    Key("tag", "action", "text", "build docker, run docker: CK's --tag (the base, e.g. ubuntu-20.04)"),
    Key("base", "action", "text", "build docker: another local base image"),
    Key("rebuild", "action", "flag", "build docker: build although the image is up to date"),
    Key("no_cache", "action", "flag", "build docker: without Docker's layer cache"),
    Key("os", "action", "text", "bootstrap docker: debian or ubuntu"),
    Key("os_version", "action", "text", "bootstrap docker: 12, 22.04, ..."),
    Key("mirror", "action", "text", "bootstrap docker: the OS's package archive"),
    Key("packages", "action", "texts", "bootstrap docker: more OS packages in the base"),
    Key("images", "action", "flag", "prune docker: ckx's images too"),
    Key("volumes", "action", "flag", "prune docker: ckx's cache volumes too"),
    Key("host", "action", "text", "serve, dashboard --serve: the address to listen on"),
    Key("port", "action", "count", "serve, dashboard --serve: the TCP port"),
    Key("workers", "action", "count", "serve: worker processes for /access"),
    Key("max_jobs", "action", "count", "serve: jobs that run at once"),
    Key("max_body", "action", "count", "serve: the largest request body in bytes"),
    Key("serve", "action", "flag", "dashboard: serve the report"),
    Key("title", "action", "text", "dashboard: the report's title"),
    Key("columns", "action", "texts", "experiment show: the columns"),
    Key("all", "action", "flag", "rm cache, rm repo, install: all of them"),
    Key("invalid", "action", "flag", "rm cache: the entries that are no longer valid"),
    Key("alias", "action", "name", "add repo, pull repo: the repo's name"),
    Key("builtin", "action", "flag", "add repo: trust a folder as ckx's own"),
    Key("file", "action", "path", "unzip repo: the ckr.zip"),
    # -- MLCFlow: flags its engine reads for every script ----------------------------------
    *(Key(k, "mlcflow", "any", "MLCFlow flag (MLC_TMP_<FLAG>)", point=True)
      for k in ("path", "folder")),
    Key("input", "mlcflow mlcflow-request", "any", "MLCFlow flag (MLC_INPUT); a hook's "
        "request: the inputs of the nested run", point=True),
    *(Key(k, "mlcflow", "any", "MLCFlow flag (MLC_<FLAG>)", point=True) for k in (
        "output", "outbasename", "search_folder_path", "name", "extra_cache_tags",
        "skip_compile", "skip_run", "skip_sudo", "accept_license", "skip_system_deps",
        "git_ssh", "gh_token", "hf_token", "verify_ssl")),
    *(Key(k, "mlcflow", "any", "MLCFlow engine flag", point=True) for k in (
        "force_cache", "dirty", "save_env", "shell", "print_readme", "skip_remembered_selections",
        "ignore_script_error", "skip_sys_utils", "debug_uid", "cache_expiration")),
    *(Key(k, "mlcflow mlcflow-request", "any", "MLCFlow engine flag", point=True) for k in (
        "print_env", "print_deps", "print_versions", "dump_version_info", "time", "space",
        "fake_run", "prepare", "fake_deps")),
    Key("silent", "mlcflow mlcflow-request", "any", "MLCFlow: less log output", point=True),
    Key("s", "mlcflow mlcflow-request", "any", "MLCFlow's -s (silent)", point=True),
    Key("verbose", "mlcflow mlcflow-request", "any", "MLCFlow: debug log output", point=True),
    Key("v", "mlcflow mlcflow-request", "any", "MLCFlow's -v (verbose)", point=True),
    Key("j", "mlcflow mlcflow-request", "any", "MLCFlow's -j (JSON result)", point=True),
    # -- MLCFlow: keys of a request from a hook that steer MLCFlow ---------------------------
    *(Key(k, "mlcflow-request", "any", "MLCFlow request key") for k in (
        "target", "const", "const_state", "add_deps", "ad", "recursion", "recursion_spaces",
        "run_state", "remembered_selections", "detected_versions", "local_env", "local_state",
        "local_const", "local_const_state")),
)
# fmt: on

BY_NAME: dict[str, Key] = {k.name: k for k in KEYS}


def with_role(*roles: str) -> frozenset[str]:
    """The names of the keys that have any of ``roles``."""
    want = set(roles)
    return frozenset(k.name for k in KEYS if k.roles & want)


# -- views: the lists other modules read ----------------------------------------------------
#: Keys the engine and the kernel read themselves: strict inputs accept them in every run.
ACCEPTED = with_role("address", "select", "plumbing", "cli", "common", "engine")
#: Those never handed to a script as an input (the planner hands every other key of a request
#: to the root as an input).
RESERVED = frozenset(k for k in ACCEPTED if not BY_NAME[k].to_script)
#: What "did you mean" offers for a mistyped option of a run (not what ckx fills itself).
SUGGESTED = ACCEPTED - with_role("address", "plumbing")


def options_of(action: object) -> frozenset[str]:
    """The options a run of ``action`` takes (what "did you mean" offers for a typo)."""
    return SUGGESTED | BENCH_ONLY if action == "benchmark" else SUGGESTED


#: Keys MLCFlow's engine reads for every script, besides ckx's own.
MLCFLOW_INPUTS = with_role("mlcflow")
#: Keys of an MLCFlow request from a hook that steer MLCFlow, never inputs of the script.
MLCFLOW_REQUEST = with_role("mlcflow-request")
#: Keys of an MLCFlow request from a hook that ckx takes as its own options.
MLCFLOW_OPTIONS = with_role("mlcflow-option")
#: Options of benchmark and sweeps: never passed on to the program run.
BENCH_ONLY = with_role("benchmark")
#: Request keys that are not the configuration of an experiment point.
BENCH_KEYS = frozenset(k for k in ACCEPTED | BENCH_ONLY if not BY_NAME[k].point)
#: ``--docker`` and MLCFlow's ``--docker_*``: split off a run before it is planned.
CONTAINER = with_role("container")
#: What ``ckx detect soft`` reads besides the kernel's keys.
DETECT_OPTIONS = with_role("detect")
#: Read by the command line itself, never passed on.
CLI_ONLY = with_role("cli")
#: MLCFlow's one-letter flags that ckx reads: letter -> key.
SHORT_FLAGS = {k.short: k.name for k in KEYS if k.short}
#: MLCFlow's one-letter flags ckx does not take, and what to do instead.
SHORT_REFUSED = {
    "v": "MLCFlow's -v (verbose logging) has no ckx spelling: ckx prints each step already; "
    "--debug adds tracebacks",
    "s": "MLCFlow's -s (silent) has no ckx spelling: --quiet leaves out ckx's progress lines "
    "(and takes defaults without asking)",
}


# -- the one check of a request, at the door -------------------------------------------------
#: How deep a request may nest (a body of 100,000 brackets is refused, not a RecursionError).
MAX_DEPTH = 50
_SCALAR = (str, int, float, bool)
_REPO_NAME = re.compile(r"[A-Za-z0-9_.@+\-*?\[\]]+")
_WHOLE = re.compile(r"[+-]?[0-9]{1,18}")


def check_request(req: dict[str, Any]) -> None:
    """The one check of a request at the door (the CLI's, ``ckx.access``, a service job's):
    every string is text, and every key of the table holds a value of its type; a repo option
    names a repo. A UsageError names the field. Inputs of scripts (keys not in the table) are
    checked against the planned graph by the engine."""
    check_text(req)
    for key, value in req.items():
        if not isinstance(key, str):
            raise UsageError(
                f"request keys are names (text), not {_kind(key)}",
                hint="e.g. {'action': 'run', 'tags': 'get,python3'}",
            )
        row = BY_NAME.get(key)
        if row is not None and value is not None:
            check_value(row.type, value, key)


def check_value(type_: str, value: Any, where: str) -> None:
    """A UsageError when ``value`` (at ``where``: ``adr.python.tags``) is not of ``type_``;
    a mapping's entries are checked one by one, so the error names the entry."""
    if type_ == "repo":
        check_repo_name(value, where)
        return
    if type_ in ("mapping", "env", "deps") and isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise UsageError(
                    f"the keys of request field '{where}' must be names (text), not {_kind(k)}",
                    hint=f"e.g. {_example(type_, where)}",
                )
            if type_ == "env" and not _env_value(v):
                _wrong("text, a number, a flag or a list of them", v, f"{where}.{k}", type_)
            if type_ == "deps":
                _check_dep(v, f"{where}.{k}")
        return
    if not _CHECKS[type_](value):
        _wrong(TYPES[type_], value, where, type_)


def _wrong(expected: str, value: Any, where: str, type_: str) -> NoReturn:
    raise UsageError(
        f"request field '{where}' must be {expected}, not {_kind(value)}",
        hint=f"e.g. {_example(type_, where)}",
    )


def _example(type_: str, where: str) -> str:
    """What to write instead (a mapping's example names the request key it is under)."""
    key = where.split(".")[0] if type_ in ("mapping", "env", "deps") else where
    return _EXAMPLES.get(type_, "--KEY=VALUE").replace("KEY", key)


def _check_dep(fields: Any, where: str) -> None:
    """The fields of one dependency (``adr.python``): a mapping whose known fields are typed."""
    if not isinstance(fields, dict):
        _wrong(
            "a mapping of dependency fields (tags, version_min, env, ...)", fields, where, "deps"
        )
    for field, v in fields.items():
        row = BY_NAME.get(field) if field in _DEP_FIELDS else None
        if row is not None and v is not None:
            check_value(row.type, v, f"{where}.{field}")


#: The fields of a dependency (``adr.NAME.FIELD``) whose type ckx relies on.
_DEP_FIELDS = ("tags", "env", "version", "version_min", "version_max", "version_max_usable")


def _kind(value: Any) -> str:
    if value is True or value is False:
        return "a flag (true/false)"
    if isinstance(value, str) and len(value) <= 40:
        return f"'{value}'"  # (valid text: check_text ran first)
    return {dict: "a mapping", list: "a list", str: "text", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__
    )


def _is_query(v: Any) -> bool:
    from ckx.core.query import Query

    return isinstance(v, (str, Query))


def _texts(v: Any) -> bool:
    return isinstance(v, str) or isinstance(v, list) and all(_text(x) for x in v)


def _text(v: Any) -> bool:
    return isinstance(v, (str, int, float)) and not isinstance(v, bool)  # one of a list of texts


def _env_value(v: Any) -> bool:
    return v is None or isinstance(v, _SCALAR) or isinstance(v, list) and all(
        isinstance(x, _SCALAR) for x in v
    )  # fmt: skip


_CHECKS: dict[str, Callable[[Any], bool]] = {
    "name": lambda v: isinstance(v, str),
    "query": _is_query,
    "tags": lambda v: (
        isinstance(v, str) or isinstance(v, list) and all(isinstance(x, str) for x in v)
    ),
    "text": lambda v: isinstance(v, str),
    "path": lambda v: isinstance(v, str),
    "path_or_flag": lambda v: isinstance(v, (str, bool)),
    "flag": lambda v: isinstance(v, (bool, int, str)),
    "count": lambda v: (
        isinstance(v, int)
        and not isinstance(v, bool)
        or isinstance(v, str)
        and _WHOLE.fullmatch(v.strip()) is not None
    ),
    "texts": _texts,
    "list": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "mapping": lambda v: isinstance(v, dict),
    "env": lambda v: isinstance(v, dict),
    "deps": lambda v: isinstance(v, dict),
    "any": lambda v: True,
}
#: What to write instead, on the command line.
_EXAMPLES = {
    "name": "--KEY=NAME",
    "query": "--tags=get,python3",
    "tags": "--KEY=a,b (or a list of texts in a request dict)",
    "text": "--KEY=VALUE",
    "path": "--KEY=PATH",
    "path_or_flag": "--KEY=PATH",
    "count": "--KEY=3",
    "texts": "--KEY=a,b",
    "list": "a list of texts",
    "mapping": "--KEY.NAME=VALUE",
    "env": "--env.NAME=VALUE",
    "deps": "--KEY.python.version_min=3.10 (a mapping of fields for each dependency name)",
}


def check_repo_name(value: object, what: str) -> None:
    """A repo option names a registered repo (or a pattern of names), never a path."""
    if (
        not isinstance(value, str)
        or not _REPO_NAME.fullmatch(value)
        or value in (".", "..")
    ):  # fmt: skip
        raise UsageError(
            f"{what}={value if isinstance(value, str) else ''}: not a repo name",
            hint="name a registered repo (list them with: ckx ls repo); paths are not repo names",
        )


def check_text(value: Any, where: str = "request", depth: int = 0) -> None:
    """Every string of a request must be text a file, a database and a terminal can hold:
    no lone surrogates (undecodable bytes of argv end up as those) and no NUL characters."""
    if depth > MAX_DEPTH:
        raise UsageError(f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        try:
            value.encode("utf-8")
            bad = value.find("\0")
        except UnicodeEncodeError as e:
            bad = e.start
        if bad >= 0:
            what = (
                "a NUL character, which is not text"
                if value[bad] == "\0"
                else f"U+{ord(value[bad]):04X}, which is not valid UTF-8 text"
            )
            raise UsageError(
                f"{where}: {value[:bad]!a}... holds {what} (at position {bad})",
                hint="pass names, tags and values as valid UTF-8 text",
            )
    elif isinstance(value, dict):
        for k, v in value.items():
            check_text(k, where, depth + 1)
            check_text(v, f"{where}.{k}" if isinstance(k, str) else where, depth + 1)
    elif isinstance(value, (list, tuple)):
        for v in value:
            check_text(v, where, depth + 1)

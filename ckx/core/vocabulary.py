"""The one request vocabulary: every request key ckx reads itself, its roles and its type.

A request (``ckx.access(dict)``, or argv translated by the CLI) holds two kinds of keys: the
keys of this table, which ckx reads itself, and the inputs of what runs (a script's
``input_mapping``, a program's variation groups ...), which the engine checks against the
planned graph (:mod:`ckx.engine.inputcheck`). A row of :data:`KEYS` says

* ``roles``: who reads the key (:data:`ROLES`; a key may have several);
* ``type``: what its value must be (``name``, ``text``, ``flag``, ``env``, ...);
* ``point``: a benchmark records it in the configuration of an experiment point (versions,
  ``adr``; an input of the program is recorded too, being no key of this table);
* ``short``: MLCFlow's one-letter spelling (``-j`` is ``--json``).

The lists other modules used to keep are views of the table: :data:`RESERVED` (keys the
engine reads itself, never inputs of a script), :data:`SUGGESTED` (what "did you mean" offers
a run), :data:`MLCFLOW_INPUTS`, :data:`MLCFLOW_REQUEST`, :data:`MLCFLOW_OPTIONS`,
:data:`BENCH_ONLY`, :data:`BENCH_KEYS`, :data:`DETECT_OPTIONS`, :data:`CLI_ONLY`.
"""

from __future__ import annotations

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
}

#: What a key's value must be.
TYPES = {
    "name": "a name (text)",
    "repo": "a repo name or pattern (text, never a path)",
    "query": "a tag query such as 'a,b,_v' (text)",
    "tags": "tags: text such as 'a,b' or a list of texts",
    "text": "text (a number is taken as its text)",
    "path": "a path (text)",
    "path_or_flag": "a path (text) or true",
    "flag": "true or false (or text such as yes/no)",
    "count": "a whole number",
    "texts": "text (comma-separated) or a list of texts",
    "list": "a list of texts",
    "mapping": "a mapping of names to values",
    "env": "a mapping of env names to text (or lists of text)",
    "deps": "a mapping of dependency names to their fields (a mapping each)",
    "any": "any value",
}


class Key:
    """One row of the vocabulary. (A plain class: see :class:`ckx.core.commands.Command`.)"""

    __slots__ = ("name", "roles", "type", "desc", "point", "short")

    def __init__(
        self,
        name: str,
        roles: str,
        type: str,  # noqa: A002 - the column's name
        desc: str = "",
        *,
        point: bool = False,
        short: str = "",
    ) -> None:
        self.name = name
        self.roles = frozenset(roles.split())
        self.type = type
        self.desc = desc
        #: a benchmark records it in the configuration of its point
        self.point = point
        #: MLCFlow's one-letter flag for it (``-j``)
        self.short = short

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
    Key("home", "plumbing", "path", "the CKX_HOME of this call (ckx.access only)"),
    Key("out", "plumbing mlcflow-request", "path", "ckx.access: the output mode (con, json, none); "
        "dashboard, zip, plot: where to write"),
    Key("want_lock", "plumbing engine", "flag", "the engine returns the plan's lock"),
    Key("state", "plumbing engine mlcflow-request", "mapping", "MLCFlow's state handed to a nested run",
        point=True),
    Key("variations_list", "plumbing engine", "texts", "ckx test script: MLCFlow's "
        "tests.run_inputs field"),
    # -- the command line's own and every command's ------------------------------------------
    Key("json", "cli mlcflow mlcflow-request", "flag", "machine output", short="j"),
    Key("debug", "cli", "flag", "tracebacks"),
    Key("quiet", "common mlcflow mlcflow-request", "flag", "no prompts, take defaults"),
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
    Key("outdirname", "engine mlcflow", "path", "the folder a non-cached run writes into"),
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
#: Keys the engine and the kernel read themselves: never an input of a script (the planner
#: hands every other key to the root as an input; strict inputs accept these in every run).
RESERVED = with_role("address", "select", "plumbing", "cli", "common", "engine")
#: What "did you mean" offers for a mistyped option of a run (not what ckx fills itself).
SUGGESTED = RESERVED - with_role("address", "plumbing")
#: Keys MLCFlow's engine reads for every script, besides ckx's own.
MLCFLOW_INPUTS = with_role("mlcflow")
#: Keys of an MLCFlow request from a hook that steer MLCFlow, never inputs of the script.
MLCFLOW_REQUEST = with_role("mlcflow-request")
#: Keys of an MLCFlow request from a hook that ckx takes as its own options.
MLCFLOW_OPTIONS = with_role("mlcflow-option")
#: Options of benchmark and sweeps: never passed on to the program run.
BENCH_ONLY = with_role("benchmark")
#: Request keys that are not the configuration of an experiment point.
BENCH_KEYS = frozenset(k for k in RESERVED | BENCH_ONLY if not BY_NAME[k].point)
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

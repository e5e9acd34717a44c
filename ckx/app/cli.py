"""The command line: a thin translation of argv into the request dict of ``ckx.access``.

    ckx ACTION [AUTOMATION[:ENTRY] | TAGS] [ARGS ...] [--key=value] [--key.sub=value]
        [--flag] [@input.json|@input.yaml] [--json] [--quiet] [--debug] [-- EXTRA ...]

``--key.sub=value`` builds nested dicts (``--env.X=1`` -> ``{"env": {"X": "1"}}``), ``--flag``
alone is ``True``, ``@file`` merges a JSON/YAML file, dashes in key names become underscores
(``--skip-cache`` = ``--skip_cache``). A first argument with a comma (``ckx run get,python3``)
is a tag query for the action's default automation (MLCFlow's shorthand).
"""

from __future__ import annotations

import sys

# Everything else is imported inside the functions that need it: `ckx --version` (the fast
# path of main) imports only ckx.core.version.


#: Options whose value names a repo: a name or a pattern, never a path.
_REPO_OPTIONS = ("repo", "record_repo", "repo_uoa")


def parse_argv(argv: list[str]) -> dict:
    """Translate argv (without the program name) into a request dict.

    Malformed input is a UsageError naming the argument: text that is not valid UTF-8 (a lone
    surrogate, as undecodable bytes arrive), an option with an empty name part (``--env.=x``,
    ``--adr..x=1``), a lone ``@``, a repo option that is a path (``--repo=../../etc``)."""
    from ckx.core.commands import command
    from ckx.core.errors import UsageError

    req: dict = {}
    positional: list[str] = []
    extra: list[str] | None = None
    for k, a in enumerate(argv):
        _check_arg(a, k)
        if a == "--":
            extra = argv[k + 1 :]
            for j, b in enumerate(extra, start=k + 1):
                _check_arg(b, j)
            break
        if a == "@":
            raise UsageError("a lone '@': name the input file", hint="e.g. ckx run @input.yaml")
        if a.startswith("@"):
            _merge(req, _load_input_file(a[1:]))
        elif a.startswith("--") and len(a) > 2:
            key, eq, value = a[2:].partition("=")
            _set(req, _option_key(key, a), value if eq else True)
        elif a in ("-h",):
            req["help"] = True
        elif a.startswith("-") and len(a) > 1 and not a[1].isdigit() and positional == []:
            raise UsageError(f"unknown option '{a}'", hint="options are written --key=value")
        else:
            positional.append(a)
    if extra is not None:
        req["unparsed"] = extra
    from ckx.app.api import check_repo_name

    for key in _REPO_OPTIONS:
        if key in req:
            check_repo_name(req[key], f"--{key}")
    if positional:
        req["action"] = positional[0]
        rest = positional[1:]
        if rest:
            first = rest[0]
            cmd = command(req["action"])
            if "," in first or first.startswith(("_", "-")) and cmd is not None and cmd.tags_first:
                req["query"] = first
            else:
                req["cid"] = first
            rest = rest[1:]
        if rest:
            req["args"] = rest
    return req


def _check_arg(a: str, k: int) -> None:
    from ckx.core.errors import UsageError

    try:
        a.encode("utf-8")
    except UnicodeEncodeError as e:
        raise UsageError(
            f"argument {k + 1} ({a[: e.start]!a}...) is not valid UTF-8 text",
            hint="pass names, tags and values as UTF-8 text",
        ) from None
    if "\0" in a:
        raise UsageError(f"argument {k + 1} holds a NUL character")


def _option_key(key: str, arg: str) -> str:
    """The dotted key of ``--key.sub=value``; every part must be a name."""
    from ckx.core.errors import UsageError

    parts = key.split(".")
    if not key or any(p == "" for p in parts):
        raise UsageError(
            f"bad option '{arg}': an empty name "
            + ("before '='" if not key else "between dots" if "" in parts[1:-1] else "part"),
            hint="options are written --key=value or --key.sub=value, e.g. --env.X=1",
        )
    head = parts[0].replace("-", "_")
    if not head.replace("_", "").isalnum() or not head.isascii():
        raise UsageError(
            f"bad option '{arg}': '{parts[0]}' is not an option name",
            hint="option names use letters, digits, '-' and '_'",
        )
    return key


def _load_input_file(path: str) -> dict:
    from pathlib import Path

    from ckx.core.errors import NotFoundError, UsageError
    from ckx.core.metafile import load_meta

    p = Path(path)
    if not p.is_file():  # (a NUL or a lone surrogate never gets here: _check_arg refused it)
        raise NotFoundError(f"input file '{path}' not found")
    if p.suffix not in (".json", ".yaml", ".yml"):
        raise UsageError(f"input file '{path}' must be .json, .yaml or .yml")
    return load_meta(p)


def _set(req: dict, key: str, value) -> None:
    parts = key.split(".")
    parts[0] = parts[0].replace("-", "_")
    d = req
    for p in parts[:-1]:
        nxt = d.get(p)
        if not isinstance(nxt, dict):
            nxt = {}
            d[p] = nxt
        d = nxt
    d[parts[-1]] = value


def _merge(a: dict, b: dict) -> None:
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(a.get(k), dict):
            _merge(a[k], v)
        else:
            a[k] = v


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv in (["--version"], ["version"], ["-V"]):  # the fast path: one leaf module
        from ckx.core.version import __version__

        print(f"ckx {__version__}")
        return 0
    debug = "--debug" in argv
    from ckx.core.errors import CkxError, Interrupted

    try:
        return _main(argv)
    except CkxError as e:
        if "--json" in argv:  # machine output stays machine-readable: the API's error dict
            import json

            print(json.dumps({**e.to_dict(), "hint": e.hint}, indent=2))
        _print_error(e, debug)
        return e.exit_code
    except KeyboardInterrupt:
        _print_error(Interrupted("interrupted (Ctrl-C); nothing half-made was kept"), debug)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # read-only or full CKX_HOME, a file where a folder must be ...
        from ckx.core.errors import storage_error

        err = storage_error(e)
        _print_error(err, debug)
        return err.exit_code


def _print_error(e, debug: bool) -> None:
    if debug:
        import traceback

        traceback.print_exc()
    print(f"ckx error: {e.message}", file=sys.stderr)
    if e.hint:
        print(f"  hint: {e.hint}", file=sys.stderr)
    if not debug and e.exit_code == 1:  # a generic failure: the traceback may help
        print("  (run with --debug for a traceback)", file=sys.stderr)


def _main(argv: list[str]) -> int:
    from ckx.app.api import open_context, run
    from ckx.core.commands import OPTIONS
    from ckx.core.ui import UI

    req = parse_argv(argv)
    own = {o.name: bool(req.pop(o.name, False)) for o in OPTIONS if o.cli_only}
    as_json, debug = own["json"], own["debug"]
    if not req.get("action") or req.get("action") in ("help",) or req.get("help"):
        from ckx.app.help import cli_help

        ui = UI(mode="con")
        ctx = open_context(ui=ui, debug=debug)
        return cli_help(ctx, req)
    ui = UI(mode="json" if as_json else "con", quiet=bool(req.get("quiet")))
    ctx = open_context(ui=ui, debug=debug)
    out = run(ctx, req)
    if as_json:
        import json

        print(json.dumps(out, indent=2, default=str))
    return int(out.get("return", 0) or 0)


if __name__ == "__main__":
    sys.exit(main())

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


def parse_argv(argv: list[str]) -> dict:
    """Translate argv (without the program name) into a request dict.

    Malformed options are a UsageError naming the argument: an option with an empty name part
    (``--env.=x``, ``--adr..x=1``), a lone ``@``, a one-letter flag ckx does not take (MLCFlow's
    ``-j``, ``-f``, ``-h`` are ``--json``, ``--force``, ``--help``). What the request holds (its
    text, the types of ckx's keys, repo names) is checked afterwards, once, for every door:
    :func:`ckx.core.vocabulary.check_request`."""
    from ckx.core.errors import UsageError

    req: dict = {}
    positional: list[str] = []
    extra: list[str] | None = None
    for k, a in enumerate(argv):
        if a == "--":
            extra = argv[k + 1 :]
            break
        if a == "@":
            raise UsageError("a lone '@': name the input file", hint="e.g. ckx run @input.yaml")
        if a.startswith("@"):
            _merge(req, _load_input_file(a[1:]))
        elif a.startswith("--") and len(a) > 2:
            key, eq, value = a[2:].partition("=")
            _set(req, _option_key(key, a), value if eq else True)
        elif _is_flag(a, positional):
            req[_short_flag(a)] = True
        else:
            positional.append(a)
    if extra is not None:
        req["unparsed"] = extra
    if positional:
        _positional(req, positional)
    return req


def _is_flag(a: str, positional: list[str]) -> bool:
    """Is ``a`` a one-letter flag (``-j``), or a word with one dash that must be one? Not a
    number (``-1``), and not the first word after an action whose first word may be a tag
    query (``ckx run -cuda``), unless it is one of MLCFlow's flags."""
    from ckx.core.commands import command
    from ckx.core.vocabulary import SHORT_FLAGS, SHORT_REFUSED

    if not a.startswith("-") or len(a) < 2 or a[1].isdigit():
        return False
    if len(a) == 2 and (a[1] in SHORT_FLAGS or a[1] in SHORT_REFUSED):
        return True
    cmd = command(positional[0]) if len(positional) == 1 else None
    return not (cmd is not None and cmd.tags_first)


def _short_flag(a: str) -> str:
    """The key of MLCFlow's one-letter flag ``a`` (``-j``: ``json``), or a UsageError."""
    from ckx.core.errors import UsageError
    from ckx.core.vocabulary import SHORT_FLAGS, SHORT_REFUSED

    if len(a) == 2 and a[1] in SHORT_FLAGS:
        return SHORT_FLAGS[a[1]]
    known = ", ".join(f"-{s} (--{k})" for s, k in SHORT_FLAGS.items())
    if len(a) == 2 and a[1] in SHORT_REFUSED:
        raise UsageError(f"ckx does not take {a}: {SHORT_REFUSED[a[1]]}", hint=f"ckx takes {known}")
    raise UsageError(
        f"unknown option {_shown(a)}",
        hint=f"options are written --key=value; the one-letter flags are {known}",
    )


def _positional(req: dict, positional: list[str]) -> None:
    """``ACTION [CID | TAGS] [ARGS ...]`` into the request."""
    from ckx.core.commands import command

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


def _shown(text: str) -> str:
    """``text`` quoted for a message; escaped when it is not printable text (undecodable argv
    bytes arrive as lone surrogates: the request check names those)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return ascii(text)
    return ascii(text) if "\0" in text else f"'{text}'"


def _option_key(key: str, arg: str) -> str:
    """The dotted key of ``--key.sub=value``; every part must be a name."""
    from ckx.core.errors import UsageError

    parts = key.split(".")
    if not key or any(p == "" for p in parts):
        raise UsageError(
            f"bad option {_shown(arg)}: an empty name "
            + ("before '='" if not key else "between dots" if "" in parts[1:-1] else "part"),
            hint="options are written --key=value or --key.sub=value, e.g. --env.X=1",
        )
    head = parts[0].replace("-", "_")
    if not head.replace("_", "").isalnum() or not head.isascii():
        raise UsageError(
            f"bad option {_shown(arg)}: {_shown(parts[0])} is not an option name",
            hint="option names use letters, digits, '-' and '_'",
        )
    return key


def _load_input_file(path: str) -> dict:
    from pathlib import Path

    from ckx.core.errors import NotFoundError, UsageError
    from ckx.core.metafile import load_meta

    p = Path(path)
    if "\0" in path or not p.is_file():  # (undecodable bytes in a file name work)
        raise NotFoundError(f"input file {_shown(path)} not found")
    if p.suffix not in (".json", ".yaml", ".yml"):
        raise UsageError(f"input file {_shown(path)} must be .json, .yaml or .yml")
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
    from ckx.app.api import dispatch, open_context
    from ckx.core.ui import UI
    from ckx.core.vocabulary import CLI_ONLY, check_request

    req = parse_argv(argv)
    check_request(req)  # the one check of what the request holds, as for ckx.access
    own = {k: _yes(req.pop(k, False)) for k in CLI_ONLY}
    as_json, debug = own["json"], own["debug"]
    if not req.get("action") or req.get("action") in ("help",) or req.get("help"):
        from ckx.app.help import cli_help

        ui = UI(mode="con")
        ctx = open_context(ui=ui, debug=debug)
        return cli_help(ctx, req)
    ui = UI(mode="json" if as_json else "con", quiet=bool(req.get("quiet")))
    ctx = open_context(ui=ui, debug=debug)
    out = dispatch(ctx, req)
    if as_json:
        import json

        print(json.dumps(out, indent=2, default=str))
    return int(out.get("return", 0) or 0)


def _yes(value: object) -> bool:
    """A flag's value: ``--json``, ``--json=yes``; ``--json=no`` (or 0, false, off) is off."""
    return str(value).strip().lower() not in ("", "0", "false", "no", "off", "none")


if __name__ == "__main__":
    sys.exit(main())

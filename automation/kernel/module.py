"""The ``kernel`` automation: CK's ``ck setup kernel --var.KEY=VALUE``, answered for ckx.

CK kept switches in its kernel entry; ckx keeps its settings in ``CKX_HOME/config.yaml``
(``mirrors``, ``pip_pins``; see docs/packages.md). Of CK's variables, the CK tutorial sets
``install_to_env=yes`` ("install packages inside the env entry, not in ~/CK-TOOLS"): ckx
always does that (a package is installed into its cache entry), so ``yes`` is accepted and
said, and ``no`` is refused rather than silently ignored. Any other variable is an error.
"""

from __future__ import annotations

from typing import Any

from ckx.core.errors import UsageError

#: CK kernel variable -> (the value ckx's behaviour corresponds to, what it means here)
KNOWN = {
    "install_to_env": (
        "yes",
        "packages are installed into their own cache entry (CKX_HOME/repos/local/cache/UID), "
        "never into a shared tools folder",
    ),
}


def setup(ctx, i: dict[str, Any]) -> dict[str, Any]:
    """``ckx setup kernel [--var.KEY=VALUE ...]``: check CK's variables; print the settings."""
    from ckx.artifacts.prepare import read_config
    from ckx.core.vocabulary import ACCEPTED

    extra = sorted(k for k in i if k not in ACCEPTED and k != "var")
    if extra:
        raise UsageError(f"ckx setup kernel takes --var.KEY=VALUE, not --{extra[0]}")
    variables = i.get("var") or {}
    if not isinstance(variables, dict):
        raise UsageError("write CK kernel variables as --var.KEY=VALUE")
    for key, value in variables.items():
        _check(str(key), value)
        ctx.ui.print(f"{key}={_yes_no(value)}: {KNOWN[str(key)][1]} (always so in ckx)")
    config = read_config(ctx.home)
    ctx.ui.print(f"settings: {ctx.home / 'config.yaml'}" + ("" if config else " (none set)"))
    for key, value in config.items():
        ctx.ui.print(f"  {key}: {value}")
    return {"return": 0, "home": str(ctx.home), "config": config, "var": variables}


def _check(key: str, value: Any) -> None:
    if key not in KNOWN:
        from ckx.core.suggest import did_you_mean

        raise UsageError(
            f"unknown CK kernel variable '{key}'" + did_you_mean(key, KNOWN),
            hint="ckx understands: "
            + ", ".join(f"--var.{k}" for k in KNOWN)
            + "; its own settings live in CKX_HOME/config.yaml (mirrors, pip_pins)",
        )
    want = KNOWN[key][0]
    if _yes_no(value) != want:
        raise UsageError(
            f"--var.{key}={value}: ckx cannot work that way ({KNOWN[key][1]})",
            hint=f"use --var.{key}={want}, or leave it out",
        )


def _yes_no(value: Any) -> str:
    text = str(value).strip().lower()
    return (
        "yes"
        if text in ("yes", "true", "1", "on")
        else "no"
        if text in ("no", "false", "0", "off")
        else text
    )

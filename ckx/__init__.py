"""ckx: composable tagged scripts for ML benchmarking.

``ckx.access(request) -> dict`` is the whole API: the same dict the CLI builds.
Importing ckx has no side effects and imports nothing heavy.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "access", "CkxError"]


def access(request: dict) -> dict:
    """Run one action described by ``request``; return ``{"return": 0, ...}`` or an error dict."""
    from ckx.app.api import access as _access

    return _access(request)


def __getattr__(name: str):  # lazy re-export, keeps `import ckx` cheap
    if name == "CkxError":
        from ckx.core.errors import CkxError

        return CkxError
    raise AttributeError(name)

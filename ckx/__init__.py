"""ckx: composable tagged scripts for ML benchmarking.

``ckx.access(request) -> dict`` is the whole API: the same dict the CLI builds.
Importing ckx has no side effects and imports nothing heavy.
"""

from __future__ import annotations

__all__ = ["__version__", "access", "CkxError"]


def access(request: dict) -> dict:
    """Run one action described by ``request``; return ``{"return": 0, ...}`` or an error dict."""
    from ckx.app.api import access as _access  # on first call: `import ckx` stays cheap

    return _access(request)


def __getattr__(name: str) -> object:  # lazy re-exports: `import ckx` imports nothing else
    if name == "CkxError":
        from ckx.core.errors import CkxError

        return CkxError
    if name == "__version__":
        from ckx.core.version import __version__

        return __version__
    raise AttributeError(name)

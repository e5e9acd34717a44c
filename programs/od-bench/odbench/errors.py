"""Errors raised by od-bench.

od-bench runs as a subprocess, often in a program virtual environment where the ``ckx``
package may not be installed. When ``ckx`` is importable its error classes are used, so a
caller inside ckx can catch them; otherwise minimal classes with the same interface
(``message``, ``hint``, ``exit_code``) stand in.
"""

from __future__ import annotations

try:  # pragma: no cover - which branch runs depends on the environment
    from ckx.core.errors import (
        CkxError,
        MissingDependencyError,
        NotFoundError,
        RunError,
        UsageError,
    )
except ImportError:  # pragma: no cover

    class CkxError(Exception):  # type: ignore[no-redef]
        """Base class: ``message`` says what and where, ``hint`` says what to do."""

        exit_code = 1

        def __init__(self, message: str, hint: str | None = None) -> None:
            super().__init__(message)
            self.message = message
            self.hint = hint

        def __str__(self) -> str:
            return self.message

    class UsageError(CkxError):  # type: ignore[no-redef]
        """Bad command-line input."""

        exit_code = 2

    class NotFoundError(CkxError):  # type: ignore[no-redef]
        """A missing file or folder."""

        exit_code = 3

    class RunError(CkxError):  # type: ignore[no-redef]
        """The benchmark failed while running."""

        exit_code = 6

    class MissingDependencyError(CkxError):  # type: ignore[no-redef]
        """An optional Python module is missing."""

        exit_code = 11


# import name -> PyPI distribution, for the hint
_PIP_NAMES = {
    "cv2": "opencv-python-headless",
    "mlperf_loadgen": "mlcommons-loadgen",
    "PIL": "pillow",
}


def missing_module(module: str, exc: BaseException | None = None) -> MissingDependencyError:
    """The error for a Python module od-bench needs but cannot import. The hint's pip is run by
    this interpreter (``sys.executable``, the program's Python), never a bare ``pip`` that may
    belong to another environment."""
    import shlex
    import sys

    detail = f" ({exc})" if exc else ""
    pip = f"{shlex.quote(sys.executable)} -m pip install {_PIP_NAMES.get(module, module)}"
    return MissingDependencyError(
        f"od-bench needs the Python module '{module}', which cannot be imported{detail}",
        hint=f"install it into the Python that runs od-bench: {pip}",
    )


__all__ = [
    "CkxError",
    "MissingDependencyError",
    "NotFoundError",
    "RunError",
    "UsageError",
    "missing_module",
]


def report(prog: str, exc: CkxError) -> int:
    """Print ``exc`` as od-bench's command-line tools do (error line, then hint); return its
    exit code."""
    import sys

    print(f"{prog}: error: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {exc.hint}", file=sys.stderr)
    return exc.exit_code

"""Errors raised by od-bench.

Each error carries a message (what went wrong and where), an optional hint (what to do) and
the exit code of the command-line tools: 2 bad input, 3 a missing file or folder, 6 the
benchmark failed while running, 11 a Python module od-bench needs is missing. The harness is
standalone: it needs nothing but its own package and the libraries of the run.
"""

from __future__ import annotations


class OdBenchError(Exception):
    """Base class: ``message`` says what and where, ``hint`` says what to do."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(OdBenchError):
    """Bad command-line input."""

    exit_code = 2


class NotFoundError(OdBenchError):
    """A missing file or folder."""

    exit_code = 3


class RunError(OdBenchError):
    """The benchmark failed while running."""

    exit_code = 6


class MissingDependencyError(OdBenchError):
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
    "MissingDependencyError",
    "NotFoundError",
    "OdBenchError",
    "RunError",
    "UsageError",
    "missing_module",
]


def report(prog: str, exc: OdBenchError) -> int:
    """Print ``exc`` as od-bench's command-line tools do (error line, then hint); return its
    exit code."""
    import sys

    print(f"{prog}: error: {exc.message}", file=sys.stderr)
    if exc.hint:
        print(f"hint: {exc.hint}", file=sys.stderr)
    return exc.exit_code

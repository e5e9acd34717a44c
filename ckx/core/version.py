"""The version of ckx, in a leaf module: ``ckx.__version__`` re-exports it, and the app layer
reads it from here (importing the ``ckx`` package from inside it would close an import cycle).
Keep it equal to ``version`` in pyproject.toml (``tests/kernel/test_packaging.py`` checks)."""

__version__ = "0.1.0"

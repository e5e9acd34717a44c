"""The version of ckx, in a leaf module: ``ckx.__version__`` re-exports it, and the app layer
reads it from here (importing the ``ckx`` package from inside it would close an import cycle).
Keep it equal to ``version`` in pyproject.toml (``tests/kernel/test_packaging.py`` checks).

``DISTRIBUTION`` is the name ckx is installed under (pyproject's ``[project] name``), for
``importlib.metadata`` and install hints. It is not ``ckx``: that name on PyPI belongs to an
unrelated project. The command and the import name stay ``ckx``."""

__version__ = "0.1.0"
DISTRIBUTION = "ckx-automation"

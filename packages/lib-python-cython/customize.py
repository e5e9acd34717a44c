from ckx.artifacts.pythonlibs import python_package_preprocess as preprocess  # noqa: F401 - the hook

"""Build hook: a wheel carries the built-in repo (automations and content) inside the package.

An editable install (`pip install -e .`) uses the checkout itself as the built-in repo; a
regular install (`pip install .`, a wheel) copies `repos.yaml`, `automation/`, `scripts/`,
`packages/` and `programs/` into `ckx/_builtin/`, which ckx then uses.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONTENT = ("automation", "scripts", "packages", "programs")


class BuildWithContent(build_py):
    def run(self):
        super().run()
        root = Path(__file__).resolve().parent
        dest = Path(self.build_lib) / "ckx" / "_builtin"
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        shutil.copy2(root / "repos.yaml", dest / "repos.yaml")
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")
        for name in CONTENT:
            if (root / name).is_dir():
                shutil.copytree(root / name, dest / name, ignore=ignore)


setup(cmdclass={"build_py": BuildWithContent})

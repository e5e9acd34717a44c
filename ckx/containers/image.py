"""The image a plan runs in: its recipe, Dockerfile, build context and digest tag.

A :class:`Recipe` holds what goes into the image: the base (by name and by image id), the
OS packages, the Python libraries the plan's nodes need (pinned to the versions this machine
has), ckx's source, the registered repos and the CA bundle. :meth:`Recipe.digest` is a sha256
over all of it, and the image is tagged with it, so an unchanged plan finds its image and
builds nothing. The Dockerfile installs in an order that lets Docker's layer cache share the
first steps between images (python, ckx, then the plan's libraries, then the repos).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ckx.containers import source

if TYPE_CHECKING:
    from ckx.core.repos import Repo
    from ckx.engine.model import Plan

#: Where things live inside a ckx image.
OPT = "/opt/ckx"
VENV = f"{OPT}/venv"
HOME = "/ckx-home"
#: The env keys through which a node names the Python distribution it needs.
PACKAGE_KEYS = (
    "CKX_GENERIC_PYTHON_PACKAGE_NAME",
    "MLC_GENERIC_PYTHON_PACKAGE_NAME",
    "MLC_PIP_PACKAGE_NAME",
)
#: With one of these set, a node installs from somewhere special: left to the run.
_SPECIAL_PIP = ("MLC_GENERIC_PYTHON_PIP_URL", "MLC_GENERIC_PYTHON_PIP_EXTRA_INDEX_URL")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def python_libs(plan: Plan) -> list[str]:
    """The Python distributions the plan's nodes detect or install (sorted, unique)."""
    out = set()
    for node in plan.nodes:
        env = node.meta.get("env") or {}
        if any(env.get(k) for k in _SPECIAL_PIP):
            continue
        pp = node.meta.get("python_package")
        names = [pp.get("name")] if isinstance(pp, dict) else []
        names += [env.get(k) for k in PACKAGE_KEYS]
        for name in names:
            if isinstance(name, str) and _NAME.match(name) and name.lower() != "pip":
                out.add(name)
    return sorted(out, key=str.lower)


def image_name(alias: str) -> str:
    """A Docker repository name for an entry alias (``ckx-od-bench``)."""
    name = re.sub(r"[^a-z0-9._-]+", "-", alias.lower()).strip("-._") or "run"
    return f"ckx-{name}"[:100]


class Recipe:
    """What goes into an image (module doc)."""

    def __init__(
        self,
        *,
        base: str,
        base_id: str,
        title: str,
        libs: list[str],
        sys_packages: list[str],
        repos: list[Repo],
        ca: Path | None,
        template: str | None = None,
        files: dict[str, Path] | None = None,
    ) -> None:
        self.base = base
        #: a docker entry's Dockerfile template, and the entry's files it may COPY (entry/...)
        self.template = template
        self.files_in = files or {}
        self.base_id = base_id
        self.title = title
        self.libs = libs
        self.sys_packages = sys_packages
        self.repos = repos
        self.ca = ca
        self.root = source.checkout()
        self.files = source.source_files(self.root)
        #: ``name==version`` of ckx's requirements, and of the libraries, as installed here
        own = source.distribution(self.root)
        self.ckx_pins = source.installed_versions([own])
        self.ckx_pins.pop(own, None)
        self.pins = source.installed_versions(libs)

    # -- the Dockerfile --------------------------------------------------------------------
    def dockerfile(self) -> str:
        """The Dockerfile: ckx's own, or a docker entry's template with ``{{BASE}}`` and
        ``{{CKX}}`` (the lines that install python3, ckx and the libraries) filled in."""
        if self.template is not None:
            return self._filled(self.template)
        lines = [
            f"# Made by ckx for {self.title}, from its plan",
            "# (docs/containers.md). Nothing is cloned or pulled: ckx is a wheel of the host's",
            "# checkout, the repos are copies of the host's, the libraries pinned to its versions.",
            f"FROM {self.base}",
            *self.setup_lines(),
        ]
        return "\n".join(lines) + "\n"

    def _filled(self, template: str) -> str:
        out: list[str] = []
        for line in template.splitlines():
            if line.lstrip().startswith("#"):  # comments keep their words
                out.append(line)
            elif line.strip() == "{{CKX}}":
                out += self.setup_lines()
            else:
                out.append(line.replace("{{BASE}}", self.base))
        return "\n".join(out).rstrip("\n") + "\n"

    def setup_lines(self) -> list[str]:
        """After ``FROM``: python3 (from the OS when missing), a venv, ckx, the libraries."""
        pip = (f"PIP_CERT={OPT}/ca.crt " if self.ca else "") + "pip install -c"
        lines = [
            "ENV LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1 \\",
            "    PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1",
        ]
        if self.ca:
            lines.append(f"COPY ca.crt {OPT}/ca.crt")
        lines += _python_lines()
        lines += [
            f"RUN python3 -m venv {VENV} && mkdir -p {HOME}/repos/local/cache {HOME}/repos/local/experiment \\",
            f"    && chmod -R 1777 {HOME}",
            f"ENV PATH={VENV}/bin:$PATH CKX_HOME={HOME}",
            f"COPY wheels/ {OPT}/wheels/",
            f"RUN {pip} {OPT}/wheels/constraints-ckx.txt {OPT}/wheels/*.whl",
        ]
        if self.sys_packages:
            apt = "apt-get update && apt-get install -y --no-install-recommends"
            lines.append(f"RUN {apt} {' '.join(self.sys_packages)} && rm -rf /var/lib/apt/lists/*")
        if self.libs:
            lines.append(f"COPY constraints.txt {OPT}/constraints.txt")
            lines.append(f"RUN {pip} {OPT}/constraints.txt " + " ".join(self.libs))
        lines.append(f"COPY repos/ {OPT}/repos/")
        return lines

    def constraints(self, pins: dict[str, str] | None = None) -> str:
        pins = self.pins if pins is None else pins
        return "".join(f"{k}=={v}\n" for k, v in sorted(pins.items()))

    def repos_json(self) -> str:
        """The container's registry: the copied repos at their places in the image."""
        rows = []
        for r in self.repos:
            row: dict[str, Any] = {"alias": r.alias, "uid": r.uid, "path": f"{OPT}/repos/{r.alias}"}
            if r.folders:
                row["folders"] = dict(r.folders)
            rows.append(row)
        return json.dumps({"version": 1, "repos": rows}, indent=2) + "\n"

    # -- the digest ------------------------------------------------------------------------
    def digest(self) -> str:
        """sha256 of everything that goes into the image (and the base's image id)."""
        h = hashlib.sha256()
        parts = (
            self.dockerfile(),
            self.base_id,
            self.constraints(),
            self.constraints(self.ckx_pins),
        )
        for part in (*parts, self.repos_json()):
            h.update(part.encode() + b"\0")
        h.update(source.tree_digest(self.root, self.files).encode())
        for r in self.repos:
            h.update(source.tree_digest(r.path, list(source.walk(r.path))).encode())
        if self.ca:
            h.update(self.ca.read_bytes())
        for name, path in sorted(self.files_in.items()):
            h.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
        return h.hexdigest()

    # -- the build context -----------------------------------------------------------------
    def write_context(self, folder: Path) -> Path:
        """Fill ``folder`` with the Dockerfile, the wheel, the repos, the pins, the CA."""
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        (folder / "Dockerfile").write_text(self.dockerfile(), encoding="utf-8")
        (folder / "constraints.txt").write_text(self.constraints(), encoding="utf-8")
        ckx_pins = self.constraints(self.ckx_pins)
        (folder / "wheels").mkdir()
        (folder / "wheels" / "constraints-ckx.txt").write_text(ckx_pins, encoding="utf-8")
        if self.ca:
            shutil.copyfile(self.ca, folder / "ca.crt")
        source.build_wheel(self.root, self.files, folder)
        repos = folder / "repos"
        repos.mkdir()
        (repos / "repos.json").write_text(self.repos_json(), encoding="utf-8")
        for r in self.repos:
            ignore = shutil.ignore_patterns(*source.IGNORED, "*.pyc")
            shutil.copytree(r.path, repos / r.alias, ignore=ignore, symlinks=True)
        for name, path in self.files_in.items():
            (folder / "entry" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, folder / "entry" / name)
        return folder


def _python_lines() -> list[str]:
    """python3 (with venv) from the OS's packages when the base lacks it."""
    apt = "apt-get update && apt-get install -y --no-install-recommends"
    return [
        "# python3 from the OS's packages when the base has none (Debian and Ubuntu bases)",
        "RUN if python3 -c 'import venv, ensurepip' 2>/dev/null; then python3 --version; \\",
        f"    elif command -v apt-get >/dev/null; then {apt} \\",
        "      python3 python3-venv python3-pip ca-certificates && rm -rf /var/lib/apt/lists/*; \\",
        "    else echo 'ckx: the base image has no python3 (with venv) and no apt-get' >&2; \\",
        "      exit 1; fi",
    ]

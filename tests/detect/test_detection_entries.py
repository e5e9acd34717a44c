"""Every built-in package entry with a ``detect`` block detects its fake installations
(Spack-style detection tests).

A package entry describes a piece of software once: how it is installed and how an installed
copy is found (its ``detect`` block). Each ``packages/<alias>/detection_test.yaml`` lists
cases; a case writes fake executables (or a fake site-packages) into a temp dir, runs the
real detection engine on them with ``PATH`` ignored, and compares what was found (paths,
versions, warning count) with the expectation. So CI tests detection of gcc, docker, torch …
without any of them installed.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
from pathlib import Path

import pytest
import yaml

from ckx.artifacts.detect import detect
from ckx.artifacts.pythonlibs import env_prefix_for
from ckx.engine.hooks import load_detector

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ROOT / "packages"
ENTRIES = sorted(
    p.parent
    for p in PACKAGES.glob("*/meta.yaml")
    if isinstance(yaml.safe_load(p.read_text(encoding="utf-8")).get("detect"), dict)
)


def _cases() -> list:
    params = []
    for entry in ENTRIES:
        test_file = entry / "detection_test.yaml"
        if not test_file.is_file():
            continue
        data = yaml.safe_load(test_file.read_text(encoding="utf-8"))
        for n, case in enumerate(data["tests"]):
            params.append(pytest.param(entry, case, id=f"{entry.name}[{n}]"))
    return params


def _write_layout(root: Path, layout: list[dict]) -> list[Path]:
    """Write each fake executable; return the folders holding them, in first-seen order."""
    dirs: list[Path] = []
    for item in layout:
        for rel in item["executables"]:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("#!/bin/sh\n" + item["script"], encoding="utf-8")
            path.chmod(0o755)
            if path.parent not in dirs:
                dirs.append(path.parent)
    return dirs


def _write_site(root: Path, packages: list[dict]) -> Path:
    """A fake site-packages: ``<dist>-<version>.dist-info/METADATA`` plus module packages."""
    site = root / "site-packages"
    site.mkdir()
    for pkg in packages:
        stem = re.sub(r"[-_.]+", "_", pkg["dist"]).lower()
        info = site / f"{stem}-{pkg['version']}.dist-info"
        info.mkdir()
        meta = f"Metadata-Version: 2.1\nName: {pkg['dist']}\nVersion: {pkg['version']}\n"
        (info / "METADATA").write_text(meta, encoding="utf-8")
        for module in pkg["modules"]:
            (site / module).mkdir(exist_ok=True)
            (site / module / "__init__.py").write_text("", encoding="utf-8")
    return site


def _expected_versions(case: dict) -> None:
    for result in case["results"]:
        # YAML reads 3.10 as the float 3.1: insist on strings in the fixture files.
        assert isinstance(result["version"], str), f"quote the version {result['version']!r}"


def test_every_detecting_package_has_a_detection_test() -> None:
    assert len(ENTRIES) >= 17, f"package entries with a detect block under {PACKAGES}: {ENTRIES}"
    missing = [e.name for e in ENTRIES if not (e / "detection_test.yaml").is_file()]
    assert missing == []


def test_no_meta_is_left_under_soft() -> None:
    """One description per piece of software: detectors are package entries now."""
    assert not list((ROOT / "soft").glob("**/meta.*"))


@pytest.mark.skipif(os.name != "posix", reason="fake executables are /bin/sh scripts")
@pytest.mark.parametrize(("entry", "case"), _cases())
def test_detection_case(entry: Path, case: dict, tmp_path: Path) -> None:
    _expected_versions(case)
    spec = load_detector(entry)
    warnings: list[str] = []
    timeout = case.get("timeout")
    if spec.is_python_package:
        site = _write_site(tmp_path, case["python_packages"])
        # -S keeps the real site-packages out, so only the fake one is visible.
        found = detect(
            spec, search_dirs=[site], python=[sys.executable, "-S"], warn=warnings.append
        )
        got = [(d.details["dist"], d.version, d.path) for d in found]
        want = [(r["dist"], r["version"], site / r["module"]) for r in case["results"]]
    else:
        # A unique folder name proves the paths come from this layout, not from PATH.
        root = tmp_path / secrets.token_hex(4)
        dirs = _write_layout(root, case["layout"])
        found = detect(spec, search_dirs=dirs, path_env="", timeout=timeout, warn=warnings.append)
        got = [(d.path, d.version) for d in found]
        want = [(root / r["path"], r["version"]) for r in case["results"]]
    assert got == want, f"{case['name']}: warnings were {warnings}"
    assert len(warnings) == case.get("warnings", 0), warnings
    for d in found:  # the env a cached entry will export names the path and the version
        assert d.env[spec.env_key] == str(d.path)
        assert d.env[f"{spec.env_prefix}_VERSION"] == d.version


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_detecting_package_meta(entry: Path) -> None:
    meta = yaml.safe_load((entry / "meta.yaml").read_text(encoding="utf-8"))
    assert meta["alias"] == entry.name
    assert meta["automation_alias"] == "package"
    assert re.fullmatch(r"[0-9a-f]{16}", meta["uid"])
    assert meta["tags"] and all(isinstance(t, str) for t in meta["tags"])
    assert meta["name"] and meta["env_prefix"].startswith("CKX_")
    spec = load_detector(entry)
    assert spec.env_key and spec.env_key.startswith(meta["env_prefix"])
    if entry.name.startswith("lib-python-"):
        assert meta["tags"][:2] == ["lib", "python-package"]
        assert spec.is_python_package and spec.import_name
        # what get-generic-python-lib reads: CKX_PYTHONLIB_ + the pip name, _VERSION and _PATH
        assert meta["env_prefix"] == env_prefix_for(meta["python_package"]["name"])
        assert spec.env_key == meta["env_prefix"] + "_PATH"
        assert set(meta["python_package"]) <= {"name", "versions"}  # the rest is in detect


def test_uids_and_ck_soft_names_are_unique() -> None:
    metas = [yaml.safe_load((e / "meta.yaml").read_text(encoding="utf-8")) for e in ENTRIES]
    uids = [m["uid"] for m in metas]
    assert len(set(uids)) == len(uids)
    names = [m["soft_alias"] for m in metas if m.get("soft_alias")]
    assert len(set(names)) == len(names) and len(names) >= 15

"""One description per piece of software: a package entry holds how it is installed and how
an installed copy is found. CK's `soft` and `env` commands are views of those entries and of
what is installed (docs/detection.md)."""

from __future__ import annotations

import json
import stat

from .conftest import OFFLINE, small_coco


def _fake_tool(folder, name: str, banner: str):
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / name
    exe.write_text(f"#!/bin/sh\necho '{banner}'\n", encoding="utf-8")
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return exe


def test_the_soft_detectors_are_the_package_entries(ckx, tmp_path):
    """`ckx ls soft` lists CK's detector names and the package entry holding each; `ckx detect
    soft --tags=...` and `ckx detect soft:NAME` detect with the package's detect block."""
    r = ckx("ls", "soft")
    assert r.code == 0, r
    for soft, package in (
        ("compiler.python", "compiler-python"),
        ("tool.cmake", "tool-cmake"),
        ("lib.python.numpy", "lib-python-numpy"),
        ("platform.os", "platform-os"),
    ):
        assert f"{soft}  (builtin:package:{package})" in r.out, r
    git = _fake_tool(tmp_path / "bin", "git", "git version 2.45.1")
    cmake = _fake_tool(tmp_path / "bin", "cmake", "cmake version 3.29.2")
    r = ckx("detect", "soft", "--tags=tool,git", env={"PATH": str(git.parent)})
    assert r.code == 0 and f"tool.git  2.45.1  {git}  -> env:" in r.out, r
    r = ckx("detect", "soft:tool.cmake", env={"PATH": str(cmake.parent)})
    assert r.code == 0 and f"tool.cmake  3.29.2  {cmake}  -> env:" in r.out, r
    r = ckx("show", "env", "--tags=cmake,v3.29", "--json")
    (row,) = json.loads(r.out)["list"]
    assert (row["package"], row["soft"], row["how"]) == ("tool-cmake", "tool.cmake", "detected")
    assert row["env"] == {"CKX_CMAKE_BIN_WITH_PATH": str(cmake), "CKX_CMAKE_VERSION": "3.29.2"}


def test_installing_a_package_never_runs_its_detect_block(ckx):
    """tool-cmake describes how to find a cmake and how to build one: installing builds it
    (an installed cmake is what `ckx detect` registers)."""
    r = ckx("install", "package", "--tags=tool,cmake,src", "--plan", env=OFFLINE)
    assert r.code == 0, r
    assert r.out.startswith("tool-cmake v3.28.3  [run]  (builtin:package:tool-cmake)"), r
    assert "fetch cmake-3.28.3.tar.gz" in r.out
    r = ckx("install", "package", "--tags=tool,cmake,src", "--plan", "--search_dirs=/opt/bin")
    assert r.code == 2 and "--search_dirs" in r.err, r  # no detection runs: nothing to search


def test_show_env_lists_the_installed_packages(ckx, tmp_path):
    """CK's `ck show env` listed what `ck install package` installed: so does ckx's, for a
    library in an interpreter (an env entry) and a registered data set (its cache entry)."""
    import numpy

    r = ckx("install", "package", "--tags=lib,python-package,numpy", env=OFFLINE)
    assert r.code == 0 and "-> env:" in r.out, r
    coco = small_coco(tmp_path / "coco")
    r = ckx("install", "package", "--tags=dataset,coco,val,2017,full", f"--path={coco}")
    assert r.code == 0, r
    r = ckx("show", "env")
    assert r.code == 0, r
    assert f"lib-python-numpy  {numpy.__version__}  {numpy.__path__[0]}  (installed)" in r.out
    assert f"dataset-coco-2017-val  ?  {coco}  (installed, cache)" in r.out
    assert f"    CKX_DATASET_PATH={coco}" in r.out
    assert ckx("install", "package", "--tags=tool,coco,api").code == 0  # CK's name, a dep
    r = ckx("install", "package", "--tags=lib,python-package,generic,_package.PyYAML")
    assert r.code == 0, r
    r = ckx("show", "env")
    assert "tool-coco-api  " in r.out and "lib-python-generic _package.PyYAML  " in r.out, r
    r = ckx("show", "env", "--tags=dataset", "--json")
    assert [row["package"] for row in json.loads(r.out)["list"]] == ["dataset-coco-2017-val"]
    # installing again updates the record, it does not add one
    assert ckx("install", "package", "--tags=lib,python-package,numpy").code == 0
    rows = json.loads(ckx("show", "env", "--tags=numpy", "--json").out)["list"]
    assert [row["package"] for row in rows] == ["lib-python-numpy"]

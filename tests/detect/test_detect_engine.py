"""The detection engine: search order, probing, timeouts, hooks and meta validation."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ckx.artifacts.detect import (
    DetectSpec,
    detect,
    find_executables,
    probe_version,
)
from ckx.core.errors import MetaError, UsageError
from ckx.engine.hooks import load_detector
from ckx.engine.hookspec import load_customize


def load_determine_version(path: Path):
    """The version hook of a customize.py, loaded and checked by the engine's hook spec."""
    cust = load_customize(path)
    return cust.hooks.get("detect_version") if cust else None


posix_only = pytest.mark.skipif(os.name != "posix", reason="fake executables are /bin/sh scripts")

TOOL = {
    "executables": [r"^tool(-\d+)?$"],
    "version_args": ["--version"],
    "version_regex": r"tool version (\d+(?:\.\d+)+)",
    "env_key": "CKX_TOOL_BIN_WITH_PATH",
}


def spec_of(block: dict | None = None, **kw) -> DetectSpec:
    return DetectSpec.from_meta(block or TOOL, "test-entry/meta.yaml", **kw)


def fake(directory: Path, name: str, body: str, mode: int = 0o755) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text("#!/bin/sh\n" + body + "\n", encoding="utf-8")
    path.chmod(mode)
    return path


def versions(found) -> list[tuple[str, str | None]]:
    return [(d.path.name, d.version) for d in found]


# ------------------------------------------------------------------ search


@posix_only
def test_path_is_searched_before_search_dirs(tmp_path: Path) -> None:
    on_path = fake(tmp_path / "a", "tool", "echo tool version 1.0")
    extra = fake(tmp_path / "b", "tool", "echo tool version 2.0")
    found = find_executables(spec_of(), search_dirs=[tmp_path / "b"], path_env=str(tmp_path / "a"))
    assert found == [on_path, extra]


@posix_only
def test_non_executable_file_is_skipped(tmp_path: Path) -> None:
    fake(tmp_path, "tool", "echo tool version 1.0", mode=0o644)
    good = fake(tmp_path, "tool-2", "echo tool version 2.0")
    assert find_executables(spec_of(), search_dirs=[tmp_path], path_env="") == [good]


@posix_only
def test_links_to_one_file_are_found_once(tmp_path: Path) -> None:
    real = fake(tmp_path / "opt", "tool-3", "echo tool version 3.0")
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").symlink_to(real)
    found = find_executables(
        spec_of(), search_dirs=[tmp_path / "bin", tmp_path / "opt"], path_env=""
    )
    assert found == [tmp_path / "bin" / "tool"]  # the first name found is kept


@posix_only
def test_names_must_match_a_regex(tmp_path: Path) -> None:
    fake(tmp_path, "tool-config", "echo tool version 9.9")
    fake(tmp_path, "mytool", "echo tool version 9.9")
    assert find_executables(spec_of(), search_dirs=[tmp_path], path_env="") == []


def test_missing_search_dirs_are_ignored(tmp_path: Path) -> None:
    assert find_executables(spec_of(), search_dirs=[tmp_path / "nope"], path_env="") == []


@posix_only
def test_full_path_checks_that_one_file(tmp_path: Path) -> None:
    chosen = fake(tmp_path / "x", "my-build-of-the-tool", "echo tool version 4.2")
    fake(tmp_path / "y", "tool", "echo tool version 1.0")
    spec = spec_of()
    assert find_executables(spec, full_path=chosen, search_dirs=[tmp_path / "y"]) == [chosen]
    found = detect(spec, full_path=chosen, warn=pytest.fail)
    assert versions(found) == [("my-build-of-the-tool", "4.2")]
    assert found[0].env == {"CKX_TOOL_BIN_WITH_PATH": str(chosen)}


@posix_only
def test_full_path_that_is_not_executable_warns(tmp_path: Path) -> None:
    chosen = fake(tmp_path, "tool", "echo tool version 4.2", mode=0o600)
    warnings: list[str] = []
    assert detect(spec_of(), full_path=chosen, warn=warnings.append) == []
    assert len(warnings) == 1 and "is not an executable file" in warnings[0]


# ------------------------------------------------------------------ probing


@posix_only
def test_hanging_tool_times_out_with_a_warning(tmp_path: Path) -> None:
    fake(tmp_path, "tool", "sleep 60")
    quick = fake(tmp_path, "tool-2", "echo tool version 2.0")
    warnings: list[str] = []
    found = detect(
        spec_of(), search_dirs=[tmp_path], path_env="", timeout=0.5, warn=warnings.append
    )
    assert versions(found) == [(quick.name, "2.0")]  # the hang does not stop the others
    assert len(warnings) == 1
    assert "did not finish within 0.5 s" in warnings[0] and "test-entry" in warnings[0]


@posix_only
def test_garbage_output_and_failing_tool_warn(tmp_path: Path) -> None:
    exe = fake(tmp_path, "tool", "echo 'usage: tool [options]' >&2; exit 2")
    warnings: list[str] = []
    assert probe_version(exe, spec_of(), warn=warnings.append) is None
    assert "no version found" in warnings[0] and "exit code 2" in warnings[0]


@posix_only
def test_unrunnable_file_warns(tmp_path: Path) -> None:
    exe = tmp_path / "tool"
    exe.write_text("#!/no/such/interpreter\n", encoding="utf-8")
    exe.chmod(0o755)
    warnings: list[str] = []
    assert probe_version(exe, spec_of(), warn=warnings.append) is None
    assert "cannot run" in warnings[0]


@posix_only
def test_version_is_searched_in_stderr_too(tmp_path: Path) -> None:
    exe = fake(tmp_path, "tool", "echo 'tool version 1.2.3' >&2")
    assert probe_version(exe, spec_of(), warn=pytest.fail) == "1.2.3"


@posix_only
def test_version_args_are_passed(tmp_path: Path) -> None:
    exe = fake(tmp_path, "tool", 'echo "tool version 1.$#.0 args=$*"')
    spec = spec_of({**TOOL, "version_args": ["-V", "--short"]})
    assert probe_version(exe, spec, warn=pytest.fail) == "1.2.0"


@posix_only
def test_without_a_version_rule_the_tool_is_not_run(tmp_path: Path) -> None:
    fake(tmp_path, "tool", "sleep 60")  # would time out if it were run
    block = {"executables": [r"^tool$"], "env_key": "CKX_TOOL"}
    found = detect(
        spec_of(block), search_dirs=[tmp_path], path_env="", timeout=0.5, warn=pytest.fail
    )
    assert versions(found) == [("tool", None)]


@posix_only
def test_env_prefix_adds_the_version(tmp_path: Path) -> None:
    fake(tmp_path, "tool", "echo tool version 5.1")
    found = detect(spec_of(env_prefix="CKX_TOOL"), search_dirs=[tmp_path], path_env="")
    assert found[0].env == {
        "CKX_TOOL_BIN_WITH_PATH": str(tmp_path / "tool"),
        "CKX_TOOL_VERSION": "5.1",
    }


# ------------------------------------------------------------------ meta validation


@pytest.mark.parametrize(
    ("block", "field", "problem"),
    [
        ({**TOOL, "executables": [r"^ok$", r"^tool(\d+$"]}, "detect.executables[1]", "regular"),
        ({**TOOL, "version_regex": r"version (\d+"}, "detect.version_regex", "regular"),
        ({**TOOL, "version_regex": r"version \d+"}, "detect.version_regex", "capturing group"),
        ({**TOOL, "version_args": "--version"}, "detect.version_args", "list of strings"),
        ({**TOOL, "env_key": "NOT A NAME"}, "detect.env_key", "not a valid name"),
        ({**TOOL, "import_name": "cv2;rm"}, "detect.import_name", "not a valid name"),
        ({**TOOL, "executable": ["^x$"]}, "detect.executable", "not a known field"),
        ({**TOOL, "python_package": "numpy"}, "detect", "exactly one of"),
        ({"version_args": []}, "detect", "exactly one of"),
        ({**TOOL, "executables": []}, "detect", "exactly one of"),
        ({**TOOL, "executables": [3]}, "detect.executables", "string"),
    ],
)
def test_bad_detect_block_names_file_and_field(block: dict, field: str, problem: str) -> None:
    with pytest.raises(MetaError) as err:
        spec_of(block)
    assert err.value.message.startswith(f"test-entry/meta.yaml: field '{field}' ")
    assert problem in err.value.message


def test_unknown_field_suggests_the_right_one() -> None:
    with pytest.raises(MetaError) as err:
        spec_of({**TOOL, "executable": ["^x$"]})
    assert err.value.hint == "did you mean 'executables'?"


def test_detect_block_must_be_a_mapping() -> None:
    with pytest.raises(MetaError, match="field 'detect' must be a mapping"):
        DetectSpec.from_meta(["^tool$"], "e/meta.yaml")


def test_bad_regex_in_an_entry_names_its_meta_file(tmp_path: Path) -> None:
    entry = tmp_path / "tool.broken"
    entry.mkdir()
    (entry / "meta.yaml").write_text(
        "alias: tool.broken\ndetect:\n  executables: ['^tool[$']\n", encoding="utf-8"
    )
    with pytest.raises(MetaError) as err:
        load_detector(entry)
    assert str(entry / "meta.yaml") in err.value.message
    assert "'detect.executables[0]'" in err.value.message


def test_entry_without_detect_block(tmp_path: Path) -> None:
    (tmp_path / "meta.json").write_text('{"alias": "x"}', encoding="utf-8")
    with pytest.raises(MetaError, match=r"meta.json: field 'detect' is missing"):
        load_detector(tmp_path)


# ------------------------------------------------------------------ determine_version hook


def write_hook(directory: Path, source: str) -> Path:
    path = directory / "customize.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "signature",
    [
        "def determine_version():",
        "def determine_version(exe, output):",
        "def determine_version(*, i):",
        "def determine_version(*args):",
    ],
)
def test_hook_with_wrong_arguments_is_rejected_at_load(tmp_path: Path, signature: str) -> None:
    path = write_hook(tmp_path, f"{signature}\n    return '1.0'\n")
    with pytest.raises(MetaError) as err:
        load_determine_version(path)
    assert err.value.message.startswith(f"{path}: hook 'determine_version' must take exactly")
    assert "def determine_version(i)" in (err.value.hint or "")


def test_hook_that_is_not_a_function(tmp_path: Path) -> None:
    path = write_hook(tmp_path, "determine_version = '1.0'\n")
    with pytest.raises(MetaError, match="must be a function"):
        load_determine_version(path)


def test_hook_file_that_fails_to_import_names_the_file(tmp_path: Path) -> None:
    path = write_hook(tmp_path, "import no_such_module_ckx\n")
    with pytest.raises(MetaError) as err:
        load_determine_version(path)
    assert err.value.message.startswith(f"{path}: failed to import: ModuleNotFoundError")


def test_customize_without_the_hook_gives_none(tmp_path: Path) -> None:
    path = write_hook(tmp_path, "def preprocess(i):\n    return {}\n")
    assert load_determine_version(path) is None


def test_hook_loading_leaves_sys_path_alone(tmp_path: Path) -> None:
    before = list(sys.path)
    write_hook(tmp_path, "def determine_version(i):\n    return '1.0'\n")
    load_determine_version(tmp_path / "customize.py")
    assert sys.path == before


def _entry_with_hook(tmp_path: Path, hook_body: str) -> Path:
    entry = tmp_path / "entry"
    entry.mkdir()
    (entry / "meta.yaml").write_text(
        "alias: tool.x\nenv_prefix: CKX_TOOL\ndetect:\n  executables: ['^tool$']\n"
        "  env_key: CKX_TOOL_BIN_WITH_PATH\n",
        encoding="utf-8",
    )
    write_hook(entry, hook_body)
    return entry


@posix_only
def test_hook_gets_exe_output_and_a_run_helper(tmp_path: Path) -> None:
    entry = _entry_with_hook(
        tmp_path,
        """
        def determine_version(i):
            assert i["output"].startswith("Tool, release")
            return i["run"](["--numeric"]).strip() + "-" + i["exe"].name
        """,
    )
    bindir = tmp_path / "bin"
    fake(
        bindir,
        "tool",
        'if [ "$1" = --numeric ]; then echo 7.1; else echo "Tool, release seven"; fi',
    )
    found = detect(load_detector(entry), search_dirs=[bindir], path_env="", warn=pytest.fail)
    assert versions(found) == [("tool", "7.1-tool")]
    assert found[0].env["CKX_TOOL_VERSION"] == "7.1-tool"


@posix_only
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("def determine_version(i):\n    raise ValueError('boom')\n", "failed for"),
        ("def determine_version(i):\n    return 3.1\n", "must return a str or None"),
        ("def determine_version(i):\n    return None\n", "found no version"),
        ("def determine_version(i):\n    return i['run'](['x'])\n", "did not finish"),
    ],
)
def test_hook_failures_are_warnings(tmp_path: Path, body: str, message: str) -> None:
    entry = _entry_with_hook(tmp_path, body)
    bindir = tmp_path / "bin"
    fake(bindir, "tool", '[ "$1" = x ] && sleep 60; echo hi')
    warnings: list[str] = []
    spec = load_detector(entry)
    assert detect(spec, search_dirs=[bindir], path_env="", timeout=0.5, warn=warnings.append) == []
    assert len(warnings) == 1 and message in warnings[0]
    assert str(entry / "customize.py") in warnings[0]


# ------------------------------------------------------------------ python packages

NUMPY = {"python_package": "numpy", "import_name": "numpy", "env_key": "CKX_NUMPY_PATH"}


def test_real_python_package_in_this_environment() -> None:
    import numpy

    found = detect(spec_of(NUMPY), warn=pytest.fail)
    assert [(d.details["dist"], d.version) for d in found] == [("numpy", numpy.__version__)]
    assert found[0].path == Path(numpy.__file__).parent
    assert found[0].details["python"] == sys.executable


def test_absent_python_package_is_not_an_error() -> None:
    block = {"python_package": ["ckx-no-such-dist-a", "ckx-no-such-dist-b"]}
    assert detect(spec_of(block), warn=pytest.fail) == []


def test_missing_interpreter_warns(tmp_path: Path) -> None:
    warnings: list[str] = []
    assert detect(spec_of(NUMPY), python=tmp_path / "python9", warn=warnings.append) == []
    assert "cannot run" in warnings[0]


def test_python_package_without_import_check_uses_the_dist_location(tmp_path: Path) -> None:
    info = tmp_path / "fakepkg-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakepkg\nVersion: 0.3\n")
    found = detect(spec_of({"python_package": "fakepkg"}), search_dirs=[tmp_path], warn=pytest.fail)
    assert [(d.version, d.path) for d in found] == [("0.3", tmp_path)]


def test_two_spellings_of_one_distribution_find_it_once(tmp_path: Path) -> None:
    """``[Cython, cython]`` (what pip accepts either way) names one installation, not two."""
    info = tmp_path / "Cython-3.0.11.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Cython\nVersion: 3.0.11\n")
    block = {"python_package": ["Cython", "cython"]}
    found = detect(spec_of(block), search_dirs=[tmp_path], warn=pytest.fail)
    assert [(d.details["dist"], d.version) for d in found] == [("Cython", "3.0.11")]


def test_full_path_is_refused_for_python_packages(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="full_path does not apply"):
        detect(spec_of(NUMPY), full_path=tmp_path)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a killed orphan may linger as a zombie


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_timeout_also_kills_what_the_tool_spawned(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    exe = fake(tmp_path, "tool", f"sleep 60 & echo $! > {pidfile}; wait")
    warnings: list[str] = []
    assert probe_version(exe, spec_of(), timeout=0.5, warn=warnings.append) is None
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 10  # SIGKILL is sent; a loaded machine takes a moment to reap
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(pid)


# ------------------------------------------------------------------ pyenv shims


def _fake_pyenv(root: Path, active: dict[str, Path]) -> Path:
    """A pyenv root whose ``pyenv which NAME`` knows only the commands of ``active`` (like a
    real pyenv with one version selected) and whose shims are written the way pyenv writes
    them; returns the shims folder."""
    libexec = root / "libexec"
    cases = "".join(f'  {name}) echo "{path}" ;;\n' for name, path in active.items())
    fake(
        libexec,
        "pyenv",
        'which_() {\n case "$1" in\n' + cases + "  *) return 127 ;;\n esac\n}\n"
        'case "$1" in\n'
        ' which) p=$(which_ "$2") || { echo "pyenv: $2: command not found" >&2; exit 127; }\n'
        '  echo "$p" ;;\n'
        ' exec) shift; p=$(which_ "$1") || { echo "pyenv: $1: command not found" >&2; exit 127; }\n'
        '  shift; exec "$p" "$@" ;;\n'
        "esac",
    )
    shims = root / "shims"
    shims.mkdir(parents=True)
    for name in ("python", "python3", "python3.10", "python3.11", "python3.13"):
        shim = shims / name
        shim.write_text(
            '#!/usr/bin/env bash\nset -e\nprogram="${0##*/}"\n'
            f'export PYENV_ROOT="{root}"\n'
            f'exec "{libexec / "pyenv"}" exec "$program" "$@"\n',
            encoding="utf-8",
        )
        shim.chmod(0o755)
    return shims


@posix_only
def test_pyenv_shims_are_the_interpreters_they_run_and_inactive_ones_are_quiet(
    tmp_path: Path,
) -> None:
    """A pyenv shim is not an installation: it stands for the interpreter pyenv selects now
    (found once, under its real path); a shim for a version pyenv does not select now
    (`pyenv: python3.10: command not found`) is skipped without a warning."""
    real = fake(tmp_path / "versions" / "3.11.7" / "bin", "python3.11", "echo 'Python 3.11.7'")
    (real.parent / "python3").symlink_to("python3.11")
    (real.parent / "python").symlink_to("python3.11")
    shims = _fake_pyenv(
        tmp_path / "pyenv",
        {n: real.parent / n for n in ("python", "python3", "python3.11")},
    )
    spec = spec_of(
        {
            "executables": [r"^python3(\.\d+)?$", "^python$"],
            "version_regex": r"Python\s+(\d+\.\d+\S*)",
            "env_key": "CKX_PYTHON_BIN_WITH_PATH",
        }
    )
    warnings: list[str] = []
    found = detect(spec, path_env=str(shims), warn=warnings.append)
    assert [(d.path, d.version) for d in found] == [(real.parent / "python", "3.11.7")]
    assert warnings == []
    # --full_path at a shim: the interpreter it runs, or a warning that it runs none now
    found = detect(spec, full_path=shims / "python3", path_env="", warn=warnings.append)
    assert [d.path for d in found] == [real.parent / "python3"] and warnings == []
    assert detect(spec, full_path=shims / "python3.13", path_env="", warn=warnings.append) == []
    assert len(warnings) == 1 and "pyenv" in warnings[0] and "python3.13" in warnings[0]

"""The CLI translation, help, errors and exit codes, and start-up hygiene."""

import subprocess
import sys

import pytest

from ckx.app.cli import parse_argv
from ckx.core.errors import UsageError
from tests.conftest import ROOT


def test_argv_to_request():
    req = parse_argv(
        [
            "run",
            "program:od-bench",
            "--cmd_key=accuracy-offline",
            "--env.EXTRA_OPS=--time 60",
            "--env.A.B=1",
            "--quiet",
            "--skip-cache",
            "x",
            "--",
            "raw",
            "--args",
        ]
    )
    assert req == {
        "action": "run",
        "cid": "program:od-bench",
        "cmd_key": "accuracy-offline",
        "env": {"EXTRA_OPS": "--time 60", "A": {"B": "1"}},
        "quiet": True,
        "skip_cache": True,
        "args": ["x"],
        "unparsed": ["raw", "--args"],
    }


def test_single_word_after_run_is_a_tag_unless_it_names_an_automation(cli):
    r = cli("run", "no-such-script-tag", "--quiet")
    assert r.code == 5, r  # resolved as tags of a script (none match), not 'unknown automation'
    assert "unknown automation" not in r.err


def test_mlcflow_shorthand_is_a_query():
    assert parse_argv(["run", "get,python3"]) == {"action": "run", "query": "get,python3"}
    assert parse_argv(["run", "script", "--tags=get,python3"])["tags"] == "get,python3"


def test_bad_options():
    with pytest.raises(UsageError):
        parse_argv(["--=x"])


def test_version_help_and_json(cli):
    assert cli("--version").out.startswith("ckx ")
    h = cli("help")
    assert h.code == 0 and "repo" in h.out and "generic actions" in h.out
    assert "pull" in cli("help", "repo").out
    assert "repo" in cli("pull", "--help").out
    assert cli("ls", "repo", "--json").json()["return"] == 0


def test_errors_are_one_line_plus_hint_and_traceback_only_with_debug(cli):
    r = cli("load", "automation:nope")
    assert r.code == 3
    assert r.err.startswith("ckx error: no automation entry named 'nope'")
    assert "Traceback" not in r.err
    d = cli("load", "automation:nope", "--debug")
    assert "Traceback" in d.err


def test_python_api_is_dict_in_dict_out(ckx_home):
    import ckx

    out = ckx.access({"action": "search", "automation": "automation", "tags": "repo"})
    assert out["return"] == 0 and [e["alias"] for e in out["list"]] == ["repo"]
    err = ckx.access({"action": "load", "automation": "automation", "entry": "nope"})
    assert err["return"] == 3 and "nope" in err["error"]
    ck = ckx.access({"action": "load", "module_uoa": "automation", "data_uoa": "repo"})
    assert ck["return"] == 0 and ck["meta"]["alias"] == "repo"


HEAVY = [
    "numpy",
    "onnxruntime",
    "torch",
    "cv2",
    "matplotlib",
    "ray",
    "yaml",
    "jsonschema",
    "requests",
    "filelock",
    "starlette",  # ckx serve's stack: imported only when the server starts
    "uvicorn",
    "anyio",
]


@pytest.mark.parametrize(
    "code",
    [
        "import ckx",
        "import ckx.app.cli, sys; sys.argv=['ckx','--help']; ckx.app.cli.main(['--help'])",
        "import ckx.app.cli; ckx.app.cli.main(['search','automation','--tags=repo'])",
        "import ckx.client; ckx.client.Client('http://127.0.0.1:1')",
        "import ckx.app.cli; ckx.app.cli.main(['serve', '--help'])",
    ],
)
def test_no_heavy_imports_at_start(code, ckx_home, tmp_path):
    probe = (
        code + f"\nimport sys\nprint('HEAVY:' + ','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    # warm the index first so the measured command takes the fast path
    subprocess.run(
        [sys.executable, "-m", "ckx", "search", "automation"], cwd=ROOT, capture_output=True
    )
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == "HEAVY:", f"heavy modules imported: {p.stdout}"
    assert list(tmp_path.iterdir()) == [], "nothing may be written to the current folder"


@pytest.mark.parametrize(
    "code",
    [
        "import ckx.experiments.sweep, ckx.experiments.executors, ckx.experiments.ray_executor,"
        " ckx.experiments.sweepview, ckx.experiments.worker",
        "import ckx.app.cli; ckx.app.cli.main(['benchmark', '--help'])",
        "import ckx.app.cli; ckx.app.cli.main(['benchmark', 'program:od-bench',"
        " '--cmd_key=performance-offline', '--sweep.threads=1,2', '--plan', '--quiet'])",
    ],
)
def test_ray_is_imported_only_by_a_sweep_that_runs_on_ray(code, ckx_home, tmp_path):
    probe = code + "\nimport sys\nprint('RAY:' + str('ray' in sys.modules))"
    p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip().splitlines()[-1] == "RAY:False", p.stdout

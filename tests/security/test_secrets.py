"""Finding 8: env values that look like secrets never reach a record, a dashboard or a zip."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from .conftest import access

SECRET = "s3cr3t-value-123"


def _everything_under(root: Path) -> str:
    return "\n".join(
        p.read_text(errors="replace")
        for p in root.rglob("*")
        if p.is_file() and p.stat().st_size < 10**7
    )


def test_secret_env_is_redacted_in_records_dashboards_and_zips(tmp_path, ckx_home, synth, cli):
    r = cli(
        "benchmark", "program:synth", "--cmd_key=fast", "--record", "--record_uoa=s",
        "--repetitions=1", f"--env.API_TOKEN={SECRET}", f"--env.DB_PASSWORD={SECRET}",
        f"--env.aws_secret_access={SECRET}", f"--env.SIGNING_KEY={SECRET}", "--env.PLAIN=visible",
    )  # fmt: skip
    assert r.code == 0, r
    told = r.err
    for name in ("API_TOKEN", "DB_PASSWORD", "aws_secret_access", "SIGNING_KEY"):
        assert name in told  # the user is told what was not recorded
    exp = ckx_home / "repos" / "local" / "experiment" / "s"
    recorded = _everything_under(exp)
    assert SECRET not in recorded and "<redacted>" in recorded and "visible" in recorded
    dash = tmp_path / "dash"
    assert cli("dashboard", f"--out={dash}").code == 0
    assert SECRET not in _everything_under(dash)
    z = tmp_path / "s.zip"
    assert cli("zip", "experiment:s", f"--out={z}").code == 0
    with zipfile.ZipFile(z) as zf:
        assert all(SECRET.encode() not in zf.read(n) for n in zf.namelist())


def test_a_record_made_before_redaction_is_redacted_when_shared(tmp_path, ckx_home, synth, cli):
    assert cli("benchmark", "program:synth", "--cmd_key=fast", "--record",
               "--record_uoa=old", "--repetitions=1").code == 0  # fmt: skip
    point = next((ckx_home / "repos/local/experiment/old/points").glob("*/point.json"))
    data = json.loads(point.read_text())  # as ckx before redaction wrote it
    data["inputs"]["env"]["GH_TOKEN"] = SECRET
    point.write_text(json.dumps(data))
    assert SECRET in point.read_text()
    dash = tmp_path / "dash"
    r = cli("dashboard", f"--out={dash}")
    assert r.code == 0 and "GH_TOKEN" in r.err
    assert SECRET not in _everything_under(dash)
    z = tmp_path / "old.zip"
    r = cli("zip", "experiment:old", f"--out={z}")
    assert r.code == 0 and "GH_TOKEN" in r.err
    with zipfile.ZipFile(z) as zf:
        assert all(SECRET.encode() not in zf.read(n) for n in zf.namelist())


def test_more_patterns_and_replaying_a_redacted_point(synth, ckx_home, cli, monkeypatch):
    env = {"CKX_SECRET_ENV": "MY_*"}
    r = cli(
        "benchmark", "program:synth", "--cmd_key=fast", "--record", "--record_uoa=m",
        "--repetitions=1", f"--env.MY_LICENSE={SECRET}", env=env,
    )  # fmt: skip
    assert r.code == 0 and "MY_LICENSE" in r.err
    assert SECRET not in _everything_under(ckx_home / "repos/local/experiment/m")
    missing = cli("replay", "experiment:m")
    assert missing.code == 2 and "--env.MY_LICENSE=" in missing.err
    assert cli("replay", "experiment:m", f"--env.MY_LICENSE={SECRET}").code == 0


def test_ckx_own_variables_are_not_secrets():
    from ckx.experiments.records import is_secret_key, redact

    assert not is_secret_key("CKX_CMD_KEY") and is_secret_key("OPENAI_API_KEY")
    data, names = redact({"inputs": {"env": {"HF_TOKEN": "x", "N": "1"}, "cmd_key": "k"}})
    assert data == {"inputs": {"env": {"HF_TOKEN": "<redacted>", "N": "1"}, "cmd_key": "k"}}
    assert names == ["HF_TOKEN"] and access is not None


def test_a_secret_given_as_a_program_input_is_redacted_and_asked_for_on_replay(
    synth, ckx_home, cli
):
    """MLCFlow-style scripts take tokens as inputs (``--hf_token=``): recorded as redacted, and
    a replay asks for them again by the same option."""
    meta = synth / "program" / "synth" / "meta.yaml"
    meta.write_text(
        meta.read_text().replace(
            "  value: SYNTH_VALUE\n", "  value: SYNTH_VALUE\n  hf_token: SYNTH_T\n"
        )
    )
    r = cli(
        "benchmark", "program:synth", "--cmd_key=fast", "--record", "--record_uoa=tok",
        "--repetitions=1", f"--hf_token={SECRET}", "--value=7",
    )  # fmt: skip
    assert r.code == 0 and "hf_token" in r.err, r
    recorded = _everything_under(ckx_home / "repos/local/experiment/tok")
    assert SECRET not in recorded and '"value": "7"' in recorded
    missing = cli("replay", "experiment:tok")
    assert missing.code == 2 and "--hf_token=..." in missing.err, missing
    again = cli("replay", "experiment:tok", f"--hf_token={SECRET}")
    assert again.code == 0, again
    assert cli("show", "experiment:tok", "--json").json()["return"] == 0


def test_a_sweep_redacts_like_a_benchmark_and_says_which_keys(synth, ckx_home, cli):
    r = cli(
        "benchmark", "program:synth", "--cmd_key=fast", "--sweep.value=1,2", "--record",
        "--record_uoa=swept", f"--env.API_TOKEN={SECRET}", "--json",
    )  # fmt: skip
    assert r.code == 0, r
    assert r.json()["redacted"] == ["API_TOKEN"] and "API_TOKEN" in r.err
    assert SECRET not in _everything_under(ckx_home / "repos/local/experiment/swept")

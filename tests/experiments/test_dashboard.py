"""ckx dashboard: the static HTML report, looked at in headless Chromium as a person would."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from .conftest import bench

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)"
)


def _chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        url,
    ]
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


def _console_errors(stderr: str) -> list[str]:
    """Console messages and failed loads Chromium logged for the page (not its own dbus noise)."""
    return [
        line
        for line in stderr.splitlines()
        if "CONSOLE" in line or "Failed to load resource" in line or "net::ERR_" in line
    ]


def _loaded(dom: str) -> tuple[int, int]:
    m = re.search(r'data-images-ok="(\d+)" data-images="(\d+)"', dom)
    assert m, "the page's image check did not run"
    return int(m.group(1)), int(m.group(2))


def _non_blank(png: Path) -> int:
    """How many distinct colours the screenshot has (a blank page has one)."""
    from PIL import Image

    with Image.open(png) as im:
        colors = im.convert("RGB").getcolors(maxcolors=1 << 20)
    return len(colors) if colors is not None else 1 << 20


@pytest.fixture
def dashboard(synth, cli, tmp_path) -> Path:
    bench("dash-a", value="20", print_files="out.txt")
    bench("dash-a", cmd_key="slow", value="20")
    bench("dash-b", value="50", reps=3)
    out = tmp_path / "dash"
    r = cli("dashboard", "experiment", f"--out={out}")
    assert r.code == 0, r
    assert f"file://{out}/index.html" in r.out
    return out


def test_dashboard_folder_is_self_contained(dashboard):
    html = (dashboard / "index.html").read_text()
    for text in ("dash-a", "dash-b", "Latency percentiles", "score", "Recorded files"):
        assert text in html
    assert "Throughput" not in html  # synth reports no samples_per_second: no empty chart
    imgs = re.findall(r'<img src="([^"]+)"', html)
    assert imgs and all((dashboard / src).is_file() for src in imgs)
    links = re.findall(r'<a href="(files/[^"]+)"', html)
    assert links and all((dashboard / href).is_file() for href in links)
    assert (dashboard / links[0]).read_text().startswith("run of ")


def test_dashboard_refuses_to_overwrite_a_foreign_folder(synth, cli, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    r = cli("dashboard", "experiment", f"--out={foreign}")
    assert r.code == 12 and (foreign / "notes.txt").read_text() == "keep me"


@needs_chromium
def test_dashboard_in_headless_chromium(dashboard, tmp_path):
    url = (dashboard / "index.html").as_uri()
    r = _chromium(url, tmp_path / "profile", "--dump-dom")
    assert r.returncode == 0, r.stderr[-2000:]
    dom = r.stdout
    assert "<h1>ckx experiments</h1>" in dom and "dash-a" in dom and "dash-b" in dom
    assert "score" in dom and "inputs.value" in dom
    ok, total = _loaded(dom)
    assert total >= 3 and ok == total, dom[:500]
    assert _console_errors(r.stderr) == []
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard.png"
    s = _chromium(
        url,
        tmp_path / "profile2",
        f"--screenshot={shot}",
        "--window-size=1280,2400",
        "--hide-scrollbars",
    )
    assert s.returncode == 0 and shot.is_file(), s.stderr[-2000:]
    assert _non_blank(shot) > 50


@needs_chromium
def test_the_checks_catch_a_broken_page(tmp_path):
    """The same checks fail on a page with a missing image and a script error."""
    page = tmp_path / "broken.html"
    page.write_text(
        '<html><body><p id="ckx-status"></p><img src="missing.png">'
        "<script>window.addEventListener('load', function () {"
        "var i = document.images[0]; var s = document.getElementById('ckx-status');"
        "s.setAttribute('data-images-ok', (i.complete && i.naturalWidth > 0) ? 1 : 0);"
        "s.setAttribute('data-images', 1); });"
        "undefinedFunction();</script></body></html>"
    )
    r = _chromium(page.as_uri(), tmp_path / "profile", "--dump-dom")
    assert _loaded(r.stdout) == (0, 1)
    assert any("undefinedFunction" in line for line in _console_errors(r.stderr))


def test_serve_binds_localhost(dashboard, ckx_home):
    env = {**os.environ, "CKX_HOME": str(ckx_home)}
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ckx",
            "dashboard",
            "experiment",
            f"--out={dashboard}",
            "--serve",
            "--port=0",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    try:
        url = None
        for line in p.stderr:
            m = re.search(r"at (http://\S+)", line)
            if m:
                url = m.group(1)
                break
        assert url and url.startswith("http://127.0.0.1:"), url
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = resp.read().decode()
        assert "dash-a" in body and resp.status == 200
    finally:
        p.terminate()
        p.wait(timeout=10)
        p.stdout.close()
        p.stderr.close()

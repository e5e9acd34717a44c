"""``ckx serve`` as a real process on a free loopback port, with its own CKX_HOME.

``start_server(home, *args)`` starts ``python -m ckx serve --port=0 ...`` and returns a
:class:`Server` once it prints the line with its URL; ``stop()`` interrupts it as Ctrl-C
would. The ``served`` fixture is one server per test module (the tests of a module share
its home: ``CKX_HOME`` is pointed at it, so ``ckx.access`` in the test sees the same state).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ckx.client import Client

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "t0ken-for-the-tests-0123456789"


class Server:
    def __init__(self, proc: subprocess.Popen, url: str, home: Path, lines: list[str]):
        self.proc, self.url, self.home, self.lines = proc, url, home, lines

    def client(self, token: str | None = None) -> Client:
        return Client(self.url, token)

    @property
    def stderr(self) -> str:
        return "".join(self.lines)

    def stop(self, sig: int = signal.SIGINT, timeout: float = 60) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()


def start_server(home: Path, *args: str, timeout: float = 90) -> Server:
    env = {**os.environ, "CKX_HOME": str(home)}
    env.pop("CKX_SERVE_TOKEN", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ckx", "serve", "--port=0", "--workers=2", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=home,
    )
    lines: list[str] = []
    found = threading.Event()
    url: list[str] = []

    def drain() -> None:  # keeps reading, so the server never blocks on a full pipe
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line)
            m = re.search(r"listening on (http://\S+)", line)
            if m and not url:
                url.append(m.group(1))
                found.set()
        found.set()

    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + timeout
    while not found.wait(0.1) and time.monotonic() < deadline:
        pass
    if not url:
        proc.kill()
        proc.wait()
        raise AssertionError("ckx serve did not start:\n" + "".join(lines))
    return Server(proc, url[0], home, lines)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One server without a token for the tests of a module."""
    home = tmp_path_factory.mktemp("served-home")
    s = start_server(home)
    yield s
    s.stop()


@pytest.fixture
def same_home(served, monkeypatch):
    """Point this test's CKX_HOME at the module server's home."""
    monkeypatch.setenv("CKX_HOME", str(served.home))
    return served.home

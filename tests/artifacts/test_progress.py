"""The progress bar draws only on a terminal, and says bytes, rate and ETA."""

from __future__ import annotations

import io

from ckx.core.progress import Progress, human_bytes, human_duration, render_line


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_line_shows_done_total_percent_rate_and_eta() -> None:
    line = render_line("coco.zip", 512 * 1024, 2048 * 1024, rate=512 * 1024, width=200)
    assert line == "coco.zip  512.0 KiB / 2.0 MiB  25.0%  512.0 KiB/s  ETA 0:03"


def test_unknown_total_shows_bytes_only_and_long_lines_are_cut() -> None:
    assert render_line("x", 1000, None, rate=0.0) == "x  1000 B"
    assert len(render_line("y" * 300, 1, 2, rate=1.0, width=40)) == 40


def test_units() -> None:
    assert human_bytes(1536) == "1.5 KiB" and human_bytes(3 * 1024**3) == "3.0 GiB"
    assert human_duration(75) == "1:15" and human_duration(3700) == "1:01:40"


def test_silent_when_not_a_terminal_or_quiet() -> None:
    for stream, quiet in ((io.StringIO(), False), (FakeTTY(), True)):
        bar = Progress(stream=stream, quiet=quiet)
        bar.start("f", 10)
        bar.update(5)
        bar.finish()
        assert stream.getvalue() == ""


def test_draws_on_a_terminal_with_throttling_and_a_final_newline() -> None:
    stream, clock = FakeTTY(), Clock()
    bar = Progress(stream=stream, clock=clock, min_interval=1.0)
    bar.start("f.bin", 1000)
    clock.now += 0.5
    bar.update(100)  # too soon after the first draw: not drawn
    assert stream.getvalue().count("\r") == 1
    clock.now += 1.5
    bar.update(400)
    assert stream.getvalue().count("\r") == 2 and "40.0%" in stream.getvalue()
    assert "200 B/s" in stream.getvalue()  # 400 bytes in 2 s
    bar.finish()
    assert stream.getvalue().endswith("\n")


def test_resumed_bytes_do_not_inflate_the_rate() -> None:
    clock = Clock()
    bar = Progress(stream=FakeTTY(), clock=clock)
    bar.start("f", 1000, done=900)
    clock.now += 1.0
    bar.update(950)
    assert bar.rate() == 50.0


def test_finish_without_start_draws_nothing() -> None:
    stream = FakeTTY()
    Progress(stream=stream).finish()
    assert stream.getvalue() == ""

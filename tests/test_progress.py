"""Progress a person can follow: a bar on a terminal, plain lines with rate and ETA in logs."""
import io
import re

from tqdm import tqdm

from inpaint_bench.harness.progress import PlainProgress, duration, progress


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_lines_at_every_tenth_with_rate_and_time_left():
    out = io.StringIO()
    bar = progress(20, initial=4, desc="toy/pconv/student", unit="step", stream=out)
    assert isinstance(bar, PlainProgress)
    for step in range(16):
        bar.set_postfix(loss=f"{step:.4f}")
        bar.update(1)
    lines = out.getvalue().splitlines()
    assert len(lines) == 8  # 20%, 30%, ..., 100%: one line per tenth reached, none for the resumed 4 steps
    assert re.fullmatch(r"toy/pconv/student: 6/20 steps \(30%\), [\d.]+ steps/s, ETA \d+m\d\ds, loss=1\.0000",
                        lines[0]), lines[0]
    assert lines[-1].startswith("toy/pconv/student: 20/20 steps (100%)") and "ETA 0m00s" in lines[-1]


def test_a_silent_stretch_still_writes_a_line_after_the_interval(monkeypatch):
    clock = iter([0.0, 0.0, 61.0])
    monkeypatch.setattr("inpaint_bench.harness.progress.time.perf_counter", lambda: next(clock))
    out = io.StringIO()
    bar = PlainProgress(1000, desc="eval", unit="img", stream=out, interval=60.0)
    bar.update(1)  # t = 0: no tenth reached, the interval not over
    assert out.getvalue() == ""
    bar.update(1)  # t = 61 s: the interval is over
    assert out.getvalue() == "eval: 2/1000 imgs (0%), 0.03 imgs/s, ETA 8h27m\n"


def test_a_terminal_gets_a_tqdm_bar():
    assert isinstance(progress(10, stream=Terminal()), tqdm)
    assert duration(3725) == "1h02m" and duration(75) == "1m15s"

"""What every command shares: its expected faults end it with one line, and the type of a `--seed`."""
from __future__ import annotations

import argparse
import contextlib
import os


@contextlib.contextmanager
def expected_faults(*kinds: type[BaseException]):
    """An expected fault (a bad file or setting, whose message names the culprit) ends the command with
    `error: <message>` on stderr and exit status 1, no traceback; HARNESS_DEBUG=1 shows the traceback."""
    try:
        yield
    except kinds as err:
        if os.environ.get("HARNESS_DEBUG") == "1":
            raise
        raise SystemExit(f"error: {err}") from None


def seed_argument(text: str) -> int:
    """argparse type of a `--seed`: an integer >= 0, as the config's seeds (argparse names the option)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0 or str(text).strip().lstrip("+") != str(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a seed: seeds are integers >= 0, as in the config's seeds")
    return value

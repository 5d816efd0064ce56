"""What every command shares: its expected faults end it with one line, and the type of a `--seed`."""
from __future__ import annotations

import argparse
import contextlib
import os

from inpaint_bench.harness.extensions import load_extensions


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


def add_extensions_argument(parser: argparse.ArgumentParser) -> None:
    """`--extensions FILE ...`: a command run by hand on result files imports the modules a config's
    `extensions:` names (their metrics' labels and directions, their dataset kinds) as the workflow does."""
    parser.add_argument("--extensions", nargs="+", metavar="FILE", default=[],
                        help="Python files that register metrics, dataset kinds or backbones (a config's "
                             "extensions:), imported first")


def import_extensions(args: argparse.Namespace) -> None:
    """Imports `--extensions` (ValueError naming the file and the option for a missing or failing one)."""
    load_extensions(args.extensions, "--extensions")

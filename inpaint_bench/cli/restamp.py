"""`inpaint-bench restamp`: accepts the existing results under edited code that changes no number
(jobs.restamp)."""
from __future__ import annotations

import argparse
import sys

from inpaint_bench.cli.common import expected_faults
from inpaint_bench.harness.config import ConfigError
from inpaint_bench.jobs import restamp


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=restamp.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="the config the results were computed for")
    p.add_argument("-n", "--dry-run", action="store_true", help="name what would be re-stamped, write nothing")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    with expected_faults(ConfigError, ValueError, OSError, RuntimeError):
        return restamp.run(args.config, args.dry_run)


if __name__ == "__main__":
    sys.exit(main())

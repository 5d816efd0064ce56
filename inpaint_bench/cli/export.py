"""`inpaint-bench export`: writes the exact test pairs of an evaluation for another method
(evaluation.export)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from inpaint_bench.cli.common import expected_faults, seed_argument
from inpaint_bench.evaluation import export
from inpaint_bench.harness.config import ConfigError
from inpaint_bench.jobs.validate import load_config


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=export.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--seed", type=seed_argument, default=0)
    p.add_argument("--out", required=True)
    p.add_argument("--masks", help="test mask folder (default: <results_dir>/masks/<size>px_seed<masks.seed>)")
    p.add_argument("--force", action="store_true", help="replace --out even if it holds files of its own")
    args = p.parse_args(argv)
    with expected_faults(ConfigError, OSError, ValueError):
        manifest = export.export(load_config(args.config), args.dataset, args.seed, Path(args.out), args.masks,
                                 args.force)
    print(f"wrote {manifest.parent.parent}")


if __name__ == "__main__":
    sys.exit(main())

"""`inpaint-bench evaluate`: scores a trained variant of a config on the fixed test masks
(evaluation.evaluate)."""
from __future__ import annotations

import argparse
import sys

import torch

from inpaint_bench.cli.common import expected_faults, seed_argument
from inpaint_bench.evaluation import evaluate
from inpaint_bench.harness.config import ConfigError, layout
from inpaint_bench.harness.fileio import check_output_folder
from inpaint_bench.harness.names import PROTOCOLS, RENAMED_PROTOCOLS, renamed_protocol_message
from inpaint_bench.jobs.resolve import eval_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.metrics.protocols import check_protocol
from inpaint_bench.models.registry import is_trainable


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=evaluate.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--variant", required=True)
    p.add_argument("--seed", type=seed_argument, required=True)
    p.add_argument("--out", help="output folder (default: the run's eval/ folder under results_dir)")
    p.add_argument("--model", help="model.pt of a trained variant (default: the run's model.pt)")
    p.add_argument("--masks", help="test mask folder (default: <results_dir>/masks/<size>px_seed<masks.seed>)")
    p.add_argument("--threads", type=int, help="torch threads (default: the config's threads_per_job)")
    p.add_argument("--protocol", choices=[*PROTOCOLS, *RENAMED_PROTOCOLS],
                   help="scoring protocol (default: the config's eval.protocol); with --out, a trained model "
                        "is scored under another protocol without retraining")
    p.add_argument("--device")
    p.add_argument("--force", action="store_true", help="write into --out even if it holds files evaluation "
                                                        "does not write")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    with expected_faults(ConfigError, ValueError, OSError):
        config = load_config(args.config)
        torch.set_num_threads(args.threads or config["threads_per_job"])
        results = layout(config)
        if args.protocol in RENAMED_PROTOCOLS:
            print(f"note: {renamed_protocol_message(args.protocol, '--protocol')}", file=sys.stderr)
            args.protocol = RENAMED_PROTOCOLS[args.protocol]
        if args.protocol:
            check_protocol(args.protocol, config["image_size"], "the config's image_size")
            config["eval"]["protocol"] = args.protocol
        job = eval_job(config, args.dataset, args.variant, args.seed)
        run_dir = results.run_dir(args.dataset, args.variant, args.seed)
        model = args.model or (run_dir / "model.pt" if is_trainable(job["spec"]) else None)
        out = args.out or results.eval_dir(args.dataset, args.variant, args.seed)
        check_output_folder(out, lambda name: name in evaluate.EVAL_FILES or name.startswith("."), "--out",
                            args.force)
        summary = evaluate.evaluate(job, out, model,
                                    args.masks or results.masks_dir(config["image_size"], config["masks"]["seed"]),
                                    args.device, cache_dir=results.cache_dir())
    print(summary.to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())

"""`inpaint-bench train`: trains one variant, or a DGI teacher, of a config (training.train)."""
from __future__ import annotations

import argparse
import os
import sys

import torch

from inpaint_bench.cli.common import expected_faults, seed_argument
from inpaint_bench.harness.config import ConfigError, layout
from inpaint_bench.harness.fileio import check_output_folder
from inpaint_bench.jobs.resolve import teacher_job, train_job
from inpaint_bench.jobs.validate import load_config
from inpaint_bench.training import distributed, train
from inpaint_bench.training.checkpoint import is_run_file


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=train.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="config YAML (validated against config/schema.yaml)")
    p.add_argument("--dataset", required=True)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--variant", help="the variant to train")
    what.add_argument("--teacher-arch", help="train this DGI teacher (its arch), e.g. rfr_attention-kca")
    p.add_argument("--seed", type=seed_argument, required=True)
    p.add_argument("--out", help="output folder (default: where the workflow puts this run)")
    p.add_argument("--teacher-model", help="the teacher's model.pt for a distilled variant "
                                           "(default: where the workflow puts it)")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: the config's threads_per_job, as "
                                               "the workflow). The weights depend on it; it is recorded in "
                                               "provenance.json")
    p.add_argument("--device", help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    p.add_argument("--force", action="store_true", help="train into --out even if it holds files training "
                                                        "does not write")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    device = args.device
    try:
        with expected_faults(ConfigError, FloatingPointError, ValueError, OSError):
            config = load_config(args.config)
            torch.set_num_threads(args.threads or config["threads_per_job"])
            if distributed.launched_by_torchrun():
                device = distributed.init_from_env(args.device)
            results = layout(config)
            if args.variant:
                job = train_job(config, args.dataset, args.variant, args.seed)
                out = args.out or results.run_dir(args.dataset, args.variant, args.seed)
            else:
                job = teacher_job(config, args.dataset, args.teacher_arch, args.seed)
                out = args.out or results.teacher_dir(args.dataset, args.teacher_arch, args.seed)
            check_output_folder(out, is_run_file, "--out", args.force)
            teacher = args.teacher_model
            if job["teacher"] and teacher is None:
                teacher = results.teacher_dir(args.dataset, job["teacher"], args.seed) / "model.pt"
            path = train.train(job, out, teacher=teacher, device=device,
                               keep_checkpoint=config["train"]["keep_checkpoint"])
    finally:
        if distributed.active():
            distributed.destroy()
    if os.environ.get("RANK", "0") == "0":
        print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())

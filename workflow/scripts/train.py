"""Rules train and train_teacher: one resolved job (jobs.resolve) trained into the output's folder."""
import json
from pathlib import Path

import torch

from inpaint_bench.harness.config import layout
from inpaint_bench.harness.joblog import job_log
from inpaint_bench.harness.superseded import superseded_note
from inpaint_bench.training.train import train

with job_log(snakemake.log[0], __file__, snakemake.config["extensions"]):  # noqa: F821 (snakemake is injected by Snakemake)
    torch.set_num_threads(snakemake.threads)  # noqa: F821
    note = superseded_note(layout(snakemake.config), snakemake.input.job)  # noqa: F821
    if note:
        print(note, flush=True)
    job = json.loads(snakemake.params.job)  # noqa: F821
    teacher = snakemake.input.get("teacher") or None  # noqa: F821
    keep = snakemake.config["train"]["keep_checkpoint"]  # noqa: F821 (not in the job: changes no number)
    train(job, Path(snakemake.output.model).parent, teacher=teacher, keep_checkpoint=keep)  # noqa: F821

"""Rule evaluate: one variant scored on the fixed test masks (the same for every seed)."""
import json
from pathlib import Path

import torch

from inpaint_bench.evaluation.evaluate import evaluate
from inpaint_bench.harness.config import layout
from inpaint_bench.harness.joblog import job_log
from inpaint_bench.harness.superseded import superseded_note

with job_log(snakemake.log[0], __file__, snakemake.config["extensions"]):  # noqa: F821 (snakemake is injected by Snakemake)
    torch.set_num_threads(snakemake.threads)  # noqa: F821
    note = superseded_note(layout(snakemake.config), snakemake.input.job)  # noqa: F821
    if note:
        print(note, flush=True)
    evaluate(json.loads(snakemake.params.job), Path(snakemake.output.summary).parent,  # noqa: F821
             model_path=snakemake.input.model or None,  # noqa: F821
             masks_dir=Path(snakemake.input.masks).parent,  # noqa: F821
             cache_dir=Path(snakemake.params.cache))  # noqa: F821

"""Rule make_test_masks: the fixed test masks drawn with masks.seed (generated, or picked from NVIDIA's set)."""
import json
from pathlib import Path

from inpaint_bench.datasets.mask_sets import make_test_masks
from inpaint_bench.datasets.nvidia_masks import import_nvidia_masks
from inpaint_bench.harness.joblog import job_log

with job_log(snakemake.log[0], __file__, snakemake.config["extensions"]):  # noqa: F821 (snakemake is injected by Snakemake)
    masks = json.loads(snakemake.params.masks)  # noqa: F821
    out, size, seed = Path(snakemake.output[0]).parent, snakemake.params.size, int(snakemake.wildcards.seed)  # noqa: F821
    if masks["source"] == "nvidia":
        import_nvidia_masks(masks["nvidia_dir"], out, size, masks["buckets"], masks["count"], seed,
                            hole_is_white=masks["nvidia_hole"] == "white")
    else:
        make_test_masks(out, size, masks["buckets"], masks["count"], seed)

"""Rule describe_job: a job's description in the file named by its digest; the older descriptions of
the same outputs are removed (so returning to an earlier config finds its file missing)."""
import json
from pathlib import Path

from inpaint_bench.harness.fileio import atomic_write_text
from inpaint_bench.harness.joblog import job_log

with job_log(snakemake.log[0], __file__):  # noqa: F821 (snakemake is injected by Snakemake)
    out = Path(snakemake.output[0])  # noqa: F821
    atomic_write_text(out, json.dumps(json.loads(snakemake.params.job), indent=2, sort_keys=True))  # noqa: F821
    for older in out.parent.glob("*.json"):
        if older != out:
            older.unlink()

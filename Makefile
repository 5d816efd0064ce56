# Two commands: `make run` (the default DAG) and `make test`. Both create .venv when it is missing
# (or when requirements.txt, pyproject.toml or the package list changed) and install the pinned
# requirements and the harness itself (editable: the workflow and the tools import its packages from
# this checkout).
VENV ?= .venv
PYTHON ?= python3
CORES ?= 2
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast lint dry-run bench bench-gpu rehearse clean-results

$(STAMP): requirements.txt pyproject.toml setup.py inpaint_bench/packages.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt -e .
	touch $(STAMP)

run: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) --profile workflow/profiles/local
	PATH="$(BIN):$$PATH" $(BIN)/snakemake --report results/report.html

# One pytest worker per core; a test file stays on one worker (its module fixtures run once).
test: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest -n $(CORES) --dist loadfile

# Everything but the long end-to-end tests (local SLURM, DDP, headless Chromium): marked `slow`.
test-fast: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest -n $(CORES) --dist loadfile -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check .
	PATH="$(BIN):$$PATH" $(BIN)/snakemake --lint
	$(BIN)/snakefmt --check Snakefile workflow/rules

dry-run: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/snakemake -n --cores $(CORES)

bench: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/inpaint-bench bench --config config/config.yaml

# RFR-Net (rfr_kca) at the paper's scale on one GPU, fp32 (PyTorch's TF32 defaults) and bf16: images/s,
# fraction of the matmul peak, peak memory (docs/scale.md). A few minutes; no data or weights needed.
bench-gpu: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/inpaint-bench bench --config config/paper.yaml \
		--variants rfr_kca --size 256 --batch 6 --width 64 --precision both --device cuda \
		--steps 20 --warmup 5 --out results/bench/gpu_rfr_kca.csv

# Every row of config/paper.yaml at 256 px and width 64 on generated trees in the official layouts, a few
# steps at batch 1, through the tables and the report (docs/scale.md, "Rehearsing a paper run").
rehearse: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/inpaint-bench rehearse --config config/paper.yaml --out results_rehearsal \
		--cores $(CORES)

clean-results:
	rm -rf results results_rehearsal .snakemake

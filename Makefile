# Two commands: `make run` (the default DAG) and `make test`. Both create .venv when it is missing
# (or when requirements.txt changed) and install the pinned requirements into it.
VENV ?= .venv
PYTHON ?= python3
CORES ?= 2
BIN := $(abspath $(VENV))/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint dry-run bench clean-results

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -r requirements.txt
	touch $(STAMP)

run: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/snakemake --cores $(CORES) --profile workflow/profiles/local

test: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python -m pytest

lint: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/snakemake --lint

dry-run: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/snakemake -n --cores $(CORES)

bench: $(STAMP)
	PATH="$(BIN):$$PATH" $(BIN)/python -m training.bench --config config/config.yaml

clean-results:
	rm -rf results .snakemake

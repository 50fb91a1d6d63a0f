# trialstats: every target installs into .venv from nothing when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test report bench lint clean design

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check trialstats tests benchmarks datasets

test: $(STAMP) lint
	$(PY) -m pytest -q

report: $(STAMP)
	$(PY) -m trialstats report --all datasets -o reports

# simulation-based design of the bundled long-term trial (issue 10): writes
# reports/design/exo-longterm.html, its Parquet tables in reports/design/exo-longterm_ard/ and the
# power curves as PNG there; resumable from reports/design/exo-longterm_checkpoint/
design: $(STAMP)
	$(PY) -m trialstats design datasets/designs/exo-longterm.toml -o reports/design/exo-longterm.html \
		--engine local --png --checkpoint reports/design/exo-longterm_checkpoint

bench: $(STAMP)
	# one core, as the speed targets are stated
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) reports/*.html build *.egg-info

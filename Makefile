# trialstats: every target installs into .venv from nothing when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test report bench lint docs clean

# editable_mode=compat: a .pth puts this folder on sys.path, so `import trialstats` finds this
# package even when the current directory holds a folder named trialstats (the default editable
# finder loses to such a namespace package: "module 'trialstats' has no attribute 'datasets'").
# The dev extra includes the docs extra (mkdocs-material, mkdocstrings, markdown-exec).
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]' --config-settings editable_mode=compat
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check trialstats tests benchmarks datasets

test: $(STAMP) lint
	$(PY) -m pytest -q

report: $(STAMP)
	$(PY) -m trialstats report --all datasets -o reports

# the documentation site (mkdocs.yml) into site/; tutorials, tables and figures run at build time
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

bench: $(STAMP)
	# one core, as the speed targets are stated
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) reports/*.html build *.egg-info site

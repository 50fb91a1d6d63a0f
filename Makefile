# trialstats: every target installs into .venv from nothing when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test report bench lint docs clean design

# The dev extra includes the docs extra (mkdocs-material, mkdocstrings, markdown-exec).
# trialstats-src.pth puts this folder on sys.path: setuptools' editable install alone imports
# through a finder that loses to any folder named trialstats in the current directory (Python
# then imports that folder as an empty namespace package: "module 'trialstats' has no attribute
# 'datasets'"); a sys.path entry holding the real package always wins. (setuptools' own
# editable_mode=compat does the same but prints a deprecation warning.) With that file in place,
# setuptools' one-line notice about exactly this ("Editable installation. Please be careful with
# folders ... with the same name as your package") is moot, and is silenced by message; every
# other warning still prints.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	PYTHONWARNINGS="ignore:Editable installation" $(PY) -m pip install --quiet -e '.[dev]'
	$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_path("purelib"), "trialstats-src.pth").write_text(str(pathlib.Path.cwd()) + "\n")'
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

# the documentation site (mkdocs.yml) into site/; tutorials, tables and figures run at build time
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --site-dir site

bench: $(STAMP)
	# one core, as the speed targets are stated
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 $(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) reports/*.html build *.egg-info site

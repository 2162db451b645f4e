# Two entry points on a fresh Linux machine: `make demo` and `make test`.
# Both create .venv. demo installs only what the tour needs (ddperm itself: the in-process
# twin needs no extra); test adds the dev extra to the same venv. Each install leaves its
# stamp, so demo then test (or the other way round) installs each set once, and again only
# when pyproject.toml changes.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
BASE   := $(VENV)/.installed-base
DEV    := $(VENV)/.installed-dev
# psrp 1.0 (pypsrp 1.0.0b1) cannot share a venv with pypsrp 0.9: the interop tests
# (tests/test_winrm_interop.py) run it from its own, built once.
PSRP1_VENV ?= .venv-psrp1
PSRP1      := $(PSRP1_VENV)/.installed-psrp1

.PHONY: demo test lint typecheck docs unit system-packages psrp1 bench manifest clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(BASE): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $(BASE)

# dev includes everything the demo needs, so the demo's stamp is renewed too.
$(DEV): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(DEV) $(BASE)

$(PSRP1): Makefile
	$(PYTHON) -m venv $(PSRP1_VENV)
	$(PSRP1_VENV)/bin/python -m pip install --quiet 'pypsrp==1.0.0b1'
	touch $(PSRP1)

psrp1: $(PSRP1)

demo: $(BASE)
	$(PY) -m ddperm demo $(ARGS)

test: lint typecheck docs unit

lint: $(DEV)
	$(PY) -m ruff check ddperm tests examples benchmarks
	$(PY) -m ruff format --check ddperm tests examples benchmarks

typecheck: $(DEV)
	$(PY) -m mypy

# The API reference (mkdocs.yml); --strict makes a broken reference fail the build.
docs: $(DEV)
	$(PY) -m mkdocs build --strict --quiet

# Debian packages some tests use (systemd's tools); installed when missing and root.
system-packages:
	bash scripts/system-packages.sh

unit: $(DEV) $(PSRP1) system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(DEV)
	$(PY) -m benchmarks $(ARGS)

manifest: $(DEV)
	$(PY) -c 'import sys; from ddperm.scripts import main; sys.exit(main(["--write-manifest"]))'

clean:
	rm -rf $(VENV) $(PSRP1_VENV) build dist site .mypy_cache .pytest_cache .ruff_cache

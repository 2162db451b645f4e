# Two entry points on a fresh Linux machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench manifest clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m ddperm demo $(ARGS)

test: lint typecheck unit

lint: $(STAMP)
	$(PY) -m ruff check ddperm tests examples benchmarks
	$(PY) -m ruff format --check ddperm tests examples benchmarks

typecheck: $(STAMP)
	$(PY) -m mypy

unit: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m benchmarks $(ARGS)

manifest: $(STAMP)
	$(PY) -c 'import sys; from ddperm.scripts import main; sys.exit(main(["--write-manifest"]))'

clean:
	rm -rf $(VENV) build dist .mypy_cache .pytest_cache .ruff_cache

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

.PHONY: demo test lint typecheck docs unit system-packages bench manifest clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(BASE): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	touch $(BASE)

# dev includes everything the demo needs, so the demo's stamp is renewed too. The system
# packages come first: gssapi and krb5 (the kerberos extra) build against libkrb5-dev.
$(DEV): pyproject.toml | $(PY) system-packages
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(DEV) $(BASE)

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

# Debian packages some tests use (systemd's tools, an MIT KDC) and the kerberos extra builds
# against; installed when missing and root.
system-packages:
	bash scripts/system-packages.sh

unit: $(DEV) system-packages
	$(PY) -m pytest $(PYTEST_ARGS)

bench: $(DEV)
	$(PY) -m benchmarks $(ARGS)

manifest: $(DEV)
	$(PY) -c 'import sys; from ddperm.scripts import main; sys.exit(main(["--write-manifest"]))'

clean:
	rm -rf $(VENV) build dist site .mypy_cache .pytest_cache .ruff_cache

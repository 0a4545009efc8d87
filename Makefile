# The interface: `make dev` runs Sotto locally, `make test` checks everything.
# Both create .venv and install the project into it on first use (and when pyproject.toml changes).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install dev test lint typecheck stack pytest browser bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit("Sotto needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

dev: $(STAMP)
	$(BIN)/sotto dev

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	scripts/ensure-node-tools
	node_modules/.bin/eslint sotto_cli/web tests/web

typecheck: $(STAMP)
	$(BIN)/mypy

# serverless.yml packaged for each stage and its CloudFormation linted, offline (see the script).
stack: $(STAMP)
	scripts/check-stack

pytest: $(STAMP) browser stack
	$(BIN)/pytest

browser:
	@scripts/ensure-browser

bench: $(STAMP)
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .sotto *.egg-info node_modules .stack .serverless

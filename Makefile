# Two commands for a fresh machine: `make serve` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint check-services clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## Set up and run the server on the embedded default (SQLite + ./dicomstore-data).
serve: $(STAMP)
	$(BIN)/dicomstore serve

## Set up and run the whole test suite (lint, types, tests on SQLite and PostgreSQL).
test: $(STAMP) lint check-services
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/mypy

## The external pieces the suite drives for real; under CI=true a missing one fails the run.
check-services:
	bash scripts/check-services

clean:
	rm -rf $(VENV) dicomstore-data .pytest_cache .ruff_cache .mypy_cache

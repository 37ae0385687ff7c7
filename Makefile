# Two commands set everything up on a fresh machine:
#   make run    the main job: local stack (if nothing is configured), pipeline, sample search
#   make test   the test suite (starts the local stack itself when nothing answers)
# Both create or reuse .venv at the repo root; the CLI is then .venv/bin/newsflow.

PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: install run run-once test lint stack-up stack-down clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --upgrade pip
	$(VENV)/bin/python -m pip install -q -c constraints.txt -e '.[dev,scrapy]'
	# camel-tools' metadata asks for torch/transformers; its text utilities need neither.
	$(VENV)/bin/python -m pip install -q --no-deps -c constraints.txt camel-tools
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/newsflow run

run-once: $(STAMP)
	$(VENV)/bin/newsflow run --once

test: $(STAMP)
	$(VENV)/bin/python -m pytest -ra

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

stack-up: $(STAMP)
	$(VENV)/bin/newsflow stack up

stack-down: $(STAMP)
	$(VENV)/bin/newsflow stack down

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

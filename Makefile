# The two commands: `make run` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench lint install clean

# infra/requirements.txt (CDK, cdk-nag, cfn-lint) too: tests/infra synthesizes the stacks.
$(STAMP): requirements.txt requirements-dev.txt infra/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -r infra/requirements.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m chalicelib.local

# The layering contract (pyproject.toml [tool.importlinter]) and mypy run before the suite.
test: $(STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy chalicelib app.py
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy chalicelib app.py

clean:
	rm -rf $(VENV) .local .pytest_cache .ruff_cache

# The two commands: `make run` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: run test bench lint sdk install clean

# infra/requirements.txt (CDK, cdk-nag, cfn-lint) too: tests/infra synthesizes the stacks.
$(STAMP): requirements.txt requirements-dev.txt infra/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -r infra/requirements.txt
	touch $(STAMP)

install: $(STAMP) $(NODE_STAMP)

# Spectral (package.json, locked): tests/api/test_openapi_lint.py lints the OpenAPI document with it.
$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts --silent
	touch $(NODE_STAMP)

run: $(STAMP)
	$(PY) -m chalicelib.local

# The layering contract (pyproject.toml [tool.importlinter]) and mypy run before the suite;
# the suite runs on pytest-xdist, one worker per core, each test module whole on one worker
# (tests/conftest.py), recording every AWS call its functions make (tests/infra/aws_calls.py);
# then the deployment contract's tests (marked `contract`) run on those recordings.
CONTRACT_CALLS := build/contract/calls.json

test: $(STAMP) $(NODE_STAMP)
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy chalicelib app.py
	rm -rf $(dir $(CONTRACT_CALLS)) && mkdir -p $(dir $(CONTRACT_CALLS))
	CONTRACT_CALLS_OUT=$(CONTRACT_CALLS) $(PY) -m pytest -n auto --dist loadfile -m "not contract"
	CONTRACT_CALLS_IN=$(CONTRACT_CALLS) $(PY) -m pytest -m contract

bench: $(STAMP)
	$(PY) -m bench

# A Python client generated from the OpenAPI document (openapi-python-client): pip install build/sdk
sdk: $(STAMP)
	$(PY) -m chalicelib.local.sdk --out build/sdk

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy chalicelib app.py

clean:
	rm -rf $(VENV) node_modules .local build .pytest_cache .ruff_cache

# The two commands: `make run` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench lint sdk install clean

# infra/requirements.txt (CDK, cdk-nag, cfn-lint) too: tests/infra synthesizes the stacks.
$(STAMP): requirements.txt requirements-dev.txt infra/requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -r infra/requirements.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m chalicelib.local

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m bench

# A Python client generated from the OpenAPI document (openapi-python-client): pip install build/sdk
sdk: $(STAMP)
	$(PY) -m chalicelib.local.sdk --out build/sdk

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .local build .pytest_cache .ruff_cache

# The verbs people use. Every target sets itself up: a fresh clone needs nothing else.
SHELL := /bin/bash
PY_VERSION ?= 3.12.1
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FN ?=
EVENT ?=

.PHONY: dev test test-unit test-integration test-e2e test-infra test-browser lint format typecheck bench build validate invoke deploy clean setup widget publish-widget ops-template

$(STAMP): requirements-dev.txt requirements-tools.txt layers/shared/python/requirements.txt layers/ingestion/requirements.txt layers/scheduling/requirements.txt infra/scripts/setup.sh
	@bash infra/scripts/setup.sh $(PY_VERSION) $(VENV)
	@touch $(STAMP)

setup: $(STAMP)

dev: $(STAMP)  ## run the local runtime: API on :3000 over emulated AWS
	$(PY) -m infra.local

test: $(STAMP)  ## every tier: unit, integration, infra, e2e, plus lint and types
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy infra
	$(PY) -m pytest tests

test-unit: $(STAMP)
	$(PY) -m pytest tests/unit
test-integration: $(STAMP)
	$(PY) -m pytest tests/integration
test-e2e: $(STAMP)
	$(PY) -m pytest tests/e2e
test-infra: $(STAMP)
	$(PY) -m pytest tests/infra
test-browser: $(STAMP)  ## the widget in Chromium (screenshots in artifacts/browser)
	$(PY) -m pytest tests/e2e/browser

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/cfn-lint template.yaml infra/ci/github-oidc.yaml
	$(VENV)/bin/actionlint

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

typecheck: $(STAMP)  ## the functions and kernel, then infra/ (which imports functions.widget by path)
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy infra

bench: $(STAMP)  ## figures: cold init, warm time, AWS calls per request, gateway req/s
	$(PY) -m bench

ops-template: $(STAMP)  ## regenerate template.yaml's dashboard and generated alarms
	$(PY) -m infra.ops write

validate: $(STAMP)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH sam validate --lint

build: $(STAMP)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH sam build

widget: $(STAMP)  ## build the widget's versioned files into .aws-sam/widget
	$(PY) -m functions.widget.logic.assets build --out .aws-sam/widget

publish-widget: $(STAMP)  ## make publish-widget ENV=dev|prod: upload to the stack's bucket, refresh the loader
	$(PY) -m functions.widget.logic.assets publish --stack-name agenthub-$${ENV:-dev}

invoke: $(STAMP)  ## make invoke FN=<logical id> EVENT=events/...json
	$(PY) -m infra.local.invoke $(FN) $(EVENT)

deploy: build  ## make deploy ENV=dev|prod (needs AWS credentials)
	PATH=$(CURDIR)/$(VENV)/bin:$$PATH sam deploy --config-env $${ENV:-dev}

clean:
	rm -rf $(VENV) $(VENV)-tools .aws-sam .local artifacts

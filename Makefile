# make run   — set up everything and run the five services with demo data
# make test  — set up everything and run every test tier
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test unit integration e2e infra venv docs

$(VENV)/.installed: pyproject.toml scripts/bootstrap-python.sh
	scripts/bootstrap-python.sh
	touch $@

venv: $(VENV)/.installed

infra:
	scripts/ensure-infra.sh

run: venv infra
	$(PY) -m shared.devrun

test: venv infra
	$(PY) -m pytest tests/unit tests/integration tests/e2e

unit: venv
	$(PY) -m pytest tests/unit

integration: venv infra
	$(PY) -m pytest tests/integration

e2e: venv infra
	$(PY) -m pytest tests/e2e

docs: venv  ## regenerate the AsyncAPI documents of the five services
	for s in intake dispatch tracking evaluation archive; do \
	  $(VENV)/bin/faststream docs gen --yaml --factory services.$$s.app:asyncapi -o docs/asyncapi/$$s.yaml; \
	done

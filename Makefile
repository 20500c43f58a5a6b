# make run   — set up everything and run the five services with demo data
# make test  — set up everything and run every test tier
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: run test unit integration e2e fuzz infra venv docs test-clock lint format prometheus frontend archive-verify bench bench-quick screenshots

$(VENV)/.installed: pyproject.toml scripts/bootstrap-python.sh
	scripts/bootstrap-python.sh
	touch $@

venv: $(VENV)/.installed frontend

# The console's front-end libraries (htmx) exactly as package-lock.json pins them; the console serves them from
# node_modules (never from a CDN). Again only when package.json or the lock file changes.
node_modules/.package-lock.json: package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || scripts/ensure-infra.sh  # installs Debian's npm where it is missing
	npm ci --ignore-scripts --no-audit --no-fund
	touch $@

frontend: node_modules/.package-lock.json

infra:
	scripts/ensure-infra.sh

# The five services, demo data and a Prometheus at 127.0.0.1:9099 (ARGS: e.g. --no-prometheus, --services intake).
run: venv infra
	$(PY) -m devtools.run $(ARGS)

# Throughput and latency of complete lifecycles, CPU per lifecycle per service, against the raw ceilings of PostgreSQL
# and RabbitMQ measured in the same run (devtools/bench.py; ports 8101-8105, bench_* databases, a vhost of its own).
# Not part of `make test`: it loads the whole machine (about 13 minutes; bench-quick 1.5). ARGS: e.g. --clients 8
bench: venv infra
	$(PY) -m devtools.bench $(ARGS)

bench-quick: venv infra
	$(PY) -m devtools.bench --quick $(ARGS)

# The README's screenshots of the console (docs/screenshots/*.png): the services, the console and the demo data on
# free ports, databases and a vhost of their own (removed afterwards), each page in Debian's Chromium (Playwright).
screenshots: venv infra
	$(PY) -m devtools.screenshots $(ARGS)

# Prometheus alone, for services started otherwise (`make run ARGS=--no-prometheus`, or by hand); `make run` already
# starts one on the same port.
prometheus: venv infra
	$(PY) -m devtools.prometheus $(ARGS)

# Every tier once, dates where they bite (tests/support/clock.py): unit and e2e at the real time; the integration
# tier across New Year's midnight in China (UTC still says 2026) on a frozen clock; the fuzz tier; then the unit
# tier again at each instant where China's date is a day ahead of UTC's (tests taking the `frozen_clock` fixture meet
# all six instants in every run). The integration tier's services then run days off PostgreSQL's now(), which is not
# frozen; the e2e tier is where the services and the database share the real time. `make test-clock` runs every tier
# at every instant.
# The fuzz tier runs in a session of its own: its in-process apps live until its session ends, and an e2e service
# process started while they ran once hung at start (after its migrations), not reproduced without them.
test: venv infra
	$(PY) -m pytest tests/unit tests/e2e --durations=15
	QS_TEST_CLOCK=new-year-early $(PY) -m pytest tests/integration -p no:cacheprovider --durations=15
	$(PY) -m pytest tests/fuzz
	@for instant in $$($(PY) -c 'from tests.support.clock import CHINA_DAY_AHEAD; print(*CHINA_DAY_AHEAD)'); do \
	  echo "== unit tier, QS_TEST_CLOCK=$$instant"; \
	  QS_TEST_CLOCK=$$instant $(PY) -m pytest tests/unit -q -p no:cacheprovider || exit 1; \
	done

lint: venv  ## ruff: the linter and the formatter's check, as configured in pyproject.toml
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: venv
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

unit: venv
	$(PY) -m pytest tests/unit

integration: venv infra
	$(PY) -m pytest tests/integration

e2e: venv infra
	$(PY) -m pytest tests/e2e

fuzz: venv infra  ## property-based API fuzzing of the five services' OpenAPI documents (FUZZ_EXAMPLES=n)
	$(PY) -m pytest tests/fuzz

# every tier once under each awkward instant of tests/support/clock.py (China midnight, New Year, 春节)
test-clock: venv infra
	@failed=""; \
	for instant in $$($(PY) -c 'from tests.support.clock import INSTANTS; print(*INSTANTS)'); do \
	  echo "== QS_TEST_CLOCK=$$instant"; \
	  QS_TEST_CLOCK=$$instant $(PY) -m pytest tests/unit tests/integration tests/e2e -p no:cacheprovider \
	    || failed="$$failed $$instant"; \
	done; \
	if [ -n "$$failed" ]; then echo "!! failed under:$$failed"; exit 1; fi

archive-verify: venv  ## prove the archive unaltered: every dossier's hash and each station's hash chain (STATION=id for one)
	$(PY) -m services.archive verify-chain $(if $(STATION),--station $(STATION))

docs: venv  ## regenerate the AsyncAPI documents of the five services
	for s in intake dispatch tracking evaluation archive; do \
	  $(VENV)/bin/faststream docs gen --yaml --factory services.$$s.app:asyncapi -o docs/asyncapi/$$s.yaml; \
	done

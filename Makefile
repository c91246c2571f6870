# Switchboard. `make run` starts it in embedded mode with demo data;
# `make test` runs the whole suite (SQLite, or PostgreSQL and Redis when
# DATABASE_URL and REDIS_URL are set).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
FAKE_PROVIDERS_PORT ?= 8025
PYTEST_ARGS ?=

.PHONY: run run-prod test lint typecheck format bench install install-dev migrate demo-message clean

# One target per bench part, each phony: a phony target never matches a
# pattern rule, so `bench-%` alone would make `make bench-latency` do nothing.
BENCH_PARTS := dashboard email ingest latency pages route reports simulate sla
.PHONY: $(addprefix bench-,$(BENCH_PARTS))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

migrate: install
	$(BIN)/python manage.py migrate --noinput

run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo --host $(HOST) --port $(PORT) --fake-providers-port $(FAKE_PROVIDERS_PORT)
	SWITCHBOARD_FAKE_PROVIDERS_PORT=$(FAKE_PROVIDERS_PORT) exec $(BIN)/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --lifespan on --no-access-log

# Production: every process of the Procfile at once (docs/production.md). Needs DATABASE_URL, REDIS_URL and SECRET_KEY in the environment.
run-prod: install
	@test -n "$$DATABASE_URL" -a -n "$$REDIS_URL" -a -n "$$SECRET_KEY" || { echo "run-prod needs DATABASE_URL, REDIS_URL and SECRET_KEY"; exit 2; }
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput --verbosity 0
	$(BIN)/python manage.py check --deploy
	HOST=$(HOST) PORT=$(PORT) exec $(BIN)/honcho start -f Procfile

demo-message: install
	$(BIN)/python manage.py send_demo_message --url http://$(HOST):$(PORT)

test: install-dev
	tests/setup-system.sh
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy over services, selectors, configuration, listeners, routing's modules
# and the two pure cores (strict); the set is in bin/typecheck.
typecheck: install-dev
	bin/typecheck

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install-dev
	$(BIN)/python -m bench all

$(addprefix bench-,$(BENCH_PARTS)): bench-%: install-dev
	$(BIN)/python -m bench $*

# The load test (docs/testing.md, "Faults and load"): one minute at 20 webhooks/s on
# PostgreSQL and Redis; LOAD_ARGS="--minutes 10" for the real run.
LOAD_ARGS ?= --minutes 1
.PHONY: load
load: install-dev
	$(BIN)/python -m bench.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) var/bench .mypy_cache

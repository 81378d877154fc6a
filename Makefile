# The two commands of the README: `make run` and `make test`. Everything else is set up by them.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
PYTEST_ARGS ?= -n auto

.PHONY: run test install lint system-deps check-wheel clean

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,server,redis]'
	touch $(STAMP)

install: $(STAMP)

## Set up, migrate, load the demo and serve at http://127.0.0.1:5000 (SQLite in instance/), with
## one scheduler process beside the server (emails land in instance/mail/). Ctrl-C stops both.
## The scheduler is started here, once, not by the app: the reloader never starts a second one.
run: install
	$(BIN)/flask --app lms db upgrade
	$(BIN)/flask --app lms seed-demo
	$(BIN)/flask --app lms scheduler & scheduler=$$!; \
	trap 'kill $$scheduler 2>/dev/null; wait $$scheduler' EXIT INT TERM; \
	$(BIN)/flask --app lms run --host $(HOST) --port $(PORT)

system-deps:
	bash scripts/install-system-deps.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache --no-logo

## Set up everything (Python packages, Chromium, axe-core) and run ruff and the whole suite.
## LMS_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/lms_test runs it on PostgreSQL.
test: install system-deps lint
	$(BIN)/pytest $(PYTEST_ARGS)

## Build the wheel, install it into a fresh virtual environment and, from outside the checkout,
## migrate, load the demo and fetch pages (scripts/check-wheel.sh). CI runs it once.
check-wheel: install
	PYTHON=$(PYTHON) BUILD_PYTHON=$(BIN)/python bash scripts/check-wheel.sh

clean:
	rm -rf $(VENV) node_modules .pytest_cache .ruff_cache

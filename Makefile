# The two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help run test lint format migrate seed worker beat bench loadtest clean

help:  ## List the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): $(PY) requirements.txt requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)  ## Serve the app with demo data on http://127.0.0.1:8000 (SQLite, tasks in-process)
	$(PY) manage.py migrate --no-input
	$(PY) manage.py seed_demo --if-empty
	@echo ""
	@echo "  KAM is running on http://127.0.0.1:8000  (demo logins above; stop with Ctrl-C)"
	@echo ""
	$(PY) manage.py runserver 127.0.0.1:8000

lint: $(STAMP)  ## ruff lint and format check, and the import contracts (.importlinter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache

format: $(STAMP)  ## Apply ruff's fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: $(STAMP) lint  ## Lint, check migrations, run the whole suite with coverage
	DJANGO_ENV=test $(PY) manage.py makemigrations --check --dry-run
	DJANGO_ENV=test $(PY) -m pytest --create-db --cov --cov-report=term:skip-covered $(PYTEST_ARGS)

migrate: $(STAMP)
	$(PY) manage.py migrate --no-input

seed: $(STAMP)  ## Wipe nothing; add the demo data to an empty database
	$(PY) manage.py seed_demo --if-empty

worker: $(STAMP)  ## A Celery worker (needs REDIS_URL)
	$(BIN)/celery -A kam worker --loglevel=INFO

beat: $(STAMP)  ## The Celery beat scheduler (needs REDIS_URL)
	$(BIN)/celery -A kam beat --loglevel=INFO

loadtest: $(STAMP)  ## gunicorn + PostgreSQL + Redis, 10,000 demo accounts, locust for 2 minutes (tests/load/run.sh)
	bash tests/load/run.sh

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .coverage htmlcov

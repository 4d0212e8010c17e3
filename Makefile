# The two commands: `make run` (the whole system on embedded defaults) and `make test` (the suite).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
BIND ?= 127.0.0.1:8000
# The embedded simulator and wallet sign-in messages are addressed through SITE_URL: keep it on BIND.
export SITE_URL ?= http://$(BIND)

.PHONY: install run test lint format bench clean

$(INSTALLED): requirements/base.txt requirements/dev.txt package.json package-lock.json
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements/dev.txt
	if [ -f package.json ]; then npm ci --no-audit --no-fund; fi
	touch $(INSTALLED)

install: $(INSTALLED)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	# The counters of the last run's processes (prometheus_client's files) start again from zero.
	rm -rf "$${PROMETHEUS_MULTIPROC_DIR:-$${VAR_DIR:-var}/metrics}"
	BIND=$(BIND) $(VENV)/bin/honcho start -f Procfile

test: install
	VAR_DIR=$(CURDIR)/var/test $(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: install
	@for script in benchmarks/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean:
	rm -rf var/db.sqlite3* var/celery var/celerybeat-schedule* var/test-db.sqlite3*

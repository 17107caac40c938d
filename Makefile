# `make run` serves the exchange with demo data; `make test` runs the whole suite. Both build .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
# The suite runs on PostgreSQL and Redis (the concurrency tests need real row locks); override to point elsewhere.
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/test
TEST_REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: run test test-fast bench audit clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.installed
	mkdir -p var
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo_data
# The example bots trade in the background and stop with the server (bots/demo.py); DEMO_BOTS=0 to go without.
	$(PY) -m bots.demo --url http://$(HOST):$(PORT) -- \
		$(VENV)/bin/uvicorn exchange.asgi:application --host $(HOST) --port $(PORT) --lifespan off --no-access-log \
		--ws websockets-sansio --ws-per-message-deflate false

test: $(VENV)/.installed
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) -m pytest -m "not browser" -q
	@echo "The ledger and markets once more on the embedded default (SQLite, in-memory channel layer):"
	env -u DATABASE_URL -u REDIS_URL $(PY) -m pytest -q -m "not postgres" tests/ledger/test_services.py tests/ledger/test_pages.py \
		tests/markets/test_services.py tests/markets/test_query_counts.py tests/markets/test_simulate.py \
		tests/markets/test_book_levels.py
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		$(PY) -m pytest -m browser -q; status=$$?; [ $$status -eq 0 ] || [ $$status -eq 5 ]

# Every benchmark of issue #9 in one run, one table on stdout (progress on stderr); well under 15 minutes.
# Needs PostgreSQL and Redis at 127.0.0.1; creates and drops databases bench_*. BENCH_ARGS="--quick" for a
# 2-second, 100,000-row pass; see bench/run_all.py --help.
bench: $(VENV)/.installed
	REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} $(PY) bench/run_all.py $(BENCH_ARGS)

audit: $(VENV)/.installed
	$(PY) manage.py audit

clean:
	rm -rf $(VENV) var

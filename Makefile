# Every target installs what is missing first, so each works on a fresh clone.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
WORKERS ?= 2
export HOST PORT WORKERS

CATALOGUES := $(wildcard locales/*/LC_MESSAGES/messages.po)
COMPILED := $(CATALOGUES:.po=.mo)

.PHONY: install chromium run serve worker test chat bench bench-volume bench-replica bench-scale bench-faults fuzz lint messages menu clean

install: $(VENV)/.installed $(COMPILED) chromium

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
chromium:
	@if [ -x /usr/bin/chromium ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-wqy-microhei; \
	else \
		echo "/usr/bin/chromium is missing and this is not root: run"; \
		echo "  sudo apt-get install chromium chromium-driver"; \
		echo "or the browser tests skip (and fail when PEIXUN_REQUIRE_SERVICES=1)."; \
	fi

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

locales/%/LC_MESSAGES/messages.mo: locales/%/LC_MESSAGES/messages.po $(VENV)/.installed
	$(BIN)/pybabel compile --use-fuzzy -D messages -i $< -o $@

run: install
	$(BIN)/python -m devtools.devserver

# Production: with PEIXUN_ENV=production the app refuses to start (gunicorn too) while a secret
# is unset or a public demo value, and says which; PEIXUN_DEMO=1 serves the demo values instead.
SERVE_ENV = $(if $(filter 1,$(PEIXUN_DEMO)),,PEIXUN_ENV=production)

serve: install
	$(SERVE_ENV) $(BIN)/python -m runtime.config
	$(SERVE_ENV) $(BIN)/flask --app wsgi db upgrade
	$(SERVE_ENV) $(BIN)/gunicorn --workers $(WORKERS) --bind $(HOST):$(PORT) wsgi:app

# The worker seals export files and signs links with the same secrets as the server: it is
# production too, unless PEIXUN_DEMO=1.
worker: install
	$(SERVE_ENV) $(BIN)/python -m runtime.config
	$(SERVE_ENV) $(BIN)/flask --app wsgi worker

menu: install
	$(BIN)/flask --app wsgi menu create

test: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

chat: install
	$(BIN)/python -m devtools.chat $(CHAT_ARGS)

bench: install
	bash bench/run.sh
	$(BIN)/python -m bench.scenarios --vouchers 50
	$(BIN)/python -m bench.understanding

# A province on one deployment (issue 19, bench/province.py): 10 million persons, 6 million
# vouchers, 50 million attendance and 20 million audit rows on a private PostgreSQL (removed at
# the end; VOLUME_ARGS="--keep" keeps it, "--reuse DIR" measures again, "--scale 0.1" a tenth).
# The county-sized one of issue 8 is still `python -m bench.dashboard_volume`.
bench-volume: install
	$(BIN)/python -m bench.province $(VOLUME_ARGS)

# The dashboard from a real streaming replica while the primary takes the message load.
bench-replica: install
	$(BIN)/python -m bench.replica

# The callback with 1, 2 and 4 gunicorn processes.
bench-scale: install
	bash bench/scale.sh

# The fault table of issue 15 (bench/faults.py): gunicorn and the outbox worker under a stream
# of signed messages while Redis, PostgreSQL and workers fail, on a PostgreSQL, a Redis and a
# fake WeChat API of its own (127.0.0.1 only, removed at the end); table in bench/out/faults.txt.
bench-faults: install
	$(BIN)/python -m bench.faults

# Coverage-guided fuzzing of the callback and the API (bench/fuzz.py, atheris): FUZZ_RUNS
# inputs; any 5xx, traceback or unreadable reply fails it, saved in bench/out/fuzz/ to replay.
FUZZ_RUNS ?= 100000
fuzz: install
	$(BIN)/python -m bench.fuzz --runs $(FUZZ_RUNS)

# After changing a user-facing string: extract, then merge into the catalogues.
messages: install
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k _ -k ngettext:1,2 --no-location \
		--sort-output -o locales/messages.pot bot webhooks models locales vocabulary cli documents worker runtime devtools
	$(BIN)/pybabel update -D messages -i locales/messages.pot -d locales \
		--ignore-obsolete --no-fuzzy-matching -w 100

lint: install
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) instance .pytest_cache

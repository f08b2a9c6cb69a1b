# Shiori: `make run` serves the demo, `make test` runs the whole suite. Each sets itself up.
SHELL := /bin/bash
PY := .venv/bin/python
VENV_STAMP := .venv/.installed
VENDOR := static/vendor/htmx.min.js
# Compiled message catalogues (git-ignored), one per web/locale/<lang>/LC_MESSAGES/messages.po.
MO := $(patsubst %.po,%.mo,$(wildcard web/locale/*/LC_MESSAGES/messages.po))
PORT ?= $(or $(SHIORI_PORT),8000)

.PHONY: run test setup lint bench clean system-deps

setup: $(VENV_STAMP) $(VENDOR) $(MO)

$(VENV_STAMP): pyproject.toml requirements.lock
	python3 -m venv .venv
	.venv/bin/pip install --quiet -c requirements.lock -e '.[dev]'
	touch $@

$(VENDOR): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p static/vendor
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js
	touch $@

web/locale/%/LC_MESSAGES/messages.mo: web/locale/%/LC_MESSAGES/messages.po $(VENV_STAMP)
	.venv/bin/pybabel compile --statistics -i $< -o $@

# The mail worker runs alongside the server (stopped with it), so the demo's mail is sent as
# it is queued: to the local sink (scripts/mail_sink.py) on port 8025 unless SHIORI_SMTP_PORT
# says otherwise. Without a sink the mail waits and goes as soon as one is started.
run: setup
	.venv/bin/shiori demo load
	SHIORI_SMTP_PORT=$${SHIORI_SMTP_PORT:-8025} .venv/bin/shiori mail worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT; \
	SHIORI_PORT=$(PORT) .venv/bin/shiori serve

system-deps:
	bash scripts/system-deps.sh

lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check web db tests bench scripts
	.venv/bin/mypy
	.venv/bin/lint-imports

test: setup system-deps lint
	bash scripts/test.sh

bench: setup
	bash bench/run.sh

clean:
	rm -rf .venv node_modules static/vendor var .pytest_cache .mypy_cache .ruff_cache

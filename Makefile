# Waterdesk: `make run` starts the app on the embedded store; `make test` runs everything.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install system-deps lint bench demo api clean

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml package.json package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@command -v npm >/dev/null || { echo "npm is needed for the map assets (Debian: apt-get install npm)"; exit 1; }
	npm ci --omit=dev --no-audit --no-fund
	bash scripts/vendor-assets.sh
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/waterdesk demo --if-missing

run: demo
	$(BIN)/streamlit run app.py --server.port 8501 --server.headless true \
		--browser.gatherUsageStats false

api: demo
	$(BIN)/waterdesk api

system-deps:
	bash scripts/system-deps.sh

test: system-deps $(STAMP)
	eval "$$(bash scripts/test-database.sh)" && $(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

bench: demo
	$(BIN)/waterdesk bench

clean:
	rm -rf $(VENV) data/generated data/waterdesk.db* .pytest_cache .hypothesis

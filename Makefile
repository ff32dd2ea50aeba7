# Embedded defaults: an SQLite Airflow home in .airflow/ and moto's S3 server on 127.0.0.1:$(S3_PORT).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
S3_PORT ?= 5055
# `make up` keeps its S3 (every object version) here across restarts; `make clean` removes it.
S3_STATE ?= $(CURDIR)/.airflow/s3-state
STAMP := $(VENV)/.installed

export PATH := $(BIN):$(PATH)
export AIRFLOW_HOME := $(CURDIR)/.airflow
export AIRFLOW__CORE__DAGS_FOLDER := $(CURDIR)/dags
export AIRFLOW__CORE__PLUGINS_FOLDER := $(CURDIR)/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES := False
export AIRFLOW__CORE__PARALLELISM := 4
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL := http://localhost:8080/execution/
export AIRFLOW_CONN_AWS_DEFAULT := {"conn_type": "aws", "login": "local-moto", "password": "local-moto", "extra": {"endpoint_url": "http://127.0.0.1:$(S3_PORT)", "region_name": "us-east-1"}}
export MLOPS_BUCKET ?= mlops-demo
export MLOPS_S3_PORT := $(S3_PORT)
export GX_ANALYTICS_ENABLED := False
export MPLBACKEND := Agg
export NO_ALBUMENTATIONS_UPDATE := 1

.PHONY: install browser-deps demo test test-browser up seed lint bench lock clean

install: $(STAMP)

# The venv is rebuilt only when the lock file changes.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

demo: install
	$(BIN)/python -m mlops.dev.demo --port $(S3_PORT) --out .demo/summary.json

test: install browser-deps
	$(BIN)/python -m pytest

# The browser test (tests/ui) drives Debian's Chromium through Playwright; no browser is downloaded.
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (apt-get) for the browser test"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get install -y -qq chromium >/dev/null; }

# Only the browser test; screenshots of failures land in test-output/.
test-browser: install browser-deps
	$(BIN)/python -m pytest -m browser tests/ui

# `airflow standalone` on the embedded defaults. The local S3 is restored from $(S3_STATE) and saved
# there (every 30 s and on exit). Before the UI starts, the bootstrap seeds example data up to today
# and, only where no production model exists, trains one (then scores and monitors each dataset once).
up: install
	$(BIN)/airflow db migrate >/dev/null
	@$(BIN)/python -m mlops.dev.local_s3 --port $(S3_PORT) --bucket $(MLOPS_BUCKET) --state-dir $(S3_STATE) & s3_pid=$$!; \
	  trap 'kill $$s3_pid $${feed_pid:-} 2>/dev/null; wait $$s3_pid' EXIT; trap 'exit 130' INT TERM; \
	  $(BIN)/python -m mlops.dev.bootstrap --bucket $(MLOPS_BUCKET) || exit 1; \
	  $(BIN)/python -m mlops.dev.bootstrap --bucket $(MLOPS_BUCKET) --follow & feed_pid=$$!; \
	  echo "UI on http://localhost:8080 ; admin password in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated"; \
	  $(BIN)/airflow standalone

# Top up the example data to today in the S3 that `make up` serves (run in a second shell; idempotent).
seed: install
	$(BIN)/python -m mlops.dev.bootstrap --bucket $(MLOPS_BUCKET) --seed-only

lint: install
	$(BIN)/ruff check dags plugins include tests benchmarks
	$(BIN)/ruff format --check dags plugins include tests benchmarks

bench: install
	$(BIN)/python -m benchmarks

lock:
	$(BIN)/pip-compile --quiet --no-strip-extras --no-emit-index-url --no-emit-find-links \
	  --output-file requirements.txt requirements.in

clean:
	rm -rf .airflow .demo .bench test-output

# Embedded defaults: an SQLite Airflow home in .airflow/ and moto's S3 server on 127.0.0.1:$(S3_PORT).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
S3_PORT ?= 5055
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

.PHONY: install demo test up seed lint bench lock clean

install: $(STAMP)

# The venv is rebuilt only when the lock file changes.
$(STAMP): requirements.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $(STAMP)

demo: install
	$(BIN)/python -m mlops.demo --port $(S3_PORT) --out .demo/summary.json

test: install
	$(BIN)/python -m pytest

up: install
	$(BIN)/airflow db migrate >/dev/null
	@echo "UI on http://localhost:8080 ; admin password in $(AIRFLOW_HOME)/simple_auth_manager_passwords.json.generated"
	@$(BIN)/python -m mlops.local_s3 --port $(S3_PORT) --bucket $(MLOPS_BUCKET) & s3_pid=$$!; \
	  trap "kill $$s3_pid 2>/dev/null" EXIT INT TERM; \
	  $(BIN)/airflow standalone

# Seed example data into the S3 that `make up` serves (run in a second shell).
seed: install
	$(BIN)/mlops seed --dataset credit --drift-start 2026-02-24 --bad-day 2026-02-20
	$(BIN)/mlops seed --dataset diabetes --rows-per-day 60

lint: install
	$(BIN)/ruff check dags plugins include tests benchmarks
	$(BIN)/ruff format --check dags plugins include tests benchmarks

bench: install
	$(BIN)/python -m benchmarks

lock:
	$(BIN)/pip-compile --quiet --no-strip-extras --no-emit-index-url --no-emit-find-links \
	  --output-file requirements.txt requirements.in

clean:
	rm -rf .airflow .demo .bench

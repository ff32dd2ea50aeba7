"""Distributed mode, mirrored from docker-compose.yaml: Postgres metadata DB + Celery executor on Redis.

The Airflow environment is read from the compose file's ``x-airflow-common``
block, with the container hosts swapped for the local services (PostgreSQL on
127.0.0.1:5432 with trust auth, Redis on 127.0.0.1:6379) and MinIO swapped
for the moto server. Real scheduler, dag-processor, triggerer, API server and
a Celery worker run as subprocesses, and a real DAG runs through them.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PG_DB = "mlops_airflow_it"
DAG_ID = "mlops_validation"
pytestmark = [pytest.mark.distributed, pytest.mark.e2e]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compose_environment() -> dict[str, str]:
    """The x-airflow-common environment of docker-compose.yaml, unresolved."""
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    return {k: str(v) for k, v in compose["x-airflow-common"]["environment"].items()}


def localise(env: dict[str, str], *, api_port: int, airflow_home: str) -> dict[str, str]:
    """Point the compose environment at this machine's services."""
    pg = f"postgres@127.0.0.1:5432/{PG_DB}"
    out = dict(env)
    out["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"postgresql+psycopg2://{pg}"
    out["AIRFLOW__CELERY__RESULT_BACKEND"] = f"db+postgresql://{pg}"
    out["AIRFLOW__CELERY__BROKER_URL"] = "redis://127.0.0.1:6379/7"
    out["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
    out["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(REPO / "plugins")
    out["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://localhost:{api_port}/execution/"
    out["AIRFLOW__API_AUTH__JWT_SECRET"] = "integration-test-only"
    out["AIRFLOW__CORE__PARALLELISM"] = "4"
    out["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS"] = "True"
    out["AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC"] = "1"
    out["AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"] = "5"
    out["AIRFLOW_CONN_AWS_DEFAULT"] = os.environ["AIRFLOW_CONN_AWS_DEFAULT"]
    out["MLOPS_BUCKET"] = os.environ["MLOPS_BUCKET"]
    out["AIRFLOW_HOME"] = airflow_home
    leftover = [k for k, v in out.items() if "${" in v]
    assert not leftover, f"unresolved compose variables: {leftover}"
    return out


def test_compose_file_is_mirrored():
    env = compose_environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert "endpoint_url" in env["AIRFLOW_CONN_AWS_DEFAULT"]
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    for svc in (
        "postgres",
        "redis",
        "airflow-scheduler",
        "airflow-worker",
        "airflow-apiserver",
        "airflow-dag-processor",
        "airflow-triggerer",
    ):
        assert svc in compose["services"], svc
    assert not re.search(r"PASSWORD: [^$\n]+\n", (REPO / "docker-compose.yaml").read_text()), (
        "no literal secrets"
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory, moto_server):
    if not (_port_open(5432) and _port_open(6379)):
        pytest.skip("PostgreSQL on 5432 and Redis on 6379 are required for the distributed test")
    home = str(tmp_path_factory.mktemp("airflow-celery-home"))
    api_port = _free_port()
    env = {**os.environ, **localise(compose_environment(), api_port=api_port, airflow_home=home)}
    env["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
    for sql in (f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)", f"CREATE DATABASE {PG_DB}"):
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", sql], check=True, capture_output=True
        )
    subprocess.run(["redis-cli", "-n", "7", "FLUSHDB"], capture_output=True)
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run(airflow + ["db", "migrate"], env=env, check=True, capture_output=True)
    logs = Path(home) / "proc-logs"
    logs.mkdir()
    procs = []
    for name, args in {
        "api-server": ["api-server", "--port", str(api_port)],
        "scheduler": ["scheduler"],
        "dag-processor": ["dag-processor"],
        "triggerer": ["triggerer"],
        "worker": ["celery", "worker", "--concurrency", "2"],
    }.items():
        out = open(logs / f"{name}.log", "w")  # noqa: SIM115
        procs.append(
            subprocess.Popen(
                airflow + args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        )
    try:
        yield {"env": env, "logs": logs}
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, 15)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)


def _airflow(cluster, *args: str) -> str:
    res = subprocess.run(
        [sys.executable, "-m", "airflow", *args], env=cluster["env"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


def _wait_for(predicate, timeout: float, what: str, cluster):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(3)
    tails = {p.name: p.read_text()[-2000:] for p in cluster["logs"].glob("*.log")}
    pytest.fail(f"timed out waiting for {what}; process log tails: {json.dumps(tails, indent=1)}")


def test_dag_runs_on_celery_with_postgres(cluster, server_s3, credit_cfg):
    from mlops import artifacts, datagen, storage

    day = date(2026, 1, 3)
    datagen.seed_dataset(
        server_s3, "mlops-test", credit_cfg, start=day, days=1, rows_per_day=600, log=lambda m: None
    )

    def dag_parsed() -> bool:
        res = subprocess.run(
            [sys.executable, "-m", "airflow", "dags", "list", "-o", "json"],
            env=cluster["env"],
            capture_output=True,
            text=True,
        )
        return res.returncode == 0 and DAG_ID in res.stdout

    _wait_for(dag_parsed, 180, f"the dag-processor to parse {DAG_ID}", cluster)
    _airflow(cluster, "dags", "unpause", DAG_ID)
    _airflow(
        cluster,
        "dags",
        "trigger",
        DAG_ID,
        "--run-id",
        "it_celery_1",
        "--conf",
        json.dumps({"dataset": "credit", "date": day.isoformat()}),
    )

    def finished():
        out = _airflow(cluster, "dags", "list-runs", DAG_ID, "-o", "json")
        listing = next((ln for ln in out.splitlines() if ln.startswith("[")), "[]")
        runs = {r["run_id"]: r["state"] for r in json.loads(listing)}
        return runs.get("it_celery_1") if runs.get("it_celery_1") in ("success", "failed") else None

    state = _wait_for(finished, 300, "the DAG run to finish", cluster)
    worker_log = (cluster["logs"] / "worker.log").read_text()
    assert state == "success", worker_log[-4000:]
    assert "it_celery_1" in worker_log or "ExecuteTask" in worker_log or "mlops_validation" in worker_log
    assert storage.exists(
        server_s3, artifacts.validation_uri(artifacts.batch_uri("mlops-test", "credit", day))
    )

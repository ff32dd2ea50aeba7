"""Distributed mode, mirrored from docker-compose.yaml: Postgres metadata DB + Celery executor on Redis.

The Airflow environment is read from the compose file's ``x-airflow-common``
block, with the container hosts swapped for the local services (PostgreSQL on
127.0.0.1:5432 with trust auth, Redis on 127.0.0.1:6379) and MinIO swapped
for the moto server. The compose file's ``airflow-init`` command runs as written
(migration, the access-control roles, the admin). Real scheduler, dag-processor,
triggerer, API server (FAB auth manager) and a Celery worker run as subprocesses:
a real DAG runs through them, and users created with the FAB CLI are allowed or
refused by the DAGs' ``access_control`` over the REST API.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PG_DB = "mlops_airflow_it"
DAG_ID = "mlops_validation"
ADMIN_PASSWORD = "it-admin-password"
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
    out["AIRFLOW__API__SECRET_KEY"] = "integration-test-only"
    out["AIRFLOW__API__BASE_URL"] = f"http://localhost:{api_port}"
    out["AIRFLOW__CORE__PARALLELISM"] = "4"
    out["AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC"] = "1"
    out["AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL"] = "5"
    out["AIRFLOW_CONN_AWS_DEFAULT"] = os.environ["AIRFLOW_CONN_AWS_DEFAULT"]
    out["MLOPS_BUCKET"] = os.environ["MLOPS_BUCKET"]
    out["AIRFLOW_HOME"] = airflow_home
    leftover = [k for k, v in out.items() if "${" in v]
    assert not leftover, f"unresolved compose variables: {leftover}"
    return out


def init_script() -> str:
    """The shell script of the compose ``airflow-init`` service, as the container's shell sees it."""
    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    command = compose["services"]["airflow-init"]["command"]
    assert command[:2] == ["bash", "-c"], command
    return command[2].replace("$$", "$")


def test_compose_file_is_mirrored():
    env = compose_environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("fab_auth_manager.FabAuthManager")
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


def test_every_compose_image_is_pinned_and_the_roles_match_the_dags():
    from mlops_operators.dag_defaults import OPERATOR_ROLE, RELEASE_ROLE

    compose = yaml.safe_load((REPO / "docker-compose.yaml").read_text())
    images = {name: svc.get("image") for name, svc in compose["services"].items()}
    assert all(images.values()), f"every service names its image: {images}"
    # An exact release: x.y.z (PostgreSQL releases are x.y), or MinIO's RELEASE.<timestamp>.
    exact = re.compile(r"^(\d+\.\d+\.\d+|RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ)([-.][\w.-]+)?$")
    for name, image in images.items():
        repo, _, tag = image.rpartition(":")
        pinned = exact.match(tag) or (repo == "postgres" and re.fullmatch(r"\d+\.\d+", tag))
        assert "/" not in tag and pinned, f"{name}: {image} is not pinned to an exact release"
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM apache/airflow:3\.3\.2-python3\.11$", dockerfile, re.M)
    assert f"airflow roles create {RELEASE_ROLE} {OPERATOR_ROLE}" in init_script()
    assert "apache-airflow-providers-fab==" in (REPO / "requirements.txt").read_text()


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
    # The compose init as written: db migrate (Airflow + FAB tables), the access_control roles, the admin.
    init_env = {
        **env,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        "_ADMIN_USER": "admin",
        "_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    init = subprocess.run(["bash", "-c", init_script()], env=init_env, capture_output=True, text=True)
    assert init.returncode == 0, init.stdout[-2000:] + init.stderr[-3000:]
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
        yield {"env": env, "logs": logs, "api": f"http://127.0.0.1:{api_port}"}
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
    from mlops import artifacts, storage
    from mlops.dev import datagen

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


# ------------------------------------------------------------------ access control (FAB)
def _api(cluster, method: str, path: str, token: str | None = None, body: dict | None = None):
    """``(status, parsed JSON or text)`` of one REST call to the cluster's API server."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{cluster['api']}{path}", data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode(errors="replace")


def _token(cluster, username: str, password: str) -> str:
    status, body = _api(cluster, "POST", "/auth/token", body={"username": username, "password": password})
    assert status in (200, 201), (status, body)
    return body["access_token"]


def _create_user(cluster, username: str, *roles: str) -> str:
    """A FAB user with ``roles`` (the first at creation, the rest added), via the FAB CLI; returns the password."""
    password = f"{username}-password"
    _airflow(
        cluster,
        *("users", "create", "--role", roles[0], "--username", username, "--password", password),
        *("--firstname", username, "--lastname", "Test", "--email", f"{username}@mlops.invalid"),
    )
    for role in roles[1:]:
        _airflow(cluster, "users", "add-role", "--username", username, "--role", role)
    return password


def _trigger(cluster, token: str, dag_id: str, conf: dict):
    return _api(
        cluster, "POST", f"/api/v2/dags/{dag_id}/dagRuns", token, {"logical_date": None, "conf": conf}
    )


def test_only_the_release_role_triggers_rollback(cluster):
    from mlops_operators.dag_defaults import OPERATOR_ROLE, RELEASE_ROLE

    def parsed() -> bool:
        out = _airflow(cluster, "dags", "list", "-o", "json")
        return all(d in out for d in ("mlops_rollback", "mlops_training", "mlops_monitoring"))

    _wait_for(parsed, 180, "the dag-processor to parse the DAGs (and sync their access_control)", cluster)
    users = {
        "viewer": _create_user(cluster, "viewer", "Viewer"),
        "operator": _create_user(cluster, "operator", "Viewer", OPERATOR_ROLE),
        "release": _create_user(cluster, "release", "Viewer", RELEASE_ROLE),
    }
    token = {name: _token(cluster, name, pw) for name, pw in users.items()}
    rollback = {"model": "credit", "target_version": None, "reason": "integration test of access control"}

    # Viewers read everything: the DAG, its runs, the production-moving DAGs too.
    for dag_id in ("mlops_rollback", "mlops_training", "mlops_validation"):
        assert _api(cluster, "GET", f"/api/v2/dags/{dag_id}", token["viewer"])[0] == 200, dag_id
        assert _api(cluster, "GET", f"/api/v2/dags/{dag_id}/dagRuns", token["viewer"])[0] == 200, dag_id
    status, body = _trigger(cluster, token["viewer"], "mlops_rollback", rollback)
    assert status == 403, (status, body)
    assert _trigger(cluster, token["viewer"], "mlops_training", {"dataset": "credit"})[0] == 403

    # The operator role runs routine DAGs, never the ones that move production.
    assert _trigger(cluster, token["operator"], "mlops_rollback", rollback)[0] == 403
    assert _trigger(cluster, token["operator"], "mlops_training", {"dataset": "credit"})[0] == 403
    status, body = _trigger(cluster, token["operator"], "mlops_monitoring", {"dataset": "credit"})
    assert status == 200, (status, body)

    # The release role triggers the rollback (the DAG is paused, so the run just waits in the queue).
    status, body = _trigger(cluster, token["release"], "mlops_rollback", rollback)
    assert status == 200, (status, body)
    assert body["dag_id"] == "mlops_rollback" and body["conf"]["reason"] == rollback["reason"]
    status, runs = _api(cluster, "GET", "/api/v2/dags/mlops_rollback/dagRuns", token["viewer"])
    assert status == 200 and [r["dag_run_id"] for r in runs["dag_runs"]] == [body["dag_run_id"]]
    assert runs["dag_runs"][0]["triggering_user_name"] == "release"

"""Shared fixtures: fake AWS, moto (decorator and server mode), an Airflow home, small datasets.

The environment is set at import time, before anything imports Airflow, so
every test sees an isolated SQLite Airflow home and the local S3 endpoint.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TEST_BUCKET = "mlops-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# Kept in the environment so that a second import of this module (``from conftest import ...``)
# reuses the same port and Airflow home instead of picking new ones.
MOTO_PORT = int(os.environ.setdefault("MLOPS_TEST_MOTO_PORT", str(_free_port())))
_AIRFLOW_HOME = os.environ.setdefault(
    "MLOPS_TEST_AIRFLOW_HOME", tempfile.mkdtemp(prefix="mlops-airflow-home-")
)

os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AIRFLOW_HOME": _AIRFLOW_HOME,
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "AIRFLOW_CONN_AWS_DEFAULT": (
            '{"conn_type": "aws", "login": "testing", "password": "testing", '
            f'"extra": {{"endpoint_url": "http://127.0.0.1:{MOTO_PORT}", "region_name": "us-east-1"}}}}'
        ),
        "MLOPS_BUCKET": TEST_BUCKET,
        "GX_ANALYTICS_ENABLED": "False",
        "MPLBACKEND": "Agg",
    }
)


# ------------------------------------------------------------------ S3
@pytest.fixture
def s3():
    """A boto3 client inside moto's decorator mode (in-process, no network)."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture
def bucket(s3) -> str:
    """A versioned bucket in decorator mode."""
    from mlops.storage import ensure_bucket

    ensure_bucket(s3, TEST_BUCKET)
    return TEST_BUCKET


@pytest.fixture(scope="session")
def moto_server() -> str:
    """moto's S3 server on a loopback port for the whole session; yields the endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=MOTO_PORT, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{MOTO_PORT}"
    server.stop()


@pytest.fixture
def server_s3(moto_server):
    """A client of the moto server with an empty versioned bucket (cleared after the test)."""
    from mlops.storage import client_from_env, ensure_bucket

    client = client_from_env()
    ensure_bucket(client, TEST_BUCKET)
    yield client
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=TEST_BUCKET):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=TEST_BUCKET, Key=item["Key"], VersionId=item["VersionId"])


# ------------------------------------------------------------------ Airflow
@pytest.fixture(scope="session")
def airflow_db() -> str:
    """Migrate a throwaway SQLite metadata DB once per session."""
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME


@pytest.fixture(scope="session")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def task_states(dag_run) -> dict[str, str]:
    """``{task_id: state}`` of a finished DagRun (mapped tasks keep the worst state)."""
    out: dict[str, str] = {}
    for ti in dag_run.get_task_instances():
        state = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
        if out.get(ti.task_id) not in ("failed", "upstream_failed"):
            out[ti.task_id] = state
    return out


# ------------------------------------------------------------------ data
@pytest.fixture(scope="session")
def credit_cfg():
    from mlops.config import load_dataset_config

    return load_dataset_config("credit")


@pytest.fixture(scope="session")
def diabetes_cfg():
    from mlops.config import load_dataset_config

    return load_dataset_config("diabetes")


@pytest.fixture(scope="session")
def credit_day(credit_cfg):
    """One clean day of credit features and labels (2,000 rows)."""
    from mlops.datagen import generate_day

    return generate_day(credit_cfg, date(2026, 1, 10), 2000)

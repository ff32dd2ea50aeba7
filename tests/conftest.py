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


def unencrypted_versions(client, bucket: str) -> list[str]:
    """``key@version_id`` of every object version in ``bucket`` stored without server-side encryption."""
    from mlops import storage

    return [
        f"{v.key}@{v.version_id}"
        for v in storage.list_versions(client, f"s3://{bucket}/")
        if not v.is_delete_marker
        and not (storage.head(client, v.uri, v.version_id) or {}).get("ServerSideEncryption")
    ]


@pytest.fixture
def server_s3(moto_server):
    """A client of the moto server with an empty versioned bucket (cleared after the test).

    The bucket has no default encryption, so moto adds none: at teardown every object version the
    test wrote (operators and DAG runs included) must carry the SSE header our own writes set.
    """
    from mlops.storage import client_from_env, ensure_bucket

    client = client_from_env()
    ensure_bucket(client, TEST_BUCKET)
    client.delete_bucket_encryption(Bucket=TEST_BUCKET)
    yield client
    plain = unencrypted_versions(client, TEST_BUCKET)
    paginator = client.get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=TEST_BUCKET):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=TEST_BUCKET, Key=item["Key"], VersionId=item["VersionId"])
    assert not plain, f"{len(plain)} object versions written without server-side encryption: {plain[:10]}"


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
    from mlops.dev.datagen import generate_day

    return generate_day(credit_cfg, date(2026, 1, 10), 2000)


# ------------------------------------------------------------------ registry candidates
# Plain functions (import them with ``from tests.conftest import write_candidate, publish_forced``):
# a candidate written through the typed artifacts, as training and evaluation write it.
CANDIDATE_DAY = "2026-01-05"


def candidate_training_record(bucket, dataset, candidate_uri, model_bytes, features, canned_rows=None):
    """A :class:`~mlops.artifacts.TrainingRecord` for ``model_bytes`` with one holdout lineage day.

    ``features`` maps column name to ``numeric``/``categorical`` (the feature signature).
    """
    from mlops import artifacts as a
    from mlops.serialization import sha256_hex

    day, sha = CANDIDATE_DAY, "d" * 64
    batch = a.batch_uri(bucket, dataset, day)
    lineage = a.LineageDay(
        day, "holdout", batch, "vid-1", sha, 400, a.labels_uri(bucket, dataset, day), "vid-2", sha, 400,
        a.validation_uri(batch), 400,
    )  # fmt: skip
    columns = [
        a.FeatureColumn(n, k, "float64" if k == "numeric" else "object", False) for n, k in features.items()
    ]
    return a.TrainingRecord(
        dataset=dataset, task="classification", candidate_uri=candidate_uri, created_at=a.utc_now_iso(),
        run={"run_id": candidate_uri.rstrip("/").rsplit("/", 1)[-1], "dag_id": "mlops_training", "try_number": 1},
        request={"day": day, "window_days": 5, "estimator": "logistic_regression", "search": "none"},
        window=a.TrainingWindow("2026-01-01", day, 5, [day], [batch], {}), excluded_days={},
        split=a.TrainingSplit("time", [], [day], day, day, day, day, 0, 400, None, 0.3), lineage=[lineage],
        data_hash=sha, model_plan=a.ModelPlan("logistic_regression", {"C": 1.0}, None, None, 42, []),
        estimator_params={"C": 1.0}, best_params={}, cv=None, fit_seconds=0.1,
        feature_signature=a.FeatureSignature.of(columns), target="default", id_column="id",
        date_column="event_date", importances={}, canned_rows=list(canned_rows or []),
        model_uri=a.model_uri(candidate_uri), model_version_id=None, model_sha256=sha256_hex(model_bytes),
        model_size=len(model_bytes), config={"name": dataset}, config_sha256=sha, libraries={"python": "3.11"},
    )  # fmt: skip


def candidate_blessing(
    dataset, candidate_uri, model_bytes, *, blessed=True, behaviour_ok=True, baseline_etag=None
):
    """A :class:`~mlops.artifacts.Blessing` of ``model_bytes``: ``min_roc_auc`` passes iff ``blessed``."""
    from mlops import artifacts as a
    from mlops.serialization import sha256_hex

    auc = 0.9 if blessed else 0.6
    rules = [
        a.GateRule("min_roc_auc", "floor", "roc_auc", auc, None, ">= 0.7", "pass" if blessed else "fail"),
        a.GateRule("max_log_loss", "floor", "log_loss", 0.4, None, "<= 0.7", "pass"),
        a.GateRule(
            "reloads_from_bytes", "behaviour", None, None, None, "loads", "pass" if behaviour_ok else "fail"
        ),
    ]
    return a.Blessing.new(
        blessed=blessed and behaviour_ok, dataset=dataset, candidate_uri=candidate_uri,
        model_sha256=sha256_hex(model_bytes), data_hash="d" * 64, baseline_version=None,
        baseline_pointer_etag=baseline_etag, primary_metric="roc_auc", candidate_metrics={"roc_auc": auc},
        production_metrics=None, thresholds={"min_roc_auc": 0.7}, rules=rules, forced=False, force_reason="",
        actor=None, evaluation_id=candidate_uri,
    )  # fmt: skip


def candidate_metrics(dataset, candidate_uri, holdout_metrics=None):
    """A :class:`~mlops.artifacts.CandidateMetrics` whose candidate holdout metrics are ``holdout_metrics``."""
    from mlops import artifacts as a

    found = dict(holdout_metrics or {"roc_auc": 0.9})
    return a.CandidateMetrics(
        dataset=dataset, task="classification", candidate_uri=candidate_uri, primary_metric="roc_auc",
        holdout_start=CANDIDATE_DAY, holdout_end=CANDIDATE_DAY, holdout_days=[CANDIDATE_DAY], holdout_rows=400,
        data_hash="d" * 64, candidate=a.ModelEvaluation(found, {}, None, 400), production=None,
        baseline_version=None, baseline_pointer_etag=None, baseline_error=None, evaluated_at=a.utc_now_iso(),
    )  # fmt: skip


def write_candidate(
    client, bucket, run_key, model, *, dataset="credit", features=None, blessed=True, behaviour_ok=True,
    baseline_etag=None, canned_rows=None, holdout_metrics=None, reference_profile=None,
):  # fmt: skip
    """Write a candidate under ``candidates/<dataset>/<run_key>/``; returns its URI.

    ``model`` is a fitted estimator or skops bytes (``model.skops``). ``features``
    (``{name: kind}``) adds ``training.json``; ``metrics.json`` always; ``blessing.json``
    unless ``blessed`` is None; ``reference_profile`` (a ReferenceProfile) when given.
    """
    from mlops import artifacts as a
    from mlops import storage
    from mlops.serialization import dump_model

    data = model if isinstance(model, bytes) else dump_model(model)
    uri = a.candidate_prefix(bucket, dataset, run_key)
    storage.put_bytes(client, a.model_uri(uri), data)
    if features is not None:
        record = candidate_training_record(bucket, dataset, uri, data, features, canned_rows)
        a.write_artifact(client, a.training_uri(uri), record)
    a.write_artifact(client, a.metrics_uri(uri), candidate_metrics(dataset, uri, holdout_metrics))
    if blessed is not None:
        blessing = candidate_blessing(
            dataset, uri, data, blessed=blessed, behaviour_ok=behaviour_ok, baseline_etag=baseline_etag
        )
        a.write_artifact(client, a.blessing_uri(uri), blessing)
    if reference_profile is not None:
        a.write_artifact(client, a.reference_profile_uri(uri), reference_profile)
    return uri


def publish_forced(
    client, bucket, model, run_id, *, dataset="credit", promote=True, reason="test model, no gate"
):
    """Publish a bare model (``model.skops`` only) by ``force`` with ``reason`` (audited); promote it.

    Returns the version. For tests and benchmarks that need a published model without a gate run.
    """
    from mlops import artifacts as a
    from mlops import storage
    from mlops.registry import ModelRegistry
    from mlops.serialization import dump_model

    uri = a.candidate_prefix(bucket, dataset, run_id)
    storage.put_bytes(client, a.model_uri(uri), model if isinstance(model, bytes) else dump_model(model))
    reg = ModelRegistry(client, bucket, dataset)
    version = reg.publish(candidate_uri=uri, run={"run_id": run_id}, force=True, force_reason=reason).version
    if promote:
        current = reg.pointer()
        reg.promote(version, expected_etag=current.etag if current else None, reason=reason, actor="pytest")
    return version

"""Tracking views over a real registry in moto: models, versions, pointer history, runs, diffs, the viewer allowlist."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from mlops import artifacts, storage, tracking
from mlops.cli import main
from mlops.errors import ConfigError, InputReadError
from mlops.tracking import records, runs, viewer
from tests.conftest import TEST_BUCKET
from tests.include.mlops import tracking_world


@pytest.fixture(scope="module")
def world(credit_cfg):
    """Two published versions (v0002 in production), one unblessed run, one monitored night."""
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        storage.ensure_bucket(client, TEST_BUCKET)
        built = tracking_world.build(client, TEST_BUCKET, credit_cfg)
        yield {**built, "client": client}


@pytest.fixture
def client(world):
    return world["client"]


# ---------------------------------------------------------------- models
def test_models_list_production_who_moved_it_and_monitoring(client):
    [model] = tracking.list_models(client, TEST_BUCKET)
    assert (model.dataset, model.versions, model.latest_version) == ("credit", 2, "v0002")
    assert model.production.version == "v0002" and model.production.previous_version == "v0001"
    assert model.production.actor == "alice (via mlops_training)"
    assert model.production.reason == "logistic regression retrain" and model.production.updated_at
    assert model.problems == []
    assert model.production_version.estimator == "logistic_regression"
    assert (
        model.production_version.primary_metric == "roc_auc" and model.production_version.primary_value > 0.7
    )
    assert (model.monitoring.verdict, model.monitoring.model_version) == ("WARN", "v0002")
    assert model.monitoring.report_uri.endswith("/monitoring/credit/2026-01-12/report.html")


def test_model_detail_versions_history_and_audit(client):
    detail = tracking.model_detail(client, TEST_BUCKET, "credit")
    v1, v2 = detail.versions
    assert (v1.version, v1.estimator, v2.estimator) == (
        "v0001",
        "hist_gradient_boosting",
        "logistic_regression",
    )
    assert v1.blessed is True and v1.verdict.startswith("VERDICT: BLESSED")
    assert v1.window == {"start": "2026-01-01", "end": "2026-01-12", "window_days": 12}
    assert v1.rows == 2700 and v1.size_bytes > v1.model_bytes > 10_000 and not v1.retired
    assert v1.libraries["sklearn"] and v1.code_version and v1.created_at < v2.created_at
    assert artifacts.MODEL_CARD_FILE in v1.artifacts and v1.run["run_id"] == "r1"
    assert v1.run_ref == tracking.list_runs(client, TEST_BUCKET)[-1].ref
    moves = [(m.sequence, m.previous_version, m.version, m.actor) for m in detail.pointer_history]
    assert moves == [
        (1, None, "v0001", "alice (via mlops_training)"),
        (2, "v0001", "v0002", "alice (via mlops_training)"),
    ]
    # each move is an S3 version of the pointer object, matched with its audit event
    first, second = detail.pointer_history
    assert first.s3_version_id and first.s3_version_id != second.s3_version_id
    assert all(m.audit is not None and m.problem is None for m in detail.pointer_history)
    assert (first.current, second.current) == (False, True) and second.run["run_id"] == "r2"
    assert detail.production.version == "v0002" and detail.problems == []
    assert [(e.action, e.version) for e in detail.audit] == [
        ("publish", "v0001"),
        ("promote", "v0001"),
        ("publish", "v0002"),
        ("promote", "v0002"),
    ]


def test_retired_version_is_flagged(client):
    tomb = artifacts.Tombstone(
        dataset="credit",
        version="v0001",
        retired_at="2026-03-01T00:00:00Z",
        actor="retention",
        reason="keep 1",
    )
    uri = artifacts.tombstone_uri(TEST_BUCKET, "credit", "v0001")
    artifacts.write_artifact(client, uri, tomb)
    try:
        v1 = tracking.model_detail(client, TEST_BUCKET, "credit").version("v1")
        assert v1.retired and v1.retired_at == "2026-03-01T00:00:00Z"
    finally:
        storage.delete(client, uri)
    assert not tracking.model_detail(client, TEST_BUCKET, "credit").version("v0001").retired


def test_unreadable_records_are_named_not_fatal(client):
    """A tombstone of another schema_version and an unaudited pointer move show up as problems."""
    tomb_uri = artifacts.tombstone_uri(TEST_BUCKET, "credit", "v0001")
    storage.put_json(client, tomb_uri, {"name": "credit", "version": "v0001", "schema_version": 0})
    audit_uri = artifacts.audit_uri(TEST_BUCKET, "credit", "production-00000002")
    audit = storage.get_bytes(client, audit_uri)
    storage.delete(client, audit_uri)
    try:
        detail = tracking.model_detail(client, TEST_BUCKET, "credit")
        assert [v.version for v in detail.versions] == ["v0001", "v0002"]
        assert any(tomb_uri in p and "schema_version 0" in p for p in detail.problems), detail.problems
        moved = detail.pointer_history[-1]
        assert (moved.version, moved.audit, moved.problem) == ("v0002", None, "no audit event for this move")
        assert "production move #2 (v0002): no audit event" in " ".join(detail.problems)
    finally:
        storage.delete(client, tomb_uri)
        storage.put_bytes(client, audit_uri, audit)


def test_version_diff_shows_what_changed(client):
    detail = tracking.model_detail(client, TEST_BUCKET, "credit")
    diff = tracking.diff_versions(detail, "v0001", "v2")
    changed = {(s, k): v for s, k, v in diff.changed()}
    assert diff.labels == ["v0001", "v0002"]
    assert changed[("model", "estimator")] == ["hist_gradient_boosting", "logistic_regression"]
    assert ("metrics", "roc_auc") in changed and ("params", "param max_iter") in changed
    unchanged = {(s, k) for s, k, v in diff.rows} - set(changed)
    assert {("data window", "start"), ("data window", "data_hash"), ("libraries", "sklearn")} <= unchanged
    assert json.loads(json.dumps(diff.to_dict()))["rows"][0]["section"] == "model"


def test_missing_model_and_version_errors_name_what_exists(client):
    with pytest.raises(InputReadError, match=r"No registered model 'nope'.*known models: \['credit'\]"):
        tracking.model_detail(client, TEST_BUCKET, "nope")
    with pytest.raises(ConfigError, match="'dataset' parameter"):
        tracking.model_detail(client, TEST_BUCKET, "../credit")
    detail = tracking.model_detail(client, TEST_BUCKET, "credit")
    with pytest.raises(InputReadError, match=r"no version v0009; known versions: \['v0001', 'v0002'\]"):
        detail.version("v9")
    with pytest.raises(ConfigError, match="'version' parameter must look like v0007"):
        detail.version("latest")


# ---------------------------------------------------------------- runs
def test_runs_list_every_candidate_blessed_or_not(client):
    found = tracking.list_runs(client, TEST_BUCKET)
    assert [r.run["run_id"] for r in found] == ["r3", "r2", "r1"]  # newest first
    r3, r2, r1 = found
    assert (r1.status, r2.status, r3.status) == ("published v0001", "published v0002", "not blessed")
    assert r3.estimator == "dummy" and r3.primary_value == pytest.approx(0.5)
    assert "roc_auc_vs_production" in r3.failed and r3.production_metrics["roc_auc"] > 0.7
    assert r1.best_params == {"learning_rate": 0.12} and r1.cv_best_score is not None
    assert (r1.train_rows, r1.holdout_rows) == (1200, 1500) and r1.data_hash == r2.data_hash
    assert {"model_card.html", "blessing.json", "training.json"} <= set(r1.files)
    assert runs.list_runs(client, TEST_BUCKET, "diabetes") == [] and runs.datasets(client, TEST_BUCKET) == [
        "credit"
    ]
    assert tracking.list_runs(client, TEST_BUCKET, "credit", limit=1)[0].run["run_id"] == "r3"


def test_get_and_compare_runs(client):
    refs = [r.ref for r in tracking.list_runs(client, TEST_BUCKET)]
    one = tracking.get_run(client, TEST_BUCKET, refs[0])
    assert one.ref == refs[0] and one.blessed is False
    chosen = tracking.get_runs(client, TEST_BUCKET, refs)
    table = tracking.compare_runs(chosen)
    assert table.labels == refs
    estimators = next(v for s, k, v in table.rows if (s, k) == ("model", "estimator"))
    assert estimators == ["dummy", "logistic_regression", "hist_gradient_boosting"]
    plot = tracking.metric_table(chosen)
    assert set(plot) == {"accuracy", "f1", "log_loss", "precision", "recall", "roc_auc"}
    assert plot["roc_auc"][0] == pytest.approx(0.5)


def test_run_refs_are_checked(client):
    with pytest.raises(ConfigError, match="A run is named <dataset>/<run_key>"):
        tracking.get_run(client, TEST_BUCKET, "credit/../models")
    with pytest.raises(InputReadError, match="No training run 'credit/nope'"):
        tracking.get_run(client, TEST_BUCKET, "credit/nope")
    ref = tracking.list_runs(client, TEST_BUCKET)[0].ref
    with pytest.raises(ConfigError, match="Compare needs 2 to 8 different runs. Got 1"):
        tracking.get_runs(client, TEST_BUCKET, [ref, ref])


def test_half_written_and_old_candidates_are_listed_with_their_problem(client):
    """A candidate with only a model is "incomplete"; one whose training.json is of another schema says so."""
    half = artifacts.candidate_prefix(TEST_BUCKET, "credit", "r8_half")
    old = artifacts.candidate_prefix(TEST_BUCKET, "credit", "r9_old")
    storage.put_bytes(client, artifacts.model_uri(half), b"not read")
    storage.put_json(client, artifacts.training_uri(old), {"kind": "training_record", "schema_version": 0})
    try:
        found = {r.run_key: r for r in tracking.list_runs(client, TEST_BUCKET, "credit")}
        assert (found["r8_half"].status, found["r8_half"].metrics, found["r8_half"].problems) == (
            "incomplete",
            {},
            [],
        )
        assert found["r9_old"].status == "incomplete" and found["r9_old"].window == {}
        assert "schema_version 0" in found["r9_old"].problems[0]
        assert len(found) == 5 and json.dumps([r.to_dict() for r in found.values()])
    finally:
        for uri in (artifacts.model_uri(half), artifacts.training_uri(old)):
            storage.delete(client, uri)
    assert records.metric_values({"roc_auc": 0.8, "n": float("nan"), "ok": True}) == {
        "n": None,
        "ok": None,
        "roc_auc": 0.8,
    }


def _move(seq: int, version: str, previous: str | None, **kw):
    fields = dict(dataset="credit", alias="production", version=version, manifest_sha256="m" * 64)
    fields.update(previous_version=previous, sequence=seq, action="promote", actor="pytest", reason="test")
    pointer = artifacts.ProductionPointer(updated_at=f"2026-01-0{seq}T03:00:00Z", **{**fields, **kw})
    return pointer, artifacts.AuditEvent.for_pointer(pointer)


def test_pointer_history_joins_pointer_versions_and_audit_events():
    (_, a1), (p2, a2), (p3, a3) = (
        _move(1, "v0001", None),
        _move(2, "v0002", "v0001"),
        _move(3, "v0003", "v0002"),
    )
    retried, _ = _move(3, "v0003", "v0002", reason="retried PUT, same move")
    history = records.pointer_history([(p3, "s3v3"), (retried, "s3v3b"), (p2, "s3v2")], [a1, a2])
    assert [(m.sequence, m.s3_version_id, m.current) for m in history] == [
        (1, None, False),
        (2, "s3v2", False),
        (3, "s3v3", True),  # the newest pointer version of a sequence wins
    ]
    assert [m.problem for m in history] == [
        "the bucket keeps no pointer version for this move",
        None,
        "no audit event for this move",
    ]
    # only the newest pointer versions were read: an older audited move is not a problem
    partial = records.pointer_history([(p3, "s3v3"), (p2, "s3v2")], [a1, a2, a3], complete=False)
    assert [(m.sequence, m.problem) for m in partial] == [(1, None), (2, None), (3, None)]
    assert partial[0].time == a1.created_at and partial[0].to_dict()["audited"] is True
    forged = records.pointer_history([(p2, "x")], [dataclasses.replace(a2, version="v0009")])
    assert forged[0].problem == "audit event says v0001 -> v0009, the pointer v0001 -> v0002"


def test_tracking_imports_only_ground_modules():
    """Read-only views: no lifecycle step, no CLI, no Airflow; only the ground under include/mlops."""
    ground = {"config", "storage", "artifacts", "metrics", "errors", "serialization", "models", "profiling"}
    package = Path(tracking.__file__).parent
    found = set()
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [
                    f"{node.module}.{a.name}" for a in node.names if node.module == "mlops"
                ]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            found |= {n.split(".")[1] for n in names if n.startswith("mlops.")}
            assert not any(n.split(".")[0] in {"airflow", "boto3", "botocore"} for n in names), (path, names)
    assert found - {"tracking", "_util"} <= ground, found - ground


# ---------------------------------------------------------------- the viewer's allowlist
@pytest.mark.parametrize(
    "key",
    [
        "candidates/credit/manual__2026-02-17T03_00_00_00_00__1a2b3c4d/model_card.html",
        "candidates/credit/r1__39f09a3d/blessing.json",
        "models/credit/versions/v0007/manifest.json",
        "models/credit/audit/production-00000002.json",
        "monitoring/credit/2026-02-24/report.html",
        "monitoring/credit/history/2026-02-24.json",
        "data/credit/features/dt=2026-02-20/batch.validation.html",
        "quarantine/data/credit/features/dt=2026-02-20/batch.validation.json",
        "predictions/credit/2026-02-20/_SUCCESS",
    ],
)
def test_viewer_serves_reports(key):
    assert viewer.artifact_kind(TEST_BUCKET, key) is not None


@pytest.mark.parametrize(
    "key",
    [
        "candidates/credit/r1/model.skops",
        "models/credit/versions/v0007/model.skops",
        "data/credit/features/dt=2026-02-20/batch.parquet",
        "predictions/credit/2026-02-20/attempt=1/part-00000-of-00001.parquet",
        "candidates/credit/../../models/credit/aliases/production.json",
        "candidates/credit/./r1/blessing.json",
        "candidates/credit//blessing.json",
        "candidates/credit/..%2F/blessing.json",
        "/etc/passwd",
        "",
    ],
)
def test_viewer_refuses_models_data_and_traversal(key):
    assert viewer.artifact_kind(TEST_BUCKET, key) is None


def test_viewer_serves_every_report_the_artifact_builders_name():
    b, day = TEST_BUCKET, "2026-02-24"
    cand = artifacts.candidate_prefix(b, "credit", "manual__2026-02-24T03:00:00+00:00__1a2b")
    version = artifacts.version_prefix(b, "credit", "v0007")
    batch = artifacts.batch_uri(b, "credit", day)
    files = [artifacts.model_card_uri, artifacts.metrics_uri, artifacts.blessing_uri, artifacts.training_uri]
    files.append(artifacts.reference_profile_uri)
    served = [f(prefix) for f in files for prefix in (cand, version)] + [
        artifacts.manifest_uri(b, "credit", "v0007"),
        artifacts.production_pointer_uri(b, "credit"),
        artifacts.audit_uri(b, "credit", "production-00000002"),
        artifacts.audit_uri(b, "credit", "publish-v0007"),
        artifacts.tombstone_uri(b, "credit", "v0007"),
        *(
            f(b, "credit", day)
            for f in (artifacts.report_uri, artifacts.report_json_uri, artifacts.drift_uri)
        ),
        *(
            f(b, "credit", day)
            for f in (artifacts.performance_uri, artifacts.night_uri, artifacts.history_uri)
        ),
        artifacts.alert_uri(b, "credit", day),
        artifacts.retrain_request_uri(b, "credit", day),
        artifacts.validation_uri(batch),
        artifacts.docs_uri(batch),
        artifacts.validation_uri(artifacts.quarantine_uri(batch)),
        artifacts.validation_uri(artifacts.labels_uri(b, "credit", day)),
        artifacts.success_uri(artifacts.predictions_prefix(b, "credit", day)),
    ]
    assert [u for u in served if viewer.artifact_kind(*storage.parse_uri(u)) is None] == []
    refused = [
        artifacts.model_uri(cand),
        artifacts.model_uri(version),
        batch,
        artifacts.labels_uri(b, "credit", day),
    ]
    assert [u for u in refused if viewer.artifact_kind(*storage.parse_uri(u)) is not None] == []


def test_viewer_only_reads_configured_buckets(monkeypatch):
    key = "monitoring/credit/2026-02-24/report.html"
    assert viewer.artifact_kind("someone-else", key) is None
    monkeypatch.setenv(viewer.EXTRA_BUCKETS_ENV, "someone-else, third")
    assert viewer.artifact_kind("someone-else", key) == "monitoring report"
    assert viewer.viewer_path(f"s3://b/{key}", "/base/") == f"/base/mlops/artifacts/b/{key}"


# ---------------------------------------------------------------- CLI
def test_cli_runs_list_show_compare(world, capsys, monkeypatch):
    monkeypatch.setattr(storage, "client_from_env", lambda *a, **k: world["client"])
    assert main(["runs", "list", "--bucket", TEST_BUCKET]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 3 and "not blessed" in listed[0] and "published v0001" in listed[2]
    assert main(["runs", "list", "credit", "--bucket", TEST_BUCKET, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    refs = [r["ref"] for r in rows]
    assert main(["runs", "show", refs[0], "--bucket", TEST_BUCKET]) == 0
    assert "VERDICT: NOT BLESSED" in capsys.readouterr().out
    assert main(["runs", "--json", "compare", *refs[:2], "--changed", "--bucket", TEST_BUCKET]) == 0
    compared = json.loads(capsys.readouterr().out)
    assert compared["labels"] == refs[:2] and all(r["changed"] for r in compared["rows"])
    assert main(["runs", "show", "credit/nope", "--bucket", TEST_BUCKET]) == 2
    assert "No training run 'credit/nope'" in capsys.readouterr().err

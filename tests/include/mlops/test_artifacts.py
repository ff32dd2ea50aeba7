"""The artifact contract: every artifact round-trips, readers are strict, URIs match the README layout."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlops import artifacts as a
from mlops import storage
from mlops.errors import ArtifactSchemaError

B, DS, DAY, TS = "mlops-test", "credit", "2026-02-17", "2026-02-17T03:00:00Z"
CAND = f"s3://{B}/candidates/{DS}/run1__abcd1234/"
SHA = "a" * 64


def signature() -> a.FeatureSignature:
    return a.FeatureSignature.of(
        [
            a.FeatureColumn("age", "numeric", "float64", False),
            a.FeatureColumn("job", "categorical", "object", True),
        ]
    )


def evaluation(auc: float) -> a.ModelEvaluation:
    slices = {"job": {"clerk": {"n": 40, "metrics": {"roc_auc": auc}}}}
    return a.ModelEvaluation(
        {"roc_auc": auc, "log_loss": None}, slices, {"labels": [0, 1], "matrix": [[5, 1], [2, 7]]}, 15
    )


def training_record() -> a.TrainingRecord:
    day = a.LineageDay(
        DAY, "holdout", a.batch_uri(B, DS, DAY), "v1", SHA, 300, a.labels_uri(B, DS, DAY), None, SHA, 290,
        a.validation_uri(a.batch_uri(B, DS, DAY)), 290,
    )  # fmt: skip
    return a.TrainingRecord(
        dataset=DS, task="classification", candidate_uri=CAND, created_at=TS,
        run={"run_id": "run1", "dag_id": "mlops_training", "try_number": 1},
        request={"day": DAY, "window_days": 14, "estimator": "logistic_regression", "search": "config"},
        window=a.TrainingWindow("2026-02-04", DAY, 14, [DAY], [a.batch_uri(B, DS, DAY)], {"2026-02-05": "no batch"}),
        excluded_days={"2026-02-05": "no batch"},
        split=a.TrainingSplit("time", ["2026-02-16"], [DAY], "2026-02-16", "2026-02-16", DAY, DAY, 280, 290, 0.3, 0.31),
        lineage=[day], data_hash=SHA,
        model_plan=a.ModelPlan("logistic_regression", {"C": 1.0}, None, None, 7, ["note"]),
        estimator_params={"C": 1.0}, best_params={}, cv=None, fit_seconds=1.5, feature_signature=signature(),
        target="default", id_column="id", date_column="event_date", importances={"age": 0.1, "job": 0.02},
        canned_rows=[{"age": 31.0, "job": None}], model_uri=a.model_uri(CAND), model_version_id="v9",
        model_sha256=SHA, model_size=1234, config={"name": DS}, config_sha256=SHA,
        libraries={"python": "3.11.9", "sklearn": "1.9.1"},
    )  # fmt: skip


def metrics() -> a.CandidateMetrics:
    return a.CandidateMetrics(
        dataset=DS, task="classification", candidate_uri=CAND, primary_metric="roc_auc",
        holdout_start=DAY, holdout_end=DAY, holdout_days=[DAY], holdout_rows=290, data_hash=SHA,
        candidate=evaluation(0.81), production=evaluation(0.80), baseline_version="v0006",
        baseline_pointer_etag='"etag6"', baseline_error=None, evaluated_at=TS,
    )  # fmt: skip


def blessing(*, auc_verdict: str = "pass", forced: bool = False) -> a.Blessing:
    rules = [
        a.GateRule("min_roc_auc", "floor", "roc_auc", 0.81, None, ">= 0.7", auc_verdict),
        a.GateRule("slices", "slice", "roc_auc", None, None, "-", "skip", "no slices"),
        a.GateRule("reloads_from_bytes", "behaviour", None, None, None, "loads", "pass"),
    ]
    return a.Blessing.new(
        blessed=auc_verdict != "fail", dataset=DS, candidate_uri=CAND, model_sha256=SHA, data_hash=SHA,
        baseline_version="v0006", baseline_pointer_etag='"etag6"', primary_metric="roc_auc",
        candidate_metrics={"roc_auc": 0.81}, production_metrics=None, thresholds={"min_roc_auc": 0.7},
        rules=rules, forced=forced, force_reason="hotfix for the demo" if forced else "", actor="alice",
        evaluation_id=CAND,
    )  # fmt: skip


def manifest() -> a.VersionManifest:
    vp = a.version_prefix(B, DS, "v0007")
    entry = a.ArtifactEntry(a.model_uri(vp), SHA, 1234, "s3v1")
    record = training_record()
    return a.VersionManifest(
        dataset=DS, version="v0007", created_at=TS, candidate_uri=CAND, run={"run_id": "run1"},
        artifacts={a.MODEL_FILE: entry, a.TRAINING_FILE: a.ArtifactEntry(a.training_uri(vp), "b" * 64, 99, None)},
        model_format="skops", model_sha256=SHA, task="classification", model_plan=record.model_plan,
        params={"C": 1.0}, best_params={}, seed=7, feature_signature=signature(),
        training_data=a.TrainingLineage.of(record), metrics=metrics(), blessing=blessing(),
        code_version={"git_sha": "unknown", "source": "unknown"}, libraries={"python": "3.11.9"},
        forced=False, force_reason="",
    )  # fmt: skip


def pointer() -> a.ProductionPointer:
    return a.ProductionPointer(
        dataset=DS, alias="production", version="v0007", manifest_sha256=SHA, previous_version="v0006",
        sequence=3, action="promote", actor="alice", reason="blessed by the gate", updated_at=TS,
        evaluation_id=CAND, request_id="mlops_training/run1/promote", run={"run_id": "run1"},
    )  # fmt: skip


def profile() -> a.ReferenceProfile:
    stats = {"0.5": 39.0}, [30.0, 50.0], [30, 40, 29], [18.0, 39.0, 80.0]
    num = a.NumericProfile("numeric", 99, 1, 0.01, 40.0, 9.5, 18.0, 80.0, *stats)
    cat = a.CategoricalProfile(
        "categorical", 100, 0, 0.0, {"clerk": 60, "chef": 40}, {"clerk": 0.6, "chef": 0.4}, 2
    )
    pred = a.NumericProfile("probability", 100, 0, 0.0, 0.3, 0.2, 0.0, 1.0, {}, [0.5], [70, 30], [0.1], 0.3)
    return a.ReferenceProfile(
        DS, "classification", 100, 10, {"age": num, "job": cat}, pred, cat, {"age": 0.1}
    )


def feature_drift(name: str, status: str, drift: bool) -> a.FeatureDrift:
    th = a.DriftThresholds(0.1, 0.25, 0.05, 0.1, 0.05)
    return a.FeatureDrift(
        name, "numeric", "ks", 0.2, 0.01, 0.02, 0.05, drift, 0.3, 0.01, 0.01, 0.02, False, drift, status,
        100, 120, th, plot={"type": "histogram", "edges": [0, 1], "ref": [1.0], "cur": [1.0]},
    )  # fmt: skip


def drift() -> a.DriftReport:
    return a.DriftReport(
        dataset=DS, day=DAY, model_version="v0007", run_id="night1", verdict="ALERT", dataset_drift=True,
        drift_share=0.5, drift_share_limit=0.5, weighted=False, n_ref=100, n_cur=120, p_value_adjust="holm",
        features=[feature_drift("job", "ok", False), feature_drift("age", "alert", True)],
        prediction=feature_drift("prediction", "warn", True), reference_uri=a.reference_profile_uri(CAND),
        reference_window={"start": "2026-02-04", "end": DAY, "window_days": 14},
        current_window={"start": DAY, "end": DAY, "days": [DAY], "requested_days": 7, "skipped": {}},
        prediction_rows=120, manifest_created_at=TS, drift_uri=a.drift_uri(B, DS, DAY),
        report_uri=a.report_uri(B, DS, DAY), report_json_uri=a.report_json_uri(B, DS, DAY),
    )  # fmt: skip


def success() -> a.SuccessMarker:
    out = a.predictions_prefix(B, DS, DAY)

    def entry(path: str, rows: int) -> a.PartEntry:
        return a.PartEntry(path, out + path, rows, 2048, SHA, "s3v", 0, 0, 100)

    return a.SuccessMarker.new(
        dataset=DS, partition_uri=out, run_id="score1", attempt="abc123", model_ref="production",
        model_version="v0007", model_sha256=SHA, input_uri=a.batch_uri(B, DS, DAY), input_version_id="s3v0",
        rows_in=100, rows_scored=98, rows_rejected=2, reject_fraction=0.02, max_reject_fraction=0.05,
        num_shards=1, parts=[entry(a.part_path("abc123", 0, 1), 98)],
        rejects=[entry(a.rejects_path("abc123", 0, 1), 2)], reject_reasons={"not a number": 2},
    )  # fmt: skip


def validation() -> a.ValidationResult:
    batch = a.batch_uri(B, DS, DAY)
    checks = [
        a.ExpectationOutcome("expect_column_values_to_not_be_null", "age", True, "ok", element_count=300),
        a.ExpectationOutcome("expect_column_values_to_be_between", "age", False, "age out of range",
                             unexpected_count=3, samples=[-1, 200], kwargs={"min_value": 0}),
    ]  # fmt: skip
    source = a.BatchSource(
        batch, '"e1"', "s3v0", 4096, SHA, "parquet", a.LabelsSource(a.labels_uri(B, DS, DAY), None, "l1")
    )
    return a.ValidationResult(
        dataset=DS, batch_uri=batch, success=False, labelled=True, row_count=300, column_count=12,
        suite=f"{DS}_labelled", suite_digest="d1", evaluated=2, successful=1, checks=checks,
        summary=["Column 'age': 3 values out of range"], checked_at=TS, seconds=0.4, gx_version="1.24.1",
        source=source, run_id="val1", validation_uri=a.validation_uri(batch), docs_uri=a.docs_uri(batch),
        quarantine_uri=a.quarantine_uri(batch),
    )  # fmt: skip


SAMPLES = {
    "feature_signature": signature,
    "training_record": training_record,
    "candidate_metrics": metrics,
    "blessing": blessing,
    "version_manifest": manifest,
    "production_pointer": pointer,
    "audit_event": lambda: a.AuditEvent.for_pointer(
        pointer(), pointer_etag='"e3"', pointer_version_id="s3v3"
    ),
    "tombstone": lambda: a.Tombstone(DS, "v0002", TS, "retention", "retention policy"),
    "predictions_success": success,
    "reference_profile": profile,
    "drift_report": drift,
    "validation_result": validation,
}
PARAMS = pytest.mark.parametrize("kind", sorted(SAMPLES))


@PARAMS
def test_round_trips_through_dict_and_json(kind):
    art = SAMPLES[kind]()
    assert art.KIND == kind and art.to_dict()["schema_version"] == 1
    assert type(art).from_dict(art.to_dict()) == art
    assert type(art).from_json_bytes(art.to_json_bytes()) == art


@PARAMS
def test_round_trips_through_s3(s3, bucket, kind):
    art = SAMPLES[kind]()
    uri = f"s3://{bucket}/contract/{kind}.json"
    put = a.write_artifact(s3, uri, art, if_none_match=True)
    assert storage.sha256_bytes(storage.get_bytes(s3, uri)) == storage.sha256_bytes(art.to_json_bytes())
    assert a.read_artifact(s3, uri, type(art)) == art
    assert a.read_artifact(s3, uri, type(art), version_id=put.version_id) == art


@PARAMS
def test_unknown_schema_version_is_refused_naming_object_and_version(s3, bucket, kind):
    art = SAMPLES[kind]()
    uri = f"s3://{bucket}/contract/{kind}.json"
    storage.put_json(s3, uri, {**art.to_dict(), "schema_version": 99})
    with pytest.raises(ArtifactSchemaError, match=rf"{kind} at {re.escape(uri)} has schema_version 99"):
        a.read_artifact(s3, uri, type(art))


@PARAMS
def test_missing_and_unknown_fields_are_refused(kind):
    art = SAMPLES[kind]()
    data = art.to_dict()
    field = next(f for f in data if f not in ("kind", "schema_version") + type(art).DERIVED)
    with pytest.raises(ArtifactSchemaError, match=rf"{kind} at s3://x/y lacks the field\(s\) \['{field}'\]"):
        type(art).from_dict({k: v for k, v in data.items() if k != field}, source="s3://x/y")
    with pytest.raises(ArtifactSchemaError, match=r"unknown field\(s\) \['surprise'\] for schema_version 1"):
        type(art).from_dict({**data, "surprise": 1})


def test_reading_the_wrong_kind_or_non_json_is_refused(s3, bucket):
    uri = f"s3://{bucket}/models/{DS}/aliases/production.json"
    a.write_artifact(s3, uri, blessing())
    with pytest.raises(ArtifactSchemaError, match="is a 'blessing', expected a 'production_pointer'"):
        a.read_artifact(s3, uri, a.ProductionPointer)
    storage.put_bytes(s3, uri, b"{not json")
    with pytest.raises(ArtifactSchemaError, match="production_pointer at .* is not JSON"):
        a.read_artifact(s3, uri, a.ProductionPointer)
    with pytest.raises(ArtifactSchemaError, match="is a list, expected a JSON object"):
        a.ProductionPointer.from_dict([1])


def test_nested_parts_are_strict_and_name_their_path():
    data = blessing().to_dict()
    del data["rules"][1]["verdict"]
    with pytest.raises(ArtifactSchemaError, match=r"GateRule at s3://c/blessing.json field rules\[1\] lacks"):
        a.Blessing.from_dict(data, source="s3://c/blessing.json")
    data = manifest().to_dict()
    data["blessing"]["schema_version"] = 2
    with pytest.raises(ArtifactSchemaError, match="blessing at <dict> field blessing has schema_version 2"):
        a.VersionManifest.from_dict(data)


def test_derived_keys_are_written_and_recomputed_on_read():
    data = blessing(auc_verdict="fail", forced=True).to_dict()
    assert data["failed"] == ["min_roc_auc"] and data["publish"] is True
    assert data["verdict"].startswith("VERDICT: NOT BLESSED") and data["verdict"].endswith(
        "FORCED: publishing anyway"
    )
    assert data["rules"][0]["passed"] is False
    data["verdict"] = "tampered"
    assert a.Blessing.from_dict(data).verdict_line().startswith("VERDICT: NOT BLESSED")
    report = drift().to_dict()
    assert report["drifted_features"] == ["age"] and report["prediction_drift"] is True
    assert report["features"][0]["psi_adjusted"] == pytest.approx(0.29)
    result = validation().to_dict()
    assert result["verdict"] == "rejected" and [f["column"] for f in result["failures"]] == ["age"]


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: blessing(auc_verdict="fail").__class__(**{**vars(blessing(auc_verdict="fail")), "blessed": True}),
         "blessed must equal 'no rule failed'"),
        (lambda: a.Tombstone(DS, "v0002", "2026-02-17T03:00:00.123Z", "r", "x"), "retired_at must be a UTC timestamp"),
        (lambda: a.Tombstone(DS, "v0002", "2026-02-17T03:00:00+00:00", "r", "x"), "like 2026-02-17T03:00:00Z"),
        (lambda: a.Tombstone(DS, "v2", TS, "r", "x"), "must be a version id like v0007. Got 'v2'"),
        (lambda: a.FeatureSignature([a.FeatureColumn("age", "numeric", "float64", False)], "0" * 64),
         "does not match its columns"),
        (lambda: a.FeatureColumn("age", "number", "float64", False), r"must be one of \['numeric', 'categorical', 'boolean'\]"),
        (lambda: a.AuditEvent.new(dataset=DS, action="promote", version="v0007", actor="a", reason="r"),
         "alias and sequence are required for promote"),
        (lambda: a.AuditEvent.new(dataset=DS, action="delete", version="v0007", actor="a", reason="r"),
         "'action' field of audit_event must be one of"),
        (lambda: a.VersionManifest(**{**vars(manifest()), "model_sha256": "c" * 64}),
         r"must equal artifacts\['model.skops'\].sha256"),
        (lambda: a.VersionManifest(**{**vars(manifest()), "run": {"dag_id": "x"}}), "non-empty 'run_id'"),
        (lambda: a.SuccessMarker(**{**vars(success()), "num_shards": 2}), r"parts cover shards \[0\], expected 0..1"),
        (lambda: a.SuccessMarker(**{**vars(success()), "rows_rejected": 3}), "98 scored \\+ 3 rejected != 100"),
        (lambda: a.SuccessMarker(**{**vars(success()), "partition_uri": "s3://b/p"}), "must end with '/'"),
    ],
)  # fmt: skip
def test_invariants_are_checked_at_construction(build, match):
    with pytest.raises(ArtifactSchemaError, match=match):
        build()


def test_audit_event_ids_and_convenience_constructors():
    promote = a.AuditEvent.for_pointer(pointer())
    assert promote.event_id == "production-00000003" and promote.created_at == TS
    assert (promote.from_version, promote.version, promote.action) == ("v0006", "v0007", "promote")
    publish = a.AuditEvent.new(
        dataset=DS, action="publish", version="v0007", actor="a", reason="blessed", blessed=True
    )
    assert publish.event_id == "publish-v0007" and re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", publish.created_at
    )
    assert a.audit_uri(B, DS, publish.event_id) == f"s3://{B}/models/{DS}/audit/publish-v0007.json"
    assert (
        a.ProductionPointer.new(**{k: v for k, v in vars(pointer()).items() if k != "updated_at"}).sequence
        == 3
    )


def test_manifest_exposes_the_one_holdout_baseline_and_lineage():
    m = manifest()
    assert m.holdout_metrics == {"roc_auc": 0.81} and m.estimator == "logistic_regression" and m.blessed
    lineage = m.training_data
    assert lineage.row_count == 290 and lineage.days == [DAY] and lineage.window["start"] == "2026-02-04"
    assert lineage.data_uris == [a.batch_uri(B, DS, DAY), a.labels_uri(B, DS, DAY)]
    assert lineage.split["holdout_rows"] == 290 and "train_days" not in lineage.split
    assert success().part_uris == [
        a.predictions_prefix(B, DS, DAY) + "attempt=abc123/part-00000-of-00001.parquet"
    ]


def _readme_layout() -> str:
    text = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    return text.split("### S3 layout", 1)[1].split("```")[1]


def test_uri_builders_match_the_readme_s3_layout():
    run_key = "scheduled__2026-02-17T03_00_00+00_00"
    batch = a.batch_uri(B, DS, DAY)
    built = {
        "data/<dataset>/features/dt=YYYY-MM-DD/batch.parquet": batch,
        "data/<dataset>/features/dt=YYYY-MM-DD/batch.validation.json": a.validation_uri(batch),
        "data/<dataset>/labels/dt=YYYY-MM-DD/labels.parquet": a.labels_uri(B, DS, DAY),
        "quarantine/data/<dataset>/features/dt=.../batch.parquet": a.quarantine_uri(batch),
        "candidates/<dataset>/<run>/": a.candidate_prefix(B, DS, run_key),
        "models/<dataset>/versions/vNNNN/": a.version_prefix(B, DS, "v0007"),
        "models/<dataset>/aliases/production.json": a.production_pointer_uri(B, DS),
        "models/<dataset>/audit/": a.audit_prefix(B, DS),
        "predictions/<dataset>/YYYY-MM-DD/": a.predictions_prefix(B, DS, DAY),
        "monitoring/<dataset>/YYYY-MM-DD/": a.monitoring_prefix(B, DS, DAY),
    }
    layout = _readme_layout()
    subs = {
        "<dataset>": DS,
        "YYYY-MM-DD": DAY,
        "dt=...": f"dt={DAY}",
        "vNNNN": "v0007",
        "<run>": a.safe_key(run_key),
    }
    for pattern, uri in built.items():
        assert pattern in layout, f"README's S3 layout no longer lists {pattern}"
        expected = pattern
        for token, value in subs.items():
            expected = expected.replace(token, value)
        assert uri == f"s3://{B}/{expected}"
    assert a.manifest_uri(B, DS, "v0007") == a.version_prefix(B, DS, "v0007") + "manifest.json"
    assert a.success_uri(a.predictions_prefix(B, DS, DAY)).endswith(f"predictions/{DS}/{DAY}/_SUCCESS")
    assert a.drift_uri(B, DS, DAY) == f"s3://{B}/monitoring/{DS}/{DAY}/drift.json"


def test_file_builders_and_prefixed_locations():
    vp = a.version_prefix(B, DS, "v0012")
    for build, name in [(a.model_uri, "model.skops"), (a.training_uri, "training.json"), (a.metrics_uri, "metrics.json"),
                        (a.blessing_uri, "blessing.json"), (a.model_card_uri, "model_card.html"),
                        (a.reference_profile_uri, "reference_profile.json")]:  # fmt: skip
        assert (
            build(CAND) == CAND + name and build(CAND.rstrip("/")) == CAND + name and build(vp) == vp + name
        )
        assert name in a.VERSION_FILES
    assert a.tombstone_uri(B, DS, "v0003") == f"s3://{B}/models/{DS}/retired/v0003.json"
    assert a.alias_uri(B, DS, "staging") == f"s3://{B}/models/{DS}/aliases/staging.json"
    assert a.history_uri(B, DS, DAY) == f"s3://{B}/monitoring/{DS}/history/{DAY}.json"
    assert a.alert_uri(B, DS, DAY) == f"s3://{B}/monitoring/{DS}/alerts/{DAY}.json"
    assert a.retrain_request_uri(B, DS, DAY) == a.retrain_requests_prefix(B, DS) + f"{DAY}.json"
    assert a.docs_uri(a.batch_uri(B, DS, DAY)).endswith(f"dt={DAY}/batch.validation.html")
    assert a.format_version(7) == "v0007" and a.format_version(12345) == "v12345"
    with pytest.raises(ArtifactSchemaError, match="version id like v0007. Got '7'"):
        a.version_prefix(B, DS, "7")


def test_feature_signature_keeps_the_training_hash():
    cols = [{"name": "age", "kind": "numeric", "dtype": "float64", "optional": False},
            {"name": "job", "kind": "categorical", "dtype": "object", "optional": True}]  # fmt: skip
    legacy = __import__("hashlib").sha256(json.dumps(cols, sort_keys=True).encode()).hexdigest()
    assert signature().sha256 == legacy and signature().names == ["age", "job"]

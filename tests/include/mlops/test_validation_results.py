"""The recorded ValidationResult: typed write and read, schema errors, reuse rules, GX loaded once and lazily."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from datetime import date

import pytest

from mlops import artifacts, storage, validation
from mlops.dev import datagen
from mlops.errors import ArtifactSchemaError
from mlops.validation import record, run

DAY = date(2026, 1, 1)


@pytest.fixture
def batch(s3, bucket, credit_cfg) -> str:
    datagen.seed_dataset(
        s3,
        bucket,
        credit_cfg,
        start=DAY,
        days=1,
        rows_per_day=300,
        today=date(2026, 1, 10),
        log=lambda m: None,
    )
    return artifacts.batch_uri(bucket, "credit", DAY)


def test_result_beside_the_batch_is_a_typed_artifact(s3, batch, credit_cfg):
    report = validation.validate_and_record(s3, batch, credit_cfg, labelled=True, run_id="manual__7")
    uri = artifacts.validation_uri(batch)
    raw = storage.get_json(s3, uri)
    assert raw["kind"] == "validation_result" and raw["schema_version"] == 1
    assert raw["batch_uri"] == batch and "data_uri" not in raw and raw["verdict"] == "accepted"
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", raw["checked_at"])
    result = artifacts.read_artifact(s3, uri, artifacts.ValidationResult)
    assert result == report.result and result.run_id == "manual__7"
    assert result.source.size == len(storage.get_bytes(s3, batch)) and result.source.format == "parquet"
    assert result.source.labels.uri == artifacts.labels_uri(storage.parse_uri(batch)[0], "credit", DAY)
    assert result.validation_uri == uri and result.docs_uri == artifacts.docs_uri(batch)
    assert validation.read_validation(s3, batch) == result
    assert result.accepts(labelled=True) and validation.is_accepted(s3, batch, labelled=True)


def test_unvalidated_batch_has_no_result(s3, batch):
    assert validation.read_validation(s3, batch) is None
    assert not validation.is_accepted(s3, batch)


def _old_result(s3, batch) -> None:
    """A result as the previous release wrote it: data_uri, no kind or schema_version."""
    old = {"success": True, "data_uri": batch, "labelled": False, "checked_at": "2026-01-01T03:00:00+00:00"}
    storage.put_bytes(s3, artifacts.validation_uri(batch), json.dumps(old).encode())


def test_readers_refuse_a_result_of_another_schema(s3, bucket, batch):
    _old_result(s3, batch)
    with pytest.raises(ArtifactSchemaError, match=r"validation_result at s3://.*schema_version None"):
        validation.read_validation(s3, batch)
    with pytest.raises(ArtifactSchemaError, match="schema_version None"):
        validation.is_accepted(s3, batch)
    with pytest.raises(ArtifactSchemaError, match="schema_version None"):
        validation.summarize_validations(s3, bucket, "credit")


def test_recording_replaces_a_result_of_another_schema(s3, batch, credit_cfg, caplog):
    _old_result(s3, batch)
    with caplog.at_level(logging.WARNING, logger="mlops.validation.record"):
        report = validation.validate_and_record(s3, batch, credit_cfg)
    assert not report.cached and report.success
    assert "cannot reuse the recorded result" in caplog.text and "validating again" in caplog.text
    assert validation.read_validation(s3, batch) == report.result


def _source(**changes) -> artifacts.BatchSource:
    labels = artifacts.LabelsSource(uri="s3://b/labels.parquet", etag='"e"', version_id="v1")
    fields = dict(uri="s3://b/k.parquet", etag='"x"', version_id="v1", size=10, sha256="ab", format="parquet")
    return artifacts.BatchSource(**{**fields, "labels": labels, **changes})


@pytest.mark.parametrize(
    "change",
    [
        {"sha256": "cd"},
        {"version_id": "v2"},
        {"labels": None},
        {"labels": artifacts.LabelsSource(uri="s3://b/labels.parquet", etag='"f"', version_id="v2")},
    ],
)
def test_a_result_is_reused_only_for_the_same_bytes_labels_suite_and_scope(change):
    previous = _fake_result(_source())
    assert record._same_input(previous, _source(), "d1", True)
    assert not record._same_input(previous, _source(**change), "d1", True)
    assert not record._same_input(previous, _source(), "d2", True)
    assert not record._same_input(previous, _source(), "d1", False)
    assert not record._same_input(_fake_result(None), _source(), "d1", True)


def _fake_result(source) -> artifacts.ValidationResult:
    return artifacts.ValidationResult(
        dataset="credit",
        batch_uri="s3://b/k.parquet",
        success=True,
        labelled=True,
        row_count=1,
        column_count=1,
        suite="credit.labelled",
        suite_digest="d1",
        evaluated=0,
        successful=0,
        checks=[],
        summary=[],
        checked_at="2026-01-01T03:00:00Z",
        seconds=0.0,
        gx_version="",
        source=source,
        run_id=None,
        validation_uri=None,
        docs_uri=None,
        quarantine_uri=None,
    )


def test_importing_validation_does_not_import_gx():
    code = "import sys, mlops.validation, mlops.commands.validate; print('great_expectations' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_gx_is_set_up_once_per_process(credit_cfg, credit_day):
    run._gx.cache_clear()
    for _ in range(2):
        validation.validate_frame(credit_day[0].head(150), credit_cfg)
    info = run._gx.cache_info()
    assert info.misses == 1 and info.hits == 1

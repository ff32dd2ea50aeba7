"""The recorded ValidationResult: typed write and read, schema errors, the cache (object version and
suite sha256), GX loaded once and lazily."""

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
from mlops.validation import run
from mlops.validation.suite import suite_sha256

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


def _reads_of(s3) -> list[dict]:
    """Every GetObject the client sends from now on (a reused result never reads the batch)."""
    calls: list[dict] = []
    s3.meta.events.register(
        "before-parameter-build.s3.GetObject", lambda params, **_: calls.append(dict(params))
    )
    return calls


def _batch_reads(calls: list[dict], batch: str) -> int:
    return sum(1 for c in calls if c["Key"] == storage.parse_uri(batch)[1])


def test_a_result_is_reused_while_the_object_version_and_the_suite_match(s3, batch, credit_cfg, caplog):
    first = validation.validate_and_record(s3, batch, credit_cfg, labelled=True)
    assert not first.cached
    assert first.result.source.version_id == storage.head(s3, batch)["VersionId"]
    assert first.result.suite_digest == suite_sha256(validation.load_suite(credit_cfg, labelled=True))
    calls = _reads_of(s3)
    with caplog.at_level(logging.INFO, logger="mlops.validation.record"):
        again = validation.validate_and_record(s3, batch, credit_cfg, labelled=True)
    assert again.cached and again.result == first.result
    assert f"reused validation result from {artifacts.validation_uri(batch)}" in caplog.text
    assert _batch_reads(calls, batch) == 0  # neither downloaded nor validated again
    assert not validation.validate_and_record(s3, batch, credit_cfg).cached  # other scope: other suite


def test_a_result_is_not_reused_after_the_batch_is_overwritten(s3, batch, credit_cfg):
    first = validation.validate_and_record(s3, batch, credit_cfg)
    features, _ = datagen.generate_day(credit_cfg, DAY, 300, seed=99)
    storage.write_parquet(s3, batch, features)  # same key, new bytes: a new object version
    calls = _reads_of(s3)
    second = validation.validate_and_record(s3, batch, credit_cfg)
    assert not second.cached and _batch_reads(calls, batch) >= 1
    assert second.result.source.version_id != first.result.source.version_id
    assert second.result.source.sha256 != first.result.source.sha256
    assert validation.read_validation(s3, batch) == second.result


def test_a_result_is_not_reused_after_the_suite_is_edited(s3, batch, credit_cfg, tmp_path, monkeypatch):
    first = validation.validate_and_record(s3, batch, credit_cfg)
    edited = json.loads(validation.suite_path("credit").read_text())
    edited["expectations"].append(
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "age", "min_value": 18, "max_value": 99},
            "meta": {"source": "hand-written", "scope": "all"},
        }
    )
    (tmp_path / "credit.json").write_text(json.dumps(edited))
    monkeypatch.setenv("MLOPS_EXPECTATIONS_DIR", str(tmp_path))
    second = validation.validate_and_record(s3, batch, credit_cfg)
    assert not second.cached and second.result.suite_digest != first.result.suite_digest
    assert second.result.evaluated == first.result.evaluated + 1
    assert validation.validate_and_record(s3, batch, credit_cfg).cached  # unchanged from here on


def test_a_labelled_result_is_not_reused_after_the_labels_are_overwritten(s3, bucket, batch, credit_cfg):
    first = validation.validate_and_record(s3, batch, credit_cfg, labelled=True)
    labels_uri = first.result.source.labels.uri
    storage.put_bytes(s3, labels_uri, storage.get_bytes(s3, labels_uri))  # same bytes, new version
    second = validation.validate_and_record(s3, batch, credit_cfg, labelled=True)
    assert not second.cached
    assert second.result.source.labels.version_id != first.result.source.labels.version_id


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

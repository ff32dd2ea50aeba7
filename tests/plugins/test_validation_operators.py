"""ValidateBatchOperator and ValidateWindowOperator against the moto S3 server: verdicts, quarantine,
log lines, reuse of recorded results, bad input."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlops import artifacts, storage
from mlops.dev import datagen
from mlops_operators.validation import ValidateBatchOperator, ValidateWindowOperator

BUCKET = "mlops-test"
BAD_DAY = date(2026, 1, 2)


@pytest.fixture
def seeded(server_s3, credit_cfg):
    datagen.seed_dataset(
        server_s3,
        BUCKET,
        credit_cfg,
        start=date(2026, 1, 1),
        days=2,
        rows_per_day=300,
        today=date(2026, 1, 10),  # labels of both days have landed
        scenario=datagen.Scenario(bad_days=(BAD_DAY,)),
        log=lambda m: None,
    )
    return server_s3


def _op(day, **kwargs) -> ValidateBatchOperator:
    return ValidateBatchOperator(
        task_id="validate_batch",
        dataset="credit",
        batch_uri=artifacts.batch_uri(BUCKET, "credit", day),
        **kwargs,
    )


def _logs(capsys, caplog) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err + caplog.text


def test_clean_batch_returns_small_metadata_and_writes_the_result(seeded, capsys, caplog):
    op = _op(date(2026, 1, 1))
    assert op.template_fields == ("dataset", "batch_uri", "labelled", "fail_on_reject")
    result = op.execute(context={})
    uri = artifacts.batch_uri(BUCKET, "credit", date(2026, 1, 1))
    assert result["success"] is True and result["batch_uri"] == uri
    assert result["validation_uri"] == artifacts.validation_uri(uri) and result["row_count"] == 300
    assert len(json.dumps(result)) < 1000  # XCom stays small
    recorded = artifacts.read_artifact(seeded, result["validation_uri"], artifacts.ValidationResult)
    assert recorded.verdict == "accepted" and recorded.batch_uri == uri
    assert storage.exists(seeded, result["docs_uri"])
    logs = _logs(capsys, caplog)
    assert f"VERDICT: PASS {uri}" in logs and f"data docs: {result['docs_uri']}" in logs

    again = op.execute(context={})  # a retry reuses the recorded result
    assert again["cached"] is True and again["success"] is True
    logs = _logs(capsys, caplog)
    assert f"reused validation result from {artifacts.validation_uri(uri)}" in logs
    assert f"VERDICT: PASS {uri}" in logs


def test_bad_batch_fails_logs_each_expectation_and_quarantines(seeded, capsys, caplog):
    uri = artifacts.batch_uri(BUCKET, "credit", BAD_DAY)
    with pytest.raises(AirflowFailException, match=r'failed validation .*column "credit_score"'):
        _op(BAD_DAY).execute(context={})
    logs = _logs(capsys, caplog)
    assert 'FAIL column "credit_score":' in logs and "expect_column_values_to_not_be_null" in logs
    assert 'FAIL column "loan_amount":' in logs and "expect_column_values_to_be_between" in logs
    assert "VERDICT: REJECTED" in logs and "quarantined" in logs
    q_uri = artifacts.quarantine_uri(uri)
    assert storage.get_bytes(seeded, q_uri) == storage.get_bytes(seeded, uri)
    recorded = artifacts.read_artifact(seeded, artifacts.validation_uri(q_uri), artifacts.ValidationResult)
    assert recorded.success is False and recorded.quarantine_uri == q_uri


def test_fail_on_reject_false_records_and_continues(seeded):
    result = _op(BAD_DAY, fail_on_reject=False).execute(context={})
    assert result["success"] is False and result["failed"] == 2
    assert result["quarantine_uri"].startswith(f"s3://{BUCKET}/quarantine/")


def test_unreadable_batch_fails_at_once_with_the_reason(server_s3, capsys, caplog):
    uri = artifacts.batch_uri(BUCKET, "credit", "2026-02-01")
    storage.put_bytes(server_s3, uri, b"")
    with pytest.raises(AirflowFailException, match=r"is empty \(0 bytes\)"):
        _op("2026-02-01").execute(context={})
    with pytest.raises(AirflowFailException, match="does not exist"):
        _op("2026-02-02").execute(context={})
    assert "cannot validate" in _logs(capsys, caplog)


def test_labelled_param_is_checked_after_rendering(seeded):
    op = _op(date(2026, 1, 1), labelled="True")  # as rendered from "{{ params.labelled }}"
    result = op.execute(context={})
    assert result["labelled"] is True and result["success"] is True
    message = "The 'labelled' parameter of ValidateBatchOperator must be a boolean (true or false). Got 'maybe' instead."
    with pytest.raises(AirflowFailException, match=re.escape(message)):
        _op(date(2026, 1, 1), labelled="maybe").execute(context={})


def test_unknown_dataset_fails_fast(server_s3):
    op = ValidateBatchOperator(task_id="v", dataset="nope", batch_uri=f"s3://{BUCKET}/x.parquet")
    with pytest.raises(AirflowFailException, match="No dataset config"):
        op.execute(context={})


def _window(**kwargs) -> ValidateWindowOperator:
    uris = [artifacts.batch_uri(BUCKET, "credit", day) for day in (date(2026, 1, 1), BAD_DAY)]
    return ValidateWindowOperator(task_id="validate_window", dataset="credit", batch_uris=uris, **kwargs)


def test_window_checks_every_day_in_one_task_then_fails_naming_the_rejected(seeded, capsys, caplog):
    good, bad = (artifacts.batch_uri(BUCKET, "credit", d) for d in (date(2026, 1, 1), BAD_DAY))
    with pytest.raises(
        AirflowFailException, match=r"1 batch of the training window failed validation: .*dt=2026-01-02"
    ):
        _window().execute(context={})
    logs = _logs(capsys, caplog)
    assert f"VERDICT: PASS {good}" in logs and f"VERDICT: REJECTED {bad}" in logs  # one line per day
    assert "skip_rejected_batches=true" in logs
    assert storage.exists(seeded, artifacts.quarantine_uri(bad))
    assert artifacts.read_artifact(
        seeded, artifacts.validation_uri(good), artifacts.ValidationResult
    ).labelled


def test_window_with_skip_rejected_succeeds_and_reuses_results(seeded, capsys, caplog):
    good, bad = (artifacts.batch_uri(BUCKET, "credit", d) for d in (date(2026, 1, 1), BAD_DAY))
    out = _window(fail_on_reject="False").execute(context={})
    assert out == {"dataset": "credit", "validated": 2, "accepted": [good], "rejected": [bad], "reused": 0}
    again = _window(fail_on_reject="False").execute(context={})
    assert again["reused"] == 2 and again["rejected"] == [bad]
    logs = _logs(capsys, caplog)
    assert f"reused validation result from {artifacts.validation_uri(good)}" in logs
    assert "2 batches, 1 accepted, 1 rejected, 2 reused" in logs

"""Great Expectations validation: suites, verdicts, bad input, quarantine, the CLI and the demo summary."""

from __future__ import annotations

import io
import json
import re
import time
from datetime import date

import pandas as pd
import pytest

from mlops import artifacts, storage, validation
from mlops.cli import main
from mlops.dev import datagen
from mlops.errors import ConfigError, InputReadError, ValidationFailed

BAD_DAY = date(2026, 1, 3)
BAD = datagen.Scenario(bad_days=(BAD_DAY,))


def _day(cfg, day=date(2026, 1, 2), rows=600, scenario=None):
    return datagen.generate_day(cfg, day, rows, scenario=scenario)


def _lines(report) -> str:
    return "\n".join(report.summary_lines())


# ------------------------------------------------------------------ suites
@pytest.mark.parametrize("dataset", ["credit", "diabetes", "wine"])
def test_committed_suite_matches_its_config(dataset):
    """include/expectations/<ds>.json is exactly what `mlops suites` renders from the YAML."""
    from mlops.config import load_dataset_config

    cfg = load_dataset_config(dataset)
    committed = json.loads(validation.suite_path(dataset).read_text())
    assert validation.render_suite(cfg, committed) == committed
    assert committed["meta"]["config_digest"] == validation.config_digest(cfg)


def test_suites_check_command_passes(capsys):
    assert main(["suites", "--check", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["stale"] == []


def test_suite_covers_every_required_kind(credit_cfg):
    suite = validation.build_suite(credit_cfg)
    kinds = {e["type"] for e in suite["expectations"]}
    assert {
        "expect_table_columns_to_match_set",
        "expect_column_values_to_be_in_type_list",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_be_unique",
        "expect_table_row_count_to_be_between",
        "expect_column_mean_to_be_between",
        "expect_column_quantile_values_to_be_between",
    } <= kinds
    nulls = {
        e["kwargs"]["column"]: e["kwargs"].get("mostly", 1.0)
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_not_be_null" and e["meta"]["scope"] == "all"
    }
    assert nulls["months_since_last_delinquency"] == pytest.approx(0.02)  # ~82% null by design
    assert nulls["credit_score"] == pytest.approx(0.98)
    assert nulls["application_id"] == 1.0
    labelled = [e for e in suite["expectations"] if e["meta"]["scope"] == "labelled"]
    assert {e["kwargs"].get("column") for e in labelled} >= {"default"}
    assert any(e["type"] == "expect_column_mean_to_be_between" for e in labelled)  # class balance


def test_suite_follows_id_type_optional_date_and_boolean_features(credit_cfg, credit_day):
    v = credit_cfg.validation
    cfg = type(credit_cfg).model_validate(
        {
            **credit_cfg.to_dict(),
            "date_column": None,
            "id_type": "integer",
            "features": {**credit_cfg.features.model_dump(), "boolean": ["is_joint"]},
            "validation": {**v.model_dump(), "value_sets": {**v.value_sets, "is_joint": [True]}},
        }
    )
    suite = validation.build_suite(cfg)
    by_column = {}
    for e in suite["expectations"]:
        by_column.setdefault(e["kwargs"].get("column"), []).append(e)
    assert "application_date" not in by_column
    id_type = next(e for e in by_column["application_id"] if "type" in e["type"])
    assert id_type["meta"]["rule"] == "id_type" and "uint64" in id_type["kwargs"]["type_list"]
    assert {"type": "expect_column_values_to_be_of_type", "column": "is_joint", "type_": "bool"} in [
        {"type": e["type"], **e["kwargs"]} for e in by_column["is_joint"]
    ]
    in_set = next(e for e in by_column["is_joint"] if e["type"] == "expect_column_values_to_be_in_set")
    assert json.loads(json.dumps(in_set))["kwargs"]["value_set"] == [True]  # a boolean, not 1
    assert type(in_set["kwargs"]["value_set"][0]) is bool
    frame = credit_day[0].drop(columns=["application_date"])
    frame = frame.assign(application_id=range(len(frame)), is_joint=[True] * (len(frame) - 1) + [False])
    report = validation.validate_frame(frame, cfg, suite=suite)
    assert report.summary_lines() == [
        'column "is_joint": 0.1% of values not in {True} (1 row; allowed 0%), e.g. False'
        " — expect_column_values_to_be_in_set"
    ]


def test_stale_suite_is_refused(credit_cfg):
    changed = credit_cfg.model_copy(
        update={"validation": credit_cfg.validation.model_copy(update={"min_rows": 7})}
    )
    with pytest.raises(ConfigError, match=r"stale.*mlops suites --dataset credit"):
        validation.load_suite(changed)


def test_unknown_column_in_validation_config_is_named(credit_cfg):
    bad = credit_cfg.model_copy(
        update={"validation": credit_cfg.validation.model_copy(update={"ranges": {"agee": (0, 1)}})}
    )
    with pytest.raises(ConfigError, match=r"validation\.ranges .*\['agee'\]"):
        validation.build_suite(bad)


def test_config_without_features_is_refused_before_a_suite_is_built(credit_cfg):
    """FeatureSpec's own check does this (the no-op ``DatasetConfig._features_present`` is gone)."""
    from pydantic import ValidationError

    data = {**credit_cfg.to_dict(), "features": {"numeric": [], "categorical": []}}
    with pytest.raises(
        ValidationError, match="at least one numeric, categorical or boolean feature is required"
    ):
        type(credit_cfg).model_validate(data)


def test_hand_written_expectations_survive_regeneration(credit_cfg):
    hand = {
        "type": "expect_column_max_to_be_between",
        "kwargs": {"column": "age", "max_value": 99},
        "meta": {"source": "hand", "scope": "all", "rule": "tuned by the credit team"},
    }
    existing = validation.build_suite(credit_cfg)
    existing["expectations"].append(hand)
    assert validation.render_suite(credit_cfg, existing)["expectations"][-1] == hand


def test_invalid_expectation_is_refused_not_dropped(credit_cfg, credit_day):
    suite = validation.build_suite(credit_cfg)
    suite["expectations"].append({"type": "expect_column_values_to_be_between", "kwargs": {}, "meta": {}})
    with pytest.raises(ConfigError, match="invalid expectations"):
        validation.validate_frame(credit_day[0], credit_cfg, suite=suite)


# ------------------------------------------------------------------ verdicts
def test_clean_generated_batch_passes(credit_cfg, credit_day):
    report = validation.validate_frame(credit_day[0], credit_cfg, batch_uri="s3://b/k.parquet")
    assert report.success, _lines(report)
    assert report.failures == [] and report.summary_lines() == []
    assert report.result.row_count == 2000 and report.result.evaluated == len(report.result.checks) > 80
    assert report.verdict_line().startswith("VERDICT: PASS s3://b/k.parquet")
    json.dumps(report.to_dict())  # JSON-safe


def test_clean_labelled_and_diabetes_batches_pass(credit_cfg, diabetes_cfg):
    features, labels = _day(credit_cfg, scenario=datagen.Scenario(label_shift_start=date(2026, 1, 1)))
    report = validation.validate_frame(features.merge(labels), credit_cfg, labelled=True)
    assert report.success, _lines(report)
    assert any(c.column == "default" for c in report.result.checks)
    features, labels = _day(diabetes_cfg, rows=60)
    assert validation.validate_frame(features, diabetes_cfg).success
    assert validation.validate_frame(features.merge(labels), diabetes_cfg, labelled=True).success


def _wine() -> pd.DataFrame:
    """The sample include/configs/wine.yaml was inferred from (see the comment at its top)."""
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame
    frame = frame.rename(columns=lambda c: re.sub(r"[^a-z0-9]+", "_", c.lower()).strip("_"))
    frame = frame.rename(columns={"target": "cultivar"})
    frame.insert(0, "wine_id", range(1, len(frame) + 1))
    return frame


def test_wine_sample_and_resampled_days_pass_the_inferred_suite():
    from mlops.config import load_dataset_config

    cfg = load_dataset_config("wine")
    assert cfg.date_column is None and cfg.id_type == "integer" and cfg.validation.target_values == (0, 1, 2)
    sample = _wine()
    assert validation.validate_frame(sample, cfg, labelled=True).success
    for seed in range(3):
        day = sample.sample(60, replace=True, random_state=seed).assign(wine_id=range(1000, 1060))
        report = validation.validate_frame(day, cfg, labelled=True)
        assert report.success, _lines(report)
        assert validation.validate_frame(day.drop(columns=["cultivar"]), cfg).success
    only_two = sample[sample.cultivar != 2]
    text = _lines(validation.validate_frame(only_two, cfg, labelled=True))
    assert 'column "cultivar": class 2 is 0% of labelled rows (0 of 130; allowed >= 3.8%)' in text


def test_drifted_batch_still_passes(credit_cfg):
    """Drift is monitoring's business; validation rejects broken data, not shifted data."""
    features, _ = _day(credit_cfg, scenario=datagen.Scenario(drift_start=date(2026, 1, 1)))
    report = validation.validate_frame(features, credit_cfg)
    assert report.success, _lines(report)


def test_bad_generated_batch_names_column_expectation_and_share(credit_cfg):
    features, _ = _day(credit_cfg, day=BAD_DAY, rows=2000, scenario=BAD)
    report = validation.validate_frame(features, credit_cfg)
    assert not report.success
    lines = report.summary_lines()
    assert len(lines) == 2, lines
    assert re.fullmatch(
        r'column "credit_score": [34]\d(\.\d)?% null \(\d+ of 2000 rows; allowed 2%\) — '
        r"expect_column_values_to_not_be_null",
        lines[0],
    ), lines[0]
    assert re.match(r'column "loan_amount": \d+(\.\d)?% of values outside \[500, 100000\]', lines[1])
    assert lines[1].endswith("— expect_column_values_to_be_between")
    loan = next(f for f in report.failures if f.column == "loan_amount")
    assert 5 < loan.unexpected_percent < 15 and all(v < 0 for v in loan.samples)
    assert "REJECTED" in report.verdict_line() and "not_be_null(credit_score)" in report.verdict_line()


def test_schema_problems_are_named(credit_cfg, credit_day):
    frame = credit_day[0].drop(columns=["region"]).assign(surprise=1)
    frame["age"] = frame["age"].astype(str)
    lines = validation.validate_frame(frame, credit_cfg).summary_lines()
    assert len(lines) == 2, lines  # one line for the column set, one for the mistyped column
    text = "\n".join(lines)
    assert "table: missing columns ['region']; unexpected columns ['surprise']" in text
    assert "3 checks on the missing columns not run" in text
    assert (
        'column "age": type str, expected one of int64|int32|float64|float32; 2 checks on it could not run'
        in text
    )
    assert "could not be evaluated" not in text and "missing from the batch" not in text


def test_a_renamed_column_is_one_schema_message(credit_cfg, credit_day):
    report = validation.validate_frame(credit_day[0].rename(columns={"region": "Region"}), credit_cfg)
    assert report.summary_lines() == [
        "table: missing columns ['region']; unexpected columns ['Region'] (allow_extra_columns is false); "
        "3 checks on the missing columns not run — expect_table_columns_to_match_set"
    ]
    assert not any(c.error for c in report.result.checks)  # nothing ran on the absent column


def test_target_in_an_unlabelled_batch_names_the_fix(credit_cfg, credit_day):
    features, labels = credit_day
    lines = validation.validate_frame(features.merge(labels), credit_cfg, hint_style="cli").summary_lines()
    assert lines == [
        "table: unexpected columns ['default'] (allow_extra_columns is false); the batch carries its target "
        "'default': validate with --labelled, or set labels.in_features: true in include/configs/credit.yaml "
        "— expect_table_columns_to_match_set"
    ]
    in_features = credit_cfg.model_copy(
        update={"labels": credit_cfg.labels.model_copy(update={"in_features": True})}
    )
    suite = validation.build_suite(in_features)
    report = validation.validate_frame(features.merge(labels), in_features, suite=suite)
    assert report.success and report.result.labelled, _lines(report)  # validated with the target checks
    assert any(c.column == "default" and c.rule == "validation.target_values" for c in report.result.checks)
    assert not validation.validate_frame(features, in_features, suite=suite).result.labelled


def test_ids_categories_rows_and_required_nulls(credit_cfg, credit_day):
    frame = credit_day[0].head(150).copy()
    frame.loc[1, "application_id"] = frame.loc[0, "application_id"]
    frame.loc[2, "region"] = "atlantis"
    frame.loc[:9, "interest_rate"] = None  # 6.7% null in a required column (allowed 2%)
    text = _lines(validation.validate_frame(frame, credit_cfg))
    assert 'column "application_id": 1.3% of rows share a value' in text
    assert "e.g. 'atlantis'" in text and "expect_column_values_to_be_in_set" in text
    assert 'column "interest_rate": 6.7% null (10 of 150 rows; allowed 2%)' in text
    short = _lines(validation.validate_frame(credit_day[0].head(40), credit_cfg))
    assert "table: 40 rows, below the minimum of 100 — expect_table_row_count_to_be_between" in short


def test_labelled_target_values_and_class_balance(credit_cfg, credit_day):
    features, labels = credit_day
    frame = features.merge(labels)
    frame["default"] = 1
    frame.loc[0, "default"] = 2
    text = _lines(validation.validate_frame(frame, credit_cfg, labelled=True))
    assert 'column "default": 0.1% of values not in {0, 1}' in text
    assert 'column "default": mean 1 outside [0.01, 0.8] — expect_column_mean_to_be_between' in text


def test_distribution_sanity_catches_a_unit_change(credit_cfg, credit_day):
    frame = credit_day[0].copy()
    frame["annual_income"] = frame["annual_income"] / 1000  # exported in thousands
    text = _lines(validation.validate_frame(frame, credit_cfg))
    assert 'column "annual_income": mean' in text and "expect_column_mean_to_be_between" in text
    assert "expect_column_quantile_values_to_be_between" in text


def test_two_thousand_rows_validate_fast(credit_cfg, credit_day):
    validation.validate_frame(credit_day[0].head(200), credit_cfg)  # warm: GX import
    started = time.process_time()  # CPU time: robust to a busy shared machine
    report = validation.validate_frame(credit_day[0], credit_cfg, docs=True)
    assert time.process_time() - started < 3.0
    assert "<html" in report.docs_html.lower() and "credit" in report.docs_html


# ------------------------------------------------------------------ bad input (CLI, exit 2)
def _parquet(frame) -> bytes:
    return storage.frame_to_parquet_bytes(frame)


BAD_INPUTS = {
    "empty": ("batch.parquet", lambda good: b"", r"is empty \(0 bytes\)"),
    "not_a_table": ("batch.csv", lambda good: bytes(range(256)) * 4, r"neither Parquet nor UTF-8 CSV"),
    "not_parquet": ("batch.parquet", lambda good: b'{"json": true}\n', r"is not a Parquet file"),
    "truncated": ("batch.parquet", lambda good: good[: len(good) // 2], r"truncated Parquet file"),
    "header_only_csv": ("batch.csv", lambda good: b"application_id,age,region\n", r"header but no rows"),
    "wrong_delimiter": (
        "batch.csv",
        lambda good: b"application_id;age\nA1;30\nA2;40\n",
        r"';'-delimited CSV .*wrong delimiter",
    ),
    "zero_row_parquet": ("batch.parquet", None, r"0 rows"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_a_clear_message(case, credit_cfg, credit_day, tmp_path, capsys):
    name, make, pattern = BAD_INPUTS[case]
    good = _parquet(credit_day[0].head(50))
    data = _parquet(credit_day[0].head(0)) if make is None else make(good)
    path = tmp_path / name
    path.write_bytes(data)
    assert main(["validate", "--dataset", "credit", "--input", str(path)]) == 2
    err = capsys.readouterr().err
    assert re.search(pattern, err), err
    assert str(path) in err and "Traceback" not in err


def test_missing_local_file_exits_2(tmp_path, capsys):
    assert main(["validate", "--dataset", "credit", "--input", str(tmp_path / "nope.parquet")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_missing_s3_object_exits_2(server_s3, capsys):
    uri = artifacts.batch_uri("mlops-test", "credit", "2030-01-01")
    assert main(["validate", "--dataset", "credit", "--input", uri]) == 2
    assert f"Object {uri} does not exist" in capsys.readouterr().err


def test_cli_verdicts_on_s3_and_csv(server_s3, credit_cfg, tmp_path, capsys):
    datagen.seed_dataset(
        server_s3,
        "mlops-test",
        credit_cfg,
        start=BAD_DAY,
        days=1,
        rows_per_day=300,
        scenario=BAD,
        log=lambda m: None,
    )
    bad_uri = artifacts.batch_uri("mlops-test", "credit", BAD_DAY)
    assert main(["validate", "--dataset", "credit", "--input", bad_uri]) == 1
    out = capsys.readouterr().out
    assert "VERDICT: REJECTED" in out and 'FAIL column "credit_score"' in out
    assert not storage.exists(server_s3, artifacts.validation_uri(bad_uri))  # plain validate writes nothing

    good = tmp_path / "batch.csv"
    _day(credit_cfg, rows=300)[0].to_csv(good, index=False)
    assert main(["validate", "--dataset", "credit", "--input", str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "accepted"


def test_csv_from_another_dataset_fails_on_schema(credit_cfg, diabetes_cfg, tmp_path, capsys):
    path = tmp_path / "batch.csv"
    _day(diabetes_cfg, rows=30)[0].to_csv(path, index=False)
    assert main(["validate", "--dataset", "credit", "--input", str(path)]) == 1
    out = capsys.readouterr().out
    assert "missing columns" in out and "checks on the missing columns not run" in out
    assert "could not be evaluated" not in out


def test_labelled_batch_without_its_target_exits_1_with_a_cli_hint(credit_cfg, credit_day, tmp_path, capsys):
    path = tmp_path / "batch.parquet"
    credit_day[0].to_parquet(path)
    assert main(["validate", "--dataset", "credit", "--input", str(path), "--labelled"]) == 1
    out = capsys.readouterr().out
    assert "missing columns ['default']" in out and "validate without --labelled" in out
    assert "labelled=False" not in out


# ------------------------------------------------------------------ record, quarantine, summary
def _seed(client, cfg, days=3, rows=300):
    return datagen.seed_dataset(
        client,
        "mlops-test",
        cfg,
        start=date(2026, 1, 1),
        days=days,
        rows_per_day=rows,
        scenario=BAD,
        log=lambda m: None,
    )


def _versions(client, uri):
    bucket, key = storage.parse_uri(uri)
    return [
        v
        for v in client.list_object_versions(Bucket=bucket, Prefix=key).get("Versions", [])
        if v["Key"] == key
    ]


def test_quarantine_keeps_the_original_bytes(s3, bucket, credit_cfg):
    _seed(s3, credit_cfg)
    uri = artifacts.batch_uri(bucket, "credit", BAD_DAY)
    original = storage.get_bytes(s3, uri)
    with pytest.raises(ValidationFailed, match=r'column "credit_score": .*% null') as info:
        validation.validate_and_record(s3, uri, credit_cfg, run_id="manual__1")
    q_uri = f"s3://{bucket}/quarantine/data/credit/features/dt={BAD_DAY}/batch.parquet"
    assert info.value.quarantine_uri == q_uri and q_uri in str(info.value)
    assert storage.get_bytes(s3, q_uri) == original  # byte-for-byte
    assert storage.get_bytes(s3, uri) == original  # the original stays where it was
    assert storage.get_json(s3, artifacts.validation_uri(q_uri))["verdict"] == "rejected"
    report = artifacts.read_artifact(s3, artifacts.validation_uri(q_uri), artifacts.ValidationResult)
    assert report.success is False and report.batch_uri == uri and report.quarantine_uri == q_uri
    assert report.summary[0].startswith('column "credit_score"')
    assert report.source.sha256 == storage.sha256_bytes(original)
    beside = artifacts.read_artifact(s3, artifacts.validation_uri(uri), artifacts.ValidationResult)
    assert beside.success is False and beside.run_id == "manual__1"
    page = storage.get_bytes(s3, validation.docs_uri(uri)).decode()
    assert "<html" in page.lower() and "credit_score" in page
    assert storage.exists(s3, validation.docs_uri(q_uri))


def test_accepted_batch_is_recorded_and_retry_is_idempotent(s3, bucket, credit_cfg):
    _seed(s3, credit_cfg)
    uri = artifacts.batch_uri(bucket, "credit", date(2026, 1, 1))
    report = validation.validate_and_record(s3, uri, credit_cfg, run_id="r1")
    assert report.success and not report.cached and report.quarantine_uri is None
    meta = report.metadata()
    assert meta["validation_uri"] == artifacts.validation_uri(uri) and len(json.dumps(meta)) < 1000
    assert validation.is_accepted(s3, uri) and not validation.is_accepted(s3, uri, labelled=True)
    again = validation.validate_and_record(s3, uri, credit_cfg, run_id="r1")
    assert again.cached and again.success
    assert len(_versions(s3, artifacts.validation_uri(uri))) == 1  # nothing rewritten
    assert not storage.list_uris(s3, f"s3://{bucket}/quarantine/")

    # a failed batch on retry: same verdict, the quarantine copy is not made twice
    bad = artifacts.batch_uri(bucket, "credit", BAD_DAY)
    for _ in range(2):
        with pytest.raises(validation.BatchRejected):
            validation.validate_and_record(s3, bad, credit_cfg)
    assert len(_versions(s3, artifacts.quarantine_uri(bad))) == 1

    # a fixed re-upload is validated again
    storage.write_parquet(s3, bad, _day(credit_cfg, day=BAD_DAY, rows=300)[0])
    fixed = validation.validate_and_record(s3, bad, credit_cfg)
    assert fixed.success and not fixed.cached


def test_labelled_validation_joins_the_late_labels(s3, bucket, credit_cfg):
    datagen.seed_dataset(
        s3, bucket, credit_cfg, start=date(2026, 1, 1), days=5, rows_per_day=300, log=lambda m: None
    )  # labels exist for days 1-2 only (3-day delay)
    uri = artifacts.batch_uri(bucket, "credit", date(2026, 1, 1))
    report = validation.validate_and_record(s3, uri, credit_cfg, labelled=True)
    assert report.success and report.result.labelled
    assert report.result.source.labels.uri.endswith("labels.parquet")
    assert validation.is_accepted(s3, uri, labelled=True)
    late = artifacts.batch_uri(bucket, "credit", date(2026, 1, 5))
    with pytest.raises(InputReadError, match=r"Labels for .* are not there yet.*3 days after"):
        validation.validate_and_record(s3, late, credit_cfg, labelled=True)


def test_unreadable_batch_on_s3_records_nothing(s3, bucket, credit_cfg, credit_day):
    uri = artifacts.batch_uri(bucket, "credit", "2026-03-01")
    data = _parquet(credit_day[0].head(100))
    storage.put_bytes(s3, uri, data[: len(data) - 10])
    with pytest.raises(InputReadError, match="truncated Parquet file"):
        validation.validate_and_record(s3, uri, credit_cfg)
    assert storage.list_uris(s3, f"s3://{bucket}/") == [uri]


def test_summarize_validations_lists_each_batch_with_its_verdict(s3, bucket, credit_cfg):
    _seed(s3, credit_cfg, days=4)
    for day in ("2026-01-01", "2026-01-02", str(BAD_DAY)):
        try:
            validation.validate_and_record(s3, artifacts.batch_uri(bucket, "credit", day), credit_cfg)
        except validation.BatchRejected:
            pass
    rows = validation.summarize_validations(s3, bucket, "credit")
    assert [(r["date"], r["verdict"]) for r in rows] == [
        ("2026-01-01", "accepted"),
        ("2026-01-02", "accepted"),
        (str(BAD_DAY), "rejected"),
    ]
    bad = rows[-1]
    assert bad["success"] is False and bad["failures"][0].startswith('column "credit_score"')
    assert bad["quarantine_uri"] == artifacts.quarantine_uri(artifacts.batch_uri(bucket, "credit", BAD_DAY))
    everything = validation.summarize_validations(s3, bucket, "credit", include_unvalidated=True)
    assert everything[-1]["verdict"] == "unvalidated" and len(everything) == 4


def test_record_refuses_local_paths(tmp_path, credit_cfg, credit_day):
    path = tmp_path / "batch.parquet"
    credit_day[0].to_parquet(path)
    with pytest.raises(ConfigError, match="Use validate_uri for local files"):
        validation.validate_and_record(None, str(path), credit_cfg)
    assert validation.validate_uri(None, str(path), credit_cfg).success


def test_csv_bytes_are_typed_by_the_config(credit_cfg, diabetes_cfg):
    features, _ = _day(diabetes_cfg, rows=30)
    buf = io.StringIO()
    features.to_csv(buf, index=False)
    frame, fmt = validation.parse_batch_bytes(buf.getvalue().encode(), "x.csv", diabetes_cfg)
    assert fmt == "csv" and frame["visit_date"].dtype.kind == "M" and set(frame["sex"]) <= {"1", "2"}

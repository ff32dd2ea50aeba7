"""GX results -> one actionable line per expectation, without running GX (result dicts as GX 1.24 emits them)."""

from __future__ import annotations

import pytest

from mlops import artifacts
from mlops.errors import ConfigError
from mlops.validation.outcome import outcome, summary_lines, verdict_line, with_context


def _res(etype, kwargs, result=None, *, success=False, meta=None, exception=None):
    return {
        "success": success,
        "expectation_config": {"type": etype, "kwargs": {**kwargs, "batch_id": "b"}, "meta": meta or {}},
        "result": result or {},
        "exception_info": exception or {"raised_exception": False},
    }


CASES = {
    "row count below": (
        _res("expect_table_row_count_to_be_between", {"min_value": 100}, {"observed_value": 40}),
        "table: 40 rows, below the minimum of 100 — expect_table_row_count_to_be_between",
        "[100, inf]",
    ),
    "row count above": (
        _res("expect_table_row_count_to_be_between", {"max_value": 10}, {"observed_value": 40}),
        "table: 40 rows, above the maximum of 10 — expect_table_row_count_to_be_between",
        "[-inf, 10]",
    ),
    "column set": (
        _res(
            "expect_table_columns_to_match_set",
            {"column_set": ["a", "b", "c"]},
            {"details": {"mismatched": {"missing": ["c", "b"], "unexpected": ["z"]}}},
        ),
        "table: missing columns ['b', 'c']; unexpected columns ['z'] (allow_extra_columns is false)"
        " — expect_table_columns_to_match_set",
        "exactly 3 named columns",
    ),
    "column missing": (
        _res("expect_column_to_exist", {"column": "region"}),
        'column "region": missing from the batch — expect_column_to_exist',
        None,
    ),
    "of type with counts": (
        _res(
            "expect_column_values_to_be_of_type",
            {"column": "id", "type_": "str"},
            {
                "unexpected_count": 2,
                "unexpected_percent": 1.0,
                "element_count": 200,
                "partial_unexpected_list": [7, 7, 9],
            },
        ),
        'column "id": 1% of values are not str (2 of 200 rows), e.g. 7, 9 — expect_column_values_to_be_of_type',
        "str",
    ),
    "type list": (
        _res(
            "expect_column_values_to_be_in_type_list",
            {"column": "age", "type_list": ["int64", "float64"]},
            {"observed_value": "str"},
        ),
        'column "age": type str, expected one of int64|float64 — expect_column_values_to_be_in_type_list',
        "int64|float64",
    ),
    "null with mostly": (
        _res(
            "expect_column_values_to_not_be_null",
            {"column": "credit_score", "mostly": 0.98},
            {"unexpected_count": 25, "unexpected_percent": 12.5, "element_count": 200},
        ),
        'column "credit_score": 12.5% null (25 of 200 rows; allowed 2%) — expect_column_values_to_not_be_null',
        "2%",
    ),
    "unique": (
        _res(
            "expect_column_values_to_be_unique",
            {"column": "id"},
            {
                "unexpected_count": 2,
                "unexpected_percent": 1.3333,
                "element_count": 150,
                "partial_unexpected_list": ["A"],
            },
        ),
        "column \"id\": 1.3% of rows share a value with another row (2 of 150 rows), e.g. 'A'"
        " — expect_column_values_to_be_unique",
        "unique",
    ),
    "between counts non-null rows": (
        _res(
            "expect_column_values_to_be_between",
            {"column": "loan", "min_value": 500, "max_value": 100000.0},
            {
                "unexpected_count": 9,
                "unexpected_percent": 5.0,
                "element_count": 200,
                "missing_count": 20,
                "partial_unexpected_list": [-3.5, -3.5, -1.0],
            },
        ),
        'column "loan": 5% of values outside [500, 100000] (9 of 180 non-null rows; allowed 0%), e.g. -3.5, -1'
        " — expect_column_values_to_be_between",
        "[500, 100000]",
    ),
    "in set, long set": (
        _res(
            "expect_column_values_to_be_in_set",
            {"column": "code", "value_set": list(range(10)), "mostly": 0.9},
            {
                "unexpected_count": 1,
                "unexpected_percent": 0.3,
                "element_count": 400,
                "partial_unexpected_list": [42],
            },
        ),
        'column "code": 0.3% of values not in {0, 1, 2, 3, 4, 5, 6, 7, ... +2} (1 row; allowed 10%), e.g. 42'
        " — expect_column_values_to_be_in_set",
        "{0, 1, 2, 3, 4, 5, 6, 7, ... +2}",
    ),
    "mean": (
        _res(
            "expect_column_mean_to_be_between",
            {"column": "income", "min_value": 20000, "max_value": None},
            {"observed_value": 61.23456},
        ),
        'column "income": mean 61.23 outside [20000, inf] — expect_column_mean_to_be_between',
        "[20000, inf]",
    ),
    "quantiles": (
        _res(
            "expect_column_quantile_values_to_be_between",
            {"column": "x", "quantile_ranges": {"quantiles": [0.5, 0.9], "value_ranges": [[1, 2], [3, 4]]}},
            {
                "observed_value": {"quantiles": [0.5, 0.9], "values": [1.5, 9.0]},
                "details": {"success_details": [True, False]},
            },
        ),
        'column "x": quantile q0.9=9 outside [3, 4] — expect_column_quantile_values_to_be_between',
        "q0.5 in [1, 2], q0.9 in [3, 4]",
    ),
    "unknown expectation": (
        _res("expect_column_max_to_be_between", {"column": "age"}, {"observed_value": 120}),
        'column "age": observed 120 — expect_column_max_to_be_between',
        None,
    ),
    "could not run": (
        _res(
            "expect_column_mean_to_be_between",
            {"column": "age", "min_value": 1},
            exception={
                "m": {"raised_exception": True, "exception_message": "KeyError: 'age'\ntraceback ..."}
            },
        ),
        "column \"age\": could not be evaluated: KeyError: 'age' — expect_column_mean_to_be_between",
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_expectation_gets_one_readable_line(case):
    res, message, allowed = CASES[case]
    out = outcome(res)
    assert out.message == message
    assert out.allowed == allowed
    assert "batch_id" not in out.kwargs and out.success is False
    assert artifacts.ExpectationOutcome.from_dict(out.to_dict()) == out  # JSON-safe round trip


def test_outcome_keeps_rule_scope_counts_and_at_most_five_samples():
    res = _res(
        "expect_column_values_to_be_in_set",
        {"column": "region", "value_set": ["n", "s"]},
        {
            "unexpected_count": 9,
            "unexpected_percent": 4.56789,
            "element_count": 200,
            "partial_unexpected_list": list("abcdefg"),
        },
        meta={"rule": "validation.value_sets.region", "scope": "all"},
    )
    out = outcome(res)
    assert out.rule == "validation.value_sets.region" and out.scope == "all"
    assert out.samples == list("abcde") and out.unexpected_percent == 4.5679 and out.element_count == 200


def _check(expectation, column, *, error=None, success=False):
    return artifacts.ExpectationOutcome(
        expectation=expectation,
        column=column,
        success=success,
        message=f"{column}: {expectation}",
        error=error,
    )


def test_checks_that_could_not_run_fold_into_the_schema_line():
    failures = [
        _check("expect_column_values_to_be_of_type", "region"),
        _check("expect_column_values_to_be_in_set", "region", error="KeyError"),
        _check("expect_column_values_to_not_be_null", "region", error="KeyError"),
        _check("expect_column_mean_to_be_between", "age"),
    ]
    assert summary_lines(failures) == [
        "region: expect_column_values_to_be_of_type",
        "age: expect_column_mean_to_be_between",
    ]
    assert summary_lines([]) == []


def _column_set(expected, observed, **kw):
    return artifacts.ExpectationOutcome(
        expectation="expect_table_columns_to_match_set",
        column=None,
        success=False,
        message="table: mismatch — expect_table_columns_to_match_set",
        observed=observed,
        kwargs={"column_set": expected, "exact_match": True, **kw},
    )


def test_a_missing_or_renamed_column_is_one_schema_line():
    failures = [
        _column_set(["id", "region", "age"], ["id", "Region", "age"]),
        _check("expect_column_to_exist", "region"),
    ]
    assert summary_lines(failures) == ["table: mismatch — expect_table_columns_to_match_set"]


def test_context_counts_checks_not_run_and_hints_in_the_callers_words(credit_cfg):
    missing_target = _column_set(["application_id", "default"], ["application_id"])
    extra_target = _column_set(["application_id"], ["application_id", "default"])
    id_type = artifacts.ExpectationOutcome(
        expectation="expect_column_values_to_be_of_type",
        column="application_id",
        success=False,
        message='column "application_id": type int64, expected str — expect_column_values_to_be_of_type',
        observed="int64",
    )
    cli = with_context([missing_target, id_type], credit_cfg, not_run={"default": 3}, style="cli")
    assert cli[0].message == (
        "table: mismatch; 3 checks on the missing columns not run; a labelled batch carries its target "
        "'default': add the column, or validate without --labelled — expect_table_columns_to_match_set"
    )
    assert "set id_type: integer in include/configs/credit.yaml" in cli[1].message
    dag = with_context([extra_target], credit_cfg, style="dag")[0].message
    assert "trigger with Param labelled=true, or set labels.in_features: true" in dag
    py = with_context([extra_target], credit_cfg)[0].message
    assert "validate with labelled=True" in py
    with pytest.raises(ConfigError, match="'hint_style' parameter must be one of"):
        with_context([extra_target], credit_cfg, style="web")


def test_long_sample_values_are_cut_with_their_length_shown():
    huge = "x" * (1 << 20)
    res = _res(
        "expect_column_values_to_be_in_set",
        {"column": "colour", "value_set": ["red"]},
        {"unexpected_count": 6, "unexpected_percent": 6.0, "element_count": 100,
         "partial_unexpected_list": [huge, "y" * 61, "b", "c", "d", "e", "f"]},
    )  # fmt: skip
    out = outcome(res)
    assert f"'{'x' * 60}'… (1048576 chars)" in out.message and "(61 chars)" in out.message
    assert len(out.message) < 400 and "'f'" not in out.message  # at most 5 samples
    assert out.samples == ["x" * 60 + "…", "y" * 60 + "…", "b", "c", "d"]


def test_class_share_lines_name_the_class_and_its_share():
    low = _res(
        "expect_column_values_to_be_in_set",
        {"column": "cultivar", "value_set": [2], "mostly": 0.1},
        {"unexpected_count": 95, "unexpected_percent": 95.0, "element_count": 100},
        meta={"rule": "validation.class_shares.2", "scope": "labelled"},
    )
    assert outcome(low).message == (
        'column "cultivar": class 2 is 5% of labelled rows (5 of 100; allowed >= 10%) '
        "— expect_column_values_to_be_in_set"
    )
    high = _res(
        "expect_column_values_to_not_be_in_set",
        {"column": "cultivar", "value_set": [True], "mostly": 0.3},
        {"unexpected_count": 80, "unexpected_percent": 80.0, "element_count": 100},
        meta={"rule": "validation.class_shares.True", "scope": "labelled"},
    )
    assert "class True is 80% of labelled rows (80 of 100; allowed <= 70%)" in outcome(high).message


def test_verdict_line_names_failed_expectations_once():
    checks = [
        _check("expect_column_values_to_not_be_null", "credit_score"),
        _check("expect_table_row_count_to_be_between", None),
        _check("expect_column_values_to_be_unique", "id", success=True),
    ]
    result = artifacts.ValidationResult(
        dataset="credit",
        batch_uri="s3://b/k.parquet",
        success=False,
        labelled=False,
        row_count=40,
        column_count=3,
        suite="credit.unlabelled",
        suite_digest="d",
        evaluated=3,
        successful=1,
        checks=checks,
        summary=summary_lines([c for c in checks if not c.success]),
        checked_at=artifacts.utc_now_iso(),
        seconds=0.1,
        gx_version="1.24.1",
        source=None,
        run_id=None,
        validation_uri=None,
        docs_uri=None,
        quarantine_uri=None,
    )
    assert verdict_line(result) == (
        "VERDICT: REJECTED s3://b/k.parquet failed=[column_values_to_not_be_null(credit_score), "
        "table_row_count_to_be_between(table)] (1/3 expectations, 40 rows)"
    )
    passed = artifacts.ValidationResult.from_dict({**result.to_dict(), "success": True, "checks": []})
    assert verdict_line(passed) == "VERDICT: PASS s3://b/k.parquet (1/3 expectations, 40 rows)"

"""Chunked validation gives GX's own verdict: the same results as GX's Batch.validate on the whole frame.

The reference is GX's ephemeral-context route that validation used before it went out of core. Every
result field (success, counts, percentages, samples, observed values, errors) must match, for any
chunk size, from a DataFrame or streamed from Parquet; a mean merged across chunks may differ from
the whole-frame mean in its last bits only.
"""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from mlops import storage, validation
from mlops.dev import datagen
from mlops.errors import InputReadError
from mlops.validation import run
from mlops.validation.chunks import FrameTable, ParquetTable
from mlops.validation.engine import evaluate
from mlops.validation.outcome import PARTIAL_UNEXPECTED_COUNT

RESULT_FORMAT = {"result_format": "BASIC", "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT}


def _reference(df: pd.DataFrame, suite: dict) -> dict:
    """GX on the whole frame in an ephemeral context (Batch.validate), as plain JSON."""
    gx = run._gx()
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    asset = context.data_sources.add_pandas("ref").add_dataframe_asset("ref")
    batch = asset.add_batch_definition_whole_dataframe("b").get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(run._gx_suite(gx, suite), result_format=RESULT_FORMAT)
    return _normal(result)


def _chunked(table, suite: dict) -> dict:
    return _normal(evaluate(table, run._gx_suite(run._gx(), suite), result_format=RESULT_FORMAT))


def _normal(result) -> dict:
    """Per expectation: success, result and error messages (GX's exception keys name batch ids)."""
    out = {}
    for r in result.results:
        r.success, r.result = bool(r.success), run._plain(r.result)
        raw = run._plain(r.to_json_dict())
        cfg = raw["expectation_config"]
        key = json.dumps(
            [cfg["type"], {k: v for k, v in cfg["kwargs"].items() if k != "batch_id"}], sort_keys=True
        )
        info = raw.get("exception_info") or {}
        errors = sorted(
            {
                v["exception_message"]
                for v in info.values()
                if isinstance(v, dict) and v.get("raised_exception")
            }
            | ({info["exception_message"]} if info.get("raised_exception") else set())
        )
        out[key] = {"success": raw["success"], "result": raw.get("result") or {}, "errors": errors}
    return out


def _same(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    for key, expected in want.items():
        actual = got[key]
        if (
            '"expect_column_mean_to_be_between"' in key
            and expected["result"].get("observed_value") is not None
        ):
            a, b = actual["result"]["observed_value"], expected["result"]["observed_value"]
            assert math.isclose(a, b, rel_tol=1e-12) or (math.isnan(a) and math.isnan(b)), key
            actual = {**actual, "result": expected["result"]}
        assert actual == expected, key


def _suite(cfg, frame, labelled=False, extra=()):
    suite = validation.load_suite(cfg, labelled=labelled)
    suite = {**suite, "expectations": [*suite["expectations"], *extra]}
    return run._present(suite, frame.columns)[0]


def _broken(cfg) -> pd.DataFrame:
    """Nulls, out-of-range values, unknown categories, duplicated and null ids, a text column."""
    frame, _ = datagen.generate_day(
        cfg, date(2026, 1, 3), 300, scenario=datagen.Scenario(bad_days=(date(2026, 1, 3),))
    )
    frame = frame.copy()
    frame.loc[[5, 150, 299], "application_id"] = frame.loc[0, "application_id"]  # duplicates across chunks
    frame.loc[[7, 8], "application_id"] = None
    frame.loc[100:120, "region"] = "atlantis"
    frame.loc[200:, "interest_rate"] = np.nan
    frame["debt_to_income"] = frame["debt_to_income"].astype(str)  # every numeric check on it errors
    return frame


HAND_WRITTEN = [  # not mergeable across chunks: GX computes them on the whole column
    {
        "type": "expect_column_median_to_be_between",
        "kwargs": {"column": "age", "min_value": 20, "max_value": 60},
    },
    {"type": "expect_column_values_to_be_increasing", "kwargs": {"column": "age"}},
    {"type": "expect_column_max_to_be_between", "kwargs": {"column": "loan_amount", "max_value": 1000}},
]


@pytest.mark.parametrize("chunk_rows", [7, 64, 1_000_000])
def test_chunked_results_equal_gx_on_the_whole_frame(credit_cfg, credit_day, chunk_rows):
    clean = credit_day[0].head(500)
    for frame, labelled in ((clean, False), (_broken(credit_cfg), False), (clean.merge(credit_day[1]), True)):
        suite = _suite(credit_cfg, frame, labelled, HAND_WRITTEN)
        _same(_chunked(FrameTable(frame, chunk_rows), suite), _reference(frame, suite))


def test_the_broken_batch_exercises_every_merge(credit_cfg):
    frame = _broken(credit_cfg)
    results = _reference(frame, _suite(credit_cfg, frame, extra=HAND_WRITTEN))
    failed = {json.loads(k)[0] for k, v in results.items() if not v["success"]}
    assert {
        "expect_column_values_to_be_unique",
        "expect_column_values_to_be_in_set",
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_in_type_list",
        "expect_column_values_to_be_increasing",
        "expect_column_max_to_be_between",
    } <= failed
    assert any(v["errors"] for v in results.values())  # the mistyped column's checks error


def _write(frame: pd.DataFrame, path, row_group_size: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), path, row_group_size=row_group_size)


def test_parquet_streamed_in_chunks_equals_the_file_read_whole(credit_cfg, credit_day, tmp_path):
    frame = credit_day[0].head(400).copy()
    frame["num_open_accounts"] = pd.array(np.arange(400) % 9, dtype="int64")  # ints: nulls only late
    frame["flag"] = True
    path = tmp_path / "batch.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    ints = pa.array([None if i >= 390 else i % 9 for i in range(400)], type=pa.int64())
    flags = pa.array([None if i == 399 else True for i in range(400)], type=pa.bool_())
    table = table.set_column(table.column_names.index("num_open_accounts"), "num_open_accounts", ints)
    table = table.set_column(table.column_names.index("flag"), "flag", flags)
    pq.write_table(table, path, row_group_size=50)
    whole = pq.read_table(path).to_pandas()
    assert whole["num_open_accounts"].dtype == "float64" and whole["flag"].dtype == object
    streamed = ParquetTable(path, chunk_rows=30)
    assert dict(streamed.schema().dtypes) == dict(whole.dtypes)
    assert all(dict(c.dtypes) == dict(whole.dtypes) for c in streamed.chunks(list(whole.columns)))
    extra = [{"type": "expect_column_values_to_be_of_type", "kwargs": {"column": "flag", "type_": "bool"}}]
    suite = _suite(credit_cfg, whole, extra=[*HAND_WRITTEN, *extra])
    _same(_chunked(streamed, suite), _reference(whole, suite))


def test_only_unmergeable_metrics_read_whole_columns(credit_cfg, credit_day, tmp_path, monkeypatch):
    """Memory stays flat: the committed suite reads whole single columns only for its quantiles."""
    path = tmp_path / "batch.parquet"
    _write(credit_day[0], path, 500)
    asked: list[list[str]] = []
    original = ParquetTable.frame
    monkeypatch.setattr(ParquetTable, "frame", lambda self, cols: asked.append(cols) or original(self, cols))
    report = validation.validate_uri(None, str(path), credit_cfg)
    assert report.success
    quantiles = {c.column for c in report.result.checks if "quantile" in c.expectation}
    assert sorted(map(tuple, asked)) == sorted((c,) for c in quantiles)


def test_validate_uri_streams_parquet_and_records_its_bytes(credit_cfg, credit_day, tmp_path):
    path = tmp_path / "batch.parquet"
    _write(credit_day[0], path, 300)
    report = validation.validate_uri(None, str(path), credit_cfg)
    in_memory = validation.validate_frame(credit_day[0], credit_cfg)
    assert [c.message for c in report.result.checks] == [c.message for c in in_memory.result.checks]
    assert report.result.row_count == 2000 and report.result.source.format == "parquet"
    assert report.result.source.sha256 == storage.sha256_bytes(path.read_bytes())


def test_a_corrupt_page_is_a_clear_input_error(credit_cfg, credit_day, tmp_path):
    path = tmp_path / "batch.parquet"
    _write(credit_day[0], path, 300)
    data = bytearray(path.read_bytes())
    data[200:4000] = b"\x00" * 3800  # pages wrecked, footer intact
    path.write_bytes(bytes(data))
    with pytest.raises(
        InputReadError, match=r"batch.parquet is a corrupt Parquet file: .*Re-export the batch"
    ):
        validation.validate_uri(None, str(path), credit_cfg)


def test_chunk_rows_must_be_positive(credit_day):
    with pytest.raises(ValueError, match="'chunk_rows' parameter must be an integer >= 1. Got 0"):
        FrameTable(credit_day[0], 0)

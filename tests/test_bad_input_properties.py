"""Property-based bad input (issue 14): a malformed credit batch never reaches a model or production.

Hypothesis generates malformed batches from one clean 150-row credit day: wrong types, NaN and inf,
huge and unicode strings, duplicate and null ids, extra and missing columns, columns of the wrong
type, empty files and files cut short (Parquet and CSV). For each one:

- validation (``validate_and_record`` on moto) rejects it with a message, and what it records
  (or the absence of a result) keeps the batch out of training;
- scoring never predicts a row that did not validate. The DAG scores only a validated batch; here the
  scoring library runs on the batch anyway (the guard bypassed) and its reject path must keep every
  row holding an unusable value (a non-number, a non-finite number, a null id) out of the
  predictions, or refuse the whole file without publishing anything;
- nothing is published and production does not change.

Each kind of fault gets ``MLOPS_PROPERTY_EXAMPLES`` examples (default 2, so about 25 in all).
"""

from __future__ import annotations

import itertools
import math
import os
from datetime import date, timedelta
from types import SimpleNamespace
from typing import NamedTuple

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from mlops import artifacts, scoring, storage, validation
from mlops.config import load_dataset_config
from mlops.errors import InputReadError, MLOpsError
from mlops.scoring.chunk import MISSING_TEXT

BUCKET = "mlops-props"
ROWS = 150
CFG = load_dataset_config("credit")
ID = CFG.id_column
NUMERIC = list(CFG.features.numeric)
CATEGORICAL = list(CFG.features.categorical)
#: numeric features with the default 2% null tolerance (the others may be mostly empty)
STRICT_NUMERIC = [c for c in NUMERIC if c not in CFG.validation.null_tolerance]
EXAMPLES = int(os.environ.get("MLOPS_PROPERTY_EXAMPLES", "2"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


class Fault(NamedTuple):
    kind: str
    data: bytes
    fmt: str  # "parquet" or "csv"
    bad_rows: frozenset[int]  # rows holding a value no model can take: scoring must reject each
    bad_ids: frozenset[str]  # their ids (when present), never in the predictions


def _base() -> pd.DataFrame:
    from mlops.dev.datagen import generate_day

    return generate_day(CFG, date(2026, 1, 10), ROWS)[0]


BASE = _base()


def _encode(frame: pd.DataFrame, fmt: str) -> bytes:
    return storage.frame_to_parquet_bytes(frame) if fmt == "parquet" else frame.to_csv(index=False).encode()


def _not_a_number(text: str) -> bool:
    """Scoring's own test (``mlops.scoring.chunk``): not parseable as a number and not a missing-value marker."""
    parsed = pd.to_numeric(pd.Series([text], dtype=object), errors="coerce").iloc[0]
    return text.strip().lower() not in MISSING_TEXT and pd.isna(parsed)


TEXT = st.one_of(
    st.text(min_size=1, max_size=40),  # any unicode, control characters included
    st.builds(lambda c, n: c * n, st.characters(), st.integers(5_000, 100_000)),  # huge
)
ROWSET = st.sets(st.integers(0, ROWS - 1), min_size=1, max_size=5)
FMT = st.sampled_from(["parquet", "csv"])


def _fault(kind: str, frame: pd.DataFrame, fmt: str, bad_rows=frozenset()) -> Fault:
    ids = frozenset(str(BASE.at[r, ID]) for r in bad_rows)
    return Fault(kind, _encode(frame, fmt), fmt, frozenset(bad_rows), ids)


@st.composite
def wrong_type(draw) -> Fault:
    """Text that is not a number in a numeric column (some of it huge or exotic unicode)."""
    col, rows = draw(st.sampled_from(NUMERIC)), draw(ROWSET)
    frame = BASE.copy()
    frame[col] = [None if pd.isna(v) else repr(float(v)) for v in frame[col]]
    for r in rows:
        frame.at[r, col] = draw(TEXT.map(lambda t: t if _not_a_number(t) else t + "§"))
    return _fault("wrong_type", frame, draw(FMT), rows)


@st.composite
def non_finite(draw) -> Fault:
    col, rows = draw(st.sampled_from(NUMERIC)), draw(ROWSET)
    frame = BASE.copy()
    for r in rows:
        frame.at[r, col] = draw(st.sampled_from([math.inf, -math.inf]))
    return _fault("non_finite", frame, draw(FMT), rows)


@st.composite
def null_ids(draw) -> Fault:
    rows = draw(ROWSET)
    frame = BASE.copy()
    frame.loc[sorted(rows), ID] = None
    bad = _fault("null_ids", frame, draw(FMT), rows)
    return bad._replace(bad_ids=frozenset())


@st.composite
def nan_flood(draw) -> Fault:
    """NaN in more than 2% of a strict column's rows (the model could impute them: a batch-level fault)."""
    col = draw(st.sampled_from(STRICT_NUMERIC))
    rows = draw(st.sets(st.integers(0, ROWS - 1), min_size=4, max_size=40))
    frame = BASE.copy()
    frame.loc[sorted(rows), col] = math.nan
    return _fault("nan_flood", frame, draw(FMT))


@st.composite
def duplicate_ids(draw) -> Fault:
    pairs = draw(
        st.lists(st.tuples(st.integers(0, ROWS - 1), st.integers(0, ROWS - 1)), min_size=1, max_size=5)
    )
    frame = BASE.copy()
    for a, b in pairs:
        if a == b:
            b = (a + 1) % ROWS
        frame.at[b, ID] = frame.at[a, ID]
    return _fault("duplicate_ids", frame, draw(FMT))


@st.composite
def unknown_category(draw) -> Fault:
    """A value outside the category set: unicode, huge, or plain text."""
    col, rows = draw(st.sampled_from(CATEGORICAL)), draw(ROWSET)
    allowed = {str(v) for v in CFG.validation.value_sets[col]}
    frame = BASE.copy()
    for r in rows:
        frame.at[r, col] = draw(TEXT.filter(lambda t: t.strip() and t not in allowed))
    return _fault("unknown_category", frame, draw(FMT))


@st.composite
def extra_column(draw) -> Fault:
    name = draw(st.text(min_size=1, max_size=30).filter(lambda n: n.strip() and n not in BASE.columns))
    frame = BASE.copy()
    frame[name] = draw(st.sampled_from([0, 1.5, "x", None]))
    return _fault("extra_column", frame, draw(FMT))


@st.composite
def missing_column(draw) -> Fault:
    col = draw(st.sampled_from(list(BASE.columns)))
    return _fault("missing_column", BASE.drop(columns=[col]), draw(FMT))


@st.composite
def wrong_column_type(draw) -> Fault:
    """A whole column of the wrong type: numbers as categories or ids, text as dates, booleans as numbers."""
    frame = BASE.copy()
    col = draw(st.sampled_from([ID, CFG.date_column, *CATEGORICAL, *NUMERIC]))
    if col in NUMERIC:
        frame[col] = frame[col].notna() & (frame[col] > frame[col].median())
    elif col == CFG.date_column:
        frame[col] = draw(st.sampled_from(["yesterday", "2026-13-45", "10/01/2026 maybe"]))
    else:
        frame[col] = range(len(frame))
    return _fault("wrong_column_type", frame, "parquet")


@st.composite
def empty_file(draw) -> Fault:
    return Fault("empty_file", b"", draw(FMT), frozenset(), frozenset())


@st.composite
def truncated_parquet(draw) -> Fault:
    data = storage.frame_to_parquet_bytes(BASE)
    return Fault(
        "truncated_parquet", data[: draw(st.integers(1, len(data) - 1))], "parquet", frozenset(), frozenset()
    )


@st.composite
def truncated_csv(draw) -> Fault:
    """A CSV cut inside a data row, where a field or its value is lost (not exactly at a line or field end)."""
    text = BASE.to_csv(index=False)
    starts = [i + 1 for i, ch in enumerate(text) if ch == "\n"][
        :-1
    ]  # where each line after the header starts
    row = draw(st.integers(1, len(starts) - 1))
    start, end = starts[row], starts[row + 1] - 1 if row + 1 < len(starts) else len(text) - 1
    line = text[start:end]
    last_comma = start + line.rfind(",")
    cut = draw(st.integers(start + 1, end - 1).filter(lambda i: i != last_comma + 1))
    return Fault("truncated_csv", text[:cut].encode(), "csv", frozenset(), frozenset())


KINDS = {
    build.__name__: build
    for build in (
        wrong_type, non_finite, null_ids, nan_flood, duplicate_ids, unknown_category, extra_column,
        missing_column, wrong_column_type, empty_file, truncated_parquet, truncated_csv,
    )
}  # fmt: skip


# ------------------------------------------------------------------ the world: one trained model in production
def _fit(features: pd.DataFrame, labels: pd.DataFrame):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import Pipeline

    from mlops import models, training

    df = features.merge(labels, on=ID)
    model = Pipeline(
        [
            ("preprocess", training.make_preprocessor(CFG)),
            ("model", HistGradientBoostingClassifier(max_iter=20)),
        ]
    )
    return model.fit(models.feature_frame(df, CFG), models.target_array(df, CFG))


@pytest.fixture(scope="module")
def world(credit_day):
    """moto for the whole module: a bucket with a model in production and a counter of batch days."""
    import boto3
    from moto import mock_aws

    from mlops.registry import ModelRegistry
    from tests.conftest import publish_forced

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        storage.ensure_bucket(client, BUCKET)
        publish_forced(client, BUCKET, _fit(*credit_day), "props-train")
        yield SimpleNamespace(
            client=client, registry=ModelRegistry(client, BUCKET, "credit"), days=itertools.count()
        )


def _batch_uri(world, fmt: str) -> tuple[str, str]:
    day = date(2027, 1, 1) + timedelta(days=next(world.days))
    uri = artifacts.batch_uri(BUCKET, "credit", day)
    return (uri if fmt == "parquet" else uri.removesuffix(".parquet") + ".csv"), day.isoformat()


def test_the_clean_batch_is_accepted_and_fully_scored(world):
    """The control: the batch every fault starts from passes validation and scoring rejects none of it."""
    for fmt in ("parquet", "csv"):
        uri, _ = _batch_uri(world, fmt)
        storage.put_bytes(world.client, uri, _encode(BASE, fmt))
        assert validation.validate_and_record(world.client, uri, CFG).success
    uri, day = _batch_uri(world, "parquet")
    storage.put_bytes(world.client, uri, _encode(BASE, "parquet"))
    result = scoring.score_batch(
        world.client, CFG, input_uri=uri, output_uri=artifacts.predictions_prefix(BUCKET, "credit", day),
        bucket=BUCKET, run_id="props-clean",
    )  # fmt: skip
    assert (result.rows_in, result.rows_scored, result.rows_rejected) == (ROWS, ROWS, 0)


def _rejected_with_a_message(world, uri: str, fault: Fault) -> None:
    """validate_and_record refuses the batch, and training will not take it."""
    result_uri = artifacts.validation_uri(uri)
    try:
        validation.validate_and_record(world.client, uri, CFG, run_id="props")
    except validation.BatchRejected as err:
        assert str(err).startswith(f"Batch {uri} failed validation") and err.report.summary_lines()
        recorded = artifacts.read_artifact(world.client, result_uri, artifacts.ValidationResult)
        assert recorded.success is False and recorded.summary  # what training reads: this day is left out
        assert storage.exists(world.client, artifacts.quarantine_uri(uri))
        event(f"{fault.fmt}: validation failed")
    except InputReadError as err:  # unreadable: nothing recorded, so training has no result to accept
        assert uri in str(err) and "\n" not in str(err)
        assert not storage.exists(world.client, result_uri)
        event(f"{fault.fmt}: unreadable")
    else:
        pytest.fail(f"validation accepted a malformed batch ({fault.kind}, {fault.fmt})")


def _no_prediction_for_a_bad_row(world, uri: str, day: str, fault: Fault) -> None:
    """The scoring library on the batch anyway: every unusable row is a reject, or nothing is published."""
    output = artifacts.predictions_prefix(BUCKET, "credit", day)
    try:
        result = scoring.score_batch(
            world.client, CFG, input_uri=uri, output_uri=output, bucket=BUCKET, run_id="props",
            max_reject_fraction=1.0,
        )  # fmt: skip
    except MLOpsError as err:  # the file or its schema refused as a whole
        assert str(err)
        assert not storage.exists(world.client, artifacts.success_uri(output))
        event(f"scoring refused: {type(err).__name__}")
        return
    rejects = scoring.read_rejects(world.client, output)
    predictions = scoring.read_predictions(world.client, output)
    assert fault.bad_rows <= set(rejects["row"]), rejects
    assert fault.bad_ids.isdisjoint(set(predictions[ID].dropna().astype(str)))
    assert len(predictions) + len(rejects) == result.rows_in == ROWS
    assert len(predictions) == result.rows_scored
    event(
        f"scored, {len(fault.bad_rows)} bad rows rejected" if fault.bad_rows else "scored (batch-level fault)"
    )


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # GX means over inf
@pytest.mark.parametrize("kind", sorted(KINDS))
@PROPERTY
@given(data=st.data())
def test_a_malformed_batch_is_rejected_never_predicted_and_never_published(world, kind, data):
    fault = data.draw(KINDS[kind](), label="fault")
    versions, production = world.registry.versions(), world.registry.pointer()
    uri, day = _batch_uri(world, fault.fmt)
    storage.put_bytes(world.client, uri, fault.data)
    _rejected_with_a_message(world, uri, fault)
    _no_prediction_for_a_bad_row(world, uri, day, fault)
    after = world.registry.pointer()
    assert world.registry.versions() == versions and versions  # nothing published
    assert (after.version, after.etag) == (production.version, production.etag)  # production did not move

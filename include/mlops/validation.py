"""Data validation with Great Expectations (GX Core 1.x): nothing trains on or scores an unchecked batch.

One expectation suite per dataset lives in ``include/expectations/<dataset>.json``.
It is rendered from the ``validation:`` section of the dataset config by
:func:`build_suite` (``mlops suites --dataset NAME``); expectations whose
``meta.source`` is not ``"config"`` are hand-written and kept on regeneration.
Each expectation has a ``meta.scope``: ``all``, ``labelled`` (training batches
joined with their labels: target values and class balance) or ``unlabelled``.

:func:`validate_frame` runs a suite on a DataFrame in an ephemeral GX context and
returns a :class:`ValidationReport` with one line per failure that an operator
can act on, e.g. ``column "credit_score": 39.8% null (796 of 2000 rows; allowed
2%) — expect_column_values_to_not_be_null``. :func:`validate_and_record` is the
step the DAGs run: it writes the result JSON and the GX Data Docs page beside
the batch and, on failure, copies the batch byte-for-byte to ``quarantine/``
with the report beside it (the original stays) and raises :class:`BatchRejected`.

GX is imported inside functions only (its import takes ~3 s); analytics and
progress bars are off.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops import artifacts, storage
from mlops._util import utc_now_iso
from mlops.config import CONFIG_DIR, EXPECTATIONS_DIR, DatasetConfig
from mlops.errors import ConfigError, InputReadError, ValidationFailed

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

SCOPES = ("all", "labelled", "unlabelled")
NUMERIC_TYPES = ["int64", "int32", "float64", "float32"]
#: GX result format: counts, percents and up to 5 sample values per expectation.
PARTIAL_UNEXPECTED_COUNT = 5
_SCHEMA_TYPES = {
    "expect_column_to_exist",
    "expect_column_values_to_be_of_type",
    "expect_column_values_to_be_in_type_list",
}


class BatchRejected(ValidationFailed):
    """A batch failed its expectation suite; ``report`` holds the details, the copy is in quarantine."""

    def __init__(self, message: str, *, report: ValidationReport, quarantine_uri: str | None = None) -> None:
        super().__init__(message)
        self.report = report
        self.quarantine_uri = quarantine_uri


# ====================================================================== suites
def suite_path(dataset: str) -> Path:
    """``include/expectations/<dataset>.json``."""
    return EXPECTATIONS_DIR / f"{dataset}.json"


def config_digest(cfg: DatasetConfig) -> str:
    """Hash of the config keys a suite is built from; a stale suite file is refused at load time."""
    keys = ("name", "task", "id_column", "date_column", "target", "features", "validation")
    data = {k: v for k, v in cfg.to_dict().items() if k in keys}
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _number(x: float | int | None) -> float | int | None:
    if x is None:
        return None
    return int(x) if float(x).is_integer() else float(x)


def _exp(expectation: str, rule: str, scope: str = "all", **kwargs: Any) -> dict[str, Any]:
    return {"type": expectation, "kwargs": kwargs, "meta": {"source": "config", "rule": rule, "scope": scope}}


def _between(expectation: str, rule: str, col: str, bounds: Any, scope: str = "all") -> dict[str, Any]:
    """A min/max expectation from a ``(lo, hi)`` config pair (a ``None`` bound is open)."""
    lo, hi = bounds
    return _exp(expectation, rule, scope, column=col, min_value=_number(lo), max_value=_number(hi))


def _check_columns(cfg: DatasetConfig) -> None:
    v = cfg.validation
    feats = set(cfg.feature_columns)
    numeric = set(cfg.features.numeric)
    checks = {
        "null_tolerance": (set(v.null_tolerance), feats | {cfg.id_column, cfg.date_column, cfg.target}),
        "ranges": (set(v.ranges), numeric),
        "value_sets": (set(v.value_sets), feats),
        "mean_ranges": (set(v.mean_ranges), numeric),
        "quantile_ranges": (set(v.quantile_ranges), numeric),
    }
    where = CONFIG_DIR / f"{cfg.name}.yaml"
    for key, (named, allowed) in checks.items():
        unknown = sorted(named - allowed)
        if unknown:
            raise ConfigError(
                f"validation.{key} in {where} names {unknown}, which are not "
                f"{'numeric features' if allowed == numeric else 'columns'} of {cfg.name!r}; "
                f"known: {sorted(allowed)}. Fix the spelling or remove the entry."
            )
    if cfg.task == "regression" and v.target_values:
        raise ConfigError(f"validation.target_values in {where} is for classification; use target_range.")


def build_suite(cfg: DatasetConfig) -> dict[str, Any]:
    """The GX expectation suite (as a JSON-able dict) that the dataset config implies.

    Covers the schema (columns present, types, no unexpected columns unless
    ``allow_extra_columns``), nulls with ``mostly`` tolerances, numeric ranges,
    categorical value sets, id uniqueness, a row-count floor and distribution
    sanity (means, quantiles); labelled-scope checks on the target's values
    and class balance.

    Raises
    ------
    ConfigError
        If the ``validation:`` section names a column the dataset does not have.
    """
    _check_columns(cfg)
    v = cfg.validation
    base_columns = [cfg.id_column, cfg.date_column, *cfg.feature_columns]
    exps: list[dict[str, Any]] = [
        _exp("expect_table_row_count_to_be_between", "validation.min_rows", min_value=v.min_rows),
        _exp(
            "expect_table_columns_to_match_set",
            "validation.allow_extra_columns",
            "unlabelled",
            column_set=base_columns,
            exact_match=not v.allow_extra_columns,
        ),
        _exp(
            "expect_table_columns_to_match_set",
            "validation.allow_extra_columns",
            "labelled",
            column_set=[*base_columns, cfg.target],
            exact_match=not v.allow_extra_columns,
        ),
    ]
    exps += [_exp("expect_column_to_exist", "schema", column=c) for c in base_columns]
    exps.append(_exp("expect_column_to_exist", "schema", "labelled", column=cfg.target))
    exps.append(_exp("expect_column_values_to_be_of_type", "schema", column=cfg.id_column, type_="str"))
    exps.append(
        _exp("expect_column_values_to_be_of_type", "schema", column=cfg.date_column, type_="datetime64")
    )
    exps += [
        _exp("expect_column_values_to_be_in_type_list", "features.numeric", column=c, type_list=NUMERIC_TYPES)
        for c in cfg.features.numeric
    ]
    exps += [
        _exp("expect_column_values_to_be_of_type", "features.categorical", column=c, type_="str")
        for c in cfg.features.categorical
    ]
    for col in base_columns:
        tolerance = v.null_tolerance.get(
            col, 0.0 if col in (cfg.id_column, cfg.date_column) else v.max_null_fraction
        )
        rule = (
            f"validation.null_tolerance.{col}" if col in v.null_tolerance else "validation.max_null_fraction"
        )
        kwargs: dict[str, Any] = {"column": col}
        if tolerance > 0:
            kwargs["mostly"] = round(1.0 - tolerance, 6)
        exps.append(_exp("expect_column_values_to_not_be_null", rule, **kwargs))
    exps.append(_exp("expect_column_values_to_be_unique", "id_column", column=cfg.id_column))
    exps += [
        _between("expect_column_values_to_be_between", f"validation.ranges.{col}", col, bounds)
        for col, bounds in v.ranges.items()
    ]
    for col, values in v.value_sets.items():
        exps.append(
            _exp(
                "expect_column_values_to_be_in_set",
                f"validation.value_sets.{col}",
                column=col,
                value_set=list(values),
            )
        )
    exps += [
        _between("expect_column_mean_to_be_between", f"validation.mean_ranges.{col}", col, bounds)
        for col, bounds in v.mean_ranges.items()
    ]
    for col, qs in v.quantile_ranges.items():
        quantiles = sorted(qs)
        exps.append(
            _exp(
                "expect_column_quantile_values_to_be_between",
                f"validation.quantile_ranges.{col}",
                column=col,
                quantile_ranges={
                    "quantiles": [float(q) for q in quantiles],
                    "value_ranges": [[_number(qs[q][0]), _number(qs[q][1])] for q in quantiles],
                },
            )
        )
    # labelled batches: the target
    tgt = cfg.target
    exps.append(_exp("expect_column_values_to_not_be_null", "target", "labelled", column=tgt))
    exps.append(
        _exp(
            "expect_column_values_to_be_in_type_list",
            "target",
            "labelled",
            column=tgt,
            type_list=NUMERIC_TYPES,
        )
    )
    if v.target_values:
        exps.append(
            _exp(
                "expect_column_values_to_be_in_set",
                "validation.target_values",
                "labelled",
                column=tgt,
                value_set=list(v.target_values),
            )
        )
    if v.target_range:
        exps.append(
            _between(
                "expect_column_values_to_be_between",
                "validation.target_range",
                tgt,
                v.target_range,
                "labelled",
            )
        )
    if v.target_mean_range:
        exps.append(
            _between(
                "expect_column_mean_to_be_between",
                "validation.target_mean_range",
                tgt,
                v.target_mean_range,
                "labelled",
            )
        )
    return {
        "name": cfg.name,
        "expectations": exps,
        "meta": {
            "dataset": cfg.name,
            "generated_from": f"include/configs/{cfg.name}.yaml",
            "generated_by": f"mlops suites --dataset {cfg.name}",
            "config_digest": config_digest(cfg),
            "notes": "meta.source 'config' entries are regenerated; any other source is hand-written and kept.",
        },
    }


def render_suite(cfg: DatasetConfig, existing: dict[str, Any] | None = None) -> dict[str, Any]:
    """:func:`build_suite` plus the hand-written expectations of ``existing`` (kept as they are)."""
    suite = build_suite(cfg)
    hand = [
        e for e in (existing or {}).get("expectations", []) if (e.get("meta") or {}).get("source") != "config"
    ]
    suite["expectations"] += hand
    return suite


def write_suite(cfg: DatasetConfig, path: Path | None = None) -> tuple[Path, bool]:
    """(Re)write the suite file; returns ``(path, changed)``."""
    path = path or suite_path(cfg.name)
    existing = json.loads(path.read_text()) if path.is_file() else None
    suite = render_suite(cfg, existing)
    text = json.dumps(suite, indent=2) + "\n"
    changed = not path.is_file() or path.read_text() != text
    if changed:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return path, changed


def load_suite(cfg: DatasetConfig, *, labelled: bool = False, path: Path | None = None) -> dict[str, Any]:
    """The committed suite for ``cfg``, filtered to the labelled or unlabelled scope.

    Raises
    ------
    ConfigError
        If the file is missing, not JSON, or was built from a different config
        (edit the YAML, then run ``mlops suites --dataset NAME``).
    """
    path = path or suite_path(cfg.name)
    fix = f"run `mlops suites --dataset {cfg.name}` and commit {path.name}"
    if not path.is_file():
        raise ConfigError(f"No expectation suite {path} for dataset {cfg.name!r}; {fix}.")
    try:
        suite = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ConfigError(f"Expectation suite {path} is not valid JSON ({err}); {fix}.") from err
    digest = (suite.get("meta") or {}).get("config_digest")
    if digest != config_digest(cfg):
        raise ConfigError(
            f"Expectation suite {path} is stale: built from config digest {digest}, but "
            f"include/configs/{cfg.name}.yaml now has {config_digest(cfg)}; {fix}."
        )
    wanted = {"all", "labelled" if labelled else "unlabelled"}
    exps = [e for e in suite.get("expectations", []) if (e.get("meta") or {}).get("scope", "all") in wanted]
    name = f"{suite.get('name', cfg.name)}.{'labelled' if labelled else 'unlabelled'}"
    return {**suite, "name": name, "expectations": exps}


# ====================================================================== reading
def labels_uri_for(batch_uri: str) -> str | None:
    """``.../features/dt=D/batch.parquet`` -> ``.../labels/dt=D/labels.parquet`` (None if not that layout)."""
    m = re.match(r"^(.*)/features/(dt=[^/]+)/[^/]+$", str(batch_uri))
    return f"{m.group(1)}/labels/{m.group(2)}/labels.parquet" if m else None


def _clearer(err: InputReadError, data: bytes, uri: str) -> InputReadError:
    """Shorter, actionable wording for two of the storage layer's messages."""
    msg = str(err)
    if "wrong delimiter" in msg:
        header = data.decode("utf-8", "replace").splitlines()[0]
        sep = max((";", "\t", "|"), key=header.count)
        shown = header if len(header) <= 60 else header[:57] + "..."
        return InputReadError(
            f"{uri} is a {sep!r}-delimited CSV (header {shown!r}): wrong delimiter. "
            "Batches must be comma-separated CSV or Parquet; re-export with ','."
        )
    if "has a header but no rows" in msg:
        return InputReadError(f"{msg.rstrip('.')}: the upstream export wrote no data. Re-export the batch.")
    return err


def _parse(data: bytes, uri: str, cfg: DatasetConfig) -> tuple[pd.DataFrame, str]:
    """Bytes -> frame with the storage layer's clear errors, plus: no 0-row tables, CSV typed by the config."""
    import pandas as pd

    try:
        frame = storage.read_table_bytes(data, uri)
    except InputReadError as err:
        better = _clearer(err, data, uri)
        if better is err:
            raise
        raise better from err
    fmt = "parquet" if data[:4] == b"PAR1" else "csv"
    if frame.empty:
        raise InputReadError(
            f"{uri} has {len(frame.columns)} columns but 0 rows; the upstream export wrote no data. "
            "Re-export the batch."
        )
    if fmt == "csv":  # CSV carries no types: parse the date, keep ids and categories as strings
        frame = frame.copy()
        if cfg.date_column in frame and frame[cfg.date_column].dtype.kind not in "mM":
            try:
                frame[cfg.date_column] = pd.to_datetime(frame[cfg.date_column], format="ISO8601")
            except (ValueError, TypeError):
                pass  # left as text: the type expectation names the column
        for col in (cfg.id_column, *cfg.features.categorical):
            if col in frame and frame[col].dtype.kind in "iufb":
                frame[col] = frame[col].map(lambda x: x if pd.isna(x) else str(x)).astype("str")
    return frame, fmt


def read_batch(
    client, uri: str, cfg: DatasetConfig, *, labelled: bool = False
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a Parquet/CSV batch (S3 or local) and, if ``labelled``, join its late labels.

    Returns ``(frame, source)`` where ``source`` records ETag, VersionId, size,
    sha256, format and the labels object used.

    Raises
    ------
    InputReadError
        Missing, empty, truncated, header-only, wrong-delimiter or non-table input,
        or labels that have not arrived.
    """
    data, head = storage.get_object(client, uri)
    frame, fmt = _parse(data, uri, cfg)
    source: dict[str, Any] = {
        "uri": uri,
        "etag": head.get("ETag"),
        "version_id": head.get("VersionId"),
        "bytes": len(data),
        "sha256": storage.sha256_bytes(data),
        "format": fmt,
    }
    if labelled and cfg.target not in frame.columns:
        lab_uri = labels_uri_for(uri)
        if lab_uri is None:
            raise InputReadError(
                f"Labelled validation of {uri} needs the target column {cfg.target!r} in the batch or labels "
                f"at .../labels/dt=<day>/labels.parquet; {uri} has neither. Validate with labelled=False."
            )
        try:
            lab_data, lab_head = storage.get_object(client, lab_uri)
        except InputReadError as err:
            raise InputReadError(
                f"Labels for {uri} are not there yet: {lab_uri} does not exist (labels land "
                f"{cfg.label_delay_days} days after the batch). Validate with labelled=False or wait."
            ) from err
        labels, _ = _parse(lab_data, lab_uri, cfg)
        missing = [c for c in (cfg.id_column, cfg.target) if c not in labels.columns]
        if missing:
            raise InputReadError(
                f"Labels {lab_uri} lack columns {missing}; expected {cfg.id_column!r} and {cfg.target!r}."
            )
        if cfg.id_column in frame.columns:  # else the schema expectations name the missing id column
            frame = frame.merge(labels[[cfg.id_column, cfg.target]], on=cfg.id_column, how="left")
        source["labels"] = {
            "uri": lab_uri,
            "etag": lab_head.get("ETag"),
            "version_id": lab_head.get("VersionId"),
        }
    return frame, source


# ====================================================================== report
def _fmt(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return str(x)
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        if x != x:  # NaN
            return "NaN"
        if x.is_integer() and abs(x) < 1e15:
            return str(int(x))
        return f"{x:.4g}" if abs(x) < 1e4 else f"{x:.0f}"
    if isinstance(x, str):
        return repr(x)
    return str(x)


def _pct(p: float | None) -> str:
    if p is None:
        return "?%"
    text = f"{p:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def _rows(n: int | None) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _bounds(lo: Any, hi: Any) -> str:
    return f"[{'-inf' if lo is None else _fmt(lo)}, {'inf' if hi is None else _fmt(hi)}]"


def _set(values: list[Any], limit: int = 8) -> str:
    shown = ", ".join(_fmt(v) for v in values[:limit])
    return "{" + shown + (f", ... +{len(values) - limit}" if len(values) > limit else "") + "}"


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's result, JSON-safe."""

    expectation: str
    column: str | None
    success: bool
    message: str
    rule: str | None = None
    scope: str = "all"
    observed: Any = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    allowed: str | None = None
    samples: list[Any] = field(default_factory=list)
    error: str | None = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExpectationOutcome:
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def _error_message(info: Any) -> str | None:
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return value.get("exception_message") or "error"
    return None


def _outcome(res: dict[str, Any]) -> ExpectationOutcome:
    cfg = res.get("expectation_config") or {}
    etype = cfg.get("type", "?")
    kw = {k: v for k, v in (cfg.get("kwargs") or {}).items() if k != "batch_id"}
    meta = cfg.get("meta") or {}
    r = res.get("result") or {}
    col = kw.get("column")
    error = _error_message(res.get("exception_info"))
    observed = r.get("observed_value")
    count = r.get("unexpected_count")
    pct = r.get("unexpected_percent")
    total = r.get("element_count")
    mostly = kw.get("mostly")
    allowed_pct = 100.0 * (1.0 - mostly) if mostly is not None else 0.0
    samples = list(dict.fromkeys(json.dumps(v, default=str) for v in r.get("partial_unexpected_list") or []))
    samples = [json.loads(s) for s in samples][:PARTIAL_UNEXPECTED_COUNT]
    where = f'column "{col}"' if col else "table"
    eg = f", e.g. {', '.join(_fmt(s) for s in samples)}" if samples else ""
    allowed: str | None = None
    if error:
        detail = error.strip().splitlines()[0][:200]
        text = f"could not be evaluated: {detail}"
    elif etype == "expect_table_row_count_to_be_between":
        allowed = _bounds(kw.get("min_value"), kw.get("max_value"))
        lo, hi = kw.get("min_value"), kw.get("max_value")
        if lo is not None and observed is not None and observed < lo:
            text = f"{observed} rows, below the minimum of {lo}"
        elif hi is not None and observed is not None and observed > hi:
            text = f"{observed} rows, above the maximum of {hi}"
        else:
            text = f"{observed} rows (allowed {allowed})"
    elif etype == "expect_table_columns_to_match_set":
        mism = (r.get("details") or {}).get("mismatched") or {}
        parts = []
        if mism.get("missing"):
            parts.append(f"missing columns {sorted(mism['missing'])}")
        if mism.get("unexpected"):
            parts.append(f"unexpected columns {sorted(mism['unexpected'])} (allow_extra_columns is false)")
        text = "; ".join(parts) or f"columns {observed} do not match the expected set"
        allowed = f"exactly {len(kw.get('column_set') or [])} named columns"
    elif etype == "expect_column_to_exist":
        text = "missing from the batch"
    elif etype == "expect_column_values_to_be_of_type":
        allowed = str(kw.get("type_"))
        if count:
            text = f"{_pct(pct)} of values are not {allowed} ({count} of {total} rows){eg}"
        else:
            text = f"type {observed}, expected {allowed}"
    elif etype == "expect_column_values_to_be_in_type_list":
        allowed = "|".join(kw.get("type_list") or [])
        text = f"type {observed}, expected one of {allowed}"
    elif etype == "expect_column_values_to_not_be_null":
        allowed = _pct(allowed_pct)
        text = f"{_pct(pct)} null ({count} of {total} rows; allowed {allowed})"
    elif etype == "expect_column_values_to_be_unique":
        text = f"{_pct(pct)} of rows share a value with another row ({count} of {total} rows){eg}"
        allowed = "unique"
    elif etype == "expect_column_values_to_be_between":
        allowed = _bounds(kw.get("min_value"), kw.get("max_value"))
        text = (
            f"{_pct(pct)} of values outside {allowed} ({count} of {total - (r.get('missing_count') or 0)} "
            f"non-null rows; allowed {_pct(allowed_pct)}){eg}"
            if total is not None
            else f"values outside {allowed}"
        )
    elif etype == "expect_column_values_to_be_in_set":
        allowed = _set(list(kw.get("value_set") or []))
        text = f"{_pct(pct)} of values not in {allowed} ({_rows(count)}; allowed {_pct(allowed_pct)}){eg}"
    elif etype in ("expect_column_mean_to_be_between", "expect_column_median_to_be_between"):
        allowed = _bounds(kw.get("min_value"), kw.get("max_value"))
        stat = "mean" if "mean" in etype else "median"
        text = f"{stat} {_fmt(observed)} outside {allowed}"
    elif etype == "expect_column_quantile_values_to_be_between":
        qr = kw.get("quantile_ranges") or {}
        obs = observed or {}
        flags = (r.get("details") or {}).get("success_details") or []
        bad = [
            f"q{_fmt(q)}={_fmt(val)} outside {_bounds(*rng)}"
            for q, val, rng, ok in zip(
                obs.get("quantiles") or [],
                obs.get("values") or [],
                qr.get("value_ranges") or [],
                flags,
                strict=False,
            )
            if not ok
        ]
        text = "quantile " + ("; ".join(bad) if bad else f"values {obs.get('values')}")
        allowed = ", ".join(
            f"q{_fmt(q)} in {_bounds(*rng)}"
            for q, rng in zip(qr.get("quantiles") or [], qr.get("value_ranges") or [], strict=False)
        )
    else:
        text = f"observed {_fmt(observed)}" + (
            f", {_pct(pct)} unexpected ({count} rows){eg}" if count else ""
        )
    return ExpectationOutcome(
        expectation=etype,
        column=col,
        success=bool(res.get("success")),
        message=f"{where}: {text} — {etype}",
        rule=meta.get("rule"),
        scope=meta.get("scope", "all"),
        observed=observed,
        element_count=total,
        unexpected_count=count,
        unexpected_percent=None if pct is None else round(float(pct), 4),
        allowed=allowed,
        samples=samples,
        error=error,
        kwargs=kw,
    )


@dataclass(frozen=True)
class ValidationReport:
    """The verdict on one batch. ``to_dict()`` is what lands in S3 beside the batch.

    ``failures`` are the failed expectations, ``checks`` every expectation run.
    ``docs_html`` (the GX Data Docs page) is kept out of ``to_dict()``.
    """

    success: bool
    data_uri: str
    row_count: int
    failures: list[ExpectationOutcome]
    dataset: str = ""
    suite: str = ""
    labelled: bool = False
    column_count: int = 0
    evaluated: int = 0
    successful: int = 0
    checks: list[ExpectationOutcome] = field(default_factory=list)
    checked_at: str = ""
    seconds: float = 0.0
    gx_version: str = ""
    suite_digest: str = ""
    source: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    validation_uri: str | None = None
    docs_uri: str | None = None
    quarantine_uri: str | None = None
    cached: bool = False
    docs_html: str | None = field(default=None, repr=False, compare=False)

    def summary_lines(self) -> list[str]:
        """One actionable line per failed expectation (empty when the batch passed).

        Checks that could not run only because their column is missing or mistyped
        are folded into that column's schema line.
        """
        broken = {f.column for f in self.failures if f.expectation in _SCHEMA_TYPES and f.column}
        lines, folded = [], 0
        for f in self.failures:
            if f.error and f.column in broken and f.expectation not in _SCHEMA_TYPES:
                folded += 1
                continue
            lines.append(f.message)
        if folded:
            lines.append(
                f"(+{folded} checks on columns {sorted(broken)} could not run; fix the schema first)"
            )
        return lines

    def verdict_line(self) -> str:
        """``VERDICT: PASS ...`` or ``VERDICT: REJECTED ... failed=[...]``."""
        counts = f"{self.successful}/{self.evaluated} expectations, {self.row_count} rows"
        if self.success:
            return f"VERDICT: PASS {self.data_uri} ({counts})"
        names = sorted(
            {f"{f.expectation.removeprefix('expect_')}({f.column or 'table'})" for f in self.failures}
        )
        return f"VERDICT: REJECTED {self.data_uri} failed=[{', '.join(names)}] ({counts})"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("docs_html", None)
        d["summary"] = self.summary_lines()
        d["verdict"] = "accepted" if self.success else "rejected"
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ValidationReport:
        kw = {k: d[k] for k in cls.__dataclass_fields__ if k in d and k != "docs_html"}
        kw["failures"] = [ExpectationOutcome.from_dict(x) for x in d.get("failures", [])]
        kw["checks"] = [ExpectationOutcome.from_dict(x) for x in d.get("checks", [])]
        return cls(**kw)

    def metadata(self) -> dict[str, Any]:
        """Small JSON-safe dict for XCom."""
        return {
            "dataset": self.dataset,
            "batch_uri": self.data_uri,
            "validation_uri": self.validation_uri,
            "docs_uri": self.docs_uri,
            "quarantine_uri": self.quarantine_uri,
            "success": self.success,
            "row_count": self.row_count,
            "evaluated": self.evaluated,
            "failed": len(self.failures),
            "labelled": self.labelled,
            "cached": self.cached,
        }


# ====================================================================== GX
def _gx():
    """Import GX with analytics off and its INFO chatter out of task logs."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    import great_expectations as gx

    # GX pins some module loggers to INFO (e.g. "Created temporary directory ..." per context)
    for name, logger in list(logging.Logger.manager.loggerDict.items()):
        if name.startswith("great_expectations") and isinstance(logger, logging.Logger):
            if logger.level == logging.NOTSET or logger.level >= logging.WARNING:
                continue
            logger.setLevel(logging.WARNING)
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    return gx


def _gx_suite(gx, suite: dict[str, Any]):
    exps = suite.get("expectations", [])
    configs = [{k: e[k] for k in ("type", "kwargs", "meta") if k in e} for e in exps]
    try:
        gx_suite = gx.ExpectationSuite(
            name=suite["name"], expectations=configs, meta=dict(suite.get("meta") or {})
        )
    except Exception as err:  # pydantic/GX errors from one bad entry
        detail = " ".join(str(err).split())[:300]
        raise ConfigError(
            f"Expectation suite {suite['name']!r} has invalid expectations: {detail}; "
            f"fix include/expectations/{suite['name'].split('.')[0]}.json."
        ) from err
    if len(gx_suite.expectations) != len(configs):  # GX logs and drops invalid entries: refuse instead
        known = {
            (e.expectation_type, json.dumps(e.configuration.kwargs, sort_keys=True, default=str))
            for e in gx_suite.expectations
        }
        bad = [
            c["type"]
            for c in configs
            if (c["type"], json.dumps(c["kwargs"], sort_keys=True, default=str)) not in known
        ]
        raise ConfigError(
            f"Expectation suite {suite['name']!r} has {len(configs) - len(gx_suite.expectations)} invalid "
            f"expectations ({bad[:5]}); fix include/expectations/{suite['name'].split('.')[0]}.json."
        )
    return gx_suite


def _plain(obj: Any) -> Any:
    """numpy scalars -> Python (GX 1.24 leaks np.bool/np.float64 that its serializer and renderer reject)."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(_plain(v) for v in obj)
    item = getattr(obj, "item", None)
    if callable(item) and type(obj).__module__ == "numpy":
        return item()
    return obj


def _run_gx(df: pd.DataFrame, suite: dict[str, Any], *, run_name: str, docs: bool):
    """Run ``suite`` on ``df`` in a fresh ephemeral context; returns (GX result dict, Data Docs HTML or None).

    The suite is validated on a whole-dataframe batch definition. The page is
    rendered with GX's Data Docs renderer and page view (what the site builder
    runs); results are not routed through a Checkpoint because GX 1.24 with
    numpy 2 stores ``np.bool`` successes (expect_column_quantile_values_to_be_between)
    that its result store cannot serialize.
    """
    gx = _gx()
    from great_expectations.core.run_identifier import RunIdentifier

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    asset = context.data_sources.add_pandas("mlops").add_dataframe_asset(suite["name"].split(".")[0])
    batch = asset.add_batch_definition_whole_dataframe("batch").get_batch(batch_parameters={"dataframe": df})
    result_format: dict[str, Any] = {
        "result_format": "BASIC",
        "partial_unexpected_count": PARTIAL_UNEXPECTED_COUNT,
    }
    result = batch.validate(_gx_suite(gx, suite), result_format=result_format)
    for r in result.results:
        r.success = bool(r.success)
        r.result = _plain(r.result)
    run_id = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
    result.meta["run_id"] = run_id
    result.meta["validation_time"] = run_id.run_time
    html = None
    if docs:
        try:
            from great_expectations.render.renderer import ValidationResultsPageRenderer
            from great_expectations.render.view import DefaultJinjaPageView

            page = ValidationResultsPageRenderer().render(result)
            html = DefaultJinjaPageView().render(page, data_context_id=None, show_how_to_buttons=False)
        except Exception as err:  # the page is a convenience: never fail a validation over it
            log.warning("GX Data Docs rendering failed (%s); using the plain fallback page", err)
    return _plain(result.to_json_dict()), html


def _fallback_html(report: ValidationReport) -> str:
    """Minimal self-rendered page, used only if GX's site builder fails."""
    from html import escape

    rows = "".join(
        f"<tr class='{'ok' if c.success else 'bad'}'><td>{'pass' if c.success else 'FAIL'}</td>"
        f"<td>{escape(c.column or 'table')}</td><td>{escape(c.expectation)}</td><td>{escape(c.message)}</td></tr>"
        for c in report.checks
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Validation "
        f"{escape(report.data_uri)}</title><style>body{{font-family:sans-serif}}.bad{{background:#fdd}}"
        "td{padding:2px 8px}</style></head><body>"
        f"<h1>{escape(report.verdict_line())}</h1><table>{rows}</table></body></html>"
    )


# ====================================================================== validate
def validate_frame(
    df: pd.DataFrame,
    cfg: DatasetConfig,
    *,
    labelled: bool = False,
    data_uri: str = "<frame>",
    suite: dict[str, Any] | None = None,
    docs: bool = False,
    run_id: str | None = None,
    source: dict[str, Any] | None = None,
) -> ValidationReport:
    """Validate a DataFrame against the dataset's GX suite (or ``suite``) in an ephemeral context.

    Parameters
    ----------
    df : the batch (features, plus the target when ``labelled``).
    cfg : the dataset config.
    labelled : also run the labelled-scope expectations (target values, class balance).
    data_uri : where the frame came from, for messages.
    suite : a suite dict (as :func:`build_suite` returns); default: the committed file.
    docs : also render the GX Data Docs page into ``report.docs_html``.

    Returns
    -------
    ValidationReport
    """
    started = time.perf_counter()
    if suite is None:
        suite = load_suite(cfg, labelled=labelled)
    else:
        wanted = {"all", "labelled" if labelled else "unlabelled"}
        exps = [e for e in suite["expectations"] if (e.get("meta") or {}).get("scope", "all") in wanted]
        suite = {**suite, "expectations": exps}
    base = run_id or (data_uri.rsplit("/", 2)[-2] if "/" in data_uri else data_uri)
    run_name = artifacts.safe_key(base)[:100]
    result, html = _run_gx(df, suite, run_name=run_name or "frame", docs=docs)
    checks = [_outcome(r) for r in result.get("results", [])]
    order = {
        json.dumps([e["type"], e["kwargs"]], sort_keys=True, default=str): i
        for i, e in enumerate(suite["expectations"])
    }
    checks.sort(
        key=lambda c: order.get(json.dumps([c.expectation, c.kwargs], sort_keys=True, default=str), 1 << 30)
    )
    stats = result.get("statistics") or {}
    report = ValidationReport(
        success=bool(result.get("success")),
        data_uri=data_uri,
        row_count=int(len(df)),
        failures=[c for c in checks if not c.success],
        dataset=cfg.name,
        suite=suite["name"],
        labelled=labelled,
        column_count=int(df.shape[1]),
        evaluated=int(stats.get("evaluated_expectations", len(checks))),
        successful=int(stats.get("successful_expectations", sum(c.success for c in checks))),
        checks=checks,
        checked_at=utc_now_iso(),
        seconds=round(time.perf_counter() - started, 3),
        gx_version=str((result.get("meta") or {}).get("great_expectations_version", "")),
        suite_digest=str((suite.get("meta") or {}).get("config_digest", "")),
        source=dict(source or {}),
        run_id=run_id,
    )
    if docs:
        report = replace(report, docs_html=html or _fallback_html(report))
    return report


def validate_uri(
    client,
    uri: str,
    cfg: DatasetConfig,
    *,
    labelled: bool = False,
    docs: bool = False,
    run_id: str | None = None,
) -> ValidationReport:
    """Read a Parquet or CSV batch from S3 (or a local path) and validate it.

    Raises
    ------
    InputReadError
        If the input cannot be read as a table at all (see :func:`read_batch`).
    """
    frame, source = read_batch(client, uri, cfg, labelled=labelled)
    return validate_frame(
        frame, cfg, labelled=labelled, data_uri=uri, docs=docs, run_id=run_id, source=source
    )


def docs_uri(data_uri: str) -> str:
    """GX Data Docs page beside a batch: ``<batch without suffix>.validation.html``."""
    return artifacts.validation_uri(data_uri).removesuffix(".json") + ".html"


def read_validation(client, batch_uri: str) -> dict[str, Any] | None:
    """The validation result JSON beside ``batch_uri``, or None if it was never validated."""
    uri = artifacts.validation_uri(batch_uri)
    if not storage.exists(client, uri):
        return None
    return storage.get_json(client, uri)


def is_accepted(client, batch_uri: str, *, labelled: bool = False) -> bool:
    """True if the batch's recorded result passed (with ``labelled``: a labelled validation passed)."""
    result = read_validation(client, batch_uri)
    if not result or not result.get("success"):
        return False
    return not labelled or bool(result.get("labelled"))


def _same_input(previous: dict[str, Any], source: dict[str, Any], digest: str, labelled: bool) -> bool:
    prev = previous.get("source") or {}
    same = (
        previous.get("suite_digest") == digest
        and bool(previous.get("labelled")) == labelled
        and prev.get("sha256") == source.get("sha256")
        and prev.get("version_id") == source.get("version_id")
        and prev.get("labels") == source.get("labels")
    )
    return same


def _rejection(report: ValidationReport, q_uri: str | None, cfg: DatasetConfig) -> BatchRejected:
    lines = report.summary_lines()
    msg = (
        f"Batch {report.data_uri} failed validation ({len(report.failures)} of {report.evaluated} "
        f"expectations): " + "; ".join(lines) + f". The batch was copied to {q_uri} with its report (the "
        f"original is untouched); fix the upstream export and re-upload it, or, if the data is right, adjust "
        f"validation: in include/configs/{cfg.name}.yaml and run `mlops suites --dataset {cfg.name}`."
    )
    return BatchRejected(msg, report=report, quarantine_uri=q_uri)


def validate_and_record(
    client,
    uri: str,
    cfg: DatasetConfig,
    *,
    labelled: bool = False,
    run_id: str | None = None,
    force: bool = False,
    raise_on_failure: bool = True,
) -> ValidationReport:
    """Validate an S3 batch and record the verdict; quarantine it on failure.

    Writes ``<batch>.validation.json`` (the report) and ``<batch>.validation.html``
    (GX Data Docs) beside the batch. On failure also copies the batch
    byte-for-byte (the validated version) to ``quarantine/<key>`` with the report
    and page beside the copy, leaves the original in place, and raises
    :class:`BatchRejected`. Idempotent: a batch whose bytes and suite are unchanged
    since its recorded result is not validated again (``report.cached``).

    Raises
    ------
    BatchRejected
        The batch failed its suite (a :class:`~mlops.errors.ValidationFailed`;
        message = the one-line failures). Not raised if ``raise_on_failure=False``.
    InputReadError
        The batch cannot be read as a table.
    """
    if not storage.is_s3(uri):
        raise ConfigError(
            f"validate_and_record records results beside the batch in S3; got {uri!r}. "
            "Use validate_uri for local files."
        )
    val_uri, page_uri, q_uri = artifacts.validation_uri(uri), docs_uri(uri), artifacts.quarantine_uri(uri)
    q_report_uri = artifacts.validation_uri(q_uri)
    frame, source = read_batch(client, uri, cfg, labelled=labelled)
    digest = config_digest(cfg)
    previous = read_validation(client, uri)
    if previous and not force and _same_input(previous, source, digest, labelled):
        report = replace(ValidationReport.from_dict(previous), cached=True)
        log.info("already validated: %s (%s) -> reusing %s", uri, report.verdict_line(), val_uri)
    else:
        report = validate_frame(
            frame, cfg, labelled=labelled, data_uri=uri, docs=True, run_id=run_id, source=source
        )
        report = replace(report, validation_uri=val_uri, docs_uri=page_uri)
        if not report.success:
            report = replace(report, quarantine_uri=q_uri)
        storage.put_json(client, val_uri, report.to_dict())
        storage.put_bytes(client, page_uri, (report.docs_html or "").encode(), content_type="text/html")
        log.info("wrote %s and %s", val_uri, page_uri)
    if report.success:
        return report
    _quarantine(client, uri, q_uri, source.get("version_id"), source.get("etag"))
    if not report.cached or not storage.exists(client, q_report_uri):
        storage.put_json(client, q_report_uri, report.to_dict())
        html = report.docs_html or _fallback_html(report)
        storage.put_bytes(client, docs_uri(q_uri), html.encode(), content_type="text/html")
    if raise_on_failure:
        raise _rejection(report, q_uri, cfg)
    return report


def _quarantine(client, uri: str, q_uri: str, version_id: str | None, etag: str | None) -> None:
    """Server-side copy of exactly the validated version; skipped if the same bytes are already there."""
    existing = storage.head(client, q_uri)
    if existing is not None and etag and existing.get("ETag") == etag:
        log.info("quarantine copy already exists: %s", q_uri)
        return
    storage.copy(client, uri, q_uri, version_id=version_id if version_id != "null" else None)
    log.info("quarantined %s -> %s", uri, q_uri)


# ====================================================================== summary
_DT = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")


def summarize_validations(
    client, bucket: str, dataset: str, *, include_unvalidated: bool = False
) -> list[dict[str, Any]]:
    """Each validated batch of ``dataset`` with its verdict, oldest first (for the demo summary).

    Reads the result JSON beside each batch and the reports under ``quarantine/``.
    Rows: ``date, batch_uri, success, verdict ("accepted"/"rejected"/"unvalidated"),
    row_count, evaluated, failed, failures (one-line), validation_uri, docs_uri,
    quarantine_uri, labelled, checked_at``.
    """
    prefix = f"s3://{bucket}/data/{dataset}/features/"
    uris = storage.list_uris(client, prefix)
    q_uris = set(storage.list_uris(client, artifacts.quarantine_uri(prefix)))
    results = {u for u in uris if u.endswith(".validation.json")}
    batches = [u for u in uris if not u.endswith((".validation.json", ".validation.html"))]
    rows = []
    for batch in batches:
        val_uri = artifacts.validation_uri(batch)
        q_uri = artifacts.quarantine_uri(batch)
        day = _DT.search(batch)
        row: dict[str, Any] = {"date": day.group(1) if day else None, "batch_uri": batch}
        doc = None
        if val_uri in results:
            doc = storage.get_json(client, val_uri)
        elif artifacts.validation_uri(q_uri) in q_uris:
            doc = storage.get_json(client, artifacts.validation_uri(q_uri))
        if doc is None:
            if not include_unvalidated:
                continue
            row.update(success=None, verdict="unvalidated", failures=[])
            rows.append(row)
            continue
        row.update(
            success=bool(doc.get("success")),
            verdict="accepted" if doc.get("success") else "rejected",
            row_count=doc.get("row_count"),
            evaluated=doc.get("evaluated"),
            failed=len(doc.get("failures") or []),
            failures=list(doc.get("summary") or [f.get("message") for f in doc.get("failures") or []]),
            validation_uri=val_uri if val_uri in results else None,
            docs_uri=doc.get("docs_uri"),
            labelled=bool(doc.get("labelled")),
            checked_at=doc.get("checked_at"),
        )
        if q_uri in q_uris:
            row["quarantine_uri"] = q_uri
        rows.append(row)
    return sorted(rows, key=lambda r: (r["date"] or "", r["batch_uri"]))

"""Turning GX results into one actionable line per expectation, and the verdict line.

A line names the column, what was observed against what is allowed, a few offending values
and the expectation, e.g. ``column "credit_score": 39.8% null (796 of 2000 rows; allowed
2%) — expect_column_values_to_not_be_null``. Sample values are cut to 60 characters (the
original length is shown), at most 5 per line, so a 1 MiB value never reaches a log line.

:func:`with_context` adds what only the caller knows (checks not run on missing columns,
fix hints in CLI or DAG words); :func:`summary_lines` gives one line per problem: a missing
or renamed column is one schema line, not one line per expectation on it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops import artifacts
from mlops.config import config_label
from mlops.validation.hints import DEFAULT_STYLE, hint

if TYPE_CHECKING:
    from mlops.config import DatasetConfig

#: GX result format: counts, percents and up to 5 sample values per expectation.
PARTIAL_UNEXPECTED_COUNT = 5
#: Longest sample value shown or recorded; longer ones are cut and their length shown.
MAX_SAMPLE_CHARS = 60
COLUMN_SET = "expect_table_columns_to_match_set"
SCHEMA_TYPES = frozenset(
    {
        "expect_column_to_exist",
        "expect_column_values_to_be_of_type",
        "expect_column_values_to_be_in_type_list",
    }
)
TYPE_CHECKS = SCHEMA_TYPES - {"expect_column_to_exist"}
CLASS_SHARE_RULE = "validation.class_shares."


# ---------------------------------------------------------------- formatting
def clip(x: Any, limit: int = MAX_SAMPLE_CHARS) -> Any:
    """A JSON-safe sample: strings (and non-scalars, as text) cut to ``limit`` characters plus "…"."""
    if x is None or isinstance(x, bool | int | float):
        return x
    text = x if isinstance(x, str) else str(x)
    return text if len(text) <= limit else text[:limit] + "…"


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
    text = x if isinstance(x, str) else str(x)
    if len(text) > MAX_SAMPLE_CHARS:
        shown = repr(text[:MAX_SAMPLE_CHARS]) if isinstance(x, str) else text[:MAX_SAMPLE_CHARS]
        return f"{shown}… ({len(text)} chars)"
    return repr(x) if isinstance(x, str) else text


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


def _error_message(info: Any) -> str | None:
    if not isinstance(info, dict):
        return None
    if "raised_exception" in info:
        return info.get("exception_message") if info.get("raised_exception") else None
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return value.get("exception_message") or "error"
    return None


# ---------------------------------------------------------------- one GX result
@dataclass(frozen=True)
class _Facts:
    """What one GX expectation result says, unpacked once for the message builders."""

    etype: str
    kw: dict[str, Any]
    result: dict[str, Any]
    observed: Any
    count: int | None
    pct: float | None
    total: int | None
    allowed_pct: float
    samples: list[Any]

    @property
    def eg(self) -> str:
        return f", e.g. {', '.join(_fmt(s) for s in self.samples)}" if self.samples else ""

    @property
    def bounds(self) -> str:
        return _bounds(self.kw.get("min_value"), self.kw.get("max_value"))

    @classmethod
    def of(cls, etype: str, kw: dict[str, Any], r: dict[str, Any]) -> _Facts:
        mostly = kw.get("mostly")
        unique = dict.fromkeys(json.dumps(v, default=str) for v in r.get("partial_unexpected_list") or [])
        return cls(
            etype=etype,
            kw=kw,
            result=r,
            observed=r.get("observed_value"),
            count=r.get("unexpected_count"),
            pct=r.get("unexpected_percent"),
            total=r.get("element_count"),
            allowed_pct=100.0 * (1.0 - mostly) if mostly is not None else 0.0,
            samples=[json.loads(s) for s in unique][:PARTIAL_UNEXPECTED_COUNT],
        )


Message = tuple[str, str | None]  # (what was observed, what is allowed)


def _row_count(f: _Facts) -> Message:
    lo, hi, observed = f.kw.get("min_value"), f.kw.get("max_value"), f.observed
    if lo is not None and observed is not None and observed < lo:
        return f"{observed} rows, below the minimum of {lo}", f.bounds
    if hi is not None and observed is not None and observed > hi:
        return f"{observed} rows, above the maximum of {hi}", f.bounds
    return f"{observed} rows (allowed {f.bounds})", f.bounds


def _column_set(f: _Facts) -> Message:
    mism = (f.result.get("details") or {}).get("mismatched") or {}
    parts = []
    if mism.get("missing"):
        parts.append(f"missing columns {sorted(mism['missing'])}")
    if mism.get("unexpected"):
        parts.append(f"unexpected columns {sorted(mism['unexpected'])} (allow_extra_columns is false)")
    text = "; ".join(parts) or f"columns {f.observed} do not match the expected set"
    return text, f"exactly {len(f.kw.get('column_set') or [])} named columns"


def _column_exists(f: _Facts) -> Message:
    return "missing from the batch", None


def _of_type(f: _Facts) -> Message:
    allowed = str(f.kw.get("type_"))
    if f.count:
        return f"{_pct(f.pct)} of values are not {allowed} ({f.count} of {f.total} rows){f.eg}", allowed
    return f"type {f.observed}, expected {allowed}", allowed


def _in_type_list(f: _Facts) -> Message:
    allowed = "|".join(f.kw.get("type_list") or [])
    return f"type {f.observed}, expected one of {allowed}", allowed


def _not_null(f: _Facts) -> Message:
    allowed = _pct(f.allowed_pct)
    return f"{_pct(f.pct)} null ({f.count} of {f.total} rows; allowed {allowed})", allowed


def _unique(f: _Facts) -> Message:
    return (
        f"{_pct(f.pct)} of rows share a value with another row ({f.count} of {f.total} rows){f.eg}",
        "unique",
    )


def _values_between(f: _Facts) -> Message:
    if f.total is None:
        return f"values outside {f.bounds}", f.bounds
    non_null = f.total - (f.result.get("missing_count") or 0)
    text = (
        f"{_pct(f.pct)} of values outside {f.bounds} ({f.count} of {non_null} "
        f"non-null rows; allowed {_pct(f.allowed_pct)}){f.eg}"
    )
    return text, f.bounds


def _in_set(f: _Facts) -> Message:
    allowed = _set(list(f.kw.get("value_set") or []))
    return (
        f"{_pct(f.pct)} of values not in {allowed} ({_rows(f.count)}; allowed {_pct(f.allowed_pct)}){f.eg}",
        allowed,
    )


def _not_in_set(f: _Facts) -> Message:
    banned = _set(list(f.kw.get("value_set") or []))
    return (
        f"{_pct(f.pct)} of values in {banned} ({_rows(f.count)}; allowed {_pct(f.allowed_pct)}){f.eg}",
        f"not in {banned}",
    )


def _class_share(f: _Facts) -> Message:
    """Class balance from an in-set (share >= mostly) or not-in-set (share <= 1 - mostly) result."""
    label = _fmt((f.kw.get("value_set") or [None])[0])
    mostly = float(f.kw.get("mostly") or 1.0)
    non_null = (f.total or 0) - (f.result.get("missing_count") or 0)
    if f.etype == "expect_column_values_to_be_in_set":
        share, allowed = 100.0 - (f.pct or 0.0), f">= {_pct(100 * mostly)}"
        rows = non_null - (f.count or 0)
    else:
        share, allowed = f.pct or 0.0, f"<= {_pct(100 * (1 - mostly))}"
        rows = f.count or 0
    return (
        f"class {label} is {_pct(share)} of labelled rows ({rows} of {non_null}; allowed {allowed})",
        allowed,
    )


def _statistic(f: _Facts) -> Message:
    stat = "mean" if "mean" in f.etype else "median"
    return f"{stat} {_fmt(f.observed)} outside {f.bounds}", f.bounds


def _quantiles(f: _Facts) -> Message:
    qr = f.kw.get("quantile_ranges") or {}
    obs = f.observed or {}
    flags = (f.result.get("details") or {}).get("success_details") or []
    ranges = qr.get("value_ranges") or []
    bad = [
        f"q{_fmt(q)}={_fmt(val)} outside {_bounds(*rng)}"
        for q, val, rng, ok in zip(
            obs.get("quantiles") or [], obs.get("values") or [], ranges, flags, strict=False
        )
        if not ok
    ]
    text = "quantile " + ("; ".join(bad) if bad else f"values {obs.get('values')}")
    allowed = ", ".join(
        f"q{_fmt(q)} in {_bounds(*rng)}" for q, rng in zip(qr.get("quantiles") or [], ranges, strict=False)
    )
    return text, allowed


def _other(f: _Facts) -> Message:
    text = f"observed {_fmt(f.observed)}" + (
        f", {_pct(f.pct)} unexpected ({f.count} rows){f.eg}" if f.count else ""
    )
    return text, None


_MESSAGES: dict[str, Callable[[_Facts], Message]] = {
    "expect_table_row_count_to_be_between": _row_count,
    "expect_table_columns_to_match_set": _column_set,
    "expect_column_to_exist": _column_exists,
    "expect_column_values_to_be_of_type": _of_type,
    "expect_column_values_to_be_in_type_list": _in_type_list,
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_unique": _unique,
    "expect_column_values_to_be_between": _values_between,
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_not_be_in_set": _not_in_set,
    "expect_column_mean_to_be_between": _statistic,
    "expect_column_median_to_be_between": _statistic,
    "expect_column_quantile_values_to_be_between": _quantiles,
}


def outcome(res: dict[str, Any]) -> artifacts.ExpectationOutcome:
    """One GX expectation result (as a plain dict) as an :class:`~mlops.artifacts.ExpectationOutcome`."""
    config = res.get("expectation_config") or {}
    etype = config.get("type", "?")
    kw = {k: v for k, v in (config.get("kwargs") or {}).items() if k != "batch_id"}
    meta = config.get("meta") or {}
    facts = _Facts.of(etype, kw, res.get("result") or {})
    error = _error_message(res.get("exception_info"))
    rule = meta.get("rule")
    if error:
        text, allowed = f"could not be evaluated: {error.strip().splitlines()[0][:200]}", None
    elif str(rule or "").startswith(CLASS_SHARE_RULE):
        text, allowed = _class_share(facts)
    else:
        text, allowed = _MESSAGES.get(etype, _other)(facts)
    col = kw.get("column")
    where = f'column "{col}"' if col else "table"
    observed = facts.observed
    return artifacts.ExpectationOutcome(
        expectation=etype,
        column=col,
        success=bool(res.get("success")),
        message=f"{where}: {text} — {etype}",
        rule=rule,
        scope=meta.get("scope", "all"),
        observed=clip(observed, 200) if isinstance(observed, str) else observed,
        element_count=facts.total,
        unexpected_count=facts.count,
        unexpected_percent=None if facts.pct is None else round(float(facts.pct), 4),
        allowed=allowed,
        samples=[clip(v) for v in facts.samples],
        error=error,
        kwargs=kw,
    )


# ---------------------------------------------------------------- context only the caller has
def _add(check: artifacts.ExpectationOutcome, note: str) -> artifacts.ExpectationOutcome:
    """``check`` with ``note`` inserted before its `` — expectation`` suffix."""
    head, sep, tail = check.message.rpartition(" — ")
    message = f"{head}; {note}{sep}{tail}" if sep else f"{check.message}; {note}"
    return dataclasses.replace(check, message=message)


def _checks(n: int) -> str:
    return f"{n} check{'' if n == 1 else 's'}"


def _mismatch(check: artifacts.ExpectationOutcome) -> tuple[set[str], set[str]]:
    """``(missing, unexpected)`` columns of a column-set check (its expected set vs the observed columns)."""
    expected = set(check.kwargs.get("column_set") or ())
    observed = set(check.observed) if isinstance(check.observed, list) else set()
    unexpected = observed - expected if check.kwargs.get("exact_match", True) else set()
    return expected - observed, unexpected


def _column_set_notes(
    check: artifacts.ExpectationOutcome, cfg: DatasetConfig, not_run: dict[str, int], style: str
) -> list[str]:
    missing, unexpected = _mismatch(check)
    notes = []
    skipped = sum(not_run.get(c, 0) for c in missing)
    if skipped:
        notes.append(f"{_checks(skipped)} on the missing columns not run")
    if cfg.target in missing:
        notes.append(
            f"a labelled batch carries its target {cfg.target!r}: add the column, or "
            f"{hint('unlabelled', style)}"
        )
    if cfg.target in unexpected:
        notes.append(
            f"the batch carries its target {cfg.target!r}: {hint('labelled', style)}, or set "
            f"labels.in_features: true in {config_label(cfg.name)}"
        )
    return notes


def with_context(
    checks: list[artifacts.ExpectationOutcome],
    cfg: DatasetConfig,
    *,
    not_run: dict[str, int] | None = None,
    style: str = DEFAULT_STYLE,
) -> list[artifacts.ExpectationOutcome]:
    """Failed checks' messages completed with what GX does not know.

    ``not_run`` counts the checks skipped per missing column; they are named on the
    column-set line. A failed type check on a column counts the checks on it that could
    not run, and an id column of the wrong type names ``id_type``. A target column that is
    missing (labelled) or unexpected (unlabelled) gets the fix in ``style`` words.
    """
    not_run = not_run or {}
    mistyped = {c.column for c in checks if not c.success and c.expectation in TYPE_CHECKS}
    errored: dict[str, int] = {}
    for c in checks:
        if c.error and c.column in mistyped and c.expectation not in SCHEMA_TYPES:
            errored[c.column] = errored.get(c.column, 0) + 1
    out = []
    for c in checks:
        notes: list[str] = []
        if c.success:
            pass
        elif c.expectation == COLUMN_SET:
            notes = _column_set_notes(c, cfg, not_run, style)
        elif c.expectation in TYPE_CHECKS:
            if c.column == cfg.id_column and cfg.id_type == "string" and "int" in str(c.observed):
                notes.append(f"set id_type: integer in {config_label(cfg.name)} if integer ids are right")
            if errored.get(c.column):
                notes.append(f"{_checks(errored[c.column])} on it could not run")
        elif c.expectation == "expect_column_to_exist" and not_run.get(c.column):
            notes.append(f"{_checks(not_run[c.column])} on it not run")
        for note in notes:
            c = _add(c, note)
        out.append(c)
    return out


# ---------------------------------------------------------------- the verdict
def summary_lines(failures: list[artifacts.ExpectationOutcome]) -> list[str]:
    """One actionable line per problem (empty when the batch passed).

    Missing columns are one line, the column-set line (``missing columns [...]; unexpected
    columns [...]``): their own ``expect_column_to_exist`` lines are folded into it. Checks
    that could not run because their column is missing or mistyped are folded into that
    schema line (:func:`with_context` counts them there).
    """
    missing: set[str] = set()
    for f in failures:
        if f.expectation == COLUMN_SET:
            missing |= _mismatch(f)[0]
    broken = {f.column for f in failures if f.expectation in SCHEMA_TYPES and f.column}
    lines = []
    for f in failures:
        if f.expectation == "expect_column_to_exist" and f.column in missing:
            continue
        if f.error and f.column in broken and f.expectation not in SCHEMA_TYPES:
            continue
        lines.append(f.message)
    return lines


def verdict_line(result: artifacts.ValidationResult) -> str:
    """``VERDICT: PASS <batch> (...)`` or ``VERDICT: REJECTED <batch> failed=[...] (...)``."""
    counts = f"{result.successful}/{result.evaluated} expectations, {result.row_count} rows"
    if result.success:
        return f"VERDICT: PASS {result.batch_uri} ({counts})"
    names = sorted(
        {f"{f.expectation.removeprefix('expect_')}({f.column or 'table'})" for f in result.failures}
    )
    return f"VERDICT: REJECTED {result.batch_uri} failed=[{', '.join(names)}] ({counts})"

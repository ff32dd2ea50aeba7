"""Inferring a dataset config (and so its expectation suite) from a clean sample: ``mlops init``.

Much as TFX SchemaGen and TFDV's ``infer_schema`` do, one pass of pandas profiling over a
sample that is known to be good gives:

- each column's role and type: the id (a unique integer or string column), the optional
  date column, the target, and numeric, categorical (strings) and boolean features;
- null tolerances: 0 for a column never null in the sample, else about twice its share;
- hard ranges of numeric columns: the sample's min and max widened by ``RANGE_MARGIN`` of
  the span, or further where the tail reaches beyond what a sample shows (``TAIL_REACH``; a
  heavy-tailed column's rare large values are not a broken export), and not below 0 for a
  column that never was;
- category value sets, only up to ``max_categories`` distinct values; above that the column
  is free text or high-cardinality and gets no value set (TFDV's domain-size cap);
- id uniqueness and a row-count floor (a tenth of the sample's rows); the id and target found
  by name when not given, names compared as snake_case (``Customer ID`` is ``customer_id``);
- review notes: a constant column, ISO dates stored as text, whole numbers or text unique on
  every row (an identifier, not a feature), infinite values refused;
- the target's values and class balance (shares of each class, widened), or its range and
  mean for a regression target;
- distribution sanity: bounds on the mean and the 5/50/95% quantiles of each numeric column:
  one standard deviation of drift room either way, plus how far that statistic moves by
  chance in a batch of ``min_rows`` rows (a seeded bootstrap of the sample): room for drift
  and small batches, not for a unit change or a broken export.

The result is a plain dict, validated as a :class:`~mlops.config.DatasetConfig` and written
as YAML for review; the suite is then rendered from it like any other
(:func:`mlops.validation.suite.write_suite`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

#: Numeric ranges are widened by this share of the sample's span on each side: hard bounds catch a
#: broken export, so they leave room for drift (a shift of most of a standard deviation).
RANGE_MARGIN = 0.25
#: ...or, when wider, out to where the sample's tail reaches in far more rows than it has: the
#: extreme plus ``TAIL_REACH`` times the mean excess of the top ``TAIL_SHARE`` of values over the
#: next one (an exponential tail extrapolated ~3000-fold; about 6 std for a normal column). For a
#: positive, right-skewed column the same is done on the log scale with half the reach, for
#: lognormal-like tails (incomes, areas, counts) whose rare large values a small sample never shows,
#: at most ``TAIL_MAX_FACTOR`` times the sample's max. Below ``TAIL_MIN_SAMPLE`` rows a tail is too
#: few values to extrapolate: the margin grows instead, by sqrt(TAIL_MIN_SAMPLE / rows) (0.65 of
#: the span at 30 rows), since a small sample has seen less of the range; a x100 error still fails.
TAIL_REACH, TAIL_SHARE, TAIL_MIN_ROWS = 8.0, 0.05, 10
TAIL_MIN_SAMPLE, TAIL_MAX_FACTOR = 200, 20.0
#: Quantiles whose values get sanity bounds.
QUANTILES = [0.05, 0.5, 0.95]
#: Batches drawn from the sample to see how much a small batch's statistics move, their size cap,
#: and how much the 0.1%-99.9% range of a statistic over those batches is widened.
BOOTSTRAP, BOOTSTRAP_MAX_ROWS, ENVELOPE_WIDEN = 500, 2000, 1.5
#: Class shares and the positive rate may move this many binomial standard errors (at min_rows).
SHARE_Z = 3.3
#: A categorical column with more distinct values than this gets no value set.
MAX_CATEGORIES = 50
#: A target with at most this many distinct integer values is a classification target.
MAX_CLASSES = 20
ID_NAMES = ("id",)
TARGET_NAMES = ("target", "label", "y", "class")


@dataclass(frozen=True)
class ColumnInference:
    """What was inferred for one column, for the review printout and ``--json``."""

    name: str
    role: str  # id, date, target, numeric, categorical, boolean
    dtype: str
    null_share: float
    distinct: int
    rules: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def line(self) -> str:
        nulls = "no nulls" if self.null_share == 0 else f"{_pct(self.null_share)} null"
        text = f"  {self.role:<11} {self.name:<24} {self.dtype}, {self.distinct} distinct, {nulls}"
        text += "".join(f"\n  {'':<11} {'':<24} -> {r}" for r in self.rules)
        return text + "".join(f"\n  {'':<11} {'':<24} NOTE {n}" for n in self.notes)


@dataclass(frozen=True)
class Inference:
    """The inferred config (a dict ready for YAML) and what was seen, column by column."""

    config: dict[str, Any]
    columns: list[ColumnInference]
    rows: int
    notes: list[str]

    def lines(self) -> list[str]:
        return [c.line() for c in self.columns] + [f"  NOTE {n}" for n in self.notes]

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config,
            "rows": self.rows,
            "columns": [c.__dict__ for c in self.columns],
            "notes": self.notes,
        }


# ---------------------------------------------------------------- numbers
def _pct(share: float) -> str:
    return f"{100 * share:.3g}%"


def _plain(x: Any) -> Any:
    """numpy scalars -> Python; floats that are whole -> int."""
    if hasattr(x, "item") and type(x).__module__ == "numpy":
        x = x.item()
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return int(x)
    return x


def _step(span: float) -> float:
    """A round step about a thousandth of ``span`` (three significant digits of it)."""
    return 10.0 ** (math.floor(math.log10(span)) - 2) if span > 0 else 1.0


def _round_out(lo: float, hi: float, *, integer: bool = False) -> tuple[Any, Any]:
    """``[lo, hi]`` widened to round numbers (whole numbers for an integer column)."""
    step = _step(hi - lo)
    if integer:
        step = max(step, 1.0)
    lo_r = math.floor(lo / step + 1e-9) * step
    hi_r = math.ceil(hi / step - 1e-9) * step
    digits = max(0, -math.floor(math.log10(step)))
    return _plain(round(lo_r, digits)), _plain(round(hi_r, digits))


def _tail_reach(values: np.ndarray, reach: float) -> float:
    """How far the upper tail of ``values`` extends beyond its max: ``reach`` mean excesses of the top
    ``TAIL_SHARE`` of values over the value below them, counting only those above it (0 with fewer
    than ``TAIL_MIN_ROWS`` + 1 values)."""
    k = max(TAIL_MIN_ROWS, math.ceil(TAIL_SHARE * len(values)))
    if len(values) <= k:
        return 0.0
    top = np.partition(values, len(values) - k - 1)[-(k + 1) :]
    above = top[top > top.min()]  # ties at the threshold (a mass at 0, whole numbers) are no tail
    return reach * float(above.mean() - top.min()) if above.size else 0.0


def _hard_range(values: np.ndarray) -> tuple[float, float]:
    """The sample's ``[min, max]`` widened by ``RANGE_MARGIN`` of the span or by the tails' reach."""
    lo, hi = float(values.min()), float(values.max())
    share = RANGE_MARGIN * max(1.0, math.sqrt(TAIL_MIN_SAMPLE / max(len(values), 1)))
    margin = share * (hi - lo) if hi > lo else max(abs(hi), 1.0) * share
    up, down = hi + margin, lo - margin
    if len(values) >= TAIL_MIN_SAMPLE:
        linear_up = hi + _tail_reach(values, TAIL_REACH)
        up = max(up, linear_up)
        down = min(down, lo - _tail_reach(-values, TAIL_REACH))
        if lo > 0 and float(np.mean(values)) > float(np.median(values)):  # right-skewed: log(x) tail
            reach = min(_tail_reach(np.log(values), TAIL_REACH / 2), math.log(TAIL_MAX_FACTOR))
            up = max(up, hi * math.exp(reach))
    return (max(down, 0.0) if lo >= 0 else down), up


def _null_tolerance(share: float) -> float:
    """About twice the observed null share (at least one point more), in whole percents."""
    return min(1.0, math.ceil(100 * max(2 * share, share + 0.01)) / 100)


def _share_bounds(share: float, batch_rows: int) -> tuple[float, float]:
    """Class balance: the share may fall to a third of itself or rise by two thirds of the rest,
    or move ``SHARE_Z`` binomial standard errors in a batch of ``batch_rows`` rows, whichever is wider."""
    noise = SHARE_Z * math.sqrt(share * (1 - share) / max(batch_rows, 1))
    lo = math.floor(1000 * max(0.0, min(share / 3, share - noise))) / 1000
    hi = math.ceil(1000 * min(1.0, max(1 - (1 - share) / 3, share + noise))) / 1000
    return lo, hi


# ---------------------------------------------------------------- roles
def _kind(series: pd.Series) -> str:
    """``boolean``, ``numeric``, ``datetime``, ``string`` or ``other`` from the dtype (and the values of object columns)."""
    from pandas.api import types

    if types.is_bool_dtype(series.dtype):
        return "boolean"
    if types.is_numeric_dtype(series.dtype):
        return "numeric"
    if types.is_datetime64_any_dtype(series.dtype):
        return "datetime"
    inferred = types.infer_dtype(series, skipna=True)
    if inferred == "boolean":
        return "boolean"
    if inferred in ("string", "empty") or isinstance(series.dtype, types.CategoricalDtype):
        return "string"
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "numeric"
    if inferred in ("datetime64", "datetime", "date"):
        return "datetime"
    return "other"


def _snake(name: str) -> str:
    """``"Customer ID"`` -> ``customer_id``: lower case, each run of other characters one ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


def _pick(frame: pd.DataFrame, given: str | None, flag: str, names: tuple[str, ...], what: str) -> str:
    """The column named by ``flag``, else the one conventional name present; a clear error otherwise."""
    if given is not None:
        if given not in frame.columns:
            raise ConfigError(
                f"{flag} {given!r} is not a column of the sample; columns: {list(frame.columns)[:30]}."
            )
        return given
    found = [c for c in frame.columns if _snake(c) in names]
    if what == "id":  # also "Customer ID", "customer-id", "customer.id"
        found += [c for c in frame.columns if _snake(c).endswith("_id") and c not in found]
        found = [c for c in found if frame[c].notna().all() and frame[c].is_unique]
    if len(found) == 1:
        return found[0]
    raise ConfigError(
        f"Cannot tell the {what} column of the sample ({'candidates ' + str(found) if found else 'no candidate'}); "
        f"pass {flag} COL. Columns: {list(frame.columns)[:30]}."
    )


def _id_type(frame: pd.DataFrame, col: str) -> str:
    kind = _kind(frame[col])
    if kind == "numeric" and frame[col].dtype.kind in "iu":
        id_type = "integer"
    elif kind == "string":
        id_type = "string"
    else:
        raise ConfigError(
            f"Id column {col!r} has type {frame[col].dtype}; ids must be integers or strings. Pass --id COL."
        )
    nulls, dups = int(frame[col].isna().sum()), int(frame[col].duplicated().sum())
    if nulls or dups:
        raise ConfigError(
            f"Id column {col!r} is not a unique, non-null key in the sample ({nulls} nulls, {dups} duplicates); "
            "pass --id COL naming a column that is."
        )
    return id_type


def _task(series: pd.Series, given: str | None) -> str:
    if given is not None:
        return given
    kind = _kind(series)
    if kind in ("boolean", "string"):
        return "classification"
    values = series.dropna()
    whole = bool((values == values.round()).all()) if kind == "numeric" else False
    return "classification" if whole and values.nunique() <= MAX_CLASSES else "regression"


# ---------------------------------------------------------------- per-role rules
def _batch_noise(values: np.ndarray, batch_rows: int) -> dict[Any, tuple[float, float]]:
    """How far the mean and each quantile of a batch of ``batch_rows`` rows drawn from the sample
    fall below and above their median: ``(down, up)`` per statistic.

    The 0.1%-99.9% range over ``BOOTSTRAP`` draws, widened by ``ENVELOPE_WIDEN`` (about 5
    standard errors each way, so that the ~50 such checks of a dataset rarely reject a good
    batch by chance). Seeded: the same sample gives the same config.
    """
    rng = np.random.default_rng(0)
    rows = max(2, min(batch_rows, BOOTSTRAP_MAX_ROWS))
    draws = values[rng.integers(0, len(values), size=(BOOTSTRAP, rows))]
    stats = {
        "mean": draws.mean(axis=1),
        **dict(zip(QUANTILES, np.quantile(draws, QUANTILES, axis=1, method="nearest"), strict=True)),
    }
    out = {}
    for key, x in stats.items():
        lo, mid, hi = (float(v) for v in np.quantile(x, [0.001, 0.5, 0.999]))
        out[key] = (ENVELOPE_WIDEN * (mid - lo), ENVELOPE_WIDEN * (hi - mid))
    return out


def _finite(values: pd.Series, name: Any) -> pd.Series:
    """``values``, refused with a clear error when any is infinite (a clean sample has none)."""
    bad = values[~np.isfinite(values.to_numpy())]
    if len(bad):
        raise ConfigError(
            f"Column {name!r} has {len(bad)} infinite values in the sample (e.g. {bad.iloc[0]}); "
            "infer from a clean sample: fix or drop those rows."
        )
    return values


def _numeric_rules(
    series: pd.Series, v: dict[str, Any], name: str, col: ColumnInference, batch_rows: int
) -> None:
    """Range with a margin, mean and quantile bounds of one numeric column (pandas and numpy, vectorised).

    A statistic's bounds are the sample's value, plus or minus one std of drift room plus how
    far that statistic moves by chance in a batch of ``batch_rows`` rows (:func:`_batch_noise`).
    """
    values = _finite(series.dropna().astype("float64"), series.name)
    if values.empty:
        return
    lo, hi = float(values.min()), float(values.max())
    integer = series.dtype.kind in "iu" or bool((values == values.round()).all())
    margin = RANGE_MARGIN * (hi - lo) if hi > lo else max(abs(hi), 1.0) * RANGE_MARGIN
    r_lo, r_hi = _round_out(*_hard_range(values.to_numpy()), integer=integer)
    v["ranges"][name] = [r_lo, r_hi]
    std = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    spread = std if std > 0 else margin
    noise = _batch_noise(values.to_numpy(), batch_rows)

    def bounds(stat: Any, x: float) -> list[Any]:
        down, up = noise[stat]
        return list(_round_out(max(x - spread - down, r_lo), min(x + spread + up, r_hi)))

    mean = float(values.mean())
    v["mean_ranges"][name] = bounds("mean", mean)
    qs = values.quantile(QUANTILES, interpolation="nearest")  # as GX computes them
    v["quantile_ranges"][name] = {float(q): bounds(q, float(x)) for q, x in qs.items()}
    col.rules.append(f"range [{_plain(lo)}, {_plain(hi)}] -> ranges {v['ranges'][name]}")
    col.rules.append(f"mean {mean:.4g}, std {std:.4g} -> mean_ranges {v['mean_ranges'][name]}")
    shown = ", ".join(f"q{q:g}={float(x):.4g}" for q, x in qs.items())
    col.rules.append(f"{shown} -> quantile_ranges")


def _category_rules(
    series: pd.Series, v: dict[str, Any], name: str, col: ColumnInference, max_categories: int
) -> None:
    counts = series.value_counts(dropna=True)
    if len(counts) <= max_categories:
        v["value_sets"][name] = sorted(_plain(x) for x in counts.index)
        col.rules.append(f"value set of {len(counts)}: {_short(v['value_sets'][name])}")
        return
    col.notes.append(
        f"{len(counts)} distinct values > {max_categories} (--max-categories): free text or "
        "high-cardinality, so no value set"
    )
    if counts.max() == 1 and len(counts) == len(series):
        col.notes.append("unique on every row: an identifier, not a feature? drop it or pass it as --id")


def _short(values: list[Any], limit: int = 8) -> str:
    shown = ", ".join(str(x)[:30] for x in values[:limit])
    return "{" + shown + (f", ... +{len(values) - limit}" if len(values) > limit else "") + "}"


def _target_rules(
    series: pd.Series, task: str, cfg: dict[str, Any], col: ColumnInference, max_categories: int
) -> dict[str, Any]:
    """Target values and class balance (classification) or range and mean (regression); gate defaults."""
    v = cfg["validation"]
    values = series.dropna()
    if task == "regression":
        scratch = {"ranges": {}, "mean_ranges": {}, "quantile_ranges": {}}
        _numeric_rules(series, scratch, "t", col, v["min_rows"])
        v["target_range"] = scratch["ranges"]["t"]
        v["target_mean_range"] = scratch["mean_ranges"]["t"]
        col.rules[:] = [r for r in col.rules if "quantile" not in r]
        return {"primary_metric": "rmse", "min_r2": 0.1}
    if _kind(series) == "numeric":
        _finite(values.astype("float64"), series.name)
    shares = values.value_counts(normalize=True)
    if len(shares) > max(MAX_CLASSES, max_categories) or len(shares) < 2:
        raise ConfigError(
            f"Target {series.name!r} has {len(shares)} distinct values in the sample; classification needs "
            f"2 to {max(MAX_CLASSES, max_categories)}. Pass --task regression or a labelled sample with every class."
        )
    labels = sorted(_plain(x) for x in shares.index)
    if _kind(series) == "numeric":
        labels = [int(x) for x in labels]
    v["target_values"] = labels
    col.rules.append(f"classes {labels} -> target_values")
    binary = len(labels) == 2
    if binary and (labels == [False, True] or labels == [0, 1]):
        positive = labels[1]
        share = float(shares[positive]) if positive in shares.index else float(values.mean())
        v["target_mean_range"] = list(_share_bounds(share, v["min_rows"]))
        col.rules.append(f"positive rate {share:.3g} -> target_mean_range {v['target_mean_range']}")
    else:
        v["class_shares"] = {
            _plain(k): list(_share_bounds(float(s), v["min_rows"])) for k, s in sorted(shares.items())
        }
        shown = ", ".join(f"{_plain(k)}: {float(s):.3g}" for k, s in sorted(shares.items()))
        col.rules.append(f"class shares {shown} -> class_shares {v['class_shares']}")
        if binary:
            col.notes.append(
                f"binary labels {labels}: metrics count the larger label {labels[1]!r} as positive; "
                "set positive_class if that is wrong"
            )
    if binary:
        return {"primary_metric": "roc_auc", "min_roc_auc": 0.6}
    floor = min(0.95, round(float(shares.max()) + 0.1, 2))
    col.rules.append(f"majority class share {float(shares.max()):.3g} -> gate min_accuracy {floor}")
    return {"primary_metric": "accuracy", "min_accuracy": floor}


# ---------------------------------------------------------------- the whole sample
def _date_column(frame: pd.DataFrame, given: str | None, taken: set[str]) -> str | None:
    """``--date`` (parsed if it is ISO text), else the one datetime column, else None (day from dt=)."""
    import pandas as pd

    if given is not None:
        if given not in frame.columns:
            raise ConfigError(
                f"--date {given!r} is not a column of the sample; columns: {list(frame.columns)[:30]}."
            )
        if _kind(frame[given]) != "datetime":
            try:
                frame[given] = pd.to_datetime(frame[given], format="ISO8601")
            except (ValueError, TypeError) as err:
                reason = re.split(r"\. You might|\n", str(err))[0].rstrip(". :")
                raise ConfigError(
                    f"--date {given!r} is not a datetime column nor ISO 8601 text ({reason}); "
                    "pass the event-date column, or none to take each batch's day from its dt= partition."
                ) from None
        return given
    dates = [c for c in frame.columns if c not in taken and _kind(frame[c]) == "datetime"]
    if len(dates) > 1:
        raise ConfigError(
            f"The sample has several datetime columns {dates}; pass --date COL for the event date "
            "(the others are not supported as features: drop them)."
        )
    return dates[0] if dates else None


def _feature(
    frame: pd.DataFrame, name: str, v: dict[str, Any], features: dict[str, list[str]], max_categories: int
) -> ColumnInference:
    series = frame[name]
    kind = _kind(series)
    if series.isna().all():
        raise ConfigError(
            f"Column {name!r} is null in every row of the sample; drop it or use a fuller sample."
        )
    role = {"numeric": "numeric", "string": "categorical", "boolean": "boolean"}.get(kind)
    if role is None:
        raise ConfigError(
            f"Column {name!r} has type {series.dtype} ({kind}); features must be numbers, strings or booleans. "
            "Drop it, or pass it as --date if it is the event date."
        )
    col = ColumnInference(name, role, str(series.dtype), float(series.isna().mean()), int(series.nunique()))
    features[role].append(name)
    if role == "numeric":
        _numeric_rules(series, v, name, col, v["min_rows"])
        if series.dtype.kind in "iu" and len(series) >= 20 and series.is_unique:
            col.notes.append(
                "whole numbers, unique on every row: an identifier or code, not a quantity? drop it"
            )
    elif role == "categorical":
        _category_rules(series, v, name, col, max_categories)
        if _looks_like_dates(series):
            col.notes.append(f"ISO dates as text: pass --date {name!r} if it is the event date, else drop it")
    if col.distinct == 1:
        col.notes.append(
            "one value in every row: no signal for the model; drop it unless it varies in production"
        )
    return col


def _looks_like_dates(series: pd.Series) -> bool:
    """A text column whose (first 1000) values all parse as ISO 8601 dates or datetimes."""
    import pandas as pd

    values = series.dropna().astype(str).head(1000)
    if values.empty or not values.str.match(r"^\d{4}-\d{2}-\d{2}").all():
        return False
    try:
        pd.to_datetime(values, format="ISO8601")
    except (ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class _Roles:
    id_column: str
    id_type: str
    date_column: str | None
    target: str
    task: str
    date_from_text: bool = False


def _roles(frame: pd.DataFrame, id_column, target, task, date_column, sample: str) -> _Roles:
    """The id, date and target columns and the task, checked (``frame``'s date column may be parsed)."""
    if frame.empty:
        raise ConfigError(f"The sample {sample} has no rows; infer from a clean batch with data.")
    if not all(isinstance(c, str) for c in frame.columns) or not frame.columns.is_unique:
        raise ConfigError(
            f"The sample {sample} needs unique string column names; got {list(frame.columns)[:30]}."
        )
    id_col = _pick(frame, id_column, "--id", ID_NAMES, "id")
    tgt = _pick(frame, target, "--target", TARGET_NAMES, "target")
    if id_col == tgt:
        raise ConfigError(f"--id and --target are the same column {id_col!r}; they must differ.")
    id_type = _id_type(frame, id_col)
    as_text = date_column in frame.columns and _kind(frame[date_column]) != "datetime"
    date = _date_column(frame, date_column, {id_col, tgt})
    if frame[tgt].isna().any():
        raise ConfigError(
            f"Target {tgt!r} is null in {int(frame[tgt].isna().sum())} rows of the sample; "
            "infer from a labelled sample with a label on every row."
        )
    return _Roles(id_col, id_type, date, tgt, _task(frame[tgt], task), as_text)


def _columns(
    frame: pd.DataFrame, roles: _Roles, v: dict[str, Any], features: dict[str, list[str]], max_categories: int
) -> tuple[list[ColumnInference], dict[str, Any]]:
    """Every column's inference (filling ``v`` and ``features``) and the gate defaults from the target."""
    columns, gate = [], {}
    for c in frame.columns:
        series = frame[c]
        base = (str(series.dtype), float(series.isna().mean()), int(series.nunique()))
        if c == roles.id_column:
            col = ColumnInference(c, "id", *base, rules=[f"unique key -> id_type: {roles.id_type}"])
        elif c == roles.date_column:
            col = ColumnInference(c, "date", *base, rules=["datetime -> date_column"])
            if roles.date_from_text:
                col.notes.append(
                    "ISO text in the sample, parsed: CSV batches are parsed too, Parquet batches "
                    "must store it as a timestamp"
                )
        elif c == roles.target:
            col = ColumnInference(c, "target", *base, rules=[f"{roles.task} target"])
            gate = _target_rules(series, roles.task, {"validation": v}, col, max_categories)
        else:
            col = _feature(frame, c, v, features, max_categories)
            if col.null_share > 0:
                features["optional"].append(c)
        if col.null_share > 0:
            v["null_tolerance"][c] = _null_tolerance(col.null_share)
            col.rules.append(f"{_pct(col.null_share)} null -> null_tolerance {v['null_tolerance'][c]}")
        columns.append(col)
    return columns, gate


def infer_config(
    frame: pd.DataFrame,
    name: str,
    *,
    id_column: str | None = None,
    target: str | None = None,
    task: str | None = None,
    date_column: str | None = None,
    labels_in_features: bool = True,
    max_categories: int = MAX_CATEGORIES,
    min_rows: int | None = None,
    sample: str = "<frame>",
) -> Inference:
    """The dataset config a clean ``frame`` implies (see the module docstring for the rules).

    ``id_column``/``target`` default to the one column with a conventional name (``id``,
    ``*_id``; ``target``, ``label``, ``y``, ``class``); ``task`` to classification for a
    boolean, string or small-integer target; ``date_column`` to the one datetime column.

    Raises
    ------
    ConfigError
        Unknown ``--id``/``--target``/``--date`` column, an id that is not a unique
        integer/string key, a target with nulls or a single class, an unsupported column type.
    """
    frame = frame.copy()
    roles = _roles(frame, id_column, target, task, date_column, sample)
    rows = len(frame)
    v: dict[str, Any] = {
        "min_rows": max(1, rows // 10) if min_rows is None else min_rows,
        "max_null_fraction": 0.0,
        "allow_extra_columns": False,
        **{k: {} for k in ("null_tolerance", "ranges", "value_sets", "mean_ranges", "quantile_ranges")},
    }
    features: dict[str, list[str]] = {"numeric": [], "categorical": [], "boolean": [], "optional": []}
    columns, gate = _columns(frame, roles, v, features, max_categories)
    config = {
        "name": name,
        "task": roles.task,
        "description": f"Inferred by `mlops init` from {sample} ({rows} rows); say what is predicted.",
        "id_column": roles.id_column,
        "id_type": roles.id_type,
        **({"date_column": roles.date_column} if roles.date_column else {}),
        "target": roles.target,
        "labels": {"in_features": labels_in_features},
        "source": "external",
        "features": {k: list(cols) for k, cols in features.items() if cols},
        "model": {
            "estimator": "logistic_regression" if roles.task == "classification" else "ridge",
            "params": {},
        },
        "gate": gate,
        "validation": {k: x for k, x in v.items() if x != {}},
        "monitoring": {"alert_rules": [{"name": "dataset_drift", "kind": "dataset_drift"}]},
    }
    notes = [
        f"row-count floor min_rows {v['min_rows']} ({'a tenth of the sample' if min_rows is None else '--min-rows'})",
        "null tolerance of every other column: 0 (never null in the sample)",
        f"labels.in_features: {str(labels_in_features).lower()} "
        + ("(batches carry the target)" if labels_in_features else "(labels land in labels/dt=<day>/)"),
        "defaults to review: model, gate, monitoring, training (not inferred)",
    ]
    return Inference(config=config, columns=columns, rows=rows, notes=notes)


def render_yaml(inference: Inference, command: str) -> str:
    """The config as YAML, under a header saying where it came from and what to review."""
    import yaml

    name = inference.config["name"]
    header = (
        f"# {name}: inferred from a sample of {inference.rows} rows by\n#   {command}\n"
        "# Review before committing: validation: holds what the sample showed, widened (ranges by 25% of\n"
        "# the span or by how far the tails reach; means and quantiles by one std plus their noise in\n"
        "# batches of min_rows rows; class and null shares loosened). model:, gate: and monitoring:\n"
        f"# are defaults. After editing validation:, run `mlops suites --dataset {name}`.\n"
    )
    body = yaml.safe_dump(
        inference.config, sort_keys=False, default_flow_style=None, width=110, allow_unicode=True
    )
    return header + body

"""Feature profiles: the reference side of every drift check, summarised once at training time.

Ground module (no step imports): training builds the reference profile of a candidate
with :func:`build_reference_profile` and stores it as ``reference_profile.json``
(:class:`mlops.artifacts.ReferenceProfile`); monitoring compares each night's window with
it, never re-reading the training data. The low-level helpers (quantile picks on sorted
arrays, bin counts, category counts) are shared with monitoring's drift statistics so both
sides bin and count the same way.

Per numeric column: reference-quantile bin ``edges`` (``bins`` bins, ties merged) with
their ``bin_counts``, mean/std/min/max, summary ``quantiles`` and a 1,000-point quantile
``sketch`` (enough for KS, Wasserstein and plots). Per categorical column: counts and
frequencies of the top 200 categories (the rest pooled as ``__other__``). Missing rates
for both.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from mlops.artifacts import CategoricalProfile, NumericProfile, ReferenceProfile
from mlops.config import config_label
from mlops.errors import ConfigError

if TYPE_CHECKING:
    import pandas as pd

    from mlops.config import DatasetConfig

T = TypeVar("T")
U = TypeVar("U")

#: Number of reference-quantile bins for PSI.
DEFAULT_BINS = 10
#: Size of the stored reference quantile sketch (used for KS, Wasserstein and plots).
SKETCH_SIZE = 1000
#: At most this many categories are kept per categorical feature; the rest go to ``__other__``.
MAX_CATEGORIES = 200
OTHER = "__other__"
SUMMARY_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
#: Columns are profiled (and compared) on up to this many threads when a frame is large.
MAX_THREADS = 4
#: Frames with fewer rows are handled on one thread (thread start-up would cost more).
THREADED_ROWS = 200_000


# ---------------------------------------------------------------- array helpers
def finite_or_none(x: Any) -> float | None:
    """A JSON-safe float (None for None, NaN or inf)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def as_float_array(values: Any) -> np.ndarray:
    """Numeric values as a flat float64 array; non-numeric entries become NaN."""
    import pandas as pd

    if isinstance(values, pd.Series):
        if not pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
            values = pd.to_numeric(values, errors="coerce")
        return values.to_numpy(dtype="float64", na_value=np.nan)
    arr = np.asarray(values)
    if arr.dtype.kind not in "fiub":
        arr = pd.to_numeric(pd.Series(arr.ravel()), errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan
        )
    return arr.astype("float64", copy=False).ravel()


def sorted_finite(values: Any) -> tuple[np.ndarray, int]:
    """``(sorted finite values, number of missing/non-finite values)``."""
    x = as_float_array(values)
    kept = x[np.isfinite(x)]
    kept.sort()
    return kept, int(x.size - kept.size)


def pick(sorted_x: np.ndarray, q: np.ndarray | Sequence[float]) -> np.ndarray:
    """Quantiles of a sorted array with the inverted-CDF rule (values that occur in the data)."""
    n = sorted_x.size
    idx = np.clip(np.ceil(np.asarray(q, dtype="float64") * n).astype(np.int64) - 1, 0, n - 1)
    return sorted_x[idx]


def sketch_grid(m: int = SKETCH_SIZE) -> np.ndarray:
    """The probability levels of an ``m``-point quantile sketch (bin mid-points)."""
    return (np.arange(m) + 0.5) / m


def bin_counts(sorted_x: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Counts per bin ``(-inf, e1], (e1, e2], ..., (ek, inf)`` of an already-sorted array."""
    cum = np.searchsorted(sorted_x, np.asarray(edges, dtype="float64"), side="right")
    return np.diff(np.concatenate([[0], cum, [sorted_x.size]])).astype(np.int64)


def category_counts(values: Any) -> tuple[dict[str, int], int, int]:
    """``(counts by category as str, n_missing, n_total)``, counts sorted descending."""
    import pandas as pd

    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    missing_mask = s.isna()
    counts = s[~missing_mask].astype(str).value_counts(sort=True)
    return {str(k): int(v) for k, v in counts.items()}, int(missing_mask.sum()), int(s.size)


def prediction_values(predictions: Any) -> np.ndarray:
    """Model scores as float64: a 2-D ``predict_proba`` array gives its last (positive-class) column."""
    arr = np.asarray(predictions)
    if arr.ndim == 2:
        arr = arr[:, -1]
    return as_float_array(arr)


def map_columns(fn: Callable[[T], U], items: list[T], n_rows: int) -> list[U]:
    """``[fn(i) for i in items]``, on a few threads for big frames (numpy sorts release the GIL)."""
    workers = min(MAX_THREADS, os.cpu_count() or 1, len(items))
    if n_rows < THREADED_ROWS or workers < 2:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


# ---------------------------------------------------------------- column profiles
def numeric_profile(values: Any, bins: int = DEFAULT_BINS, *, kind: str = "numeric") -> NumericProfile:
    """Profile one numeric column (``kind="probability"`` for a classifier's positive-class scores)."""
    x, missing = sorted_finite(values)
    n, total = x.size, x.size + missing
    rate = (missing / total) if total else 0.0
    positive_rate = finite_or_none((x >= 0.5).mean()) if kind == "probability" and n else None
    if n == 0:
        return NumericProfile(kind, 0, missing, rate, None, None, None, None, {}, [], [0], [], positive_rate)
    edges = np.unique(pick(x, np.arange(1, bins) / bins))
    # An edge at the maximum would leave the last bin empty by construction: drop it.
    edges = edges[edges < x[-1]]
    quantiles = {
        str(q): finite_or_none(v) for q, v in zip(SUMMARY_QUANTILES, pick(x, SUMMARY_QUANTILES), strict=True)
    }
    return NumericProfile(
        kind=kind,
        count=int(n),
        missing=int(missing),
        missing_rate=rate,
        mean=finite_or_none(x.mean()),
        std=finite_or_none(x.std(ddof=1)) if n > 1 else 0.0,
        min=finite_or_none(x[0]),
        max=finite_or_none(x[-1]),
        quantiles=quantiles,
        edges=[float(e) for e in edges],
        bin_counts=[int(c) for c in bin_counts(x, edges)],
        sketch=[float(v) for v in pick(x, sketch_grid())],
        positive_rate=positive_rate,
    )


def categorical_profile(values: Any) -> CategoricalProfile:
    """Profile one categorical column: counts and frequencies of the top categories."""
    counts, missing, total = category_counts(values)
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) > MAX_CATEGORIES:
        kept, rest = items[: MAX_CATEGORIES - 1], items[MAX_CATEGORIES - 1 :]
        items = kept + [(OTHER, sum(v for _, v in rest))]
    n = total - missing
    return CategoricalProfile(
        kind="categorical",
        count=int(n),
        missing=int(missing),
        missing_rate=(missing / total) if total else 0.0,
        counts=dict(items),
        frequencies={k: (v / n if n else 0.0) for k, v in items},
        n_categories=len(counts),
    )


# ---------------------------------------------------------------- reference profile
def _prediction_profile(
    predictions: Any, is_classifier: bool, bins: int, kind: str | None
) -> NumericProfile | CategoricalProfile | None:
    """The profile of the model's output on reference rows: scores (numeric) or predicted classes."""
    if predictions is None:
        return None
    if kind not in (None, "categorical"):
        raise ConfigError(
            f"The 'prediction_kind' parameter of build_reference_profile must be None or 'categorical'. "
            f"Got {kind!r} instead."
        )
    if np.asarray(predictions).size == 0:
        raise ConfigError("predictions is empty; pass the model's output on reference rows, or None.")
    if kind == "categorical":
        return categorical_profile(np.asarray(predictions).ravel())
    values = prediction_values(predictions)
    return numeric_profile(values, bins, kind="probability" if is_classifier else "numeric")


def build_reference_profile(
    frame: pd.DataFrame,
    cfg: DatasetConfig,
    predictions: Any = None,
    importances: Mapping[str, float] | None = None,
    *,
    bins: int = DEFAULT_BINS,
    prediction_kind: str | None = None,
) -> ReferenceProfile:
    """Summarise the training (reference) data once, for every later drift check.

    Parameters
    ----------
    frame : the reference rows (the model's training window). Must hold every
        feature in ``cfg.features``; the target column is profiled too when present.
    cfg : the dataset config (feature lists, task).
    predictions : the model's scores on reference rows: positive-class probabilities for a
        classifier (a 2-D ``predict_proba`` array is accepted; its last column is used),
        predicted values for a regressor. Profiled like a numeric feature (a marginal
        distribution, so they need not align with ``frame``). Prefer out-of-sample scores
        (the holdout): in-sample scores of a flexible model are more extreme than what
        it will produce in production, which reads as prediction drift.
    importances : optional ``{feature: importance}``; used for top-k alert rules
        and importance-weighted dataset drift.
    bins : number of reference-quantile bins for PSI (ties can merge bins).
    prediction_kind : ``"categorical"`` profiles ``predictions`` as predicted classes (a
        multiclass model: prediction drift over the classes); None (default) as scores
        (``probability`` for a classifier, ``numeric`` for a regressor).

    Boolean features (``features.boolean``) are profiled as categorical columns (``True``/``False``).

    Returns
    -------
    ReferenceProfile
        Write it with ``artifacts.write_artifact(client, artifacts.reference_profile_uri(prefix), profile)``.

    Raises
    ------
    ConfigError
        If a configured feature is missing from ``frame``, ``bins`` is below 2, or
        ``predictions`` is empty.
    """
    missing_cols = [c for c in cfg.features.all if c not in frame.columns]
    if missing_cols:
        raise ConfigError(
            f"Reference frame lacks features {missing_cols} required by {config_label(cfg.name)}; "
            f"it has columns {list(frame.columns)[:30]}."
        )
    return profile_frame(
        frame,
        cfg.features.numeric,
        cfg.features.categorical + cfg.features.boolean,
        dataset=cfg.name,
        task=cfg.task,
        target=cfg.target,
        predictions=predictions,
        importances=importances,
        bins=bins,
        prediction_kind=prediction_kind,
    )


def profile_frame(
    frame: pd.DataFrame,
    numeric: Sequence[str],
    categorical: Sequence[str],
    *,
    dataset: str = "adhoc",
    task: str = "regression",
    target: str | None = None,
    predictions: Any = None,
    importances: Mapping[str, float] | None = None,
    bins: int = DEFAULT_BINS,
    prediction_kind: str | None = None,
) -> ReferenceProfile:
    """:func:`build_reference_profile` with explicit column lists (no dataset config needed)."""
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise ConfigError(
            f"The 'bins' parameter of build_reference_profile must be an int >= 2. Got {bins!r} instead."
        )
    is_classifier = task == "classification"
    columns = [(name, "numeric") for name in numeric] + [(name, "categorical") for name in categorical]

    def one(item: tuple[str, str]) -> NumericProfile | CategoricalProfile:
        name, kind = item
        return numeric_profile(frame[name], bins) if kind == "numeric" else categorical_profile(frame[name])

    profiles = map_columns(one, columns, len(frame))
    prediction = _prediction_profile(predictions, is_classifier, bins, prediction_kind)
    target_profile = None
    if target and target in frame.columns:
        target_profile = (
            categorical_profile(frame[target]) if is_classifier else numeric_profile(frame[target], bins)
        )
    ranked = None
    if importances:
        pairs = ((str(k), finite_or_none(v) or 0.0) for k, v in importances.items())
        ranked = dict(sorted(pairs, key=lambda kv: -abs(kv[1])))
    return ReferenceProfile(
        dataset=dataset,
        task=task,
        row_count=int(len(frame)),
        bins=bins,
        features={name: p for (name, _), p in zip(columns, profiles, strict=True)},
        prediction=prediction,
        target=target_profile,
        importances=ranked,
    )


__all__ = [
    "DEFAULT_BINS",
    "MAX_CATEGORIES",
    "OTHER",
    "SKETCH_SIZE",
    "SUMMARY_QUANTILES",
    "as_float_array",
    "bin_counts",
    "build_reference_profile",
    "categorical_profile",
    "category_counts",
    "finite_or_none",
    "map_columns",
    "numeric_profile",
    "pick",
    "prediction_values",
    "profile_frame",
    "sketch_grid",
    "sorted_finite",
]

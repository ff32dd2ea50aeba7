"""Monitoring: reference profiles, data and prediction drift, performance decay and alert rules.

The reference side of every comparison is a *profile*, computed once when a
model is trained (:func:`build_reference_profile`) and stored beside the model
version as ``reference_profile.json``. The nightly run compares the current
window with that profile and never re-reads the training data.

Statistics (numpy + scipy.stats, one sort per column):

- numeric features: PSI on reference-quantile bins (10 by default, epsilon for
  empty bins), plus KS (small samples) or the Wasserstein distance normalised by
  the reference standard deviation (large samples);
- categorical features: PSI over categories (unseen categories in their own
  bucket, counted and reported), plus chi-square (small samples) or the
  Jensen-Shannon distance (large samples);
- missing-rate change for every feature.

Large samples use effect sizes (distances) rather than p-values, so a million
rows do not flag every feature; small-sample p-values are Holm-adjusted across
the features so that nineteen tests at 5% do not raise a false alarm most nights.
PSI thresholds apply to PSI minus its no-drift expectation ``(bins-1)(1/n_ref+1/n_cur)``,
so small windows do not warn on noise.

Per feature: ``drift_detected`` (the test, or a significant missing-rate jump) and a
severity ``status``: ``alert`` (detected and PSI >= psi_alert, or a missing-rate jump),
``warn`` (PSI >= psi_warn), ``minor`` (detected, PSI below psi_warn) or ``ok``. The
night: ALERT on dataset drift (share of detected features >= ``drift_share``) or any
alert, WARN on any warn, else OK; alert rules (:func:`evaluate_rules`) can raise it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops import artifacts, metrics, storage
from mlops._util import utc_now_iso as _now_iso
from mlops.errors import ConfigError, InputReadError, RegistryError

if TYPE_CHECKING:
    import pandas as pd

    from mlops.config import AlertRule, DatasetConfig, MonitoringSpec

PROFILE_SCHEMA = "mlops.reference_profile/v1"
#: Number of reference-quantile bins for PSI.
DEFAULT_BINS = 10
#: Size of the stored reference quantile sketch (used for KS, Wasserstein and plots).
SKETCH_SIZE = 1000
#: At most this many categories are kept per categorical feature; the rest go to ``__other__``.
MAX_CATEGORIES = 200
OTHER = "__other__"
UNSEEN = "__unseen__"
#: Floor for bin proportions in PSI (empty bins would make it infinite).
PSI_EPSILON = 1e-4
SUMMARY_QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
#: Columns are profiled and compared on up to this many threads when a frame is large.
MAX_THREADS = 4


# ====================================================================== helpers
def _f(x: Any) -> float | None:
    """A JSON-safe float (None for NaN/inf)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _as_float_array(values: Any) -> np.ndarray:
    """Numeric values as float64; non-numeric entries become NaN."""
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


def _sorted_finite(values: Any) -> tuple[np.ndarray, int]:
    """``(sorted finite values, number of missing/non-finite values)``."""
    x = _as_float_array(values)
    finite = np.isfinite(x)
    kept = x[finite]
    kept.sort()
    return kept, int(x.size - kept.size)


def _pick(sorted_x: np.ndarray, q: np.ndarray | Sequence[float]) -> np.ndarray:
    """Quantiles of a sorted array with the inverted-CDF rule (values that occur in the data)."""
    n = sorted_x.size
    idx = np.clip(np.ceil(np.asarray(q, dtype="float64") * n).astype(np.int64) - 1, 0, n - 1)
    return sorted_x[idx]


def _sketch_grid(m: int = SKETCH_SIZE) -> np.ndarray:
    return (np.arange(m) + 0.5) / m


def bin_counts(sorted_x: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Counts per bin ``(-inf, e1], (e1, e2], ..., (ek, inf)`` of an already-sorted array."""
    cum = np.searchsorted(sorted_x, np.asarray(edges, dtype="float64"), side="right")
    return np.diff(np.concatenate([[0], cum, [sorted_x.size]])).astype(np.int64)


def _map_columns(fn, items: list, n_rows: int) -> list:
    """``[fn(i) for i in items]``, on a few threads for big frames (numpy sorts release the GIL)."""
    workers = min(MAX_THREADS, os.cpu_count() or 1, len(items))
    if n_rows < 200_000 or workers < 2:
        return [fn(i) for i in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(fn, items))


def _numeric_profile(values: Any, bins: int) -> dict[str, Any]:
    x, missing = _sorted_finite(values)
    n = x.size
    total = n + missing
    out: dict[str, Any] = {
        "kind": "numeric",
        "count": int(n),
        "missing": int(missing),
        "missing_rate": (missing / total) if total else 0.0,
    }
    if n == 0:
        out.update(mean=None, std=None, min=None, max=None, quantiles={}, edges=[], bin_counts=[0], sketch=[])
        return out
    inner = np.arange(1, bins) / bins
    edges = np.unique(_pick(x, inner))
    # An edge at the maximum would leave the last bin empty by construction: drop it.
    edges = edges[edges < x[-1]]
    out.update(
        mean=_f(x.mean()),
        std=_f(x.std(ddof=1)) if n > 1 else 0.0,
        min=_f(x[0]),
        max=_f(x[-1]),
        quantiles={
            str(q): _f(v) for q, v in zip(SUMMARY_QUANTILES, _pick(x, SUMMARY_QUANTILES), strict=True)
        },
        edges=[float(e) for e in edges],
        bin_counts=[int(c) for c in bin_counts(x, edges)],
        sketch=[float(v) for v in _pick(x, _sketch_grid())],
    )
    return out


def _category_counts(values: Any) -> tuple[dict[str, int], int, int]:
    """``(counts by category as str, n_missing, n_total)`` sorted by count descending."""
    import pandas as pd

    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    missing_mask = s.isna()
    counts = s[~missing_mask].astype(str).value_counts(sort=True)
    return {str(k): int(v) for k, v in counts.items()}, int(missing_mask.sum()), int(s.size)


def _categorical_profile(values: Any) -> dict[str, Any]:
    counts, missing, total = _category_counts(values)
    items = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    if len(items) > MAX_CATEGORIES:
        kept, rest = items[: MAX_CATEGORIES - 1], items[MAX_CATEGORIES - 1 :]
        items = kept + [(OTHER, sum(v for _, v in rest))]
    n = total - missing
    return {
        "kind": "categorical",
        "count": int(n),
        "missing": int(missing),
        "missing_rate": (missing / total) if total else 0.0,
        "counts": dict(items),
        "frequencies": {k: (v / n if n else 0.0) for k, v in items},
        "n_categories": len(counts),
    }


def _prediction_values(predictions: Any) -> np.ndarray:
    arr = np.asarray(predictions)
    if arr.ndim == 2:
        # predict_proba output: the positive-class column.
        arr = arr[:, -1]
    return _as_float_array(arr)


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    return obj


def build_reference_profile(
    frame: pd.DataFrame,
    cfg: DatasetConfig,
    predictions: np.ndarray | None = None,
    importances: dict[str, float] | None = None,
    *,
    bins: int = DEFAULT_BINS,
) -> dict[str, Any]:
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

    Returns
    -------
    dict
        JSON-safe: ``schema``, ``dataset``, ``task``, ``row_count``, ``bins``,
        ``features`` (per feature: quantile ``edges`` + ``bin_counts``, mean/std/min/max,
        summary ``quantiles``, a 1,000-point quantile ``sketch`` and ``missing_rate``
        for numeric; ``counts``/``frequencies`` and ``missing_rate`` for categorical),
        ``prediction`` (same as numeric, or None), ``target`` and ``importances``.

    Raises
    ------
    ConfigError
        If a configured feature is missing from ``frame``, ``bins`` is below 2, or
        ``predictions`` is empty.
    """
    if not isinstance(bins, int) or bins < 2:
        raise ConfigError(
            f"The 'bins' parameter of build_reference_profile must be an int >= 2. Got {bins!r} instead."
        )
    missing_cols = [c for c in cfg.features.all if c not in frame.columns]
    if missing_cols:
        raise ConfigError(
            f"Reference frame lacks features {missing_cols} required by include/configs/{cfg.name}.yaml; "
            f"it has columns {list(frame.columns)[:30]}."
        )
    return profile_frame(
        frame,
        cfg.features.numeric,
        cfg.features.categorical,
        dataset=cfg.name,
        task=cfg.task,
        target=cfg.target,
        predictions=predictions,
        importances=importances,
        bins=bins,
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
) -> dict[str, Any]:
    """:func:`build_reference_profile` with explicit column lists (no dataset config needed)."""
    is_classifier = task == "classification"
    profile: dict[str, Any] = {
        "schema": PROFILE_SCHEMA,
        "dataset": dataset,
        "task": task,
        "row_count": int(len(frame)),
        "bins": bins,
        "features": {},
        "prediction": None,
        "target": None,
        "importances": None,
    }
    columns = [(name, "numeric") for name in numeric] + [(name, "categorical") for name in categorical]

    def one(item: tuple[str, str]) -> dict[str, Any]:
        name, kind = item
        return _numeric_profile(frame[name], bins) if kind == "numeric" else _categorical_profile(frame[name])

    for (name, _), entry in zip(columns, _map_columns(one, columns, len(frame)), strict=True):
        profile["features"][name] = entry
    if predictions is not None:
        values = _prediction_values(predictions)
        if values.size == 0:
            raise ConfigError("predictions is empty; pass the model's scores on reference rows, or None.")
        pred = _numeric_profile(values, bins)
        pred["kind"] = "probability" if is_classifier else "numeric"
        if is_classifier:
            finite = values[np.isfinite(values)]
            pred["positive_rate"] = _f((finite >= 0.5).mean()) if finite.size else None
        profile["prediction"] = pred
    if target and target in frame.columns:
        if is_classifier:
            profile["target"] = _categorical_profile(frame[target])
        else:
            profile["target"] = _numeric_profile(frame[target], bins)
    if importances:
        ranked = sorted(((str(k), float(v)) for k, v in importances.items()), key=lambda kv: -abs(kv[1]))
        profile["importances"] = dict(ranked)
    return _json_safe(profile)


# ====================================================================== drift
@dataclass(frozen=True)
class Thresholds:
    """The limits one feature is judged against (defaults from ``monitoring:``, overrides per feature)."""

    psi_warn: float = 0.1
    psi_alert: float = 0.25
    p_value: float = 0.05
    distance_alert: float = 0.1
    missing_change_alert: float = 0.05

    @classmethod
    def for_feature(cls, spec: MonitoringSpec, feature: str) -> Thresholds:
        base = {
            "psi_warn": spec.psi_warn,
            "psi_alert": spec.psi_alert,
            "p_value": spec.p_value,
            "distance_alert": spec.distance_alert,
            "missing_change_alert": spec.missing_change_alert,
        }
        override = spec.per_feature.get(feature, {})
        unknown = sorted(set(override) - set(base))
        if unknown:
            raise ConfigError(
                f"monitoring.per_feature.{feature} has unknown keys {unknown}; allowed: {sorted(base)}."
            )
        base.update({k: float(v) for k, v in override.items()})
        return cls(**base)


@dataclass(frozen=True)
class FeatureDrift:
    """Drift of one feature (or of the model's predictions) between the reference and the current window.

    ``score`` is what is compared with ``threshold``: a (Holm-adjusted) p-value for the
    small-sample tests (drift when ``score < threshold``), a distance for the large-sample
    ones (drift when ``score >= threshold``).
    """

    feature: str
    kind: str
    method: str
    statistic: float | None
    p_value: float | None
    score: float | None
    threshold: float
    test_drift: bool
    psi: float
    missing_rate_ref: float
    missing_rate_cur: float
    missing_drift: bool
    drift_detected: bool
    status: str
    n_ref: int
    n_cur: int
    thresholds: Thresholds
    psi_noise: float = 0.0
    unseen_count: int = 0
    unseen_share: float = 0.0
    unseen_categories: tuple[str, ...] = ()
    importance: float | None = None
    ref_summary: dict[str, Any] = field(default_factory=dict)
    cur_summary: dict[str, Any] = field(default_factory=dict)
    plot: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def psi_adjusted(self) -> float:
        """PSI minus its expected value under no drift, ``(bins-1)(1/n_ref + 1/n_cur)``: small windows
        make PSI noisy, and thresholds are applied to this value so they do not raise false alarms."""
        return max(0.0, self.psi - self.psi_noise)

    @property
    def missing_change(self) -> float:
        return self.missing_rate_cur - self.missing_rate_ref

    def with_score(self, p_adjusted: float) -> FeatureDrift:
        test_drift = p_adjusted < self.threshold
        drift = test_drift or self.missing_drift
        return replace(
            self,
            score=p_adjusted,
            test_drift=test_drift,
            drift_detected=drift,
            status=_status(drift, self.psi_adjusted, self.missing_drift, self.thresholds),
        )

    def describe(self) -> str:
        if self.method in ("ks", "chi2"):
            op = "<" if self.test_drift else ">="
            rule = f"{self.method} p={_fmt(self.score)} {op} {self.threshold:g}"
        else:
            op = ">=" if self.test_drift else "<"
            rule = f"{self.method}={_fmt(self.score)} {op} {self.threshold:g}"
        extra = f" unseen={self.unseen_count}" if self.unseen_count else ""
        noise = f" (noise {self.psi_noise:.3f})" if self.psi_noise >= 0.005 else ""
        jump = f" (change >= {self.thresholds.missing_change_alert:g}: DRIFT)" if self.missing_drift else ""
        return (
            f"{self.feature}: {rule} -> {'DRIFT' if self.test_drift else 'no drift'}; "
            f"psi={self.psi:.3f}{noise} (warn {self.thresholds.psi_warn:g}, alert {self.thresholds.psi_alert:g}); "
            f"missing {self.missing_rate_ref:.1%} -> {self.missing_rate_cur:.1%}{jump}{extra} => {self.status.upper()}"
        )

    def to_dict(self, *, plot: bool = True) -> dict[str, Any]:
        out = {
            "feature": self.feature,
            "kind": self.kind,
            "method": self.method,
            "statistic": _f(self.statistic),
            "p_value": _f(self.p_value),
            "score": _f(self.score),
            "threshold": self.threshold,
            "test_drift": self.test_drift,
            "psi": _f(self.psi),
            "psi_noise": _f(self.psi_noise),
            "psi_adjusted": _f(self.psi_adjusted),
            "psi_warn": self.thresholds.psi_warn,
            "psi_alert": self.thresholds.psi_alert,
            "missing_rate_ref": _f(self.missing_rate_ref),
            "missing_rate_cur": _f(self.missing_rate_cur),
            "missing_change": _f(self.missing_change),
            "missing_drift": self.missing_drift,
            "drift_detected": self.drift_detected,
            "status": self.status,
            "n_ref": self.n_ref,
            "n_cur": self.n_cur,
            "unseen_count": self.unseen_count,
            "unseen_share": _f(self.unseen_share),
            "unseen_categories": list(self.unseen_categories),
            "importance": _f(self.importance),
            "ref_summary": self.ref_summary,
            "cur_summary": self.cur_summary,
        }
        if plot:
            out["plot"] = self.plot
        return _json_safe(out)


def _fmt(x: float | None) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.4g}"


def _status(drift: bool, psi: float, missing_drift: bool, th: Thresholds) -> str:
    """Severity of one feature: detection (the test) and size (PSI, noise-corrected) together.

    ``alert``: drift detected and PSI at the alert level, or a missing-rate jump;
    ``warn``: PSI past the warn level; ``minor``: drift detected but PSI below the warn
    level (statistically visible, practically small: counts toward dataset drift, does
    not change the night's verdict on its own); ``ok`` otherwise.
    """
    if drift and (psi >= th.psi_alert or missing_drift):
        return "alert"
    if psi >= th.psi_warn:
        return "warn"
    return "minor" if drift else "ok"


def psi(ref_counts: np.ndarray, cur_counts: np.ndarray, eps: float = PSI_EPSILON) -> float:
    """Population stability index of two count vectors over the same bins (proportions floored at ``eps``)."""
    r = np.asarray(ref_counts, dtype="float64")
    c = np.asarray(cur_counts, dtype="float64")
    if r.sum() <= 0 or c.sum() <= 0:
        return 0.0
    r = np.maximum(r / r.sum(), eps)
    c = np.maximum(c / c.sum(), eps)
    return float(np.sum((c - r) * np.log(c / r)))


def psi_noise(ref_counts: np.ndarray, cur_counts: np.ndarray) -> float:
    """Expected PSI between two samples of one distribution: ``(k-1)(1/n_ref + 1/n_cur)``, k = occupied bins."""
    r = np.asarray(ref_counts, dtype="float64")
    c = np.asarray(cur_counts, dtype="float64")
    k = int(np.count_nonzero((r > 0) | (c > 0)))
    if r.sum() <= 0 or c.sum() <= 0 or k < 2:
        return 0.0
    return float((k - 1) * (1 / r.sum() + 1 / c.sum()))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (family-wise error control across features)."""
    p = np.asarray(p_values, dtype="float64")
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p)
    adjusted = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adjusted
    return out


def _missing_test(ref_missing: int, ref_total: int, cur_missing: int, cur_total: int) -> float:
    """Two-proportion z-test p-value for a change in the missing rate."""
    from scipy import stats

    if ref_total == 0 or cur_total == 0:
        return 1.0
    pooled = (ref_missing + cur_missing) / (ref_total + cur_total)
    se = math.sqrt(pooled * (1 - pooled) * (1 / ref_total + 1 / cur_total))
    if se == 0:
        return 1.0 if ref_missing / ref_total == cur_missing / cur_total else 0.0
    z = (cur_missing / cur_total - ref_missing / ref_total) / se
    return float(2 * stats.norm.sf(abs(z)))


def _missing_drift(
    ref: Mapping[str, Any], cur_missing: int, cur_total: int, th: Thresholds
) -> tuple[float, bool]:
    ref_total = int(ref["count"]) + int(ref["missing"])
    ref_rate = float(ref["missing_rate"])
    cur_rate = cur_missing / cur_total if cur_total else 0.0
    if abs(cur_rate - ref_rate) < th.missing_change_alert:
        return cur_rate, False
    return cur_rate, _missing_test(int(ref["missing"]), ref_total, cur_missing, cur_total) < th.p_value


def _numeric_summary(mean, std, quantiles: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "mean": _f(mean),
        "std": _f(std),
        "p05": _f(quantiles.get("0.05")),
        "p50": _f(quantiles.get("0.5")),
        "p95": _f(quantiles.get("0.95")),
    }


def _plot_histogram(sketch: np.ndarray, cur_sorted: np.ndarray, n_bins: int = 30) -> dict[str, Any]:
    """Common bins over the central 98% of both sides, as proportions (for overlaid histograms)."""
    if sketch.size == 0 and cur_sorted.size == 0:
        return {}
    both = np.concatenate(
        [
            _pick(sketch, [0.01, 0.99]) if sketch.size else [],
            _pick(cur_sorted, [0.01, 0.99]) if cur_sorted.size else [],
        ]
    )
    lo, hi = float(np.min(both)), float(np.max(both))
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, n_bins + 1)

    def props(sorted_x: np.ndarray) -> list[float]:
        if sorted_x.size == 0:
            return [0.0] * n_bins
        cum = np.searchsorted(sorted_x, edges, side="left")
        cum[-1] = np.searchsorted(sorted_x, edges[-1], side="right")
        return [float(v) for v in np.diff(cum) / sorted_x.size]

    return {
        "type": "histogram",
        "edges": [float(e) for e in edges],
        "ref": props(sketch),
        "cur": props(cur_sorted),
    }


def _ks_from_sketch(sketch: np.ndarray, n_ref: int, cur_sorted: np.ndarray) -> tuple[float, float]:
    """Two-sample KS statistic of the reference (through its quantile sketch) vs the current sample.

    The sketch resolves the reference CDF to 1/len(sketch); the p-value uses the true
    reference size (asymptotic Kolmogorov distribution with n_eff = n·m/(n+m)).
    """
    from scipy import stats

    pts = np.concatenate([sketch, cur_sorted])
    f_ref = np.searchsorted(sketch, pts, side="right") / sketch.size
    f_cur = np.searchsorted(cur_sorted, pts, side="right") / cur_sorted.size
    d = float(np.max(np.abs(f_ref - f_cur)))
    n_eff = n_ref * cur_sorted.size / (n_ref + cur_sorted.size)
    return d, float(stats.kstwo.sf(d, max(1, round(n_eff))))


def _wasserstein_from_sketch(sketch: np.ndarray, cur_sorted: np.ndarray) -> float:
    """W1 = ∫|F⁻¹(u) − G⁻¹(u)| du on the sketch's quantile grid."""
    return float(np.mean(np.abs(_pick(cur_sorted, _sketch_grid(sketch.size)) - sketch)))


def _feature_drift(
    name: str,
    kind: str,
    ref: Mapping[str, Any],
    th: Thresholds,
    test: tuple[str, float | None, float | None, float | None, bool, bool],
    psi_pair: tuple[float, float],
    missing: tuple[float, bool],
    n_ref: int,
    n_cur: int,
    **extra: Any,
) -> FeatureDrift:
    """Assemble one feature's result; the verdict fields (drift, status, threshold) are derived here.

    ``test`` is ``(method, statistic, p_value, score, test_drift, large)``: a large-sample
    test compares a distance with ``th.distance_alert``, a small-sample one a p-value with
    ``th.p_value``. ``psi_pair`` is ``(psi, psi_noise)``, ``missing`` is
    ``(current missing rate, missing_drift)``.
    """
    method, statistic, p_value, score, test_drift, large = test
    value_psi, noise = psi_pair
    cur_rate, missing_drift = missing
    drift = test_drift or missing_drift
    return FeatureDrift(
        feature=name,
        kind=kind,
        method=method,
        statistic=statistic,
        p_value=p_value,
        score=score,
        threshold=th.distance_alert if large else th.p_value,
        test_drift=test_drift,
        psi=value_psi,
        psi_noise=noise,
        missing_rate_ref=float(ref["missing_rate"]),
        missing_rate_cur=cur_rate,
        missing_drift=missing_drift,
        drift_detected=drift,
        status=_status(drift, max(0.0, value_psi - noise), missing_drift, th),
        n_ref=n_ref,
        n_cur=int(n_cur),
        thresholds=th,
        **extra,
    )


def compare_numeric(
    name: str,
    ref: Mapping[str, Any],
    values: Any,
    th: Thresholds,
    *,
    large_sample: int,
    kind: str = "numeric",
) -> FeatureDrift:
    """Drift of one numeric column against its reference profile entry."""
    x, missing = _sorted_finite(values)
    n = x.size
    cur_rate, missing_drift = _missing_drift(ref, missing, n + missing, th)
    n_ref = int(ref["count"])
    sketch = np.asarray(ref.get("sketch") or [], dtype="float64")
    edges = ref.get("edges") or []
    ref_counts = np.asarray(ref.get("bin_counts") or [n_ref], dtype="float64")
    large = min(n_ref, n) >= large_sample
    statistic = p_value = score = None
    if n == 0 or n_ref == 0 or sketch.size == 0:
        method, value_psi, test_drift = ("wasserstein" if large else "ks"), 0.0, False
        noise = 0.0
    else:
        cur_counts = bin_counts(x, edges)
        value_psi = psi(ref_counts, cur_counts)
        noise = psi_noise(ref_counts, cur_counts)
        if large:
            method = "wasserstein"
            std = float(ref.get("std") or 0.0)
            statistic = _wasserstein_from_sketch(sketch, x)
            score = statistic / (std if std > 0 else 1.0)
            test_drift = score >= th.distance_alert
        else:
            method = "ks"
            statistic, p_value = _ks_from_sketch(sketch, n_ref, x)
            score = p_value
            test_drift = p_value < th.p_value
    cur_q = (
        {str(q): v for q, v in zip(SUMMARY_QUANTILES, _pick(x, SUMMARY_QUANTILES), strict=True)} if n else {}
    )
    return _feature_drift(
        name,
        kind,
        ref,
        th,
        (method, statistic, p_value, score, test_drift, large),
        (value_psi, noise),
        (cur_rate, missing_drift),
        n_ref,
        n,
        ref_summary=_numeric_summary(ref.get("mean"), ref.get("std"), ref.get("quantiles") or {}),
        cur_summary=_numeric_summary(x.mean() if n else None, x.std(ddof=1) if n > 1 else None, cur_q),
        plot=_plot_histogram(sketch, x),
    )


def compare_categorical(
    name: str, ref: Mapping[str, Any], values: Any, th: Thresholds, *, large_sample: int
) -> FeatureDrift:
    """Drift of one categorical column against its reference category counts."""
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    cur_counts, missing, total = _category_counts(values)
    n = total - missing
    cur_rate, missing_drift = _missing_drift(ref, missing, total, th)
    ref_counts: dict[str, int] = dict(ref.get("counts") or {})
    n_ref = int(ref["count"])
    has_other = OTHER in ref_counts
    cats = list(ref_counts)
    index = {c: i for i, c in enumerate(cats)}
    cur_vec = np.zeros(len(cats) + 1)
    unseen: dict[str, int] = {}
    for cat, count in cur_counts.items():
        if cat in index:
            cur_vec[index[cat]] += count
        elif has_other:
            cur_vec[index[OTHER]] += count
        else:
            unseen[cat] = count
    cur_vec[-1] = sum(unseen.values())
    ref_vec = np.array([ref_counts[c] for c in cats] + [0], dtype="float64")
    large = min(n_ref, n) >= large_sample
    statistic = p_value = score = None
    if n == 0 or n_ref == 0:
        method, value_psi, test_drift = ("jensenshannon" if large else "chi2"), 0.0, False
        noise = 0.0
    else:
        value_psi = psi(ref_vec, cur_vec)
        noise = psi_noise(ref_vec, cur_vec)
        if large:
            method = "jensenshannon"
            statistic = float(jensenshannon(ref_vec / ref_vec.sum(), cur_vec / cur_vec.sum()))
            score = statistic
            test_drift = score >= th.distance_alert
        else:
            method = "chi2"
            table = np.vstack([ref_vec, cur_vec])
            table = table[:, table.sum(axis=0) > 0]
            if table.shape[1] < 2:
                statistic, p_value = 0.0, 1.0
            else:
                res = stats.chi2_contingency(table, correction=False)
                statistic, p_value = float(res.statistic), float(res.pvalue)
            score = p_value
            test_drift = p_value < th.p_value
    top = sorted(unseen.items(), key=lambda kv: (-kv[1], kv[0]))

    def freqs(vec: np.ndarray) -> dict[str, float]:
        s = vec.sum()
        labels = cats + [UNSEEN]
        return {labels[i]: float(vec[i] / s) for i in np.argsort(-vec)[:5] if s and vec[i] > 0}

    plot_cats = cats[:15] + ([UNSEEN] if cur_vec[-1] else [])
    plot_idx = [index.get(c, len(cats)) for c in plot_cats]
    return _feature_drift(
        name,
        "categorical",
        ref,
        th,
        (method, statistic, p_value, score, test_drift, large),
        (value_psi, noise),
        (cur_rate, missing_drift),
        n_ref,
        n,
        unseen_count=int(cur_vec[-1]),
        unseen_share=float(cur_vec[-1] / n) if n else 0.0,
        unseen_categories=tuple(k for k, _ in top[:10]),
        ref_summary={"top": freqs(ref_vec), "categories": len(cats)},
        cur_summary={"top": freqs(cur_vec), "categories": len(cur_counts)},
        plot={
            "type": "bar",
            "categories": plot_cats,
            "ref": [float(ref_vec[i] / ref_vec.sum()) if ref_vec.sum() else 0.0 for i in plot_idx],
            "cur": [float(cur_vec[i] / cur_vec.sum()) if cur_vec.sum() else 0.0 for i in plot_idx],
        },
    )


@dataclass(frozen=True)
class DriftReport:
    """Data and prediction drift of one current window against a reference profile."""

    dataset: str
    features: tuple[FeatureDrift, ...]
    prediction: FeatureDrift | None
    drift_share: float
    drift_share_limit: float
    weighted: bool
    dataset_drift: bool
    verdict: str
    n_ref: int
    n_cur: int
    p_value_adjust: str
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.sorted_features() if f.drift_detected]

    @property
    def prediction_drift(self) -> bool:
        return bool(self.prediction and self.prediction.drift_detected)

    def feature(self, name: str) -> FeatureDrift:
        for f in self.features:
            if f.feature == name:
                return f
        raise KeyError(
            f"No feature {name!r} in the drift report; features: {[f.feature for f in self.features]}"
        )

    def sorted_features(self) -> list[FeatureDrift]:
        """Drifted first (alert, warn, ok), then by PSI descending."""
        rank = {"alert": 0, "warn": 1, "minor": 2, "ok": 3}
        return sorted(self.features, key=lambda f: (not f.drift_detected, rank[f.status], -f.psi))

    def summary_lines(self) -> list[str]:
        lines = [
            f"dataset drift: share {self.drift_share:.2f} {'>=' if self.dataset_drift else '<'} "
            f"{self.drift_share_limit:g}{' (importance-weighted)' if self.weighted else ''} -> "
            f"{'DRIFT' if self.dataset_drift else 'no drift'} ({len(self.drifted_features)}/{len(self.features)} "
            f"features: {self.drifted_features})"
        ]
        lines += [f.describe() for f in self.sorted_features()]
        if self.prediction is not None:
            lines.append("prediction " + self.prediction.describe())
        lines.append(f"VERDICT: {self.verdict} drifted={self.drifted_features}")
        return lines

    def to_dict(self, *, plot: bool = True) -> dict[str, Any]:
        return _json_safe(
            {
                "dataset": self.dataset,
                "verdict": self.verdict,
                "dataset_drift": self.dataset_drift,
                "drift_share": self.drift_share,
                "drift_share_limit": self.drift_share_limit,
                "weighted": self.weighted,
                "drifted_features": self.drifted_features,
                "prediction_drift": self.prediction_drift,
                "n_ref": self.n_ref,
                "n_cur": self.n_cur,
                "p_value_adjust": self.p_value_adjust,
                "features": [f.to_dict(plot=plot) for f in self.sorted_features()],
                "prediction": self.prediction.to_dict(plot=plot) if self.prediction else None,
                "context": self.context,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DriftReport:
        def feat(d: Mapping[str, Any]) -> FeatureDrift:
            th = Thresholds(
                psi_warn=d["psi_warn"],
                psi_alert=d["psi_alert"],
                p_value=d["threshold"] if d["method"] in ("ks", "chi2") else Thresholds.p_value,
                distance_alert=d["threshold"]
                if d["method"] not in ("ks", "chi2")
                else Thresholds.distance_alert,
            )
            return FeatureDrift(
                feature=d["feature"],
                kind=d["kind"],
                method=d["method"],
                statistic=d.get("statistic"),
                p_value=d.get("p_value"),
                score=d.get("score"),
                threshold=d["threshold"],
                test_drift=d["test_drift"],
                psi=d.get("psi") or 0.0,
                psi_noise=d.get("psi_noise") or 0.0,
                missing_rate_ref=d.get("missing_rate_ref") or 0.0,
                missing_rate_cur=d.get("missing_rate_cur") or 0.0,
                missing_drift=d["missing_drift"],
                drift_detected=d["drift_detected"],
                status=d["status"],
                n_ref=d["n_ref"],
                n_cur=d["n_cur"],
                thresholds=th,
                unseen_count=d.get("unseen_count", 0),
                unseen_share=d.get("unseen_share") or 0.0,
                unseen_categories=tuple(d.get("unseen_categories", ())),
                importance=d.get("importance"),
                ref_summary=d.get("ref_summary", {}),
                cur_summary=d.get("cur_summary", {}),
                plot=d.get("plot", {}),
            )

        return cls(
            dataset=data["dataset"],
            features=tuple(feat(d) for d in data["features"]),
            prediction=feat(data["prediction"]) if data.get("prediction") else None,
            drift_share=data["drift_share"],
            drift_share_limit=data["drift_share_limit"],
            weighted=data["weighted"],
            dataset_drift=data["dataset_drift"],
            verdict=data["verdict"],
            n_ref=data["n_ref"],
            n_cur=data["n_cur"],
            p_value_adjust=data.get("p_value_adjust", "holm"),
            context=dict(data.get("context", {})),
        )


def _kinds_from_profile(profile: Mapping[str, Any]) -> dict[str, str]:
    return {name: entry["kind"] for name, entry in profile["features"].items()}


def check_profile(profile: Any, where: str = "<profile>") -> None:
    """Raise ConfigError unless ``profile`` looks like a :func:`build_reference_profile` result."""
    if (
        not isinstance(profile, Mapping)
        or profile.get("schema") != PROFILE_SCHEMA
        or "features" not in profile
    ):
        got = profile.get("schema") if isinstance(profile, Mapping) else type(profile).__name__
        raise ConfigError(
            f"{where} is not a reference profile (schema {got!r}, expected {PROFILE_SCHEMA!r}); "
            "build it with mlops.monitoring.build_reference_profile."
        )


def compute_drift(
    profile: Mapping[str, Any],
    current: pd.DataFrame,
    spec: MonitoringSpec | None = None,
    *,
    predictions: Any = None,
    context: Mapping[str, Any] | None = None,
) -> DriftReport:
    """Compare a current window with a reference profile: per-feature, dataset and prediction drift.

    Parameters
    ----------
    profile : a :func:`build_reference_profile` result.
    current : the current window's rows; every profiled feature is compared (a column
        absent from ``current`` counts as 100% missing).
    spec : thresholds and rules (``cfg.monitoring``); defaults when None.
    predictions : the model's scores on the current rows (probabilities or values),
        compared with the profile's prediction distribution.
    context : extra JSON-safe facts stored with the report (model version, windows).

    Returns
    -------
    DriftReport
        Verdict ``ALERT`` for dataset drift or any feature/prediction at alert level,
        ``WARN`` for any feature or prediction PSI past the warn level, else ``OK`` (a
        drifted feature with a PSI below the warn level is ``minor``: it counts toward the
        dataset drift share but does not raise the verdict on its own).
    """
    import pandas as pd

    from mlops.config import MonitoringSpec

    check_profile(profile)
    spec = spec or MonitoringSpec()
    importances = profile.get("importances") or {}

    def one(item: tuple[str, str]) -> FeatureDrift:
        name, kind = item
        ref = profile["features"][name]
        th = Thresholds.for_feature(spec, name)
        values = current[name] if name in current.columns else pd.Series([None] * len(current), dtype=object)
        if kind == "numeric":
            fd = compare_numeric(name, ref, values, th, large_sample=spec.large_sample)
        else:
            fd = compare_categorical(name, ref, values, th, large_sample=spec.large_sample)
        if name in importances:
            fd = replace(fd, importance=float(importances[name]))
        return fd

    results = _map_columns(one, list(_kinds_from_profile(profile).items()), len(current))
    small = [i for i, f in enumerate(results) if f.method in ("ks", "chi2") and f.p_value is not None]
    if spec.p_value_adjust == "holm" and len(small) > 1:
        for i, p_adj in zip(small, holm([results[i].p_value for i in small]), strict=True):
            results[i] = results[i].with_score(float(p_adj))
    prediction = None
    if predictions is not None and profile.get("prediction"):
        th = Thresholds.for_feature(spec, "prediction")
        prediction = compare_numeric(
            "prediction",
            profile["prediction"],
            _prediction_values(predictions),
            th,
            large_sample=spec.large_sample,
            kind=profile["prediction"].get("kind", "numeric"),
        )
    weighted = bool(spec.weight_by_importance and importances)
    weights = np.array([abs(f.importance or 0.0) if weighted else 1.0 for f in results])
    if weights.sum() <= 0:
        weights = np.ones(len(results))
    drifted = np.array([f.drift_detected for f in results], dtype=bool)
    share = float(weights[drifted].sum() / weights.sum()) if results else 0.0
    dataset_drift = share >= spec.drift_share
    statuses = [f.status for f in results] + ([prediction.status] if prediction else [])
    if dataset_drift or "alert" in statuses:
        verdict = "ALERT"
    elif "warn" in statuses:
        verdict = "WARN"
    else:
        verdict = "OK"
    return DriftReport(
        dataset=str(profile.get("dataset", "")),
        features=tuple(results),
        prediction=prediction,
        drift_share=share,
        drift_share_limit=spec.drift_share,
        weighted=weighted,
        dataset_drift=dataset_drift,
        verdict=verdict,
        n_ref=int(profile.get("row_count", 0)),
        n_cur=int(len(current)),
        p_value_adjust=spec.p_value_adjust,
        context=_json_safe(dict(context or {})),
    )


# ====================================================================== performance
def holdout_metrics(metrics: Any) -> dict[str, float]:
    """The model card's holdout metrics from a ``metrics.json`` (flat, or under ``holdout``/``overall``)."""
    from mlops.config import CLASSIFICATION_METRICS, REGRESSION_METRICS

    known = set(CLASSIFICATION_METRICS) | set(REGRESSION_METRICS)

    def flat(d: Any) -> dict[str, float]:
        if not isinstance(d, Mapping):
            return {}
        return {
            k: float(v)
            for k, v in d.items()
            if k in known and isinstance(v, int | float) and math.isfinite(v)
        }

    if not isinstance(metrics, Mapping):
        return {}
    for key in ("holdout", "overall", "candidate", "metrics", "test"):
        sub = metrics.get(key)
        for candidate in (
            sub,
            (sub or {}).get("overall") if isinstance(sub, Mapping) else None,
            (sub or {}).get("metrics") if isinstance(sub, Mapping) else None,
        ):
            found = flat(candidate)
            if found:
                return found
    return flat(metrics)


@dataclass(frozen=True)
class DayPerformance:
    """Performance of the predictions of one scored day: realised (labels arrived) or estimated."""

    day: str
    source: str  # "realised" | "estimated" | "unavailable"
    n: int
    metrics: dict[str, Any]
    model_versions: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(
            {
                "day": self.day,
                "source": self.source,
                "n": self.n,
                "metrics": self.metrics,
                "model_versions": list(self.model_versions),
            }
        )


@dataclass(frozen=True)
class PerformanceReport:
    """Realised and estimated performance of the production model against its holdout metrics."""

    dataset: str
    day: str
    task: str
    model_version: str | None
    baseline: dict[str, float]
    days: tuple[DayPerformance, ...]
    realised: dict[str, Any]
    estimated: dict[str, Any]
    context: dict[str, Any] = field(default_factory=dict)

    def change(
        self, metric: str, source: str = "realised"
    ) -> tuple[float | None, float | None, float | None]:
        """``(baseline, current, drop)``; drop > 0 means worse (sign flipped for lower-is-better metrics)."""
        from mlops.config import LOWER_IS_BETTER

        base = self.baseline.get(metric)
        current = (self.realised if source == "realised" else self.estimated).get(metric)
        if base is None or current is None:
            return base, current, None
        drop = (current - base) if metric in LOWER_IS_BETTER else (base - current)
        return base, current, float(drop)

    @property
    def summary(self) -> str:
        parts = []
        for source, values in (("realised", self.realised), ("estimated", self.estimated)):
            if not values.get("n"):
                continue
            shown = [
                m for m in ("roc_auc", "accuracy", "f1", "rmse", "mae", "r2") if values.get(m) is not None
            ][:3]
            text = ", ".join(f"{m}={values[m]:.3f}" for m in shown)
            base = ", ".join(f"{m}={self.baseline[m]:.3f}" for m in shown if m in self.baseline)
            parts.append(
                f"{source} ({values.get('days', 0)} days, n={values['n']}): {text} vs holdout {base or 'n/a'}"
            )
        return "; ".join(parts) or "no scored days in the performance window"

    def summary_lines(self) -> list[str]:
        lines = []
        for d in self.days:
            shown = {
                k: v for k, v in d.metrics.items() if k in ("roc_auc", "accuracy", "f1", "rmse", "mae", "r2")
            }
            lines.append(
                f"{d.day}: {d.source} n={d.n} " + " ".join(f"{k}={_fmt(v)}" for k, v in shown.items())
            )
        for metric in sorted(self.baseline):
            for source in ("realised", "estimated"):
                base, cur, drop = self.change(metric, source)
                if drop is not None:
                    lines.append(f"{metric} ({source}): {cur:.4f} vs holdout {base:.4f} (drop {drop:+.4f})")
        lines.append(f"SUMMARY: {self.summary}")
        return lines

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(
            {
                "dataset": self.dataset,
                "day": self.day,
                "task": self.task,
                "model_version": self.model_version,
                "baseline": self.baseline,
                "days": [d.to_dict() for d in self.days],
                "realised": self.realised,
                "estimated": self.estimated,
                "summary": self.summary,
                "context": self.context,
            }
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PerformanceReport:
        return cls(
            dataset=data["dataset"],
            day=data["day"],
            task=data["task"],
            model_version=data.get("model_version"),
            baseline=dict(data.get("baseline") or {}),
            days=tuple(
                DayPerformance(
                    d["day"], d["source"], d["n"], d["metrics"], tuple(d.get("model_versions", ()))
                )
                for d in data.get("days", [])
            ),
            realised=dict(data.get("realised") or {}),
            estimated=dict(data.get("estimated") or {}),
            context=dict(data.get("context") or {}),
        )


def _score_columns(predictions: pd.DataFrame, cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """``(score, predicted class or None)``: probability + class for classifiers, value for regressors."""
    if cfg.is_classifier:
        if "probability" not in predictions.columns:
            raise ConfigError(
                f"Predictions of classifier {cfg.name!r} have no 'probability' column (columns "
                f"{list(predictions.columns)}); re-score with the scoring DAG."
            )
        pred = predictions["prediction"].to_numpy() if "prediction" in predictions.columns else None
        return _as_float_array(predictions["probability"]), pred
    return _as_float_array(predictions["prediction"]), None


def _realised(cfg: DatasetConfig, joined: pd.DataFrame, positive_class: Any) -> dict[str, Any]:
    """``n`` (and ``positive_rate``) plus the task's metrics from :mod:`mlops.metrics`."""
    y_true = joined[cfg.target].to_numpy()
    score, pred = _score_columns(joined, cfg)
    if not cfg.is_classifier:
        return {"n": int(y_true.size), **metrics.regression_metrics(y_true, score)}
    if positive_class is None:
        positive_class = metrics.resolve_positive_class(cfg, metrics.labels_of(y_true, pred))
    return {
        "n": int(y_true.size),
        "positive_rate": metrics.positive_rate(y_true, positive_class=positive_class),
        **metrics.classification_metrics(y_true, pred, score, positive_class=positive_class),
    }


def day_performance(
    cfg: DatasetConfig,
    day: str,
    predictions: pd.DataFrame,
    labels: pd.DataFrame | None,
    *,
    positive_class: Any = None,
) -> DayPerformance:
    """Realised metrics when ``labels`` are given (joined on the id column), else a CBPE estimate.

    ``positive_class`` defaults to :func:`mlops.metrics.resolve_positive_class` over this day's labels.
    """
    versions = (
        tuple(sorted(str(v) for v in predictions["model_version"].dropna().unique()))
        if ("model_version" in predictions.columns)
        else ()
    )
    if labels is not None:
        joined = predictions.merge(labels[[cfg.id_column, cfg.target]], on=cfg.id_column, how="inner")
        joined = joined[joined[cfg.target].notna()]
        if len(joined):
            m = _realised(cfg, joined, positive_class)
            return DayPerformance(day, "realised", int(len(joined)), m, versions)
    if cfg.is_classifier and len(predictions):
        score, pred = _score_columns(predictions, cfg)
        if pred is not None and positive_class is None:
            positive_class = metrics.resolve_positive_class(cfg, metrics.labels_of(pred))
        m = metrics.estimate_classification_performance(score, pred, positive_class=positive_class)
        return DayPerformance(day, "estimated", int(m["n"]), m, versions)
    return DayPerformance(day, "unavailable", int(len(predictions)), {}, versions)


def _positive_class(cfg: DatasetConfig, scored_days: Mapping[str, tuple[pd.DataFrame, Any]]) -> Any:
    """One positive class for every day of a performance window (config, else all labels seen)."""
    if not cfg.is_classifier:
        return None
    seen: list[Any] = []
    for predictions, labels in scored_days.values():
        if "prediction" in predictions.columns:
            seen += metrics.labels_of(predictions["prediction"])
        if labels is not None and cfg.target in labels.columns:
            seen += metrics.labels_of(labels[cfg.target])
    return metrics.resolve_positive_class(cfg, seen)


def _pooled(
    cfg: DatasetConfig,
    frames: list[tuple[pd.DataFrame, pd.DataFrame | None]],
    source: str,
    positive_class: Any,
) -> dict:
    import pandas as pd

    if not frames:
        return {}
    preds = pd.concat([p for p, _ in frames], ignore_index=True)
    labels = None
    if source == "realised":
        labels = pd.concat([lab for _, lab in frames if lab is not None], ignore_index=True)
    out = day_performance(cfg, "pooled", preds, labels, positive_class=positive_class)
    return {**out.metrics, "n": out.n, "days": len(frames)} if out.source == source else {}


def compute_performance(
    cfg: DatasetConfig,
    day: str,
    scored_days: Mapping[str, tuple[pd.DataFrame, pd.DataFrame | None]],
    *,
    baseline: Mapping[str, float] | None = None,
    model_version: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> PerformanceReport:
    """Per-day and pooled performance: realised where labels arrived, CBPE estimates elsewhere.

    ``scored_days`` maps ``"YYYY-MM-DD"`` to ``(predictions, labels or None)``.
    """
    positive = _positive_class(cfg, scored_days)
    days = tuple(
        day_performance(cfg, d, p, lab, positive_class=positive)
        for d, (p, lab) in sorted(scored_days.items())
    )
    labelled = [scored_days[d.day] for d in days if d.source == "realised"]
    unlabelled = [scored_days[d.day] for d in days if d.source != "realised"]
    return PerformanceReport(
        dataset=cfg.name,
        day=str(day),
        task=cfg.task,
        model_version=model_version,
        baseline=dict(baseline or {}),
        days=days,
        realised=_pooled(cfg, labelled, "realised", positive),
        estimated=_pooled(cfg, unlabelled, "estimated", positive) if cfg.is_classifier else {},
        context=_json_safe(dict(context or {})),
    )


# ====================================================================== alert rules
@dataclass(frozen=True)
class RuleResult:
    """One alert rule evaluated on one night."""

    name: str
    kind: str
    fired: bool
    retrain: bool
    detail: str
    value: float | None = None
    threshold: float | None = None
    features: tuple[str, ...] = ()

    def line(self) -> str:
        return f"rule {self.name} ({self.kind}): {self.detail} -> {'FIRED' if self.fired else 'quiet'}"

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(
            {
                "name": self.name,
                "kind": self.kind,
                "fired": self.fired,
                "retrain": self.retrain,
                "detail": self.detail,
                "value": self.value,
                "threshold": self.threshold,
                "features": list(self.features),
            }
        )


def _consecutive_drift_nights(day: str, tonight: bool, history: Sequence[Mapping[str, Any]]) -> int:
    """Nights in a row, ending ``day``, with dataset drift (a missing night breaks the run)."""
    from datetime import date, timedelta

    if not tonight:
        return 0
    by_day = {str(h.get("day")): bool(h.get("dataset_drift")) for h in history}
    count, current = 1, date.fromisoformat(str(day))
    while by_day.get((current - timedelta(days=1)).isoformat()):
        count += 1
        current -= timedelta(days=1)
    return count


def evaluate_rules(
    rules: Sequence[AlertRule],
    *,
    day: str,
    drift: DriftReport | None,
    performance: PerformanceReport | None = None,
    history: Sequence[Mapping[str, Any]] = (),
    spec: MonitoringSpec | None = None,
) -> list[RuleResult]:
    """Evaluate the configured alert rules on tonight's drift and performance (and the history before it)."""
    from mlops.config import MonitoringSpec

    spec = spec or MonitoringSpec()
    out: list[RuleResult] = []
    for rule in rules:
        if rule.kind == "psi_top_features":
            out.append(_rule_psi_top(rule, drift, spec))
        elif rule.kind == "dataset_drift":
            if drift is None:
                out.append(RuleResult(rule.name, rule.kind, False, rule.retrain, "no drift report"))
                continue
            limit = rule.threshold if rule.threshold is not None else drift.drift_share_limit
            fired = drift.drift_share >= limit
            out.append(
                RuleResult(
                    rule.name,
                    rule.kind,
                    fired,
                    rule.retrain,
                    f"drifted share {drift.drift_share:.2f} {'>=' if fired else '<'} {limit:g} "
                    f"({len(drift.drifted_features)}/{len(drift.features)}: {drift.drifted_features})",
                    drift.drift_share,
                    limit,
                    tuple(drift.drifted_features),
                )
            )
        elif rule.kind == "consecutive_drift":
            nights = int(rule.nights or 3)
            run = _consecutive_drift_nights(day, bool(drift and drift.dataset_drift), history)
            fired = run >= nights
            out.append(
                RuleResult(
                    rule.name,
                    rule.kind,
                    fired,
                    rule.retrain,
                    f"{run} consecutive drift nights {'>=' if fired else '<'} {nights}",
                    run,
                    nights,
                )
            )
        elif rule.kind == "prediction_drift":
            pred = drift.prediction if drift else None
            if pred is None:
                out.append(
                    RuleResult(rule.name, rule.kind, False, rule.retrain, "no prediction drift computed")
                )
                continue
            limit = rule.threshold if rule.threshold is not None else pred.thresholds.psi_alert
            fired = pred.drift_detected and pred.psi_adjusted >= limit
            out.append(
                RuleResult(
                    rule.name,
                    rule.kind,
                    fired,
                    rule.retrain,
                    f"prediction {pred.method} {'DRIFT' if pred.test_drift else 'no drift'}, "
                    f"psi {pred.psi_adjusted:.3f} {'>=' if pred.psi_adjusted >= limit else '<'} {limit:g}",
                    pred.psi_adjusted,
                    limit,
                )
            )
        elif rule.kind == "metric_drop":
            out.append(_rule_metric_drop(rule, performance))
    return out


def _rule_psi_top(rule: AlertRule, drift: DriftReport | None, spec: MonitoringSpec) -> RuleResult:
    if drift is None:
        return RuleResult(rule.name, rule.kind, False, rule.retrain, "no drift report")
    limit = rule.threshold if rule.threshold is not None else spec.psi_alert
    ranked = sorted(
        (f for f in drift.features if f.importance is not None), key=lambda f: -abs(f.importance or 0)
    )
    if ranked:
        top, scope = ranked[: rule.top_k or 5], f"top-{rule.top_k or 5} by importance"
    else:
        top, scope = list(drift.features), "any feature (no importances in the profile)"
    hits = [f for f in top if f.psi_adjusted > limit]
    worst = max(top, key=lambda f: f.psi_adjusted, default=None)
    detail = (
        f"max psi on {scope} = {worst.psi_adjusted:.3f} ({worst.feature}) {'>' if hits else '<='} {limit:g}"
        if worst
        else "no features"
    )
    return RuleResult(
        rule.name,
        rule.kind,
        bool(hits),
        rule.retrain,
        detail,
        worst.psi_adjusted if worst else None,
        limit,
        tuple(f.feature for f in hits),
    )


def _rule_metric_drop(rule: AlertRule, perf: PerformanceReport | None) -> RuleResult:
    metric, max_drop = str(rule.metric), float(rule.max_drop or 0.0)
    if perf is None:
        return RuleResult(rule.name, rule.kind, False, rule.retrain, "no performance report", None, max_drop)
    sources = {"realised": ["realised"], "estimated": ["estimated"], "any": ["realised", "estimated"]}[
        rule.source
    ]
    for source in sources:
        base, cur, drop = perf.change(metric, source)
        if drop is None:
            continue
        fired = drop > max_drop
        return RuleResult(
            rule.name,
            rule.kind,
            fired,
            rule.retrain,
            f"{metric} {source} {cur:.4f} vs holdout {base:.4f}: drop {drop:+.4f} {'>' if fired else '<='} "
            f"max {max_drop:g}",
            drop,
            max_drop,
        )
    why = (
        "no holdout metric in the model card"
        if metric not in perf.baseline
        else f"no {'/'.join(sources)} data"
    )
    return RuleResult(rule.name, rule.kind, False, rule.retrain, f"{metric}: {why}", None, max_drop)


@dataclass(frozen=True)
class NightResult:
    """Tonight's verdict, the rules that fired and where everything was written."""

    dataset: str
    day: str
    verdict: str
    drift_verdict: str
    rules: tuple[RuleResult, ...]
    model_version: str | None
    uris: dict[str, str] = field(default_factory=dict)

    @property
    def fired(self) -> list[str]:
        return [r.name for r in self.rules if r.fired]

    @property
    def retrain(self) -> bool:
        return any(r.fired and r.retrain for r in self.rules)

    def alert_block(self) -> str:
        """The block printed in the task log when a rule fires."""
        bar = "!" * 72
        lines = [
            bar,
            f"MONITORING ALERT  dataset={self.dataset}  night={self.day}  model={self.model_version}",
            f"verdict={self.verdict}  retrain={'REQUESTED' if self.retrain else 'no'}",
        ]
        lines += [f"  FIRED {r.name} ({r.kind}): {r.detail}" for r in self.rules if r.fired]
        if self.uris.get("report_uri"):
            lines.append(f"  report: {self.uris['report_uri']}")
        lines.append(bar)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return _json_safe(
            {
                "dataset": self.dataset,
                "day": self.day,
                "verdict": self.verdict,
                "drift_verdict": self.drift_verdict,
                "fired": self.fired,
                "retrain": self.retrain,
                "model_version": self.model_version,
                "rules": [r.to_dict() for r in self.rules],
                **self.uris,
            }
        )


def night_verdict(drift: DriftReport | None, rules: Sequence[RuleResult]) -> str:
    """ALERT if a rule fired or the drift verdict is ALERT; WARN if the drift verdict is WARN; else OK."""
    drift_verdict = drift.verdict if drift else "OK"
    if any(r.fired for r in rules) or drift_verdict == "ALERT":
        return "ALERT"
    return "WARN" if drift_verdict == "WARN" else "OK"


# ====================================================================== nightly run (S3)
DRIFT_FILE = "drift.json"
PERFORMANCE_FILE = "performance.json"
NIGHT_FILE = "night.json"
REPORT_HTML = "report.html"
REPORT_JSON = "report.json"
PROFILE_FILE = "reference_profile.json"
SUCCESS_MARKER = "_SUCCESS"


def monitoring_uri(bucket: str, dataset: str, day: date | str, name: str) -> str:
    """``s3://<bucket>/monitoring/<dataset>/<day>/<name>``."""
    return artifacts.monitoring_prefix(bucket, dataset, day) + name


def history_uri(bucket: str, dataset: str, day: date | str) -> str:
    return f"s3://{bucket}/monitoring/{dataset}/history/{day}.json"


def alert_uri(bucket: str, dataset: str, day: date | str) -> str:
    return f"s3://{bucket}/monitoring/{dataset}/alerts/{day}.json"


def retrain_request_uri(bucket: str, dataset: str, day: date | str) -> str:
    """Inside the prefix that the ``retrain_request_asset`` URI names."""
    return f"s3://{bucket}/monitoring/{dataset}/retrain_requests/{day}.json"


def _day(value: date | str) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise ConfigError(f"The 'date' parameter must be YYYY-MM-DD. Got {value!r} instead.") from None


def window_days_list(end: date | str, days: int) -> list[str]:
    """``days`` calendar days ending at ``end`` (inclusive), oldest first."""
    end_day = _day(end)
    if int(days) < 1:
        raise ConfigError(f"The 'window_days' parameter must be >= 1. Got {days!r} instead.")
    return [(end_day - timedelta(days=i)).isoformat() for i in range(int(days) - 1, -1, -1)]


@dataclass(frozen=True)
class Reference:
    """The production model's version, manifest and reference profile."""

    version: str
    manifest: dict[str, Any]
    profile: dict[str, Any]
    profile_uri: str

    @property
    def baseline_metrics(self) -> dict[str, float]:
        return holdout_metrics(self.manifest.get("metrics") or {})

    @property
    def window(self) -> dict[str, Any]:
        training = self.manifest.get("training_data") or {}
        window = dict(training.get("window") or {})
        if not window and self.profile.get("window"):
            window = dict(self.profile["window"])
        return window


def load_reference(client, bucket: str, dataset: str, version: str = "production") -> Reference:
    """Resolve ``version`` (alias or ``vNNNN``) in the registry and read its reference profile (checksum-verified)."""
    from mlops.registry import ModelRegistry

    registry = ModelRegistry(client, bucket, dataset)
    resolved, manifest = registry.resolve(version)
    artifacts = manifest.get("artifacts") or {}
    if PROFILE_FILE not in artifacts:
        raise ConfigError(
            f"Model {dataset} {resolved} has no {PROFILE_FILE} (artifacts: {sorted(artifacts)}); "
            "retrain it so the training step stores the reference profile with the version."
        )
    profile = json.loads(registry.artifact_bytes(resolved, PROFILE_FILE, manifest))
    uri = artifacts[PROFILE_FILE].get("uri", "")
    check_profile(profile, uri)
    return Reference(resolved, manifest, profile, uri)


def load_profile(client, uri: str) -> dict[str, Any]:
    """A reference profile JSON from S3 or a local path."""
    profile = storage.get_json(client, uri)
    check_profile(profile, uri)
    return profile


def prediction_part_uris(client, bucket: str, dataset: str, day: date | str) -> list[str] | None:
    """The Parquet parts of one scored day from its ``_SUCCESS`` marker, or None if the day is not scored."""
    prefix = artifacts.predictions_prefix(bucket, dataset, day)
    try:
        marker = storage.get_json(client, prefix + SUCCESS_MARKER)
    except InputReadError:
        return None
    except ValueError:
        marker = {}
    from mlops import scoring

    if isinstance(marker, Mapping) and marker.get("format") == scoring.FORMAT:
        return scoring.published_part_uris(client, prefix)
    parts = None
    if isinstance(marker, Mapping):
        for key in ("parts", "files", "outputs", "part_uris", "uris"):
            if marker.get(key):
                parts = marker[key]
                break
    uris: list[str] = []
    for part in parts or []:
        if isinstance(part, Mapping):
            part = part.get("uri") or part.get("key") or part.get("path") or part.get("name")
        part = str(part)
        if part.startswith("s3://"):
            uris.append(part)
        elif part.startswith(f"predictions/{dataset}/"):
            uris.append(f"s3://{bucket}/{part}")
        else:
            uris.append(prefix + part.lstrip("/"))
    if not uris:
        uris = [u for u in storage.list_uris(client, prefix) if u.endswith(".parquet")]
    return uris


def read_predictions(client, bucket: str, dataset: str, day: date | str) -> pd.DataFrame | None:
    """All prediction parts of one scored day (None if the day has no ``_SUCCESS`` marker)."""
    import pandas as pd

    from mlops import scoring

    uris = prediction_part_uris(client, bucket, dataset, day)
    if uris is None:
        return None
    prefix = artifacts.predictions_prefix(bucket, dataset, day)
    if storage.get_json(client, prefix + SUCCESS_MARKER).get("format") == scoring.FORMAT:
        return scoring.read_predictions(client, prefix)  # checksums verified
    frames = [storage.read_table(client, u) for u in uris]
    return pd.concat(frames, ignore_index=True) if frames else None


def read_labels(client, bucket: str, dataset: str, day: date | str) -> pd.DataFrame | None:
    uri = artifacts.labels_uri(bucket, dataset, day)
    if not storage.exists(client, uri):
        return None
    return storage.read_table(client, uri)


@dataclass(frozen=True)
class CurrentWindow:
    days: tuple[str, ...]
    features: pd.DataFrame
    predictions: pd.DataFrame | None
    skipped: dict[str, str]
    batch_uris: tuple[str, ...]


def load_current_window(
    client,
    bucket: str,
    cfg: DatasetConfig,
    day: date | str,
    window_days: int,
    *,
    model_version: str | None = None,
) -> CurrentWindow:
    """Features and predictions of the scored days in the ``window_days`` days ending at ``day``.

    Days without a ``_SUCCESS`` marker under ``predictions/`` are skipped (not scored).
    Predictions by other model versions than ``model_version`` are left out of prediction drift.

    Raises
    ------
    InputReadError
        If no day of the window was scored.
    """
    import pandas as pd

    feats, preds, used, uris, skipped = [], [], [], [], {}
    for d in window_days_list(day, window_days):
        p = read_predictions(client, bucket, cfg.name, d)
        if p is None:
            skipped[d] = "not scored (no predictions _SUCCESS marker)"
            continue
        batch = artifacts.batch_uri(bucket, cfg.name, d)
        if not storage.exists(client, batch):
            skipped[d] = f"scored but the batch {batch} is missing"
            continue
        feats.append(storage.read_table(client, batch))
        if model_version and "model_version" in p.columns:
            p = p[p["model_version"].astype(str) == model_version]
        preds.append(p)
        used.append(d)
        uris.append(batch)
    if not used:
        first = window_days_list(day, window_days)[0]
        raise InputReadError(
            f"No scored day of {cfg.name} between {first} and {_day(day)} "
            f"(no {artifacts.predictions_prefix(bucket, cfg.name, '<day>')}{SUCCESS_MARKER}); "
            "run mlops_batch_scoring for these days first, or pick another date."
        )
    predictions = pd.concat(preds, ignore_index=True) if preds else None
    return CurrentWindow(tuple(used), pd.concat(feats, ignore_index=True), predictions, skipped, tuple(uris))


def monitor_drift(
    client,
    bucket: str,
    cfg: DatasetConfig,
    day: date | str,
    *,
    window_days: int | None = None,
    version: str = "production",
    reference_uri: str | None = None,
    run_id: str | None = None,
    log: Any = None,
) -> DriftReport:
    """Nightly data and prediction drift of the current window against the production model's profile.

    Writes ``monitoring/<ds>/<day>/drift.json``; :func:`evaluate_night` turns it into the
    report (``report.html`` + ``report.json``, whose URIs are in ``context``). With
    ``reference_uri`` the profile is read from there instead of the registry.
    """
    say = log or (lambda *a: None)
    day_s = _day(day).isoformat()
    n_days = int(window_days or cfg.monitoring.window_days)
    if reference_uri:
        profile, model_version, manifest = load_profile(client, reference_uri), None, {}
        ref_window = dict(profile.get("window") or {})
    else:
        ref = load_reference(client, bucket, cfg.name, version)
        profile, model_version, manifest, reference_uri = (
            ref.profile,
            ref.version,
            ref.manifest,
            ref.profile_uri,
        )
        ref_window = ref.window
    say(
        "reference: model %s profile %s (%s rows, window %s)",
        model_version,
        reference_uri,
        profile.get("row_count"),
        ref_window or "n/a",
    )
    window = load_current_window(client, bucket, cfg, day_s, n_days, model_version=model_version)
    for d, why in window.skipped.items():
        say("current window: skip %s: %s", d, why)
    say(
        "current window: %d/%d days %s (%d rows)",
        len(window.days),
        n_days,
        list(window.days),
        len(window.features),
    )
    scores = None
    if window.predictions is not None and len(window.predictions) and profile.get("prediction"):
        col = (
            "probability"
            if cfg.is_classifier and "probability" in window.predictions.columns
            else "prediction"
        )
        scores = window.predictions[col] if col in window.predictions.columns else None
    context = {
        "day": day_s,
        "model_version": model_version,
        "reference_uri": reference_uri,
        "reference_window": ref_window,
        "reference_rows": profile.get("row_count"),
        "current_window": {
            "start": window.days[0],
            "end": window.days[-1],
            "days": list(window.days),
            "requested_days": n_days,
            "skipped": window.skipped,
        },
        "current_rows": int(len(window.features)),
        "prediction_rows": int(len(window.predictions)) if window.predictions is not None else 0,
        "run_id": run_id,
        "drift_uri": monitoring_uri(bucket, cfg.name, day_s, DRIFT_FILE),
        "report_uri": monitoring_uri(bucket, cfg.name, day_s, REPORT_HTML),
        "report_json_uri": monitoring_uri(bucket, cfg.name, day_s, REPORT_JSON),
        "manifest_created_at": manifest.get("created_at"),
    }
    report = compute_drift(profile, window.features, cfg.monitoring, predictions=scores, context=context)
    storage.put_json(client, context["drift_uri"], report.to_dict())
    return report


def monitor_performance(
    client,
    bucket: str,
    cfg: DatasetConfig,
    day: date | str,
    *,
    days: int | None = None,
    version: str = "production",
    run_id: str | None = None,
    log: Any = None,
) -> PerformanceReport:
    """Realised (labelled days) and CBPE-estimated (unlabelled days) performance of recent scored days.

    The window is ``days`` (default ``monitoring.performance_days``, else
    ``window_days + label_delay_days``) ending at ``day``. Baseline = the production
    model's holdout metrics from its model card. Writes ``performance.json``.
    """
    say = log or (lambda *a: None)
    day_s = _day(day).isoformat()
    n_days = int(days or cfg.monitoring.performance_days or cfg.monitoring.window_days + cfg.label_delay_days)
    model_version, baseline = None, {}
    try:
        ref = load_reference(client, bucket, cfg.name, version)
        model_version, baseline = ref.version, ref.baseline_metrics
    except (RegistryError, ConfigError) as err:
        say("no production reference (%s): performance without a baseline", err)
    scored: dict[str, tuple[Any, Any]] = {}
    for d in window_days_list(day_s, n_days):
        preds = read_predictions(client, bucket, cfg.name, d)
        if preds is None:
            say("performance: skip %s (not scored)", d)
            continue
        scored[d] = (preds, read_labels(client, bucket, cfg.name, d))
    report = compute_performance(
        cfg,
        day_s,
        scored,
        baseline=baseline,
        model_version=model_version,
        context={
            "run_id": run_id,
            "window_days": n_days,
            "performance_uri": monitoring_uri(bucket, cfg.name, day_s, PERFORMANCE_FILE),
        },
    )
    storage.put_json(client, report.context["performance_uri"], report.to_dict())
    return report


def load_history(
    client, bucket: str, dataset: str, before: date | str, nights: int = 30
) -> list[dict[str, Any]]:
    """The nightly history records of the ``nights`` nights before ``before`` (oldest first)."""
    end = _day(before)
    prefix = f"s3://{bucket}/monitoring/{dataset}/history/"
    records = []
    for uri in storage.list_uris(client, prefix):
        name = uri.rsplit("/", 1)[-1].removesuffix(".json")
        try:
            d = date.fromisoformat(name)
        except ValueError:
            continue
        if end - timedelta(days=nights) <= d < end:
            records.append(storage.get_json(client, uri))
    return sorted(records, key=lambda r: str(r.get("day")))


def _history_record(night: NightResult, drift: DriftReport | None, perf: PerformanceReport | None) -> dict:
    rec: dict[str, Any] = {
        "day": night.day,
        "verdict": night.verdict,
        "model_version": night.model_version,
        "fired": night.fired,
        "retrain": night.retrain,
        "dataset_drift": bool(drift and drift.dataset_drift),
        "drift_share": drift.drift_share if drift else None,
        "drifted_features": drift.drifted_features if drift else [],
        "psi": {f.feature: round(f.psi_adjusted, 6) for f in drift.features} if drift else {},
        "prediction_psi": drift.prediction.psi_adjusted if drift and drift.prediction else None,
    }
    if perf is not None:
        rec["realised"] = {k: v for k, v in perf.realised.items() if isinstance(v, int | float)}
        rec["estimated"] = {k: v for k, v in perf.estimated.items() if isinstance(v, int | float)}
        rec["baseline"] = perf.baseline
        rec["days"] = [d.to_dict() for d in perf.days]
    return _json_safe(rec)


def evaluate_night(
    client,
    bucket: str,
    cfg: DatasetConfig,
    day: date | str,
    *,
    run_id: str | None = None,
    log: Any = None,
) -> NightResult:
    """Evaluate the alert rules on tonight's drift and performance, then write everything down.

    Reads ``drift.json`` and ``performance.json`` of ``day``; writes the history record,
    the full report (HTML + JSON twin) and, when a rule fires, an alert event under
    ``monitoring/<ds>/alerts/``. Notification is the caller's job (Airflow notifiers).
    """
    from mlops import monitoring_report

    say = log or (lambda *a: None)
    day_s = _day(day).isoformat()
    drift_d = _get_json_or_none(client, monitoring_uri(bucket, cfg.name, day_s, DRIFT_FILE))
    perf_d = _get_json_or_none(client, monitoring_uri(bucket, cfg.name, day_s, PERFORMANCE_FILE))
    if drift_d is None:
        raise InputReadError(
            f"No drift result {monitoring_uri(bucket, cfg.name, day_s, DRIFT_FILE)}; run monitor_drift first."
        )
    drift = DriftReport.from_dict(drift_d)
    perf = PerformanceReport.from_dict(perf_d) if perf_d else None
    history = load_history(client, bucket, cfg.name, day_s, cfg.monitoring.history_nights)
    rules = evaluate_rules(
        cfg.monitoring.alert_rules,
        day=day_s,
        drift=drift,
        performance=perf,
        history=history,
        spec=cfg.monitoring,
    )
    for r in rules:
        say("%s", r.line())
    uris = {
        "report_uri": monitoring_uri(bucket, cfg.name, day_s, REPORT_HTML),
        "report_json_uri": monitoring_uri(bucket, cfg.name, day_s, REPORT_JSON),
        "history_uri": history_uri(bucket, cfg.name, day_s),
        "night_uri": monitoring_uri(bucket, cfg.name, day_s, NIGHT_FILE),
    }
    model_version = drift.context.get("model_version") or (perf.model_version if perf else None)
    night = NightResult(
        cfg.name, day_s, night_verdict(drift, rules), drift.verdict, tuple(rules), model_version, uris
    )
    if night.fired:
        uris["alert_uri"] = alert_uri(bucket, cfg.name, day_s)
        night = replace(night, uris=uris)
        storage.put_json(
            client, uris["alert_uri"], {**night.to_dict(), "run_id": run_id, "created_at": _now_iso()}
        )
    record = _history_record(night, drift, perf)
    storage.put_json(client, uris["history_uri"], record)
    storage.put_json(client, uris["night_uri"], {**night.to_dict(), "run_id": run_id})
    monitoring_report.write_report(
        client,
        bucket,
        cfg.name,
        day_s,
        drift=drift.to_dict(),
        performance=perf.to_dict() if perf else None,
        night=night.to_dict(),
        history=[*history, record],
    )
    return night


def write_retrain_request(
    client,
    bucket: str,
    cfg: DatasetConfig,
    day: date | str,
    night: Mapping[str, Any],
    *,
    run_id: str | None = None,
) -> str:
    """Write the retrain request object (what the training DAG is asked to fix and why); returns its URI."""
    day_s = _day(day).isoformat()
    uri = retrain_request_uri(bucket, cfg.name, day_s)
    body = {
        "dataset": cfg.name,
        "day": day_s,
        "model_version": night.get("model_version"),
        "reasons": [r for r in night.get("rules", []) if r.get("fired") and r.get("retrain")],
        "verdict": night.get("verdict"),
        "report_uri": night.get("report_uri"),
        "requested_by": run_id,
        "created_at": _now_iso(),
    }
    storage.put_json(client, uri, _json_safe(body))
    return uri


def _get_json_or_none(client, uri: str) -> Any:
    try:
        return storage.get_json(client, uri)
    except InputReadError:
        return None


# ====================================================================== ad hoc (CLI, benchmark)
def infer_feature_kinds(frame: pd.DataFrame, exclude: Sequence[str] = ()) -> tuple[list[str], list[str]]:
    """``(numeric, categorical)`` columns of a frame (booleans and text are categorical)."""
    import pandas as pd

    numeric, categorical = [], []
    for col in frame.columns:
        if col in exclude:
            continue
        dtype = frame[col].dtype
        if pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            numeric.append(str(col))
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            continue
        else:
            categorical.append(str(col))
    return numeric, categorical


def drift_between(client, reference_uri: str, current_uri: str, *, dataset: str | None = None) -> DriftReport:
    """Drift of the table at ``current_uri`` against a table or a reference profile at ``reference_uri``."""
    from mlops.config import MonitoringSpec, load_dataset_config

    cfg = load_dataset_config(dataset) if dataset else None
    spec = cfg.monitoring if cfg else MonitoringSpec()
    current = storage.read_table(client, current_uri)
    if str(reference_uri).endswith(".json"):
        profile = load_profile(client, reference_uri)
    else:
        reference = storage.read_table(client, reference_uri)
        if cfg is not None:
            profile = build_reference_profile(reference, cfg)
        else:
            numeric, categorical = infer_feature_kinds(reference)
            profile = profile_frame(reference, numeric, categorical)
    context = {"reference_uri": str(reference_uri), "current_uri": str(current_uri)}
    return compute_drift(profile, current, spec, context=context)

"""The drift statistics: PSI and its noise, Holm, KS/Wasserstein on a quantile sketch,
chi-square/Jensen-Shannon on category counts, the missing-rate test, and plot data.

Pure numpy/scipy on arrays and profile entries; :mod:`mlops.monitoring.drift` assembles them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mlops.artifacts import CategoricalProfile, DriftThresholds, NumericProfile
from mlops.profiling import finite_or_none, pick, sketch_grid

#: Floor for bin proportions in PSI (empty bins would make it infinite).
PSI_EPSILON = 1e-4
#: Bins of the overlaid histograms in the report.
PLOT_BINS = 30


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


def missing_rate_test(
    ref_missing: int, ref_total: int, cur_missing: int, cur_total: int
) -> tuple[float, float]:
    """Two-proportion z-test for a change in the missing rate: ``(z, two-sided p-value)``.

    ``z`` is the change in the missing rate over its pooled standard error (positive: more
    missing now). With no rows on a side, or a pooled rate of 0 or 1, ``z`` is 0 (p = 1) when
    the two rates are equal, else infinite (p = 0).
    """
    from scipy import stats

    if ref_total == 0 or cur_total == 0:
        return 0.0, 1.0
    change = cur_missing / cur_total - ref_missing / ref_total
    pooled = (ref_missing + cur_missing) / (ref_total + cur_total)
    se = math.sqrt(pooled * (1 - pooled) * (1 / ref_total + 1 / cur_total))
    if se == 0:
        return (0.0, 1.0) if change == 0 else (math.copysign(math.inf, change), 0.0)
    z = change / se
    return float(z), float(2 * stats.norm.sf(abs(z)))


def missing_rate_p_value(ref_missing: int, ref_total: int, cur_missing: int, cur_total: int) -> float:
    """Two-sided p-value of :func:`missing_rate_test`."""
    return missing_rate_test(ref_missing, ref_total, cur_missing, cur_total)[1]


def missing_change(
    ref: NumericProfile | CategoricalProfile, cur_missing: int, cur_total: int, th: DriftThresholds
) -> tuple[float, bool, float, float]:
    """``(current missing rate, missing_drift, z, p)``: drift when the change is at least
    ``missing_change_alert`` (absolute) and significant (``p < p_value``) by :func:`missing_rate_test`."""
    cur_rate = cur_missing / cur_total if cur_total else 0.0
    z, p = missing_rate_test(ref.missing, ref.count + ref.missing, cur_missing, cur_total)
    big = abs(cur_rate - ref.missing_rate) >= th.missing_change_alert
    return cur_rate, bool(big and p < th.p_value), z, p


def numeric_summary(mean: Any, std: Any, quantiles: Mapping[str, Any]) -> dict[str, Any]:
    """Mean, std and the 5/50/95% quantiles (JSON-safe) for the report tables."""
    return {
        "mean": finite_or_none(mean),
        "std": finite_or_none(std),
        "p05": finite_or_none(quantiles.get("0.05")),
        "p50": finite_or_none(quantiles.get("0.5")),
        "p95": finite_or_none(quantiles.get("0.95")),
    }


def plot_histogram(sketch: np.ndarray, cur_sorted: np.ndarray, n_bins: int = PLOT_BINS) -> dict[str, Any]:
    """Common bins over the central 98% of both sides, as proportions (for overlaid histograms)."""
    if sketch.size == 0 and cur_sorted.size == 0:
        return {}
    both = np.concatenate(
        [
            pick(sketch, [0.01, 0.99]) if sketch.size else [],
            pick(cur_sorted, [0.01, 0.99]) if cur_sorted.size else [],
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


def ks_from_sketch(sketch: np.ndarray, n_ref: int, cur_sorted: np.ndarray) -> tuple[float, float]:
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


def wasserstein_from_sketch(sketch: np.ndarray, cur_sorted: np.ndarray) -> float:
    """W1 = ∫|F⁻¹(u) − G⁻¹(u)| du on the sketch's quantile grid."""
    return float(np.mean(np.abs(pick(cur_sorted, sketch_grid(sketch.size)) - sketch)))


def category_vectors(
    ref_counts: Mapping[str, int], cur_counts: Mapping[str, int], *, other: str
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """``(ref_vec, cur_vec, unseen)`` over the reference categories plus a last "unseen" slot.

    A current category absent from the reference goes to the reference's ``other`` bucket
    when it has one (the long tail was pooled there), else to the unseen slot.
    """
    cats = list(ref_counts)
    index = {c: i for i, c in enumerate(cats)}
    cur_vec = np.zeros(len(cats) + 1)
    unseen: dict[str, int] = {}
    for cat, count in cur_counts.items():
        if cat in index:
            cur_vec[index[cat]] += count
        elif other in index:
            cur_vec[index[other]] += count
        else:
            unseen[cat] = count
    cur_vec[-1] = sum(unseen.values())
    ref_vec = np.array([ref_counts[c] for c in cats] + [0], dtype="float64")
    return ref_vec, cur_vec, unseen


def categorical_test(
    ref_vec: np.ndarray, cur_vec: np.ndarray, th: DriftThresholds, large: bool
) -> tuple[str, float | None, float | None, float | None, bool, bool]:
    """Jensen-Shannon distance (large samples) or a chi-square test of the two count vectors (small)."""
    from scipy import stats
    from scipy.spatial.distance import jensenshannon

    if large:
        statistic = float(jensenshannon(ref_vec / ref_vec.sum(), cur_vec / cur_vec.sum()))
        return "jensenshannon", statistic, None, statistic, statistic >= th.distance_alert, True
    table = np.vstack([ref_vec, cur_vec])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        statistic, p_value = 0.0, 1.0
    else:
        res = stats.chi2_contingency(table, correction=False)
        statistic, p_value = float(res.statistic), float(res.pvalue)
    return "chi2", statistic, p_value, p_value, p_value < th.p_value, False

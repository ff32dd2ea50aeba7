"""The report's plots (matplotlib, Agg backend), each returned as a ``data:image/png;base64,...`` URI.

Every chart returns None when there is nothing to draw, so the page can say so instead.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

from mlops.artifacts import FeatureDrift
from mlops.artifacts.nightly import HistoryRecord, PerformanceReport

COLORS = {
    "ALERT": "#c0392b",
    "WARN": "#d68910",
    "OK": "#1e8449",
    "alert": "#c0392b",
    "warn": "#d68910",
    "minor": "#7d6608",
    "ok": "#1e8449",
}
#: Performance metrics the report shows, in order of preference for the trend chart (binary,
#: multiclass and regression names; a report shows the ones that have a value).
PERF_METRICS = ("roc_auc", "roc_auc_ovr", "accuracy", "f1", "f1_macro", "log_loss", "rmse", "mae", "r2")
_REF, _CUR = "#2e86c1", "#e67e22"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> str:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def psi_chart(features: Sequence[FeatureDrift]) -> str | None:
    """Horizontal PSI bars per feature, coloured by status, with the warn/alert lines."""
    if not features:
        return None
    plt = _plt()
    rows = sorted(features, key=lambda f: f.psi_adjusted)
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(rows) + 1.2))
    ax.barh(
        [f.feature for f in rows],
        [f.psi_adjusted for f in rows],
        color=[COLORS.get(f.status, "#888") for f in rows],
    )
    th = rows[0].thresholds
    ax.axvline(th.psi_warn, color=COLORS["warn"], ls="--", lw=1, label="warn")
    ax.axvline(th.psi_alert, color=COLORS["alert"], ls="--", lw=1, label="alert")
    ax.set_xlabel("PSI (minus small-sample noise)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Population stability index per feature")
    return _png(fig)


def histogram_chart(feature: FeatureDrift) -> str | None:
    """Reference vs current distribution of one feature (overlaid histogram or grouped bars)."""
    plot = feature.plot
    if not plot:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 2.8))
    if plot.get("type") == "histogram":
        edges = plot["edges"]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
        ax.bar(edges[:-1], plot["ref"], width=widths, align="edge", alpha=0.5, label="reference", color=_REF)
        ax.bar(edges[:-1], plot["cur"], width=widths, align="edge", alpha=0.5, label="current", color=_CUR)
    else:
        cats = plot.get("categories", [])
        xs = range(len(cats))
        ax.bar([x - 0.2 for x in xs], plot.get("ref", []), width=0.4, label="reference", color=_REF)
        ax.bar([x + 0.2 for x in xs], plot.get("cur", []), width=0.4, label="current", color=_CUR)
        ax.set_xticks(list(xs))
        ax.set_xticklabels(cats, rotation=35, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.set_title(f"{feature.feature} ({feature.method}, psi {feature.psi_adjusted:.3f})", fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig)


def _primary(performance: PerformanceReport | None, history: Sequence[HistoryRecord]) -> str | None:
    """The first of :data:`PERF_METRICS` that any source has a value for."""
    sources: list[PerformanceReport | HistoryRecord] = ([performance] if performance else []) + list(history)
    for metric in PERF_METRICS:
        for src in sources:
            if any(part.get(metric) is not None for part in (src.realised, src.estimated, src.baseline)):
                return metric
            if any(d.metrics.get(metric) is not None for d in src.days):
                return metric
    return None


def _per_day(
    metric: str, performance: PerformanceReport | None, history: Sequence[HistoryRecord]
) -> dict[str, tuple[str, float]]:
    """``{day: (source, value)}`` over the history then tonight; a realised value beats an estimate."""
    by_day: dict[str, tuple[str, float]] = {}
    for rec in [*history, *([performance] if performance else [])]:
        for d in rec.days:
            value = d.metrics.get(metric)
            if value is not None and (d.source == "realised" or by_day.get(d.day, ("", 0))[0] != "realised"):
                by_day[d.day] = (d.source, float(value))
    return by_day


def performance_chart(performance: PerformanceReport | None, history: Sequence[HistoryRecord]) -> str | None:
    """Per scored day: realised and estimated values of the primary metric, with the holdout baseline."""
    metric = _primary(performance, history)
    by_day = _per_day(metric, performance, history) if metric else {}
    if not by_day:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 2.8))
    days = sorted(by_day)
    for source, marker, color in (("realised", "o", "#1e8449"), ("estimated", "^", "#8e44ad")):
        pts = [(d, by_day[d][1]) for d in days if by_day[d][0] == source]
        if pts:
            label = f"{source}{' (CBPE)' if source == 'estimated' else ''}"
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker=marker, ls="-", color=color, label=label)
    base = performance.baseline.get(metric) if performance else None
    if base is not None:
        ax.axhline(base, color="#555", ls="--", lw=1, label="holdout (model card)")
    ax.set_ylabel(metric)
    ax.set_title(f"Performance trend: {metric} per scored day")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.legend(fontsize=7)
    return _png(fig)


def drift_trend_chart(history: Sequence[HistoryRecord], limit: float | None) -> str | None:
    """The drifted-feature share per night, with the dataset-drift limit (needs two nights)."""
    pts = [(h.day, h.drift_share) for h in history if h.drift_share is not None]
    if len(pts) < 2:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 2.4))
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color=_REF, label="drifted share")
    if limit is not None:
        ax.axhline(limit, color=COLORS["alert"], ls="--", lw=1, label="dataset drift")
    ax.set_ylim(0, 1)
    ax.set_title("Drifted feature share per night")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.legend(fontsize=7)
    return _png(fig)

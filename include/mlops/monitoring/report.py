"""The nightly monitoring report: one self-contained HTML page (plots embedded as base64 PNG) and its JSON twin.

Stored as ``monitoring/<dataset>/<day>/report.html`` and ``report.json``
(:class:`~mlops.artifacts.nightly.MonitoringReport`). The page shows the verdict, the
alert rules, the per-feature drift table (drifted first), a PSI bar chart, overlaid
histograms of the drifted features, the performance trend against the holdout, the
drift-share history, the model version and both windows.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mlops import artifacts, storage
from mlops.artifacts import DriftReport, FeatureDrift
from mlops.artifacts.nightly import HistoryRecord, MonitoringReport, NightVerdict, PerformanceReport
from mlops.monitoring.charts import (
    COLORS,
    PERF_METRICS,
    drift_trend_chart,
    histogram_chart,
    performance_chart,
    psi_chart,
)

#: At most this many overlaid histograms (drifted features first).
MAX_HISTOGRAMS = 12

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 12px; margin: .5em 0; }
td, th { border: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
.verdict { font-size: 28px; font-weight: bold; }
img { margin: 4px; }
"""


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return html.escape(str(x))


def _esc(x: Any) -> str:
    return html.escape(str(x))


def _img(src: str | None, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='{src}'/>" if src else ""


def _summary_cell(summary: dict[str, Any]) -> str:
    if "top" in summary:
        return ", ".join(f"{html.escape(str(k))} {v:.0%}" for k, v in (summary.get("top") or {}).items())
    return (
        f"mean {_num(summary.get('mean'))} · p50 {_num(summary.get('p50'))} · sd {_num(summary.get('std'))}"
    )


# ---------------------------------------------------------------- sections
def _context_section(drift: DriftReport) -> str:
    """Model version, both windows, the dataset-drift decision."""
    ref, cur = drift.reference_window, drift.current_window
    drifted = drift.drifted_features
    weighted = ", importance-weighted" if drift.weighted else ""
    return (
        f"<p>Model version <b>{_esc(drift.model_version or 'n/a')}</b>; reference window "
        f"{_esc(ref.get('start', '?'))} … {_esc(ref.get('end', '?'))} ({drift.n_ref} rows); current window "
        f"{_esc(cur.get('start'))} … {_esc(cur.get('end'))} ({len(cur.get('days', []))}/"
        f"{_esc(cur.get('requested_days'))} days scored, {drift.n_cur} rows). Drift run {_esc(drift.run_id)}.</p>\n"
        f"<p>Dataset drift: <b>{'YES' if drift.dataset_drift else 'no'}</b> — {len(drifted)}/{len(drift.features)} "
        f"features drifted (share {drift.drift_share:.2f}, limit {drift.drift_share_limit}{weighted}): "
        f"{_esc(', '.join(drifted) or 'none')}. Small-sample p-values adjusted: {drift.p_value_adjust}.</p>"
    )


def _prediction_section(pred: FeatureDrift | None) -> str:
    if pred is None:
        return ""
    return (
        f"<p>Prediction drift ({pred.kind}): <b style='color:{COLORS.get(pred.status, '#000')}'>"
        f"{pred.status.upper()}</b> — {pred.method} {_num(pred.score)} vs {_num(pred.threshold)}, "
        f"PSI {_num(pred.psi_adjusted, 3)}; reference {_summary_cell(pred.ref_summary)}; "
        f"current {_summary_cell(pred.cur_summary)}</p>"
    )


def _rules_section(night: NightVerdict | None) -> str:
    rules = night.rules if night else []
    fired = [r for r in rules if r.fired]
    items = "".join(
        f"<li style='color:{COLORS['ALERT'] if r.fired else '#333'}'><b>{_esc(r.name)}</b> ({r.kind}): "
        f"{_esc(r.detail)} → {'FIRED' if r.fired else 'quiet'}{' (retrain)' if r.retrain and r.fired else ''}</li>"
        for r in rules
    )
    title = "Alert rules" + (f" — {len(fired)} fired" if fired else "")
    return f"<h2>{title}</h2><ul>{items or '<li>Rules not evaluated yet.</li>'}</ul>"


def _feature_row(f: FeatureDrift) -> str:
    small = f.method in ("ks", "chi2")
    rule = f"p {'<' if f.test_drift else '≥'} " if small else f"{'≥' if f.test_drift else '<'} "
    unseen = f" (unseen {f.unseen_count}: {', '.join(f.unseen_categories[:3])})" if f.unseen_count else ""
    return (
        f"<tr><td><b>{_esc(f.feature)}</b></td><td>{f.kind}</td>"
        f"<td style='color:{COLORS.get(f.status, '#000')}'><b>{f.status.upper()}</b></td>"
        f"<td>{'yes' if f.drift_detected else 'no'}</td><td>{f.method}</td>"
        f"<td>{_num(f.score)}</td><td>{rule}{_num(f.threshold)}</td>"
        f"<td>{_num(f.psi_adjusted, 3)} <small>(raw {_num(f.psi, 3)})</small></td>"
        f"<td>{f.missing_rate_ref:.1%} → {f.missing_rate_cur:.1%}</td>"
        f"<td>{_summary_cell(f.ref_summary)}</td>"
        f"<td>{_summary_cell(f.cur_summary)}{html.escape(unseen)}</td></tr>"
    )


def _features_section(drift: DriftReport) -> str:
    features = drift.sorted_features()
    header = "".join(
        f"<th>{h}</th>"
        for h in (
            "feature", "kind", "status", "drift", "method", "score", "threshold", "PSI",
            "missing ref → cur", "reference", "current",
        )
    )  # fmt: skip
    rows = "\n".join(_feature_row(f) for f in features)
    return (
        f"<h2>Features (drifted first)</h2><table><tr>{header}</tr>\n{rows}</table>\n"
        f"<h2>PSI</h2>{_img(psi_chart(features), 'PSI per feature')}"
    )


def _histograms_section(drift: DriftReport) -> str:
    targets = [f for f in drift.sorted_features() if f.drift_detected][:MAX_HISTOGRAMS]
    if drift.prediction is not None and drift.prediction.drift_detected:
        targets.append(drift.prediction)
    images = "".join(_img(histogram_chart(f), f.feature) for f in targets)
    return f"<h2>Distributions of drifted features</h2>{images or '<p>No drifted features.</p>'}"


def _performance_section(performance: PerformanceReport | None, history: Sequence[HistoryRecord]) -> str:
    chart = _img(performance_chart(performance, history), "performance trend")
    if performance is None:
        return f"<h2>Performance</h2>{chart}<p>Performance not computed yet.</p>"
    shown = [
        m
        for m in PERF_METRICS
        if performance.baseline.get(m) is not None
        or any(d.metrics.get(m) is not None for d in performance.days)
    ]
    head = "".join(f"<th>{m}</th>" for m in shown)
    base = "".join(f"<td><i>{_num(performance.baseline.get(m))}</i></td>" for m in shown)
    rows = "".join(
        f"<tr><td>{d.day}</td><td>{_source_cell(d.source, d.metrics)}</td><td>{d.n}</td>"
        + "".join(f"<td>{_num(d.metrics.get(m))}</td>" for m in shown)
        + "</tr>"
        for d in performance.days
    )
    not_estimated = performance.estimated.get("estimate") == "not estimated"
    note = f"<p><b>Estimated: not estimated</b> — {_esc(performance.estimated.get('reason'))}</p>"
    return (
        f"<h2>Performance</h2>{chart}<p>{_esc(performance.summary)}</p>{note if not_estimated else ''}"
        f"<table><tr><th>day</th><th>source</th><th>n</th>{head}</tr>"
        f"<tr><td colspan=3><i>holdout (model card)</i></td>{base}</tr>{rows}</table>"
    )


def _source_cell(source: str, values: dict[str, Any]) -> str:
    """A day's source; an unlabelled day of a multiclass model says it was not estimated."""
    if values.get("estimate"):
        return f"{_esc(source)} ({_esc(values['estimate'])})"
    return _esc(source)


def _history_section(history: Sequence[HistoryRecord], limit: float) -> str:
    chart = _img(drift_trend_chart(history, limit), "drift trend")
    return f"<h2>Drift history</h2>{chart or '<p>Not enough nights yet.</p>'}"


def render_html(
    *,
    drift: DriftReport,
    performance: PerformanceReport | None = None,
    night: NightVerdict | None = None,
    history: Sequence[HistoryRecord] = (),
) -> str:
    """The report page as a string (no external resources)."""
    verdict = night.verdict if night else drift.verdict
    title = f"{_esc(drift.dataset)} — night {_esc(drift.day)}"
    body = "\n".join(
        [
            f"<h1>Model monitoring: {title}</h1>",
            f"<div class='verdict' style='color:{COLORS.get(verdict, '#000')}'>{verdict}</div>",
            _context_section(drift),
            _prediction_section(drift.prediction),
            _rules_section(night),
            _features_section(drift),
            _histograms_section(drift),
            _performance_section(performance, history),
            _history_section(history, drift.drift_share_limit),
        ]
    )
    return (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>Monitoring {_esc(drift.dataset)} '
        f"{_esc(drift.day)}</title>\n<style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    )


def without_plots(drift: DriftReport) -> DriftReport:
    """The drift report without per-feature plot data (for the JSON twin)."""
    return replace(
        drift,
        features=[replace(f, plot={}) for f in drift.features],
        prediction=replace(drift.prediction, plot={}) if drift.prediction else None,
    )


def write_report(
    client: Any,
    bucket: str,
    dataset: str,
    day: str,
    *,
    drift: DriftReport,
    performance: PerformanceReport | None = None,
    night: NightVerdict | None = None,
    history: Sequence[HistoryRecord] = (),
) -> tuple[str, str]:
    """Write ``report.html`` and ``report.json`` under ``monitoring/<dataset>/<day>/``; returns both URIs."""
    html_uri = artifacts.report_uri(bucket, dataset, day)
    json_uri = artifacts.report_json_uri(bucket, dataset, day)
    page = render_html(drift=drift, performance=performance, night=night, history=history)
    storage.put_bytes(client, html_uri, page.encode(), content_type="text/html; charset=utf-8")
    twin = MonitoringReport(
        dataset=dataset,
        day=day,
        verdict=night.verdict if night else drift.verdict,
        report_uri=html_uri,
        drift=without_plots(drift),
        performance=performance,
        night=night,
        history=list(history),
        rendered_at=artifacts.utc_now_iso(),
    )
    artifacts.write_artifact(client, json_uri, twin)
    return html_uri, json_uri

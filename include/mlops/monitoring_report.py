"""The nightly monitoring report: one self-contained HTML page (plots embedded as base64 PNG) and its JSON twin.

Stored as ``monitoring/<dataset>/<day>/report.html`` and ``report.json``. It shows
the verdict, the fired alert rules, the per-feature drift table (drifted first),
overlaid histograms of the drifted features, a PSI bar chart, the performance
trend, the model version and both windows.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

from mlops import artifacts, storage

_COLORS = {
    "ALERT": "#c0392b",
    "WARN": "#d68910",
    "OK": "#1e8449",
    "alert": "#c0392b",
    "warn": "#d68910",
    "minor": "#7d6608",
    "ok": "#1e8449",
}
#: At most this many overlaid histograms (drifted features first).
MAX_HISTOGRAMS = 12
_PERF_METRICS = ("roc_auc", "accuracy", "f1", "rmse", "mae", "r2")


def _num(x: Any, digits: int = 4) -> str:
    if x is None:
        return "–"
    if isinstance(x, float):
        return f"{x:.{digits}g}"
    return html.escape(str(x))


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def psi_chart(features: Sequence[Mapping[str, Any]]) -> str | None:
    """Horizontal PSI bars per feature, coloured by status, with the warn/alert lines."""
    if not features:
        return None
    plt = _plt()
    rows = sorted(features, key=lambda f: f.get("psi_adjusted") or 0.0)
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(rows) + 1.2))
    ax.barh(
        [f["feature"] for f in rows],
        [f.get("psi_adjusted") or 0.0 for f in rows],
        color=[_COLORS.get(f.get("status", "ok"), "#888") for f in rows],
    )
    ax.axvline(rows[0].get("psi_warn", 0.1), color=_COLORS["warn"], ls="--", lw=1, label="warn")
    ax.axvline(rows[0].get("psi_alert", 0.25), color=_COLORS["alert"], ls="--", lw=1, label="alert")
    ax.set_xlabel("PSI (minus small-sample noise)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Population stability index per feature")
    return _png(fig)


def histogram_chart(feature: Mapping[str, Any]) -> str | None:
    """Reference vs current distribution of one feature (overlaid histogram or grouped bars)."""
    plot = feature.get("plot") or {}
    if not plot:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4.6, 2.8))
    if plot.get("type") == "histogram":
        edges = plot["edges"]
        widths = [b - a for a, b in zip(edges[:-1], edges[1:], strict=True)]
        ax.bar(
            edges[:-1], plot["ref"], width=widths, align="edge", alpha=0.5, label="reference", color="#2e86c1"
        )
        ax.bar(
            edges[:-1], plot["cur"], width=widths, align="edge", alpha=0.5, label="current", color="#e67e22"
        )
    else:
        cats = plot.get("categories", [])
        xs = range(len(cats))
        ax.bar([x - 0.2 for x in xs], plot.get("ref", []), width=0.4, label="reference", color="#2e86c1")
        ax.bar([x + 0.2 for x in xs], plot.get("cur", []), width=0.4, label="current", color="#e67e22")
        ax.set_xticks(list(xs))
        ax.set_xticklabels(cats, rotation=35, ha="right", fontsize=7)
    ax.set_ylabel("share of rows")
    ax.set_title(
        f"{feature['feature']} ({feature.get('method')}, psi {feature.get('psi_adjusted') or 0:.3f})",
        fontsize=9,
    )
    ax.legend(fontsize=7)
    return _png(fig)


def _primary(performance: Mapping[str, Any] | None, history: Sequence[Mapping[str, Any]]) -> str | None:
    sources = [performance or {}] + [h for h in history]
    for metric in _PERF_METRICS:
        for src in sources:
            for part in ("realised", "estimated", "baseline"):
                if (src.get(part) or {}).get(metric) is not None:
                    return metric
            for d in src.get("days") or []:
                if (d.get("metrics") or {}).get(metric) is not None:
                    return metric
    return None


def performance_chart(
    performance: Mapping[str, Any] | None, history: Sequence[Mapping[str, Any]]
) -> str | None:
    """Per scored day: realised and estimated values of the primary metric, with the holdout baseline."""
    metric = _primary(performance, history)
    if metric is None:
        return None
    by_day: dict[str, tuple[str, float]] = {}
    for rec in list(history) + ([performance] if performance else []):
        for d in rec.get("days") or []:
            value = (d.get("metrics") or {}).get(metric)
            if value is not None and (
                d["source"] == "realised" or by_day.get(d["day"], ("", 0))[0] != "realised"
            ):
                by_day[d["day"]] = (d["source"], float(value))
    if not by_day:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 2.8))
    days = sorted(by_day)
    for source, marker, color in (("realised", "o", "#1e8449"), ("estimated", "^", "#8e44ad")):
        pts = [(d, by_day[d][1]) for d in days if by_day[d][0] == source]
        if pts:
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                marker=marker,
                ls="-",
                color=color,
                label=f"{source}{' (CBPE)' if source == 'estimated' else ''}",
            )
    base = ((performance or {}).get("baseline") or {}).get(metric)
    if base is not None:
        ax.axhline(base, color="#555", ls="--", lw=1, label="holdout (model card)")
    ax.set_ylabel(metric)
    ax.set_title(f"Performance trend: {metric} per scored day")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.legend(fontsize=7)
    return _png(fig)


def drift_trend_chart(history: Sequence[Mapping[str, Any]], limit: float | None) -> str | None:
    pts = [(h["day"], h.get("drift_share")) for h in history if h.get("drift_share") is not None]
    if len(pts) < 2:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 2.4))
    ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", color="#2e86c1", label="drifted share")
    if limit is not None:
        ax.axhline(limit, color=_COLORS["alert"], ls="--", lw=1, label="dataset drift")
    ax.set_ylim(0, 1)
    ax.set_title("Drifted feature share per night")
    ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    ax.legend(fontsize=7)
    return _png(fig)


def _summary_cell(summary: Mapping[str, Any]) -> str:
    if "top" in summary:
        return ", ".join(f"{html.escape(str(k))} {v:.0%}" for k, v in (summary.get("top") or {}).items())
    return (
        f"mean {_num(summary.get('mean'))} · p50 {_num(summary.get('p50'))} · sd {_num(summary.get('std'))}"
    )


def _feature_rows(features: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for f in features:
        status = f.get("status", "ok")
        method = f.get("method")
        rule = (
            f"p {'<' if f.get('test_drift') else '≥'} "
            if method in ("ks", "chi2")
            else (f"{'≥' if f.get('test_drift') else '<'} ")
        )
        unseen = (
            f" (unseen {f['unseen_count']}: {', '.join(f.get('unseen_categories', [])[:3])})"
            if f.get("unseen_count")
            else ""
        )
        rows.append(
            f"<tr><td><b>{html.escape(f['feature'])}</b></td><td>{f.get('kind')}</td>"
            f"<td style='color:{_COLORS.get(status, '#000')}'><b>{status.upper()}</b></td>"
            f"<td>{'yes' if f.get('drift_detected') else 'no'}</td><td>{method}</td>"
            f"<td>{_num(f.get('score'))}</td><td>{rule}{_num(f.get('threshold'))}</td>"
            f"<td>{_num(f.get('psi_adjusted'), 3)} <small>(raw {_num(f.get('psi'), 3)})</small></td>"
            f"<td>{(f.get('missing_rate_ref') or 0):.1%} → {(f.get('missing_rate_cur') or 0):.1%}</td>"
            f"<td>{_summary_cell(f.get('ref_summary') or {})}</td>"
            f"<td>{_summary_cell(f.get('cur_summary') or {})}{html.escape(unseen)}</td></tr>"
        )
    return "\n".join(rows)


def _img(src: str | None, alt: str) -> str:
    return f"<img alt='{html.escape(alt)}' src='{src}'/>" if src else ""


def render_html(
    *,
    drift: Mapping[str, Any],
    performance: Mapping[str, Any] | None = None,
    night: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] = (),
) -> str:
    """The report page as a string (no external resources)."""
    ctx = drift.get("context") or {}
    verdict = (night or {}).get("verdict") or drift.get("verdict", "?")
    features = list(drift.get("features") or [])
    pred = drift.get("prediction")
    cur = ctx.get("current_window") or {}
    ref_window = ctx.get("reference_window") or {}
    hist_targets = [f for f in features if f.get("drift_detected")][:MAX_HISTOGRAMS]
    if pred and pred.get("drift_detected"):
        hist_targets.append(pred)
    histograms = (
        "".join(_img(histogram_chart(f), f["feature"]) for f in hist_targets) or "<p>No drifted features.</p>"
    )
    fired = [r for r in (night or {}).get("rules", []) if r.get("fired")]
    rules_html = (
        "".join(
            f"<li style='color:{_COLORS['ALERT'] if r.get('fired') else '#333'}'><b>{html.escape(r['name'])}</b> "
            f"({r['kind']}): {html.escape(r['detail'])} → {'FIRED' if r.get('fired') else 'quiet'}"
            f"{' (retrain)' if r.get('retrain') and r.get('fired') else ''}</li>"
            for r in (night or {}).get("rules", [])
        )
        or "<li>Rules not evaluated yet.</li>"
    )
    perf_rows = "".join(
        f"<tr><td>{d['day']}</td><td>{d['source']}</td><td>{d['n']}</td>"
        + "".join(f"<td>{_num((d.get('metrics') or {}).get(m))}</td>" for m in _PERF_METRICS)
        + "</tr>"
        for d in (performance or {}).get("days", [])
    )
    baseline = (performance or {}).get("baseline") or {}
    perf_html = (
        f"<p>{html.escape((performance or {}).get('summary', ''))}</p>"
        f"<table><tr><th>day</th><th>source</th><th>n</th>{''.join(f'<th>{m}</th>' for m in _PERF_METRICS)}</tr>"
        f"<tr><td colspan=3><i>holdout (model card)</i></td>"
        f"{''.join(f'<td><i>{_num(baseline.get(m))}</i></td>' for m in _PERF_METRICS)}</tr>{perf_rows}</table>"
        if performance
        else "<p>Performance not computed yet.</p>"
    )
    pred_html = ""
    if pred:
        pred_html = (
            f"<p>Prediction drift ({pred.get('kind')}): <b style='color:{_COLORS.get(pred['status'], '#000')}'>"
            f"{pred['status'].upper()}</b> — {pred['method']} {_num(pred.get('score'))} vs {_num(pred.get('threshold'))}, "
            f"PSI {_num(pred.get('psi_adjusted'), 3)}; reference {_summary_cell(pred.get('ref_summary') or {})}; "
            f"current {_summary_cell(pred.get('cur_summary') or {})}</p>"
        )
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Monitoring {html.escape(str(drift.get("dataset")))} {ctx.get("day")}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }}
table {{ border-collapse: collapse; font-size: 12px; margin: .5em 0; }}
td, th {{ border: 1px solid #ddd; padding: 3px 6px; text-align: left; vertical-align: top; }}
th {{ background: #f3f3f3; }}
.verdict {{ font-size: 28px; font-weight: bold; color: {_COLORS.get(verdict, "#000")}; }}
img {{ margin: 4px; }}
</style></head><body>
<h1>Model monitoring: {html.escape(str(drift.get("dataset")))} — night {ctx.get("day")}</h1>
<div class="verdict">{verdict}</div>
<p>Model version <b>{ctx.get("model_version") or "n/a"}</b>;
reference window {html.escape(str(ref_window.get("window_start", ref_window.get("start", "?"))))} …
{html.escape(str(ref_window.get("window_end", ref_window.get("end", "?"))))} ({ctx.get("reference_rows")} rows);
current window {cur.get("start")} … {cur.get("end")} ({len(cur.get("days", []))}/{cur.get("requested_days")} days scored,
{ctx.get("current_rows")} rows). Drift run {html.escape(str(ctx.get("run_id")))}.</p>
<p>Dataset drift: <b>{"YES" if drift.get("dataset_drift") else "no"}</b> —
{len(drift.get("drifted_features", []))}/{len(features)} features drifted
(share {drift.get("drift_share", 0):.2f}, limit {drift.get("drift_share_limit")}{", importance-weighted" if drift.get("weighted") else ""}):
{html.escape(", ".join(drift.get("drifted_features", [])) or "none")}.
Small-sample p-values adjusted: {drift.get("p_value_adjust")}.</p>
{pred_html}
<h2>Alert rules{" — " + str(len(fired)) + " fired" if fired else ""}</h2><ul>{rules_html}</ul>
<h2>Features (drifted first)</h2>
<table><tr><th>feature</th><th>kind</th><th>status</th><th>drift</th><th>method</th><th>score</th><th>threshold</th>
<th>PSI</th><th>missing ref → cur</th><th>reference</th><th>current</th></tr>
{_feature_rows(features)}</table>
<h2>PSI</h2>{_img(psi_chart(features), "PSI per feature")}
<h2>Distributions of drifted features</h2>{histograms}
<h2>Performance</h2>{_img(performance_chart(performance, history), "performance trend")}{perf_html}
<h2>Drift history</h2>{_img(drift_trend_chart(history, drift.get("drift_share_limit")), "drift trend") or "<p>Not enough nights yet.</p>"}
</body></html>
"""


def _strip_plots(drift: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(drift)
    out["features"] = [{k: v for k, v in f.items() if k != "plot"} for f in drift.get("features", [])]
    if drift.get("prediction"):
        out["prediction"] = {k: v for k, v in drift["prediction"].items() if k != "plot"}
    return out


def write_report(
    client,
    bucket: str,
    dataset: str,
    day: str,
    *,
    drift: Mapping[str, Any],
    performance: Mapping[str, Any] | None = None,
    night: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] = (),
) -> tuple[str, str]:
    """Write ``report.html`` and ``report.json`` under ``monitoring/<dataset>/<day>/``; returns both URIs."""
    prefix = artifacts.monitoring_prefix(bucket, dataset, day)
    html_uri, json_uri = prefix + "report.html", prefix + "report.json"
    page = render_html(drift=drift, performance=performance, night=night, history=history)
    storage.put_bytes(client, html_uri, page.encode(), content_type="text/html; charset=utf-8")
    twin = {
        "dataset": dataset,
        "day": day,
        "verdict": (night or {}).get("verdict") or drift.get("verdict"),
        "report_html_uri": html_uri,
        "drift": _strip_plots(drift),
        "performance": performance,
        "night": night,
        "history": list(history),
    }
    storage.put_json(client, json_uri, twin)
    return html_uri, json_uri

"""The model card: one self-contained HTML page stored beside the candidate.

It holds the metrics against production, ROC and precision-recall curves (or
residual plots for regression), the confusion matrix, permutation feature
importance, partial dependence of the top features and the feature contributions
of the canned rows (:mod:`~mlops.evaluation.explain`), the slice table, the
fairness section (per-group metrics and disparities, with ``fairness:`` in the
config), the data window and the config. Plots are made
with matplotlib (``Figure`` objects, no pyplot state, no GUI backend) and
embedded as base64 PNG, so the file opens anywhere with no other files.

It is rendered from the typed artifacts: the candidate's
:class:`~mlops.artifacts.TrainingRecord` and :class:`~mlops.artifacts.CandidateMetrics`, plus
the holdout predictions; the gate later stamps its :class:`~mlops.artifacts.Blessing` between
:data:`GATE_START` and :data:`GATE_END`.
"""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any
from urllib.parse import quote

import numpy as np
import yaml

from mlops import metrics as mlops_metrics
from mlops._util import fmt_value as _fmt
from mlops.artifacts import Blessing, CandidateMetrics, TrainingRecord
from mlops.config import DatasetConfig, config_label
from mlops.evaluation import explain
from mlops.evaluation.behaviour import canned_frame
from mlops.evaluation.fairness import limit_text
from mlops.metric_names import LOWER_IS_BETTER

#: Markers around the model card's verdict section; the gate fills the space between them.
GATE_START, GATE_END = "<!-- gate-verdict -->", "<!-- /gate-verdict -->"
CANDIDATE_COLOR, PRODUCTION_COLOR = "#1f77b4", "#ff7f0e"
TOP_FEATURES = 15

_CSS = """
body { font-family: -apple-system, Segoe UI, Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; }
th { background: #f5f5f5; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.pass { color: #1a7f37; font-weight: 600; } .fail { color: #cf222e; font-weight: 600; } .skip { color: #777; }
.verdict { font-size: 1.15em; padding: 0.6em 0.8em; border-radius: 6px; display: inline-block; }
.blessed { background: #dafbe1; } .not-blessed { background: #ffebe9; } .pending { background: #f5f5f5; }
.muted { color: #666; } img { max-width: 100%; } pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; }
"""


# ---------------------------------------------------------------- helpers
def _e(value: Any) -> str:
    return html.escape(str(value))


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def _img(fig, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{_png(fig)}">'


def _figure(width: float, height: float, ncols: int = 1):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(1, ncols)
    return fig, (list(axes) if ncols > 1 else [axes])


def _table(header: list[str], rows: list[list[Any]], numeric_from: int = 1) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            if isinstance(cell, tuple):  # (text, css class)
                cells.append(f'<td class="{cell[1]}">{_e(cell[0])}</td>')
            else:
                cls = (
                    ' class="num"' if i >= numeric_from and isinstance(cell, int | float | type(None)) else ""
                )
                cells.append(f"<td{cls}>{_e(_fmt(cell))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# ---------------------------------------------------------------- plots
def plot_metrics(scored: CandidateMetrics) -> str:
    """Small multiples: one bar pair (candidate, production) per metric."""
    cand = scored.candidate.metrics
    prod = scored.production.metrics if scored.production else {}
    names = [k for k, v in cand.items() if v is not None]
    labels = ["candidate", "production"] if prod else ["candidate"]
    fig, axes = _figure(1.6 * max(len(names), 1), 2.2, max(len(names), 1))
    for ax, name in zip(axes, names, strict=False):
        values = [cand[name], prod.get(name)][: len(labels)]
        bars = ax.bar(
            [x[:4] for x in labels],
            [v if v is not None else 0 for v in values],
            color=[CANDIDATE_COLOR, PRODUCTION_COLOR][: len(labels)],
        )
        for bar, v in zip(bars, values, strict=True):
            ax.annotate(
                _fmt(v, 3),
                (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                ha="center",
                va="bottom",
                fontsize=7,
            )
        arrow = "lower" if name in LOWER_IS_BETTER else "higher"
        ax.set_title(f"{name}\n({arrow} is better)", fontsize=8)
        ax.tick_params(labelsize=7)
    return _img(fig, "metrics: candidate vs production")


def plot_classification_curves(y_true, candidate_proba, production_proba=None, *, positive_class) -> str:
    """ROC and precision-recall curves for candidate (and production) on the holdout.

    ``positive_class`` is the class the probabilities are of (:func:`mlops.metrics.resolve_positive_class`).
    """
    base_rate = mlops_metrics.positive_rate(y_true, positive_class=positive_class) or 0.0
    fig, (roc_ax, pr_ax) = _figure(10, 4, 2)
    for label, proba, color in (
        ("candidate", candidate_proba, CANDIDATE_COLOR),
        ("production", production_proba, PRODUCTION_COLOR),
    ):
        curves = (
            None
            if proba is None
            else mlops_metrics.classification_curves(y_true, proba, positive_class=positive_class)
        )
        if curves is None:
            continue
        roc_ax.plot(curves["fpr"], curves["tpr"], color=color, label=f"{label} (AUC {curves['roc_auc']:.3f})")
        pr_ax.plot(
            curves["recall"],
            curves["precision"],
            color=color,
            label=f"{label} (AP {curves['average_precision']:.3f})",
        )
    roc_ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1)
    roc_ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve (holdout)")
    pr_ax.axhline(base_rate, color="#999", linestyle="--", linewidth=1, label=f"base rate {base_rate:.3f}")
    pr_ax.set(xlabel="recall", ylabel="precision", title="Precision-recall curve (holdout)")
    roc_ax.legend(loc="lower right", fontsize=8)
    pr_ax.legend(loc="upper right", fontsize=8)
    return _img(fig, "ROC and precision-recall curves")


def plot_residuals(y_true, candidate_pred, production_pred=None) -> str:
    """Predicted vs actual, residuals vs predicted, and the residual histogram."""
    y = np.asarray(y_true, dtype="float64")
    fig, (ax1, ax2, ax3) = _figure(13, 4, 3)
    for label, pred, color in (
        ("candidate", candidate_pred, CANDIDATE_COLOR),
        ("production", production_pred, PRODUCTION_COLOR),
    ):
        if pred is None:
            continue
        pred = np.asarray(pred, dtype="float64")
        resid = y - pred
        ax1.scatter(y, pred, s=8, alpha=0.5, color=color, label=label)
        ax2.scatter(pred, resid, s=8, alpha=0.5, color=color, label=label)
        ax3.hist(resid, bins=30, alpha=0.5, color=color, label=label)
    lo, hi = float(np.min(y)), float(np.max(y))
    ax1.plot([lo, hi], [lo, hi], color="#999", linestyle="--", linewidth=1)
    ax1.set(xlabel="actual", ylabel="predicted", title="Predicted vs actual")
    ax2.axhline(0, color="#999", linestyle="--", linewidth=1)
    ax2.set(xlabel="predicted", ylabel="residual (actual - predicted)", title="Residuals vs predicted")
    ax3.set(xlabel="residual", ylabel="rows", title="Residual distribution")
    for ax in (ax1, ax2, ax3):
        ax.legend(fontsize=8)
    return _img(fig, "residual plots")


def plot_ovr_curves(y_true, proba, classes: list[Any]) -> str:
    """One-vs-rest ROC curves of a multiclass candidate: one curve per class (``proba`` columns in ``classes`` order)."""
    from sklearn import metrics as skm

    truth = np.asarray(y_true)
    fig, (ax,) = _figure(5.5, 4.2)
    for i, label in enumerate(classes):
        hits = mlops_metrics.is_positive(truth, label)
        if hits.all() or not hits.any():
            continue
        fpr, tpr, _ = skm.roc_curve(hits, np.asarray(proba)[:, i])
        ax.plot(fpr, tpr, label=f"{label} vs rest (AUC {skm.auc(fpr, tpr):.3f}, n={int(hits.sum())})")
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1)
    ax.set(
        xlabel="false positive rate", ylabel="true positive rate", title="One-vs-rest ROC curves (holdout)"
    )
    ax.legend(loc="lower right", fontsize=8)
    return _img(fig, "one-vs-rest ROC curves")


def per_class_table(y_true, prediction, classes: list[Any]) -> str:
    """Support, precision, recall and F1 of every class on the holdout (the candidate's)."""
    rows = [
        [label, v["support"], v["precision"], v["recall"], v["f1"]]
        for label, v in mlops_metrics.per_class(y_true, prediction, classes).items()
    ]
    return _table(["class", "holdout rows", "precision", "recall", "f1"], rows)


def plot_confusion(scored: CandidateMetrics, *, multiclass: bool = False) -> str:
    """Confusion matrices (rows true, columns predicted) for candidate and production."""
    panels = [("candidate", scored.candidate.confusion_matrix)]
    if scored.production:
        panels.append(("production", scored.production.confusion_matrix))
    panels = [(n, cm) for n, cm in panels if cm]
    fig, axes = _figure(4.2 * len(panels), 3.6, len(panels))
    for ax, (name, cm) in zip(axes, panels, strict=True):
        matrix = np.asarray(cm["matrix"])
        ax.imshow(matrix, cmap="Blues")
        labels = [str(x) for x in cm["labels"]]
        ax.set_xticks(range(len(labels)), labels)
        ax.set_yticks(range(len(labels)), labels)
        rule = "most probable class" if multiclass else "threshold 0.5"
        ax.set(xlabel="predicted", ylabel="true", title=f"{name} ({rule})")
        peak = matrix.max() or 1
        for (i, j), v in np.ndenumerate(matrix):
            ax.text(j, i, str(v), ha="center", va="center", color="white" if v > peak / 2 else "black")
    return _img(fig, "confusion matrix")


def plot_importances(importances: dict[str, float], metric: str) -> str:
    """Horizontal bars of the top permutation importances."""
    ranked = sorted(importances.items(), key=lambda kv: (-kv[1], kv[0]))  # JSON round trips sort keys by name
    items = ranked[:TOP_FEATURES][::-1]
    fig, (ax,) = _figure(7, 0.3 * len(items) + 1)
    ax.barh([k for k, _ in items], [v for _, v in items], color=CANDIDATE_COLOR)
    ax.axvline(0, color="#999", linewidth=1)
    ax.set(xlabel=f"mean drop in {metric} when shuffled", title="Permutation importance (holdout)")
    ax.tick_params(labelsize=8)
    return _img(fig, "permutation importance")


def plot_group_metrics(feature: str, cand: dict[str, Any], prod: dict[str, Any] | None) -> str:
    """Small multiples, one per group metric: bars per group, candidate beside production."""
    groups = list(cand["groups"])
    names = [k for k in next(iter(cand["groups"].values()), {}) if k != "n"]
    fig, axes = _figure(max(3.2 * len(names), 4), 3, max(len(names), 1))
    x = np.arange(len(groups))
    width = 0.4 if prod else 0.8
    for ax, name in zip(axes, names, strict=False):
        values = [cand["groups"][g].get(name) for g in groups]
        ax.bar(x - (width / 2 if prod else 0), [v or 0 for v in values], width, color=CANDIDATE_COLOR,
               label="candidate")  # fmt: skip
        if prod:
            other = [(prod["groups"].get(g) or {}).get(name) for g in groups]
            ax.bar(x + width / 2, [v or 0 for v in other], width, color=PRODUCTION_COLOR, label="production")
        ax.set_xticks(x, groups, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{name} by {feature}", fontsize=9)
        ax.tick_params(labelsize=8)
    axes[0].legend(fontsize=7)
    return _img(fig, f"fairness: group metrics by {feature}")


def plot_partial_dependence(curves: list[explain.DependenceCurve], ylabel: str) -> str:
    """One panel per feature: the average model output as the feature sweeps its grid."""
    fig, axes = _figure(3.2 * len(curves), 3, len(curves))
    for ax, curve in zip(axes, curves, strict=True):
        if curve.categorical:
            ax.bar(range(len(curve.grid)), curve.average, color=CANDIDATE_COLOR)
            ax.set_xticks(range(len(curve.grid)), curve.grid, rotation=30, ha="right", fontsize=7)
        else:
            ax.plot(curve.grid, curve.average, color=CANDIDATE_COLOR, marker="o", markersize=3)
        ax.set_title(curve.feature, fontsize=9)
        ax.tick_params(labelsize=7)
    axes[0].set_ylabel(ylabel, fontsize=8)
    return _img(fig, "partial dependence")


# ---------------------------------------------------------------- sections
def gate_section(blessing: Blessing) -> str:
    """The gate's verdict and rule table as HTML (the gate writes it into the card)."""
    css = "blessed" if blessing.blessed else "not-blessed"
    rows = [
        [r.rule, r.kind, r.candidate, r.production, r.threshold, (r.verdict.upper(), r.verdict), r.detail]
        for r in blessing.rules
    ]
    forced = ""
    if blessing.forced:
        forced = (
            f"<p><b>force_promote</b> by {_e(blessing.actor or 'unknown')}: {_e(blessing.force_reason)} "
            f"({'published anyway' if blessing.publish else 'refused: behavioural checks failed'})</p>"
        )
    return (
        f'<div class="verdict {css}">{_e(blessing.verdict_line())}</div>{forced}'
        + _table(
            ["rule", "kind", "candidate", "production", "threshold", "verdict", "detail"],
            rows,
            numeric_from=2,
        )
        + f'<p class="muted">Decided {_e(blessing.decided_at)}; baseline pointer ETag '
        f"{_e(blessing.baseline_pointer_etag or 'none')}.</p>"
    )


def stamp_verdict(html: str, blessing: Blessing) -> str | None:
    """The card with the gate's verdict between :data:`GATE_START` and :data:`GATE_END`
    (replacing what was there), or None if the card has no verdict section."""
    start, end = html.find(GATE_START), html.find(GATE_END)
    if start < 0 or end < start:
        return None
    return html[: start + len(GATE_START)] + gate_section(blessing) + html[end:]


def _metrics_table(cfg: DatasetConfig, scored: CandidateMetrics) -> str:
    cand = scored.candidate.metrics
    prod = scored.production.metrics if scored.production else {}
    limits = cfg.gate.thresholds
    rows = []
    for name, value in cand.items():
        other = prod.get(name)
        delta = None if value is None or other is None else value - other
        limit = [f">= {limits[f'min_{name}']:g}"] if f"min_{name}" in limits else []
        limit += [f"<= {limits[f'max_{name}']:g}"] if f"max_{name}" in limits else []
        primary = " (primary)" if name == cfg.gate.primary_metric else ""
        rows.append([name + primary, value, other, delta, ", ".join(limit) or "-"])
    return _table(["metric", "candidate", "production", "delta", "floor / ceiling"], rows)


def _slice_table(cfg: DatasetConfig, scored: CandidateMetrics) -> str:
    metric = cfg.gate.primary_metric
    cand = scored.candidate.slices
    prod = scored.production.slices if scored.production else {}
    rows = []
    extra_names = ["recall", "precision"] if cfg.is_classifier else ["mae", "r2"]
    if "f1_macro" in scored.candidate.metrics:  # a multiclass model: no positive class
        extra_names = ["recall_macro", "precision_macro"]
    for col, values in cand.items():
        for value, s in values.items():
            c = s["metrics"].get(metric)
            p = ((prod.get(col) or {}).get(value) or {}).get("metrics", {}).get(metric)
            extra = [s["metrics"].get(k) for k in extra_names]
            rows.append([col, value, s["n"], c, p, None if c is None or p is None else c - p, *extra])
    header = ["column", "value", "rows", f"{metric} candidate", f"{metric} production", "delta", *extra_names]
    return _table(header, rows, numeric_from=2) if rows else "<p>No slice columns configured.</p>"


def _window_section(record: TrainingRecord) -> str:
    split, window = record.split, record.window
    facts = [
        ["window", f"{window.start} .. {window.end} ({window.window_days} days)"],
        [
            "train",
            f"{split.train_start} .. {split.train_end} ({len(split.train_days)} days, {split.train_rows} rows)",
        ],
        [
            "holdout",
            f"{split.holdout_start} .. {split.holdout_end} ({len(split.holdout_days)} days, "
            f"{split.holdout_rows} rows)",
        ],
        ["data hash (sha256)", record.data_hash],
        ["excluded days", "; ".join(f"{d}: {r}" for d, r in sorted(record.excluded_days.items())) or "-"],
    ]
    if split.train_positive_rate is not None and split.holdout_positive_rate is not None:
        rates = f"{split.train_positive_rate:.4f} / {split.holdout_positive_rate:.4f}"
        facts.append(["positive rate train / holdout", rates])
    lineage = [
        [
            d.day,
            d.split,
            d.joined_rows,
            _short(d.batch_version_id),
            d.batch_sha256[:12],
            _short(d.labels_version_id),
            d.labels_sha256[:12],
        ]
        for d in record.lineage
    ]
    batches = record.lineage[0].batch_uri.rsplit("/dt=", 1)[0] if record.lineage else "-"
    return (
        _table(["", ""], facts, numeric_from=9)
        + "<details><summary>Lineage: every batch and label object (S3 VersionId, SHA-256)</summary>"
        + f"<p class='muted'>Batches under {_e(batches)}/</p>"
        + _table(
            ["day", "split", "rows", "batch version", "batch sha256", "labels version", "labels sha256"],
            lineage,
            numeric_from=2,
        )
        + "</details>"
    )


def _short(text: str | None) -> str:
    return "-" if not text else (text if len(text) <= 16 else text[:16] + "...")


def _config_section(cfg: DatasetConfig, record: TrainingRecord) -> str:
    plan, cv = record.model_plan, record.cv or {}
    facts = [
        ["estimator", plan.estimator + (f" ({plan.ensemble['kind']} ensemble)" if plan.ensemble else "")],
        ["params (config)", json.dumps(plan.params or {}, sort_keys=True)],
        ["best params (search)", json.dumps(record.best_params or {}, sort_keys=True)],
        ["search", json.dumps(plan.search, sort_keys=True) if plan.search else "none"],
        ["cv best score", f"{_fmt(cv.get('best_score'))} ({cv.get('scoring', '-')})" if cv else "-"],
        ["seed", plan.seed],
        ["fit time", f"{record.fit_seconds:.1f} s"],
        ["model sha256", record.model_sha256],
        ["feature signature sha256", record.feature_signature.sha256],
        ["libraries", ", ".join(f"{k} {v}" for k, v in record.libraries.items())],
        ["notes", "; ".join(plan.notes) or "-"],
    ]
    cv_rows = [
        [json.dumps(c["params"], sort_keys=True), c["rank"], c["mean"], c["std"]]
        for c in cv.get("candidates", [])
    ]
    cv_table = _table(["candidate params", "rank", "mean cv score", "std"], cv_rows) if cv_rows else ""
    return (
        _table(["", ""], facts, numeric_from=9)
        + cv_table
        + f"<details><summary>Dataset config {_e(config_label(cfg.name))} (as used)</summary><pre>"
        + _e(yaml.safe_dump(record.config or cfg.to_dict(), sort_keys=False))
        + "</pre></details>"
    )


def _fairness_section(cfg: DatasetConfig, scored: CandidateMetrics) -> list[str]:
    """Per sensitive feature: the disparities against their limits, the per-group table and its plot."""
    spec = cfg.fairness
    if spec is None:
        return []
    parts = [
        f"<h2>Fairness ({_e(', '.join(spec.sensitive_features))})</h2>",
        "<p class='muted'>fairlearn MetricFrame on the holdout's predicted classes, candidate and production "
        f"on the same rows. Groups with fewer than {spec.min_group_rows} rows are shown but not compared; "
        f"a disparity may not be worse than production's by more than {_e(spec.max_regression)}.</p>",
    ]
    prod_all = scored.production.fairness if scored.production else None
    for feature, cand in scored.candidate.fairness.items():
        prod = (prod_all or {}).get(feature)
        rows = []
        for name, value in cand["disparities"].items():
            other = ((prod or {}).get("disparities") or {}).get(name)
            limit = spec.limits.get(name)
            rows.append([name, value, other, "-" if limit is None else limit_text(name, limit)])
        parts.append(_table(["disparity", "candidate", "production", "limit"], rows))
        names = [k for k in next(iter(cand["groups"].values()), {}) if k != "n"]
        group_rows = []
        for group, values in cand["groups"].items():
            other = ((prod or {}).get("groups") or {}).get(group) or {}
            gated = "no (too few rows)" if group in cand["excluded"] else "yes"
            group_rows.append(
                [group, values["n"], gated, *[x for n in names for x in (values.get(n), other.get(n))]]
            )
        header = [
            feature,
            "rows",
            "compared",
            *[f"{n} {w}" for n in names for w in ("candidate", "production")],
        ]
        parts += [_table(header, group_rows, numeric_from=1), plot_group_metrics(feature, cand, prod)]
    return parts


def _explanation_sections(
    cfg: DatasetConfig, record: TrainingRecord, model: Any, holdout: Any, positive: Any
) -> list[str]:
    """Partial dependence of the top features and sampled Shapley contributions of the canned rows."""
    parts = ["<h2>Partial dependence (top features)</h2>"]
    if cfg.is_classifier and model is not None and mlops_metrics.is_multiclass(model.classes_):
        note = (
            f"<p>Not computed for a multiclass model ({len(model.classes_)} classes): the explanations "
            "describe one probability (the positive class's or the regression value).</p>"
        )
        return [*parts, note, "<h2>Feature contributions (canned rows)</h2>", note]
    if model is None or holdout is None or not record.importances:
        note = "<p>Not computed: needs the model, the holdout and recorded importances.</p>"
        return [*parts, note, "<h2>Feature contributions (canned rows)</h2>", note]
    ylabel = explain.output_label(cfg, positive)
    features = explain.top_features(record.importances, cfg)
    curves = explain.partial_dependence_curves(model, cfg, holdout, features)
    parts += [
        f"<p class='muted'>Average {_e(ylabel)} over {min(len(holdout), explain.PD_ROWS)} holdout rows as "
        "each feature sweeps its range (sklearn.inspection.partial_dependence), for the features with the "
        "largest permutation importance.</p>",
        plot_partial_dependence(curves, ylabel) if curves else "<p>No feature varies on the holdout.</p>",
        "<h2>Feature contributions (canned rows)</h2>",
    ]
    if not record.canned_rows:
        return [*parts, "<p>No canned rows recorded.</p>"]
    rows = explain.local_contributions(model, cfg, canned_frame(cfg, record.canned_rows), holdout)
    table = [
        [i + 1, r.output, r.expected,
         "; ".join(f"{name}={_fmt(r.row[name], 2)}: {value:+.4f}" for name, value in r.top())]
        for i, r in enumerate(rows)
    ]  # fmt: skip
    parts += [
        f"<p class='muted'>Shapley values estimated by permutation sampling ({explain.PERMUTATIONS} feature "
        f"orders x {explain.BACKGROUND_ROWS} holdout background rows; see mlops.evaluation.explain). Each row's "
        f"contributions add up to its {_e(ylabel)} minus the background mean; the five largest are shown.</p>",
        _table(["canned row", ylabel, "background mean", "top contributions"], table),
    ]
    return parts


def _header(cfg: DatasetConfig, record: TrainingRecord, scored: CandidateMetrics) -> list[str]:
    """Title, description, what was compared and the (pending) gate verdict."""
    if scored.production:
        baseline_text = f"production {scored.baseline_version}"
    else:
        baseline_text = f"no production comparison ({scored.baseline_error or 'no production model yet'})"
    return [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Model card: {_e(cfg.name)} {_e(record.estimator)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Model card: {_e(cfg.name)}</h1>",
        f"<p>{_e(cfg.description)}</p>",
        f"<p class='muted'>Candidate {_e(scored.candidate_uri)}<br>Task {_e(cfg.task)}, target "
        f"<code>{_e(cfg.target)}</code>, estimator <b>{_e(record.estimator)}</b>; compared with "
        f"{_e(baseline_text)} on the same holdout ({scored.candidate.n_rows} rows). "
        f"Evaluated {_e(scored.evaluated_at)}.</p>",
        "<h2>Gate verdict</h2>",
        f'{GATE_START}<div class="verdict pending">The gate has not run yet.</div>{GATE_END}',
    ]


def render_model_card(
    cfg: DatasetConfig,
    *,
    record: TrainingRecord,
    scored: CandidateMetrics,
    y_true,
    candidate: tuple[Any, Any],
    production: tuple[Any, Any] | None = None,
    model: Any = None,
    holdout: Any = None,
) -> str:
    """Render the card. ``candidate``/``production`` are ``(prediction, probability)`` on the holdout.

    ``model`` (the candidate) and ``holdout`` (its frame) feed the explanations; without them
    those sections say they were not computed.
    """
    cand_pred, cand_proba = candidate
    prod_pred, prod_proba = production if production is not None else (None, None)
    parts = _header(cfg, record, scored)
    parts += ["<h2>Metrics vs production</h2>", _metrics_table(cfg, scored), plot_metrics(scored)]
    positive = None
    multiclass = cfg.is_classifier and np.ndim(cand_proba) == 2
    if multiclass:
        classes = (
            list(model.classes_) if model is not None else sorted(mlops_metrics.labels_of(y_true, cand_pred))
        )
        parts += [
            "<h2>One-vs-rest ROC curves</h2>",
            plot_ovr_curves(y_true, cand_proba, classes),
            "<h2>Confusion matrix (per class)</h2>",
            plot_confusion(scored, multiclass=True),
            per_class_table(y_true, cand_pred, classes),
        ]
    elif cfg.is_classifier:
        positive = mlops_metrics.resolve_positive_class(cfg, mlops_metrics.labels_of(y_true, cand_pred))
        parts += [
            "<h2>ROC and precision-recall curves</h2>",
            plot_classification_curves(y_true, cand_proba, prod_proba, positive_class=positive),
            "<h2>Confusion matrix</h2>",
            plot_confusion(scored),
        ]
    else:
        parts += ["<h2>Residuals</h2>", plot_residuals(y_true, cand_pred, prod_pred)]
    parts += ["<h2>Permutation feature importance</h2>"]
    parts += [
        plot_importances(
            record.importances, ("roc_auc_ovr" if multiclass else "roc_auc") if cfg.is_classifier else "-rmse"
        )
        if record.importances
        else "<p>No importances recorded.</p>"
    ]
    parts += _explanation_sections(cfg, record, model, holdout, positive)
    parts += [
        f"<h2>Slices ({_e(', '.join(cfg.training.slice_columns) or 'none')})</h2>",
        f"<p class='muted'>Gated on {_e(cfg.gate.primary_metric)} for slices with at least "
        f"{cfg.gate.min_slice_rows} rows (margin {_e(cfg.gate.max_slice_regression)}).</p>",
        _slice_table(cfg, scored),
    ]
    parts += _fairness_section(cfg, scored)
    parts += [
        "<h2>Data window</h2>",
        _window_section(record),
        "<h2>Training config</h2>",
        _config_section(cfg, record),
        "</body></html>",
    ]
    return "\n".join(parts)


def browser_url(uri: str, endpoint_url: str | None = None) -> str:
    """An http(s) URL for an ``s3://`` object: path-style on a custom endpoint, the S3 console on AWS."""
    if not uri.startswith("s3://"):
        return uri
    bucket, _, key = uri[5:].partition("/")
    if endpoint_url and "amazonaws.com" not in endpoint_url:
        return f"{endpoint_url.rstrip('/')}/{bucket}/{quote(key)}"
    return f"https://s3.console.aws.amazon.com/s3/object/{bucket}?prefix={quote(key)}"

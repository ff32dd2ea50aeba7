"""Alert rules: turn tonight's drift and performance (and the nights before) into fired or quiet rules.

Rule kinds (``monitoring.alert_rules`` in the dataset config):

- ``psi_top_features``: PSI (noise-corrected) above ``threshold`` on one of the ``top_k``
  features by importance (on any feature when the profile has no importances);
- ``dataset_drift``: the drifted-feature share at or above ``threshold`` (default ``drift_share``);
- ``consecutive_drift``: dataset drift on ``nights`` nights in a row, tonight included;
- ``prediction_drift``: the model's scores drifted with PSI at or above ``threshold``;
- ``metric_drop``: ``metric`` worse than the holdout by more than ``max_drop`` (realised,
  estimated or either, per ``source``);
- ``fairness_disparity``: the realised disparity ``metric`` (e.g. ``equalized_odds_difference``)
  of a sensitive feature beyond ``threshold``: above it for a difference or a group maximum,
  below it for a ratio or a group minimum (``PerformanceReport.fairness``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import TYPE_CHECKING

from mlops.artifacts import DriftReport
from mlops.artifacts.nightly import HistoryRecord, NightVerdict, PerformanceReport, RuleOutcome
from mlops.fairness_metrics import disparity_is_floor
from mlops.monitoring.performance import metric_change

if TYPE_CHECKING:
    from mlops.config import AlertRule, MonitoringSpec


def consecutive_drift_nights(day: str, tonight: bool, history: Sequence[HistoryRecord]) -> int:
    """Nights in a row, ending ``day``, with dataset drift (a missing night breaks the run)."""
    if not tonight:
        return 0
    by_day = {h.day: h.dataset_drift for h in history}
    count, current = 1, date.fromisoformat(str(day))
    while by_day.get((current - timedelta(days=1)).isoformat()):
        count += 1
        current -= timedelta(days=1)
    return count


def _quiet(rule: AlertRule, detail: str, threshold: float | None = None) -> RuleOutcome:
    return RuleOutcome(rule.name, rule.kind, False, rule.retrain, detail, None, threshold)


def _rule_psi_top(rule: AlertRule, drift: DriftReport | None, spec: MonitoringSpec) -> RuleOutcome:
    if drift is None:
        return _quiet(rule, "no drift report")
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
    if worst is None:
        return _quiet(rule, "no features", limit)
    detail = (
        f"max psi on {scope} = {worst.psi_adjusted:.3f} ({worst.feature}) {'>' if hits else '<='} {limit:g}"
    )
    return RuleOutcome(
        rule.name,
        rule.kind,
        bool(hits),
        rule.retrain,
        detail,
        worst.psi_adjusted,
        limit,
        [f.feature for f in hits],
    )


def _rule_dataset_drift(rule: AlertRule, drift: DriftReport | None) -> RuleOutcome:
    if drift is None:
        return _quiet(rule, "no drift report")
    limit = rule.threshold if rule.threshold is not None else drift.drift_share_limit
    fired = drift.drift_share >= limit
    drifted = drift.drifted_features
    detail = (
        f"drifted share {drift.drift_share:.2f} {'>=' if fired else '<'} {limit:g} "
        f"({len(drifted)}/{len(drift.features)}: {drifted})"
    )
    return RuleOutcome(rule.name, rule.kind, fired, rule.retrain, detail, drift.drift_share, limit, drifted)


def _rule_consecutive(
    rule: AlertRule, day: str, drift: DriftReport | None, history: Sequence[HistoryRecord]
) -> RuleOutcome:
    nights = int(rule.nights or 3)
    run = consecutive_drift_nights(day, bool(drift and drift.dataset_drift), history)
    fired = run >= nights
    detail = f"{run} consecutive drift nights {'>=' if fired else '<'} {nights}"
    return RuleOutcome(rule.name, rule.kind, fired, rule.retrain, detail, float(run), float(nights))


def _rule_prediction(rule: AlertRule, drift: DriftReport | None) -> RuleOutcome:
    pred = drift.prediction if drift else None
    if pred is None:
        return _quiet(rule, "no prediction drift computed")
    limit = rule.threshold if rule.threshold is not None else pred.thresholds.psi_alert
    fired = pred.drift_detected and pred.psi_adjusted >= limit
    detail = (
        f"prediction {pred.method} {'DRIFT' if pred.test_drift else 'no drift'}, "
        f"psi {pred.psi_adjusted:.3f} {'>=' if pred.psi_adjusted >= limit else '<'} {limit:g}"
    )
    return RuleOutcome(rule.name, rule.kind, fired, rule.retrain, detail, pred.psi_adjusted, limit)


def _rule_metric_drop(rule: AlertRule, perf: PerformanceReport | None) -> RuleOutcome:
    metric, max_drop = str(rule.metric), float(rule.max_drop or 0.0)
    if perf is None:
        return _quiet(rule, "no performance report", max_drop)
    sources = {"realised": ["realised"], "estimated": ["estimated"], "any": ["realised", "estimated"]}[
        rule.source
    ]
    for source in sources:
        base, cur, drop = metric_change(perf, metric, source)
        if drop is None:
            continue
        fired = drop > max_drop
        detail = (
            f"{metric} {source} {cur:.4f} vs holdout {base:.4f}: drop {drop:+.4f} {'>' if fired else '<='} "
            f"max {max_drop:g}"
        )
        return RuleOutcome(rule.name, rule.kind, fired, rule.retrain, detail, drop, max_drop)
    why = (
        "no holdout metric in the model card"
        if metric not in perf.baseline
        else f"no {'/'.join(sources)} data"
    )
    return _quiet(rule, f"{metric}: {why}", max_drop)


def _rule_fairness(rule: AlertRule, perf: PerformanceReport | None) -> RuleOutcome:
    metric, limit = str(rule.metric), float(rule.threshold or 0.0)
    if perf is None:
        return _quiet(rule, "no performance report", limit)
    values = {f: r["disparities"].get(metric) for f, r in perf.fairness.items()}
    values = {f: float(v) for f, v in values.items() if v is not None}
    if not values:
        why = "no realised per-group metrics (no labelled days, no sensitive columns, or too few rows per group)"
        return _quiet(rule, f"{metric}: {why}", limit)
    floor = disparity_is_floor(metric)
    breached = sorted(f for f, v in values.items() if (v < limit if floor else v > limit))
    worst = (min if floor else max)(values, key=lambda f: values[f])
    op = ("<" if breached else ">=") if floor else (">" if breached else "<=")
    detail = (
        f"{metric}[{worst}] realised {values[worst]:.4f} {op} {limit:g} "
        f"({perf.realised.get('n', 0)} labelled rows, {perf.realised.get('days', 0)} days)"
    )
    return RuleOutcome(
        rule.name, rule.kind, bool(breached), rule.retrain, detail, values[worst], limit, breached
    )


def evaluate_rules(
    rules: Sequence[AlertRule],
    *,
    day: str,
    drift: DriftReport | None,
    performance: PerformanceReport | None = None,
    history: Sequence[HistoryRecord] = (),
    spec: MonitoringSpec | None = None,
) -> list[RuleOutcome]:
    """Evaluate the configured alert rules on tonight's drift and performance (and the history before it)."""
    from mlops.config import MonitoringSpec

    spec = spec or MonitoringSpec()
    out: list[RuleOutcome] = []
    for rule in rules:
        if rule.kind == "psi_top_features":
            out.append(_rule_psi_top(rule, drift, spec))
        elif rule.kind == "dataset_drift":
            out.append(_rule_dataset_drift(rule, drift))
        elif rule.kind == "consecutive_drift":
            out.append(_rule_consecutive(rule, day, drift, history))
        elif rule.kind == "prediction_drift":
            out.append(_rule_prediction(rule, drift))
        elif rule.kind == "metric_drop":
            out.append(_rule_metric_drop(rule, performance))
        elif rule.kind == "fairness_disparity":
            out.append(_rule_fairness(rule, performance))
    return out


def night_verdict(drift: DriftReport | None, rules: Sequence[RuleOutcome]) -> str:
    """ALERT if a rule fired or the drift verdict is ALERT; WARN if the drift verdict is WARN; else OK."""
    drift_verdict = drift.verdict if drift else "OK"
    if any(r.fired for r in rules) or drift_verdict == "ALERT":
        return "ALERT"
    return "WARN" if drift_verdict == "WARN" else "OK"


def alert_block(night: NightVerdict) -> str:
    """The block printed in the task log when a rule fires."""
    bar = "!" * 72
    lines = [
        bar,
        f"MONITORING ALERT  dataset={night.dataset}  night={night.day}  model={night.model_version}",
        f"verdict={night.verdict}  retrain={'REQUESTED' if night.retrain else 'no'}",
    ]
    lines += [f"  FIRED {r.name} ({r.kind}): {r.detail}" for r in night.rules if r.fired]
    lines.append(f"  report: {night.report_uri}")
    lines.append(bar)
    return "\n".join(lines)

"""The champion/challenger gate: four rules plus the behavioural checks -> a :class:`~mlops.artifacts.Blessing`.

The candidate is blessed only if

1. every absolute floor/ceiling (``gate.min_<metric>`` / ``gate.max_<metric>``) holds;
2. the primary metric is not worse than production's by more than
   ``gate.max_primary_regression``;
3. no slice (``training.slice_columns``) regresses by more than ``gate.max_slice_regression``;
4. every ``fairness.limits`` disparity holds per sensitive feature, and none is worse than
   production's by more than ``fairness.max_regression`` (:mod:`~mlops.evaluation.fairness`);

and the behavioural checks (:mod:`~mlops.evaluation.behaviour`) pass. With no production
model yet, the comparisons with production are skipped and the absolute limits decide. :func:`gate_candidate` writes
the decision as ``blessing.json`` and stamps it into the model card.
"""

from __future__ import annotations

import logging
from typing import Any

from mlops import artifacts, storage
from mlops._util import fmt_value as _fmt
from mlops.artifacts import Blessing, CandidateMetrics, GateRule, ModelEvaluation, TrainingRecord
from mlops.artifacts.training import FAIL, PASS, SKIP
from mlops.config import DatasetConfig
from mlops.evaluation.behaviour import behavioural_checks
from mlops.evaluation.fairness import fairness_rules, fairness_thresholds
from mlops.evaluation.model_card import stamp_verdict
from mlops.metric_names import LOWER_IS_BETTER
from mlops.models import compute_threads

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- rules
def floor_rules(cfg: DatasetConfig, candidate: dict[str, float | None]) -> list[GateRule]:
    """Rule 1: every ``min_<metric>`` / ``max_<metric>`` in ``gate``."""
    rules = []
    for key, limit in sorted(cfg.gate.thresholds.items()):
        kind, _, metric = key.partition("_")
        value = candidate.get(metric)
        if value is None:
            verdict, detail = FAIL, f"{metric} could not be computed on the holdout"
        elif kind == "min":
            verdict, detail = (PASS if value >= limit else FAIL), ""
        else:
            verdict, detail = (PASS if value <= limit else FAIL), ""
        op = ">=" if kind == "min" else "<="
        rules.append(GateRule(key, "floor", metric, value, None, f"{op} {limit:g}", verdict, detail))
    return rules


def _compare(metric: str, cand: float, prod: float, margin: float) -> tuple[str, str]:
    if metric not in LOWER_IS_BETTER:
        bound = prod - margin
        return (PASS if cand >= bound else FAIL), f">= prod - {margin:g} = {bound:.4f}"
    bound = prod + margin
    return (PASS if cand <= bound else FAIL), f"<= prod + {margin:g} = {bound:.4f}"


def production_rule(
    cfg: DatasetConfig,
    candidate: dict[str, float | None],
    production: dict[str, float | None] | None,
    *,
    baseline_error: str | None = None,
) -> GateRule:
    """Rule 2: the primary metric is not worse than production's by more than the margin."""
    metric, margin = cfg.gate.primary_metric, cfg.gate.max_primary_regression
    name, threshold = f"{metric}_vs_production", f"margin {margin:g}"
    cand = candidate.get(metric)
    if production is None:
        detail = baseline_error or "no production model yet: floors decide"
        return GateRule(name, "production", metric, cand, None, threshold, SKIP, detail)
    prod = production.get(metric)
    if cand is None or prod is None:
        which = "candidate" if cand is None else "production"
        detail = f"{metric} could not be computed for {which}"
        return GateRule(name, "production", metric, cand, prod, threshold, FAIL, detail)
    verdict, threshold = _compare(metric, cand, prod, margin)
    return GateRule(name, "production", metric, cand, prod, threshold, verdict, f"delta {cand - prod:+.4f}")


def slice_rules(
    cfg: DatasetConfig,
    candidate_slices: dict[str, dict[str, dict[str, Any]]],
    production_slices: dict[str, dict[str, dict[str, Any]]] | None,
) -> list[GateRule]:
    """Rule 3: no slice's primary metric regresses by more than ``gate.max_slice_regression``."""
    metric, margin = cfg.gate.primary_metric, cfg.gate.max_slice_regression
    if not cfg.training.slice_columns:
        return [
            GateRule("slices", "slice", metric, None, None, "-", SKIP, "no training.slice_columns configured")
        ]
    if margin is None:
        return [
            GateRule("slices", "slice", metric, None, None, "-", SKIP, "gate.max_slice_regression not set")
        ]
    threshold = f"margin {margin:g}"
    if production_slices is None:
        detail = "no production model yet: floors decide"
        return [GateRule("slices", "slice", metric, None, None, threshold, SKIP, detail)]
    rules = []
    for col, values in candidate_slices.items():
        for value, cand_slice in values.items():
            prod_slice = (production_slices.get(col) or {}).get(value) or {}
            cand, prod = cand_slice["metrics"].get(metric), prod_slice.get("metrics", {}).get(metric)
            n = cand_slice["n"]
            verdict, rule_threshold = SKIP, threshold
            if n < cfg.gate.min_slice_rows:
                detail = f"{n} rows < gate.min_slice_rows {cfg.gate.min_slice_rows}"
            elif cand is None or prod is None:
                detail = f"{metric} undefined on this slice ({n} rows)"
            else:
                verdict, rule_threshold = _compare(metric, cand, prod, margin)
                detail = f"{n} rows, delta {cand - prod:+.4f}"
            rules.append(
                GateRule(f"slice {col}={value}", "slice", metric, cand, prod, rule_threshold, verdict, detail)
            )
    return rules


def rules_table(rules: list[GateRule]) -> str:
    """A fixed-width table: rule | candidate | production | threshold | verdict."""
    header = ("rule", "candidate", "production", "threshold", "verdict")
    rows = [(r.rule, _fmt(r.candidate), _fmt(r.production), r.threshold, r.verdict.upper()) for r in rules]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]

    def line(cells) -> str:
        return " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True))

    sep = "-+-".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


# ---------------------------------------------------------------- the decision
def thresholds_of(cfg: DatasetConfig) -> dict[str, Any]:
    """Every gate setting the decision used (recorded in the blessing)."""
    return {
        "primary_metric": cfg.gate.primary_metric,
        "max_primary_regression": cfg.gate.max_primary_regression,
        "max_slice_regression": cfg.gate.max_slice_regression,
        "min_slice_rows": cfg.gate.min_slice_rows,
        **cfg.gate.thresholds,
        **fairness_thresholds(cfg),
    }


def decide(
    cfg: DatasetConfig,
    *,
    candidate: ModelEvaluation,
    production: ModelEvaluation | None,
    behaviour: list[GateRule],
    candidate_uri: str,
    model_sha256: str,
    baseline_version: str | None,
    baseline_pointer_etag: str | None,
    data_hash: str,
    baseline_error: str | None = None,
    force: bool = False,
    force_reason: str = "",
    actor: str | None = None,
    evaluation_id: str | None = None,
) -> Blessing:
    """Apply the four rules and the behavioural checks (``production`` None: no production model)."""
    prod_metrics = production.metrics if production is not None else None
    rules = floor_rules(cfg, candidate.metrics)
    rules.append(production_rule(cfg, candidate.metrics, prod_metrics, baseline_error=baseline_error))
    rules.extend(slice_rules(cfg, candidate.slices, production.slices if production is not None else None))
    rules.extend(fairness_rules(cfg, candidate, production, baseline_error=baseline_error))
    rules.extend(behaviour)
    blessed = all(r.verdict != FAIL for r in rules)
    forced = bool(force and not blessed)
    return Blessing.new(
        blessed=blessed,
        dataset=cfg.name,
        candidate_uri=candidate_uri,
        model_sha256=model_sha256,
        data_hash=data_hash,
        baseline_version=baseline_version,
        baseline_pointer_etag=baseline_pointer_etag,
        primary_metric=cfg.gate.primary_metric,
        candidate_metrics=candidate.metrics,
        production_metrics=prod_metrics,
        thresholds=thresholds_of(cfg),
        rules=rules,
        forced=forced,
        force_reason=force_reason if forced else "",
        actor=actor,
        evaluation_id=evaluation_id,
    )


def _prefix(candidate_prefix: str) -> str:
    return candidate_prefix if candidate_prefix.endswith("/") else candidate_prefix + "/"


def gate_candidate(
    client,
    cfg: DatasetConfig,
    candidate_prefix: str,
    *,
    force: bool = False,
    reason: str = "",
    actor: str | None = None,
    evaluation_id: str | None = None,
) -> Blessing:
    """Decide on the evaluated candidate and write ``blessing.json`` (and the verdict into the model card).

    ``force`` (audited with ``reason`` and ``actor``) lets an unblessed candidate be
    published if its behavioural checks pass; ``blessed`` stays false in the record.
    """
    prefix = _prefix(candidate_prefix)
    record = artifacts.read_artifact(client, artifacts.training_uri(prefix), TrainingRecord)
    scored = artifacts.read_artifact(client, artifacts.metrics_uri(prefix), CandidateMetrics)
    model_bytes = storage.get_bytes(client, artifacts.model_uri(prefix))
    with compute_threads():
        behaviour = behavioural_checks(
            cfg, model_bytes, expected_sha256=record.model_sha256, rows=record.canned_rows
        )
    blessing = decide(
        cfg,
        candidate=scored.candidate,
        production=scored.production,
        behaviour=behaviour,
        candidate_uri=prefix,
        model_sha256=record.model_sha256,
        baseline_version=scored.baseline_version,
        baseline_pointer_etag=scored.baseline_pointer_etag,
        data_hash=record.data_hash,
        baseline_error=scored.baseline_error,
        force=force,
        force_reason=reason,
        actor=actor,
        evaluation_id=evaluation_id or prefix,
    )
    for rule in blessing.rules:
        detail = f" ({rule.detail})" if rule.detail else ""
        log.info(
            "check %s: %s %s -> %s%s", rule.rule, _fmt(rule.candidate), rule.threshold, rule.verdict, detail
        )
    uri = artifacts.blessing_uri(prefix)
    artifacts.write_artifact(client, uri, blessing)
    log.info("wrote %s", uri)
    _stamp_model_card(client, prefix, blessing)
    return blessing


def _stamp_model_card(client, prefix: str, blessing: Blessing) -> None:
    """Put the verdict table into the model card (skipped with a warning when the card is absent)."""
    uri = artifacts.model_card_uri(prefix)
    if not storage.exists(client, uri):
        log.warning("no model card at %s; verdict not added", uri)
        return
    html = stamp_verdict(storage.get_bytes(client, uri).decode(), blessing)
    if html is None:
        log.warning("model card %s has no verdict section; verdict not added", uri)
        return
    storage.put_bytes(client, uri, html.encode(), content_type="text/html")

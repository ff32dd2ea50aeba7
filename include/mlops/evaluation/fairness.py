"""The fairness gate: every ``fairness.limits`` entry, per sensitive feature, is a gate rule.

The numbers are :func:`mlops.fairness_metrics.group_fairness` (fairlearn's ``MetricFrame`` and its
measures), computed at evaluation for the candidate and for production on the same holdout
and recorded in ``metrics.json`` (:attr:`~mlops.artifacts.ModelEvaluation.fairness`). Two
rules of kind ``fairness`` per limit and sensitive feature:

- ``fairness <disparity>[<feature>]``: the candidate's disparity within the limit
  (``<=`` a ceiling for ``*_difference``/``*_group_max``, ``>=`` a floor for
  ``*_ratio``/``*_group_min``);
- ``fairness <disparity>[<feature>] vs production``: the candidate's disparity is not worse
  than production's by more than ``fairness.max_regression`` (skipped without production).

A disparity that cannot be computed (fewer than two groups with ``fairness.min_group_rows``
rows, or undefined, e.g. no positive predicted anywhere) is skipped with the reason; a
configured sensitive feature missing from ``metrics.json`` fails (evaluate again).
"""

from __future__ import annotations

from typing import Any

from mlops._util import fmt_value as _fmt
from mlops.artifacts import GateRule, ModelEvaluation
from mlops.artifacts.training import FAIL, PASS, SKIP
from mlops.config import DatasetConfig
from mlops.fairness_metrics import disparity_is_floor


def rule_name(disparity: str, feature: str) -> str:
    """``fairness equalized_odds_difference[region]``: the rule of one limit on one sensitive feature."""
    return f"fairness {disparity}[{feature}]"


def limit_text(disparity: str, limit: float) -> str:
    """``<= 0.1`` for a ceiling, ``>= 0.8`` for a floor."""
    return f"{'>=' if disparity_is_floor(disparity) else '<='} {limit:g}"


def within_limit(disparity: str, value: float, limit: float) -> bool:
    """True if ``value`` respects the limit (a floor for ratios and group minima, else a ceiling)."""
    return value >= limit if disparity_is_floor(disparity) else value <= limit


def _groups_detail(result: dict[str, Any], min_rows: int) -> str:
    kept = len(result.get("groups", {})) - len(result.get("excluded", []))
    detail = f"{kept} groups with >= {min_rows} rows"
    if result.get("excluded"):
        detail += f"; not gated (too few rows): {', '.join(result['excluded'])}"
    return detail


def _limit_rule(
    cfg: DatasetConfig, feature: str, disparity: str, limit: float, cand: dict, prod: dict
) -> GateRule:
    min_rows = cfg.fairness.min_group_rows if cfg.fairness is not None else 0
    name, threshold = rule_name(disparity, feature), limit_text(disparity, limit)
    result = cand.get(feature)
    prod_value = (prod.get(feature) or {}).get("disparities", {}).get(disparity)
    if result is None:
        detail = f"no fairness results for {feature!r} in metrics.json; evaluate the candidate again with this config"
        return GateRule(name, "fairness", disparity, None, prod_value, threshold, FAIL, detail)
    value = result["disparities"].get(disparity)
    detail = _groups_detail(result, min_rows)
    if value is None:
        kept = len(result["groups"]) - len(result["excluded"])
        why = "fewer than 2 groups to compare" if kept < 2 else "undefined on this holdout"
        return GateRule(name, "fairness", disparity, None, prod_value, threshold, SKIP, f"{why} ({detail})")
    verdict = PASS if within_limit(disparity, value, limit) else FAIL
    return GateRule(name, "fairness", disparity, value, prod_value, threshold, verdict, detail)


def _production_rule(
    cfg: DatasetConfig,
    feature: str,
    disparity: str,
    cand: dict,
    prod: dict | None,
    baseline_error: str | None,
) -> GateRule:
    margin = cfg.fairness.max_regression  # type: ignore[union-attr]
    name, threshold = rule_name(disparity, feature) + " vs production", f"margin {margin:g}"
    value = (cand.get(feature) or {}).get("disparities", {}).get(disparity)
    if prod is None:
        detail = baseline_error or "no production model yet: limits decide"
        return GateRule(name, "fairness", disparity, value, None, threshold, SKIP, detail)
    prod_value = (prod.get(feature) or {}).get("disparities", {}).get(disparity)
    if value is None or prod_value is None:
        which = "candidate" if value is None else "production"
        detail = f"{disparity}[{feature}] not available for {which}"
        return GateRule(name, "fairness", disparity, value, prod_value, threshold, SKIP, detail)
    if disparity_is_floor(disparity):
        bound = prod_value - margin
        verdict, threshold = (PASS if value >= bound else FAIL), f">= prod - {margin:g} = {bound:.4f}"
    else:
        bound = prod_value + margin
        verdict, threshold = (PASS if value <= bound else FAIL), f"<= prod + {margin:g} = {bound:.4f}"
    detail = f"delta {value - prod_value:+.4f}"
    return GateRule(name, "fairness", disparity, value, prod_value, threshold, verdict, detail)


def fairness_rules(
    cfg: DatasetConfig,
    candidate: ModelEvaluation,
    production: ModelEvaluation | None,
    *,
    baseline_error: str | None = None,
) -> list[GateRule]:
    """The fairness rules (none without a ``fairness:`` section or limits)."""
    spec = cfg.fairness
    if spec is None or not spec.limits:
        return []
    cand, prod = candidate.fairness, production.fairness if production is not None else None
    rules = []
    for feature in spec.sensitive_features:
        for disparity, limit in spec.limits.items():
            rules.append(_limit_rule(cfg, feature, disparity, limit, cand, prod or {}))
        if spec.max_regression is None:
            continue
        for disparity in spec.limits:
            rules.append(_production_rule(cfg, feature, disparity, cand, prod, baseline_error))
    return rules


def fairness_thresholds(cfg: DatasetConfig) -> dict[str, Any]:
    """The fairness settings a decision used (recorded in ``blessing.thresholds``)."""
    spec = cfg.fairness
    if spec is None:
        return {}
    out: dict[str, Any] = {f"fairness.{k}": v for k, v in spec.limits.items()}
    out["fairness.max_regression"] = spec.max_regression
    out["fairness.min_group_rows"] = spec.min_group_rows
    out["fairness.sensitive_features"] = list(spec.sensitive_features)
    return out


def fairness_lines(
    cfg: DatasetConfig, candidate: ModelEvaluation, production: ModelEvaluation | None
) -> list[str]:
    """One log line per sensitive feature and disparity: candidate, production and the limit if any."""
    spec = cfg.fairness
    if spec is None:
        return []
    lines = []
    for feature, result in candidate.fairness.items():
        prod = (production.fairness.get(feature) or {}) if production is not None else {}
        for disparity, value in result["disparities"].items():
            other = _fmt(prod.get("disparities", {}).get(disparity)) if production is not None else "-"
            limit = spec.limits.get(disparity)
            shown = f" (limit {limit_text(disparity, limit)})" if limit is not None else ""
            lines.append(
                f"fairness {disparity}[{feature}]: candidate {_fmt(value)} production {other}{shown}"
            )
    return lines

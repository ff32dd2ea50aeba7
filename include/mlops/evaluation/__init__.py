"""Evaluation and the champion/challenger gate (a TFX-style blessing).

:func:`evaluate_candidate` (:mod:`~mlops.evaluation.evaluate`) scores the candidate and the
current production model on the *same* holdout and writes ``metrics.json``
(:class:`~mlops.artifacts.CandidateMetrics`) and ``model_card.html``
(:mod:`~mlops.evaluation.model_card`). :func:`gate_candidate` (:mod:`~mlops.evaluation.gate`)
applies the rules, the fairness rules (:mod:`~mlops.evaluation.fairness`) and the behavioural
checks (:mod:`~mlops.evaluation.behaviour`) and writes ``blessing.json``
(:class:`~mlops.artifacts.Blessing`). The model card's explanations (partial dependence,
sampled Shapley contributions) are :mod:`~mlops.evaluation.explain`.

Evaluation reads the candidate's artifacts and the published production model through
:mod:`mlops.models`; it imports no other step.
"""

from mlops.artifacts import Blessing, GateRule, ModelEvaluation
from mlops.artifacts.training import FAIL, PASS, SKIP
from mlops.evaluation.behaviour import UNSEEN_CATEGORY, behavioural_checks, canned_frame
from mlops.evaluation.evaluate import (
    EvaluationResult,
    evaluate_candidate,
    evaluate_predictions,
    production_baseline,
    read_split,
    training_summary,
)
from mlops.evaluation.explain import local_contributions, partial_dependence_curves
from mlops.evaluation.fairness import fairness_rules, fairness_thresholds
from mlops.evaluation.gate import (
    decide,
    floor_rules,
    gate_candidate,
    production_rule,
    rules_table,
    slice_rules,
    thresholds_of,
)
from mlops.evaluation.model_card import GATE_END, GATE_START, browser_url, render_model_card, stamp_verdict

__all__ = [
    "FAIL",
    "GATE_END",
    "GATE_START",
    "PASS",
    "SKIP",
    "UNSEEN_CATEGORY",
    "Blessing",
    "EvaluationResult",
    "GateRule",
    "ModelEvaluation",
    "behavioural_checks",
    "browser_url",
    "canned_frame",
    "decide",
    "evaluate_candidate",
    "evaluate_predictions",
    "fairness_rules",
    "fairness_thresholds",
    "floor_rules",
    "gate_candidate",
    "local_contributions",
    "partial_dependence_curves",
    "production_baseline",
    "production_rule",
    "read_split",
    "render_model_card",
    "rules_table",
    "slice_rules",
    "stamp_verdict",
    "thresholds_of",
    "training_summary",
]

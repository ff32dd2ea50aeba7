"""Every metric and fairness name a dataset config can use, by target kind.

A target is ``regression``, ``binary`` or ``multiclass`` (:func:`target_kind`; ``classification``
while the number of classes is unknown). :mod:`mlops.metrics` computes :data:`BINARY_METRICS`
or :data:`MULTICLASS_METRICS` (decided by the model's classes) or :data:`REGRESSION_METRICS`;
:mod:`mlops.fairness_metrics` computes :data:`FAIRNESS_GROUP_METRICS` per sensitive group.
:mod:`mlops.config` checks the names a config uses (gate, alert rules, ``fairness:``) against
these: at load when the config declares its classes, else at evaluation against the model's.
"""

from __future__ import annotations

#: The metrics of a binary classifier, about its positive class (``mlops.metrics.classification_metrics``).
BINARY_METRICS = ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss")
#: The metrics of a classifier with more than two classes (``mlops.metrics.multiclass_metrics``):
#: macro and weighted precision, recall and F1, one-vs-rest ROC-AUC (macro average), log loss.
MULTICLASS_METRICS = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "roc_auc_ovr",
    "log_loss",
)
#: Every classification metric name; which ones a dataset has depends on its classes (:func:`task_metrics`).
CLASSIFICATION_METRICS = tuple(dict.fromkeys(BINARY_METRICS + MULTICLASS_METRICS))
REGRESSION_METRICS = ("mse", "rmse", "mae", "r2", "explained_variance")
#: Metrics where a lower value is better.
LOWER_IS_BETTER = frozenset({"log_loss", "mse", "rmse", "mae"})


def target_kind(task: str, n_classes: int | None) -> str:
    """``regression``, ``binary``, ``multiclass``, or ``classification`` when the number of classes is unknown."""
    if task != "classification":
        return "regression"
    if n_classes is None:
        return "classification"
    return "multiclass" if n_classes > 2 else "binary"


def task_metrics(kind: str) -> tuple[str, ...]:
    """The metric names of a :func:`target_kind` (every classification metric when the classes are unknown)."""
    by_kind = {"regression": REGRESSION_METRICS, "binary": BINARY_METRICS, "multiclass": MULTICLASS_METRICS}
    return by_kind.get(kind, CLASSIFICATION_METRICS)


#: ``fairness.limits``: fairlearn's named disparity measures (binary classification only: they need
#: a positive class).
FAIRNESS_MEASURES = (
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "equal_opportunity_difference",
    "equal_opportunity_ratio",
)
#: ``fairness.group_metrics`` by :func:`target_kind`: metrics computed per sensitive group with
#: fairlearn's MetricFrame. A multiclass target has no positive class, so no selection rate,
#: positive-class recall or error rates: accuracy and macro averages over the classes instead.
FAIRNESS_GROUP_METRICS = {
    "binary": (
        "selection_rate",
        "recall",
        "precision",
        "accuracy",
        "false_positive_rate",
        "false_negative_rate",
    ),
    "multiclass": ("accuracy", "recall_macro", "precision_macro", "f1_macro"),
    "regression": ("mae", "rmse", "mean_prediction"),
}
#: ``fairness.group_metrics`` when the section does not list them, by :func:`target_kind`.
FAIRNESS_DEFAULT_GROUP_METRICS = {
    "binary": ("selection_rate", "recall"),
    "multiclass": ("accuracy", "recall_macro"),
    "regression": ("mae",),
}
#: How a group metric becomes a disparity: ``<metric>_<aggregate>`` (e.g. ``recall_difference``).
FAIRNESS_AGGREGATES = ("difference", "ratio", "group_min", "group_max")


def split_disparity(name: str) -> tuple[str, str] | None:
    """``("recall", "difference")`` for ``recall_difference``, ``(name, "")`` for a fairlearn measure,
    None if ``name`` is not a disparity."""
    if name in FAIRNESS_MEASURES:
        return name, ""
    known = {m for ms in FAIRNESS_GROUP_METRICS.values() for m in ms}
    for agg in FAIRNESS_AGGREGATES:
        if name.endswith("_" + agg) and name[: -len(agg) - 1] in known:
            return name[: -len(agg) - 1], agg
    return None


def not_a_disparity(where: str, name: str) -> str:
    known = sorted({m for ms in FAIRNESS_GROUP_METRICS.values() for m in ms})
    return (
        f"{where} {name!r} is not a disparity; use one of {list(FAIRNESS_MEASURES)} or "
        f"<group metric>_<{'|'.join(FAIRNESS_AGGREGATES)}> with a group metric in {known}"
    )

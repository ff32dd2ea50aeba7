"""Explanations for the model card: partial dependence of the top features, local contributions of canned rows.

Partial dependence is :func:`sklearn.inspection.partial_dependence` (brute force over the
pipeline, so it works for every estimator) on a sample of the holdout, for the features
with the largest permutation importance (``training.json``).

Local contributions are Shapley values estimated by permutation sampling (Štrumbelj and
Kononenko, 2014), not the ``shap`` package: shap 0.52+ needs Python 3.12 and the older
releases pull in numba, whose import alone costs seconds per task. For each row ``x`` and
background row ``b`` (a seeded holdout sample) and each random feature order, features
are switched from ``b`` to ``x`` one at a time and the change in the model's output is
credited to the feature switched. Averaged over orders and background rows, the values
add up exactly to ``f(x) - mean f(b)``: the row's score minus the background's mean
score. The output is the positive-class probability (classification) or the prediction
(regression), on the raw feature columns (a categorical is one feature, not its one-hot
columns). It is model-agnostic and costs one batched ``predict`` per row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops import metrics
from mlops.config import DatasetConfig
from mlops.models import feature_frame, predict

if TYPE_CHECKING:
    import pandas as pd

#: Features shown in the partial dependence plot, and its grid.
PD_FEATURES, PD_GRID, PD_ROWS = 4, 15, 300
#: Shapley sampling: feature orders and background rows per explained row.
PERMUTATIONS, BACKGROUND_ROWS = 8, 16


@dataclass(frozen=True)
class DependenceCurve:
    """Average model output over the sample with ``feature`` set to each ``grid`` value."""

    feature: str
    categorical: bool
    grid: list[Any]
    average: list[float]


@dataclass(frozen=True)
class RowExplanation:
    """One row's output, the background mean and each feature's contribution (they sum to the difference)."""

    row: dict[str, Any]
    output: float
    expected: float
    contributions: dict[str, float]

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` largest contributions by absolute size."""
        return sorted(self.contributions.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:k]


def top_features(importances: dict[str, float], cfg: DatasetConfig, k: int = PD_FEATURES) -> list[str]:
    """The ``k`` model features with the largest permutation importance (ties by name)."""
    ranked = sorted(importances.items(), key=lambda kv: (-kv[1], kv[0]))
    return [name for name, _ in ranked if name in cfg.feature_columns][:k]


def output_label(cfg: DatasetConfig, positive_class: Any = None) -> str:
    """``P(default = 1)`` for a classifier, ``predicted <target>`` for a regressor."""
    if cfg.is_classifier:
        return f"P({cfg.target} = {positive_class})"
    return f"predicted {cfg.target}"


def _grid(values: pd.Series, categorical: bool) -> np.ndarray:
    present = values.dropna()
    if categorical:
        return np.asarray(sorted(present.astype(str).value_counts().index[:12]), dtype=object)
    return np.unique(np.quantile(present.to_numpy(dtype="float64"), np.linspace(0.05, 0.95, PD_GRID)))


def partial_dependence_curves(
    model: Any, cfg: DatasetConfig, frame: pd.DataFrame, features: list[str], *, seed: int = 0
) -> list[DependenceCurve]:
    """Partial dependence (``sklearn.inspection.partial_dependence``, ``kind="average"``) per feature.

    Computed on at most :data:`PD_ROWS` seeded rows of ``frame``; numeric grids are 15
    quantiles (5 %..95 %) of the observed values, categorical grids the observed categories.
    For a classifier the curve is the probability of the positive class.
    """
    from sklearn.inspection import partial_dependence

    X = feature_frame(frame, cfg)
    if len(X) > PD_ROWS:
        X = X.sample(PD_ROWS, random_state=seed)
    flip = cfg.is_classifier and metrics.positive_index(cfg, model.classes_) == 0
    curves = []
    for feature in features:
        categorical = cfg.features.kind_of(feature) == "categorical"  # booleans are 0/1 numbers to the model
        grid = _grid(X[feature], categorical)
        if len(grid) < 2:
            continue
        sample = X.copy()
        if categorical:
            sample[feature] = sample[feature].astype("object").where(sample[feature].notna(), np.nan)
        result = partial_dependence(
            model,
            sample,
            [feature],
            categorical_features=[feature] if categorical else None,
            custom_values={feature: grid},
            kind="average",
        )
        average = np.asarray(result["average"][0], dtype="float64")
        average = 1.0 - average if flip else average
        shown = [str(g) for g in grid] if categorical else [float(g) for g in grid]
        curves.append(DependenceCurve(feature, categorical, shown, [float(a) for a in average]))
    return curves


def _output(model: Any, cfg: DatasetConfig, frame: pd.DataFrame) -> np.ndarray:
    pred, proba = predict(model, frame, cfg)
    return np.asarray(proba if proba is not None else pred, dtype="float64")


def local_contributions(
    model: Any,
    cfg: DatasetConfig,
    rows: pd.DataFrame,
    background: pd.DataFrame,
    *,
    permutations: int = PERMUTATIONS,
    background_rows: int = BACKGROUND_ROWS,
    seed: int = 0,
) -> list[RowExplanation]:
    """Sampled Shapley contributions of every feature for each of ``rows`` (see the module docstring).

    ``background`` is sampled (seeded) down to ``background_rows`` rows; each row costs one
    ``predict`` of ``permutations * background_rows * (n_features + 1)`` rows.
    """
    import pandas as pd

    rng = np.random.default_rng(seed)
    cols = list(cfg.feature_columns)
    n_feat = len(cols)
    X = feature_frame(rows, cfg).reset_index(drop=True)
    B = feature_frame(background, cfg)
    if len(B) > background_rows:
        B = B.sample(background_rows, random_state=seed)
    B = B.reset_index(drop=True)
    n_bg = len(B)
    orders = np.array([rng.permutation(n_feat) for _ in range(permutations)])
    rank = np.argsort(orders, axis=1)  # rank[m, j]: the step at which feature j is switched to x
    steps = np.arange(n_feat + 1)
    switched = np.repeat((rank[:, None, :] < steps[None, :, None])[:, None], n_bg, axis=1).reshape(-1, n_feat)
    bg_index = np.tile(np.repeat(np.arange(n_bg), n_feat + 1), permutations)
    bg_values = {c: B[c].to_numpy(dtype=object)[bg_index] for c in cols}
    out = []
    for i in range(len(X)):
        hybrid = pd.DataFrame(
            {c: np.where(switched[:, j], X.at[i, c], bg_values[c]) for j, c in enumerate(cols)}
        )
        values = _output(model, cfg, hybrid).reshape(permutations, n_bg, n_feat + 1)
        deltas = np.diff(values, axis=2).mean(axis=1)  # (orders, steps): the change at each switch
        phi = np.zeros(n_feat)
        for m in range(permutations):
            phi[orders[m]] += deltas[m]
        phi /= permutations
        out.append(
            RowExplanation(
                row={c: _plain(X.at[i, c]) for c in cols},
                output=float(values[0, 0, -1]),
                expected=float(values[:, :, 0].mean()),
                contributions={c: float(v) for c, v in zip(cols, phi, strict=True)},
            )
        )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value

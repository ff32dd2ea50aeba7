"""Fitting a candidate and writing its artifacts.

:func:`fit_model` fits the planned model (searching when planned); :func:`train_candidate`
runs the whole step and writes, under :func:`mlops.artifacts.candidate_prefix`,
``model.skops``, ``reference_profile.json`` (:func:`mlops.profiling.build_reference_profile`)
and, last, ``training.json`` (:class:`~mlops.artifacts.TrainingRecord`).

The same data and config give the same model: every random state comes from
``model.seed`` and the rows are sorted before fitting.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops import artifacts, metrics, profiling, serialization, storage
from mlops._util import finite_float as _num
from mlops.artifacts import ModelPlan, TrainingRecord
from mlops.config import DatasetConfig
from mlops.models import THREADS_ENV, compute_threads, feature_frame, predict, target_array, thread_count
from mlops.training import record as records
from mlops.training.data import TrainingData, WindowPlan, load_training_data, plan_window
from mlops.training.pipeline import build_model, default_scoring, plan_model, search_scorer

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)

#: Rows of the holdout used for permutation importance (keeps it to about a second).
IMPORTANCE_MAX_ROWS = 1000
IMPORTANCE_REPEATS = 3


# ---------------------------------------------------------------- fitting
@dataclass(frozen=True)
class FitResult:
    model: Any  # the fitted Pipeline (best estimator when searched)
    plan: ModelPlan
    best_params: dict[str, Any]
    cv: dict[str, Any] | None
    fit_seconds: float


def fit_model(cfg: DatasetConfig, train: pd.DataFrame, plan: ModelPlan) -> FitResult:
    """Fit the planned model on the training split (rows in date, id order)."""
    model = build_model(cfg, plan)
    X, y = feature_frame(train, cfg), target_array(train, cfg)
    if plan.search:
        model.set_params(scoring=search_scorer(cfg, plan.search["scoring"], y))
        _log_search_plan(model, plan, len(X))
    else:
        log.info("fit %s on %d rows (no search)", plan.estimator, len(X))
    started = time.perf_counter()
    with compute_threads():
        model.fit(X, y)
    seconds = round(time.perf_counter() - started, 3)
    if not plan.search:
        log.info("fitted %s in %.1fs", plan.estimator, seconds)
        return FitResult(model, plan, {}, None, seconds)
    cv, best = _search_summary(model, plan)
    log.info("best %s %.4f with %s (search took %.1fs)", cv["scoring"], model.best_score_, best, seconds)
    return FitResult(model.best_estimator_, plan, best, cv, seconds)


def _log_search_plan(search, plan: ModelPlan, rows: int) -> None:
    from sklearn.model_selection import ParameterGrid

    n = getattr(search, "n_iter", None) or len(ParameterGrid(search.param_grid))
    folds = plan.search["cv"]
    log.info(
        "search %s: %d candidate(s) x %d time-series folds = %d fits on %d rows, scoring %s",
        plan.search["kind"],
        n,
        folds,
        n * folds,
        rows,
        plan.search["scoring"],
    )


def _search_summary(search, plan: ModelPlan) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(cv, best_params)``: every searched candidate by rank, and the winner's params."""
    res = search.cv_results_
    order = np.argsort(res["rank_test_score"], kind="stable")
    cv = {
        "scoring": plan.search["scoring"],
        "best_score": _num(search.best_score_),
        "candidates": [
            {
                "params": records.jsonable(res["params"][i]),
                "mean": _num(res["mean_test_score"][i]),
                "std": _num(res["std_test_score"][i]),
                "rank": int(res["rank_test_score"][i]),
            }
            for i in order
        ],
    }
    for c in cv["candidates"]:
        log.info(
            "cv candidate rank %d: %s = %s +/- %s %s",
            c["rank"],
            cv["scoring"],
            c["mean"],
            c["std"],
            c["params"],
        )
    best = records.jsonable({k.removeprefix("model__"): v for k, v in search.best_params_.items()})
    return cv, best


def importance_scoring(model, cfg: DatasetConfig, y: Any) -> str:
    """Permutation importance's scoring on ``y``: :func:`default_scoring` of the model's classes, or
    ``accuracy`` when ``y`` cannot support it (one class; a multiclass holdout missing a class)."""
    if not cfg.is_classifier:
        return default_scoring(cfg)
    classes = list(model.classes_)
    seen = metrics.labels_of(y)
    if len(seen) < 2 or (metrics.is_multiclass(classes) and len(seen) < len(classes)):
        return "accuracy"
    return "roc_auc_ovr" if metrics.is_multiclass(classes) else "roc_auc"


def permutation_importances(model, cfg: DatasetConfig, frame: pd.DataFrame, *, seed: int) -> dict[str, float]:
    """Mean drop of the primary metric when each raw feature is shuffled (on up to 1,000 holdout rows)."""
    from sklearn.inspection import permutation_importance

    sample = (
        frame if len(frame) <= IMPORTANCE_MAX_ROWS else frame.sample(IMPORTANCE_MAX_ROWS, random_state=seed)
    )
    X, y = feature_frame(sample, cfg), target_array(sample, cfg)
    scoring = importance_scoring(model, cfg, y)
    with compute_threads():
        result = permutation_importance(
            model, X, y, scoring=scoring, n_repeats=IMPORTANCE_REPEATS, random_state=seed, n_jobs=1
        )
    pairs = sorted(zip(X.columns, result.importances_mean, strict=True), key=lambda p: -p[1])
    return {str(col): round(float(v), 6) for col, v in pairs}


# ---------------------------------------------------------------- the whole step
@dataclass(frozen=True)
class _Fitted:
    """A fitted model with everything derived from it before anything is written."""

    fit: FitResult
    blob: bytes
    sha256: str
    importances: dict[str, float]
    profile: artifacts.ReferenceProfile


def train_candidate(
    client,
    cfg: DatasetConfig,
    *,
    bucket: str,
    end: date | str,
    run_id: str,
    window_days: int | str | None = None,
    estimator: str | None = None,
    search: str = "config",
    run: dict[str, Any] | None = None,
) -> records.TrainingResult:
    """Plan the window, load and split it, fit, and write the candidate's artifacts.

    Idempotent: the candidate key is ``<run_id>__<digest of the request>``; if its
    ``training.json`` (written last) exists, nothing is retrained.
    """
    plan = plan_window(client, cfg, bucket=bucket, end=end, window_days=window_days)
    mplan = plan_model(cfg, estimator=estimator, search=search)
    request = {
        "day": plan.end,
        "window_days": plan.window_days,
        "estimator": mplan.estimator,
        "search": search,
    }
    key = records.request_key(run_id, {**request, "config": cfg.to_dict()})
    prefix = artifacts.candidate_prefix(bucket, cfg.name, key)
    training_uri = artifacts.training_uri(prefix)
    if storage.exists(client, training_uri):
        log.info("candidate already exists: %s (not retraining)", training_uri)
        existing = artifacts.read_artifact(client, training_uri, TrainingRecord)
        return records.TrainingResult.of(existing, reused=True)
    for note in mplan.notes:
        log.info("model plan: %s", note)
    data = load_training_data(client, cfg, plan)
    fitted = _fit_and_profile(cfg, data, mplan)
    record = _write_candidate(
        client,
        cfg,
        prefix,
        fitted,
        data,
        plan,
        request=request,
        run=records.jsonable(run or {}) | {"run_id": run_id},
    )
    return records.TrainingResult.of(record, reused=False)


def _fit_and_profile(cfg: DatasetConfig, data: TrainingData, mplan: ModelPlan) -> _Fitted:
    """Fit; serialize; permutation importance on the holdout; the reference profile of the train split."""
    log.info("native threads: %d (env %s)", thread_count(), THREADS_ENV)
    with compute_threads():
        fit = fit_model(cfg, data.train, mplan)
        started = time.perf_counter()
        blob = serialization.dump_model(fit.model)
        train_pred, train_proba = predict(fit.model, data.train, cfg)
        importances = permutation_importances(fit.model, cfg, data.holdout, seed=mplan.seed)
    top = list(importances.items())[:5]
    log.info("permutation importance (holdout, top 5): %s", ", ".join(f"{k}={v:.4f}" for k, v in top))
    multiclass = cfg.is_classifier and metrics.is_multiclass(fit.model.classes_)
    profile = profiling.build_reference_profile(
        data.train.loc[:, [*cfg.feature_columns, cfg.target]],
        cfg,
        # binary: positive-class scores; multiclass: the predicted classes (prediction drift over the classes)
        predictions=train_pred if multiclass or not cfg.is_classifier else train_proba,
        importances=importances,
        prediction_kind="categorical" if multiclass else None,
    )
    log.info("post-fit (serialize, importance, profile) took %.1fs", time.perf_counter() - started)
    return _Fitted(fit, blob, storage.sha256_bytes(blob), importances, profile)


def _write_candidate(
    client,
    cfg: DatasetConfig,
    prefix: str,
    fitted: _Fitted,
    data: TrainingData,
    plan: WindowPlan,
    *,
    request: dict[str, Any],
    run: dict[str, Any],
) -> TrainingRecord:
    """Write ``model.skops``, ``reference_profile.json`` and, last, ``training.json``."""
    model_put = storage.put_bytes(client, artifacts.model_uri(prefix), fitted.blob)
    log.info("wrote %s (%d bytes, sha256 %s)", model_put.uri, len(fitted.blob), fitted.sha256[:12])
    profile_uri = artifacts.reference_profile_uri(prefix)
    artifacts.write_artifact(client, profile_uri, fitted.profile)
    log.info("wrote %s", profile_uri)
    fit = fitted.fit
    record = TrainingRecord(
        dataset=cfg.name,
        task=cfg.task,
        candidate_uri=prefix,
        created_at=artifacts.utc_now_iso(),
        run=run,
        request=request,
        window=plan.to_window(),
        excluded_days=data.excluded,
        split=data.split,
        lineage=data.lineage,
        data_hash=data.data_hash,
        model_plan=fit.plan,
        estimator_params=records.jsonable(fit.model.named_steps["model"].get_params(deep=False)),
        best_params=fit.best_params,
        cv=fit.cv,
        fit_seconds=fit.fit_seconds,
        feature_signature=records.feature_signature(cfg),
        target=cfg.target,
        id_column=cfg.id_column,
        date_column=cfg.date_column,
        importances=fitted.importances,
        canned_rows=records.canned_rows(cfg, data.holdout),
        model_uri=model_put.uri,
        model_version_id=model_put.version_id,
        model_sha256=fitted.sha256,
        model_size=len(fitted.blob),
        config=cfg.to_dict(),
        config_sha256=records.config_sha256(cfg),
        libraries=records.libraries(),
    )
    artifacts.write_artifact(client, artifacts.training_uri(prefix), record)
    log.info("wrote %s", artifacts.training_uri(prefix))
    return record

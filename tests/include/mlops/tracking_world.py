"""A small real registry for the tracking, plugin and browser tests.

Three training runs of the credit model through the real library steps (train, evaluate,
gate, publish, promote): ``r1`` becomes v0001 and production, ``r2`` (logistic regression)
becomes v0002 and production, ``r3`` (the dummy estimator) is NOT blessed and never
published. One monitoring history record and its report page sit under ``monitoring/``.
"""

from __future__ import annotations

from typing import Any

from tests.include.mlops.training_world import END, fast, seed_validated

NIGHT = "2026-01-12"


def _train(client, bucket: str, cfg, run_id: str, **kwargs: Any):
    from mlops import evaluation, training

    run = {"dag_id": "mlops_training", "run_id": run_id, "try_number": 1}
    cand = training.train_candidate(
        client, cfg, bucket=bucket, end=END, run_id=run_id, window_days=12, run=run, **kwargs
    )
    evaluation.evaluate_candidate(client, cfg, cand.candidate_prefix, bucket=bucket)
    blessing = evaluation.gate_candidate(client, cfg, cand.candidate_prefix)
    return cand, blessing, run


def publish_and_promote(client, bucket: str, cfg, run_id: str, reason: str, **kwargs: Any) -> str:
    """Train ``run_id`` and, if blessed, publish and promote it; returns the version (or "")."""
    from mlops.registry import ModelRegistry

    cand, blessing, run = _train(client, bucket, cfg, run_id, **kwargs)
    if not blessing.blessed:
        return ""
    registry = ModelRegistry(client, bucket, cfg.name)
    published = registry.publish(candidate_uri=cand.candidate_prefix, run=run, reason=reason)
    registry.promote_blessed(published.version, reason=reason, actor="alice (via mlops_training)", run=run)
    return published.version


def write_night(client, bucket: str, dataset: str, version: str, day: str = NIGHT) -> None:
    """A monitoring history record and report page, as ``mlops.monitoring`` writes them."""
    from mlops import artifacts, storage
    from mlops.artifacts.nightly import HistoryRecord

    record = HistoryRecord(
        dataset=dataset,
        day=day,
        verdict="WARN",
        model_version=version,
        fired=[],
        retrain=False,
        dataset_drift=False,
        drift_share=0.1,
        drifted_features=["age"],
        psi={"age": 0.12},
        prediction_psi=0.01,
    )
    artifacts.write_artifact(client, artifacts.history_uri(bucket, dataset, day), record)
    page = f"<html><head><title>Monitoring {dataset} {day}</title></head><body><h1>Drift</h1></body></html>"
    storage.put_bytes(
        client, artifacts.report_uri(bucket, dataset, day), page.encode(), content_type="text/html"
    )


def build(client, bucket: str, cfg) -> dict[str, Any]:
    """Seed and run the three trainings; returns the versions and run keys."""
    cfg = fast(cfg)
    seed_validated(client, bucket, cfg)
    v1 = publish_and_promote(client, bucket, cfg, "r1", "first production model")
    v2 = publish_and_promote(
        client, bucket, cfg, "r2", "logistic regression retrain", estimator="logistic_regression"
    )
    _train(client, bucket, cfg, "r3", estimator="dummy")
    write_night(client, bucket, cfg.name, v2)
    return {"v1": v1, "v2": v2, "dataset": cfg.name}

"""Airflow Assets of the registry and monitoring steps.

- ``production_model_asset(dataset)``: ``s3://<bucket>/models/<dataset>/aliases/production.json``.
  Promotion and rollback update it; the batch-scoring DAG schedules on it.
- ``retrain_request_asset(dataset)``: ``s3://<bucket>/monitoring/<dataset>/retrain_requests/``.
  Monitoring updates it; the training DAG schedules on it (or on its nightly cron).
- ``production_model_alias()``: an :class:`AssetAlias` for DAGs whose dataset is a run-time Param
  (training, rollback). Declare it as the outlet; the operator attaches the event to the concrete
  ``production_model_asset(<dataset of this run>)``, so only that model's consumers are triggered.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetAlias

from mlops.artifacts import production_pointer_uri, retrain_requests_prefix
from mlops.storage import DEFAULT_BUCKET

PRODUCTION_MODEL_ALIAS = "mlops_production_model"


def production_model_asset(dataset: str, bucket: str | None = None) -> Asset:
    """The production pointer of ``dataset``'s model as an Asset."""
    return Asset(
        uri=production_pointer_uri(bucket or DEFAULT_BUCKET, dataset),
        name=f"{dataset}_production_model",
        group="mlops",
    )


def retrain_request_asset(dataset: str, bucket: str | None = None) -> Asset:
    """Retrain requests written by monitoring for ``dataset`` (``artifacts.retrain_requests_prefix``)."""
    return Asset(
        uri=retrain_requests_prefix(bucket or DEFAULT_BUCKET, dataset),
        name=f"{dataset}_retrain_request",
        group="mlops",
    )


def production_model_alias() -> AssetAlias:
    """Outlet for tasks that move a production pointer whose dataset is only known at run time."""
    return AssetAlias(name=PRODUCTION_MODEL_ALIAS)

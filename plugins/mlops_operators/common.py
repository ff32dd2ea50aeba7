"""Shared operator plumbing: the S3 client, error translation, run identity and asset events.

Rendered template values are parsed by :mod:`mlops_operators.params`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from airflow.sdk import Asset, AssetAlias
from airflow.sdk.exceptions import AirflowFailException

from mlops.errors import ConfigError, InputReadError, IntegrityError, RegistryError, ValidationFailed

#: Errors that a retry cannot fix: fail the task at once.
PERMANENT_ERRORS = (ConfigError, InputReadError, ValidationFailed, IntegrityError, RegistryError)


def s3_client(aws_conn_id: str):
    """A boto3 S3 client from the Amazon provider's S3Hook (endpoint, keys and region from the connection)."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook(aws_conn_id=aws_conn_id).get_conn()


@contextlib.contextmanager
def fail_fast_on_bad_input() -> Iterator[None]:
    """Turn bad data/config/integrity errors into AirflowFailException (no retries)."""
    try:
        yield
    except PERMANENT_ERRORS as err:
        raise AirflowFailException(str(err)) from err


def run_identity(context) -> dict[str, object]:
    """dag_id, run_id and try number of the running task, for lineage and idempotency."""
    ti = context.get("ti") if context else None
    dag_run = context.get("dag_run") if context else None
    return {
        "dag_id": getattr(ti, "dag_id", None),
        "run_id": getattr(dag_run, "run_id", None) or getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "triggered_by": str(
            getattr(dag_run, "triggering_user_name", None) or getattr(dag_run, "run_type", "") or ""
        ),
    }


def run_id(context) -> str | None:
    """The run id of the running task (``None`` outside a DAG run)."""
    return run_identity(context).get("run_id")


def who(context: Any) -> tuple[str, dict[str, Any], str | None]:
    """``(actor, run record, request id)`` of the running task.

    The actor is the user who triggered the run when Airflow knows one
    (``dag_run.triggering_user_name``), else ``<dag_id>/<run_id>``.
    """
    ident = run_identity(context)
    dag_run = context.get("dag_run") if context else None
    ti = context.get("ti") if context else None
    user = getattr(dag_run, "triggering_user_name", None)
    run_type = getattr(dag_run, "run_type", None)
    run_type = str(getattr(run_type, "value", run_type) or "")
    dag_id, run_id = ident.get("dag_id"), ident.get("run_id")
    task_id = getattr(ti, "task_id", None)
    if user:
        actor = f"{user} (via {dag_id} {run_id})"
    elif dag_id:
        actor = f"{dag_id}/{run_id}"
    else:
        actor = "unknown"
    run = {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "try_number": ident.get("try_number"),
        "run_type": run_type,
        "triggering_user_name": user,
        "actor": actor,
    }
    request_id = f"{dag_id}/{run_id}/{task_id}" if dag_id and run_id else None
    return actor, run, request_id


def load_config(dataset: str):
    """The dataset's config from ``include/configs/<dataset>.yaml`` (imported lazily)."""
    from mlops.config import load_dataset_config

    return load_dataset_config(dataset)


def emit_asset_event(outlets, context: Any, asset: Asset, extra: dict[str, Any]) -> None:
    """Attach ``extra`` to the event of ``asset`` on the task's outlets (an alias or the asset itself)."""
    events = context.get("outlet_events") if context else None
    if events is None:
        return
    for outlet in outlets or []:
        if isinstance(outlet, AssetAlias):
            events[outlet].add(asset, extra=extra)
        elif isinstance(outlet, Asset) and outlet.uri.rstrip("/") == asset.uri.rstrip("/"):
            events[outlet].extra.update(extra)

"""Shared operator plumbing: the S3 client and error translation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

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

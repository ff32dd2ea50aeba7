"""Shared operator plumbing: the S3 client, error translation, run identity and asset events.

Errors are translated in one place, :func:`fail_fast_on_bad_input`:

- bad data, config, user input or integrity (:data:`PERMANENT_ERRORS`) fail the task at once:
  the library's message (what, value, fix) is logged as one ERROR line and raised as
  ``AirflowFailException(message) from None`` (no retries, no chained traceback of library
  and botocore errors; the original stays reachable as ``__context__``). Airflow itself still
  logs "Task failed with exception" with the stack of that one ``AirflowFailException``;
- an S3 outage (connection refused, timeout, HTTP 5xx; see :func:`describe_outage`) becomes one
  ERROR line naming the endpoint and what to check, and a :class:`StorageUnavailableError`, which
  Airflow retries with the DAG's exponential backoff;
- anything else keeps its traceback.

Rendered template values are parsed by :mod:`mlops_operators.params`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

from airflow.sdk import Asset, AssetAlias
from airflow.sdk.exceptions import AirflowException, AirflowFailException

from mlops.errors import (
    ArtifactSchemaError,
    ConfigError,
    InputReadError,
    IntegrityError,
    RegistryError,
    ValidationFailed,
    find_in_chain,
)

log = logging.getLogger(__name__)

#: Errors that a retry cannot fix: fail the task at once.
PERMANENT_ERRORS = (
    ConfigError,
    InputReadError,
    ValidationFailed,
    IntegrityError,
    RegistryError,
    ArtifactSchemaError,
)
#: The endpoint and connection of the last client :func:`s3_client` built (one task per process).
_last_client: dict[str, str] = {}


class StorageUnavailableError(AirflowException):
    """The S3 endpoint could not be reached, timed out or answered 5xx. Retried by Airflow."""


def s3_client(aws_conn_id: str):
    """A boto3 S3 client from the Amazon provider's S3Hook (endpoint, keys and region from the connection).

    It refuses a bucket without versioning at its first object call
    (:func:`mlops.storage.guard_versioned_buckets`: a ConfigError, so the task fails at once).
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from mlops.storage import guard_versioned_buckets

    client = guard_versioned_buckets(S3Hook(aws_conn_id=aws_conn_id).get_conn())
    _last_client.update(endpoint=str(client.meta.endpoint_url), conn_id=aws_conn_id)
    return client


def _where(url: str | None) -> tuple[str, str]:
    """``("<scheme>://<host:port> (connection 'x')", "<path>")`` of a request URL, else the last client's."""
    from urllib.parse import urlsplit

    url = url or _last_client.get("endpoint") or ""
    parts = urlsplit(url)
    endpoint = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "the S3 endpoint"
    last = urlsplit(_last_client.get("endpoint") or "")
    if parts.netloc and parts.netloc == last.netloc:
        endpoint += f" (connection {_last_client['conn_id']!r})"
    return endpoint, parts.path


def _outage_in_chain(err: BaseException) -> BaseException | None:
    """The botocore outage error in ``err`` or its causes (an MLOpsError may wrap one), else ``None``."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    from mlops import storage

    found = find_in_chain(err, (ConnectionError, HTTPClientError, ClientError))
    if isinstance(found, ClientError):
        error = found.response.get("Error", {})
        status = found.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
        return found if int(status) >= 500 or error.get("Code") in storage.TRANSIENT_ERROR_CODES else None
    return found


def describe_outage(err: BaseException) -> str | None:
    """One line naming the endpoint, what went wrong and what to check; ``None`` if ``err`` is no outage.

    Outages are botocore connection errors (``EndpointConnectionError``, ``ConnectTimeoutError``,
    proxy errors), HTTP client errors (``ReadTimeoutError``, ``ConnectionClosedError``) and
    ``ClientError`` with an HTTP status of 500 or more (or a throttling/timeout code), found in
    ``err`` or its chain of causes.
    """
    from botocore.exceptions import ClientError, ConnectionError, ConnectTimeoutError, ReadTimeoutError

    outage = _outage_in_chain(err)
    if outage is None:
        return None
    endpoint, path = _where(getattr(outage, "kwargs", {}).get("endpoint_url"))
    on = f" on {path}" if path and path != "/" else ""
    retry = "the task will be retried with backoff"
    if isinstance(outage, ClientError):
        error = outage.response.get("Error", {})
        status = outage.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        return (
            f"S3 endpoint {endpoint} answered HTTP {status} {error.get('Code')} to {outage.operation_name}: "
            f"{error.get('Message') or 'no message'}; the storage service is failing or overloaded: "
            f"check its health and capacity; {retry}."
        )
    if isinstance(outage, ConnectTimeoutError | ReadTimeoutError):
        return (
            f"S3 endpoint {endpoint} timed out ({type(outage).__name__}{on}); check that the storage "
            f"service is up and not overloaded, and the network from this worker to it; {retry}."
        )
    kind = "is unreachable" if isinstance(outage, ConnectionError) else "dropped the connection"
    return (
        f"S3 endpoint {endpoint} {kind} ({type(outage).__name__}{on}); check that the storage service "
        f"is running and that the connection's endpoint_url, DNS and network are right; {retry}."
    )


def bad_input(message: str, logger: logging.Logger | Any | None = None) -> AirflowFailException:
    """Log ``message`` as the one ERROR line of a task failed by bad input; return the exception to raise.

    Raise it ``from None``: ``raise common.bad_input(msg, self.log) from None``. The message should
    say what went wrong, the value and the fix (STYLE.md, "Logs and errors").
    """
    (logger or log).error("%s", message)
    return AirflowFailException(message)


@contextlib.contextmanager
def fail_fast_on_bad_input(
    logger: logging.Logger | Any | None = None,
    *,
    also: tuple[type[BaseException], ...] = (),
) -> Iterator[None]:
    """Translate errors for Airflow: bad input fails at once, an S3 outage is retried.

    Bad data, config, user input and integrity errors (:data:`PERMANENT_ERRORS`, plus ``also``)
    are logged as one ERROR line and raised as ``AirflowFailException(message) from None``
    (:func:`bad_input`): no retries and no chain of library and botocore tracebacks. The original
    error stays reachable as the exception's ``__context__``. An S3 outage anywhere in the
    error's chain is logged as one ERROR line (:func:`describe_outage`) and raised as
    :class:`StorageUnavailableError` without the chain, so the DAG's retries with exponential
    backoff apply. Anything else propagates unchanged, with its traceback.

    :param logger: where the ERROR line goes (an operator's ``self.log``); default: this module's
    :param also: more error types that a retry cannot fix (e.g. a step's "not enough data" error)
    """
    try:
        yield
    except Exception as err:
        message = describe_outage(err)
        if message is not None:
            (logger or log).error("%s", message)
            raise StorageUnavailableError(message) from None
        if isinstance(err, PERMANENT_ERRORS + tuple(also)):
            raise bad_input(str(err), logger) from None
        raise


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

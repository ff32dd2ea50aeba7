"""Failure notifications: every lifecycle task's ``on_failure_callback`` (wired in ``dag_defaults``).

When a task fails for good (retries exhausted, or ``AirflowFailException``), the notice goes to
the same notifiers that monitoring alerts use: the task log (:class:`LogAlertNotifier`) and the
webhook on the ``mlops_alerts_webhook`` HTTP connection (:class:`WebhookAlertNotifier`, skipped
when the connection does not exist). The notice is one JSON object::

    {"kind": "mlops_task_failure", "dag_id": "mlops_validation", "task_id": "validate_batch",
     "map_index": null, "run_id": "...", "try_number": 1, "dataset": "credit",
     "error": "AirflowFailException: File s3://.../batch.parquet does not exist.",
     "log_url": "http://localhost:8080/dags/mlops_validation/runs/.../tasks/validate_batch?try_number=1"}

A failing notifier is logged and never hides the task's own failure.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)

#: The HTTP connection that monitoring alerts and failure notices are POSTed to.
WEBHOOK_CONN_ID = "mlops_alerts_webhook"
#: Longest error line sent (the log link has the rest).
MAX_ERROR_CHARS = 500


def error_line(error: BaseException | str | None) -> str:
    """``"<Type>: <first line of the message>"`` of the failure, cut at :data:`MAX_ERROR_CHARS`."""
    if error is None or error == "":
        return "unknown error (see the task log)"
    if isinstance(error, BaseException):
        text = str(error).strip()
        first = text.splitlines()[0] if text else "(no message)"
        line = f"{type(error).__name__}: {first}"
    else:
        line = str(error).strip().splitlines()[0]
    return line if len(line) <= MAX_ERROR_CHARS else line[: MAX_ERROR_CHARS - 3] + "..."


def _dataset(context: Any) -> str | None:
    """The dataset the task worked on: its rendered ``dataset``/``model`` argument, else the DAG Param."""
    task = context.get("task")
    for name in ("dataset", "model"):
        value = getattr(task, name, None)
        if isinstance(value, str) and value and "{{" not in value:
            return value
    params = context.get("params") or {}
    for name in ("dataset", "model"):
        if params.get(name):
            return str(params[name])
    return None


def failure_notice(context: Any) -> dict[str, Any]:
    """The notice of a failed task: DAG, task, dataset, error line and a link to the log."""
    context = context or {}
    ti = context.get("ti")
    map_index = getattr(ti, "map_index", None)
    try:
        log_url = getattr(ti, "log_url", None)
    except Exception:  # a link is nice to have; never let building it hide the failure
        log_url = None
    return {
        "kind": "mlops_task_failure",
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "map_index": map_index if isinstance(map_index, int) and map_index >= 0 else None,
        "run_id": getattr(ti, "run_id", None),
        "try_number": getattr(ti, "try_number", None),
        "dataset": _dataset(context),
        "error": error_line(context.get("exception")),
        "log_url": log_url,
    }


def failure_notifiers() -> list[Any]:
    """The configured notifiers: the task log and the alerts webhook connection."""
    from mlops_operators.notifiers import LogAlertNotifier, WebhookAlertNotifier

    return [LogAlertNotifier(title="MLOPS TASK FAILED"), WebhookAlertNotifier(http_conn_id=WEBHOOK_CONN_ID)]


def notify_task_failure(context: Any, notifiers: Sequence[Any] | None = None) -> dict[str, Any]:
    """``on_failure_callback``: send the failure notice to every notifier; return the notice.

    Each notifier gets the task context plus ``mlops_failure`` (the notice). A notifier that raises
    is logged and skipped.
    """
    notice = failure_notice(context)
    notify_context = {**(context or {}), "mlops_failure": notice}
    for notifier in failure_notifiers() if notifiers is None else notifiers:
        try:
            notifier(notify_context)
        except Exception as err:  # a broken notifier must not hide the task's failure
            name = getattr(notifier, "__name__", None) or type(notifier).__name__
            log.error("failure notifier %s failed: %s", name, err)
    return notice

"""Alert notifiers: one that logs, one that POSTs JSON to a webhook.

Both are :class:`airflow.sdk.BaseNotifier` subclasses. Two callers:

- ``EvaluateAlertsOperator`` calls them with the task context plus ``mlops_alert``
  (the night's result: verdict, fired rules, report URI);
- every lifecycle task's ``on_failure_callback`` (:mod:`mlops_operators.failure`) calls them
  with the task context plus ``mlops_failure`` (DAG, task, dataset, error line, log link).

Used directly as ``on_failure_callback``, they send a short task-failure summary.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseNotifier

log = logging.getLogger(__name__)


def alert_payload(context: Any) -> dict[str, Any]:
    """The JSON body sent to webhooks: the alert, or a task-failure summary when used as a failure callback."""
    failure = (context or {}).get("mlops_failure")
    if failure:
        return dict(failure)
    alert = (context or {}).get("mlops_alert")
    if alert:
        return {
            "kind": "mlops_monitoring_alert",
            "dataset": alert.get("dataset"),
            "day": alert.get("day"),
            "verdict": alert.get("verdict"),
            "fired": alert.get("fired", []),
            "retrain": alert.get("retrain", False),
            "model_version": alert.get("model_version"),
            "rules": [r for r in alert.get("rules", []) if r.get("fired")],
            "report_uri": alert.get("report_uri"),
            "alert_uri": alert.get("alert_uri"),
        }
    ti = (context or {}).get("ti")
    return {
        "kind": "airflow_task_failure",
        "dag_id": getattr(ti, "dag_id", None),
        "task_id": getattr(ti, "task_id", None),
        "run_id": getattr(ti, "run_id", None),
        "exception": str((context or {}).get("exception") or ""),
    }


class LogAlertNotifier(BaseNotifier):
    """Write the alert as one WARNING block (a failure notice: one ERROR block) to the task log.

    :param title: first line of the block (templated)
    """

    template_fields: Sequence[str] = ("title",)

    def __init__(self, *, title: str = "MLOps monitoring alert") -> None:
        super().__init__()
        self.title = title

    def notify(self, context: Any) -> None:
        payload = alert_payload(context)
        failed = payload.get("kind") == "mlops_task_failure"
        headline = f"{payload.get('dag_id')}.{payload.get('task_id')}" if failed else None
        lines = [f"{self.title}: {payload.get('verdict') or headline or payload.get('kind')}"]
        keys = ("dataset", "day", "model_version", "fired", "retrain", "report_uri", "dag_id", "task_id")
        for key in (*keys, "map_index", "run_id", "try_number", "error", "log_url"):
            if payload.get(key) not in (None, [], ""):
                lines.append(f"  {key}: {payload[key]}")
        for rule in payload.get("rules", []):
            lines.append(f"  rule {rule.get('name')}: {rule.get('detail')}")
        log.log(logging.ERROR if failed else logging.WARNING, "%s", "\n".join(lines))


class WebhookAlertNotifier(BaseNotifier):
    """POST the alert as JSON to the URL of an Airflow HTTP connection (via the http provider's ``HttpHook``).

    The connection's host (with scheme, or ``schema`` = ``http``/``https``), port and
    extra headers give the target; ``endpoint`` is appended. A missing connection is
    logged and skipped, so a night without a webhook configured still completes.

    :param http_conn_id: the HTTP connection with the webhook URL
    :param endpoint: path appended to the connection's URL (templated)
    :param timeout: seconds before giving up
    """

    template_fields: Sequence[str] = ("endpoint",)

    def __init__(
        self, *, http_conn_id: str = "mlops_alerts_webhook", endpoint: str = "", timeout: float = 10.0
    ):
        super().__init__()
        self.http_conn_id = http_conn_id
        self.endpoint = endpoint
        self.timeout = timeout

    def notify(self, context: Any) -> None:
        from airflow.providers.http.hooks.http import HttpHook
        from airflow.sdk.exceptions import AirflowNotFoundException

        hook = HttpHook(method="POST", http_conn_id=self.http_conn_id)
        payload = alert_payload(context)
        try:
            response = hook.run(
                endpoint=self.endpoint,
                json=payload,
                headers={"Content-Type": "application/json"},
                extra_options={"timeout": self.timeout},
            )
        except AirflowNotFoundException:
            log.warning("webhook notifier: no Airflow connection %r; alert not sent", self.http_conn_id)
            return
        log.info(
            "webhook notifier: POST %s -> HTTP %s",
            hook.url_from_endpoint(self.endpoint),
            response.status_code,
        )

"""
### Nightly model monitoring

Runs at 06:00, after batch scoring. It tells whoever is on call whether the
production model of **dataset** can still be trusted on the night **date**
(empty: the logical date), and acts when it cannot.

**Every dataset is monitored.** **dataset** defaults to `all`: such a run (the nightly
schedule, a trigger with the defaults) only runs `route_datasets` -> `plan_fan_out` ->
`fan_out`, which starts one run of this DAG per configured dataset with a production model,
with **dataset** and **date** filled in (run id `<this run>__<dataset>`). Pick one dataset
to monitor only that one in this run.

1. `monitor_drift`: the last **window_days** scored days (empty: `monitoring.window_days`
   in `include/configs/<dataset>.yaml`) against the reference profile stored with the
   production model version: PSI, KS / Wasserstein (numeric), chi-square /
   Jensen-Shannon (categorical), missing rates, prediction drift. Verdict OK / WARN / ALERT.
2. `monitor_performance`: realised metrics of days whose labels arrived, CBPE estimates
   for the others, against the model card's holdout metrics.
3. `evaluate_alerts`: the configured alert rules; when one fires, an alert block in the
   log, `monitoring/<dataset>/alerts/<date>.json` and the notifiers (log + webhook on the
   `mlops_alerts_webhook` HTTP connection, skipped if it does not exist).
4. `retrain_gate` short-circuits unless a rule with `retrain: true` fired, so nothing
   retrains on a quiet night; then `request_retrain` writes
   `monitoring/<dataset>/retrain_requests/<date>.json` and updates the retrain-request
   asset that the training DAG is scheduled on.

The report (HTML with plots + its JSON twin) is at
`s3://<bucket>/monitoring/<dataset>/<date>/report.html`; every task log prints where.
"""

from __future__ import annotations

from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import Param, dag

from mlops.storage import DEFAULT_BUCKET
from mlops_operators.dag_defaults import (
    PARTITION_DATE,
    START_DATE,
    dataset_param,
    date_param,
    default_args,
    operator_access,
)
from mlops_operators.failure import WEBHOOK_CONN_ID
from mlops_operators.fanout import ALL_DATASETS, dataset_fan_out
from mlops_operators.monitoring import (
    EvaluateAlertsOperator,
    MonitorDriftOperator,
    MonitorPerformanceOperator,
    RequestRetrainOperator,
    retrain_request_alias,
)
from mlops_operators.notifiers import LogAlertNotifier, WebhookAlertNotifier

#: The monitored night: the ``date`` Param, else the logical date (else run_after).
DAY = PARTITION_DATE


def _retrain_requested(night: dict | None) -> bool:
    """True only when an alert rule with ``retrain: true`` fired tonight."""
    return bool(night and night.get("retrain"))


@dag(
    dag_id="mlops_monitoring",
    schedule="0 6 * * *",
    start_date=START_DATE,
    catchup=False,
    doc_md=__doc__,
    tags=["mlops", "monitoring"],
    default_args=default_args(),
    access_control=operator_access(),
    params={
        "dataset": dataset_param(
            "The dataset (and model) to monitor; 'all' = one run per dataset.",
            default=ALL_DATASETS,
            extra=[ALL_DATASETS],
        ),
        "date": date_param("YYYY-MM-DD; empty = the logical date.", title="Night"),
        "window_days": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            maximum=90,
            title="Current window (days)",
            description="Scored days to compare with the reference; empty = monitoring.window_days.",
        ),
    },
)
def mlops_monitoring():
    route_datasets = dataset_fan_out(
        trigger_dag_id="mlops_monitoring", first_task_id="monitor_drift", forward=("window_days",)
    )
    monitor_drift = MonitorDriftOperator(
        task_id="monitor_drift",
        dataset="{{ params.dataset }}",
        date=DAY,
        window_days="{{ params.window_days }}",
        bucket=DEFAULT_BUCKET,
    )
    monitor_performance = MonitorPerformanceOperator(
        task_id="monitor_performance",
        dataset="{{ params.dataset }}",
        date=DAY,
        bucket=DEFAULT_BUCKET,
    )
    evaluate_alerts = EvaluateAlertsOperator(
        task_id="evaluate_alerts",
        dataset="{{ params.dataset }}",
        date=DAY,
        notifiers=[LogAlertNotifier(), WebhookAlertNotifier(http_conn_id=WEBHOOK_CONN_ID)],
        bucket=DEFAULT_BUCKET,
    )
    retrain_gate = ShortCircuitOperator(
        task_id="retrain_gate",
        python_callable=_retrain_requested,
        op_args=[evaluate_alerts.output],
    )
    request_retrain = RequestRetrainOperator(
        task_id="request_retrain",
        dataset="{{ params.dataset }}",
        date=DAY,
        night=evaluate_alerts.output,
        bucket=DEFAULT_BUCKET,
        outlets=[retrain_request_alias()],
    )
    (
        route_datasets
        >> monitor_drift
        >> monitor_performance
        >> evaluate_alerts
        >> retrain_gate
        >> request_retrain
    )


mlops_monitoring()

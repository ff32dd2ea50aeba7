"""
### Roll back a production model

Triggered by hand from the UI ("Trigger DAG w/ config"). Moves the `production`
pointer of **dataset**'s model back to **target_version** (empty: the pointer's
`previous_version`) with a compare-and-swap on
`s3://<bucket>/models/<dataset>/aliases/production.json`.

The target is checked exactly as a promotion is: its manifest exists, it is not
retired, every artifact matches its sha256, the model loads with the trusted types
and a smoke prediction works. Nothing is copied or changed in the versions; an
audit event with `action: rollback` records who, when and why. The task log says
it plainly: `production: v0007 → v0005 (reason …, by …)`.

Only the `MLOpsRelease` role may trigger it (`access_control`; FAB auth manager of the compose
deployment); viewers can read it, its runs and logs, and get HTTP 403 on a trigger.

The batch-scoring DAG is scheduled on the production-model asset, so it picks the
rolled-back model up on its next run. See the history with
`mlops registry history <dataset>`.
"""

from __future__ import annotations

from airflow.sdk import Param, dag

from mlops.registry import MIN_REASON_LENGTH
from mlops.storage import DEFAULT_BUCKET
from mlops_operators.assets import production_model_alias
from mlops_operators.dag_defaults import START_DATE, dataset_param, default_args, release_access
from mlops_operators.registry import RollbackModelOperator


@dag(
    dag_id="mlops_rollback",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    doc_md=__doc__,
    tags=["mlops", "registry"],
    default_args=default_args(),
    access_control=release_access(),
    params={
        "dataset": dataset_param("The dataset whose registered model to roll back.", title="Model"),
        "target_version": Param(
            None,
            type=["null", "string"],
            pattern=r"^(v?\d+)?$",
            title="Target version",
            description="e.g. v0005. Leave empty to go back to the pointer's previous_version.",
        ),
        "reason": Param(
            type="string",
            minLength=MIN_REASON_LENGTH,
            pattern=r"\S",
            title="Reason",
            description=f"Why (at least {MIN_REASON_LENGTH} characters); recorded in the audit trail.",
        ),
    },
)
def mlops_rollback():
    RollbackModelOperator(
        task_id="rollback_model",
        dataset="{{ params.dataset }}",
        target_version="{{ params.target_version }}",
        reason="{{ params.reason }}",
        bucket=DEFAULT_BUCKET,
        outlets=[production_model_alias()],
    )


mlops_rollback()

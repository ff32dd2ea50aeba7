"""
### Registry retention (weekly)

For each model (or the one chosen), applies the retention policy in
`include/configs/<dataset>.yaml` (`registry.keep_last`, `registry.grace_days`):

- versions beyond the newest `keep_last` get a create-only tombstone
  (`models/<name>/retired/<version>.json`);
- **never retired**: any version an alias points to, or its `previous_version`,
  and anything younger than the grace period;
- versions retired longer than the grace period have their artifacts deleted
  (the manifest, the tombstone, the pointer history and the audit trail are kept).

Every retirement and deletion writes an audit event. Params override the policy for
one run. It deletes registry artifacts, so only the `MLOpsRelease` role may trigger it.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from mlops.config import available_datasets
from mlops.storage import DEFAULT_BUCKET
from mlops_operators.dag_defaults import START_DATE, dataset_param, default_args, release_access
from mlops_operators.registry import RetireModelsOperator

ALL = "all"


@dag(
    dag_id="mlops_retention",
    schedule="@weekly",
    start_date=START_DATE,
    catchup=False,
    doc_md=__doc__,
    tags=["mlops", "registry"],
    default_args=default_args(),
    access_control=release_access(),
    params={
        "dataset": dataset_param("One model, or all of them.", default=ALL, title="Model", extra=[ALL]),
        "keep_last": Param(
            None,
            type=["null", "integer"],
            minimum=1,
            title="Keep last",
            description="Newest versions never retired (empty: registry.keep_last of the config).",
        ),
        "grace_days": Param(
            None,
            type=["null", "integer"],
            minimum=0,
            title="Grace days",
            description="Nothing younger is retired (empty: registry.grace_days of the config).",
        ),
    },
)
def mlops_retention():
    @task
    def plan_models(**context) -> list[str]:
        """The models this run applies the policy to."""
        chosen = context["params"]["dataset"]
        return available_datasets() if chosen == ALL else [chosen]

    RetireModelsOperator.partial(
        task_id="retire_models",
        keep_last="{{ params.keep_last }}",
        grace_days="{{ params.grace_days }}",
        bucket=DEFAULT_BUCKET,
    ).expand(dataset=plan_models())


mlops_retention()

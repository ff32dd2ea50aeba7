"""One run per dataset: how the per-dataset DAGs (scoring, monitoring, training) serve every dataset.

Their ``dataset`` Param defaults to :data:`ALL_DATASETS`. A run with ``dataset=all`` (the
nightly schedule, an Asset event, a trigger with the defaults) does not score or monitor
anything itself: :class:`RouteDatasetsOperator` sends it to :class:`PlanFanOutOperator`,
which lists the datasets and the day, and a mapped ``TriggerDagRunOperator`` (``fan_out``)
starts one run of the same DAG per dataset, with ``dataset`` and ``date`` filled in. A run
for one dataset goes straight to the DAG's first real task. So every dataset gets its own
run, its own logs and its own success or failure, and the DAG ids stay the same.

Which datasets: every dataset with a config (``include/configs/*.yaml``), or, for a run
triggered by Assets, the datasets whose production model moved. A dataset whose
``production`` model does not exist yet is left out with one log line (nothing to score or
monitor until it is trained and promoted), unless the run pins another version.

Training's form defaults to one dataset (a manual retrain is for one model), but its nightly
scheduled run fans out the same way (``schedule_fans_out``), every configured dataset, with
or without a production model (a first model is trained too), and no ``date`` (a child's
window ends on the day it runs). A retrain request (Asset) trains only its dataset.

Child run ids are ``<parent run id>__<dataset>`` and a child that already exists is left
alone, so a retried fan-out starts nothing twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.bases.branch import BaseBranchOperator

from mlops.config import RESERVED_NAME
from mlops.storage import DEFAULT_BUCKET
from mlops_operators.common import fail_fast_on_bad_input, s3_client

#: The ``dataset`` Param value that means "every configured dataset, one run each".
ALL_DATASETS = RESERVED_NAME
PLAN_TASK_ID = "plan_fan_out"
FAN_OUT_TASK_ID = "fan_out"


def partition_day(params: dict[str, Any], dag_run: Any) -> str:
    """The run's day: the ``date`` Param, else the logical date, else ``run_after`` (``YYYY-MM-DD``)."""
    given = params.get("date")
    if given not in (None, "", "None"):
        return str(given)[:10]
    when = getattr(dag_run, "logical_date", None) or dag_run.run_after
    return when.date().isoformat()


def asset_datasets(context: Any) -> list[str]:
    """Datasets whose production pointer (``s3://<bucket>/models/<dataset>/aliases/production.json``)
    triggered this run, in order; empty when no Asset did."""
    events = (context or {}).get("triggering_asset_events") or {}
    try:
        assets = list(events)
    except TypeError:
        return []
    found = []
    for asset in assets:
        parts = str(getattr(asset, "uri", "") or "").rstrip("/").split("/")
        if len(parts) >= 4 and parts[-2] == "aliases" and parts[-4] == "models" and parts[-3] not in found:
            found.append(parts[-3])
    return found


class RouteDatasetsOperator(BaseBranchOperator):
    """Branch: a run for one dataset goes to ``first_task_id``; a ``dataset=all`` run fans out.

    :param first_task_id: the DAG's first task for a single dataset
    :param schedule_fans_out: a scheduled (cron) run fans out whatever its ``dataset`` Param says
        (a DAG whose form defaults to one dataset, but whose nightly run is for every dataset)
    """

    def __init__(self, *, first_task_id: str, schedule_fans_out: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.first_task_id = first_task_id
        self.schedule_fans_out = schedule_fans_out

    def choose_branch(self, context: Any) -> str:
        dataset = context["params"].get("dataset")
        run_type = getattr(context["dag_run"], "run_type", None)
        scheduled = str(getattr(run_type, "value", run_type) or "") == "scheduled"
        if dataset == ALL_DATASETS or (self.schedule_fans_out and scheduled):
            self.log.info(
                "dataset=%s%s: one run per dataset (%s)",
                dataset,
                " (scheduled run: every dataset)" if dataset != ALL_DATASETS else "",
                PLAN_TASK_ID,
            )
            return PLAN_TASK_ID
        self.log.info("dataset=%s: this run handles it (%s)", dataset, self.first_task_id)
        return self.first_task_id


class PlanFanOutOperator(BaseOperator):
    """List the datasets of a ``dataset=all`` run and the conf of one child run each.

    Returns ``[{"trigger_run_id": ..., "conf": {...}}, ...]`` for ``TriggerDagRunOperator.expand_kwargs``.

    :param forward: Params copied into every child's conf (besides ``dataset`` and ``date``)
    :param require_production: leave out datasets without a ``production`` model (when the
        ``version`` Param, if any, is ``production``)
    :param with_date: put the run's day in each child's ``date`` (for DAGs with a ``date`` Param)
    :param bucket: the registry bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields: Sequence[str] = ("bucket",)

    def __init__(
        self,
        *,
        forward: Sequence[str] = (),
        require_production: bool = True,
        with_date: bool = True,
        bucket: str = DEFAULT_BUCKET,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.forward = forward
        self.require_production = require_production
        self.with_date = with_date
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from mlops.config import available_datasets

        params, dag_run = context["params"], context["dag_run"]
        day = partition_day(params, dag_run)
        triggered = asset_datasets(context)
        datasets = [d for d in triggered if d in available_datasets()] or available_datasets()
        source = f"production model moved: {triggered}" if triggered else "every configured dataset"
        with fail_fast_on_bad_input(self.log):
            datasets = self._with_models(datasets, params)
        base = {k: params.get(k) for k in self.forward}
        dated = {"date": day} if self.with_date else {}
        runs = [
            {"trigger_run_id": f"{dag_run.run_id}__{d}", "conf": {**base, "dataset": d, **dated}}
            for d in datasets
        ]
        self.log.info("fan out %s (%s) on %s: %d run(s)", datasets, source, day, len(runs))
        return runs

    def _with_models(self, datasets: list[str], params: dict[str, Any]) -> list[str]:
        """The datasets that have a production model (all of them when a version is pinned)."""
        from mlops import artifacts, storage

        if not self.require_production or params.get("version", "production") != "production":
            return datasets
        client = s3_client(self.aws_conn_id)
        kept = []
        for dataset in datasets:
            uri = artifacts.production_pointer_uri(self.bucket, dataset)
            if storage.exists(client, uri):
                kept.append(dataset)
            else:
                self.log.info(
                    "skip %s: no production model yet (%s); train and promote it first", dataset, uri
                )
        return kept


def dataset_fan_out(
    *,
    trigger_dag_id: str,
    first_task_id: str,
    forward: Sequence[str] = (),
    schedule_fans_out: bool = False,
    require_production: bool = True,
    with_date: bool = True,
) -> BaseOperator:
    """Add ``route_datasets`` -> ``plan_fan_out`` -> ``fan_out`` to the DAG being defined; returns the router.

    Wire the router upstream of ``first_task_id``. The keywords are those of
    :class:`RouteDatasetsOperator` and :class:`PlanFanOutOperator`.
    """
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    route = RouteDatasetsOperator(
        task_id="route_datasets", first_task_id=first_task_id, schedule_fans_out=schedule_fans_out
    )
    plan = PlanFanOutOperator(
        task_id=PLAN_TASK_ID, forward=forward, require_production=require_production, with_date=with_date
    )
    fan_out = TriggerDagRunOperator.partial(
        task_id=FAN_OUT_TASK_ID,
        trigger_dag_id=trigger_dag_id,
        logical_date=None,
        skip_when_already_exists=True,
        wait_for_completion=False,
    ).expand_kwargs(plan.output)
    route >> plan >> fan_out
    return route

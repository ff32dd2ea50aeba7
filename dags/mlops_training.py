"""
### Training and the champion/challenger gate

Turns a validated, labelled window of daily batches into a candidate model, evaluates it
against the current production model on the *same* holdout, and publishes and promotes
it only when it is blessed.

Runs nightly at 02:00 UTC for every dataset (`route_datasets` starts one run per dataset,
`<run id>__<dataset>`, whose window ends on the day it runs) and whenever monitoring files a
retrain request for a dataset (that run trains the requested dataset). A manual trigger trains
the **dataset** of the form (`all`: one run per dataset).
Trigger it from the UI to pick the **dataset**, the **window_days**, an **estimator**
override (e.g. `dummy` to see the gate reject a weak challenger), **search** (`none`
to skip the hyperparameter search) and **force_promote** (off by default; audited with
**reason** and the triggering user).

**Who may trigger it:** only the `MLOpsRelease` role (`access_control`; FAB auth manager of the
compose deployment). Airflow cannot restrict a single Param, and `force_promote` can promote a
candidate the gate did not bless, so triggering this DAG at all is a release decision. Viewers
read everything. Schedule and retrain-request runs need no one.

0. `route_datasets`: a scheduled run or `dataset=all` goes to `plan_fan_out` and `fan_out`
   (one child run per dataset); any other run goes on to `plan_window`.
1. `plan_window`: the days in the window whose batch exists and whose late labels were
   due and have arrived (`label_delay_days`); fails if fewer than `holdout_days + 1`.
2. `validate_window`: the Great Expectations suite with the labels on every day of the
   window, in one task (one process, GX imported once); the log has one verdict line per day.
   A day whose batch version and suite are unchanged since its recorded result is not
   validated again ("reused validation result from ..."). A rejected day is quarantined and
   fails the run before training; with **skip_rejected_batches** on, it is quarantined and
   left out of the window instead.
3. `train_model`: joins labels by id, splits the last `holdout_days` days off as the
   holdout, fits the config's pipeline (imputation, scaling, one-hot, estimator, search
   or ensemble, seeded), writes `model.skops`, `training.json` (split and lineage: URIs,
   S3 VersionIds, hashes, row counts) and `reference_profile.json` under
   `candidates/<dataset>/<run>/`.
4. `evaluate_model`: candidate and production on the same holdout; `metrics.json` and
   `model_card.html` (ROC/PR or residuals, confusion matrix, permutation importance, slices).
5. `gate_model`: floors, primary metric vs production, slices, behavioural checks;
   writes `blessing.json`. **Not blessed: the rest is skipped and the run stays green.**
6. `publish_model`: the blessed candidate becomes the next immutable registry version.
7. `promote_model`: moves `production` with a compare-and-swap on the pointer ETag the
   gate compared against; scoring runs on the new model (production Asset).
"""

from __future__ import annotations

from airflow.sdk import AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag

from mlops.config import ESTIMATORS, available_datasets
from mlops.storage import DEFAULT_BUCKET
from mlops_operators.assets import production_model_alias, retrain_request_asset
from mlops_operators.dag_defaults import (
    EVALUATION_TIMEOUT,
    START_DATE,
    TRAINING_TIMEOUT,
    dataset_param,
    default_args,
    release_access,
)
from mlops_operators.evaluation import EvaluateModelOperator, GateModelOperator
from mlops_operators.fanout import ALL_DATASETS, dataset_fan_out
from mlops_operators.registry import PromoteModelOperator, PublishModelOperator
from mlops_operators.training import PlanTrainingWindowOperator, TrainModelOperator
from mlops_operators.validation import ValidateWindowOperator

#: The window's last day: the logical date (for an asset-triggered run, the time it was triggered).
WINDOW_END = "{{ (dag_run.logical_date or dag_run.run_after) | ds }}"
#: The dataset this run trains (the Param, or the dataset of the triggering retrain request).
DATASET = "{{ ti.xcom_pull(task_ids='plan_window', key='dataset') }}"
CANDIDATE = "{{ ti.xcom_pull(task_ids='train_model', key='candidate_prefix') }}"
#: Same values as mlops.training.ESTIMATOR_NAMES / SEARCH_MODES (not imported: that module loads numpy).
ESTIMATOR_NAMES = sorted(set(ESTIMATORS["classification"]) | set(ESTIMATORS["regression"]))
SEARCH_MODES = ["config", "none"]


@dag(
    dag_id="mlops_training",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 2 * * *", timezone="UTC"),
        assets=AssetAny(*(retrain_request_asset(name) for name in available_datasets())),
    ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["mlops", "training"],
    default_args=default_args(),
    access_control=release_access(),
    params={
        "dataset": dataset_param(
            "The dataset to train on (the registry model of the same name); all = one run per dataset "
            "(what the nightly schedule does).",
            default="credit",
            extra=[ALL_DATASETS],
        ),
        "window_days": Param(
            None,
            type=["null", "integer"],
            minimum=2,
            title="Window (days)",
            description="Days in the training window ending at the logical date; empty = training.window_days.",
        ),
        "estimator": Param(
            None,
            type=["null", "string"],
            enum=[None, *ESTIMATOR_NAMES],
            title="Estimator override",
            description="Train this estimator with its defaults instead of the config's (e.g. dummy); "
            "empty = model.estimator of the config.",
        ),
        "search": Param(
            "config",
            type="string",
            enum=SEARCH_MODES,
            title="Hyperparameter search",
            description="config = the search in the YAML; none = fit the config params as given.",
        ),
        "skip_rejected_batches": Param(
            False,
            type="boolean",
            title="Skip rejected batches",
            description="Off (default): a batch in the window that fails validation is quarantined and the "
            "run fails before training. On: it is quarantined and left out of the window, and training "
            "goes on with the accepted days.",
        ),
        "force_promote": Param(
            False,
            type="boolean",
            title="Force promote",
            description="Publish and promote even if the gate does not bless the candidate "
            "(behavioural checks must still pass). Audited with the reason and the user.",
        ),
        "reason": Param(
            "scheduled retrain",
            type="string",
            title="Reason",
            description="Why this run; recorded in the registry audit trail (and with force_promote).",
        ),
    },
)
def mlops_training():
    route_datasets = dataset_fan_out(
        trigger_dag_id="mlops_training",
        first_task_id="plan_window",
        forward=("window_days", "estimator", "search", "skip_rejected_batches", "force_promote", "reason"),
        schedule_fans_out=True,
        require_production=False,
        with_date=False,
    )
    plan = PlanTrainingWindowOperator(
        task_id="plan_window",
        dataset="{{ params.dataset }}",
        window_end=WINDOW_END,
        window_days="{{ params.window_days }}",
        bucket=DEFAULT_BUCKET,
    )
    validate = ValidateWindowOperator(
        task_id="validate_window",
        dataset=DATASET,
        batch_uris=plan.output,
        labelled=True,
        fail_on_reject="{{ not params.skip_rejected_batches }}",
    )
    train = TrainModelOperator(
        task_id="train_model",
        dataset=DATASET,
        window_end=WINDOW_END,
        window_days="{{ params.window_days }}",
        estimator="{{ params.estimator }}",
        search="{{ params.search }}",
        bucket=DEFAULT_BUCKET,
        execution_timeout=TRAINING_TIMEOUT,
    )
    evaluate = EvaluateModelOperator(
        task_id="evaluate_model",
        dataset=DATASET,
        candidate_prefix=CANDIDATE,
        bucket=DEFAULT_BUCKET,
        execution_timeout=EVALUATION_TIMEOUT,
    )
    gate = GateModelOperator(
        task_id="gate_model",
        dataset=DATASET,
        candidate_prefix=CANDIDATE,
        force_promote="{{ params.force_promote }}",
        reason="{{ params.reason }}",
    )
    publish = PublishModelOperator(
        task_id="publish_model",
        dataset=DATASET,
        candidate_prefix=CANDIDATE,
        force="{{ params.force_promote }}",
        reason="{{ params.reason }}",
        bucket=DEFAULT_BUCKET,
    )
    promote = PromoteModelOperator(
        task_id="promote_model",
        dataset=DATASET,
        force="{{ params.force_promote }}",
        reason="{{ params.reason }}",
        bucket=DEFAULT_BUCKET,
        outlets=[production_model_alias()],
    )
    route_datasets >> plan >> validate >> train >> evaluate >> gate >> publish >> promote


mlops_training()

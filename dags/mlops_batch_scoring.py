"""
### Batch scoring (deployment)

Scores one day's batch of **dataset** with the production model (or a pinned **version**)
and publishes the predictions to `s3://<bucket>/predictions/<dataset>/<date>/`.

Runs nightly at 04:00 UTC for the logical date, and whenever the production pointer of
any dataset's model moves (promotion or rollback update its Asset), so a new production
model rescores the day's batch. **date** empty = the logical date (for an asset-triggered
run, the date it was triggered).

**Every dataset is scored.** **dataset** defaults to `all`: such a run (the schedule, an
Asset event, a trigger with the defaults) only runs `route_datasets` -> `plan_fan_out` ->
`fan_out`, which starts one run of this DAG per configured dataset with a production model
(for an Asset event: the datasets whose model moved), with **dataset** and **date** filled
in (run id `<this run>__<dataset>`). Pick one dataset to score only that one in this run.

1. `wait_for_batch`: deferrable S3 sensor on `data/<dataset>/features/dt=<date>/batch.parquet`
   (times out after 6 h). A late upstream delays the run; no worker slot is held while
   waiting (the triggerer polls S3).
2. `plan_scoring`: resolves the model reference **once** for the whole run, verifies the
   `model.skops` sha256 against the registry manifest and loads it with the pinned skops
   trusted types, pins the input's S3 VersionId, cuts **shards** row ranges on the chunk
   grid. A checksum mismatch fails here, before anything is written.
3. `validate_batch`: the Great Expectations suite of the dataset, streamed over the batch
   (memory stays flat at any size); a failed batch is quarantined and the run stops (nothing
   is scored). A batch version already validated with the same suite is not validated again.
4. `score_batch` (mapped, one task per shard): streams the rows in chunks of
   `scoring.chunk_size`, writes the part and the rejects (rows that cannot be scored,
   with the reason) under a run-specific `attempt=<id>/` prefix.
5. `finalize_partition`: fails if the reject share exceeds `scoring.max_reject_fraction`;
   otherwise writes `_SUCCESS` last (row counts, checksums, model version, input
   VersionId) and removes stale objects of earlier attempts in the same partition.

Readers trust only the parts `_SUCCESS` lists. Sharded and unsharded output is identical.
Backfill (`airflow backfill create --dag-id mlops_batch_scoring --from-date ... --to-date ...`)
re-scores exactly those dates' partitions: the partition depends only on **date** or the
logical date (leave **date** empty in a backfill).
"""

from __future__ import annotations

from airflow.providers.amazon.aws.sensors.s3 import S3KeySensor
from airflow.sdk import AssetAny, AssetOrTimeSchedule, CronTriggerTimetable, Param, dag

from mlops.config import available_datasets
from mlops.storage import DEFAULT_BUCKET
from mlops_operators.assets import production_model_asset
from mlops_operators.dag_defaults import (
    BATCH_URI,
    PARTITION_DATE,
    SCORING_TIMEOUT,
    START_DATE,
    dataset_param,
    date_param,
    default_args,
    operator_access,
)
from mlops_operators.fanout import ALL_DATASETS, dataset_fan_out
from mlops_operators.scoring import FinalizePartitionOperator, PlanScoringOperator, ScoreBatchOperator
from mlops_operators.validation import ValidateBatchOperator

#: The day's batch: the ``date`` Param, else the logical date, else (asset-triggered runs) run_after.
INPUT_URI = BATCH_URI
OUTPUT_URI = f"s3://{DEFAULT_BUCKET}/predictions/{{{{ params.dataset }}}}/{PARTITION_DATE}/"


@dag(
    dag_id="mlops_batch_scoring",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 4 * * *", timezone="UTC"),
        assets=AssetAny(*(production_model_asset(name) for name in available_datasets())),
    ),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["mlops", "scoring"],
    default_args=default_args(),
    access_control=operator_access(),
    params={
        "dataset": dataset_param(
            "The dataset to score (the model of the same name); 'all' = one run per dataset.",
            default=ALL_DATASETS,
            extra=[ALL_DATASETS],
        ),
        "date": date_param("YYYY-MM-DD partition to score; empty = the logical date."),
        "version": Param(
            "production",
            type="string",
            pattern=r"^[A-Za-z0-9_.-]+$",
            title="Model version",
            description="An alias ('production') or a pinned version such as v0007.",
        ),
        "shards": Param(
            1,
            type="integer",
            minimum=1,
            maximum=32,
            title="Shards",
            description="Split the partition into N row ranges scored in parallel (same output as 1).",
        ),
    },
)
def mlops_batch_scoring():
    route_datasets = dataset_fan_out(
        trigger_dag_id="mlops_batch_scoring", first_task_id="wait_for_batch", forward=("version", "shards")
    )
    wait_for_batch = S3KeySensor(
        task_id="wait_for_batch",
        bucket_key=INPUT_URI,
        aws_conn_id="aws_default",
        deferrable=True,
        poke_interval=300,
        timeout=6 * 60 * 60,
    )
    plan_scoring = PlanScoringOperator(
        task_id="plan_scoring",
        dataset="{{ params.dataset }}",
        input_uri=INPUT_URI,
        output_uri=OUTPUT_URI,
        version="{{ params.version }}",
        shards="{{ params.shards }}",
    )
    validate_batch = ValidateBatchOperator(
        task_id="validate_batch",
        dataset="{{ params.dataset }}",
        batch_uri=INPUT_URI,
    )
    score_batch = ScoreBatchOperator.partial(
        task_id="score_batch",
        dataset="{{ params.dataset }}",
        validation=validate_batch.output,
        execution_timeout=SCORING_TIMEOUT,
    ).expand(plan=plan_scoring.output)
    finalize_partition = FinalizePartitionOperator(
        task_id="finalize_partition",
        dataset="{{ params.dataset }}",
        shard_results=score_batch.output,
    )
    route_datasets >> wait_for_batch >> plan_scoring >> validate_batch >> score_batch >> finalize_partition


mlops_batch_scoring()

"""
### Validate one batch (Great Expectations)

Checks one day's batch of **dataset** against its expectation suite
(`include/expectations/<dataset>.json`, rendered from the `validation:` section of
`include/configs/<dataset>.yaml` by `mlops suites`). Trigger it from the UI to re-check a
batch after an upstream fix, or to look at a batch before training or scoring touch it.
The training and scoring DAGs run the same `ValidateBatchOperator` before they read data.

1. `validate_batch`: schema, nulls (per-column tolerances), ranges, category sets, id
   uniqueness, row-count floor, mean/quantile sanity; with **labelled** also the target's
   values and class balance (the late labels are joined). Writes
   `<batch>.validation.json` and the GX Data Docs page `<batch>.validation.html` beside
   the batch. A failed batch is copied byte-for-byte to `quarantine/<key>` with its report
   (the original stays), each failing expectation is logged in one line, and the run stops.
2. `summarize_batches`: runs only if the batch passed; logs the verdict of every
   validated batch of the dataset.

**date** empty = the logical date (or the trigger time for a run without one).
"""

from __future__ import annotations

from airflow.sdk import Param, dag, task

from mlops_operators.dag_defaults import (
    BATCH_URI,
    START_DATE,
    dataset_param,
    date_param,
    default_args,
    operator_access,
)
from mlops_operators.validation import ValidateBatchOperator


@dag(
    dag_id="mlops_validation",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    doc_md=__doc__,
    tags=["mlops", "validation"],
    default_args=default_args(),
    access_control=operator_access(),
    params={
        "dataset": dataset_param("Whose suite to apply (include/expectations/<dataset>.json)."),
        "date": date_param("YYYY-MM-DD batch to validate; empty = the logical date."),
        "labelled": Param(
            False,
            type="boolean",
            title="Labelled",
            description="Join the late labels and check the target (values, class balance) too.",
        ),
    },
)
def mlops_validation():
    validate_batch = ValidateBatchOperator(
        task_id="validate_batch",
        dataset="{{ params.dataset }}",
        batch_uri=BATCH_URI,
        labelled="{{ params.labelled }}",
    )

    @task
    def summarize_batches(result: dict) -> list[dict]:
        """The verdict of every validated batch of the dataset (the gate above passed)."""
        import logging

        from mlops import storage
        from mlops.validation import summarize_validations
        from mlops_operators.common import fail_fast_on_bad_input, s3_client

        log = logging.getLogger("airflow.task")
        bucket, _ = storage.parse_uri(result["batch_uri"])
        with fail_fast_on_bad_input(log):
            rows = summarize_validations(s3_client("aws_default"), bucket, result["dataset"])
        for row in rows:
            log.info("%s %s %s", row["date"], row["verdict"].upper(), (row["failures"] or [""])[0])
        log.info(
            "%d validated batches of %s, %d rejected",
            len(rows),
            result["dataset"],
            sum(not r["success"] for r in rows),
        )
        return [{k: r.get(k) for k in ("date", "verdict", "batch_uri")} for r in rows]

    summarize_batches(validate_batch.output)


mlops_validation()

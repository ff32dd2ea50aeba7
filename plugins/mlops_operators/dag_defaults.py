"""What every MLOps DAG shares: default_args, start date, and the ``dataset`` and ``date`` Params.

DAG files keep their own ``schedule=``, ``catchup=False``, ``doc_md=__doc__`` and ``tags``.

Optional Params are templated one way: ``"{{ params.x }}"``, with no Jinja fallback. A Param left
empty renders ``"None"``, and the operator's parser (:mod:`mlops_operators.params`) reads that as
"not given" and applies its default (usually the dataset's config). The one exception is the
partition date, whose fallback is the run's logical date: use :data:`PARTITION_DATE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pendulum
from airflow.sdk import Param

from mlops.config import available_datasets
from mlops.storage import DEFAULT_BUCKET

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")

#: The partition date: the ``date`` Param, else the logical date, else (runs without one) run_after.
PARTITION_DATE = "{{ params.date or (dag_run.logical_date or dag_run.run_after) | ds }}"
#: The day's feature batch of the ``dataset`` Param on :data:`PARTITION_DATE`.
BATCH_URI = f"s3://{DEFAULT_BUCKET}/data/{{{{ params.dataset }}}}/features/dt={PARTITION_DATE}/batch.parquet"


def default_args() -> dict[str, Any]:
    """``default_args`` of every MLOps DAG (a new dict each time): owner, retries, retry delay."""
    return {"owner": "mlops", "retries": 2, "retry_delay": timedelta(minutes=1)}


def dataset_param(
    description: str,
    *,
    default: str | None = None,
    title: str = "Dataset",
    extra: Sequence[str] = (),
) -> Param:
    """A ``dataset`` Param: one of the datasets with a config (after any ``extra`` choices).

    ``default`` defaults to the first available dataset.
    """
    datasets = available_datasets()
    return Param(
        datasets[0] if default is None else default,
        type="string",
        enum=[*extra, *datasets],
        title=title,
        description=description,
    )


def date_param(description: str, *, title: str = "Date") -> Param:
    """An optional ``YYYY-MM-DD`` ``date`` Param (empty means the logical date)."""
    return Param(None, type=["null", "string"], format="date", title=title, description=description)

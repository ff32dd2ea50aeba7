"""What every MLOps DAG shares: default_args, access control, start date, and the ``dataset`` and ``date`` Params.

DAG files keep their own ``schedule=``, ``catchup=False``, ``doc_md=__doc__`` and ``tags``.

**Retries and timeouts** are set once, in :func:`default_args`: a task that fails with a
retryable error (an S3 outage, see :mod:`mlops_operators.common`) is retried
:data:`RETRIES` times after 1, 2, 4 ... minutes (exponential backoff, at most
:data:`MAX_RETRY_DELAY`); bad input fails at once. Every task has an ``execution_timeout``:
:data:`TASK_TIMEOUT` by default, longer ones (:data:`TRAINING_TIMEOUT`, ...) set on the task.
A task that fails for good calls :func:`mlops_operators.failure.notify_task_failure` (log and
webhook notice).

**Access control** (enforced by the FAB auth manager of the compose deployment; the embedded
SimpleAuthManager of ``make up`` ignores it): the built-in ``Viewer`` role reads every DAG, run
and log but triggers nothing. DAGs that move or delete registry state (training, whose
``force_promote`` Param can promote an unblessed model, rollback and retention) can be triggered
only by :data:`RELEASE_ROLE`; the routine DAGs (validation, scoring, monitoring) also by
:data:`OPERATOR_ROLE`. Both roles must exist before the DAGs are parsed (the compose
``airflow-init`` creates them). Give people ``Viewer`` plus one of these roles, never the
built-in ``User`` or ``Op`` roles: their global DAG permissions override per-DAG access control.

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

from mlops.config import available_datasets, config_dir
from mlops.storage import DEFAULT_BUCKET

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")

#: The partition date: the ``date`` Param, else the logical date, else (runs without one) run_after.
PARTITION_DATE = "{{ params.date or (dag_run.logical_date or dag_run.run_after) | ds }}"
#: The day's feature batch of the ``dataset`` Param on :data:`PARTITION_DATE`.
BATCH_URI = f"s3://{DEFAULT_BUCKET}/data/{{{{ params.dataset }}}}/features/dt={PARTITION_DATE}/batch.parquet"


#: Retries of a task that failed with a retryable error (an outage), after the first try.
RETRIES = 3
#: First retry delay; then doubled each retry (``retry_exponential_backoff``), capped at MAX_RETRY_DELAY.
RETRY_DELAY = timedelta(minutes=1)
RETRY_BACKOFF = 2.0
MAX_RETRY_DELAY = timedelta(minutes=15)
#: ``execution_timeout`` of a task that sets none: I/O and checks on one day's batch.
TASK_TIMEOUT = timedelta(minutes=30)
#: Fitting a model, with a hyperparameter search, on a training window.
TRAINING_TIMEOUT = timedelta(hours=2)
#: Evaluation with permutation importance and slices, and scoring one shard of a day's batch.
EVALUATION_TIMEOUT = timedelta(hours=1)
SCORING_TIMEOUT = timedelta(hours=1)

#: May trigger every MLOps DAG, including those that move production (training, rollback, retention).
RELEASE_ROLE = "MLOpsRelease"
#: May trigger the routine DAGs (validation, scoring, monitoring), never production-moving ones.
OPERATOR_ROLE = "MLOpsOperator"
#: What a role with trigger rights gets on a DAG: see it, pause/clear it (edit), see and create runs.
_TRIGGER = {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_read", "can_create"}}


def default_args() -> dict[str, Any]:
    """``default_args`` of every MLOps DAG (a new dict each time).

    Owner, retries with exponential backoff, the default ``execution_timeout`` and the failure
    notification callback.
    """
    from mlops_operators.failure import notify_task_failure

    return {
        "owner": "mlops",
        "retries": RETRIES,
        "retry_delay": RETRY_DELAY,
        "retry_exponential_backoff": RETRY_BACKOFF,
        "max_retry_delay": MAX_RETRY_DELAY,
        "execution_timeout": TASK_TIMEOUT,
        "on_failure_callback": [notify_task_failure],
    }


def release_access() -> dict[str, dict[str, set[str]]]:
    """``access_control`` of a DAG that changes production or the registry: only the release role triggers it."""
    return {RELEASE_ROLE: {k: set(v) for k, v in _TRIGGER.items()}}


def operator_access() -> dict[str, dict[str, set[str]]]:
    """``access_control`` of a routine DAG: the operator and the release roles trigger it."""
    return {role: {k: set(v) for k, v in _TRIGGER.items()} for role in (OPERATOR_ROLE, RELEASE_ROLE)}


def dataset_param(
    description: str,
    *,
    default: str | None = None,
    title: str = "Dataset",
    extra: Sequence[str] = (),
) -> Param:
    """A ``dataset`` Param: one of the datasets with a config (after any ``extra`` choices).

    ``default`` is used when it is one of the choices (a deployment's own config directory may not
    have the example datasets); otherwise the first available dataset is.
    """
    datasets = available_datasets()
    if not datasets:
        raise ValueError(
            f"No dataset configs in {config_dir()}: add one with `mlops init NAME --sample FILE` "
            "(or point MLOPS_CONFIG_DIR at a directory of <dataset>.yaml files)."
        )
    return Param(
        default if default in (*extra, *datasets) else datasets[0],
        type="string",
        enum=[*extra, *datasets],
        title=title,
        description=description,
    )


def date_param(description: str, *, title: str = "Date") -> Param:
    """An optional ``YYYY-MM-DD`` ``date`` Param (empty means the logical date)."""
    return Param(None, type=["null", "string"], format="date", title=title, description=description)

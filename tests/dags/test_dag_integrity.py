"""Every DAG imports, has an explicit schedule, tags, doc_md, retries with backoff, timeouts,
the failure callback and access control."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p.stem for p in (REPO / "dags").glob("mlops_*.py"))


def test_dagbag_has_no_import_errors(dagbag):
    assert not dagbag.import_errors, dagbag.import_errors
    assert DAG_FILES, "no DAG files found"


@pytest.mark.parametrize("dag_id", DAG_FILES)
def test_dag_contract(dagbag, dag_id):
    dag = dagbag.get_dag(dag_id)
    assert dag is not None, f"{dag_id}.py must define a DAG with dag_id == file stem"
    assert dag.tags and "mlops" in dag.tags
    assert dag.doc_md, "doc_md=__doc__ is required"
    assert dag.catchup is False
    source = (REPO / "dags" / f"{dag_id}.py").read_text()
    assert "schedule=" in source, "the schedule must be explicit"
    for task in dag.tasks:
        assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"
        assert task.owner == "mlops"


@pytest.mark.parametrize("dag_id", DAG_FILES)
def test_every_task_retries_with_backoff_times_out_and_notifies(dagbag, dag_id):
    """Retry policy, timeout and failure callback come once from dag_defaults.default_args()."""
    from mlops_operators import dag_defaults
    from mlops_operators.failure import notify_task_failure

    dag = dagbag.get_dag(dag_id)
    for task in dag.tasks:
        where = f"{dag_id}.{task.task_id}"
        assert task.retries == dag_defaults.RETRIES, where
        assert task.retry_delay == dag_defaults.RETRY_DELAY, where
        assert task.retry_exponential_backoff == dag_defaults.RETRY_BACKOFF > 1, where
        assert task.max_retry_delay == dag_defaults.MAX_RETRY_DELAY, where
        timeout = task.partial_kwargs.get("execution_timeout") if hasattr(task, "partial_kwargs") else None
        timeout = timeout or task.execution_timeout
        assert timeout is not None and timeout.total_seconds() > 0, f"{where} has no execution_timeout"
        callbacks = (
            task.partial_kwargs.get("on_failure_callback") if hasattr(task, "partial_kwargs") else None
        )
        callbacks = callbacks or task.on_failure_callback
        assert notify_task_failure in list(callbacks or []), f"{where} sends no failure notice"


def test_long_tasks_get_longer_timeouts(dagbag):
    from mlops_operators import dag_defaults

    training = dagbag.get_dag("mlops_training")
    assert training.get_task("train_model").execution_timeout == dag_defaults.TRAINING_TIMEOUT
    assert training.get_task("evaluate_model").execution_timeout == dag_defaults.EVALUATION_TIMEOUT
    assert training.get_task("gate_model").execution_timeout == dag_defaults.TASK_TIMEOUT
    scoring = dagbag.get_dag("mlops_batch_scoring").get_task("score_batch")
    assert scoring.partial_kwargs["execution_timeout"] == dag_defaults.SCORING_TIMEOUT


RELEASE_ONLY = {"mlops_training", "mlops_rollback", "mlops_retention"}


@pytest.mark.parametrize("dag_id", DAG_FILES)
def test_access_control(dagbag, dag_id):
    """Only the release role triggers production-moving DAGs; the operator role the routine ones."""
    from mlops_operators.dag_defaults import OPERATOR_ROLE, RELEASE_ROLE

    access = dagbag.get_dag(dag_id).access_control
    expected = {RELEASE_ROLE} if dag_id in RELEASE_ONLY else {RELEASE_ROLE, OPERATOR_ROLE}
    assert set(access) == expected, access
    for perms in access.values():
        assert set(perms["DAG Runs"]) == {"can_read", "can_create"}
        assert set(perms["DAGs"]) == {"can_read", "can_edit"}


def _templated_values(task) -> list[str]:
    """The string values of a task's template fields (a mapped task's partial arguments too)."""
    kwargs = getattr(task, "partial_kwargs", None)
    values = [kwargs.get(f) if kwargs is not None else getattr(task, f, None) for f in task.template_fields]
    return [v for v in values if isinstance(v, str)]


def _nullable_params(dag) -> set[str]:
    types = {name: dag.params.get_param(name).schema.get("type") for name in dag.params}
    return {name for name, t in types.items() if t == "null" or (isinstance(t, list) and "null" in t)}


def _misused(value: str, nullable: set[str]) -> list[str]:
    """Jinja expressions in ``value`` that use a nullable Param other than as ``{{ params.x }}``."""
    from mlops_operators.dag_defaults import PARTITION_DATE

    bad = []
    for expr in re.findall(r"\{\{.*?\}\}", value.replace(PARTITION_DATE, "")):
        used = set(re.findall(r"params\.(\w+)", expr)) & nullable
        if used and expr not in {f"{{{{ params.{name} }}}}" for name in used}:
            bad.append(expr)
    return bad


def test_the_templating_check_catches_a_jinja_fallback():
    nullable = {"window_days", "date"}
    assert _misused("{{ params.window_days if params.window_days is not none else '' }}", nullable)
    assert _misused("{{ params.window_days or '' }}", nullable)
    assert not _misused("{{ params.window_days }}", nullable)
    assert not _misused("s3://b/{{ params.dataset }}/{{ params.date or ds }}", {"window_days"})


@pytest.mark.parametrize("dag_id", DAG_FILES)
def test_optional_params_are_templated_one_way(dagbag, dag_id):
    """A nullable Param is passed as exactly ``"{{ params.x }}"``; the operator's parser maps "None" to None.

    The partition date is the one exception: its fallback is the logical date (``PARTITION_DATE``).
    """
    dag = dagbag.get_dag(dag_id)
    nullable = _nullable_params(dag)
    for task in dag.tasks:
        for value in _templated_values(task):
            assert not _misused(value, nullable), f"{dag_id}.{task.task_id}: {value}"


@pytest.mark.parametrize("dag_id", DAG_FILES)
def test_the_trigger_form_defaults_are_valid_except_a_rollback_reason(dagbag, dag_id):
    """A trigger with the default Params passes the form's validation; only the rollback asks for more."""
    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(dagbag.get_dag(dag_id).params)
    if dag_id == "mlops_rollback":
        with pytest.raises(ParamValidationError, match="reason"):
            params.validate()
    else:
        params.validate()

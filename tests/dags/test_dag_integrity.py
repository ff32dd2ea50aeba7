"""Every DAG imports, has an explicit schedule, tags, doc_md and retries."""

from __future__ import annotations

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

"""Every DAG imports, has an explicit schedule, tags, doc_md and retries."""

from __future__ import annotations

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

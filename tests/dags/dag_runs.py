"""Helpers for the end-to-end DAG tests.

Imported as ``from dag_runs import ...`` (this folder is on ``sys.path`` while its tests are
collected). Not ``from conftest import ...``: which ``conftest`` module that name resolves to
depends on the order pytest loaded the folders' conftest files (``tests/plugins`` has one too).
"""

from __future__ import annotations


def task_states(dag_run) -> dict[str, str]:
    """``{task_id: state}`` of a finished DagRun (mapped tasks keep the worst state)."""
    out: dict[str, str] = {}
    for ti in dag_run.get_task_instances():
        state = str(ti.state.value if hasattr(ti.state, "value") else ti.state)
        if out.get(ti.task_id) not in ("failed", "upstream_failed"):
            out[ti.task_id] = state
    return out


#: Tasks of the fan-out branch (``dataset=all`` or a scheduled run), skipped in a one-dataset run.
FAN_OUT_TASKS = ("plan_fan_out", "fan_out")


def work_states(dag_run) -> dict[str, str]:
    """:func:`task_states` without the fan-out branch, which a run for one dataset skips."""
    return {k: v for k, v in task_states(dag_run).items() if k not in FAN_OUT_TASKS}

"""
### Browser-test seed (tests only)

Evaluates, gates, publishes and promotes one candidate that the test trained with the
library, with the project's real operators, so the tasks carry real extra links
("Model card") and production moves through a real DAG run.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Param, dag

from mlops.storage import DEFAULT_BUCKET
from mlops_operators.evaluation import EvaluateModelOperator, GateModelOperator
from mlops_operators.registry import PromoteModelOperator, PublishModelOperator

CANDIDATE = "{{ params.candidate_prefix }}"


@dag(
    dag_id="mlops_ui_seed",
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    doc_md=__doc__,
    tags=["mlops", "test"],
    default_args={"owner": "mlops", "retries": 0},
    params={"candidate_prefix": Param("", type="string"), "dataset": Param("credit", type="string")},
)
def mlops_ui_seed():
    evaluate = EvaluateModelOperator(
        task_id="evaluate_model",
        dataset="{{ params.dataset }}",
        candidate_prefix=CANDIDATE,
        bucket=DEFAULT_BUCKET,
    )
    gate = GateModelOperator(task_id="gate_model", dataset="{{ params.dataset }}", candidate_prefix=CANDIDATE)
    publish = PublishModelOperator(
        task_id="publish_model",
        dataset="{{ params.dataset }}",
        candidate_prefix=CANDIDATE,
        reason="browser test retrain",
        bucket=DEFAULT_BUCKET,
    )
    promote = PromoteModelOperator(
        task_id="promote_model",
        dataset="{{ params.dataset }}",
        reason="browser test retrain",
        bucket=DEFAULT_BUCKET,
    )
    evaluate >> gate >> publish >> promote


mlops_ui_seed()

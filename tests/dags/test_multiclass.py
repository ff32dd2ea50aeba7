"""End to end: the multiclass wine dataset through mlops_training, mlops_batch_scoring and mlops_monitoring.

Wine (sklearn's bundled data, three cultivars) has an integer id and no date column. The
training DAG validates, trains, gates on the multiclass metrics, publishes and promotes; the
scoring DAG writes the predicted class and one probability column per class; the monitoring
DAG compares the predicted classes with the reference (categorical prediction drift) and
gives realised multiclass metrics where labels arrived, "not estimated" elsewhere (CBPE is
binary). A default (``dataset=all``) run of scoring and monitoring starts one run per dataset
that has a production model.
"""

from __future__ import annotations

from datetime import date, timedelta

import pendulum
import pytest
from dag_runs import task_states, work_states

from mlops import artifacts, storage
from mlops.artifacts import DriftReport, ReferenceProfile
from mlops.artifacts.nightly import PerformanceReport
from mlops.dev import datagen
from mlops.registry import ModelRegistry

pytestmark = pytest.mark.e2e

BUCKET = "mlops-test"
START, DAYS, ROWS = date(2026, 1, 1), 13, 120
#: The window ends here; wine's labels arrive a day late, so 01-01..01-11 are usable (6 train, 5 holdout).
END = date(2026, 1, 12)
LABELLED_DAY, UNLABELLED_DAY = date(2026, 1, 12), date(2026, 1, 13)
TRAINING = {
    "dataset": "wine",
    "window_days": 12,
    "estimator": None,
    "search": "config",
    "force_promote": False,
    "skip_rejected_batches": False,
    "reason": "pytest: multiclass",
}


@pytest.fixture(scope="module")
def wine_cfg():
    from mlops.config import load_dataset_config

    return load_dataset_config("wine")


@pytest.fixture
def restore_params(dagbag):
    """Put the DAGs' Param values back after the test: in-process dag.test() runs write a run's conf into
    the shared Param objects of the DAG and of every task (Airflow 3.3.2), and a later test that leaves a
    Param out would get ours."""
    holders = []
    for dag_id in ("mlops_training", "mlops_batch_scoring", "mlops_monitoring"):
        dag = dagbag.get_dag(dag_id)
        holders += [dag.params, *(task.params for task in dag.tasks)]
    saved = [(params, {k: params.get_param(k).value for k in params}) for params in holders]
    yield
    for params, values in saved:
        for key, value in values.items():
            params.get_param(key).value = value


def _xcom(dag_run, task_id):
    return dag_run.get_task_instance(task_id).xcom_pull(task_ids=task_id)


def _score(dag, day: date, dataset: str = "wine"):
    return dag.test(
        logical_date=pendulum.datetime(day.year, day.month, day.day, 4, tz="UTC"),
        run_conf={"dataset": dataset, "date": day.isoformat(), "version": "production", "shards": 1},
    )


def _triggered_runs(dag_id: str, parent_run_id: str) -> dict[str, dict]:
    """``{run_id: conf}`` of the runs a fan-out started (``<parent>__<dataset>``)."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        runs = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id.like(f"{parent_run_id}__%"))
        ).all()
        return {r.run_id: dict(r.conf or {}) for r in runs}


def test_wine_trains_scores_and_is_monitored_as_multiclass(dagbag, server_s3, wine_cfg, restore_params):
    datagen.seed_dataset(
        server_s3,
        BUCKET,
        wine_cfg,
        start=START,
        days=DAYS,
        rows_per_day=ROWS,
        today=UNLABELLED_DAY,  # labels of every day before 01-13 have arrived
        log=lambda m: None,
    )
    features = storage.read_table(server_s3, artifacts.batch_uri(BUCKET, "wine", START))
    assert str(features["wine_id"].dtype) == "int64" and "date" not in "".join(features.columns)

    # ---- training: validate with GX, train, gate on multiclass metrics, publish, promote
    training = dagbag.get_dag("mlops_training")
    trained = training.test(
        logical_date=pendulum.datetime(END.year, END.month, END.day, tz="UTC"), run_conf=TRAINING
    )
    assert trained.state == "success", task_states(trained)
    assert set(work_states(trained).values()) == {"success"}, task_states(trained)
    evaluation = _xcom(trained, "evaluate_model")
    candidate = evaluation["candidate"]
    assert set(candidate) == {
        "accuracy", "precision_macro", "recall_macro", "f1_macro", "precision_weighted",
        "recall_weighted", "f1_weighted", "roc_auc_ovr", "log_loss",
    }  # fmt: skip
    assert candidate["accuracy"] >= 0.85 and candidate["roc_auc_ovr"] > 0.9 and candidate["log_loss"] < 0.5
    gate = _xcom(trained, "gate_model")
    assert gate["blessed"] and gate["baseline_version"] is None
    registry = ModelRegistry(server_s3, BUCKET, "wine")
    assert registry.versions() == ["v0001"] and registry.pointer("production").version == "v0001"
    record = artifacts.read_artifact(
        server_s3, artifacts.training_uri(evaluation["candidate_prefix"]), artifacts.TrainingRecord
    )
    assert record.date_column is None and record.split.train_positive_rate is None
    assert record.split.holdout_days == [f"2026-01-{d:02d}" for d in range(7, 12)]
    profile = artifacts.read_artifact(
        server_s3, artifacts.reference_profile_uri(evaluation["candidate_prefix"]), ReferenceProfile
    )
    assert profile.prediction.kind == "categorical" and set(profile.prediction.counts) == {"0", "1", "2"}
    card = storage.get_bytes(server_s3, evaluation["model_card_uri"]).decode()
    assert "VERDICT: BLESSED" in card and "One-vs-rest ROC curves" in card
    assert "Confusion matrix (per class)" in card and "<th>class</th><th>holdout rows</th>" in card

    # ---- scoring: the predicted class and one probability column per class
    scoring_dag = dagbag.get_dag("mlops_batch_scoring")
    for day in (LABELLED_DAY, UNLABELLED_DAY):
        run = _score(scoring_dag, day)
        assert run.state == "success", task_states(run)
    from mlops import scoring

    preds = scoring.read_predictions(server_s3, artifacts.predictions_prefix(BUCKET, "wine", UNLABELLED_DAY))
    assert list(preds.columns) == [
        "wine_id", "prediction", "proba_0", "proba_1", "proba_2", "model_version", "run_id",
    ]  # fmt: skip
    assert len(preds) == ROWS and set(preds["prediction"]) <= {0, 1, 2}
    assert preds[["proba_0", "proba_1", "proba_2"]].sum(axis=1).round(6).eq(1).all()
    argmax = preds[["proba_0", "proba_1", "proba_2"]].to_numpy().argmax(axis=1)
    assert (argmax == preds["prediction"].to_numpy()).all()

    # ---- monitoring: categorical prediction drift; realised metrics, and "not estimated" without labels
    monitoring_dag = dagbag.get_dag("mlops_monitoring")
    night = UNLABELLED_DAY
    monitored = monitoring_dag.test(
        logical_date=pendulum.datetime(night.year, night.month, night.day, 6, tz="UTC"),
        run_conf={"dataset": "wine", "date": night.isoformat(), "window_days": 2},
    )
    assert monitored.state == "success", task_states(monitored)
    states = task_states(monitored)
    assert states["monitor_drift"] == states["monitor_performance"] == states["evaluate_alerts"] == "success"
    drift = artifacts.read_artifact(server_s3, artifacts.drift_uri(BUCKET, "wine", night), DriftReport)
    assert drift.current_window["days"] == [LABELLED_DAY.isoformat(), UNLABELLED_DAY.isoformat()]
    assert drift.prediction.kind == "categorical" and drift.prediction.method == "chi2"
    assert set(drift.prediction.cur_summary["top"]) <= {"0", "1", "2"}
    assert drift.prediction.status in ("ok", "minor", "warn")  # same distribution of cultivars
    perf = artifacts.read_artifact(
        server_s3, artifacts.performance_uri(BUCKET, "wine", night), PerformanceReport
    )
    by_day = {d.day: d for d in perf.days}
    labelled, unlabelled = by_day[LABELLED_DAY.isoformat()], by_day[UNLABELLED_DAY.isoformat()]
    assert labelled.source == "realised" and labelled.n == ROWS
    assert labelled.metrics["accuracy"] > 0.85 and labelled.metrics["f1_macro"] > 0.85
    assert unlabelled.source == "unavailable" and unlabelled.metrics["estimate"] == "not estimated"
    assert perf.estimated["estimate"] == "not estimated" and "binary" in perf.estimated["reason"]
    assert perf.baseline["roc_auc_ovr"] == pytest.approx(candidate["roc_auc_ovr"])
    page = storage.get_bytes(server_s3, artifacts.report_uri(BUCKET, "wine", night)).decode()
    assert "Estimated: not estimated" in page and "f1_macro" in page

    # ---- every dataset: a default run fans out to the datasets with a production model (wine only here)
    fanned = scoring_dag.test(
        logical_date=pendulum.datetime(2026, 1, 14, 4, tz="UTC"),
        run_conf={"dataset": "all", "date": None, "version": "production", "shards": 1},
    )
    assert fanned.state == "success", task_states(fanned)
    states = task_states(fanned)
    assert states["route_datasets"] == states["plan_fan_out"] == states["fan_out"] == "success"
    assert states["wait_for_batch"] == states["finalize_partition"] == "skipped"
    plan = _xcom(fanned, "plan_fan_out")
    assert plan == [
        {
            "trigger_run_id": f"{fanned.run_id}__wine",
            "conf": {"version": "production", "shards": 1, "dataset": "wine", "date": "2026-01-14"},
        }
    ]
    assert _triggered_runs("mlops_batch_scoring", fanned.run_id) == {
        f"{fanned.run_id}__wine": plan[0]["conf"]
    }

    nightly = monitoring_dag.test(
        logical_date=pendulum.datetime(2026, 1, 14, 6, tz="UTC"),
        run_conf={"dataset": "all", "date": None, "window_days": None},
    )
    assert nightly.state == "success", task_states(nightly)
    assert task_states(nightly)["monitor_drift"] == "skipped"
    assert _triggered_runs("mlops_monitoring", nightly.run_id) == {
        f"{nightly.run_id}__wine": {"window_days": None, "dataset": "wine", "date": "2026-01-14"}
    }


def test_scoring_is_scheduled_on_every_datasets_production_model(dagbag):
    from mlops.config import available_datasets

    dag = dagbag.get_dag("mlops_batch_scoring")
    names = {asset.name for asset in dag.timetable.asset_condition.objects}
    assert (
        names
        == {f"{d}_production_model" for d in available_datasets()}
        >= {
            "credit_production_model",
            "wine_production_model",
        }
    )
    for dag_id in ("mlops_batch_scoring", "mlops_monitoring"):
        param = dagbag.get_dag(dag_id).params.get_param("dataset")
        assert param.value == "all" and set(param.schema["enum"]) == {"all", *available_datasets()}


def test_fan_out_follows_the_assets_that_triggered_the_run():
    from types import SimpleNamespace

    from airflow.sdk import Asset

    from mlops_operators.fanout import asset_datasets, partition_day

    events = {
        Asset(uri="s3://b/models/wine/aliases/production.json", name="wine_production_model"): [],
        Asset(uri="s3://b/monitoring/credit/retrain_requests/", name="credit_retrain_request"): [],
    }
    assert asset_datasets({"triggering_asset_events": events}) == ["wine"]
    assert asset_datasets({}) == []
    run = SimpleNamespace(logical_date=None, run_after=pendulum.datetime(2026, 1, 14, 4, 30, tz="UTC"))
    assert partition_day({"date": None}, run) == "2026-01-14"
    assert partition_day({"date": "2026-01-02"}, run) == "2026-01-02"
    assert START + timedelta(days=DAYS) == date(2026, 1, 14)


def test_training_trains_every_dataset_when_asked_for_all(dagbag, restore_params):
    """``dataset=all`` starts one training run per configured dataset, first models included."""
    from mlops.config import available_datasets

    dag = dagbag.get_dag("mlops_training")
    assert dag.params.get_param("dataset").value != "all"  # a manual retrain is for one model
    conf = {
        "dataset": "all",
        "window_days": None,
        "estimator": None,
        "search": "config",
        "skip_rejected_batches": False,
        "force_promote": False,
        "reason": "pytest: every dataset",
    }
    parent = dag.test(logical_date=pendulum.datetime(2026, 1, 14, 2, tz="UTC"), run_conf=conf)
    assert parent.state == "success", task_states(parent)
    states = task_states(parent)
    assert states["plan_fan_out"] == states["fan_out"] == "success"
    assert states["plan_window"] == states["promote_model"] == "skipped"
    forwarded = {k: v for k, v in conf.items() if k != "dataset"}
    assert _triggered_runs("mlops_training", parent.run_id) == {
        f"{parent.run_id}__{d}": {**forwarded, "dataset": d} for d in available_datasets()
    }


@pytest.mark.parametrize(
    ("run_type", "dataset", "branch"),
    [
        ("scheduled", "credit", "plan_fan_out"),  # the nightly run: every dataset
        ("asset_triggered", "credit", "plan_window"),  # a retrain request: its dataset only
        ("manual", "wine", "plan_window"),
        ("manual", "all", "plan_fan_out"),
    ],
)
def test_training_routes_the_nightly_run_to_every_dataset(dagbag, run_type, dataset, branch):
    from types import SimpleNamespace

    route = dagbag.get_dag("mlops_training").get_task("route_datasets")
    context = {"params": {"dataset": dataset}, "dag_run": SimpleNamespace(run_type=run_type)}
    assert route.choose_branch(context) == branch

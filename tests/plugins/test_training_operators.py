"""Training and evaluation operators: op.execute(context) under moto; return values and the log are the contract."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, DownstreamTasksSkipped

from mlops import serialization, storage
from mlops.registry import ModelRegistry
from mlops_operators import common
from mlops_operators import evaluation as eval_ops
from mlops_operators import training as train_ops
from mlops_operators.evaluation import EvaluateModelOperator, GateModelOperator, ModelCardLink
from mlops_operators.registry import PromoteModelOperator, PublishModelOperator
from mlops_operators.training import PlanTrainingWindowOperator, TrainModelOperator, dataset_from_trigger
from tests.include.mlops.training_world import END, seed_validated

BUCKET = "mlops-test"


class FakeTI:
    """Just enough of a RuntimeTaskInstance: XCom pushes are recorded."""

    def __init__(self, task_id: str = "t", run_id: str = "manual__test"):
        self.task_id, self.dag_id, self.run_id, self.map_index, self.try_number = (
            task_id,
            "mlops_training",
            run_id,
            -1,
            1,
        )
        self.xcom: dict = {}

    def xcom_push(self, key, value):
        self.xcom[key] = value


def _context(ti: FakeTI, task=None) -> dict:
    dag_run = SimpleNamespace(run_id=ti.run_id, triggering_user_name="tester", run_type="manual")
    return {"ti": ti, "dag_run": dag_run, "task": task}


@pytest.fixture
def client(s3, bucket, monkeypatch):
    """The operators' S3 client is the moto (decorator mode) client."""
    for module in (common, train_ops, eval_ops):
        monkeypatch.setattr(module, "s3_client", lambda conn_id: s3)
    return s3


@pytest.fixture
def world(client, credit_cfg):
    seed_validated(client, BUCKET, credit_cfg)
    return client


def _train(client, **kwargs) -> dict:
    op = TrainModelOperator(
        task_id="train_model",
        dataset="credit",
        window_end=END.isoformat(),
        window_days="12",
        search="none",
        bucket=BUCKET,
        **kwargs,
    )
    ti = FakeTI("train_model")
    result = op.execute(_context(ti))
    assert ti.xcom["candidate_prefix"] == result["candidate_prefix"]
    return result


def test_plan_train_evaluate_gate(world, oplog):
    plan_ti = FakeTI("plan_window")
    plan = PlanTrainingWindowOperator(
        task_id="plan_window", dataset="credit", window_end=END.isoformat(), window_days="None", bucket=BUCKET
    )
    uris = plan.execute(_context(plan_ti))
    assert len(uris) == 9 and plan_ti.xcom["dataset"] == "credit"
    assert plan_ti.xcom["window"]["skipped"]["2026-01-12"].startswith("labels not due")

    trained = _train(world, estimator="None")  # an empty Param: the config's estimator
    assert trained["estimator"] == "hist_gradient_boosting" and trained["split"]["holdout_rows"] == 1500
    assert trained["cv_best_score"] is None  # search="none" is a value, not a blank: no search ran

    evaluate = EvaluateModelOperator(
        task_id="evaluate_model",
        dataset="credit",
        candidate_prefix=trained["candidate_prefix"],
        bucket=BUCKET,
    )
    evaluated = evaluate.execute(_context(FakeTI("evaluate_model")))
    assert evaluated["production"] is None and evaluated["candidate"]["roc_auc"] > 0.7
    assert evaluated["model_card_uri"].endswith("/model_card.html")
    assert ModelCardLink().get_link(evaluate, ti_key=None) == evaluated["model_card_url"]

    gate = GateModelOperator(
        task_id="gate_model", dataset="credit", candidate_prefix=trained["candidate_prefix"]
    )
    verdict = gate.execute(_context(FakeTI("gate_model"), gate))
    assert verdict["blessed"] and verdict["publish"] and verdict["baseline_version"] is None
    assert {r["rule"]: r["verdict"] for r in verdict["rules"]}["roc_auc_vs_production"] == "skip"
    log = oplog.text
    assert "check min_roc_auc: " in log and ">= 0.7 -> pass" in log
    assert "VERDICT: BLESSED candidate=" in log and "champion=none" in log
    assert f"model card: {trained['candidate_prefix']}model_card.html" in log


def test_too_few_days_fails_without_retry(client, credit_cfg):
    seed_validated(client, BUCKET, credit_cfg, days=6)
    plan = PlanTrainingWindowOperator(
        task_id="plan_window", dataset="credit", window_end="2026-01-06", window_days=6, bucket=BUCKET
    )
    with pytest.raises(AirflowFailException, match=r"Only 3 usable day\(s\)"):
        plan.execute(_context(FakeTI()))


def test_a_retrain_request_picks_the_dataset():
    from mlops_operators.assets import retrain_request_asset

    events = {retrain_request_asset("diabetes"): ["event"]}
    assert dataset_from_trigger({"triggering_asset_events": events}) == "diabetes"
    assert dataset_from_trigger({}) is None


# ---------------------------------------------------------------- each rule alone -> nothing published
def _tamper_metrics(client, prefix: str, rule: str) -> None:
    """Rewrite metrics.json/model.skops so exactly one rule fails (the others pass or are skipped)."""
    doc = storage.get_json(client, prefix + "metrics.json")
    cand = doc["candidate"]
    if rule == "floor":
        cand["metrics"]["roc_auc"] = 0.65  # below min_roc_auc 0.70; no production -> floors decide
    elif rule in ("production", "slice"):
        import copy

        prod = copy.deepcopy(cand)
        if rule == "production":
            prod["metrics"]["roc_auc"] += 0.05  # beyond max_primary_regression 0.01; slices equal
        else:
            prod["slices"]["region"]["north"]["metrics"]["roc_auc"] += 0.2  # one slice beyond 0.05
        doc.update(production=prod, baseline_version="v0009", baseline_pointer_etag='"etag"')
    else:  # behaviour: a model that cannot take missing optional features
        from sklearn.compose import ColumnTransformer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        from mlops import artifacts, evaluation, training
        from mlops.config import load_dataset_config

        cfg = load_dataset_config("credit")
        record = storage.get_json(client, prefix + "training.json")
        lineage = artifacts.TrainingRecord.from_dict(record).lineage
        frame = evaluation.read_split(client, cfg, lineage, "holdout").dropna()
        pre = ColumnTransformer(
            [
                ("num", StandardScaler(), list(cfg.features.numeric)),
                ("cat", OneHotEncoder(handle_unknown="ignore"), list(cfg.features.categorical)),
            ]
        )
        model = make_pipeline(pre, LogisticRegression(max_iter=1000)).fit(
            training.feature_frame(frame, cfg), frame["default"]
        )
        data = serialization.dump_model(model)
        storage.put_bytes(client, prefix + "model.skops", data)
        record["model_sha256"] = storage.sha256_bytes(data)
        record["canned_rows"] = training.canned_rows(cfg, frame)  # complete rows: only missing ones break it
        storage.put_json(client, prefix + "training.json", record)
    storage.put_json(client, prefix + "metrics.json", doc)


def test_each_rule_failing_alone_skips_publish_and_nothing_is_published(world, oplog):
    trained = _train(world)
    EvaluateModelOperator(
        task_id="evaluate_model",
        dataset="credit",
        candidate_prefix=trained["candidate_prefix"],
        bucket=BUCKET,
    ).execute(_context(FakeTI("evaluate_model")))
    base = trained["candidate_prefix"]
    expected = {
        "floor": ["min_roc_auc"],
        "production": ["roc_auc_vs_production"],
        "slice": ["slice region=north"],
        "behaviour": ["optional_missing_scores"],
    }
    for rule, failed in expected.items():
        prefix = base.rstrip("/") + f"_{rule}/"
        for name in ("model.skops", "training.json", "metrics.json", "model_card.html"):
            storage.put_bytes(world, prefix + name, storage.get_bytes(world, base + name))
        _tamper_metrics(world, prefix, rule)
        with DAG(f"gate_{rule}", schedule=None):
            gate = GateModelOperator(task_id="gate_model", dataset="credit", candidate_prefix=prefix)
            publish = PublishModelOperator(
                task_id="publish_model", dataset="credit", candidate_prefix=prefix, bucket=BUCKET
            )
            promote = PromoteModelOperator(task_id="promote_model", dataset="credit", bucket=BUCKET)
            gate >> publish >> promote
        ti = FakeTI("gate_model")
        with pytest.raises(DownstreamTasksSkipped) as skipped:
            gate.execute(_context(ti, gate))
        assert sorted(skipped.value.tasks) == ["promote_model", "publish_model"], rule
        assert ti.xcom["return_value"]["failed"] == failed, rule
        assert ti.xcom["return_value"]["blessed"] is False
        assert storage.get_json(world, prefix + "blessing.json")["blessed"] is False
        assert f"VERDICT: NOT BLESSED candidate={prefix}" in oplog.text
        # Even if publish ran, it would refuse: the registry stays empty.
        with pytest.raises(AirflowSkipException, match="NOT BLESSED"):
            publish.execute(_context(FakeTI("publish_model")))
    assert ModelRegistry(world, BUCKET, "credit").versions() == []


def test_force_promote_lets_a_behaving_candidate_through(world, oplog):
    trained = _train(world, estimator="dummy")
    prefix = trained["candidate_prefix"]
    EvaluateModelOperator(
        task_id="evaluate_model", dataset="credit", candidate_prefix=prefix, bucket=BUCKET
    ).execute(_context(FakeTI("evaluate_model")))
    gate = GateModelOperator(
        task_id="gate_model",
        dataset="credit",
        candidate_prefix=prefix,
        force_promote="True",
        reason="incident 42: approved by risk",
    )
    verdict = gate.execute(_context(FakeTI("gate_model"), gate))
    assert verdict["blessed"] is False and verdict["forced"] is True and verdict["publish"] is True
    blessing = storage.get_json(world, prefix + "blessing.json")
    assert blessing["force_reason"] == "incident 42: approved by risk" and blessing["actor"].startswith(
        "tester"
    )
    assert "force_promote by tester" in oplog.text


@pytest.mark.parametrize(
    ("op", "message"),
    [
        (
            TrainModelOperator(task_id="t", dataset="credit", window_end="2026-01-12", window_days="three"),
            "The 'window_days' parameter of TrainModelOperator must be a positive integer. Got 'three' instead.",
        ),
        (
            PlanTrainingWindowOperator(
                task_id="p", dataset="credit", window_end="2026-01-12", window_days="0"
            ),
            "The 'window_days' parameter of PlanTrainingWindowOperator must be a positive integer. Got '0' instead.",
        ),
        (
            GateModelOperator(
                task_id="g", dataset="credit", candidate_prefix="s3://b/c/", force_promote="maybe"
            ),
            "The 'force_promote' parameter of GateModelOperator must be a boolean (true or false). "
            "Got 'maybe' instead.",
        ),
        (
            PublishModelOperator(
                task_id="p", dataset="credit", candidate_prefix="s3://b/c/", force="yes please"
            ),
            "The 'force' parameter of PublishModelOperator must be a boolean (true or false). "
            "Got 'yes please' instead.",
        ),
    ],
    ids=["train_window_days", "plan_window_days", "gate_force_promote", "publish_force"],
)
def test_bad_rendered_values_fail_before_any_io(op, message, oplog):
    """Parsed in execute before the S3 client is built: one ERROR line, no retry, no chained traceback."""
    with pytest.raises(AirflowFailException) as err:
        op.execute(_context(FakeTI(op.task_id), op))
    assert str(err.value) == message and err.value.__cause__ is None
    assert oplog.text.count(message) == 1

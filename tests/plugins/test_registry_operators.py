"""Registry operators: op.execute(context) under moto (decorator and server mode); the log is the contract."""

from __future__ import annotations

import dataclasses
import re
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from mlops import artifacts, storage
from mlops.registry import ModelRegistry
from mlops_operators import common
from mlops_operators.assets import production_model_alias, production_model_asset, retrain_request_asset
from mlops_operators.registry import (
    PromoteModelOperator,
    PublishModelOperator,
    RetireModelsOperator,
    RollbackModelOperator,
)
from tests import conftest as candidates

BUCKET = "mlops-test"


@pytest.fixture(params=["decorator", "server"])
def client(request, monkeypatch):
    """The operators' S3 client (from common.s3_client) is the fixture's client."""
    if request.param == "decorator":
        c = request.getfixturevalue("s3")
        request.getfixturevalue("bucket")
    else:
        c = request.getfixturevalue("server_s3")
    monkeypatch.setattr(common, "s3_client", lambda conn_id: c)
    return c


@pytest.fixture(scope="module")
def model_bytes():
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from mlops.serialization import dump_model

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"income": rng.normal(size=100), "age": rng.normal(size=100)})
    y = (X["income"] > 0).astype(int)
    return dump_model(Pipeline([("scale", StandardScaler()), ("model", LogisticRegression())]).fit(X, y))


def candidate(client, run_key, model_bytes, *, blessed=True, baseline_etag=None):
    return candidates.write_candidate(
        client,
        BUCKET,
        run_key,
        model_bytes,
        features={"income": "numeric", "age": "numeric"},
        blessed=blessed,
        baseline_etag=baseline_etag,
    )


class FakeOutletEvents(dict):
    """Stands in for context['outlet_events']: records alias events and asset extras."""

    def __missing__(self, key):
        self[key] = SimpleNamespace(
            added=[], extra={}, add=lambda asset, extra=None: self[key].added.append((asset, extra))
        )
        return self[key]


def context(run_id="manual__2026-02-01", task_id="task", user=None, try_number=1, dag_id="mlops_training"):
    return {
        "ti": SimpleNamespace(dag_id=dag_id, task_id=task_id, run_id=run_id, try_number=try_number),
        "dag_run": SimpleNamespace(run_id=run_id, run_type="manual", triggering_user_name=user),
        "outlet_events": FakeOutletEvents(),
    }


def publish_op(prefix, **kw):
    return PublishModelOperator(
        task_id="publish_model", dataset="credit", candidate_prefix=prefix, bucket=BUCKET, **kw
    )


def test_publish_blessed_candidate_and_retry_is_idempotent(client, model_bytes, oplog):
    prefix = candidate(client, "run-1", model_bytes)
    out = publish_op(prefix).execute(context(run_id="run-1"))
    assert (out["version"], out["created"], out["blessed"]) == ("v0001", True, True)
    assert "VERDICT: PUBLISHED credit v0001 (blessed)" in oplog.text
    again = publish_op(prefix).execute(context(run_id="run-1", try_number=2))
    assert (again["version"], again["created"]) == ("v0001", False)
    assert "already published by run run-1 as v0001: not creating a duplicate" in oplog.text
    assert ModelRegistry(client, BUCKET, "credit").versions() == ["v0001"]


def test_publish_skips_an_unblessed_candidate_and_force_is_audited(client, model_bytes, oplog):
    prefix = candidate(client, "run-2", model_bytes, blessed=False)
    with pytest.raises(AirflowSkipException, match="NOT BLESSED"):
        publish_op(prefix).execute(context(run_id="run-2"))
    assert "VERDICT: NOT BLESSED candidate=" in oplog.text and "failed=['min_roc_auc']" in oplog.text
    assert ModelRegistry(client, BUCKET, "credit").versions() == []

    with pytest.raises(AirflowFailException, match="'force_reason' parameter of publish must be a non-empty"):
        publish_op(prefix, force="True", reason="None").execute(context(run_id="run-2", user="bob"))
    out = publish_op(prefix, force="True", reason="approved by risk").execute(
        context(run_id="run-2", user="bob")
    )
    assert out["forced"] is True and out["dataset"] == "credit"
    assert "FORCED publish of an unblessed candidate" in oplog.text
    event = artifacts.read_artifact(
        client, f"s3://{BUCKET}/models/credit/audit/publish-v0001.json", artifacts.AuditEvent
    )
    assert event.forced is True and event.actor.startswith("bob") and event.reason == "approved by risk"
    manifest = ModelRegistry(client, BUCKET, "credit").manifest("v0001")
    assert (manifest.forced, manifest.force_reason) == (True, "approved by risk")


def test_publish_fails_fast_without_model(client, model_bytes):
    prefix = candidate(client, "broken", model_bytes)
    storage.delete(client, artifacts.model_uri(prefix))
    with pytest.raises(AirflowFailException, match="model.skops does not exist"):
        publish_op(prefix).execute(context())


def test_promote_uses_the_blessing_etag_and_refuses_when_production_moved(client, model_bytes, oplog):
    alias = production_model_alias()
    asset = production_model_asset("credit", BUCKET)
    publish_op(candidate(client, "run-1", model_bytes)).execute(context(run_id="run-1"))
    ctx = context(run_id="run-1", task_id="promote_model")
    op = PromoteModelOperator(
        task_id="promote_model",
        dataset="credit",
        version="v0001",
        bucket=BUCKET,
        reason="first model",
        outlets=[alias],
    )
    out = op.execute(ctx)
    assert (out["version"], out["sequence"], out["actor"]) == ("v0001", 1, "mlops_training/run-1")
    assert out["dataset"] == "credit" and out["etag"] and out["updated_at"].endswith("Z")
    assert "production: none → v0001 (reason first model, by mlops_training/run-1)" in oplog.text
    assert ctx["outlet_events"][alias].added == [
        (asset, {"version": "v0001", "previous_version": None, "sequence": 1, "action": "promote"})
    ]
    # A retry of the same task after the pointer moved is a no-op, not a failure.
    assert op.execute(context(run_id="run-1", task_id="promote_model", try_number=2))["sequence"] == 1

    # Two candidates evaluated against v0001; the first promotion wins, the second must refuse.
    for run in ("run-2", "run-3"):
        publish_op(candidate(client, run, model_bytes, baseline_etag=out["etag"])).execute(
            context(run_id=run)
        )
    PromoteModelOperator(task_id="promote_model", dataset="credit", version="v0002", bucket=BUCKET).execute(
        context(run_id="run-2", task_id="promote_model")
    )
    with pytest.raises(AirflowFailException, match="moved since the evaluation"):
        PromoteModelOperator(
            task_id="promote_model", dataset="credit", version="v0003", bucket=BUCKET
        ).execute(context(run_id="run-3", task_id="promote_model"))
    assert ModelRegistry(client, BUCKET, "credit").pointer().version == "v0002"


def test_promote_after_a_lost_pointer_response_reports_success_with_audit_and_asset_event(
    client, model_bytes, oplog
):
    """The pointer PUT lands but its response is lost; botocore re-sends it and gets HTTP 412."""
    alias = production_model_alias()
    publish_op(candidate(client, "run-1", model_bytes)).execute(context(run_id="run-1"))
    lost: list[int] = []

    def needs_retry(response, request_dict, **kwargs):
        if not lost and response is not None and request_dict["url_path"].endswith("aliases/production.json"):
            lost.append(response[0].status_code)
            return 0  # botocore retries at once, as after a dropped connection
        return None

    client.meta.events.register("needs-retry.s3.PutObject", needs_retry)
    ctx = context(run_id="run-1", task_id="promote_model")
    op = PromoteModelOperator(
        task_id="promote_model", dataset="credit", version="v0001", bucket=BUCKET, outlets=[alias]
    )
    try:
        out = op.execute(ctx)
    finally:
        client.meta.events.unregister("needs-retry.s3.PutObject", needs_retry)
    assert lost == [200] and (out["version"], out["sequence"]) == ("v0001", 1)
    assert "production: none → v0001" in oplog.text
    event = artifacts.read_artifact(
        client, f"s3://{BUCKET}/models/credit/audit/production-00000001.json", artifacts.AuditEvent
    )
    assert event.request_id == out["request_id"] and event.pointer_etag == out["etag"]
    assert ctx["outlet_events"][alias].added == [
        (
            production_model_asset("credit", BUCKET),
            {"version": "v0001", "previous_version": None, "sequence": 1, "action": "promote"},
        )
    ]


def _two_in_production(client, model_bytes):
    reg = ModelRegistry(client, BUCKET, "credit")
    for run in ("run-1", "run-2"):
        publish_op(
            candidate(
                client, run, model_bytes, baseline_etag=(reg.pointer() or SimpleNamespace(etag=None)).etag
            )
        ).execute(context(run_id=run))
        PromoteModelOperator(
            task_id="promote_model", dataset="credit", version=reg.versions()[-1], bucket=BUCKET
        ).execute(context(run_id=run, task_id="promote_model"))
    return reg


def test_rollback_logs_the_move_and_who(client, model_bytes, oplog):
    reg = _two_in_production(client, model_bytes)
    ctx = context(run_id="manual__rb", task_id="rollback_model", user="alice", dag_id="mlops_rollback")
    op = RollbackModelOperator(
        task_id="rollback_model",
        dataset="credit",
        target_version="None",
        reason="v2 misbehaves in region north",
        bucket=BUCKET,
        outlets=[production_model_asset("credit", BUCKET)],
    )
    out = op.execute(ctx)
    assert (out["dataset"], out["version"], out["previous_version"], out["action"]) == (
        "credit",
        "v0001",
        "v0002",
        "rollback",
    )
    assert (
        "production: v0002 → v0001 (reason v2 misbehaves in region north, "
        "by alice (via mlops_rollback manual__rb))"
    ) in oplog.text
    assert ctx["outlet_events"][production_model_asset("credit", BUCKET)].extra["version"] == "v0001"
    assert reg.history()[-1]["action"] == "rollback"


def test_rollback_refusal_fails_fast_and_keeps_the_pointer(client, model_bytes):
    reg = _two_in_production(client, model_bytes)
    before = reg.pointer()
    op = RollbackModelOperator(
        task_id="rollback_model",
        dataset="credit",
        target_version="v0009",
        reason="roll back to a version that does not exist",
        bucket=BUCKET,
    )
    with pytest.raises(AirflowFailException, match="has no version v0009"):
        op.execute(context(task_id="rollback_model"))
    short = RollbackModelOperator(task_id="rollback_model", dataset="credit", reason="oops", bucket=BUCKET)
    with pytest.raises(AirflowFailException, match="at least 10 characters"):
        short.execute(context(task_id="rollback_model"))
    assert reg.pointer().etag == before.etag


def test_retire_models_applies_the_policy(client, model_bytes, oplog):
    reg = _two_in_production(client, model_bytes)
    publish_op(candidate(client, "run-3", model_bytes)).execute(context(run_id="run-3"))
    current = reg.pointer()
    artifacts.write_artifact(
        client,
        reg.alias_uri(),
        dataclasses.replace(current.pointer, previous_version=None),
        if_match=current.etag,
    )  # production=v0002 without a previous version
    out = RetireModelsOperator(
        task_id="retire_models", dataset="credit", keep_last="1", grace_days="0", bucket=BUCKET
    ).execute(context(dag_id="mlops_retention"))
    assert out["retired"] == ["v0001"] and out["kept"] == ["v0002", "v0003"] and out["dataset"] == "credit"
    assert "retention v0002: keep (alias 'production' points to it)" in oplog.text
    message = (
        "The 'keep_last' parameter of RetireModelsOperator must be a positive integer. Got 'many' instead."
    )
    with pytest.raises(AirflowFailException, match=re.escape(message)):
        RetireModelsOperator(
            task_id="retire_models", dataset="credit", keep_last="many", bucket=BUCKET
        ).execute(context())


def test_assets_have_the_contract_uris():
    assert production_model_asset("credit", "b").uri == "s3://b/models/credit/aliases/production.json"
    assert retrain_request_asset("credit", "b").uri.startswith("s3://b/monitoring/credit/retrain_requests")
    assert production_model_asset("credit").uri.startswith(f"s3://{storage.DEFAULT_BUCKET}/")

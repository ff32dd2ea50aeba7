"""The S3 model registry, against moto in decorator mode and in server mode."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from mlops import artifacts, serialization, storage
from mlops import registry as registry_mod
from mlops.errors import ArtifactSchemaError, ConcurrentUpdateError, IntegrityError, RegistryError
from mlops.models import normalize_version
from mlops.registry import ModelRegistry, NotBlessedError, PointerConflictError, registry_summary
from tests import conftest as candidates

BUCKET = "mlops-test"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


# ------------------------------------------------------------------ fixtures and helpers
@pytest.fixture(params=["decorator", "server"])
def client(request):
    """The same tests against moto's in-process mock and against the moto server over HTTP."""
    if request.param == "decorator":
        c = request.getfixturevalue("s3")
        request.getfixturevalue("bucket")
        return c
    return request.getfixturevalue("server_s3")


@pytest.fixture
def dclient(s3, bucket):
    """Decorator mode only, for the tests beyond the required both-modes list (keeps the suite fast)."""
    return s3


@pytest.fixture(scope="module")
def models():
    """Two tiny fitted pipelines (different bytes) as skops blobs."""
    import numpy as np
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlops.serialization import dump_model

    rng = np.random.default_rng(0)
    X = pd.DataFrame({"income": rng.normal(size=200), "region": rng.choice(["north", "south"], 200)})
    y = (X["income"] > 0).astype(int)
    out = []
    for c in (1.0, 0.1):
        pre = ColumnTransformer(
            [
                ("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), ["income"]),
                ("cat", OneHotEncoder(handle_unknown="ignore"), ["region"]),
            ]
        )
        out.append(dump_model(Pipeline([("pre", pre), ("model", LogisticRegression(C=c))]).fit(X, y)))
    return out


FEATURES = {"income": "numeric", "region": "categorical"}
CANNED = [{"income": 0.5, "region": "north"}, {"income": None, "region": "east"}]


def write_candidate(client, run_key, model_bytes, *, with_canned=True, **kw):
    """A candidate written through the typed artifacts (training record, metrics, blessing)."""
    kw.setdefault("features", FEATURES)
    return candidates.write_candidate(
        client, BUCKET, run_key, model_bytes, canned_rows=CANNED if with_canned else None, **kw
    )


def publish(reg, client, models, run_key, *, i=0, **kw):
    prefix = write_candidate(client, run_key, models[i % len(models)], **kw)
    return reg.publish(
        candidate_uri=prefix, run={"dag_id": "mlops_training", "run_id": run_key, "try_number": 1}
    )


def promote(reg, version, reason="promote for test"):
    current = reg.pointer()
    return reg.promote(
        version, expected_etag=current.etag if current else None, reason=reason, actor="tester"
    )


def registry(client, **kw):
    return ModelRegistry(client, BUCKET, "credit", sleep=lambda s: None, **kw)


def audit(client, event_id):
    return artifacts.read_artifact(
        client, artifacts.audit_uri(BUCKET, "credit", event_id), artifacts.AuditEvent
    )


# ------------------------------------------------------------------ versions and publish
def test_version_ids_are_normalized():
    assert normalize_version("v7") == "v0007"
    assert normalize_version("12") == "v0012"
    with pytest.raises(RegistryError, match="is not a version id"):
        normalize_version("latest")


def test_manifest_write_is_create_only_and_refuses_a_duplicate(client, models):
    reg = registry(client)
    result = publish(reg, client, models, "run-1")
    before = storage.get_bytes(client, result.manifest_uri)
    with pytest.raises(storage.PreconditionFailed):
        storage.put_json(client, result.manifest_uri, {"forged": True}, if_none_match=True)
    assert storage.get_bytes(client, result.manifest_uri) == before
    assert reg.versions() == ["v0001"]


def test_publish_records_lineage_in_the_manifest(dclient, models, monkeypatch):
    monkeypatch.setenv("MLOPS_CODE_VERSION", "abc123")
    reg = registry(dclient)
    result = publish(reg, dclient, models, "run-1")
    assert (result.version, result.created, result.blessed, result.forced) == ("v0001", True, True, False)
    m = reg.manifest("v0001")
    assert isinstance(m, artifacts.VersionManifest) and m.dataset == "credit"
    art = m.artifacts["model.skops"]
    assert art.sha256 == result.model_sha256 == m.model_sha256 and art.size == len(models[0])
    assert art.uri == f"s3://{BUCKET}/models/credit/versions/v0001/model.skops" and art.version_id
    assert set(m.artifacts) == {"model.skops", "training.json", "metrics.json", "blessing.json"}
    data = m.training_data
    assert data.row_count == 400 and data.data_hash == "d" * 64
    batch = artifacts.batch_uri(BUCKET, "credit", candidates.CANDIDATE_DAY)
    assert data.data_version_ids[batch] == "vid-1"
    assert data.validation_uris == [artifacts.validation_uri(batch)]
    assert m.code_version["git_sha"]  # git sha, else MLOPS_CODE_VERSION
    assert set(m.libraries) >= {"python", "sklearn", "numpy", "pandas", "skops"}
    assert m.params == {"C": 1.0} and m.seed == 42 and m.task == "classification"
    assert m.holdout_metrics == {"roc_auc": 0.9} and m.blessed and m.blessing.rules[0].rule == "min_roc_auc"
    assert m.feature_signature.names == ["income", "region"]
    assert m.run == {"dag_id": "mlops_training", "run_id": "run-1", "try_number": 1}
    assert m.estimator == "logistic_regression" and (m.forced, m.force_reason) == (False, "")
    assert m.created_at.endswith("Z") and "." not in m.created_at  # one timestamp format
    event = audit(dclient, "publish-v0001")
    assert (event.action, event.blessed, event.forced, event.reason) == (
        "publish",
        True,
        False,
        "blessed candidate",
    )
    assert event.manifest_sha256 == serialization.sha256_hex(storage.get_bytes(dclient, result.manifest_uri))


def test_code_version_falls_back_to_env_then_unknown(monkeypatch):
    import subprocess

    def no_git(*a, **k):
        raise FileNotFoundError("git")

    monkeypatch.setattr(subprocess, "run", no_git)
    monkeypatch.setenv("MLOPS_CODE_VERSION", "release-42")
    assert registry_mod.code_version() == {"git_sha": "release-42", "source": "env:MLOPS_CODE_VERSION"}
    monkeypatch.delenv("MLOPS_CODE_VERSION")
    assert registry_mod.code_version()["git_sha"] == "unknown"


def test_retried_publish_does_not_create_a_second_version(client, models, monkeypatch):
    reg = registry(client)
    first = publish(reg, client, models, "run-1")
    again = publish(reg, client, models, "run-1")
    assert (again.version, again.created) == (first.version, False)
    assert reg.versions() == ["v0001"]

    # A try that died after writing the artifacts but before the manifest: the retry reuses its number.
    real = reg._put_create_only

    def crash_on_manifest(uri, data, metadata):
        if uri.endswith("manifest.json"):
            raise ConnectionError("worker died")
        return real(uri, data, metadata)

    monkeypatch.setattr(reg, "_put_create_only", crash_on_manifest)
    with pytest.raises(ConnectionError):
        publish(reg, client, models, "run-2", i=1)
    monkeypatch.setattr(reg, "_put_create_only", real)
    retry = publish(reg, client, models, "run-2", i=1)
    assert (retry.version, retry.created) == ("v0002", True)
    assert reg.versions() == ["v0001", "v0002"]
    assert publish(reg, client, models, "run-2", i=1).created is False


def test_concurrent_publishers_claim_distinct_versions(client, models, monkeypatch):
    reg_a, reg_b = registry(client), registry(client)
    stale = reg_b._slots()  # B lists the versions before A publishes
    a = publish(reg_a, client, models, "run-a")
    monkeypatch.setattr(reg_b, "_slots", lambda: stale)
    b = publish(reg_b, client, models, "run-b", i=1)  # tries v0001: taken -> v0002
    assert (a.version, b.version) == ("v0001", "v0002")
    assert reg_a.manifest("v0001").run_id == "run-a"
    assert reg_a.load_model("v0001") is not None  # A's bytes were not overwritten


def test_unblessed_candidate_is_not_published_unless_forced_with_a_reason(dclient, models):
    reg = registry(dclient)
    prefix = write_candidate(dclient, "run-x", models[0], blessed=False)
    with pytest.raises(NotBlessedError, match="NOT BLESSED") as info:
        reg.publish(candidate_uri=prefix, run={"run_id": "run-x"})
    assert info.value.blessing.failed == ["min_roc_auc"]
    with pytest.raises(RegistryError, match="'force_reason' parameter of publish must be a non-empty reason"):
        reg.publish(candidate_uri=prefix, run={"run_id": "run-x"}, force=True, force_reason="  ")
    assert reg.versions() == []
    forced = reg.publish(
        candidate_uri=prefix, run={"run_id": "run-x"}, force=True, force_reason="hotfix, approved"
    )
    assert forced.forced and not forced.blessed
    manifest = reg.manifest(forced.version)
    assert (manifest.forced, manifest.force_reason, manifest.blessed) == (True, "hotfix, approved", False)
    event = audit(dclient, "publish-v0001")
    assert (event.forced, event.blessed, event.reason) == (True, False, "hotfix, approved")


def test_publish_without_a_blessing_needs_force_and_is_audited(dclient, models):
    reg = registry(dclient)
    prefix = write_candidate(dclient, "bare", models[0], blessed=None, features=None)
    with pytest.raises(NotBlessedError, match="has no blessing.json"):
        reg.publish(candidate_uri=prefix, run={"run_id": "bare"})
    result = reg.publish(
        candidate_uri=prefix, run={"run_id": "bare"}, force=True, force_reason="benchmark model"
    )
    m = reg.manifest(result.version)
    assert (m.forced, m.blessing, m.feature_signature, m.training_data) == (True, None, None, None)
    assert audit(dclient, "publish-v0001").reason == "benchmark model"
    assert promote(reg, result.version).version == "v0001"  # smoke input from the model's feature names


def test_force_cannot_publish_a_candidate_that_failed_its_behavioural_checks(dclient, models):
    reg = registry(dclient)
    prefix = write_candidate(dclient, "run-b", models[0], behaviour_ok=False)
    with pytest.raises(NotBlessedError, match="behavioural checks failed"):
        reg.publish(candidate_uri=prefix, run={"run_id": "run-b"}, force=True, force_reason="please")
    assert reg.versions() == []


def test_publish_requires_model_bytes(dclient, models):
    reg = registry(dclient)
    prefix = write_candidate(dclient, "empty", models[0])
    storage.delete(dclient, artifacts.model_uri(prefix))
    with pytest.raises(Exception, match="model.skops does not exist"):
        reg.publish(candidate_uri=prefix, run={"run_id": "empty"})


def test_publish_refuses_a_model_other_than_the_one_trained_and_blessed(dclient, models):
    reg = registry(dclient)
    prefix = write_candidate(dclient, "swap", models[0])
    storage.put_bytes(dclient, artifacts.model_uri(prefix), models[1])  # replaced after training
    with pytest.raises(IntegrityError, match=r"training.json records model sha256 .* the model was replaced"):
        reg.publish(candidate_uri=prefix, run={"run_id": "swap"})
    assert reg.versions() == []


def test_publish_refuses_candidate_files_in_another_schema(dclient, models):
    reg = registry(dclient)
    prefix = write_candidate(dclient, "old", models[0])
    storage.put_json(dclient, artifacts.metrics_uri(prefix), {"roc_auc": 0.91})  # the pre-contract shape
    with pytest.raises(
        ArtifactSchemaError, match=r"candidate_metrics at .*metrics.json has schema_version None"
    ):
        reg.publish(candidate_uri=prefix, run={"run_id": "old"})
    storage.put_json(dclient, artifacts.blessing_uri(prefix), {"blessed": True})
    with pytest.raises(ArtifactSchemaError, match="blessing at .* has schema_version None"):
        reg.publish(candidate_uri=prefix, run={"run_id": "old"})
    assert reg.versions() == []


# ------------------------------------------------------------------ promotion
def test_first_promotion_writes_pointer_and_audit_event(dclient, models):
    reg = registry(dclient)
    publish(reg, dclient, models, "run-1")
    p = reg.promote_blessed("v0001", reason="first model", actor="mlops_training/run-1")
    assert (p.version, p.previous_version, p.sequence, p.action) == ("v0001", None, 1, "promote")
    stored = reg.pointer()
    assert isinstance(stored.pointer, artifacts.ProductionPointer) and stored.dataset == "credit"
    assert stored.version == "v0001" and stored.etag == p.etag and '"' not in stored.etag
    assert stored.manifest_sha256 == serialization.sha256_hex(
        storage.get_bytes(dclient, reg.manifest_uri("v0001"))
    )
    assert stored.updated_at.endswith("Z") and stored.evaluation_id == artifacts.candidate_prefix(
        BUCKET, "credit", "run-1"
    )
    event = audit(dclient, "production-00000001")
    assert (event.action, event.version, event.from_version, event.sequence) == ("promote", "v0001", None, 1)
    assert event.actor and event.pointer_etag == p.etag and event.pointer_version_id == p.s3_version_id
    assert event.created_at == stored.updated_at
    assert reg.resolve("production").version == "v0001"


def test_stale_if_match_promotion_gets_412_and_leaves_pointer_unchanged(client, models):
    reg = registry(client)
    for i, run in enumerate(("run-1", "run-2", "run-3")):
        publish(reg, client, models, run, i=i)
    base = promote(reg, "v0001")
    alice, bob = registry(client), registry(client)
    # Both promoters read the same pointer (same ETag) and check their candidates ...
    change_a = alice.prepare_change(
        "v0002", expected_etag=base.etag, reason="alice promotes v2", actor="alice"
    )
    change_b = bob.prepare_change("v0003", expected_etag=base.etag, reason="bob promotes v3", actor="bob")
    assert change_a.base_etag == change_b.base_etag == base.etag
    # ... Alice writes first, then Bob's If-Match is stale.
    written = alice.commit(change_a)
    with pytest.raises(ConcurrentUpdateError, match="HTTP 412") as info:
        bob.commit(change_b)
    assert "now points to v0002" in str(info.value)
    after = reg.pointer()
    assert (after.version, after.etag, after.sequence, after.actor) == ("v0002", written.etag, 2, "alice")
    assert not storage.exists(client, reg.audit_uri("production-00000003"))


def test_two_first_promotions_race_on_if_none_match(client, models):
    reg = registry(client)
    publish(reg, client, models, "run-1")
    publish(reg, client, models, "run-2", i=1)
    a = reg.prepare_change("v0001", expected_etag=None, reason="first model A", actor="a")
    b = reg.prepare_change("v0002", expected_etag=None, reason="first model B", actor="b")
    reg.commit(a)
    with pytest.raises(ConcurrentUpdateError, match="If-None-Match"):
        reg.commit(b)
    assert reg.pointer().version == "v0001"


def test_a_lost_response_on_our_own_pointer_write_is_recognised(dclient, models):
    """botocore retries a PUT whose response was lost; the retry gets 412 but the pointer is ours."""
    from botocore.exceptions import ClientError

    reg = registry(dclient)
    publish(reg, dclient, models, "run-1")
    publish(reg, dclient, models, "run-2", i=1)
    base = promote(reg, "v0001")

    class LostResponse:
        """Applies the pointer write, then answers like the retried request: HTTP 412."""

        def __init__(self, inner):
            self.inner = inner

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def put_object(self, **kwargs):
            response = self.inner.put_object(**kwargs)
            if not kwargs["Key"].endswith("aliases/production.json"):
                return response
            raise ClientError(
                {
                    "Error": {"Code": "PreconditionFailed", "Message": "At least one precondition failed"},
                    "ResponseMetadata": {"HTTPStatusCode": 412},
                },
                "PutObject",
            )

    lossy = ModelRegistry(LostResponse(dclient), BUCKET, "credit")
    p = lossy.promote("v0002", expected_etag=base.etag, reason="v2 after a lost response", actor="a")
    assert (p.version, p.sequence) == ("v0002", 2) and reg.pointer().etag == p.etag
    assert audit(dclient, "production-00000002").version == "v0002"
    # Someone else's pointer is still refused.
    other = reg.prepare_change("v0001", expected_etag=p.etag, reason="back to the first", actor="b")
    promote(reg, "v0001")
    with pytest.raises(ConcurrentUpdateError, match="HTTP 412"):
        lossy.commit(other)


def test_promotion_refuses_when_production_moved_since_evaluation(dclient, models):
    reg = registry(dclient)
    publish(reg, dclient, models, "run-1")
    first = reg.promote_blessed("v0001", reason="first model", actor="a")
    publish(reg, dclient, models, "run-2", i=1, baseline_etag=first.etag)  # evaluated against v0001
    publish(reg, dclient, models, "run-3", baseline_etag=first.etag)  # also evaluated against v0001
    reg.promote_blessed("v0002", reason="v2 wins", actor="a")
    with pytest.raises(ConcurrentUpdateError, match="moved since the evaluation"):
        reg.promote_blessed("v0003", reason="v3 wins", actor="b")
    assert reg.pointer().version == "v0002"


def test_promote_blessed_refuses_unblessed_and_audits_force(dclient, models):
    reg = registry(dclient)
    prefix = write_candidate(dclient, "run-x", models[0], blessed=False)
    reg.publish(candidate_uri=prefix, run={"run_id": "run-x"}, force=True, force_reason="forced publish")
    with pytest.raises(NotBlessedError, match=r"not blessed \(failed: \['min_roc_auc'\]\)"):
        reg.promote_blessed("v0001", reason="no", actor="a")
    p = reg.promote_blessed("v0001", reason="incident override", actor="oncall", force=True)
    assert p.forced is True and p.pointer.forced is True
    assert audit(dclient, "production-00000001").forced is True


def test_conflict_409_is_retried_with_bounded_backoff(dclient, models):
    from botocore.exceptions import ClientError

    class Flaky:
        def __init__(self, inner, failures):
            self.inner, self.failures, self.calls = inner, failures, 0

        def __getattr__(self, name):
            return getattr(self.inner, name)

        def put_object(self, **kwargs):
            if kwargs["Key"].endswith("aliases/production.json"):
                self.calls += 1
                if self.failures > 0:
                    self.failures -= 1
                    raise ClientError(
                        {
                            "Error": {"Code": "ConditionalRequestConflict", "Message": "busy"},
                            "ResponseMetadata": {"HTTPStatusCode": 409},
                        },
                        "PutObject",
                    )
            return self.inner.put_object(**kwargs)

    publish(registry(dclient), dclient, models, "run-1")
    sleeps: list[float] = []
    flaky = Flaky(dclient, failures=2)
    p = ModelRegistry(flaky, BUCKET, "credit", sleep=sleeps.append).promote(
        "v0001", expected_etag=None, reason="retry me please", actor="a"
    )
    assert p.version == "v0001" and flaky.calls == 3 and sleeps == [0.2, 0.4]

    publish(registry(dclient), dclient, models, "run-2", i=1)
    always = Flaky(dclient, failures=99)
    with pytest.raises(PointerConflictError, match="409"):
        ModelRegistry(always, BUCKET, "credit", sleep=lambda s: None).promote(
            "v0002", expected_etag=p.etag, reason="never lands", actor="a"
        )
    assert always.calls == registry_mod.CONFLICT_RETRIES
    assert registry(dclient).pointer().version == "v0001"


def test_retried_promotion_is_idempotent(dclient, models):
    reg = registry(dclient)
    publish(reg, dclient, models, "run-1")
    p1 = reg.promote_blessed(
        "v0001", reason="first", actor="a", request_id="mlops_training/run-1/promote_model"
    )
    p2 = reg.promote_blessed(
        "v0001", reason="first", actor="a", request_id="mlops_training/run-1/promote_model"
    )
    assert (p2.sequence, p2.etag) == (p1.sequence, p1.etag)
    assert [e.event_id for e in reg.audit_events() if e.alias] == ["production-00000001"]
    with pytest.raises(RegistryError, match="already points to v0001"):
        reg.promote("v0001", expected_etag=p1.etag, reason="again", actor="b")


# ------------------------------------------------------------------ rollback
def _three_promoted(reg, client, models):
    for i, run in enumerate(("run-1", "run-2", "run-3")):
        publish(reg, client, models, run, i=i)
        promote(reg, f"v000{i + 1}")


def test_rollback_defaults_to_previous_version_and_accepts_explicit_target(client, models):
    reg = registry(client)
    _three_promoted(reg, client, models)
    back = reg.rollback(reason="v3 underperforms on region north", actor="alice")
    assert (back.version, back.previous_version, back.action, back.sequence) == (
        "v0002",
        "v0003",
        "rollback",
        4,
    )
    event = audit(client, "production-00000004")
    assert (event.action, event.from_version, event.version, event.actor) == (
        "rollback",
        "v0003",
        "v0002",
        "alice",
    )
    explicit = reg.rollback(target="v1", reason="back to the first model", actor="bob")
    assert (explicit.version, explicit.previous_version) == ("v0001", "v0002")
    # artifacts are never copied: still three versions
    assert reg.versions() == ["v0001", "v0002", "v0003"]


def _retire_v1(reg, client):
    tomb = artifacts.Tombstone("credit", "v0001", "2026-01-01T00:00:00Z", "t", "retired for the test")
    artifacts.write_artifact(client, reg.tombstone_uri("v0001"), tomb, if_none_match=True)


def _tamper_v1(reg, client):
    storage.put_bytes(client, reg.manifest("v0001").model_uri, b"evil bytes")


@pytest.mark.parametrize(
    ("case", "target", "error", "match"),
    [
        ("retired", "v0001", RegistryError, "was retired"),
        ("missing", "v0009", RegistryError, "has no version v0009"),
        ("tampered", "v0001", IntegrityError, "Checksum mismatch"),
    ],
)
def test_rollback_refuses_bad_targets_and_leaves_pointer_unchanged(
    client, models, case, target, error, match
):
    reg = registry(client)
    _three_promoted(reg, client, models)
    if case == "retired":
        _retire_v1(reg, client)
    if case == "tampered":
        _tamper_v1(reg, client)
    before = reg.pointer()
    with pytest.raises(error, match=match):
        reg.rollback(target=target, reason="roll back for the test", actor="alice")
    after = reg.pointer()
    assert (after.version, after.etag, after.sequence) == (before.version, before.etag, before.sequence)


def test_rollback_needs_a_reason_and_a_pointer(dclient, models):
    reg = registry(dclient)
    with pytest.raises(RegistryError, match="at least 10 characters"):
        reg.rollback(reason="oops", actor="a")
    with pytest.raises(RegistryError, match="nothing to roll back"):
        reg.rollback(reason="long enough reason", actor="a")
    publish(reg, dclient, models, "run-1")
    promote(reg, "v0001")
    with pytest.raises(RegistryError, match="no previous_version"):
        reg.rollback(reason="long enough reason", actor="a")


# ------------------------------------------------------------------ loading and verification
def test_overwritten_model_key_is_flagged_and_never_loaded(client, models):
    reg = registry(client)
    publish(reg, client, models, "run-1")
    published = reg.load_model("v0001")
    uri = reg.manifest("v0001").model_uri
    storage.put_bytes(client, uri, models[1])  # a valid model, but not the published one
    # Loads read the pinned S3 version: still the published bytes, checksum-verified.
    assert reg.artifact_bytes("v0001") == models[0] and type(reg.load_model("v0001")) is type(published)
    [result] = reg.verify("v0001")
    assert result["status"] == "MISMATCH" and not result["ok"]
    assert [a["file"] for a in result["artifacts"] if a["problem"]] == ["model.skops"]
    with pytest.raises(IntegrityError, match="Checksum mismatch"):
        reg.check_candidate("v0001")  # an alias never moves to a version whose key was overwritten


def test_bytes_that_do_not_match_the_manifest_are_refused_at_load(dclient, models):
    """A manifest whose sha256 does not describe the stored bytes: never deserialized."""
    reg = registry(dclient)
    publish(reg, dclient, models, "run-1")
    m = reg.manifest("v0001")
    entry = m.artifacts["model.skops"]
    forged_entry = dataclasses.replace(entry, sha256="0" * 64)
    forged = dataclasses.replace(
        m, version="v0002", artifacts={"model.skops": forged_entry}, model_sha256="0" * 64
    )
    artifacts.write_artifact(dclient, reg.manifest_uri("v0002"), forged, if_none_match=True)
    with pytest.raises(IntegrityError, match="Checksum mismatch"):
        reg.load_model("v0002")
    with pytest.raises(IntegrityError, match="Checksum mismatch"):
        reg.check_candidate("v0002")


def test_purged_model_bytes_cannot_be_loaded(dclient, models):
    reg = registry(dclient)
    publish(reg, dclient, models, "run-1")
    entry = reg.manifest("v0001").artifacts["model.skops"]
    storage.delete(dclient, entry.uri, version_id=entry.version_id)
    with pytest.raises(RegistryError, match="is missing"):
        reg.load_model("v0001")


def test_resolve_checks_the_manifest_against_the_pointer(dclient, models):
    reg = registry(dclient)
    publish(reg, dclient, models, "run-1")
    promote(reg, "v0001")
    assert reg.resolve("v1").version == reg.resolve("production").version == "v0001"
    changed = dataclasses.replace(reg.manifest("v0001"), force_reason="edited after promotion")
    artifacts.write_artifact(dclient, reg.manifest_uri("v0001"), changed)
    with pytest.raises(IntegrityError, match="changed after promotion"):
        reg.resolve("production")
    with pytest.raises(RegistryError, match="no 'staging' alias"):
        reg.resolve("staging")


def test_smoke_prediction_uses_encoder_categories_without_canned_rows(dclient, models):
    reg = registry(dclient)
    prefix = write_candidate(dclient, "run-1", models[0], with_canned=False)
    reg.publish(candidate_uri=prefix, run={"run_id": "run-1"})
    model = reg.load_model("v0001")
    frame = registry_mod.smoke_frame(model, reg.manifest("v0001").feature_signature)
    assert list(frame.columns) == ["income", "region"] and frame["region"].iloc[0] == "north"
    assert promote(reg, "v0001").version == "v0001"


def test_smoke_prediction_failure_blocks_promotion(dclient, models):
    reg = registry(dclient)
    prefix = write_candidate(dclient, "run-1", models[0], features={"income": "numeric"})  # lacks region
    reg.publish(candidate_uri=prefix, run={"run_id": "run-1"})
    with pytest.raises(RegistryError, match="Smoke prediction failed"):
        promote(reg, "v0001")
    assert reg.pointer() is None


# ------------------------------------------------------------------ retention
def test_retention_never_retires_production_or_its_previous_version(client, models):
    reg = registry(client, clock=lambda: T0)
    for i in range(5):
        publish(reg, client, models, f"run-{i + 1}", i=i)
    promote(reg, "v0001")
    promote(reg, "v0002")  # production=v0002, previous=v0001, newest=v0005
    young = reg.retire(keep_last=1, grace_days=7, actor="retention", now=T0 + timedelta(days=3))
    assert young.retired == [] and "younger than the 7-day grace" in young.decisions[2]["reason"]

    result = reg.retire(keep_last=1, grace_days=7, actor="retention", now=T0 + timedelta(days=30))
    assert result.retired == ["v0003", "v0004"]
    reasons = {d["version"]: d["reason"] for d in result.decisions}
    assert reasons["v0002"] == "alias 'production' points to it"
    assert reasons["v0001"] == "previous_version of 'production'"
    assert reasons["v0005"] == "among the newest 1"
    assert reg.is_retired("v0003") and not reg.is_retired("v0001") and not reg.is_retired("v0002")
    with pytest.raises(RegistryError, match="was retired"):
        reg.promote("v0003", expected_etag=reg.pointer().etag, reason="try retired", actor="a")

    # Within the grace period the artifacts stay; after it they are deleted (manifest and audit kept).
    assert reg.retire(keep_last=1, grace_days=7, actor="retention", now=T0 + timedelta(days=33)).purged == []
    purged = reg.retire(keep_last=1, grace_days=7, actor="retention", now=T0 + timedelta(days=40))
    assert purged.purged == ["v0003", "v0004"]
    assert not storage.exists(client, reg.version_prefix("v0003") + "model.skops")
    assert storage.exists(client, reg.manifest_uri("v0003"))
    assert reg.load_model("v0002") is not None and reg.load_model("v0001") is not None
    assert reg.verify("v0003")[0]["status"] == "purged"
    actions = [r["action"] for r in reg.history()]
    assert actions.count("retire") == 2 and actions.count("purge") == 2 and actions.count("promote") == 2
    again = reg.retire(keep_last=1, grace_days=7, actor="retention", now=T0 + timedelta(days=50))
    assert again.retired == [] and again.purged == []


def test_retention_rejects_bad_policy(dclient):
    with pytest.raises(RegistryError, match="'keep_last' parameter of retire must be >= 1"):
        registry(dclient).retire(keep_last=0, grace_days=7, actor="a")


# ------------------------------------------------------------------ history and summary
def test_history_merges_audit_trail_and_pointer_versions(dclient, models):
    reg = registry(dclient)
    _three_promoted(reg, dclient, models)
    reg.rollback(reason="v3 underperforms on region north", actor="alice")
    rows = [r for r in reg.history() if r.get("alias") == "production"]
    assert [(r["action"], r["from_version"], r["version"]) for r in rows] == [
        ("promote", None, "v0001"),
        ("promote", "v0001", "v0002"),
        ("promote", "v0002", "v0003"),
        ("rollback", "v0003", "v0002"),
    ]
    assert all(
        r["sources"] == ["audit", "pointer"] and r["created_at"] and r["actor"] and r["reason"] for r in rows
    )
    # A pointer change whose audit event is lost still shows up, flagged.
    storage.delete(dclient, reg.audit_uri("production-00000002"))
    rows = [r for r in reg.history() if r.get("alias") == "production"]
    assert len(rows) == 4 and rows[1]["audit_missing"] and rows[1]["sources"] == ["pointer"]
    assert (rows[1]["from_version"], rows[1]["version"], rows[1]["actor"]) == ("v0001", "v0002", "tester")


def test_registry_summary(dclient, models):
    reg = registry(dclient)
    _three_promoted(reg, dclient, models)
    summary = registry_summary(dclient, BUCKET, "credit")
    assert summary["versions"] == ["v0001", "v0002", "v0003"]
    assert summary["production"]["version"] == "v0003"
    assert [h["action"] for h in summary["history"]].count("promote") == 3
    assert [d["blessed"] for d in summary["version_details"]] == [True, True, True]
    json.dumps(summary)  # JSON-safe
    assert registry_summary(dclient, BUCKET, "diabetes") == {
        "dataset": "diabetes",
        "models_uri": f"s3://{BUCKET}/models/diabetes/",
        "versions": [],
        "version_details": [],
        "production": None,
        "history": [],
    }


# ------------------------------------------------------------------ CLI (server mode: it builds its own client)
def test_cli_versions_show_history_verify(server_s3, models, capsys):
    from mlops.cli import main

    reg = registry(server_s3)
    _three_promoted(reg, server_s3, models)
    reg.rollback(reason="back to v2 after review", actor="alice")
    capsys.readouterr()

    assert main(["registry", "versions", "credit", "--bucket", BUCKET, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["versions"]
    assert [r["version"] for r in rows] == ["v0001", "v0002", "v0003"]
    assert rows[1]["tags"] == ["production"] and rows[2]["tags"] == ["previous"]

    assert (
        main(["registry", "--json", "versions", "credit", "--bucket", BUCKET]) == 0
    )  # flag before the action
    assert len(json.loads(capsys.readouterr().out)["versions"]) == 3

    assert main(["registry", "show", "credit", "--bucket", BUCKET, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "v0002"

    assert main(["registry", "history", "credit", "--bucket", BUCKET, "--json"]) == 0
    history = json.loads(capsys.readouterr().out)["history"]
    assert [h["action"] for h in history if h["alias"]] == ["promote", "promote", "promote", "rollback"]

    assert main(["registry", "history", "credit", "--bucket", BUCKET]) == 0
    text = capsys.readouterr().out
    assert "rollback" in text and "v0003 -> v0002" in text and "by alice: back to v2 after review" in text

    assert main(["registry", "verify", "credit", "v0002", "--bucket", BUCKET, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    _tamper_v1(reg, server_s3)
    assert main(["registry", "verify", "credit", "--bucket", BUCKET]) == 1
    assert "v0001: MISMATCH" in capsys.readouterr().out
    assert main(["registry", "show", "credit", "v0042", "--bucket", BUCKET]) == 1
    assert "has no version v0042" in capsys.readouterr().err

"""The registry under faults (issue 14): lost responses, crashes between writes, abandoned
publishes, rewritten versions, models that crash the process, and two CAS winners."""

from __future__ import annotations

import contextlib
import dataclasses
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlparse

import pytest

from mlops import artifacts, models, serialization, storage
from mlops.errors import ConcurrentUpdateError, RegistryError
from mlops.registry import ModelRegistry
from tests import conftest as candidates

BUCKET = "mlops-test"
RUN = {"dag_id": "mlops_training", "run_id": "run-1", "try_number": 1}
RID = "mlops_training/run-1/promote_model"
WRITES = ("PutObject", "DeleteObject", "CopyObject")


# ------------------------------------------------------------------ fixtures and helpers
@pytest.fixture(params=["decorator", "server"])
def client(request):
    if request.param == "decorator":
        c = request.getfixturevalue("s3")
        request.getfixturevalue("bucket")
        return c
    return request.getfixturevalue("server_s3")


@pytest.fixture
def dclient(s3, bucket):
    return s3


def _fit(c: float) -> bytes:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(3)
    X = pd.DataFrame({"income": rng.normal(size=120)})
    return serialization.dump_model(LogisticRegression(C=c).fit(X, (X["income"] > 0).astype(int)))


@pytest.fixture(scope="module")
def blobs():
    return [_fit(1.0), _fit(0.2)]


def crashing_tree() -> bytes:
    """A DecisionTree of trusted types only whose root points at child nodes far out of range:
    it loads, and ``predict`` then reads unmapped memory (SIGSEGV)."""
    import numpy as np
    import pandas as pd
    import skops.io as sio
    from sklearn.tree import DecisionTreeClassifier

    X = pd.DataFrame({"income": np.arange(20.0)})
    model = DecisionTreeClassifier(random_state=0).fit(X, (X["income"] > 9).astype(int))
    state = model.tree_.__getstate__()
    nodes = state["nodes"].copy()
    nodes["left_child"][0] = nodes["right_child"][0] = 10**8
    model.tree_.__setstate__({**state, "nodes": nodes})
    return sio.dumps(model)


def registry(client, dataset="credit", **kw):
    return ModelRegistry(client, BUCKET, dataset, sleep=lambda s: None, **kw)


def candidate(client, run_key, blob, dataset="credit", **kw):
    return candidates.write_candidate(
        client, BUCKET, run_key, blob, dataset=dataset, features={"income": "numeric"}, **kw
    )


def publish(reg, client, run_key, blob):
    prefix = candidate(client, run_key, blob, dataset=reg.dataset)
    return reg.publish(candidate_uri=prefix, run={**RUN, "run_id": run_key})


def events(reg) -> dict[str, artifacts.AuditEvent]:
    return {e.event_id: e for e in reg.audit_events()}


class Crash(Exception):
    """The worker died right after a write landed."""


@contextlib.contextmanager
def crash_after_write(client, n: int | None):
    """Let S3 writes land; raise :class:`Crash` right after the ``n``-th successful one (None: never).

    Yields a list that collects ``(operation, key)`` of every successful write.
    """
    seen: list[tuple[str, str]] = []

    def after(http_response, model, context, **kwargs):
        if http_response.status_code >= 300:
            return
        path = unquote(urlparse(http_response.url).path).lstrip("/")
        key = path.removeprefix(f"{BUCKET}/")  # path-style or virtual-hosted addressing
        seen.append((model.name, key))
        if len(seen) == n:
            raise Crash(f"worker killed after write {n}: {model.name} {key}")

    names = [f"after-call.s3.{op}" for op in WRITES]
    for name in names:
        client.meta.events.register(name, after)
    try:
        yield seen
    finally:
        for name in names:
            client.meta.events.unregister(name, after)


@contextlib.contextmanager
def lose_response_once(client, key_suffix: str):
    """The first PUT to a key ending in ``key_suffix`` is applied, but its response is "lost":
    botocore sees a retryable failure and re-sends the identical request (the way it handles
    a dropped connection), which then gets the server's real answer."""
    lost: list[int] = []

    def needs_retry(response, attempts, operation, request_dict, **kwargs):
        if not lost and response is not None and request_dict["url_path"].endswith(key_suffix):
            lost.append(response[0].status_code)
            return 0  # retry now
        return None

    client.meta.events.register("needs-retry.s3.PutObject", needs_retry)
    try:
        yield lost
    finally:
        client.meta.events.unregister("needs-retry.s3.PutObject", needs_retry)


# ------------------------------------------------------------------ 1. lost response on the pointer PUT
def test_lost_response_on_the_pointer_put_is_our_own_write(client, blobs):
    reg = registry(client)
    publish(reg, client, "run-1", blobs[0])
    publish(reg, client, "run-2", blobs[1])
    base = reg.promote("v0001", expected_etag=None, reason="first model", actor="a")
    with lose_response_once(client, "aliases/production.json") as lost:
        p = reg.promote("v0002", expected_etag=base.etag, reason="v2 after a lost response", actor="cli")
    assert lost == [200]  # the first PUT landed; botocore's re-send of it got HTTP 412
    assert (p.version, p.sequence, p.previous_version) == ("v0002", 2, "v0001")
    assert p.request_id.startswith("auto-") and base.request_id.startswith("auto-")  # generated, never None
    stored = reg.pointer()
    assert (stored.version, stored.etag, stored.request_id) == ("v0002", p.etag, p.request_id)
    assert len(reg.pointer_history()) == 2  # one pointer version per promotion: applied once
    event = events(reg)["production-00000002"]
    assert (event.version, event.request_id, event.pointer_etag) == ("v0002", p.request_id, p.etag)


# ------------------------------------------------------------------ 2. outage between pointer and audit write
def test_a_promote_retry_without_request_id_writes_the_missing_audit_event(dclient, blobs):
    reg = registry(dclient)
    publish(reg, dclient, "run-1", blobs[0])
    publish(reg, dclient, "run-2", blobs[1])
    base = reg.promote("v0001", expected_etag=None, reason="first model", actor="a")

    def audit_outage(params, **kwargs):
        if "/audit/production-" in params["Key"]:
            raise ConnectionError("endpoint unreachable")

    dclient.meta.events.register("before-parameter-build.s3.PutObject", audit_outage)
    with pytest.raises(ConnectionError):
        reg.promote("v0002", expected_etag=base.etag, reason="promote during an outage", actor="cli")
    dclient.meta.events.unregister("before-parameter-build.s3.PutObject", audit_outage)
    assert reg.pointer().version == "v0002" and "production-00000002" not in events(reg)

    # The CLI retries without a request id: the move is done, and the gap is closed.
    with pytest.raises(RegistryError, match=r"already points to v0002 .*missing audit event .* was written"):
        reg.promote("v0002", expected_etag=reg.pointer().etag, reason="retry the promotion", actor="cli")
    event = events(reg)["production-00000002"]
    assert (event.version, event.from_version, event.request_id) == (
        "v0002",
        "v0001",
        reg.pointer().request_id,
    )
    assert not any(r.get("audit_missing") for r in reg.history())


# ------------------------------------------------------------------ 3. crash after the manifest
def test_a_publish_retry_writes_the_missing_publish_event(dclient, blobs):
    reg = registry(dclient)
    prefix = candidate(dclient, "run-1", blobs[0])
    with crash_after_write(dclient, 5) as seen, pytest.raises(Crash):  # 4 files, then the manifest
        reg.publish(candidate_uri=prefix, run=RUN)
    assert seen[-1][1].endswith("versions/v0001/manifest.json") and "publish-v0001" not in events(reg)
    again = reg.publish(candidate_uri=prefix, run={**RUN, "try_number": 2})
    assert (again.version, again.created) == ("v0001", False)
    event = events(reg)["publish-v0001"]
    manifest_sha = serialization.sha256_hex(storage.get_bytes(dclient, reg.manifest_uri("v0001")))
    assert (event.manifest_sha256, event.run, event.blessed) == (manifest_sha, RUN, True)


# ------------------------------------------------------------------ 2/3. every crash point, replayed
def _publish_and_promote(reg, prefix):
    version = reg.publish(candidate_uri=prefix, run=RUN).version
    reg.promote_blessed(version, reason="blessed by the gate", actor="mlops_training/run-1", request_id=RID)


def _assert_consistent(reg, client):
    assert reg.versions() == ["v0001"] and set(reg._slots()) == {1}
    pointer = reg.pointer()
    assert (pointer.version, pointer.sequence, pointer.request_id) == ("v0001", 1, RID)
    assert len(reg.pointer_history()) == 1
    trail = events(reg)
    assert set(trail) == {"publish-v0001", "production-00000001"}
    manifest_sha = serialization.sha256_hex(storage.get_bytes(client, reg.manifest_uri("v0001")))
    promoted = trail["production-00000001"]
    assert manifest_sha == pointer.manifest_sha256 == trail["publish-v0001"].manifest_sha256
    assert (promoted.manifest_sha256, promoted.request_id) == (manifest_sha, RID)
    assert promoted.pointer_version_id == pointer.s3_version_id
    assert not any(r.get("audit_missing") for r in reg.history())
    [verified] = reg.verify()
    assert verified["ok"], verified["problems"]
    models.require_check(client, BUCKET, reg.manifest("v0001"))


def test_every_crash_point_of_publish_and_promote_heals_on_retry(dclient, blobs):
    reg = registry(dclient, "clean")
    prefix = candidate(dclient, "run-1", blobs[0], dataset="clean")
    with crash_after_write(dclient, None) as writes:
        _publish_and_promote(reg, prefix)
    keys = [key.split("/clean/", 1)[1] for _, key in writes]
    assert keys == [
        "versions/v0001/model.skops",
        "versions/v0001/training.json",
        "versions/v0001/metrics.json",
        "versions/v0001/blessing.json",
        "versions/v0001/manifest.json",
        "audit/publish-v0001.json",
        "checks/v0001.json",
        "aliases/production.json",
        "audit/production-00000001.json",
    ]
    _assert_consistent(reg, dclient)
    for n in range(1, len(keys) + 1):
        dataset = f"crash{n}"
        reg = registry(dclient, dataset)
        prefix = candidate(dclient, "run-1", blobs[0], dataset=dataset)
        with crash_after_write(dclient, n), pytest.raises(Crash):
            _publish_and_promote(reg, prefix)
        _publish_and_promote(reg, prefix)  # the task retry: same run id, same request id
        _assert_consistent(reg, dclient)


def test_a_retention_crash_after_the_tombstone_or_mid_purge_leaves_no_audit_gap(dclient, blobs):
    reg = registry(dclient)
    for i, run_key in enumerate(("run-1", "run-2")):
        publish(reg, dclient, run_key, blobs[i])
    later = datetime.now(UTC) + timedelta(days=30)
    with crash_after_write(dclient, 1), pytest.raises(Crash):  # the tombstone lands, then the worker dies
        reg.retire(keep_last=1, grace_days=7, actor="retention", now=later)
    assert reg.is_retired("v0001") and "retire-v0001" not in events(reg)
    again = reg.retire(keep_last=1, grace_days=7, actor="retention", now=later)
    assert again.retired == [] and events(reg)["retire-v0001"].actor == "retention"
    with crash_after_write(dclient, 2), pytest.raises(Crash):  # purge: its event, one delete, then death
        reg.retire(keep_last=1, grace_days=7, actor="retention", now=later + timedelta(days=8))
    assert events(reg)["purge-v0001"].details["deleted_objects"] == 4
    done = reg.retire(keep_last=1, grace_days=7, actor="retention", now=later + timedelta(days=8))
    assert done.purged == ["v0001"] and reg.verify("v0001")[0]["status"] == "purged"


# ------------------------------------------------------------------ 4. abandoned publishes
def test_retention_removes_abandoned_version_folders_after_the_grace(dclient, blobs):
    reg = registry(dclient)
    publish(reg, dclient, "run-1", blobs[0])
    for run_key in ("run-2", "run-3"):  # killed after two of their files
        prefix = candidate(dclient, run_key, blobs[1])
        with crash_after_write(dclient, 2), pytest.raises(Crash):
            reg.publish(candidate_uri=prefix, run={**RUN, "run_id": run_key})
    assert sorted(reg._slots()) == [1, 2, 3] and reg.versions() == ["v0001"]
    v1_objects = storage.list_versions(dclient, reg.version_prefix("v0001"))

    now = datetime.now(UTC)
    young = reg.retire(keep_last=5, grace_days=0, actor="retention", now=now)
    assert young.orphans == [] and [d["decision"] for d in young.decisions[1:]] == ["incomplete"] * 2
    assert storage.list_uris(dclient, reg.version_prefix("v0002"))

    old = reg.retire(keep_last=5, grace_days=0, actor="retention", now=now + timedelta(days=2))
    assert old.orphans == ["v0002", "v0003"] and old.kept == ["v0001"]
    assert "no manifest, last written" in old.decisions[1]["reason"]
    for v in ("v0002", "v0003"):
        assert storage.list_versions(dclient, reg.version_prefix(v)) == []
        event = events(reg)[f"orphan-{v}"]
        assert event.details["deleted_objects"] == 2 and event.details["files"] == [
            "model.skops",
            "training.json",
        ]
    assert storage.list_versions(dclient, reg.version_prefix("v0001")) == v1_objects  # never touched
    assert [r["action"] for r in reg.history()].count("orphan") == 2
    # Numbers are never reused: the next publish is v0004, and v0001 still verifies.
    assert publish(reg, dclient, "run-4", blobs[1]).version == "v0004"
    assert reg.versions() == ["v0001", "v0004"] and reg.verify("v0001")[0]["ok"]
    with pytest.raises(RegistryError, match="'orphan_grace_hours' parameter of retire must be >= 1"):
        reg.retire(keep_last=5, grace_days=0, actor="retention", orphan_grace_hours=0)


# ------------------------------------------------------------------ 5. verify catches rewrites
def test_verify_catches_a_manifest_rewritten_with_its_model(server_s3, blobs, capsys):
    from mlops.cli import main

    reg = registry(server_s3)
    publish(reg, server_s3, "run-1", blobs[0])
    reg.promote("v0001", expected_etag=None, reason="first model", actor="a")
    assert reg.verify("v0001")[0]["ok"]

    # An attacker with write access replaces the model and writes a manifest that describes it.
    manifest = reg.manifest("v0001")
    put = storage.put_bytes(server_s3, manifest.model_uri, blobs[1])
    entry = dataclasses.replace(
        manifest.artifacts["model.skops"],
        sha256=serialization.sha256_hex(blobs[1]),
        size=len(blobs[1]),
        version_id=put.version_id,
    )
    forged = dataclasses.replace(
        manifest, artifacts={**manifest.artifacts, "model.skops": entry}, model_sha256=entry.sha256
    )
    artifacts.write_artifact(server_s3, reg.manifest_uri("v0001"), forged)

    [result] = reg.verify("v0001")
    assert (result["ok"], result["status"]) == (False, "MISMATCH")
    text = "\n".join(result["problems"])
    manifest_uri = reg.manifest_uri("v0001")
    assert f"{manifest_uri} has 2 S3 versions and 0 delete markers (create-only: expected exactly 1)" in text
    assert "recorded by the publish audit event" in text and "recorded by the 'production' pointer" in text
    assert "recorded by the promote audit event" in text
    assert f"model.skops: {manifest.model_uri} has 2 S3 versions" in text
    capsys.readouterr()
    assert main(["registry", "verify", "credit", "v0001", "--bucket", BUCKET]) == 1
    out = capsys.readouterr().out
    assert "v0001: MISMATCH" in out and f"{manifest_uri} has 2 S3 versions" in out
    assert main(["registry", "verify", "credit", "--bucket", BUCKET, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False


def test_verify_names_a_missing_publish_event_and_wrong_pinned_bytes(dclient, blobs):
    reg = registry(dclient)
    publish(reg, dclient, "run-1", blobs[0])
    storage.delete(dclient, reg.audit_uri("publish-v0001"))
    [result] = reg.verify()
    assert result["problems"] == [
        f"{reg.audit_uri('publish-v0001')} is missing: no publish audit event for v0001"
    ]


# ------------------------------------------------------------------ 6. smoke prediction in a child process
def test_a_model_that_segfaults_fails_promotion_and_rollback_and_the_worker_survives(dclient, blobs):
    reg = registry(dclient)
    publish(reg, dclient, "good", blobs[0])
    publish(reg, dclient, "evil", crashing_tree())  # trusted types only: publish loads it fine
    with pytest.raises(RegistryError, match=r"crashed the child process with SIG(SEGV|BUS)"):
        reg.promote("v0002", expected_etag=None, reason="promote the crafted tree", actor="a")
    assert reg.pointer() is None and models.read_check(dclient, BUCKET, "credit", "v0002") is None
    good = reg.promote("v0001", expected_etag=None, reason="first model", actor="a")
    with pytest.raises(RegistryError, match="crashed the child process"):
        reg.rollback(target="v0002", reason="roll back to the crafted tree", actor="a")
    assert (reg.pointer().version, reg.pointer().etag) == ("v0001", good.etag)
    # Scoring's load path refuses the unchecked version before deserializing it.
    with pytest.raises(RegistryError, match="v0002 has no smoke-check record .* never passed the smoke"):
        models.load_model(dclient, reg.manifest("v0002"), require_checked=True)
    with pytest.raises(RegistryError, match="never passed the smoke prediction"):
        models.resolve(dclient, BUCKET, "credit", "v0002", require_checked=True)


def test_a_smoke_prediction_that_hangs_is_killed_after_the_timeout(dclient):
    reg = registry(dclient, smoke_timeout=0.05)  # the child cannot even import in time
    publish(reg, dclient, "run-1", _fit(0.37))
    with pytest.raises(RegistryError, match=r"did not finish within 0.05 s in a child process \(killed\)"):
        reg.promote("v0001", expected_etag=None, reason="promote a slow model", actor="a")
    assert reg.pointer() is None


def test_scoring_loads_only_checked_versions(dclient, blobs):
    reg = registry(dclient)
    publish(reg, dclient, "run-1", blobs[0])
    manifest = reg.manifest("v0001")
    with pytest.raises(RegistryError, match="has no smoke-check record"):
        models.load_model(dclient, manifest, require_checked=True)
    assert models.load_model(dclient, manifest) is not None  # the flag is what scoring sets
    reg.promote("v0001", expected_etag=None, reason="first model", actor="a")
    check = models.read_check(dclient, BUCKET, "credit", "v0001")
    assert (check.model_sha256, check.rows) == (manifest.model_sha256, 2) and check.libraries["sklearn"]
    assert models.load_model(dclient, manifest, require_checked=True) is not None
    assert models.resolve(dclient, BUCKET, "credit", "production", require_checked=True).version == "v0001"
    # A check of other bytes does not count.
    other = dataclasses.replace(check, model_sha256="0" * 64)
    artifacts.write_artifact(dclient, reg.check_uri("v0001"), other)
    with pytest.raises(RegistryError, match="was checked with model sha256 0000"):
        models.load_model(dclient, manifest, require_checked=True)


def test_cli_check_records_a_pass(server_s3, blobs, capsys):
    from mlops.cli import main

    reg = registry(server_s3)
    publish(reg, server_s3, "run-1", blobs[0])
    assert main(["registry", "check", "credit", "v1", "--bucket", BUCKET]) == 0
    assert "credit v0001: smoke prediction passed in a child process" in capsys.readouterr().out
    assert models.read_check(server_s3, BUCKET, "credit", "v0001").version == "v0001"


# ------------------------------------------------------------------ 9. two CAS winners
def test_commit_refuses_when_the_audit_slot_holds_another_writers_event(dclient, blobs):
    import boto3

    reg = registry(dclient)
    for i, run_key in enumerate(("run-1", "run-2", "run-3")):
        publish(reg, dclient, run_key, blobs[i % 2])
    base = reg.promote("v0001", expected_etag=None, reason="first model", actor="a")
    # Bob's store checks If-Match and writes without a lock (moto under load): his stale CAS lands too.
    bob_client = boto3.client("s3", region_name="us-east-1")
    bob_client.meta.events.register(
        "before-parameter-build.s3.PutObject", lambda params, **kw: params.pop("IfMatch", None)
    )
    alice, bob = registry(dclient), registry(bob_client)
    change_a = alice.prepare_change("v0002", expected_etag=base.etag, reason="alice promotes", actor="alice")
    change_b = bob.prepare_change("v0003", expected_etag=base.etag, reason="bob promotes", actor="bob")
    alice.commit(change_a)
    with pytest.raises(ConcurrentUpdateError, match="two writers both passed the compare-and-swap") as info:
        bob.commit(change_b)
    assert "holds promote to v0002 by alice" in str(info.value) and "now points to v0003" in str(info.value)
    assert events(reg)["production-00000002"].actor == "alice"

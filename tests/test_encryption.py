"""Encryption at rest and versioned buckets (issue 14, break 7): every object a lifecycle run writes is encrypted.

The bucket is created versioned but WITHOUT default encryption, so moto adds no SSE of its own:
each ``ServerSideEncryption`` found below was set by our writes (``storage.put_bytes``, ``copy``,
``start_multipart``). Every object version is checked with a HEAD on its VersionId.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from mlops import artifacts, evaluation, models, monitoring, scoring, storage, training, validation
from mlops.dev import datagen
from mlops.registry import ModelRegistry
from tests.conftest import unencrypted_versions
from tests.include.mlops.training_world import END, fast, seed_validated

BUCKET = "mlops-sse"


@pytest.fixture
def plain_bucket(s3):
    """A versioned bucket without default encryption (SSE can only come from the writes)."""
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    storage.require_versioned_bucket(s3, BUCKET)
    return BUCKET


def _encryption_of_every_version(client, bucket: str) -> dict[str, str | None]:
    return {
        f"{v.key}@{v.version_id}": (storage.head(client, v.uri, v.version_id) or {}).get(
            "ServerSideEncryption"
        )
        for v in storage.list_versions(client, f"s3://{bucket}/")
        if not v.is_delete_marker
    }


def test_the_check_sees_an_unencrypted_write(s3, plain_bucket):
    """The control: a raw PUT without SSE is found, so an empty list below means something."""
    storage.put_bytes(s3, f"s3://{plain_bucket}/ours.json", b"{}")
    s3.put_object(Bucket=plain_bucket, Key="raw.bin", Body=b"x")
    assert [k.split("@")[0] for k in unencrypted_versions(s3, plain_bucket)] == ["raw.bin"]


def test_a_lifecycle_slice_writes_only_encrypted_object_versions(s3, plain_bucket, credit_cfg):
    """validate -> train -> evaluate -> gate -> publish -> promote -> score -> monitor, all on one bucket."""
    cfg = fast(credit_cfg)
    seed_validated(s3, plain_bucket, cfg)  # batches, labels and validation results of 12 days
    bad_day = END + timedelta(days=1)
    datagen.seed_dataset(
        s3, plain_bucket, cfg, start=bad_day, days=1, rows_per_day=300,
        scenario=datagen.Scenario(bad_days=(bad_day,)), log=lambda m: None,
    )  # fmt: skip
    good = validation.validate_and_record(
        s3, artifacts.batch_uri(plain_bucket, "credit", END), cfg, force=True
    )
    assert good.success
    with pytest.raises(validation.BatchRejected):  # writes the result and copies the batch to quarantine/
        validation.validate_and_record(s3, artifacts.batch_uri(plain_bucket, "credit", bad_day), cfg)

    cand = training.train_candidate(s3, cfg, bucket=plain_bucket, end=END, run_id="sse", window_days=12)
    evaluation.evaluate_candidate(s3, cfg, cand.candidate_prefix, bucket=plain_bucket)
    assert evaluation.gate_candidate(s3, cfg, cand.candidate_prefix).blessed
    registry = ModelRegistry(s3, plain_bucket, "credit")
    published = registry.publish(candidate_uri=cand.candidate_prefix, run={"run_id": "sse"})
    registry.promote_blessed(published.version, reason="sse lifecycle", actor="pytest")
    assert models.read_pointer(s3, plain_bucket, "credit").pointer.version == published.version

    days = [END - timedelta(days=i) for i in (2, 1, 0)]
    for day in days:
        result = scoring.score_batch(
            s3, cfg, input_uri=artifacts.batch_uri(plain_bucket, "credit", day),
            output_uri=artifacts.predictions_prefix(plain_bucket, "credit", day), bucket=plain_bucket,
            run_id=f"score_{day}",
        )  # fmt: skip
        assert result.rows_scored > 0
    monitoring.monitor_drift(s3, plain_bucket, cfg, END, window_days=3)
    monitoring.monitor_performance(s3, plain_bucket, cfg, END, days=3)
    night = monitoring.evaluate_night(s3, plain_bucket, cfg, END, run_id="sse")

    found = _encryption_of_every_version(s3, plain_bucket)
    written = {k.split("@")[0] for k in found}
    for piece in (
        "quarantine/",
        "candidates/credit/",
        "models/credit/",
        "predictions/credit/",
        "monitoring/credit/",
    ):
        assert any(key.startswith(piece) for key in written), f"the slice wrote nothing under {piece}"
    assert night.report_uri.split(f"{plain_bucket}/", 1)[1] in written
    assert len(found) > 50
    plain = sorted(k for k, sse in found.items() if sse != "AES256")
    assert not plain, f"{len(plain)} of {len(found)} object versions are not SSE-S3 encrypted: {plain[:10]}"


# ---------------------------------------------------------------- SSE-KMS
@pytest.fixture
def kms_key(s3, monkeypatch):
    import boto3

    key_id = boto3.client("kms", region_name="us-east-1").create_key()["KeyMetadata"]["KeyId"]
    monkeypatch.setenv(storage.SSE_KMS_KEY_ENV, key_id)
    return key_id


def test_every_write_function_uses_sse_kms_with_the_configured_key(s3, plain_bucket, kms_key):
    base = f"s3://{plain_bucket}/kms"
    storage.put_bytes(s3, f"{base}/put.bin", b"x")
    storage.put_json(s3, f"{base}/cas.json", {"v": 1}, if_none_match=True)
    storage.copy(s3, f"{base}/put.bin", f"{base}/copy.bin")
    upload = storage.start_multipart(s3, f"{base}/multi.bin")
    etag = storage.upload_part(s3, f"{base}/multi.bin", upload, 1, b"y")
    storage.complete_multipart(s3, f"{base}/multi.bin", upload, [etag])
    heads = {v.key: storage.head(s3, v.uri, v.version_id) for v in storage.list_versions(s3, base)}
    assert sorted(heads) == ["kms/cas.json", "kms/copy.bin", "kms/multi.bin", "kms/put.bin"]
    assert {(h["ServerSideEncryption"], h["SSEKMSKeyId"]) for h in heads.values()} == {("aws:kms", kms_key)}


def test_ensure_bucket_sets_kms_default_encryption(s3, kms_key):
    storage.ensure_bucket(s3, "mlops-kms")
    rule = s3.get_bucket_encryption(Bucket="mlops-kms")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": kms_key,
    }
    assert rule["BucketKeyEnabled"] is True
    assert s3.get_bucket_versioning(Bucket="mlops-kms")["Status"] == "Enabled"


# ---------------------------------------------------------------- versioned buckets only
def test_an_operator_refuses_an_unversioned_bucket_at_once(moto_server, monkeypatch):
    """The operators' client (common.s3_client) fails the task without retries, naming the fix."""
    from airflow.sdk.exceptions import AirflowFailException

    from mlops_operators.validation import ValidateBatchOperator

    client = storage.client_from_env(require_versioned=False)
    client.create_bucket(Bucket="mlops-op-unversioned")
    monkeypatch.setattr(storage, "_VERSIONED", set())
    uri = artifacts.batch_uri("mlops-op-unversioned", "credit", END)
    op = ValidateBatchOperator(task_id="validate_batch", dataset="credit", batch_uri=uri)
    try:
        with pytest.raises(AirflowFailException) as info:
            op.execute(context={})
    finally:
        client.delete_bucket(Bucket="mlops-op-unversioned")
    assert str(info.value).startswith(f"Bucket 'mlops-op-unversioned' at {moto_server} is not versioned")
    assert (
        "put-bucket-versioning --bucket mlops-op-unversioned --versioning-configuration Status=Enabled"
        in str(info.value)
    )
    assert isinstance(info.value.__context__, storage.UnversionedBucketError)

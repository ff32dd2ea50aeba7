"""S3 helpers against moto: conditional writes, metadata, ranged reads, versions, copies, multipart uploads,
table reading, clients."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from mlops import artifacts, storage
from mlops.errors import InputReadError


def test_put_get_roundtrip_keeps_versions(s3, bucket):
    uri = f"s3://{bucket}/a/b.json"
    first = storage.put_json(s3, uri, {"n": 1})
    second = storage.put_json(s3, uri, {"n": 2})
    assert first.version_id and second.version_id and first.version_id != second.version_id
    assert storage.get_json(s3, uri) == {"n": 2}
    assert storage.get_json(s3, uri, version_id=first.version_id) == {"n": 1}


def test_create_only_refuses_existing(s3, bucket):
    uri = f"s3://{bucket}/once.txt"
    storage.put_bytes(s3, uri, b"x", if_none_match=True)
    with pytest.raises(storage.PreconditionFailed, match="once.txt"):
        storage.put_bytes(s3, uri, b"y", if_none_match=True)
    assert storage.get_bytes(s3, uri) == b"x"


def test_stale_if_match_is_refused(server_s3):
    uri = "s3://mlops-test/pointer.json"
    first = storage.put_json(server_s3, uri, {"v": 1})
    storage.put_json(server_s3, uri, {"v": 2}, if_match=first.etag)
    with pytest.raises(storage.PreconditionFailed):
        storage.put_json(server_s3, uri, {"v": 3}, if_match=first.etag)
    assert storage.get_json(server_s3, uri) == {"v": 2}


def test_missing_object_is_clear(s3, bucket):
    with pytest.raises(InputReadError, match=r"s3://mlops-test/nope\.parquet does not exist"):
        storage.get_bytes(s3, f"s3://{bucket}/nope.parquet")


def test_parquet_roundtrip_and_listing(s3, bucket, credit_day):
    features, _ = credit_day
    uri = artifacts.batch_uri(bucket, "credit", "2026-01-10")
    storage.write_parquet(s3, uri, features)
    back = storage.read_table(s3, uri)
    pd.testing.assert_frame_equal(back, features, check_dtype=False)
    assert storage.list_uris(s3, f"s3://{bucket}/data/credit/") == [uri]


def test_parse_uri_rejects_non_s3():
    with pytest.raises(ValueError, match="Expected an S3 URI"):
        storage.parse_uri("/tmp/x")


def test_client_from_env_uses_connection_endpoint(monkeypatch, moto_server):
    monkeypatch.setenv(
        "MY_CONN",
        json.dumps(
            {"conn_type": "aws", "login": "k", "password": "s", "extra": {"endpoint_url": moto_server}}
        ),
    )
    client = storage.client_from_env("MY_CONN")
    assert client.meta.endpoint_url == moto_server


def test_client_from_uri_form(monkeypatch):
    monkeypatch.setenv(
        "MY_CONN", "aws://key:secret@/?endpoint_url=http%3A%2F%2F127.0.0.1%3A9999&region_name=eu-west-1"
    )
    client = storage.client_from_env("MY_CONN")
    assert client.meta.endpoint_url == "http://127.0.0.1:9999"
    assert client.meta.region_name == "eu-west-1"


# ---------------------------------------------------------------- metadata and conditional writes
def test_put_with_metadata_reads_back_lower_cased(s3, bucket):
    uri = f"s3://{bucket}/meta.bin"
    storage.put_bytes(s3, uri, b"x", metadata={"MLOps-Run-Id": "run-1", "mlops-sha256": "ab"})
    assert storage.metadata(s3, uri) == {"mlops-run-id": "run-1", "mlops-sha256": "ab"}
    assert storage.head(s3, uri)["ContentLength"] == 1
    assert storage.metadata(s3, f"s3://{bucket}/absent.bin") is None


def test_create_only_refusal_is_a_clean_412(s3, bucket):
    uri = f"s3://{bucket}/once.json"
    first = storage.put_json(s3, uri, {"v": 1}, if_none_match=True, metadata={"owner": "a"})
    with pytest.raises(
        storage.PreconditionFailed, match=r"once\.json refused \(HTTP 412, If-None-Match \*"
    ) as info:
        storage.put_json(s3, uri, {"v": 2}, if_none_match=True, metadata={"owner": "b"})
    assert storage.is_precondition_failed(info.value.__cause__)
    assert storage.get_json(s3, uri) == {"v": 1} and storage.metadata(s3, uri) == {"owner": "a"}
    assert storage.head(s3, uri)["VersionId"] == first.version_id


def test_stale_if_match_names_the_etag(s3, bucket):
    uri = f"s3://{bucket}/cas.json"
    first = storage.put_json(s3, uri, {"v": 1})
    storage.put_json(s3, uri, {"v": 2}, if_match=first.etag)
    with pytest.raises(storage.PreconditionFailed, match=r"If-Match " + re.escape(first.etag)):
        storage.put_json(s3, uri, {"v": 3}, if_match=first.etag)


# ---------------------------------------------------------------- ranged reads
def test_get_range_reads_a_slice_of_a_pinned_version(s3, bucket):
    uri = f"s3://{bucket}/range.bin"
    old = storage.put_bytes(s3, uri, b"0123456789")
    storage.put_bytes(s3, uri, b"abcdefghij")
    assert storage.get_range(s3, uri, 2, 5) == b"cde"
    assert storage.get_range(s3, uri, 2, 5, version_id=old.version_id) == b"234"
    assert storage.get_range(s3, uri, 8, 100) == b"ij"  # cut at the end of the object


def test_get_range_refuses_a_changed_object(s3, bucket):
    uri = f"s3://{bucket}/range.bin"
    old = storage.put_bytes(s3, uri, b"0123456789")
    assert storage.get_range(s3, uri, 0, 2, if_match=old.etag) == b"01"
    storage.put_bytes(s3, uri, b"abcdefghij")
    with pytest.raises(storage.PreconditionFailed, match=r"range\.bin refused \(HTTP 412"):
        storage.get_range(s3, uri, 0, 2, if_match=old.etag)
    with pytest.raises(InputReadError, match=r"s3://mlops-test/nope\.bin does not exist"):
        storage.get_range(s3, f"s3://{bucket}/nope.bin", 0, 2)
    with pytest.raises(ValueError, match=r"0 <= start < end\. Got \[5, 5\)"):
        storage.get_range(s3, uri, 5, 5)


def test_get_range_on_a_local_file(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    assert storage.get_range(None, str(path), 3, 6) == b"345"


# ---------------------------------------------------------------- versions
def test_list_versions_newest_first_with_delete_markers(s3, bucket):
    uri = f"s3://{bucket}/ptr/production.json"
    v1 = storage.put_json(s3, uri, {"n": 1})
    v2 = storage.put_json(s3, uri, {"n": 2})
    storage.put_json(s3, f"s3://{bucket}/ptr/production.json.bak", {"n": 0})
    storage.delete(s3, uri)  # a delete marker on a versioned bucket
    listed = [v for v in storage.list_versions(s3, uri) if v.uri == uri]
    assert [v.is_delete_marker for v in listed] == [True, False, False]
    assert [v.version_id for v in listed[1:]] == [v2.version_id, v1.version_id]
    assert listed[0].is_latest and not listed[1].is_latest
    assert listed[1].etag == v2.etag and listed[1].size > 0
    assert isinstance(listed[1], storage.ObjectVersion)
    assert len(storage.list_versions(s3, uri)) == 4  # the prefix also matches production.json.bak
    assert storage.list_versions(s3, f"s3://{bucket}/nothing/") == []


def test_delete_a_specific_version_is_permanent(s3, bucket):
    uri = f"s3://{bucket}/purge/model.skops"
    v1 = storage.put_bytes(s3, uri, b"one")
    v2 = storage.put_bytes(s3, uri, b"two")
    storage.delete(s3, uri, version_id=v1.version_id)
    assert [v.version_id for v in storage.list_versions(s3, uri)] == [v2.version_id]
    with pytest.raises(InputReadError, match=f"version {v1.version_id} does not exist"):
        storage.get_bytes(s3, uri, version_id=v1.version_id)
    assert storage.get_bytes(s3, uri) == b"two"


def test_copy_of_a_pinned_version(s3, bucket):
    src = f"s3://{bucket}/batch.parquet"
    dst = f"s3://{bucket}/quarantine/batch.parquet"
    old = storage.put_bytes(s3, src, b"validated bytes", metadata={"k": "v"})
    storage.put_bytes(s3, src, b"overwritten later")
    put = storage.copy(s3, src, dst, version_id=old.version_id)
    assert storage.get_bytes(s3, dst) == b"validated bytes"
    assert put.version_id and put.version_id != old.version_id
    assert storage.head(s3, dst)["VersionId"] == put.version_id and put.etag == old.etag
    assert storage.metadata(s3, dst) == {"k": "v"}  # copied unless replaced
    storage.copy(s3, src, dst, metadata={"k": "new"})
    assert storage.get_bytes(s3, dst) == b"overwritten later" and storage.metadata(s3, dst) == {"k": "new"}


def test_copy_of_a_missing_source_is_clear(s3, bucket):
    with pytest.raises(InputReadError, match=r"s3://mlops-test/absent\.parquet does not exist"):
        storage.copy(s3, f"s3://{bucket}/absent.parquet", f"s3://{bucket}/x")


# ---------------------------------------------------------------- multipart uploads
def test_multipart_upload_assembles_parts(s3, bucket):
    uri = f"s3://{bucket}/big.parquet"
    part = 5 * 1024 * 1024
    upload_id = storage.start_multipart(s3, uri, content_type="application/x-parquet")
    assert not storage.exists(s3, uri)  # invisible until completed
    etags = [
        storage.upload_part(s3, uri, upload_id, 1, b"a" * part),
        storage.upload_part(s3, uri, upload_id, 2, b"b"),
    ]
    put = storage.complete_multipart(s3, uri, upload_id, etags)
    assert put.version_id and storage.get_bytes(s3, uri) == b"a" * part + b"b"
    assert storage.head(s3, uri)["ContentType"] == "application/x-parquet"


def test_aborted_multipart_upload_leaves_nothing(s3, bucket):
    uri = f"s3://{bucket}/aborted.parquet"
    upload_id = storage.start_multipart(s3, uri)
    storage.upload_part(s3, uri, upload_id, 1, b"a" * 10)
    storage.abort_multipart(s3, uri, upload_id)
    assert not storage.exists(s3, uri)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_make_client_uses_the_endpoint():
    client = storage.make_client(
        endpoint_url="http://127.0.0.1:9", region_name="eu-west-1", access_key="k", secret_key="s"
    )
    assert client.meta.endpoint_url == "http://127.0.0.1:9" and client.meta.region_name == "eu-west-1"


def test_list_buckets(s3, bucket):
    assert storage.list_buckets(s3) == [bucket]

"""S3 helpers against moto: conditional writes, metadata, ranged reads, versions, copies, multipart uploads,
table reading, clients; encryption at rest, versioned buckets only, outages named in one line."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from mlops import artifacts, storage
from mlops.errors import ConfigError, InputReadError


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


# ---------------------------------------------------------------- encryption at rest (issue 14, break 7)
@pytest.fixture
def plain_bucket(s3):
    """A versioned bucket without default encryption: any SSE on its objects comes from our writes."""
    s3.create_bucket(Bucket="mlops-plain")
    s3.put_bucket_versioning(Bucket="mlops-plain", VersioningConfiguration={"Status": "Enabled"})
    return "mlops-plain"


def test_every_write_function_sets_sse_s3_by_default(s3, plain_bucket, monkeypatch):
    monkeypatch.delenv(storage.SSE_KMS_KEY_ENV, raising=False)
    base = f"s3://{plain_bucket}/w"
    first = storage.put_bytes(s3, f"{base}/put.bin", b"x", metadata={"k": "v"})
    storage.put_json(s3, f"{base}/put.bin", {"v": 2}, if_match=first.etag)
    storage.write_parquet(s3, f"{base}/t.parquet", pd.DataFrame({"a": [1]}))
    storage.copy(s3, f"{base}/put.bin", f"{base}/copy.bin", version_id=first.version_id)
    upload = storage.start_multipart(s3, f"{base}/multi.bin")
    storage.complete_multipart(
        s3, f"{base}/multi.bin", upload, [storage.upload_part(s3, f"{base}/multi.bin", upload, 1, b"y")]
    )
    heads = [storage.head(s3, v.uri, v.version_id) for v in storage.list_versions(s3, base)]
    assert len(heads) == 5
    assert [(h["ServerSideEncryption"], h.get("SSEKMSKeyId")) for h in heads] == [("AES256", None)] * 5
    s3.put_object(Bucket=plain_bucket, Key="w/raw.bin", Body=b"z")  # the control: a raw PUT gets none here
    assert "ServerSideEncryption" not in storage.head(s3, f"{base}/raw.bin")


def test_ensure_bucket_turns_on_versioning_and_default_encryption(s3, monkeypatch):
    monkeypatch.delenv(storage.SSE_KMS_KEY_ENV, raising=False)
    storage.ensure_bucket(s3, "mlops-new")
    storage.ensure_bucket(s3, "mlops-new")  # idempotent
    rule = s3.get_bucket_encryption(Bucket="mlops-new")["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert s3.get_bucket_versioning(Bucket="mlops-new")["Status"] == "Enabled"


# ---------------------------------------------------------------- versioned buckets only
@pytest.fixture
def fresh_check(monkeypatch):
    """Forget the buckets this process already found versioned."""
    monkeypatch.setattr(storage, "_VERSIONED", set())


def test_an_unversioned_bucket_is_refused_with_how_to_enable_versioning(s3, fresh_check):
    s3.create_bucket(Bucket="mlops-unversioned")
    with pytest.raises(storage.UnversionedBucketError) as info:
        storage.require_versioned_bucket(s3, "mlops-unversioned")
    message = str(info.value)
    assert (
        "Bucket 'mlops-unversioned' at https://s3.amazonaws.com is not versioned (versioning: never enabled)"
        in message
    )
    assert (
        "`aws s3api put-bucket-versioning --bucket mlops-unversioned --versioning-configuration Status=Enabled`"
        in message
    )
    assert "mc version enable <alias>/mlops-unversioned" in message
    assert isinstance(info.value, ConfigError)  # permanent: operators fail at once, the CLI exits 2

    s3.create_bucket(Bucket="mlops-suspended")
    s3.put_bucket_versioning(Bucket="mlops-suspended", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_versioning(Bucket="mlops-suspended", VersioningConfiguration={"Status": "Suspended"})
    with pytest.raises(storage.UnversionedBucketError, match=r"\(versioning: Suspended\)"):
        storage.require_versioned_bucket(s3, "mlops-suspended")
    with pytest.raises(
        ConfigError, match=r"Cannot check bucket 'mlops-absent' .*\(NoSuchBucket\); check --bucket"
    ):
        storage.require_versioned_bucket(s3, "mlops-absent")


def test_a_versioned_bucket_is_checked_once_per_process(s3, bucket, fresh_check):
    calls = []
    s3.meta.events.register("before-call.s3.GetBucketVersioning", lambda **kw: calls.append(1))
    storage.require_versioned_bucket(s3, bucket)
    storage.require_versioned_bucket(s3, bucket)
    assert len(calls) == 1


def test_a_guarded_client_refuses_every_object_call_on_an_unversioned_bucket(s3, fresh_check):
    client = storage.guard_versioned_buckets(s3)
    client.create_bucket(Bucket="mlops-later")  # bucket-level calls pass
    with pytest.raises(storage.UnversionedBucketError, match="'mlops-later'"):
        storage.put_bytes(client, "s3://mlops-later/k.json", b"{}")
    with pytest.raises(storage.UnversionedBucketError):
        storage.list_uris(client, "s3://mlops-later/")
    raw = __import__("boto3").client("s3", region_name="us-east-1")  # an unguarded client of the same moto
    assert raw.list_object_versions(Bucket="mlops-later").get("Versions") is None  # nothing was written
    storage.ensure_bucket(client, "mlops-later")  # the fix the message names
    assert storage.put_bytes(client, "s3://mlops-later/k.json", b"{}").version_id


def test_client_from_env_is_guarded_and_fails_fast(monkeypatch, moto_server, fresh_check):
    extra = {"endpoint_url": moto_server}
    monkeypatch.setenv(
        "MY_CONN", json.dumps({"conn_type": "aws", "login": "k", "password": "s", "extra": extra})
    )
    client = storage.client_from_env("MY_CONN")
    assert client.meta.config.connect_timeout == 5 and client.meta.config.retries["total_max_attempts"] == 2
    client.create_bucket(Bucket="mlops-unversioned-server")
    with pytest.raises(storage.UnversionedBucketError, match="'mlops-unversioned-server' at " + moto_server):
        storage.list_uris(client, "s3://mlops-unversioned-server/")
    extra["config_kwargs"] = {"connect_timeout": 1, "retries": {"total_max_attempts": 1}}
    monkeypatch.setenv(
        "MY_CONN", json.dumps({"conn_type": "aws", "login": "k", "password": "s", "extra": extra})
    )
    client = storage.client_from_env("MY_CONN", require_versioned=False)
    assert client.meta.config.connect_timeout == 1 and client.meta.config.retries["total_max_attempts"] == 1
    assert storage.list_uris(client, "s3://mlops-unversioned-server/") == []  # unguarded on request
    client.delete_bucket(Bucket="mlops-unversioned-server")
    assert storage.endpoint_from_env("MY_CONN") == moto_server


# ---------------------------------------------------------------- outages (issue 14, break 8)
@contextlib.contextmanager
def _endpoint(status: int, code: str, message: str, *, delay: float = 0.0):
    """A local HTTP endpoint that answers every request with an S3 error document (after ``delay``)."""

    class Reply(BaseHTTPRequestHandler):
        def _reply(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay)
            body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>".encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_HEAD = do_POST = _reply  # noqa: N815 (http.server API)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Reply)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _client(endpoint: str, **config):
    config = {"retries": {"total_max_attempts": 1}, **config}
    return storage.make_client(endpoint_url=endpoint, access_key="k", secret_key="s", config_kwargs=config)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_connection_refused_names_the_endpoint_and_what_to_check():
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(Exception) as info:
        storage.get_bytes(_client(endpoint), "s3://mlops-test/a.json")
    assert storage.describe_outage(info.value) == (
        f"cannot reach S3 endpoint {endpoint}: Connection refused (EndpointConnectionError); check that the "
        "service is running, and the connection's endpoint_url (AIRFLOW_CONN_AWS_DEFAULT) and network"
    )
    wrapped = InputReadError("could not read the batch")
    wrapped.__cause__ = info.value  # a library error that wraps an outage is still an outage
    outage = storage.as_outage(wrapped)
    assert isinstance(outage, storage.StorageUnavailable) and str(outage).startswith(
        f"cannot reach S3 endpoint {endpoint}: Connection refused"
    )


def test_http_503_names_status_operation_and_message():
    with _endpoint(503, "ServiceUnavailable", "Please reduce your request rate.") as endpoint:
        with pytest.raises(Exception) as info:
            storage.put_bytes(_client(endpoint), "s3://mlops-test/a.json", b"{}")
    assert storage.describe_outage(info.value, endpoint) == (
        f"cannot reach S3 endpoint {endpoint}: HTTP 503 ServiceUnavailable on PutObject (Please reduce your "
        "request rate.); check the storage service's health, logs and capacity, then retry"
    )


def test_a_read_timeout_is_an_outage():
    with _endpoint(200, "", "", delay=2.0) as endpoint:
        with pytest.raises(Exception) as info:
            storage.get_bytes(_client(endpoint, read_timeout=0.5), "s3://mlops-test/a.json")
    assert storage.describe_outage(info.value) == (
        f"cannot reach S3 endpoint {endpoint}: timed out (ReadTimeoutError); check that the storage service "
        "is up and not overloaded, and the network path to it"
    )


def test_client_errors_and_other_errors_are_no_outage(s3, bucket):
    with pytest.raises(InputReadError) as info:  # 404 NoSuchKey (its ClientError is the cause)
        storage.get_bytes(s3, f"s3://{bucket}/absent.json")
    assert storage.describe_outage(info.value) is None and storage.as_outage(info.value) is None
    assert storage.describe_outage(KeyError("x")) is None


def test_an_endpoint_that_refuses_encryption_is_a_config_error_not_an_outage():
    """MinIO without a KMS answers SSE headers with 501 NotImplemented."""
    refusal = "Server side encryption specified but KMS is not configured"
    with _endpoint(501, "NotImplemented", refusal) as endpoint:
        client = _client(endpoint)
        for write in (
            lambda: storage.put_bytes(client, "s3://mlops-test/a.json", b"{}"),
            lambda: storage.copy(client, "s3://mlops-test/a.json", "s3://mlops-test/b.json"),
            lambda: storage.start_multipart(client, "s3://mlops-test/c.bin"),
        ):
            with pytest.raises(
                ConfigError, match=r"S3 refused server-side encryption .*AES256.*MINIO_KMS_SECRET_KEY"
            ) as info:
                write()
            assert refusal in str(info.value) and storage.describe_outage(info.value) is None


def test_a_csv_cut_short_in_its_last_row_is_refused_as_truncated():
    full = b"id,a,b\nx1,1.5,rent\nx2,2.5,own\n"
    assert storage.read_table_bytes(full, "b.csv").shape == (2, 3)
    assert storage.read_table_bytes(full.rstrip(b"\n"), "b.csv").shape == (2, 3)  # no final newline: complete
    with pytest.raises(InputReadError, match=r"b\.csv looks truncated: its last line has 2 of 3 fields"):
        storage.read_table_bytes(full[:-6], "b.csv")  # b"...x2,2.5"

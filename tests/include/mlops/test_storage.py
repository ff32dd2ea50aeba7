"""S3 helpers against moto: conditional writes, versioning, table reading, client from the connection."""

from __future__ import annotations

import json

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

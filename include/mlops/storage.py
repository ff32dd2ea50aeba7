"""S3 I/O and the bucket layout.

Every function takes a boto3 S3 client. Inside Airflow it comes from
``S3Hook(aws_conn_id=...).get_conn()``; outside Airflow (CLI, tests) from
:func:`client_from_env`, which reads the same ``AIRFLOW_CONN_AWS_DEFAULT``
connection. So the code is the same for moto, MinIO and AWS S3.

URIs are ``s3://bucket/key``; anything else is treated as a local path, which
keeps the CLI usable on files.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from mlops.errors import InputReadError, MLOpsError

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_BUCKET = os.environ.get("MLOPS_BUCKET", "mlops-demo")
AWS_CONN_ENV = "AIRFLOW_CONN_AWS_DEFAULT"


class PreconditionFailed(MLOpsError):
    """A conditional write (If-Match / If-None-Match) was refused with HTTP 412."""


@dataclass(frozen=True)
class PutResult:
    uri: str
    etag: str
    version_id: str | None


# ---------------------------------------------------------------- clients
def client_from_env(conn_env: str = AWS_CONN_ENV):
    """Build a boto3 S3 client from the Airflow connection in ``conn_env``.

    Accepts the JSON form (``{"conn_type": "aws", "login": ..., "extra": {...}}``)
    and the URI form (``aws://key:secret@/?endpoint_url=...``). With the variable
    unset, boto3's default credential chain applies (real AWS).
    """
    import boto3

    raw = os.environ.get(conn_env, "").strip()
    kwargs: dict[str, Any] = {}
    if raw.startswith("{"):
        conn = json.loads(raw)
        extra = conn.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra or "{}")
        key, secret = conn.get("login"), conn.get("password")
    elif raw:
        from urllib.parse import parse_qsl

        parsed = urlparse(raw)
        extra = dict(parse_qsl(parsed.query))
        key, secret = unquote(parsed.username or ""), unquote(parsed.password or "")
    else:
        extra, key, secret = {}, None, None
    if key:
        kwargs["aws_access_key_id"] = key
        kwargs["aws_secret_access_key"] = secret
    if extra.get("endpoint_url"):
        kwargs["endpoint_url"] = extra["endpoint_url"]
    kwargs["region_name"] = extra.get("region_name") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    return boto3.client("s3", **kwargs)


# ---------------------------------------------------------------- uris
def is_s3(uri: str) -> bool:
    return str(uri).startswith("s3://")


def parse_uri(uri: str) -> tuple[str, str]:
    """Split ``s3://bucket/key`` into ``(bucket, key)``."""
    parsed = urlparse(str(uri))
    if parsed.scheme != "s3" or not parsed.netloc:
        raise ValueError(f"Expected an S3 URI like s3://bucket/key, got {uri!r}.")
    return parsed.netloc, parsed.path.lstrip("/")


def _code(err: Exception) -> str:
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


def _status(err: Exception) -> int:
    response = getattr(err, "response", None) or {}
    return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


def is_not_found(err: Exception) -> bool:
    return _code(err) in ("NoSuchKey", "404", "NotFound", "NoSuchVersion") or _status(err) == 404


def is_precondition_failed(err: Exception) -> bool:
    return _code(err) in ("PreconditionFailed", "412") or _status(err) == 412


def is_conflict(err: Exception) -> bool:
    return _code(err) in ("ConditionalRequestConflict", "409", "OperationAborted") or _status(err) == 409


# ---------------------------------------------------------------- objects
def get_object(client, uri: str, version_id: str | None = None) -> tuple[bytes, dict[str, Any]]:
    """Return ``(body, head)`` where head has ``ETag`` and ``VersionId``.

    Raises :class:`InputReadError` if the object (or version) does not exist.
    """
    if not is_s3(uri):
        path = Path(uri)
        if not path.is_file():
            raise InputReadError(f"File {uri} does not exist.")
        return path.read_bytes(), {}
    bucket, key = parse_uri(uri)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    try:
        resp = client.get_object(**kwargs)
    except Exception as err:
        if is_not_found(err):
            raise InputReadError(f"Object {uri} does not exist (bucket {bucket!r}, key {key!r}).") from err
        raise
    return resp["Body"].read(), {"ETag": resp.get("ETag"), "VersionId": resp.get("VersionId")}


def get_bytes(client, uri: str, version_id: str | None = None) -> bytes:
    return get_object(client, uri, version_id)[0]


def put_bytes(
    client,
    uri: str,
    data: bytes,
    *,
    content_type: str = "application/octet-stream",
    if_none_match: bool = False,
    if_match: str | None = None,
) -> PutResult:
    """Write an object. ``if_none_match`` makes it create-only; ``if_match`` a compare-and-swap.

    Raises :class:`PreconditionFailed` on HTTP 412.
    """
    if not is_s3(uri):
        path = Path(uri)
        if if_none_match and path.exists():
            raise PreconditionFailed(f"{uri} already exists.")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        return PutResult(uri, hashlib.md5(data).hexdigest(), None)
    bucket, key = parse_uri(uri)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": data, "ContentType": content_type}
    if if_none_match:
        kwargs["IfNoneMatch"] = "*"
    if if_match:
        kwargs["IfMatch"] = if_match
    try:
        resp = client.put_object(**kwargs)
    except Exception as err:
        if is_precondition_failed(err):
            raise PreconditionFailed(f"Conditional write to {uri} refused (HTTP 412).") from err
        raise
    return PutResult(uri, resp.get("ETag", ""), resp.get("VersionId"))


def get_json(client, uri: str, version_id: str | None = None) -> Any:
    return json.loads(get_bytes(client, uri, version_id))


def put_json(client, uri: str, obj: Any, **kwargs: Any) -> PutResult:
    data = json.dumps(obj, indent=2, sort_keys=True, default=str).encode()
    return put_bytes(client, uri, data, content_type="application/json", **kwargs)


def head(client, uri: str) -> dict[str, Any] | None:
    """Object metadata, or ``None`` if it does not exist."""
    if not is_s3(uri):
        return {"ContentLength": Path(uri).stat().st_size} if Path(uri).is_file() else None
    bucket, key = parse_uri(uri)
    try:
        return client.head_object(Bucket=bucket, Key=key)
    except Exception as err:
        if is_not_found(err):
            return None
        raise


def exists(client, uri: str) -> bool:
    return head(client, uri) is not None


def list_uris(client, prefix_uri: str) -> list[str]:
    """All object URIs under a prefix, sorted."""
    if not is_s3(prefix_uri):
        root = Path(prefix_uri)
        return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    bucket, prefix = parse_uri(prefix_uri)
    out: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        out.extend(f"s3://{bucket}/{obj['Key']}" for obj in page.get("Contents", []))
    return sorted(out)


def copy(client, src_uri: str, dst_uri: str) -> PutResult:
    """Server-side copy (byte-for-byte)."""
    sb, sk = parse_uri(src_uri)
    db, dk = parse_uri(dst_uri)
    resp = client.copy_object(Bucket=db, Key=dk, CopySource={"Bucket": sb, "Key": sk})
    return PutResult(dst_uri, resp.get("CopyObjectResult", {}).get("ETag", ""), resp.get("VersionId"))


def delete(client, uri: str) -> None:
    bucket, key = parse_uri(uri)
    client.delete_object(Bucket=bucket, Key=key)


def ensure_bucket(client, bucket: str, *, versioning: bool = True) -> None:
    """Create ``bucket`` if missing and turn on versioning (idempotent)."""
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as err:
        if not is_not_found(err) and _code(err) not in ("NoSuchBucket",):
            raise
        client.create_bucket(Bucket=bucket)
    if versioning:
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})


# ---------------------------------------------------------------- tables
def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def frame_to_parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def write_parquet(client, uri: str, df: pd.DataFrame, **kwargs: Any) -> PutResult:
    return put_bytes(client, uri, frame_to_parquet_bytes(df), **kwargs)


def read_table_bytes(data: bytes, uri: str) -> pd.DataFrame:
    """Parse Parquet or CSV bytes into a DataFrame with a clear error for bad input.

    Raises
    ------
    InputReadError
        For an empty object, a truncated or corrupt Parquet file, a header-only
        CSV, a CSV with the wrong delimiter, or bytes that are neither format.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not data:
        raise InputReadError(
            f"{uri} is empty (0 bytes); the upstream export wrote nothing. Re-export the batch."
        )
    if data[:4] == b"PAR1":
        if data[-4:] != b"PAR1":
            raise InputReadError(
                f"{uri} is a truncated Parquet file ({len(data)} bytes, no footer); re-upload the complete file."
            )
        try:
            return pq.read_table(pa.BufferReader(data)).to_pandas()
        except Exception as err:
            raise InputReadError(f"{uri} is a corrupt Parquet file: {err}. Re-export the batch.") from err
    if uri.endswith(".parquet"):
        raise InputReadError(
            f"{uri} is named .parquet but is not a Parquet file (first bytes {data[:8]!r}); "
            "check the upstream export format."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputReadError(
            f"{uri} is neither Parquet nor UTF-8 CSV (binary content); supported formats: .parquet, .csv."
        ) from err
    try:
        df = pd.read_csv(io.StringIO(text))
    except Exception as err:
        raise InputReadError(f"{uri} could not be parsed as CSV: {err}.") from err
    if df.shape[1] <= 1 and any(sep in text.splitlines()[0] for sep in (";", "\t", "|")):
        raise InputReadError(
            f"{uri} parsed as a single column {list(df.columns)[:1]}: wrong delimiter? "
            "Batches must be comma-separated CSV or Parquet."
        )
    if df.empty:
        raise InputReadError(f"{uri} has a header but no rows ({len(df.columns)} columns, 0 rows).")
    return df


def read_table(client, uri: str) -> pd.DataFrame:
    """Read a Parquet or CSV table from S3 or a local path (see :func:`read_table_bytes`)."""
    return read_table_bytes(get_bytes(client, uri), str(uri))

"""S3 I/O: the only module that talks to S3 (the ``S3Hook`` of this package).

Every function takes a boto3 S3 client. Inside Airflow it comes from
``S3Hook(aws_conn_id=...).get_conn()``; outside Airflow (CLI, tests) from
:func:`client_from_env`, which reads the same ``AIRFLOW_CONN_AWS_DEFAULT``
connection. So the code is the same for moto, MinIO and AWS S3.

URIs are ``s3://bucket/key``; anything else is treated as a local path, which
keeps the CLI usable on files. Bucket paths and file names live in
:mod:`mlops.artifacts`, not here.

Errors are translated at this boundary: a missing object or version raises
:class:`~mlops.errors.InputReadError`, a refused conditional request (HTTP 412)
raises :class:`PreconditionFailed`. Other errors (throttling, network) propagate
unchanged so that task retries apply.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from mlops.errors import InputReadError, MLOpsError

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_BUCKET = os.environ.get("MLOPS_BUCKET", "mlops-demo")
AWS_CONN_ENV = "AIRFLOW_CONN_AWS_DEFAULT"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class PreconditionFailed(MLOpsError):
    """A conditional write (If-Match / If-None-Match) was refused with HTTP 412."""


@dataclass(frozen=True)
class PutResult:
    """What a write created: the object's URI, its ETag and its S3 VersionId (None if unversioned)."""

    uri: str
    etag: str
    version_id: str | None


@dataclass(frozen=True)
class ObjectVersion:
    """One entry of :func:`list_versions`: an object version or a delete marker."""

    uri: str
    key: str
    version_id: str
    etag: str | None
    size: int
    last_modified: datetime | None
    is_latest: bool
    is_delete_marker: bool


# ---------------------------------------------------------------- clients
def make_client(
    *,
    endpoint_url: str | None = None,
    region_name: str | None = None,
    access_key: str | None = None,
    secret_key: str | None = None,
):
    """Build a boto3 S3 client; ``None`` arguments fall back to boto3's defaults.

    Parameters
    ----------
    endpoint_url : str, optional
        A custom endpoint (moto, MinIO); ``None`` for AWS S3.
    region_name : str, optional
        Defaults to ``AWS_DEFAULT_REGION``, then ``us-east-1``.
    access_key, secret_key : str, optional
        Static credentials; without them boto3's default credential chain applies.
    """
    import boto3

    kwargs: dict[str, Any] = {
        "region_name": region_name or os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
    }
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    if access_key:
        kwargs["aws_access_key_id"] = access_key
        kwargs["aws_secret_access_key"] = secret_key
    return boto3.client("s3", **kwargs)


def client_from_env(conn_env: str = AWS_CONN_ENV):
    """Build a boto3 S3 client from the Airflow connection in ``conn_env``.

    Accepts the JSON form (``{"conn_type": "aws", "login": ..., "extra": {...}}``)
    and the URI form (``aws://key:secret@/?endpoint_url=...``). With the variable
    unset, boto3's default credential chain applies (real AWS).
    """
    raw = os.environ.get(conn_env, "").strip()
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
    return make_client(
        endpoint_url=extra.get("endpoint_url") or None,
        region_name=extra.get("region_name") or None,
        access_key=key or None,
        secret_key=secret,
    )


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
def _not_found(uri: str, version_id: str | None) -> InputReadError:
    bucket, key = parse_uri(uri)
    what = f"Object {uri}" + (f" version {version_id}" if version_id else "")
    return InputReadError(f"{what} does not exist (bucket {bucket!r}, key {key!r}).")


def _refused(uri: str, condition: str) -> PreconditionFailed:
    return PreconditionFailed(f"Conditional request on {uri} refused (HTTP 412, {condition}).")


def get_object(client, uri: str, version_id: str | None = None) -> tuple[bytes, dict[str, Any]]:
    """Return ``(body, head)`` where head has ``ETag``, ``VersionId`` and ``Metadata``.

    Raises
    ------
    InputReadError
        If the object (or the version) does not exist.
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
            raise _not_found(uri, version_id) from err
        raise
    head_ = {
        "ETag": resp.get("ETag"),
        "VersionId": resp.get("VersionId"),
        "Metadata": resp.get("Metadata", {}),
    }
    return resp["Body"].read(), head_


def get_bytes(client, uri: str, version_id: str | None = None) -> bytes:
    """The object's bytes (see :func:`get_object`)."""
    return get_object(client, uri, version_id)[0]


def get_range(
    client,
    uri: str,
    start: int,
    end: int,
    *,
    version_id: str | None = None,
    if_match: str | None = None,
) -> bytes:
    """Bytes ``[start, end)`` of an object (an HTTP ranged GET; ``end`` is exclusive, like a slice).

    Parameters
    ----------
    start, end : int
        Byte offsets, ``0 <= start < end``. A range past the end of the object is cut short.
    version_id : str, optional
        Read this S3 version, so that a concurrent overwrite cannot mix two files.
    if_match : str, optional
        On an unversioned bucket, pin the ETag instead: a changed object is refused.

    Raises
    ------
    InputReadError
        If the object (or the version) does not exist.
    PreconditionFailed
        If ``if_match`` no longer matches (the object was overwritten).
    """
    if start < 0 or end <= start:
        raise ValueError(f"The byte range of get_range must satisfy 0 <= start < end. Got [{start}, {end}).")
    if not is_s3(uri):
        path = Path(uri)
        if not path.is_file():
            raise InputReadError(f"File {uri} does not exist.")
        with path.open("rb") as fh:
            fh.seek(start)
            return fh.read(end - start)
    bucket, key = parse_uri(uri)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "Range": f"bytes={start}-{end - 1}"}
    if version_id:
        kwargs["VersionId"] = version_id
    if if_match:
        kwargs["IfMatch"] = if_match
    try:
        resp = client.get_object(**kwargs)
    except Exception as err:
        if is_precondition_failed(err):
            raise _refused(uri, f"If-Match {if_match}") from err
        if is_not_found(err):
            raise _not_found(uri, version_id) from err
        raise
    return resp["Body"].read()


def put_bytes(
    client,
    uri: str,
    data: bytes,
    *,
    content_type: str = "application/octet-stream",
    if_none_match: bool = False,
    if_match: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> PutResult:
    """Write an object.

    Parameters
    ----------
    if_none_match : bool
        Create-only (``If-None-Match: *``): refused if the key already exists.
    if_match : str, optional
        Compare-and-swap: refused unless the current ETag equals this one.
    metadata : mapping of str to str, optional
        User metadata (``x-amz-meta-*``), read back by :func:`head` / :func:`metadata`.
        S3 lower-cases the names; values must be ASCII.

    Raises
    ------
    PreconditionFailed
        On HTTP 412 (the condition did not hold); nothing was written.
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
    if metadata:
        kwargs["Metadata"] = {str(k): str(v) for k, v in metadata.items()}
    try:
        resp = client.put_object(**kwargs)
    except Exception as err:
        if is_precondition_failed(err):
            condition = "If-None-Match *: the key already exists" if if_none_match else f"If-Match {if_match}"
            raise _refused(uri, condition) from err
        raise
    return PutResult(uri, resp.get("ETag", ""), resp.get("VersionId"))


def get_json(client, uri: str, version_id: str | None = None) -> Any:
    """Parse the object as JSON."""
    return json.loads(get_bytes(client, uri, version_id))


def put_json(client, uri: str, obj: Any, **kwargs: Any) -> PutResult:
    """Write ``obj`` as indented, key-sorted JSON; ``kwargs`` as for :func:`put_bytes`."""
    data = json.dumps(obj, indent=2, sort_keys=True, default=str).encode()
    return put_bytes(client, uri, data, content_type="application/json", **kwargs)


def head(client, uri: str, version_id: str | None = None) -> dict[str, Any] | None:
    """The object's ``head_object`` response, or ``None`` if it (or the version) does not exist.

    Keys used here: ``ETag``, ``VersionId``, ``ContentLength``, ``ContentType`` and
    ``Metadata`` (user metadata, names lower-cased by S3).
    """
    if not is_s3(uri):
        return {"ContentLength": Path(uri).stat().st_size} if Path(uri).is_file() else None
    bucket, key = parse_uri(uri)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    try:
        return client.head_object(**kwargs)
    except Exception as err:
        if is_not_found(err):
            return None
        raise


def metadata(client, uri: str, version_id: str | None = None) -> dict[str, str] | None:
    """The object's user metadata with lower-cased names, or ``None`` if the object does not exist."""
    found = head(client, uri, version_id)
    if found is None:
        return None
    return {str(k).lower(): v for k, v in (found.get("Metadata") or {}).items()}


def exists(client, uri: str) -> bool:
    """Whether the object exists."""
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


def list_versions(client, prefix_uri: str) -> list[ObjectVersion]:
    """Every version and delete marker of every object under a prefix (``list_object_versions``).

    Sorted by key, then newest first within a key (the latest one, then by
    ``LastModified``). A key-exact
    listing is the prefix listing filtered on ``v.key``: a prefix ``a/b`` also
    matches ``a/bc``.
    """
    bucket, prefix = parse_uri(prefix_uri)
    out: list[ObjectVersion] = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        entries = [(v, False) for v in page.get("Versions", [])]
        entries += [(m, True) for m in page.get("DeleteMarkers", [])]
        for item, marker in entries:
            out.append(
                ObjectVersion(
                    uri=f"s3://{bucket}/{item['Key']}",
                    key=item["Key"],
                    version_id=str(item.get("VersionId")),
                    etag=None if marker else item.get("ETag"),
                    size=0 if marker else int(item.get("Size", 0)),
                    last_modified=item.get("LastModified"),
                    is_latest=bool(item.get("IsLatest")),
                    is_delete_marker=marker,
                )
            )
    newest_first = sorted(out, key=lambda v: v.last_modified or _EPOCH, reverse=True)
    return sorted(newest_first, key=lambda v: (v.key, not v.is_latest))  # stable sort


def copy(
    client,
    src_uri: str,
    dst_uri: str,
    *,
    version_id: str | None = None,
    metadata: Mapping[str, str] | None = None,
) -> PutResult:
    """Server-side copy (byte-for-byte); returns the new object's ETag and VersionId.

    Parameters
    ----------
    version_id : str, optional
        Copy this version of the source, not its current one (S3's unversioned
        objects have the version id ``"null"``, which is passed as is).
    metadata : mapping of str to str, optional
        Replace the user metadata; by default the source's metadata is copied.

    Raises
    ------
    InputReadError
        If the source (or the version) does not exist.
    """
    sb, sk = parse_uri(src_uri)
    db, dk = parse_uri(dst_uri)
    source: dict[str, str] = {"Bucket": sb, "Key": sk}
    if version_id:
        source["VersionId"] = version_id
    kwargs: dict[str, Any] = {"Bucket": db, "Key": dk, "CopySource": source}
    if metadata is not None:
        kwargs["Metadata"] = {str(k): str(v) for k, v in metadata.items()}
        kwargs["MetadataDirective"] = "REPLACE"
    try:
        resp = client.copy_object(**kwargs)
    except Exception as err:
        if is_not_found(err):
            raise _not_found(src_uri, version_id) from err
        raise
    return PutResult(dst_uri, resp.get("CopyObjectResult", {}).get("ETag", ""), resp.get("VersionId"))


def delete(client, uri: str, version_id: str | None = None) -> None:
    """Delete an object: without ``version_id`` a delete marker on a versioned bucket,
    with it that version, permanently."""
    bucket, key = parse_uri(uri)
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key}
    if version_id:
        kwargs["VersionId"] = version_id
    client.delete_object(**kwargs)


# ---------------------------------------------------------------- multipart uploads
def start_multipart(client, uri: str, *, content_type: str = "application/octet-stream") -> str:
    """Begin a multipart upload to ``uri``; returns its upload id.

    Nothing is visible at ``uri`` until :func:`complete_multipart`. Every started
    upload must end in :func:`complete_multipart` or :func:`abort_multipart`
    (an abandoned one keeps its parts, and their cost, until a lifecycle rule clears them).
    """
    bucket, key = parse_uri(uri)
    return client.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type)["UploadId"]


def upload_part(client, uri: str, upload_id: str, part_number: int, data: bytes) -> str:
    """Upload part ``part_number`` (1-based; every part but the last at least 5 MiB); returns its ETag."""
    bucket, key = parse_uri(uri)
    resp = client.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=part_number, Body=data)
    return resp["ETag"]


def complete_multipart(client, uri: str, upload_id: str, part_etags: Sequence[str]) -> PutResult:
    """Assemble the parts (``part_etags[i]`` is part ``i + 1``) into the object at ``uri``."""
    bucket, key = parse_uri(uri)
    parts = [{"PartNumber": i, "ETag": etag} for i, etag in enumerate(part_etags, start=1)]
    resp = client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    return PutResult(uri, resp.get("ETag", ""), resp.get("VersionId"))


def abort_multipart(client, uri: str, upload_id: str) -> None:
    """Abort a multipart upload and free its parts."""
    bucket, key = parse_uri(uri)
    client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)


def list_buckets(client) -> list[str]:
    """Names of the buckets the client can see (also a cheap reachability check of the endpoint)."""
    return sorted(b["Name"] for b in client.list_buckets().get("Buckets", []))


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

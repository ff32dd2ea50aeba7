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
unchanged so that task retries apply; :func:`describe_outage` names the endpoint and what to check.

Every write (:func:`put_bytes`, :func:`copy`, :func:`start_multipart`) is encrypted at rest:
SSE-S3 (``AES256``), or SSE-KMS with the key id in ``$MLOPS_SSE_KMS_KEY_ID``. :func:`ensure_bucket`
turns on default encryption and versioning; :func:`require_versioned_bucket` refuses a bucket without it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse, urlsplit

from mlops.errors import ConfigError, InputReadError, MLOpsError, find_in_chain
from mlops.tables import frame_to_parquet_bytes, read_table_bytes  # re-exported: storage.read_table_bytes

if TYPE_CHECKING:
    import pandas as pd

DEFAULT_BUCKET = os.environ.get("MLOPS_BUCKET", "mlops-demo")
AWS_CONN_ENV = "AIRFLOW_CONN_AWS_DEFAULT"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: A KMS key id or ARN here switches every write from SSE-S3 (AES256) to SSE-KMS with that key.
SSE_KMS_KEY_ENV = "MLOPS_SSE_KMS_KEY_ID"
#: botocore settings of :func:`client_from_env` (the CLI): fail fast on a dead endpoint.
#: A connection's ``extra.config_kwargs`` overrides them, as it does for Airflow's S3Hook.
CLI_CLIENT_CONFIG: dict[str, Any] = {"connect_timeout": 5, "retries": {"total_max_attempts": 2}}
#: S3 error codes that mean "the service is struggling", whatever the HTTP status says.
TRANSIENT_ERROR_CODES = frozenset(
    {"SlowDown", "ServiceUnavailable", "InternalError", "RequestTimeout", "Throttling", "ThrottlingException"}
)
_VERSIONED: set[tuple[str, str]] = set()  # (endpoint, bucket) pairs checked by require_versioned_bucket


class PreconditionFailed(MLOpsError):
    """A conditional write (If-Match / If-None-Match) was refused with HTTP 412."""


class StorageUnavailable(MLOpsError):
    """The S3 endpoint could not be reached, timed out or answered 5xx (:func:`describe_outage`)."""


class UnversionedBucketError(ConfigError):
    """The bucket does not keep object versions; nothing in this package runs against it."""


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
    config_kwargs: Mapping[str, Any] | None = None,
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
    config_kwargs : mapping, optional
        ``botocore.config.Config`` arguments, e.g. ``{"connect_timeout": 5, "retries": {"total_max_attempts": 2}}``.
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
    if config_kwargs:
        from botocore.config import Config

        kwargs["config"] = Config(**dict(config_kwargs))
    return boto3.client("s3", **kwargs)


def _connection(conn_env: str) -> tuple[dict[str, Any], str | None, str | None]:
    """``(extra, login, password)`` of the Airflow connection in ``conn_env`` (JSON or URI form)."""
    raw = os.environ.get(conn_env, "").strip()
    if raw.startswith("{"):
        conn = json.loads(raw)
        extra = conn.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra or "{}")
        return extra, conn.get("login"), conn.get("password")
    if raw:
        from urllib.parse import parse_qsl

        parsed = urlparse(raw)
        extra = dict(parse_qsl(parsed.query))
        return extra, unquote(parsed.username or ""), unquote(parsed.password or "")
    return {}, None, None


def client_from_env(conn_env: str = AWS_CONN_ENV, *, require_versioned: bool = True):
    """Build a boto3 S3 client from the Airflow connection in ``conn_env`` (the CLI's client).

    Accepts the JSON form (``{"conn_type": "aws", "login": ..., "extra": {...}}``) and the URI
    form (``aws://key:secret@/?endpoint_url=...``); unset, boto3's default chain applies (AWS).
    Timeouts and retries: :data:`CLI_CLIENT_CONFIG` updated with ``extra.config_kwargs``. With
    ``require_versioned``, any bucket without versioning is refused (:func:`guard_versioned_buckets`).
    """
    extra, key, secret = _connection(conn_env)
    overrides = extra.get("config_kwargs") or {}
    overrides = json.loads(overrides) if isinstance(overrides, str) else overrides
    client = make_client(
        endpoint_url=extra.get("endpoint_url") or None,
        region_name=extra.get("region_name") or None,
        access_key=key or None,
        secret_key=secret,
        config_kwargs={**CLI_CLIENT_CONFIG, **overrides},
    )
    return guard_versioned_buckets(client) if require_versioned else client


def endpoint_from_env(conn_env: str = AWS_CONN_ENV) -> str | None:
    """The ``endpoint_url`` of the connection in ``conn_env`` (``None``: boto3's AWS default)."""
    return _connection(conn_env)[0].get("endpoint_url") or None


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


# ---------------------------------------------------------------- outages
def _outage(err: BaseException) -> BaseException | None:
    """The botocore outage error in ``err`` or its causes, else ``None``."""
    from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

    found = find_in_chain(err, (ConnectionError, HTTPClientError, ClientError))
    if isinstance(found, ClientError):
        server = _status(found) >= 500 and _code(found) != "NotImplemented"
        return found if server or _code(found) in TRANSIENT_ERROR_CODES else None
    return found


def describe_outage(err: BaseException, endpoint: str | None = None) -> str | None:
    """``cannot reach S3 endpoint <url>: <what>; check <what>`` for an outage, else ``None``.

    Outages: botocore connection errors and timeouts, dropped connections, and ``ClientError`` with
    HTTP 5xx or a throttling code, in ``err`` or its causes. ``endpoint`` names the endpoint of a
    ``ClientError`` (which does not carry its URL).
    """
    from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

    found = _outage(err)
    if found is None:
        return None
    url = str(getattr(found, "kwargs", {}).get("endpoint_url") or endpoint or "")
    parts = urlsplit(url)
    where = f"{parts.scheme}://{parts.netloc}" if parts.netloc else "(the default AWS S3 endpoint)"
    if isinstance(found, ClientError):
        error = found.response.get("Error", {})
        what = f"HTTP {_status(found)} {error.get('Code')} on {found.operation_name} ({error.get('Message')})"
        check = "the storage service's health, logs and capacity, then retry"
    elif isinstance(found, ConnectTimeoutError | ReadTimeoutError):
        what = f"timed out ({type(found).__name__})"
        check = "that the storage service is up and not overloaded, and the network path to it"
    else:
        reason = re.search(r"\[Errno -?\d+\] ([^)'\"]+)", str(getattr(found, "kwargs", {}).get("error", "")))
        what = f"{reason.group(1).strip() if reason else 'connection failed'} ({type(found).__name__})"
        check = f"that the service is running, and the connection's endpoint_url ({AWS_CONN_ENV}) and network"
    return f"cannot reach S3 endpoint {where}: {what}; check {check}"


def as_outage(err: BaseException, endpoint: str | None = None) -> StorageUnavailable | None:
    """A :class:`StorageUnavailable` carrying :func:`describe_outage`'s line, or ``None``."""
    message = describe_outage(err, endpoint)
    return None if message is None else StorageUnavailable(message)


# ---------------------------------------------------------------- encryption and versioning
def sse_args() -> dict[str, str]:
    """The server-side encryption arguments of every write: SSE-KMS with ``$MLOPS_SSE_KMS_KEY_ID``, else SSE-S3."""
    key_id = os.environ.get(SSE_KMS_KEY_ENV, "").strip()
    if key_id:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}
    return {"ServerSideEncryption": "AES256"}


def _check_encryption_refusal(err: Exception, where: str) -> None:
    """Raise a clear ConfigError if the endpoint refused our encryption (MinIO without KMS, a bad key)."""
    code = _code(err)
    message = str((getattr(err, "response", None) or {}).get("Error", {}).get("Message", ""))
    if code == "NotImplemented" or "KMS" in code + message or "ncryption" in message:
        raise ConfigError(
            f"S3 refused server-side encryption {sse_args()} for {where} ({code}: {message}); every write is "
            f"encrypted: configure the service's KMS (MinIO: MINIO_KMS_SECRET_KEY) or fix {SSE_KMS_KEY_ENV}."
        ) from err


def require_versioned_bucket(client, bucket: str) -> None:
    """Refuse a bucket without versioning; checked once per process, endpoint and bucket.

    Raises :class:`UnversionedBucketError` (saying how to enable versioning) unless versioning is
    ``Enabled``, and :class:`~mlops.errors.ConfigError` for a missing or unreadable bucket.
    """
    endpoint = str(client.meta.endpoint_url)
    if (endpoint, bucket) in _VERSIONED:
        return
    try:
        status = client.get_bucket_versioning(Bucket=bucket).get("Status")
    except Exception as err:
        if not _code(err) or _outage(err) is not None:
            raise
        fix = "grant s3:GetBucketVersioning to these credentials"
        if is_not_found(err) or _code(err) == "NoSuchBucket":
            fix = "check --bucket / MLOPS_BUCKET, or create it with `mlops seed` (versioned and encrypted)"
        raise ConfigError(f"Cannot check bucket {bucket!r} at {endpoint} ({_code(err)}); {fix}.") from err
    if status != "Enabled":
        raise UnversionedBucketError(
            f"Bucket {bucket!r} at {endpoint} is not versioned (versioning: {status or 'never enabled'}); "
            "the registry's pointer history, audit trail and pinned reads need every object version. "
            f"Enable it: `aws s3api put-bucket-versioning --bucket {bucket} --versioning-configuration "
            f"Status=Enabled` (MinIO: `mc version enable <alias>/{bucket}`), then re-run."
        )
    _VERSIONED.add((endpoint, bucket))


def guard_versioned_buckets(client):
    """Make ``client`` call :func:`require_versioned_bucket` before its first request to each bucket.

    Bucket-level calls (``CreateBucket``, ``PutBucketVersioning``, ...) pass, so that :func:`ensure_bucket`
    still works; so does an outage (unchecked, not cached): the request itself reports it. Returns ``client``.
    """

    def check(params: dict[str, Any], model: Any, **_: Any) -> None:
        if params.get("Bucket") and "Bucket" not in model.name:
            try:
                require_versioned_bucket(client, params["Bucket"])
            except Exception as err:
                if _outage(err) is None:
                    raise

    client.meta.events.register("before-parameter-build.s3", check, unique_id="mlops-require-versioned")
    return client


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
    kwargs.update(sse_args())
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
        _check_encryption_refusal(err, uri)
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

    Sorted by key, then newest first within a key (the latest one, then by ``LastModified``).
    A key-exact listing is the prefix listing filtered on ``v.key``: a prefix ``a/b`` also matches ``a/bc``.
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
    kwargs: dict[str, Any] = {"Bucket": db, "Key": dk, "CopySource": source, **sse_args()}
    if metadata is not None:
        kwargs["Metadata"] = {str(k): str(v) for k, v in metadata.items()}
        kwargs["MetadataDirective"] = "REPLACE"
    try:
        resp = client.copy_object(**kwargs)
    except Exception as err:
        if is_not_found(err):
            raise _not_found(src_uri, version_id) from err
        _check_encryption_refusal(err, dst_uri)
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
    try:
        resp = client.create_multipart_upload(Bucket=bucket, Key=key, ContentType=content_type, **sse_args())
    except Exception as err:
        _check_encryption_refusal(err, uri)
        raise
    return resp["UploadId"]


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
    """Create ``bucket`` if missing, turn on versioning and default encryption (:func:`sse_args`); idempotent."""
    try:
        client.head_bucket(Bucket=bucket)
    except Exception as err:
        if not is_not_found(err) and _code(err) not in ("NoSuchBucket",):
            raise
        client.create_bucket(Bucket=bucket)
    if versioning:
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    sse = sse_args()
    default = {"SSEAlgorithm": sse["ServerSideEncryption"]}
    if "SSEKMSKeyId" in sse:
        default["KMSMasterKeyID"] = sse["SSEKMSKeyId"]
    rules = [{"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": "SSEKMSKeyId" in sse}]
    try:
        client.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": rules})
    except Exception as err:
        _check_encryption_refusal(err, f"bucket {bucket!r}")
        raise


# ---------------------------------------------------------------- tables
def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_parquet(client, uri: str, df: pd.DataFrame, **kwargs: Any) -> PutResult:
    return put_bytes(client, uri, frame_to_parquet_bytes(df), **kwargs)


def read_table(client, uri: str) -> pd.DataFrame:
    """Read a Parquet or CSV table from S3 or a local path (see :func:`read_table_bytes`)."""
    return read_table_bytes(get_bytes(client, uri), str(uri))

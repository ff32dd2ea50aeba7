"""What the "ML models" app answers when S3 fails: an HTTP status and one line saying what and the fix.

:func:`s3_failure` classifies an error raised while reading S3 (a botocore error, or an
:class:`~mlops.errors.MLOpsError` that wraps one):

- an outage (connection refused, DNS, timeouts, dropped connections, HTTP 5xx, throttling;
  :func:`mlops.storage.describe_outage`): 503, or 502 when the endpoint answered an error 5xx;
- access refused to the bucket (``AccessDenied``, bad or expired keys): 403;
- a missing bucket (``NoSuchBucket``): 404;
- missing credentials (``NoCredentialsError``): 503.

The line names the endpoint (without any user info) and the bucket, never a credential, and
says what to check: the Airflow connection, the S3 service. Anything else is not an S3 failure
(``None``); the app's handler treats it as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from mlops import storage
from mlops.errors import find_in_chain

#: S3 error codes that mean "these credentials may not read this bucket".
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
    }
)
_USERINFO = re.compile(r"//[^/@\s]+@")


@dataclass(frozen=True)
class Failure:
    """The answer to an S3 failure: HTTP ``status`` and a one-line ``message``."""

    status: int
    message: str


def endpoint_name(endpoint: str | None) -> str:
    """``scheme://host:port`` of an endpoint URL (user info dropped), or AWS's default endpoint."""
    parts = urlsplit(str(endpoint or ""))
    if not parts.hostname:
        return "the default AWS S3 endpoint"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def s3_failure(err: BaseException, *, bucket: str, endpoint: str | None, conn_id: str) -> Failure | None:
    """The :class:`Failure` to answer for ``err``, or ``None`` if it is not an S3 failure.

    Parameters
    ----------
    bucket : str
        The bucket the request read (named unless the error names another one).
    endpoint : str, optional
        The client's endpoint URL (a ``ClientError`` does not carry it); ``None``: AWS.
    conn_id : str
        The Airflow connection the app reads S3 with, named in the fix.
    """
    from botocore.exceptions import ClientError, NoCredentialsError, PartialCredentialsError

    where = endpoint_name(endpoint)
    conn = f"the Airflow connection {conn_id!r}"
    found: ClientError | None = find_in_chain(err, (ClientError,))  # type: ignore[assignment]
    error = found.response.get("Error", {}) if found is not None else {}
    code = str(error.get("Code") or "")
    status = int(found.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) if found else 0
    bucket = str(error.get("BucketName") or bucket)

    outage = storage.describe_outage(err, endpoint)
    if outage is not None:
        what = _USERINFO.sub("//", outage).split("; check ", 1)[0]
        if found is not None and status >= 500:
            fix = "check the S3 service's health, logs and capacity, then reload this page"
        else:
            fix = f"check that the S3 endpoint is running and reachable from the API server, and the endpoint_url of {conn}"
        http = 502 if found is not None and status >= 500 and status != 503 else 503
        return Failure(http, f"Cannot read bucket {bucket!r}: {what}; {fix}.")
    if code == "NoSuchBucket":
        return Failure(
            404,
            f"Bucket {bucket!r} does not exist at S3 endpoint {where}; check MLOPS_BUCKET on the API server "
            f"and the endpoint_url of {conn}, or create the bucket with `mlops seed`.",
        )
    if code in DENIED_CODES or status == 403:
        return Failure(
            403,
            f"S3 endpoint {where} refused access to bucket {bucket!r} ({code or status} on "
            f"{getattr(found, 'operation_name', '?')}); check the credentials of {conn} and that they may list and read "
            "this bucket.",
        )
    if find_in_chain(err, (NoCredentialsError, PartialCredentialsError)) is not None:
        return Failure(
            503,
            f"No AWS credentials to read bucket {bucket!r} at S3 endpoint {where}; set the login and "
            f"password (access key) of {conn}, or give the API server a role.",
        )
    return None

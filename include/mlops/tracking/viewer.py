"""Which stored objects the artifact viewer may serve, and the viewer URL of an ``s3://`` artifact.

The UI plugin serves reports through the API server (``<UI_PREFIX>/artifacts/<bucket>/<key>``)
so that private buckets work and no credential or presigned URL reaches the browser. It
serves only the report-like files the lifecycle steps write (model cards, metrics, blessings,
drift reports, GX Data Docs, validation results, scoring manifests) in the configured
buckets; never models, data or anything else, and never a key with ``.``/``..`` segments.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import quote

from mlops import artifacts, storage
from mlops.artifacts.validation import DOCS_SUFFIX, VALIDATION_SUFFIX

#: Where the UI plugin's FastAPI app is mounted on the API server.
UI_PREFIX = "/mlops"
#: Extra buckets the viewer may read (comma-separated), besides ``MLOPS_BUCKET``.
EXTRA_BUCKETS_ENV = "MLOPS_UI_BUCKETS"

_NAME = r"[a-z][a-z0-9_]*"
_DAY = r"\d{4}-\d{2}-\d{2}"
_VERSION = r"v\d{4,}"
_SEG = r"[A-Za-z0-9_=-][A-Za-z0-9_.=-]*"


def _one_of(*names: str) -> str:
    return "(" + "|".join(re.escape(n) for n in names) + ")"


#: The report-like files of a candidate and of a version: every copied file but the model.
_CANDIDATE_FILES = _one_of(*(f for f in artifacts.VERSION_FILES if f != artifacts.MODEL_FILE))
_NIGHT_FILES = _one_of(
    artifacts.REPORT_HTML_FILE,
    artifacts.REPORT_JSON_FILE,
    artifacts.DRIFT_FILE,
    artifacts.PERFORMANCE_FILE,
    artifacts.NIGHT_FILE,
)


@dataclass(frozen=True)
class ArtifactKind:
    kind: str
    pattern: re.Pattern[str]


KINDS = (
    ArtifactKind("candidate", re.compile(rf"^candidates/{_NAME}/{_SEG}/{_CANDIDATE_FILES}$")),
    ArtifactKind(
        "version",
        re.compile(
            rf"^models/{_NAME}/versions/{_VERSION}/({_CANDIDATE_FILES}|{re.escape(artifacts.MANIFEST_FILE)})$"
        ),
    ),
    ArtifactKind(
        "registry record",
        re.compile(
            rf"^models/{_NAME}/(aliases/{_NAME}\.json|audit/{_SEG}\.json|(retired|checks)/{_VERSION}\.json)$"
        ),
    ),
    ArtifactKind("monitoring report", re.compile(rf"^monitoring/{_NAME}/{_DAY}/{_NIGHT_FILES}$")),
    ArtifactKind(
        "monitoring record",
        re.compile(rf"^monitoring/{_NAME}/(history|alerts|retrain_requests)/{_DAY}\.json$"),
    ),
    ArtifactKind(
        "validation result",
        re.compile(
            rf"^(quarantine/)?data/{_NAME}/(features|labels)/dt={_DAY}/{_SEG}"
            rf"{_one_of(VALIDATION_SUFFIX, DOCS_SUFFIX)}$"
        ),
    ),
    ArtifactKind(
        "scoring manifest", re.compile(rf"^predictions/{_NAME}/{_DAY}/{re.escape(artifacts.SUCCESS_FILE)}$")
    ),
)


def allowed_buckets() -> set[str]:
    extra = os.environ.get(EXTRA_BUCKETS_ENV, "")
    return {storage.DEFAULT_BUCKET, os.environ.get("MLOPS_BUCKET", storage.DEFAULT_BUCKET)} | {
        b.strip() for b in extra.split(",") if b.strip()
    }


def artifact_kind(bucket: str, key: str) -> str | None:
    """The kind of a servable artifact, or ``None`` if the viewer must refuse ``bucket``/``key``."""
    if bucket not in allowed_buckets():
        return None
    if not key or "\\" in key or "//" in key or any(s in (".", "..") for s in key.split("/")):
        return None
    for kind in KINDS:
        if kind.pattern.match(key):
            return kind.kind
    return None


def content_type(key: str) -> str:
    if key.endswith(".html"):
        return "text/html; charset=utf-8"
    return "application/json"


def viewer_path(uri: str, base_path: str = "") -> str:
    """``s3://bucket/key`` -> ``<base_path>/mlops/artifacts/bucket/key`` (quoted); other URIs unchanged."""
    if not storage.is_s3(uri):
        return uri
    bucket, key = storage.parse_uri(uri)
    return f"{base_path.rstrip('/')}{UI_PREFIX}/artifacts/{bucket}/{quote(key, safe='/=')}"

"""Typed artifact contracts: every file name, URI builder and artifact dataclass.

Steps hand each other artifacts, never internals. Import from here:
``from mlops import artifacts`` then ``artifacts.batch_uri(...)``,
``artifacts.read_artifact(client, uri, artifacts.VersionManifest)``.
"""

from mlops.artifacts.base import Artifact, parse_day, read_artifact, to_utc_iso, utc_now_iso, write_artifact
from mlops.artifacts.layout import (
    batch_uri,
    candidate_prefix,
    labels_uri,
    monitoring_prefix,
    predictions_prefix,
    quarantine_uri,
    safe_key,
    validation_uri,
)

__all__ = [
    "Artifact",
    "batch_uri",
    "candidate_prefix",
    "labels_uri",
    "monitoring_prefix",
    "parse_day",
    "predictions_prefix",
    "quarantine_uri",
    "read_artifact",
    "safe_key",
    "to_utc_iso",
    "utc_now_iso",
    "validation_uri",
    "write_artifact",
]

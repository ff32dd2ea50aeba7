"""Quarantine: a rejected batch is copied byte-for-byte to ``quarantine/<key>`` with its result beside it.

The original stays where it was; the copy is exactly the validated S3 object version.
"""

from __future__ import annotations

import logging

from mlops import artifacts, storage
from mlops.config import DatasetConfig, config_label
from mlops.validation.results import BatchRejected, ValidationReport
from mlops.validation.run import fallback_html

log = logging.getLogger(__name__)


def _copy(client, uri: str, q_uri: str, version_id: str | None, etag: str | None) -> None:
    """Server-side copy of exactly the validated version; skipped if the same bytes are already there."""
    existing = storage.head(client, q_uri)
    if existing is not None and etag and existing.get("ETag") == etag:
        log.info("quarantine copy already exists: %s", q_uri)
        return
    storage.copy(client, uri, q_uri, version_id=version_id if version_id != "null" else None)
    log.info("quarantined %s -> %s", uri, q_uri)


def quarantine(client, report: ValidationReport, source: artifacts.BatchSource) -> str:
    """Copy the rejected batch (the version in ``source``) to quarantine with its result and page beside it.

    Idempotent: the copy is skipped when the same bytes are there, and a reused (cached) result
    is not written again if the quarantined copy already has one. Returns the quarantine URI.
    """
    uri = report.result.batch_uri
    q_uri = artifacts.quarantine_uri(uri)
    _copy(client, uri, q_uri, source.version_id, source.etag)
    q_result_uri = artifacts.validation_uri(q_uri)
    if not report.cached or not storage.exists(client, q_result_uri):
        artifacts.write_artifact(client, q_result_uri, report.result)
        html = report.docs_html or fallback_html(report.result)
        storage.put_bytes(client, artifacts.docs_uri(q_uri), html.encode(), content_type="text/html")
    return q_uri


def rejection(report: ValidationReport, q_uri: str, cfg: DatasetConfig) -> BatchRejected:
    """The error a rejected batch raises: every failure in one line, where the copy went, the fix."""
    r = report.result
    msg = (
        f"Batch {r.batch_uri} failed validation ({len(r.failures)} of {r.evaluated} "
        f"expectations): " + "; ".join(r.summary) + f". The batch was copied to {q_uri} with its report (the "
        f"original is untouched); fix the upstream export and re-upload it, or, if the data is right, adjust "
        f"validation: in {config_label(cfg.name)} and run `mlops suites --dataset {cfg.name}`."
    )
    return BatchRejected(msg, report=report, quarantine_uri=q_uri)

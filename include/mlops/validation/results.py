"""Validation results: what a run returns, reading the recorded results back, the per-batch summary.

The recorded result is :class:`mlops.artifacts.ValidationResult` (``<batch>.validation.json``),
read and written only through :func:`mlops.artifacts.read_artifact` / ``write_artifact``.
:class:`ValidationReport` wraps it with the two facts that are not part of the file: whether
the result was reused (``cached``) and the rendered Data Docs page (``docs_html``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mlops import artifacts, storage
from mlops.artifacts.validation import DOCS_SUFFIX, VALIDATION_SUFFIX
from mlops.errors import ValidationFailed
from mlops.validation.outcome import verdict_line

_DT = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")


@dataclass(frozen=True)
class ValidationReport:
    """The verdict on one batch: the recorded ``result`` plus runtime-only facts.

    ``cached`` is true when a recorded result was reused (same bytes, labels and suite);
    ``docs_html`` is the GX Data Docs page when it was rendered (never part of the result file).
    """

    result: artifacts.ValidationResult
    cached: bool = False
    docs_html: str | None = field(default=None, repr=False, compare=False)

    @property
    def success(self) -> bool:
        return self.result.success

    @property
    def failures(self) -> list[artifacts.ExpectationOutcome]:
        return self.result.failures

    @property
    def quarantine_uri(self) -> str | None:
        return self.result.quarantine_uri

    def summary_lines(self) -> list[str]:
        """One actionable line per failed expectation (empty when the batch passed)."""
        return list(self.result.summary)

    def verdict_line(self) -> str:
        """``VERDICT: PASS ...`` or ``VERDICT: REJECTED ... failed=[...]``."""
        return verdict_line(self.result)

    def to_dict(self) -> dict[str, Any]:
        """The result as recorded, plus ``cached``."""
        return {**self.result.to_dict(), "cached": self.cached}

    def metadata(self) -> dict[str, Any]:
        """Small JSON-safe dict for XCom."""
        r = self.result
        return {
            "dataset": r.dataset,
            "batch_uri": r.batch_uri,
            "validation_uri": r.validation_uri,
            "docs_uri": r.docs_uri,
            "quarantine_uri": r.quarantine_uri,
            "success": r.success,
            "row_count": r.row_count,
            "evaluated": r.evaluated,
            "failed": len(r.failures),
            "labelled": r.labelled,
            "cached": self.cached,
        }


class BatchRejected(ValidationFailed):
    """A batch failed its expectation suite; ``report`` holds the details, the copy is in quarantine."""

    def __init__(self, message: str, *, report: ValidationReport, quarantine_uri: str | None = None) -> None:
        super().__init__(message)
        self.report = report
        self.quarantine_uri = quarantine_uri


def read_validation(client, batch_uri: str) -> artifacts.ValidationResult | None:
    """The recorded result beside ``batch_uri``, or None if the batch was never validated.

    Raises
    ------
    ArtifactSchemaError
        If the file is there but is not a current-schema validation result.
    """
    uri = artifacts.validation_uri(batch_uri)
    if not storage.exists(client, uri):
        return None
    return artifacts.read_artifact(client, uri, artifacts.ValidationResult)


def is_accepted(client, batch_uri: str, *, labelled: bool = False) -> bool:
    """True if the batch's recorded result passed (with ``labelled``: a labelled validation passed)."""
    result = read_validation(client, batch_uri)
    return result is not None and result.accepts(labelled=labelled)


def _summary_row(result: artifacts.ValidationResult, validation_uri: str | None) -> dict[str, Any]:
    return {
        "success": result.success,
        "verdict": result.verdict,
        "row_count": result.row_count,
        "evaluated": result.evaluated,
        "failed": len(result.failures),
        "failures": list(result.summary),
        "validation_uri": validation_uri,
        "docs_uri": result.docs_uri,
        "labelled": result.labelled,
        "checked_at": result.checked_at,
    }


def summarize_validations(
    client, bucket: str, dataset: str, *, include_unvalidated: bool = False
) -> list[dict[str, Any]]:
    """Each validated batch of ``dataset`` with its verdict, oldest first (for the demo summary).

    Reads the result beside each batch, else the one beside its quarantined copy.
    Rows: ``date, batch_uri, success, verdict ("accepted"/"rejected"/"unvalidated"),
    row_count, evaluated, failed, failures (one-line), validation_uri, docs_uri,
    quarantine_uri, labelled, checked_at``.
    """
    prefix = f"s3://{bucket}/data/{dataset}/features/"
    uris = storage.list_uris(client, prefix)
    q_uris = set(storage.list_uris(client, artifacts.quarantine_uri(prefix)))
    results = {u for u in uris if u.endswith(VALIDATION_SUFFIX)}
    rows = []
    for batch in (u for u in uris if not u.endswith((VALIDATION_SUFFIX, DOCS_SUFFIX))):
        val_uri, q_uri = artifacts.validation_uri(batch), artifacts.quarantine_uri(batch)
        day = _DT.search(batch)
        row: dict[str, Any] = {"date": day.group(1) if day else None, "batch_uri": batch}
        found = val_uri if val_uri in results else artifacts.validation_uri(q_uri)
        if found not in results | q_uris:
            if include_unvalidated:
                rows.append({**row, "success": None, "verdict": "unvalidated", "failures": []})
            continue
        result = artifacts.read_artifact(client, found, artifacts.ValidationResult)
        row.update(_summary_row(result, val_uri if val_uri in results else None))
        if q_uri in q_uris:
            row["quarantine_uri"] = q_uri
        rows.append(row)
    return sorted(rows, key=lambda r: (r["date"] or "", r["batch_uri"]))

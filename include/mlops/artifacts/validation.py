"""Artifacts of validation: the validation result beside every batch (and beside its quarantined copy).

Locations (from the batch URI, see :func:`mlops.artifacts.validation_uri`)::

    data/<dataset>/features/dt=<day>/batch.parquet
    data/<dataset>/features/dt=<day>/batch.validation.json        ValidationResult
    data/<dataset>/features/dt=<day>/batch.validation.html        GX Data Docs page (docs_uri)
    quarantine/data/<dataset>/features/dt=<day>/batch.parquet     a rejected batch's copy,
    quarantine/.../batch.validation.json (+ .html)                with its result beside it
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from mlops.artifacts.base import Artifact, Record, check_utc_iso, nested_list, nested_optional
from mlops.artifacts.layout import validation_uri

VALIDATION_SUFFIX = ".validation.json"
DOCS_SUFFIX = ".validation.html"


def docs_uri(batch_uri: str) -> str:
    """The GX Data Docs page beside a batch: ``<batch without suffix>.validation.html``."""
    return validation_uri(batch_uri).removesuffix(VALIDATION_SUFFIX) + DOCS_SUFFIX


@dataclasses.dataclass(frozen=True)
class ExpectationOutcome(Record):
    """One expectation's result, JSON-safe.

    ``rule`` is the config rule that produced it, ``scope`` ``all``/``labelled``/``unlabelled``,
    ``allowed`` a readable limit, ``samples`` up to a few unexpected values, ``error`` the
    message when the check could not run, ``kwargs`` the expectation's arguments.
    """

    expectation: str
    column: str | None
    success: bool
    message: str
    rule: str | None = None
    scope: str = "all"
    observed: Any = None
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    allowed: str | None = None
    samples: list[Any] = dataclasses.field(default_factory=list)
    error: str | None = None
    kwargs: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class LabelsSource(Record):
    """The labels object joined for a labelled validation."""

    uri: str
    etag: str | None
    version_id: str | None


@dataclasses.dataclass(frozen=True)
class BatchSource(Record):
    """The exact bytes validated: ETag, S3 VersionId, size, sha256 and format (parquet/csv).

    A re-run with the same ``sha256``, ``version_id``, labels and suite digest reuses the result.
    """

    uri: str
    etag: str | None
    version_id: str | None
    size: int
    sha256: str
    format: str
    labels: LabelsSource | None = None

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> BatchSource:
        fields["labels"] = nested_optional(LabelsSource, fields["labels"], source, "source.labels")
        return cls(**fields)


@dataclasses.dataclass(frozen=True)
class ValidationResult(Artifact):
    """``<batch>.validation.json``: the verdict of one batch against its expectation suite.

    ``batch_uri`` (was ``data_uri``) is the validated batch; ``checks`` every expectation
    run, in suite order; ``summary`` one actionable line per failure (empty on success).
    ``source`` is :class:`BatchSource` (its ``size`` was ``bytes``; None for a frame
    validated in memory). ``quarantine_uri`` is
    set when the batch was rejected. Derived keys: ``verdict`` (``accepted``/``rejected``)
    and ``failures`` (the failed checks). The runtime flag ``cached`` (result reused) is
    not part of the file; ``success`` is the only field a reader needs for the verdict.
    """

    KIND: ClassVar[str] = "validation_result"
    DERIVED: ClassVar[tuple[str, ...]] = ("verdict", "failures")

    dataset: str
    batch_uri: str
    success: bool
    labelled: bool
    row_count: int
    column_count: int
    suite: str
    suite_digest: str
    evaluated: int
    successful: int
    checks: list[ExpectationOutcome]
    summary: list[str]
    checked_at: str
    seconds: float
    gx_version: str
    source: BatchSource | None
    run_id: str | None
    validation_uri: str | None
    docs_uri: str | None
    quarantine_uri: str | None

    def __post_init__(self) -> None:
        check_utc_iso("validation_result", "checked_at", self.checked_at)

    @property
    def verdict(self) -> str:
        return "accepted" if self.success else "rejected"

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [c for c in self.checks if not c.success]

    def accepts(self, *, labelled: bool = False) -> bool:
        """True if the batch passed (with ``labelled``: a labelled validation passed)."""
        return self.success and (self.labelled or not labelled)

    def derived(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "failures": self.failures}

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> ValidationResult:
        fields["checks"] = nested_list(ExpectationOutcome, fields["checks"], source, "checks")
        fields["source"] = nested_optional(BatchSource, fields["source"], source, "source")
        return cls(**fields)

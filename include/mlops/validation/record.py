"""The step the DAGs run: validate an S3 batch, record the verdict beside it, quarantine a rejected one."""

from __future__ import annotations

import dataclasses
import logging

from mlops import artifacts, storage
from mlops.config import DatasetConfig
from mlops.errors import ArtifactSchemaError, ConfigError
from mlops.validation.batch import is_labelled, read_batch
from mlops.validation.hints import DEFAULT_STYLE
from mlops.validation.quarantine import quarantine, rejection
from mlops.validation.results import ValidationReport, read_validation
from mlops.validation.run import validate_frame
from mlops.validation.suite import config_digest

log = logging.getLogger(__name__)


def _same_input(
    previous: artifacts.ValidationResult, source: artifacts.BatchSource, digest: str, labelled: bool
) -> bool:
    """Whether ``previous`` validated these exact bytes (and labels) with this suite and scope."""
    prev = previous.source
    return (
        prev is not None
        and previous.suite_digest == digest
        and previous.labelled == labelled
        and prev.sha256 == source.sha256
        and prev.version_id == source.version_id
        and prev.labels == source.labels
    )


def _reusable(
    client, uri: str, source: artifacts.BatchSource, cfg: DatasetConfig, labelled: bool
) -> artifacts.ValidationResult | None:
    """The recorded result for these exact inputs, if there is one to reuse."""
    try:
        previous = read_validation(client, uri)
    except ArtifactSchemaError as err:  # written by another release: validate again and overwrite it
        log.warning("cannot reuse the recorded result of %s (%s); validating again", uri, err)
        return None
    if previous is None or not _same_input(previous, source, config_digest(cfg), labelled):
        return None
    return previous


def validate_and_record(
    client,
    uri: str,
    cfg: DatasetConfig,
    *,
    labelled: bool = False,
    run_id: str | None = None,
    force: bool = False,
    raise_on_failure: bool = True,
    hint_style: str = DEFAULT_STYLE,
) -> ValidationReport:
    """Validate an S3 batch and record the verdict; quarantine it on failure.

    Writes ``<batch>.validation.json`` (:class:`~mlops.artifacts.ValidationResult`) and
    ``<batch>.validation.html`` (GX Data Docs) beside the batch. On failure also copies the
    batch byte-for-byte (the validated version) to ``quarantine/<key>`` with the result and
    page beside the copy, leaves the original in place, and raises :class:`BatchRejected`.
    Idempotent: a batch whose bytes, labels and suite are unchanged since its recorded result
    is not validated again (``report.cached``), unless ``force``. ``hint_style`` (``dag`` from
    the operator, ``cli`` from ``mlops validate``) picks the words of fix hints.

    Raises
    ------
    BatchRejected
        The batch failed its suite (a :class:`~mlops.errors.ValidationFailed`;
        message = the one-line failures). Not raised if ``raise_on_failure=False``.
    InputReadError
        The batch cannot be read as a table.
    """
    if not storage.is_s3(uri):
        raise ConfigError(
            f"validate_and_record records results beside the batch in S3; got {uri!r}. "
            "Use validate_uri for local files."
        )
    val_uri, page_uri, q_uri = (
        artifacts.validation_uri(uri),
        artifacts.docs_uri(uri),
        artifacts.quarantine_uri(uri),
    )
    frame, source = read_batch(client, uri, cfg, labelled=labelled, hint_style=hint_style)
    labelled = is_labelled(frame, cfg, labelled)
    previous = None if force else _reusable(client, uri, source, cfg, labelled)
    if previous is not None:
        report = ValidationReport(previous, cached=True)
        log.info("already validated: %s (%s) -> reusing %s", uri, report.verdict_line(), val_uri)
    else:
        report = validate_frame(
            frame,
            cfg,
            labelled=labelled,
            batch_uri=uri,
            docs=True,
            run_id=run_id,
            source=source,
            hint_style=hint_style,
        )
        result = dataclasses.replace(
            report.result,
            validation_uri=val_uri,
            docs_uri=page_uri,
            quarantine_uri=None if report.success else q_uri,
        )
        report = dataclasses.replace(report, result=result)
        artifacts.write_artifact(client, val_uri, result)
        storage.put_bytes(client, page_uri, (report.docs_html or "").encode(), content_type="text/html")
        log.info("wrote %s and %s", val_uri, page_uri)
    if report.success:
        return report
    quarantine(client, report, source)
    if raise_on_failure:
        raise rejection(report, q_uri, cfg)
    return report

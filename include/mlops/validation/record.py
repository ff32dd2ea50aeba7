"""The step the DAGs run: validate an S3 batch, record the verdict beside it, quarantine a rejected one.

The recorded result is also a cache: it carries the batch object's VersionId (its ETag on an
unversioned bucket) and the sha256 of the suite it was checked with (``suite_digest``). While
both still match, and the late labels joined are the same object version, the batch is not read
or validated again: the result is reused (``report.cached``) and the log says so.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

from mlops import artifacts, storage
from mlops.config import DatasetConfig
from mlops.errors import ArtifactSchemaError, ConfigError
from mlops.validation.batch import open_batch
from mlops.validation.hints import DEFAULT_STYLE
from mlops.validation.quarantine import quarantine, rejection
from mlops.validation.results import ValidationReport, read_validation
from mlops.validation.run import validate_table
from mlops.validation.suite import load_suite, suite_sha256

log = logging.getLogger(__name__)


def _same_object(recorded: artifacts.BatchSource | artifacts.LabelsSource, head: dict[str, Any]) -> bool:
    """Whether ``head`` (an S3 HEAD) is the object version ``recorded`` read: same VersionId, else same ETag."""
    version = head.get("VersionId")
    if version and version != "null":
        return recorded.version_id == version
    return bool(head.get("ETag")) and recorded.etag == head.get("ETag")


def _scope(previous: artifacts.ValidationResult, cfg: DatasetConfig, labelled: bool) -> bool:
    """The scope a validation of the same bytes would take now, without reading them.

    With ``labels.in_features`` an unlabelled request is labelled when the batch carries its
    target, which the recorded target-column check says.
    """
    if labelled or not cfg.labels.in_features:
        return labelled
    return any(
        c.expectation == "expect_column_to_exist" and c.column == cfg.target and c.success
        for c in previous.checks
    )


def _reusable(client, uri: str, cfg: DatasetConfig, labelled: bool) -> artifacts.ValidationResult | None:
    """The recorded result of this very object version, suite and labels, if there is one."""
    head = storage.head(client, uri)
    if head is None:
        return None  # reading the batch raises the clear "does not exist" error
    try:
        previous = read_validation(client, uri)
    except ArtifactSchemaError as err:  # written by another release: validate again and overwrite it
        log.warning("cannot reuse the recorded result of %s (%s); validating again", uri, err)
        return None
    if previous is None or previous.source is None or not _same_object(previous.source, head):
        return None
    scope = _scope(previous, cfg, labelled)
    if previous.labelled != scope or previous.suite_digest != suite_sha256(load_suite(cfg, labelled=scope)):
        return None
    labels = previous.source.labels
    if labels is not None:
        labels_head = storage.head(client, labels.uri)
        if labels_head is None or not _same_object(labels, labels_head):
            return None
    return previous


def _validate(
    client, uri: str, cfg: DatasetConfig, labelled: bool, run_id: str | None, hint_style: str
) -> tuple[ValidationReport, artifacts.BatchSource]:
    """Read (streamed) and validate the batch; write its result and Data Docs page beside it."""
    with open_batch(client, uri, cfg, labelled=labelled, hint_style=hint_style) as (table, source):
        report = validate_table(
            table,
            cfg,
            labelled=labelled,
            batch_uri=uri,
            docs=True,
            run_id=run_id,
            source=source,
            hint_style=hint_style,
        )
    val_uri, page_uri = artifacts.validation_uri(uri), artifacts.docs_uri(uri)
    result = dataclasses.replace(
        report.result,
        validation_uri=val_uri,
        docs_uri=page_uri,
        quarantine_uri=None if report.success else artifacts.quarantine_uri(uri),
    )
    report = dataclasses.replace(report, result=result)
    artifacts.write_artifact(client, val_uri, result)
    storage.put_bytes(client, page_uri, (report.docs_html or "").encode(), content_type="text/html")
    log.info("wrote %s and %s (%d rows in %.1fs)", val_uri, page_uri, result.row_count, result.seconds)
    return report, source


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
    Cached: while the batch's object version (VersionId, else ETag), the sha256 of the suite and
    the labels' object version match the recorded result, the batch is not read again and the
    result is reused (``report.cached``; logged as "reused validation result from ..."), unless
    ``force``. ``hint_style`` (``dag`` from the operator, ``cli`` from ``mlops validate``) picks
    the words of fix hints.

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
    previous = None if force else _reusable(client, uri, cfg, labelled)
    if previous is not None:
        report, source = ValidationReport(previous, cached=True), previous.source
        log.info(
            "reused validation result from %s (%s)", artifacts.validation_uri(uri), report.verdict_line()
        )
    else:
        report, source = _validate(client, uri, cfg, labelled, run_id, hint_style)
    if report.success:
        return report
    quarantine(client, report, source)
    if raise_on_failure:
        raise rejection(report, artifacts.quarantine_uri(uri), cfg)
    return report

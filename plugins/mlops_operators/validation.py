"""The gate in front of training and scoring (Great Expectations).

``ValidateBatchOperator`` checks one batch (scoring, the validation DAG); ``ValidateWindowOperator``
checks every day of a training window in one task (one process, GX imported once).
Both reuse a recorded result while the batch's object version and the suite are unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from mlops.errors import InputReadError, ValidationFailed
from mlops_operators.common import fail_fast_on_bad_input, load_config, run_id, s3_client
from mlops_operators.links import DataDocsLink, ValidationResultLink
from mlops_operators.params import rendered_bool, rendered_params

if TYPE_CHECKING:
    from mlops.validation import ValidationReport


class ValidateBatchOperator(BaseOperator):
    """Validate one batch against its dataset's GX expectation suite.

    On success it writes ``<batch>.validation.json`` (``mlops.artifacts.ValidationResult``,
    which training reads back) and the GX Data Docs page
    ``<batch>.validation.html`` beside the batch and returns small metadata.
    On failure it copies the batch byte-for-byte to ``quarantine/<key>`` with the
    report beside it (the original stays), logs every failing expectation in
    one line, and fails the task without retries, so nothing downstream runs.
    Unreadable input (missing, empty, truncated, header-only, wrong delimiter,
    not Parquet/CSV) also fails the task at once with a clear message.
    A retry of an unchanged batch reuses the recorded result.

    :param dataset: dataset name, e.g. ``credit`` (templated).
    :param batch_uri: ``s3://bucket/data/<dataset>/features/dt=<day>/batch.parquet`` (templated).
    :param labelled: join the batch's late labels and check the target too (training; templated,
        ``"{{ params.labelled }}"`` renders to "True"/"False"; empty means False).
    :param fail_on_reject: if False, a rejected batch is still recorded and quarantined, but the
        task succeeds and returns ``success: False`` (for callers that drop bad days themselves;
        templated, so a Param can choose; empty means True).
    :param aws_conn_id: Airflow connection for S3.
    """

    template_fields: Sequence[str] = ("dataset", "batch_uri", "labelled", "fail_on_reject")
    operator_extra_links = (DataDocsLink(), ValidationResultLink())
    ui_color = "#e8f4e8"

    def __init__(
        self,
        *,
        dataset: str,
        batch_uri: str,
        labelled: bool = False,
        fail_on_reject: bool = True,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.batch_uri = batch_uri
        self.labelled = labelled
        self.fail_on_reject = fail_on_reject
        self.aws_conn_id = aws_conn_id

    def _remember_links(self, report: ValidationReport) -> None:
        """The URIs the Data Docs and Validation result extra links open."""
        self.validation_result_uri, self.data_docs_uri = report.result.validation_uri, report.result.docs_uri

    def execute(self, context) -> dict[str, Any]:
        from mlops.validation import BatchRejected, validate_and_record

        with rendered_params(self):
            labelled = rendered_bool(self.labelled, name="labelled", default=False)
            fail_on_reject = rendered_bool(self.fail_on_reject, name="fail_on_reject", default=True)
        client = s3_client(self.aws_conn_id)
        run = run_id(context)
        self.log.info(
            "validating %s (dataset=%s, labelled=%s, run_id=%s)",
            self.batch_uri,
            self.dataset,
            labelled,
            run,
        )
        with fail_fast_on_bad_input(self.log):
            cfg = load_config(self.dataset)
            try:
                report = validate_and_record(
                    client,
                    self.batch_uri,
                    cfg,
                    labelled=labelled,
                    run_id=run,
                    raise_on_failure=fail_on_reject,
                    hint_style="dag",
                )
            except BatchRejected as rejected:  # its message (the one ERROR line) says what and the fix
                self._remember_links(rejected.report)
                _log_report(self.log, rejected.report)
                self.log.info("quarantined %s -> %s (original kept)", self.batch_uri, rejected.quarantine_uri)
                raise
            except InputReadError as err:
                raise InputReadError(_unreadable(client, self.dataset, self.batch_uri, err)) from err
        self._remember_links(report)
        _log_report(self.log, report)
        if not report.success:
            self.log.warning(
                "fail_on_reject=False: %s recorded as rejected and quarantined at %s; continuing",
                self.batch_uri,
                report.quarantine_uri,
            )
        return report.metadata()


class ValidateWindowOperator(BaseOperator):
    """Validate every daily batch of a training window in one task, with its late labels.

    One process and one GX import for the whole window, instead of one mapped task per day.
    Each day is validated as :class:`ValidateBatchOperator` does (result and Data Docs page
    beside the batch, a rejected batch copied to quarantine), or its recorded result is reused
    while the batch's object version and the suite are unchanged. The log has one verdict line
    per day. With ``fail_on_reject`` (default) the task fails once every day is checked, naming
    the rejected days, so training never starts; off, it succeeds and training leaves the
    rejected (quarantined) days out.

    :param dataset: dataset name, e.g. ``credit`` (templated).
    :param batch_uris: the window's batch URIs, oldest first (``plan_window``'s XCom; templated).
    :param labelled: join each batch's late labels and check the target too (templated; default True).
    :param fail_on_reject: fail the task if any day is rejected (templated; empty means True).
    :param aws_conn_id: Airflow connection for S3.
    """

    template_fields: Sequence[str] = ("dataset", "batch_uris", "labelled", "fail_on_reject")
    ui_color = "#e8f4e8"

    def __init__(
        self,
        *,
        dataset: str,
        batch_uris: Sequence[str] | str,
        labelled: bool = True,
        fail_on_reject: bool = True,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.batch_uris = batch_uris
        self.labelled = labelled
        self.fail_on_reject = fail_on_reject
        self.aws_conn_id = aws_conn_id

    def execute(self, context) -> dict[str, Any]:
        from mlops.validation import validate_and_record

        with rendered_params(self):
            labelled = rendered_bool(self.labelled, name="labelled", default=True)
            fail_on_reject = rendered_bool(self.fail_on_reject, name="fail_on_reject", default=True)
        uris = [self.batch_uris] if isinstance(self.batch_uris, str) else list(self.batch_uris or [])
        client, run = s3_client(self.aws_conn_id), run_id(context)
        self.log.info(
            "validating %d batches of %s (labelled=%s, run_id=%s)", len(uris), self.dataset, labelled, run
        )
        reports = []
        with fail_fast_on_bad_input(self.log):
            cfg = load_config(self.dataset)
            for uri in uris:
                try:
                    report = validate_and_record(
                        client,
                        uri,
                        cfg,
                        labelled=labelled,
                        run_id=run,
                        raise_on_failure=False,
                        hint_style="dag",
                    )
                except InputReadError as err:
                    raise InputReadError(_unreadable(client, self.dataset, uri, err)) from err
                _log_report(self.log, report)
                reports.append(report)
            rejected = [r.result for r in reports if not r.success]
            self.log.info(
                "window: %d batches, %d accepted, %d rejected, %d reused",
                len(reports),
                len(reports) - len(rejected),
                len(rejected),
                sum(r.cached for r in reports),
            )
            if rejected and fail_on_reject:
                raise ValidationFailed(_window_rejection(rejected))
        for result in rejected:
            self.log.warning(
                "skip_rejected_batches: %s left out (quarantined at %s)",
                result.batch_uri,
                result.quarantine_uri,
            )
        return {
            "dataset": self.dataset,
            "validated": len(reports),
            "accepted": [r.result.batch_uri for r in reports if r.success],
            "rejected": [r.batch_uri for r in rejected],
            "reused": sum(r.cached for r in reports),
        }


def _window_rejection(rejected: list) -> str:
    """The one ERROR line of a window with rejected days: which, why in short, and the fix."""
    days = ", ".join(
        f"{r.batch_uri} ({len(r.failures)} failed: {r.summary[0] if r.summary else '?'})" for r in rejected
    )
    return (
        f"{len(rejected)} batch{'es' if len(rejected) != 1 else ''} of the training window failed validation: "
        f"{days}. Each was copied to quarantine with its report (the original is untouched); fix the upstream "
        "export and re-upload it, or trigger with Param skip_rejected_batches=true to train without them."
    )


def _unreadable(client, dataset: str, batch_uri: str, err: InputReadError) -> str:
    """The one ERROR line for a batch that cannot be read: which batch, why, and the fix.

    A missing batch names the days that do have one (an error path only: one S3 listing).
    """
    from mlops import storage

    uri = str(batch_uri)
    m = re.match(r"^(s3://.+/)dt=([^/]+)/([^/]+)$", uri)
    what = f"the {dataset} batch of {m.group(2)}" if m else f"the {dataset} batch {uri}"
    if m is None or storage.exists(client, uri):
        return f"cannot validate {what}: {err}"
    prefix, name = m.group(1), m.group(3)
    days = sorted(
        u[len(prefix) + 3 :].split("/", 1)[0]
        for u in storage.list_uris(client, prefix)
        if u.endswith("/" + name)
    )
    found = (
        f"{dataset} has batches for {days[0]}..{days[-1]} ({len(days)} days)"
        if days
        else f"{dataset} has no batches under {prefix} yet"
    )
    return (
        f"cannot validate {what}: {uri} does not exist; {found}. "
        "Trigger with a date that has a batch, or upload this batch first."
    )


def _log_report(logger, report: ValidationReport) -> None:
    """FAIL lines, where the result and page are, and the verdict line (reuse is logged by the core)."""
    result = report.result
    for line in report.summary_lines():
        logger.error("FAIL %s", line)
    logger.info("validation result: %s", result.validation_uri)
    logger.info("data docs: %s", result.docs_uri)
    if report.success:
        logger.info("%s", report.verdict_line())
    else:
        logger.error("%s", report.verdict_line())

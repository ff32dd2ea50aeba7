"""ValidateBatchOperator: the gate in front of training and scoring (Great Expectations)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator

from mlops.errors import InputReadError
from mlops_operators.common import fail_fast_on_bad_input, load_config, run_id, s3_client
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
                )
            except BatchRejected as rejected:  # its message (the one ERROR line) says what and the fix
                self._log_report(rejected.report)
                self.log.info("quarantined %s -> %s (original kept)", self.batch_uri, rejected.quarantine_uri)
                raise
            except InputReadError as err:
                raise InputReadError(self._unreadable(client, err)) from err
        self._log_report(report)
        if not report.success:
            self.log.warning(
                "fail_on_reject=False: %s recorded as rejected and quarantined at %s; continuing",
                self.batch_uri,
                report.quarantine_uri,
            )
        return report.metadata()

    def _unreadable(self, client, err: InputReadError) -> str:
        """The one ERROR line for a batch that cannot be read: which batch, why, and the fix.

        A missing batch names the days that do have one (an error path only: one S3 listing).
        """
        from mlops import storage

        uri = str(self.batch_uri)
        m = re.match(r"^(s3://.+/)dt=([^/]+)/([^/]+)$", uri)
        what = f"the {self.dataset} batch of {m.group(2)}" if m else f"the {self.dataset} batch {uri}"
        if m is None or storage.exists(client, uri):
            return f"cannot validate {what}: {err}"
        prefix, name = m.group(1), m.group(3)
        days = sorted(
            u[len(prefix) + 3 :].split("/", 1)[0]
            for u in storage.list_uris(client, prefix)
            if u.endswith("/" + name)
        )
        found = (
            f"{self.dataset} has batches for {days[0]}..{days[-1]} ({len(days)} days)"
            if days
            else f"{self.dataset} has no batches under {prefix} yet"
        )
        return (
            f"cannot validate {what}: {uri} does not exist; {found}. "
            "Trigger with a date that has a batch, or upload this batch first."
        )

    def _log_report(self, report: ValidationReport) -> None:
        result = report.result
        if report.cached:
            self.log.info("already validated: %s (result %s)", result.batch_uri, result.validation_uri)
        for line in report.summary_lines():
            self.log.error("FAIL %s", line)
        self.log.info("validation result: %s", result.validation_uri)
        self.log.info("data docs: %s", result.docs_uri)
        if report.success:
            self.log.info("%s", report.verdict_line())
        else:
            self.log.error("%s", report.verdict_line())

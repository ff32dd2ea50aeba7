"""Monitoring operators: drift, performance, alert rules and retrain requests.

Each is a thin adapter over one :mod:`mlops.monitoring` call. Results land under
``s3://<bucket>/monitoring/<dataset>/<day>/``; the returned dicts are small and JSON-safe.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from airflow.sdk import AssetAlias, BaseOperator

from mlops.storage import DEFAULT_BUCKET
from mlops_operators.assets import retrain_request_asset
from mlops_operators.common import emit_asset_event, fail_fast_on_bad_input, load_config, run_id, s3_client
from mlops_operators.links import DriftReportLink
from mlops_operators.params import rendered_int, rendered_params, rendered_str

RETRAIN_REQUEST_ALIAS = "mlops_retrain_request"


def retrain_request_alias() -> AssetAlias:
    """Outlet for the retrain task: the event is attached to ``retrain_request_asset(<dataset of this run>)``."""
    return AssetAlias(name=RETRAIN_REQUEST_ALIAS)


def _bucket(op: BaseOperator) -> str:
    """The operator's bucket; blank means ``DEFAULT_BUCKET``."""
    return rendered_str(op.bucket, default=DEFAULT_BUCKET)


def _monitor(op: BaseOperator, step: Callable[..., Any], context: Any, **kwargs: Any) -> Any:
    """Run one :mod:`mlops.monitoring` step for ``op.dataset`` on the night ``op.date``.

    Loads the dataset's config and calls ``step(client, bucket, cfg, date, **kwargs, run_id=...)``
    (``kwargs`` already parsed by the operator). Bad data or config fail the task at once.
    """
    with fail_fast_on_bad_input():
        cfg = load_config(op.dataset)
        return step(
            s3_client(op.aws_conn_id),
            _bucket(op),
            cfg,
            op.date,
            **kwargs,
            run_id=run_id(context),
        )


class MonitorDriftOperator(BaseOperator):
    """Data and prediction drift of the last ``window_days`` scored days against the production model's profile.

    Writes ``drift.json`` under ``monitoring/<dataset>/<date>/`` (the report next to it is
    written by :class:`EvaluateAlertsOperator`).

    :param dataset: dataset (== model) name (templated)
    :param date: the monitored night, ``YYYY-MM-DD`` (templated)
    :param window_days: days in the current window; empty -> ``monitoring.window_days`` (templated)
    :param version: registry alias or version whose reference profile is used (templated)
    :param reference_uri: read the profile from here instead of the registry (templated)
    :param bucket: the bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields: Sequence[str] = ("dataset", "date", "window_days", "version", "reference_uri", "bucket")
    operator_extra_links = (DriftReportLink(),)

    def __init__(
        self,
        *,
        dataset: str,
        date: str,
        window_days: int | str | None = None,
        version: str = "production",
        reference_uri: str | None = None,
        bucket: str | None = None,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.date = date
        self.window_days = window_days
        self.version = version
        self.reference_uri = reference_uri
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from mlops import monitoring

        with rendered_params(self):
            window_days = rendered_int(self.window_days, name="window_days", minimum=1)
            version = rendered_str(self.version, default="production")
            reference_uri = rendered_str(self.reference_uri)
        report = _monitor(
            self,
            monitoring.monitor_drift,
            context,
            window_days=window_days,
            version=version,
            reference_uri=reference_uri,
            log=self.log.info,
        )
        for line in monitoring.summary_lines(report):
            self.log.info("%s", line)
        self.log.info("drift result: %s", report.drift_uri)
        self.log.info("report (written by the alert evaluation): %s", report.report_uri)
        self.drift_report_uri = report.report_uri
        return {
            "dataset": report.dataset,
            "day": report.day,
            "verdict": report.verdict,
            "dataset_drift": report.dataset_drift,
            "drift_share": round(report.drift_share, 4),
            "drifted_features": report.drifted_features,
            "prediction_drift": report.prediction_drift,
            "model_version": report.model_version,
            "current_window": report.current_window,
            "current_rows": report.n_cur,
            "drift_uri": report.drift_uri,
            "report_uri": report.report_uri,
        }


class MonitorPerformanceOperator(BaseOperator):
    """Realised performance of labelled scored days and CBPE estimates for the rest, vs the model card.

    Writes ``performance.json`` under ``monitoring/<dataset>/<date>/``.

    :param dataset: dataset (== model) name (templated)
    :param date: the monitored night, ``YYYY-MM-DD`` (templated)
    :param days: days back to look at; empty -> config (templated)
    :param version: registry alias or version for the holdout baseline (templated)
    :param bucket: the bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields: Sequence[str] = ("dataset", "date", "days", "version", "bucket")

    def __init__(
        self,
        *,
        dataset: str,
        date: str,
        days: int | str | None = None,
        version: str = "production",
        bucket: str | None = None,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.date = date
        self.days = days
        self.version = version
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from mlops import monitoring

        with rendered_params(self):
            days = rendered_int(self.days, name="days", minimum=1)
            version = rendered_str(self.version, default="production")
        report = _monitor(
            self,
            monitoring.monitor_performance,
            context,
            days=days,
            version=version,
            log=self.log.info,
        )
        for line in monitoring.performance_summary_lines(report):
            self.log.info("%s", line)
        self.log.info("performance result: %s", report.performance_uri)
        return {
            "dataset": report.dataset,
            "day": report.day,
            "model_version": report.model_version,
            "summary": report.summary,
            "baseline": report.baseline,
            "realised": {k: v for k, v in report.realised.items() if k != "confusion_matrix"},
            "estimated": {k: v for k, v in report.estimated.items() if k != "confusion_matrix"},
            "days": [{"day": d.day, "source": d.source, "n": d.n} for d in report.days],
            "performance_uri": report.performance_uri,
        }


class EvaluateAlertsOperator(BaseOperator):
    """Evaluate the configured alert rules, write the report and alert event, and notify.

    When a rule fires, the task log shows an alert block, an alert event is written to
    ``monitoring/<dataset>/alerts/<date>.json`` and every notifier is called with the
    task context plus ``mlops_alert`` (the night's result). A failing notifier is logged
    and does not fail the task (the verdict and the retrain decision still stand).

    :param dataset: dataset (== model) name (templated)
    :param date: the monitored night, ``YYYY-MM-DD`` (templated)
    :param notifiers: ``BaseNotifier`` instances (e.g. log and webhook notifiers)
    :param bucket: the bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields: Sequence[str] = ("dataset", "date", "bucket")
    operator_extra_links = (DriftReportLink(),)

    def __init__(
        self,
        *,
        dataset: str,
        date: str,
        notifiers: Sequence[Any] = (),
        bucket: str | None = None,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.date = date
        self.notifiers = list(notifiers)
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from mlops import monitoring

        night = _monitor(self, monitoring.evaluate_night, context, log=self.log.info)
        result = night.to_dict()
        notified: list[str] = []
        if night.fired:
            self.log.warning("\n%s", monitoring.alert_block(night))
            self.log.info("alert event: %s", night.alert_uri)
            notify_context = dict(context or {})
            notify_context["mlops_alert"] = result
            for notifier in self.notifiers:
                name = type(notifier).__name__
                try:
                    notifier(notify_context)
                    notified.append(name)
                except Exception as err:  # a broken notifier must not hide the verdict
                    self.log.error("notifier %s failed: %s", name, err)
        self.log.info("report: %s", night.report_uri)
        self.drift_report_uri = night.report_uri
        self.log.info(
            "VERDICT: %s dataset=%s night=%s fired=%s retrain=%s",
            night.verdict,
            night.dataset,
            night.day,
            night.fired,
            "requested" if night.retrain else "no",
        )
        return {**result, "notified": notified}


class RequestRetrainOperator(BaseOperator):
    """Write a retrain request to ``monitoring/<dataset>/retrain_requests/<date>.json`` and emit the asset event.

    The request is built from the night's ``night.json`` (the rules that fired with
    ``retrain: true``); a night without one fails the task. Declare ``retrain_request_alias()``
    (or the dataset's ``retrain_request_asset``) as outlet; the training DAG is scheduled on the asset.

    :param dataset: dataset (== model) name (templated)
    :param date: the monitored night (templated)
    :param night: the XCom of ``EvaluateAlertsOperator``; only orders this task after it (the
        request is read from ``night.json``, not from this value) (templated)
    :param bucket: the bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields: Sequence[str] = ("dataset", "date", "night", "bucket")

    def __init__(
        self,
        *,
        dataset: str,
        date: str,
        night: Any = None,
        bucket: str | None = None,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.date = date
        self.night = night
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from mlops import monitoring

        bucket = _bucket(self)
        uri, request = _monitor(self, monitoring.write_retrain_request, context)
        reasons = [r.name for r in request.reasons]
        self.log.info("retrain requested for %s: reasons=%s request=%s", request.dataset, reasons, uri)
        asset = retrain_request_asset(request.dataset, bucket)
        extra = {
            "request_uri": uri,
            "day": request.day,
            "reasons": reasons,
            "model_version": request.model_version,
        }
        emit_asset_event(self.outlets, context, asset, extra)
        self.log.info("asset event: %s %s", asset.uri, extra)
        return {"request_uri": uri, "asset_uri": asset.uri, "reasons": reasons}

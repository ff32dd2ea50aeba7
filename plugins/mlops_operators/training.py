"""Training operators: plan the window, train a candidate (see :mod:`mlops.training`)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from mlops.storage import DEFAULT_BUCKET
from mlops_operators.common import fail_fast_on_bad_input, load_config, run_identity, s3_client
from mlops_operators.params import rendered_int, rendered_params, rendered_str

#: XCom keys pushed besides ``return_value`` (templates pull them by key).
WINDOW_KEY = "window"
DATASET_KEY = "dataset"
CANDIDATE_PREFIX_KEY = "candidate_prefix"


def _push(context: Any, **values: Any) -> None:
    """Push extra XCom keys (nothing to push to outside a DAG run, e.g. in a unit test)."""
    ti = context.get("ti") if context else None
    if ti is not None:
        for key, value in values.items():
            ti.xcom_push(key=key, value=value)


@contextlib.contextmanager
def _fail_fast_on_bad_window() -> Iterator[None]:
    """Bad input and too few usable days fail the task at once (a retry cannot fix them)."""
    from mlops.training import InsufficientDataError

    with fail_fast_on_bad_input(also=(InsufficientDataError,)):
        yield


def dataset_from_trigger(context: Any) -> str | None:
    """The dataset of the retrain request that triggered this run, if it was triggered by one.

    Retrain-request assets have the URI ``s3://<bucket>/monitoring/<dataset>/retrain_requests/``.
    """
    events = (context or {}).get("triggering_asset_events") or {}
    try:
        assets = list(events)
    except TypeError:
        return None
    for asset in assets:
        uri = str(getattr(asset, "uri", "") or "")
        parts = uri.rstrip("/").split("/")
        if len(parts) >= 3 and parts[-1] == "retrain_requests" and parts[-3] == "monitoring":
            return parts[-2]
    return None


class PlanTrainingWindowOperator(BaseOperator):
    """List the days of the training window that can be used: batch present, labels due and arrived.

    Returns the usable batch URIs (the mapped validation expands over them) and pushes
    the whole plan under the XCom key ``window`` and the dataset under ``dataset``. A run triggered by a retrain-request Asset trains the dataset of that request.
    Fails at once (no retries) if fewer than ``holdout_days + 1`` days are usable.

    :param dataset: dataset name (templated)
    :param window_end: last day of the window, ``YYYY-MM-DD`` (templated)
    :param window_days: days in the window; empty means ``training.window_days`` (templated)
    :param bucket: data bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields: Sequence[str] = ("dataset", "window_end", "window_days", "bucket")
    ui_color = "#eef3fb"

    def __init__(
        self,
        *,
        dataset: str,
        window_end: str,
        window_days: int | str | None = None,
        bucket: str = DEFAULT_BUCKET,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.window_end = window_end
        self.window_days = window_days
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> list[str]:
        from mlops.training import plan_window

        with rendered_params(self):
            window_days = rendered_int(self.window_days, name="window_days", minimum=1)
        dataset = self.dataset
        triggered = dataset_from_trigger(context)
        if triggered and triggered != dataset:
            self.log.info(
                "run triggered by a retrain request for %s: training %s (Param said %s)",
                triggered,
                triggered,
                dataset,
            )
            dataset = triggered
        client = s3_client(self.aws_conn_id)
        with _fail_fast_on_bad_window():
            cfg = load_config(dataset)
            plan = plan_window(
                client,
                cfg,
                bucket=self.bucket,
                end=self.window_end,
                window_days=window_days,
            )
        for day, reason in plan.skipped.items():
            self.log.info("skip %s: %s", day, reason)
        self.log.info(
            "window %s..%s: %d usable days -> validating %d batches",
            plan.start,
            plan.end,
            len(plan.days),
            len(plan.batch_uris),
        )
        _push(context, **{WINDOW_KEY: plan.to_dict(), DATASET_KEY: dataset})
        return plan.batch_uris


class TrainModelOperator(BaseOperator):
    """Train a candidate on the validated, labelled window and write its artifacts.

    Writes ``model.skops``, ``training.json`` (window, split, lineage with S3 VersionIds
    and hashes, params, best params, seed, feature signature) and
    ``reference_profile.json`` under ``candidates/<dataset>/<run>/``. Only batches whose
    validation result says success are read. A retry with the same request reuses the
    candidate ("already exists"). Pushes ``candidate_prefix`` as its own XCom key.

    :param dataset: dataset name (templated)
    :param window_end: last day of the window, ``YYYY-MM-DD`` (templated)
    :param window_days: days in the window; empty means the config (templated)
    :param estimator: estimator override (e.g. ``dummy``); empty means the config (templated)
    :param search: ``config`` (the config's search) or ``none`` (templated)
    :param bucket: data and candidate bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields: Sequence[str] = ("dataset", "window_end", "window_days", "estimator", "search", "bucket")
    ui_color = "#dfe9f7"

    def __init__(
        self,
        *,
        dataset: str,
        window_end: str,
        window_days: int | str | None = None,
        estimator: str | None = None,
        search: str = "config",
        bucket: str = DEFAULT_BUCKET,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.window_end = window_end
        self.window_days = window_days
        self.estimator = estimator
        self.search = search
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from mlops.training import train_candidate

        run = run_identity(context)
        run_id = str(run.get("run_id") or "manual")
        with rendered_params(self):
            window_days = rendered_int(self.window_days, name="window_days", minimum=1)
            estimator = rendered_str(self.estimator)
            search = rendered_str(self.search, default="config")
        self.log.info(
            "training %s: end %s, window_days %s, estimator %s, search %s",
            self.dataset,
            self.window_end,
            window_days or "config",
            estimator or "config",
            search,
        )
        client = s3_client(self.aws_conn_id)
        with _fail_fast_on_bad_window():
            cfg = load_config(self.dataset)
            result = train_candidate(
                client,
                cfg,
                bucket=self.bucket,
                end=self.window_end,
                run_id=run_id,
                window_days=window_days,
                estimator=estimator,
                search=search,
                run=run,
            )
        if result.reused:
            self.log.info("already exists: %s (reusing the candidate of this request)", result.training_uri)
        for line in result.summary_lines():
            self.log.info("%s", line)
        _push(context, **{CANDIDATE_PREFIX_KEY: result.candidate_prefix})
        return result.to_dict()

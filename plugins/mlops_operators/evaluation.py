"""Evaluation operators: score candidate vs production, and the gate (see :mod:`mlops.evaluation`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator, BaseOperatorLink
from airflow.sdk.bases.skipmixin import SkipMixin

from mlops.storage import DEFAULT_BUCKET
from mlops_operators.common import fail_fast_on_bad_input, load_config, run_identity, s3_client, who
from mlops_operators.links import viewer_url
from mlops_operators.params import rendered_bool, rendered_params, rendered_str


def _card_url(client, model_card_uri: str) -> str:
    """The model card in the UI's artifact viewer (served through the API server; private buckets work)."""
    return viewer_url(model_card_uri)


class ModelCardLink(BaseOperatorLink):
    """ "Model card" button on the task: the candidate's ``model_card.html`` (set during execute)."""

    name = "Model card"

    def get_link(self, operator: BaseOperator, *, ti_key) -> str:
        return getattr(operator, "model_card_url", "") or ""


class EvaluateModelOperator(BaseOperator):
    """Score the candidate and the current production model on the same holdout.

    Writes ``metrics.json`` (overall and per-slice ``sklearn.metrics`` for both, the
    production version and its pointer ETag) and ``model_card.html`` beside the candidate,
    and logs the model card's location.

    :param dataset: dataset name (templated)
    :param candidate_prefix: ``s3://.../candidates/<dataset>/<run>/`` (templated)
    :param bucket: registry bucket, for the production model (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields: Sequence[str] = ("dataset", "candidate_prefix", "bucket")
    operator_extra_links = (ModelCardLink(),)
    ui_color = "#fdf3e1"

    def __init__(
        self,
        *,
        dataset: str,
        candidate_prefix: str,
        bucket: str = DEFAULT_BUCKET,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.candidate_prefix = candidate_prefix
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from mlops.evaluation import evaluate_candidate

        client = s3_client(self.aws_conn_id)
        with fail_fast_on_bad_input():
            cfg = load_config(self.dataset)
            result = evaluate_candidate(client, cfg, self.candidate_prefix, bucket=self.bucket)
        for line in result.summary_lines():
            self.log.info("%s", line)
        if result.baseline_error:
            self.log.warning("production comparison unavailable: %s", result.baseline_error)
        self.model_card_url = _card_url(client, result.model_card_uri)
        self.log.info("model card: %s (open: %s)", result.model_card_uri, self.model_card_url)
        return {**result.to_dict(), "model_card_url": self.model_card_url}


class GateModelOperator(BaseOperator, SkipMixin):
    """Bless the candidate or not, and short-circuit the rest of the run when it is not.

    Applies the three rules (floors, primary metric vs production, slices) and the
    behavioural checks, writes ``blessing.json``, logs one line per check, the verdict
    table and one ``VERDICT:`` line. When the candidate is not blessed, every task
    downstream (publish, promote) is skipped and the task itself succeeds: a rejected
    challenger is not an error, the run ends green with nothing published.

    ``force_promote`` (audited with ``reason`` and the triggering user) lets an
    unblessed candidate continue to publish/promote, but only if its behavioural checks pass.

    :param dataset: dataset name (templated)
    :param candidate_prefix: ``s3://.../candidates/<dataset>/<run>/`` (templated)
    :param force_promote: continue even if not blessed, e.g. ``"{{ params.force_promote }}"`` (templated)
    :param reason: why (recorded in ``blessing.json`` when forcing) (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields: Sequence[str] = ("dataset", "candidate_prefix", "force_promote", "reason")
    operator_extra_links = (ModelCardLink(),)
    inherits_from_skipmixin = True
    ui_color = "#fbe3d6"

    def __init__(
        self,
        *,
        dataset: str,
        candidate_prefix: str,
        force_promote: bool | str = False,
        reason: str = "",
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.candidate_prefix = candidate_prefix
        self.force_promote = force_promote
        self.reason = reason
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from mlops.artifacts import blessing_uri, model_card_uri
        from mlops.evaluation import gate_candidate, rules_table

        with rendered_params(self):
            force = rendered_bool(self.force_promote, name="force_promote")
            reason = rendered_str(self.reason, default="")
        ident = run_identity(context)
        actor, run, _ = who(context)
        if not run["triggering_user_name"]:
            actor = str(ident.get("run_id"))
        client = s3_client(self.aws_conn_id)
        with fail_fast_on_bad_input():
            cfg = load_config(self.dataset)
            blessing = gate_candidate(
                client,
                cfg,
                self.candidate_prefix,
                force=force,
                reason=reason,
                actor=actor,
                evaluation_id=f"{ident.get('dag_id')}/{ident.get('run_id')}",
            )
        prefix = blessing.candidate_uri
        card_uri = model_card_uri(prefix)
        self.model_card_url = _card_url(client, card_uri)
        self.log.info("gate verdict table:\n%s", rules_table(blessing.rules))
        self.log.info("blessing: %s", blessing_uri(prefix))
        self.log.info("model card: %s (open: %s)", card_uri, self.model_card_url)
        result = {
            **blessing.to_dict(),
            "candidate_prefix": prefix,
            "blessing_uri": blessing_uri(prefix),
            "model_card_uri": card_uri,
            "model_card_url": self.model_card_url,
        }
        if blessing.forced:
            self.log.warning(
                "force_promote by %s (reason: %s): %s",
                actor,
                reason or "-",
                "continuing to publish" if blessing.publish else "REFUSED, behavioural checks failed",
            )
        if blessing.blessed:
            self.log.info("%s", blessing.verdict_line())
        else:
            self.log.warning("%s", blessing.verdict_line())
        if blessing.publish:
            return result
        ti = context.get("ti") if context else None
        if ti is None:  # called outside a DAG run (e.g. a unit test): nothing to skip
            return result
        task = context.get("task") or self
        to_skip = [t for t in task.get_flat_relatives(upstream=False) if not t.is_teardown]
        self.log.info("not blessed: skipping %s; nothing is published", sorted(t.task_id for t in to_skip))
        # The skip below ends execute by exception, so push the verdict for the UI and the demo first.
        ti.xcom_push(key="return_value", value=result)
        self.skip(ti=ti, tasks=to_skip)
        return result

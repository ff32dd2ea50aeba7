"""Scoring operators: plan a run, score shards, publish the partition (see :mod:`mlops.scoring`).

In the scoring DAG::

    plan_scoring (PlanScoringOperator)        resolve the model once, verify it, pin the input, cut shards
      -> validate_batch
      -> score_batch (ScoreBatchOperator, mapped over the shards)
      -> finalize_partition (FinalizePartitionOperator)   reject share, _SUCCESS last, stale cleanup

``ScoreBatchOperator`` without a ``plan`` runs the whole thing in one task.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow.sdk import BaseOperator

from mlops import artifacts, storage
from mlops.storage import DEFAULT_BUCKET
from mlops_operators import common
from mlops_operators.links import ScoringManifestLink, VersionModelCardLink
from mlops_operators.params import ParamError, rendered_float, rendered_int, rendered_params, rendered_str

#: Module-level name so tests can swap the config loader (``monkeypatch.setattr(scoring_ops, "_config", ...)``).
_config = common.load_config


def _model_and_shards(op: BaseOperator) -> tuple[str, int]:
    """The model reference (blank: the ``production`` alias) and the shard count (blank: 1) of ``op``."""
    with rendered_params(op):
        version = rendered_str(op.version, default="production")
        shards = rendered_int(op.shards, name="shards", minimum=1, default=1)
    return version, shards


class PlanScoringOperator(BaseOperator):
    """Resolve the model reference once, verify and load the model, pin the input, cut the shards.

    The model is resolved through ``mlops.models`` (only a version that passed the registry's
    smoke check is loaded) and its input described by the version's feature signature.
    Nothing is written: a checksum mismatch fails the run before any output exists.
    Returns one dict per shard (the plan plus ``shard_index``), ready for
    ``ScoreBatchOperator.partial(...).expand(plan=...)``.

    :param dataset: dataset (and model) name (templated)
    :param input_uri: the day's batch, ``s3://.../batch.parquet`` (templated)
    :param output_uri: the partition prefix, ``s3://.../predictions/<dataset>/<date>/`` (templated)
    :param version: ``"production"`` (an alias) or a pinned version ``"v0007"`` (templated)
    :param shards: number of shards (templated; cut on the chunk grid, capped by the row count)
    :param bucket: registry bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields: Sequence[str] = ("dataset", "input_uri", "output_uri", "version", "shards", "bucket")
    operator_extra_links = (VersionModelCardLink(),)
    ui_color = "#eef3fb"

    def __init__(
        self,
        *,
        dataset: str,
        input_uri: str,
        output_uri: str,
        version: str = "production",
        shards: int | str = 1,
        bucket: str = DEFAULT_BUCKET,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.input_uri = input_uri
        self.output_uri = output_uri
        self.version = version
        self.shards = shards
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from mlops import scoring

        version, shards = _model_and_shards(self)
        client = common.s3_client(self.aws_conn_id)
        with common.fail_fast_on_bad_input():
            cfg = _config(self.dataset)
            plan, _ = scoring.plan_scoring(
                client,
                cfg,
                input_uri=self.input_uri,
                output_uri=self.output_uri,
                version=version,
                bucket=self.bucket,
                run_id=common.run_id(context),
                shards=shards,
            )
            # The "Model card" link: the card the registry copied into the version, if it has one.
            card = artifacts.model_card_uri(
                artifacts.version_prefix(self.bucket, plan.dataset, plan.model_version)
            )
            self.model_card_uri = card if storage.exists(client, card) else None
        self.log.info(
            "model %s: %s -> %s (resolved once for this run; checksum verified)",
            plan.dataset,
            plan.model_ref,
            plan.model_version,
        )
        self.log.info(
            "input %s: %d rows, VersionId %s -> %d shard(s), chunks of %d rows, attempt %s",
            plan.input_uri,
            plan.input_rows,
            plan.input_version_id,
            plan.num_shards,
            plan.chunk_size,
            plan.attempt,
        )
        return plan.shard_inputs()


class ScoreBatchOperator(BaseOperator):
    """Score a batch with one pinned model version, streamed chunk by chunk.

    With ``plan`` (one element of :class:`PlanScoringOperator`'s output) it scores that
    shard and writes its part and rejects objects, unpublished; the DAG maps it over the
    shards. Without ``plan`` it runs the whole thing (plan, every shard, publish) in
    one task. ``validation`` (the ``validate_batch`` XCom) is a guard: a batch whose
    validation did not succeed is never scored.

    :param dataset: dataset (and model) name (templated)
    :param input_uri: the batch (templated; without ``plan``)
    :param output_uri: the partition prefix (templated; without ``plan``)
    :param version: alias or version, e.g. ``"production"`` or ``"v0007"`` (templated; without ``plan``)
    :param shards: shards scored in turn (templated; without ``plan``)
    :param plan: a shard plan from ``plan_scoring`` (usually mapped; an XComArg is resolved)
    :param validation: the validate_batch result (an XComArg is resolved); scoring stops unless
        ``success`` is true
    :param bucket: registry bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields: Sequence[str] = (
        "dataset",
        "input_uri",
        "output_uri",
        "version",
        "shards",
        "bucket",
        "plan",
        "validation",
    )
    ui_color = "#e3f0ff"

    def __init__(
        self,
        *,
        dataset: str,
        input_uri: str | None = None,
        output_uri: str | None = None,
        version: str = "production",
        shards: int | str = 1,
        plan: Mapping[str, Any] | None = None,
        validation: Mapping[str, Any] | None = None,
        bucket: str = DEFAULT_BUCKET,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.input_uri = input_uri
        self.output_uri = output_uri
        self.version = version
        self.shards = shards
        self.plan = plan
        self.validation = validation
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def _check_validation(self) -> None:
        if self.validation is None:
            return
        ok = bool(self.validation.get("success")) if isinstance(self.validation, Mapping) else False
        self.log.info("check validation of the batch: success=%s -> %s", ok, "score" if ok else "stop")
        if not ok:
            raise common.bad_input(
                f"The batch did not pass validation ({self.validation!r}); not scoring it. Fix the batch and "
                "re-run the scoring DAG.",
                self.log,
            ) from None

    def _uris(self) -> tuple[str, str]:
        """``input_uri`` and ``output_uri``, both required when no ``plan`` is given."""
        with rendered_params(self):
            uris = {name: rendered_str(getattr(self, name)) for name in ("input_uri", "output_uri")}
            for name, uri in uris.items():
                if uri is None:
                    raise ParamError(name, "an s3:// URI when no plan is given", getattr(self, name))
        return uris["input_uri"], uris["output_uri"]

    def execute(self, context: Any) -> dict[str, Any]:
        from mlops import scoring

        self._check_validation()
        if self.plan is None:
            input_uri, output_uri = self._uris()
            version, shards = _model_and_shards(self)
        client = common.s3_client(self.aws_conn_id)
        with common.fail_fast_on_bad_input():
            cfg = _config(self.dataset)
            if self.plan is not None:
                result = scoring.score_shard(client, cfg, dict(self.plan))
            else:
                result = scoring.score_batch(
                    client,
                    cfg,
                    input_uri=input_uri,
                    output_uri=output_uri,
                    version=version,
                    bucket=self.bucket,
                    run_id=common.run_id(context),
                    shards=shards,
                )
        if isinstance(result, scoring.ShardResult):
            self.log.info(
                "shard %d/%d: %d rows in, %d scored, %d rejected by %s %s -> %s",
                result.shard_index + 1,
                result.num_shards,
                result.rows_in,
                result.rows_scored,
                result.rows_rejected,
                result.dataset,
                result.model_version,
                result.part.uri,
            )
        else:
            for line in result.summary_lines():
                self.log.info("%s", line)
        return result.to_dict()


class FinalizePartitionOperator(BaseOperator):
    """Publish the partition: every shard present, reject share within bounds, ``_SUCCESS`` last.

    Then removes the stale objects of earlier attempts under the same partition. Too
    many rejects fail the task without publishing (no retry: it is bad data).

    :param dataset: dataset name (templated)
    :param shard_results: the ``score_batch`` results (all mapped instances; an XComArg is resolved)
    :param max_reject_fraction: override ``scoring.max_reject_fraction`` (templated; empty = config)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields: Sequence[str] = ("dataset", "shard_results", "max_reject_fraction")
    operator_extra_links = (ScoringManifestLink(),)
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        dataset: str,
        shard_results: Sequence[Mapping[str, Any]],
        max_reject_fraction: float | str | None = None,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.shard_results = shard_results
        self.max_reject_fraction = max_reject_fraction
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from mlops import scoring

        client = common.s3_client(self.aws_conn_id)
        # A slice reads every mapped result in one request; iterating would probe past the end
        # and log Airflow's "XCom not found" error in a successful run.
        results = [dict(r) for r in (self.shard_results or [])[:]]
        with rendered_params(self):
            limit = rendered_float(self.max_reject_fraction, name="max_reject_fraction", minimum=0, maximum=1)
        with common.fail_fast_on_bad_input():
            result = scoring.publish_partition(
                client, _config(self.dataset), results, max_reject_fraction=limit
            )
        self.scoring_manifest_uri = result.success_uri
        for line in result.summary_lines():
            self.log.info("%s", line)
        if result.stale_removed:
            self.log.info("removed %d stale object(s) from %s", result.stale_removed, result.output_uri)
        return result.to_dict()

"""Registry operators: publish, promote, roll back and retire model versions (see :mod:`mlops.registry`)."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from mlops.storage import DEFAULT_BUCKET
from mlops_operators import common
from mlops_operators.assets import production_model_asset
from mlops_operators.params import rendered_bool, rendered_int, rendered_params, rendered_str

PUBLISH_VERSION_TEMPLATE = "{{ ti.xcom_pull(task_ids='publish_model')['version'] }}"


def _registry(client, bucket: str, dataset: str):
    from mlops.registry import ModelRegistry

    return ModelRegistry(client, bucket, dataset)


class _PointerOperator(BaseOperator):
    """Shared by promote and rollback: asset events for the moved pointer."""

    def _emit_asset_event(self, context: Any, dataset: str, bucket: str, pointer) -> None:
        extra = {
            "version": pointer.version,
            "previous_version": pointer.previous_version,
            "sequence": pointer.sequence,
            "action": pointer.action,
        }
        common.emit_asset_event(self.outlets, context, production_model_asset(dataset, bucket), extra)


class PublishModelOperator(BaseOperator):
    """Publish a blessed candidate as the next immutable registry version.

    Reads ``blessing.json`` in the candidate prefix first: an unblessed candidate is
    not an error, the task logs the verdict and is skipped. ``force`` publishes it
    anyway (unless its behavioural checks failed) and needs a ``reason``; both are
    recorded in the manifest (``forced``, ``force_reason``) and the audit trail. A retry
    of the same run returns the version it already published.

    :param dataset: the dataset, which names the registered model (templated)
    :param candidate_prefix: the candidate's ``s3://.../candidates/<dataset>/<run>/`` URI with
        ``model.skops`` (templated)
    :param force: publish even if not blessed, e.g. ``"{{ params.force_promote }}"`` (templated)
    :param reason: why (recorded in the audit trail; the force reason when forced) (templated)
    :param bucket: registry bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields = ("dataset", "candidate_prefix", "force", "reason", "bucket")
    ui_color = "#e8f4ea"

    def __init__(
        self,
        *,
        dataset: str,
        candidate_prefix: str,
        force: bool | str = False,
        reason: str = "",
        bucket: str = DEFAULT_BUCKET,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.candidate_prefix = candidate_prefix
        self.force = force
        self.reason = reason
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        from mlops.registry import NotBlessedError

        with rendered_params(self):
            force = rendered_bool(self.force, name="force")
            reason = rendered_str(self.reason, default="")
        client = common.s3_client(self.aws_conn_id)
        actor, run, _ = common.who(context)
        with common.fail_fast_on_bad_input(self.log):
            try:
                result = _registry(client, self.bucket, self.dataset).publish(
                    candidate_uri=self.candidate_prefix,
                    run=run,
                    reason=reason,
                    force=force,
                    force_reason=reason,
                )
            except NotBlessedError as err:
                failed = err.blessing.failed if err.blessing else "no blessing.json"
                self.log.info(
                    "VERDICT: NOT BLESSED candidate=%s failed=%s -> not published",
                    self.candidate_prefix,
                    failed,
                )
                raise AirflowSkipException(str(err)) from err
        if result.forced:
            self.log.warning(
                "FORCED publish of an unblessed candidate by %s (reason: %s); audited", actor, reason
            )
        if result.created:
            self.log.info("wrote %s (model sha256 %s)", result.manifest_uri, result.model_sha256[:12])
        else:
            self.log.info(
                "already published by run %s as %s: not creating a duplicate", result.run_id, result.version
            )
        self.log.info(
            "VERDICT: PUBLISHED %s %s (%s)",
            self.dataset,
            result.version,
            "forced" if result.forced else "blessed",
        )
        return result.to_dict()


class PromoteModelOperator(_PointerOperator):
    """Point ``production`` at a published version with a compare-and-swap.

    By default the expected pointer ETag comes from the version's blessing
    (``baseline_pointer_etag``): if production moved since the evaluation, nothing is
    written and the task fails. The candidate is checked first (manifest, not retired,
    checksums, it loads, a smoke prediction). Declare ``production_model_alias()`` or the
    dataset's ``production_model_asset`` as outlet so scoring runs on the new model.

    :param dataset: the dataset, which names the registered model (templated)
    :param version: version to promote; defaults to the ``publish_model`` task's result (templated)
    :param expected_etag: override the pointer ETag to compare against (templated)
    :param force: promote even if not blessed (audited) (templated)
    :param reason: why (recorded in the pointer and the audit trail) (templated)
    :param alias: alias to move (templated)
    :param bucket: registry bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields = ("dataset", "version", "expected_etag", "force", "reason", "alias", "bucket")
    ui_color = "#d4edda"

    def __init__(
        self,
        *,
        dataset: str,
        version: str = PUBLISH_VERSION_TEMPLATE,
        expected_etag: str | None = None,
        force: bool | str = False,
        reason: str = "",
        alias: str = "production",
        bucket: str = DEFAULT_BUCKET,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.version = version
        self.expected_etag = expected_etag
        self.force = force
        self.reason = reason
        self.alias = alias
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        with rendered_params(self):
            expected_etag = rendered_str(self.expected_etag)
            force = rendered_bool(self.force, name="force")
            reason = rendered_str(self.reason, default="")
        client = common.s3_client(self.aws_conn_id)
        actor, run, request_id = common.who(context)
        reg = _registry(client, self.bucket, self.dataset)
        with common.fail_fast_on_bad_input(self.log):
            if expected_etag is None:
                pointer = reg.promote_blessed(
                    self.version,
                    reason=reason,
                    actor=actor,
                    force=force,
                    alias=self.alias,
                    request_id=request_id,
                    run=run,
                )
            else:
                pointer = reg.promote(
                    self.version,
                    expected_etag=expected_etag,
                    reason=reason or "promotion",
                    actor=actor,
                    alias=self.alias,
                    request_id=request_id,
                    run=run,
                )
        if pointer.forced:
            self.log.warning("FORCED promotion of an unblessed version (audited)")
        self.log.info(
            "%s: %s → %s (reason %s, by %s)",
            self.alias,
            pointer.previous_version or "none",
            pointer.version,
            pointer.reason,
            pointer.actor,
        )
        self._emit_asset_event(context, self.dataset, self.bucket, pointer)
        return pointer.to_dict()


class RollbackModelOperator(_PointerOperator):
    """Move ``production`` back to an earlier version (default: the pointer's ``previous_version``).

    The target is checked like a promotion, then the pointer is moved with a
    compare-and-swap and an audit event ``action: rollback`` is written. Artifacts are
    never copied or changed.

    :param dataset: the dataset, which names the registered model (templated)
    :param target_version: version to roll back to; empty means ``previous_version`` (templated)
    :param reason: why (at least 10 characters) (templated)
    :param alias: alias to move (templated)
    :param bucket: registry bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields = ("dataset", "target_version", "reason", "alias", "bucket")
    ui_color = "#fde2e1"

    def __init__(
        self,
        *,
        dataset: str,
        reason: str,
        target_version: str | None = None,
        alias: str = "production",
        bucket: str = DEFAULT_BUCKET,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.reason = reason
        self.target_version = target_version
        self.alias = alias
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        with rendered_params(self):
            target = rendered_str(self.target_version)
            reason = rendered_str(self.reason, default="")
        client = common.s3_client(self.aws_conn_id)
        actor, run, request_id = common.who(context)
        self.log.info("rollback target: %s", target or "previous_version of the pointer")
        with common.fail_fast_on_bad_input(self.log):
            pointer = _registry(client, self.bucket, self.dataset).rollback(
                target=target,
                reason=reason,
                actor=actor,
                alias=self.alias,
                request_id=request_id,
                run=run,
            )
        self.log.info(
            "%s: %s → %s (reason %s, by %s)",
            self.alias,
            pointer.previous_version,
            pointer.version,
            pointer.reason,
            pointer.actor,
        )
        self._emit_asset_event(context, self.dataset, self.bucket, pointer)
        return pointer.to_dict()


class RetireModelsOperator(BaseOperator):
    """Apply the retention policy of one model: tombstone old versions, delete long-retired artifacts.

    Never retired: what an alias points to and its ``previous_version``, the newest
    ``keep_last`` versions, anything younger than ``grace_days``. Manifest-less version
    folders (killed publishes) last written over a day ago are removed, with an audit event.

    :param dataset: the dataset, which names the registered model (templated)
    :param keep_last: newest versions to keep; empty means ``registry.keep_last`` of the config (templated)
    :param grace_days: grace period; empty means ``registry.grace_days`` of the config (templated)
    :param bucket: registry bucket (templated)
    :param aws_conn_id: Airflow connection for S3
    """

    template_fields = ("dataset", "keep_last", "grace_days", "bucket")
    ui_color = "#eeeeee"

    def __init__(
        self,
        *,
        dataset: str,
        keep_last: int | str | None = None,
        grace_days: int | str | None = None,
        bucket: str = DEFAULT_BUCKET,
        aws_conn_id: str = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.dataset = dataset
        self.keep_last = keep_last
        self.grace_days = grace_days
        self.bucket = bucket
        self.aws_conn_id = aws_conn_id

    def execute(self, context: Any) -> dict[str, Any]:
        with rendered_params(self):
            keep_last = rendered_int(self.keep_last, name="keep_last", minimum=1)
            grace_days = rendered_int(self.grace_days, name="grace_days", minimum=0)
        client = common.s3_client(self.aws_conn_id)
        actor, _, _ = common.who(context)
        with common.fail_fast_on_bad_input(self.log):
            policy = common.load_config(self.dataset).registry
            keep_last = policy.keep_last if keep_last is None else keep_last
            grace_days = policy.grace_days if grace_days is None else grace_days
            self.log.info(
                "retention policy for %s: keep_last=%d grace_days=%d", self.dataset, keep_last, grace_days
            )
            result = _registry(client, self.bucket, self.dataset).retire(
                keep_last=keep_last, grace_days=grace_days, actor=actor
            )
        for d in result.decisions:
            self.log.info("retention %s: %s (%s)", d["version"], d["decision"], d["reason"])
        self.log.info(
            "retired %s, deleted artifacts of %s, kept %s, removed abandoned publishes %s",
            result.retired or "none",
            result.purged or "none",
            result.kept or "none",
            result.orphans or "none",
        )
        return result.to_dict()

"""Artifacts of the model registry: the version manifest, the alias pointer, audit events, tombstones.

Layout under ``s3://<bucket>/models/<dataset>/`` (``dataset`` names the registered model;
there is no separate model name)::

    versions/v0007/<files>          the candidate's files (VERSION_FILES), each written create-only
    versions/v0007/manifest.json    VersionManifest, written LAST and create-only
    aliases/production.json         ProductionPointer, moved only by compare-and-swap
    audit/<event_id>.json           AuditEvent, one create-only object per event
    retired/v0007.json              Tombstone, create-only, written by retention
    checks/v0007.json               ModelCheck: the version's model passed a smoke prediction
                                    in a child process (scoring loads only checked versions)

Version ids are ``v`` + at least four digits (:func:`format_version`).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar

from mlops.artifacts.base import (
    Artifact,
    Record,
    check_choice,
    check_run,
    check_utc_iso,
    nested_map,
    nested_optional,
    utc_now_iso,
)
from mlops.artifacts.layout import validation_uri
from mlops.artifacts.monitoring import REFERENCE_PROFILE_FILE
from mlops.artifacts.scoring import FeatureSignature
from mlops.artifacts.training import (
    BLESSING_FILE,
    METRICS_FILE,
    MODEL_CARD_FILE,
    MODEL_FILE,
    TRAINING_FILE,
    Blessing,
    CandidateMetrics,
    ModelPlan,
    TrainingRecord,
)
from mlops.errors import ArtifactSchemaError

MANIFEST_FILE = "manifest.json"
PRODUCTION = "production"
#: Files a candidate may hold, copied into a version (``model.skops`` is required).
VERSION_FILES = (
    MODEL_FILE,
    TRAINING_FILE,
    METRICS_FILE,
    BLESSING_FILE,
    MODEL_CARD_FILE,
    REFERENCE_PROFILE_FILE,
)
#: ``orphan``: retention removed a manifest-less ``versions/vNNNN/`` folder (an abandoned publish).
AUDIT_ACTIONS = ("publish", "promote", "rollback", "retire", "purge", "orphan")
POINTER_ACTIONS = ("promote", "rollback")
VERSION_RE = re.compile(r"^v\d{4,}$")


def format_version(number: int) -> str:
    """``7`` -> ``"v0007"``."""
    return f"v{int(number):04d}"


def _check_version(owner: str, name: str, value: Any, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not isinstance(value, str) or not VERSION_RE.match(value):
        raise ArtifactSchemaError(
            f"The '{name}' field of {owner} must be a version id like v0007. Got {value!r} instead."
        )


# ---------------------------------------------------------------- URIs
def models_prefix(bucket: str, dataset: str) -> str:
    """``s3://<bucket>/models/<dataset>/``: everything the registry holds for one model."""
    return f"s3://{bucket}/models/{dataset}/"


def versions_prefix(bucket: str, dataset: str) -> str:
    return models_prefix(bucket, dataset) + "versions/"


def version_prefix(bucket: str, dataset: str, version: str) -> str:
    """``.../versions/v0007/`` (``version`` must already be canonical, see :func:`format_version`)."""
    _check_version("version_prefix", "version", version)
    return f"{versions_prefix(bucket, dataset)}{version}/"


def manifest_uri(bucket: str, dataset: str, version: str) -> str:
    return version_prefix(bucket, dataset, version) + MANIFEST_FILE


def aliases_prefix(bucket: str, dataset: str) -> str:
    return models_prefix(bucket, dataset) + "aliases/"


def alias_uri(bucket: str, dataset: str, alias: str) -> str:
    """``.../aliases/<alias>.json``."""
    return f"{aliases_prefix(bucket, dataset)}{alias}.json"


def production_pointer_uri(bucket: str, dataset: str) -> str:
    """``s3://<bucket>/models/<dataset>/aliases/production.json`` (the scoring DAG's Asset URI)."""
    return alias_uri(bucket, dataset, PRODUCTION)


def audit_prefix(bucket: str, dataset: str) -> str:
    return models_prefix(bucket, dataset) + "audit/"


def audit_uri(bucket: str, dataset: str, event_id: str) -> str:
    """``.../audit/<event_id>.json`` (see :attr:`AuditEvent.event_id`)."""
    return f"{audit_prefix(bucket, dataset)}{event_id}.json"


def retired_prefix(bucket: str, dataset: str) -> str:
    return models_prefix(bucket, dataset) + "retired/"


def tombstone_uri(bucket: str, dataset: str, version: str) -> str:
    """``.../retired/v0007.json``."""
    _check_version("tombstone_uri", "version", version)
    return f"{retired_prefix(bucket, dataset)}{version}.json"


def checks_prefix(bucket: str, dataset: str) -> str:
    return models_prefix(bucket, dataset) + "checks/"


def check_uri(bucket: str, dataset: str, version: str) -> str:
    """``.../checks/v0007.json`` (see :class:`ModelCheck`)."""
    _check_version("check_uri", "version", version)
    return f"{checks_prefix(bucket, dataset)}{version}.json"


# ---------------------------------------------------------------- manifest
@dataclasses.dataclass(frozen=True)
class ArtifactEntry(Record):
    """One file of a version: where, its sha256, size in bytes and S3 VersionId (the S3 key is in ``uri``)."""

    uri: str
    sha256: str
    size: int
    version_id: str | None


@dataclasses.dataclass(frozen=True)
class TrainingLineage(Record):
    """The training data of a version, flattened from its ``training.json`` (see :meth:`of`).

    ``data_uris``: every batch then every labels object; ``data_version_ids``: their S3
    VersionIds; ``row_count``: joined rows; ``data_hash`` (was ``content_hash``);
    ``window``: ``{start, end, window_days}``; ``split``: the split without its day lists.
    """

    data_uris: list[str]
    data_version_ids: dict[str, str | None]
    row_count: int
    data_hash: str
    window: dict[str, Any]
    split: dict[str, Any]
    days: list[str]
    validation_uris: list[str]

    @classmethod
    def of(cls, record: TrainingRecord) -> TrainingLineage:
        w, split = record.window, record.split.to_dict()
        return cls(
            data_uris=record.data_uris,
            data_version_ids=record.data_version_ids,
            row_count=sum(d.joined_rows for d in record.lineage),
            data_hash=record.data_hash,
            window={"start": w.start, "end": w.end, "window_days": w.window_days},
            split={k: v for k, v in split.items() if not isinstance(v, list)},
            days=[d.day for d in record.lineage],
            validation_uris=[d.validation_uri or validation_uri(d.batch_uri) for d in record.lineage],
        )


@dataclasses.dataclass(frozen=True)
class VersionManifest(Artifact):
    """``versions/vNNNN/manifest.json``: a complete, immutable version (written last, create-only).

    ``artifacts`` maps each file name in :data:`VERSION_FILES` that the candidate had to its
    :class:`ArtifactEntry`; ``model_sha256`` equals ``artifacts["model.skops"].sha256``.
    The training facts (``task``, ``model_plan``, ``params`` = the fitted estimator's
    params, ``best_params``, ``seed``, ``feature_signature``, ``training_data``) are copied
    from ``training.json``; ``metrics`` and ``blessing`` embed the candidate's artifacts
    (each with its own schema_version). ``forced``/``force_reason`` (was ``publish``)
    record a forced publish. ``code_version`` is ``{git_sha, source}``.
    """

    KIND: ClassVar[str] = "version_manifest"

    dataset: str
    version: str
    created_at: str
    candidate_uri: str
    run: dict[str, Any]
    artifacts: dict[str, ArtifactEntry]
    model_format: str
    model_sha256: str
    task: str | None
    model_plan: ModelPlan | None
    params: dict[str, Any] | None
    best_params: dict[str, Any] | None
    seed: int | None
    feature_signature: FeatureSignature | None
    training_data: TrainingLineage | None
    metrics: CandidateMetrics | None
    blessing: Blessing | None
    code_version: dict[str, str]
    libraries: dict[str, str]
    forced: bool
    force_reason: str

    def __post_init__(self) -> None:
        _check_version("version_manifest", "version", self.version)
        check_utc_iso("version_manifest", "created_at", self.created_at)
        check_run("version_manifest", self.run)
        model = self.artifacts.get(MODEL_FILE)
        if model is None or model.sha256 != self.model_sha256:
            raise ArtifactSchemaError(
                f"version_manifest {self.dataset} {self.version}: model_sha256 {self.model_sha256} must equal "
                f"artifacts[{MODEL_FILE!r}].sha256 ({model.sha256 if model else 'no such artifact'})."
            )

    @property
    def run_id(self) -> str:
        return self.run["run_id"]

    @property
    def estimator(self) -> str | None:
        return self.model_plan.estimator if self.model_plan else None

    @property
    def model_uri(self) -> str:
        return self.artifacts[MODEL_FILE].uri

    @property
    def blessed(self) -> bool:
        return bool(self.blessing and self.blessing.blessed)

    @property
    def holdout_metrics(self) -> dict[str, float]:
        """The performance baseline monitoring compares against (empty without metrics)."""
        return self.metrics.holdout_metrics if self.metrics else {}

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> VersionManifest:
        fields["artifacts"] = nested_map(ArtifactEntry, fields["artifacts"], source, "artifacts")
        fields["model_plan"] = nested_optional(ModelPlan, fields["model_plan"], source, "model_plan")
        fields["feature_signature"] = nested_optional(
            FeatureSignature, fields["feature_signature"], source, "feature_signature"
        )
        fields["training_data"] = nested_optional(
            TrainingLineage, fields["training_data"], source, "training_data"
        )
        fields["metrics"] = nested_optional(CandidateMetrics, fields["metrics"], source, "metrics")
        fields["blessing"] = nested_optional(Blessing, fields["blessing"], source, "blessing")
        return cls(**fields)


# ---------------------------------------------------------------- pointer
@dataclasses.dataclass(frozen=True)
class ProductionPointer(Artifact):
    """``aliases/<alias>.json``: which version an alias (``production``) points to.

    ``manifest_sha256`` is the sha256 of the target manifest's bytes (readers verify it);
    ``sequence`` counts changes of this alias from 1; ``updated_at`` was ``time``. The S3
    ETag and VersionId the pointer was read with are not stored in it: the registry keeps
    them beside the artifact it read.
    """

    KIND: ClassVar[str] = "production_pointer"

    dataset: str
    alias: str
    version: str
    manifest_sha256: str
    previous_version: str | None
    sequence: int
    action: str
    actor: str
    reason: str
    updated_at: str
    evaluation_id: str | None = None
    request_id: str | None = None
    forced: bool = False
    run: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_version("production_pointer", "version", self.version)
        _check_version("production_pointer", "previous_version", self.previous_version, optional=True)
        check_choice("production_pointer", "action", self.action, POINTER_ACTIONS)
        check_utc_iso("production_pointer", "updated_at", self.updated_at)
        if not isinstance(self.sequence, int) or self.sequence < 1:
            raise ArtifactSchemaError(
                f"The 'sequence' field of production_pointer must be an int >= 1. Got {self.sequence!r} instead."
            )

    @classmethod
    def new(cls, **fields: Any) -> ProductionPointer:
        """A pointer set now (``updated_at`` filled)."""
        return cls(**{"updated_at": utc_now_iso(), **fields})


# ---------------------------------------------------------------- audit and retention
@dataclasses.dataclass(frozen=True)
class AuditEvent(Artifact):
    """``audit/<event_id>.json``: one registry action, written create-only.

    Every event: ``dataset``, ``action`` (publish, promote, rollback, retire, purge),
    ``version`` (the version acted on; for an alias change the new target, formerly
    also ``to_version``), ``actor``, ``reason``, ``created_at`` (was ``time``). Alias
    changes add ``alias``, ``from_version``, ``sequence``, ``evaluation_id``,
    ``request_id``, ``pointer_etag`` and ``pointer_version_id`` (was
    ``pointer_s3_version_id``). ``blessed`` is set on publish, ``forced`` on publish and
    alias changes. ``details`` holds the action's numbers: ``keep_last``/``grace_days``
    (retire), ``deleted_objects`` (purge, orphan), ``last_written_at`` (orphan).
    """

    KIND: ClassVar[str] = "audit_event"

    dataset: str
    action: str
    version: str
    actor: str
    reason: str
    created_at: str
    alias: str | None = None
    from_version: str | None = None
    sequence: int | None = None
    evaluation_id: str | None = None
    request_id: str | None = None
    forced: bool | None = None
    blessed: bool | None = None
    run: dict[str, Any] = dataclasses.field(default_factory=dict)
    manifest_sha256: str | None = None
    pointer_etag: str | None = None
    pointer_version_id: str | None = None
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("audit_event", "action", self.action, AUDIT_ACTIONS)
        _check_version("audit_event", "version", self.version)
        _check_version("audit_event", "from_version", self.from_version, optional=True)
        check_utc_iso("audit_event", "created_at", self.created_at)
        if (self.action in POINTER_ACTIONS) != (self.alias is not None and self.sequence is not None):
            raise ArtifactSchemaError(
                f"audit_event {self.action} {self.version}: alias and sequence are required for promote and "
                f"rollback and absent otherwise. Got alias={self.alias!r}, sequence={self.sequence!r}."
            )

    @property
    def event_id(self) -> str:
        """The file stem: ``production-00000003`` for alias changes, ``publish-v0007`` otherwise."""
        if self.alias is not None and self.sequence is not None:
            return f"{self.alias}-{self.sequence:08d}"
        return f"{self.action}-{self.version}"

    @classmethod
    def new(cls, **fields: Any) -> AuditEvent:
        """An event happening now (``created_at`` filled)."""
        return cls(**{"created_at": utc_now_iso(), **fields})

    @classmethod
    def for_pointer(cls, pointer: ProductionPointer, **extra: Any) -> AuditEvent:
        """The audit event of an alias change (``pointer_etag``/``pointer_version_id`` via ``extra``)."""
        return cls(
            dataset=pointer.dataset,
            action=pointer.action,
            version=pointer.version,
            actor=pointer.actor,
            reason=pointer.reason,
            created_at=pointer.updated_at,
            alias=pointer.alias,
            from_version=pointer.previous_version,
            sequence=pointer.sequence,
            evaluation_id=pointer.evaluation_id,
            request_id=pointer.request_id,
            forced=pointer.forced,
            run=dict(pointer.run),
            manifest_sha256=pointer.manifest_sha256,
            **extra,
        )


@dataclasses.dataclass(frozen=True)
class Tombstone(Artifact):
    """``retired/vNNNN.json``: retention retired this version at ``retired_at`` (was ``time``)."""

    KIND: ClassVar[str] = "tombstone"

    dataset: str
    version: str
    retired_at: str
    actor: str
    reason: str

    def __post_init__(self) -> None:
        _check_version("tombstone", "version", self.version)
        check_utc_iso("tombstone", "retired_at", self.retired_at)


@dataclasses.dataclass(frozen=True)
class ModelCheck(Artifact):
    """``checks/vNNNN.json``: the model of a version loaded and predicted in a child process.

    Written by the registry after the smoke prediction passed in a subprocess (a crash or a
    hang there cannot take the worker down). ``model_sha256`` and ``manifest_sha256`` pin
    what was checked; ``libraries`` are the versions it ran with; ``rows`` the smoke input
    size and ``seconds`` how long the child took. Scoring loads only checked versions.
    """

    KIND: ClassVar[str] = "model_check"

    dataset: str
    version: str
    model_sha256: str
    manifest_sha256: str
    checked_at: str
    libraries: dict[str, str]
    rows: int
    seconds: float

    def __post_init__(self) -> None:
        _check_version("model_check", "version", self.version)
        check_utc_iso("model_check", "checked_at", self.checked_at)

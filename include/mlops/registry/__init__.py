"""A model registry on plain S3: immutable versions, atomic promotion, audit trail, retention.

Layout under ``s3://<bucket>/models/<dataset>/`` (the bucket must be versioned; see
:mod:`mlops.artifacts.registry`)::

    versions/v0007/model.skops          immutable artifacts, each written create-only
    versions/v0007/training.json        (plus metrics.json, blessing.json, model_card.html,
    versions/v0007/...                   reference_profile.json when the candidate has them)
    versions/v0007/manifest.json        VersionManifest, written LAST and create-only
    aliases/production.json             ProductionPointer, moved only by compare-and-swap
    audit/<event>.json                  AuditEvent, one create-only object per event
    retired/v0003.json                  Tombstone, create-only, written by retention
    checks/v0007.json                   ModelCheck: the model passed its smoke prediction in a child process

Modules, one responsibility each: :mod:`~mlops.registry.publish` (candidate -> version),
:mod:`~mlops.registry.pointer` (promote / rollback by CAS), :mod:`~mlops.registry.retention`,
:mod:`~mlops.registry.verify` (pre-promotion checks, auditing versions),
:mod:`~mlops.registry.smoke` (the smoke prediction, in a child process with a timeout),
:mod:`~mlops.registry.history` (audit trail + pointer versions). Reading a published model
is ground (:mod:`mlops.models`), shared with every other step.
"""

from mlops.registry.api import ModelRegistry, registry_summary
from mlops.registry.base import Pointer
from mlops.registry.pointer import (
    ANY_ETAG,
    CONFLICT_BACKOFF_SECONDS,
    CONFLICT_RETRIES,
    MIN_REASON_LENGTH,
    PendingChange,
    PointerConflictError,
    new_request_id,
)
from mlops.registry.publish import (
    NotBlessedError,
    PublishResult,
    code_version,
    library_versions,
)
from mlops.registry.retention import RetentionResult
from mlops.registry.smoke import SMOKE_TIMEOUT_SECONDS, check_in_child, smoke_frame, smoke_predict

__all__ = [
    "ANY_ETAG",
    "CONFLICT_BACKOFF_SECONDS",
    "CONFLICT_RETRIES",
    "MIN_REASON_LENGTH",
    "ModelRegistry",
    "NotBlessedError",
    "PendingChange",
    "Pointer",
    "PointerConflictError",
    "PublishResult",
    "RetentionResult",
    "SMOKE_TIMEOUT_SECONDS",
    "check_in_child",
    "code_version",
    "library_versions",
    "new_request_id",
    "registry_summary",
    "smoke_frame",
    "smoke_predict",
]

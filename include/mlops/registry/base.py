"""The registry of one model: where its objects live, the read side, and the audit writer.

Reading goes through the ground module :mod:`mlops.models` (the same code scoring, evaluation
and monitoring use), so the registry step keeps only the write side: publish, pointer moves,
retention and verification (the mixins in this package).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mlops import artifacts, models, storage
from mlops.artifacts import AuditEvent, Tombstone, VersionManifest
from mlops.artifacts.registry import check_uri
from mlops.errors import InputReadError, RegistryError
from mlops.registry.smoke import SMOKE_TIMEOUT_SECONDS

_DATASET_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _now() -> datetime:
    return datetime.now(UTC)


def strip_etag(etag: str | None) -> str | None:
    """``'"abc"'`` -> ``'abc'`` (S3 returns ETags quoted; the registry stores and compares them bare)."""
    return etag.strip().strip('"') if etag else None


@dataclass(frozen=True)
class Pointer(models.PointerState):
    """An alias pointer as read or written: the :class:`~mlops.artifacts.ProductionPointer`, its
    S3 ETag (unquoted) and VersionId.

    The artifact's fields read through: ``p.version`` is ``p.pointer.version``.
    """

    def __getattr__(self, name: str) -> Any:
        if name == "pointer" or name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.pointer, name)

    @classmethod
    def of(cls, state: models.PointerState | None) -> Pointer | None:
        if state is None:
            return None
        return cls(state.pointer, strip_etag(state.etag), state.s3_version_id)

    def to_dict(self) -> dict[str, Any]:
        """The pointer's fields plus ``etag`` and ``pointer_version_id`` (JSON-safe, for XCom)."""
        return {**self.pointer.to_dict(), "etag": self.etag, "pointer_version_id": self.s3_version_id}


class RegistryBase:
    """One model's registry under ``s3://<bucket>/models/<dataset>/`` (the bucket must be versioned).

    Parameters
    ----------
    client : boto3 S3 client
    bucket : str
        A versioned bucket.
    dataset : str
        The dataset, which names its registered model.
    clock : callable, optional
        Returns the current UTC datetime (tests inject one).
    sleep : callable, optional
        Used for the HTTP 409 backoff (tests inject a no-op).
    smoke_timeout : float, optional
        Seconds the smoke prediction's child process may take (see :mod:`mlops.registry.smoke`).
    """

    def __init__(
        self,
        client,
        bucket: str,
        dataset: str,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        smoke_timeout: float = SMOKE_TIMEOUT_SECONDS,
    ) -> None:
        if not _DATASET_RE.match(str(dataset)):
            raise RegistryError(
                f"The 'dataset' parameter of ModelRegistry must match {_DATASET_RE.pattern} (a dataset name). "
                f"Got {dataset!r} instead."
            )
        self.client = client
        self.bucket = bucket
        self.dataset = dataset
        self.clock = clock or _now
        self.sleep = sleep
        self.smoke_timeout = float(smoke_timeout)

    def now_iso(self) -> str:
        """The clock's time in the artifact format (``2026-02-17T03:00:00Z``)."""
        return artifacts.to_utc_iso(self.clock())

    # ------------------------------------------------------------ locations
    @property
    def models_prefix(self) -> str:
        return artifacts.models_prefix(self.bucket, self.dataset)

    def version_prefix(self, version: str) -> str:
        return artifacts.version_prefix(self.bucket, self.dataset, models.normalize_version(version))

    def manifest_uri(self, version: str) -> str:
        return artifacts.manifest_uri(self.bucket, self.dataset, models.normalize_version(version))

    def alias_uri(self, alias: str = artifacts.PRODUCTION) -> str:
        return artifacts.alias_uri(self.bucket, self.dataset, alias)

    def tombstone_uri(self, version: str) -> str:
        return artifacts.tombstone_uri(self.bucket, self.dataset, models.normalize_version(version))

    def check_uri(self, version: str) -> str:
        return check_uri(self.bucket, self.dataset, models.normalize_version(version))

    def audit_uri(self, event_id: str) -> str:
        return artifacts.audit_uri(self.bucket, self.dataset, event_id)

    # ------------------------------------------------------------ reading (through mlops.models)
    def versions(self) -> list[str]:
        """Complete versions (those with a manifest), oldest first: ``["v0001", "v0002", ...]``."""
        return models.list_versions(self.client, self.bucket, self.dataset)

    def manifest(self, version: str) -> VersionManifest:
        """The manifest of ``version`` (raises :class:`RegistryError` if it does not exist)."""
        return models.read_manifest(self.client, self.bucket, self.dataset, version)[0]

    def aliases(self) -> list[str]:
        base = artifacts.aliases_prefix(self.bucket, self.dataset)
        uris = storage.list_uris(self.client, base)
        return sorted(u[len(base) : -len(".json")] for u in uris if u.endswith(".json"))

    def pointer(self, alias: str = artifacts.PRODUCTION) -> Pointer | None:
        """The current pointer of ``alias`` with its ETag, or ``None`` if the alias was never set."""
        return Pointer.of(models.read_pointer(self.client, self.bucket, self.dataset, alias))

    def tombstone(self, version: str) -> Tombstone | None:
        try:
            return artifacts.read_artifact(self.client, self.tombstone_uri(version), Tombstone)
        except InputReadError:
            return None

    def is_retired(self, version: str) -> bool:
        return models.is_retired(self.client, self.bucket, self.dataset, version)

    def resolve(self, ref: str = artifacts.PRODUCTION) -> models.ResolvedVersion:
        """Pin an alias (``"production"``) or a version id (``"v0007"``) to its manifest."""
        return models.resolve(self.client, self.bucket, self.dataset, ref)

    def artifact_bytes(self, version: str, filename: str = artifacts.MODEL_FILE) -> bytes:
        """One artifact of ``version`` at its pinned S3 version, verified against the manifest's sha256."""
        return models.artifact_bytes(self.client, self.manifest(version), filename)

    def load_model(self, version: str) -> Any:
        """Load ``version``'s model; the bytes are checksum-verified before deserialization."""
        return models.load_model(self.client, self.manifest(version))

    # ------------------------------------------------------------ audit
    def _audit(self, event: AuditEvent) -> bool:
        """Write one create-only audit event; ``False`` if it already exists (a retried step)."""
        try:
            artifacts.write_artifact(self.client, self.audit_uri(event.event_id), event, if_none_match=True)
        except storage.PreconditionFailed:
            return False
        return True

    def audit_event(self, event_id: str) -> AuditEvent | None:
        """The audit event ``audit/<event_id>.json``, or ``None`` if it was never written."""
        try:
            return artifacts.read_artifact(self.client, self.audit_uri(event_id), AuditEvent)
        except InputReadError:
            return None

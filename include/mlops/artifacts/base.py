"""The artifact base class: frozen, JSON-safe, versioned, read and written through storage.

Every artifact a lifecycle step hands to another is a frozen dataclass deriving from
:class:`Artifact`, the way TFX components exchange typed artifacts. ``to_dict`` adds
``kind`` and ``schema_version``; ``from_dict`` accepts only the current schema version
and names the object and the version it found otherwise.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Self, TypeVar

from mlops import storage
from mlops.errors import ArtifactSchemaError

A = TypeVar("A", bound="Artifact")


def utc_now_iso() -> str:
    """The current UTC time to the second in the one artifact format: ``2026-02-17T03:00:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_utc_iso(value: datetime) -> str:
    """Format an aware (or naive UTC) datetime as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_day(value: date | str) -> date:
    """A day (``YYYY-MM-DD``) from a date or an ISO string; raises ``ValueError`` otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


@dataclasses.dataclass(frozen=True)
class Artifact:
    """Base for every typed artifact.

    Subclasses set ``KIND`` (a stable name such as ``"version_manifest"``) and
    ``SCHEMA_VERSION``; bump the version whenever a field changes meaning.
    """

    KIND: ClassVar[str] = "artifact"
    SCHEMA_VERSION: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["kind"] = self.KIND
        out["schema_version"] = self.SCHEMA_VERSION
        return out

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "") -> Self:
        """Build the artifact from its dict; raise :class:`ArtifactSchemaError` on any mismatch."""
        where = f" at {source}" if source else ""
        if not isinstance(data, dict):
            raise ArtifactSchemaError(
                f"{cls.KIND}{where} is a {type(data).__name__}, expected a JSON object; "
                "the file is not this artifact."
            )
        found = data.get("schema_version")
        if found != cls.SCHEMA_VERSION:
            raise ArtifactSchemaError(
                f"{cls.KIND}{where} has schema_version {found!r}; this code reads version "
                f"{cls.SCHEMA_VERSION}. Re-create it with this release or upgrade the reader."
            )
        kind = data.get("kind", cls.KIND)
        if kind != cls.KIND:
            raise ArtifactSchemaError(f"The object{where} is a {kind!r}, expected a {cls.KIND!r}.")
        names = {f.name for f in dataclasses.fields(cls)}
        required = {
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        }
        missing = sorted(required - data.keys())
        if missing:
            raise ArtifactSchemaError(
                f"{cls.KIND}{where} lacks the field(s) {missing}; the file is incomplete."
            )
        unknown = sorted(set(data) - names - {"kind", "schema_version"})
        if unknown:
            raise ArtifactSchemaError(
                f"{cls.KIND}{where} has unknown field(s) {unknown} for schema_version {found}."
            )
        return cls._from_fields({k: v for k, v in data.items() if k in names})

    @classmethod
    def _from_fields(cls, fields: dict[str, Any]) -> Self:
        """Hook for subclasses with nested artifacts; the default passes the fields through."""
        return cls(**fields)


def read_artifact(client: Any, uri: str, cls: type[A], version_id: str | None = None) -> A:
    """Read ``uri`` (optionally a pinned S3 object version) as an artifact of type ``cls``."""
    return cls.from_dict(storage.get_json(client, uri, version_id), source=uri)


def write_artifact(client: Any, uri: str, artifact: Artifact, **put_kwargs: Any) -> storage.PutResult:
    """Write an artifact as sorted, indented JSON (``put_kwargs`` go to :func:`storage.put_json`)."""
    return storage.put_json(client, uri, artifact.to_dict(), **put_kwargs)

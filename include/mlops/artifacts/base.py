"""The artifact base class: frozen, JSON-safe, versioned, read and written through storage.

Every artifact a lifecycle step hands to another is a frozen dataclass deriving from
:class:`Artifact`, the way TFX components exchange typed artifacts. ``to_dict`` adds
``kind`` and ``schema_version``; ``from_dict`` accepts only the current schema version
and names the object and the version it found otherwise.

Rules every artifact follows:

- ``from_dict`` is strict: every field must be present (``to_dict`` always writes all of
  them) and no unknown key is accepted. Adding, removing or re-meaning a field bumps
  ``SCHEMA_VERSION``.
- A typed part nested inside an artifact is a :class:`Record` (strict the same way, but
  without ``kind``/``schema_version``); an artifact may also nest another artifact (the
  version manifest embeds the blessing), which then keeps its own ``schema_version``.
- ``DERIVED`` names keys that ``to_dict`` adds for human and non-Python readers (a verdict
  line, the failed rules); they are computed from the fields, ignored on read, and
  recomputed by the properties of the same name.
- Timestamps are UTC ISO-8601 to the second with ``Z`` (:func:`utc_now_iso`), checked by
  :func:`check_utc_iso` at construction.
"""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import UTC, date, datetime
from typing import Any, ClassVar, Self, TypeVar

from mlops import storage
from mlops.errors import ArtifactSchemaError

A = TypeVar("A", bound="Artifact")
R = TypeVar("R", bound="Record")

_UTC_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def utc_now_iso() -> str:
    """The current UTC time to the second in the one artifact format: ``2026-02-17T03:00:00Z``."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def to_utc_iso(value: datetime) -> str:
    """Format an aware (or naive UTC) datetime as ``YYYY-MM-DDTHH:MM:SSZ``."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_utc_iso(value: str) -> datetime:
    """The aware UTC datetime of a ``YYYY-MM-DDTHH:MM:SSZ`` timestamp."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def parse_day(value: date | str) -> date:
    """A day (``YYYY-MM-DD``) from a date or an ISO string; raises ``ValueError`` otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def check_utc_iso(owner: str, name: str, value: Any, *, optional: bool = False) -> None:
    """Raise :class:`ArtifactSchemaError` unless ``value`` is a ``2026-02-17T03:00:00Z`` timestamp."""
    if optional and value is None:
        return
    if not isinstance(value, str) or not _UTC_ISO.match(value):
        raise ArtifactSchemaError(
            f"{owner}.{name} must be a UTC timestamp like 2026-02-17T03:00:00Z. Got {value!r} instead; "
            "build it with mlops.artifacts.utc_now_iso() or to_utc_iso()."
        )


def check_run(owner: str, run: Any) -> None:
    """Raise unless ``run`` (the run identity: dag_id, task_id, try_number ...) holds a ``run_id``."""
    if not isinstance(run, dict) or not isinstance(run.get("run_id"), str) or not run["run_id"]:
        raise ArtifactSchemaError(
            f"{owner}.run must be an object with a non-empty 'run_id' string. Got {run!r} instead."
        )


def check_choice(owner: str, name: str, value: Any, allowed: tuple[Any, ...]) -> None:
    """Raise :class:`ArtifactSchemaError` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ArtifactSchemaError(
            f"The '{name}' field of {owner} must be one of {list(allowed)}. Got {value!r} instead."
        )


def _plain(value: Any) -> Any:
    """JSON-safe copy: records and artifacts through their ``to_dict``, containers copied."""
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _where(source: str) -> str:
    return f" at {source}" if source else ""


def _checked_fields(cls: type[Record], data: Any, source: str, reserved: frozenset[str]) -> dict[str, Any]:
    """The dataclass fields of ``cls`` from ``data``; raise on a non-dict, missing or unknown keys."""
    what, where = cls.what(), _where(source)
    if not isinstance(data, dict):
        raise ArtifactSchemaError(
            f"{what}{where} is a {type(data).__name__}, expected a JSON object; the file is not this artifact."
        )
    names = [f.name for f in dataclasses.fields(cls)]
    missing = sorted(set(names) - data.keys())
    if missing:
        raise ArtifactSchemaError(f"{what}{where} lacks the field(s) {missing}; the file is incomplete.")
    unknown = sorted(set(data) - set(names) - set(cls.DERIVED) - reserved)
    if unknown:
        version = f" for schema_version {data['schema_version']}" if "schema_version" in reserved else ""
        raise ArtifactSchemaError(f"{what}{where} has unknown field(s) {unknown}{version}.")
    return {n: data[n] for n in names}


@dataclasses.dataclass(frozen=True)
class Record:
    """A typed part nested inside an artifact (a rule, a part file, a lineage day).

    Strict like :class:`Artifact` but without ``kind``/``schema_version``: its parent's
    version covers it.
    """

    DERIVED: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def what(cls) -> str:
        """How error messages name this type."""
        return cls.__name__

    def derived(self) -> dict[str, Any]:
        """The ``DERIVED`` keys ``to_dict`` adds (computed from the fields)."""
        return {}

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}
        out.update(_plain(self.derived()))
        return out

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "") -> Self:
        """Build it from its dict; raise :class:`ArtifactSchemaError` on a missing or unknown key."""
        return cls._from_fields(_checked_fields(cls, data, source, frozenset()), source=source)

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> Self:
        """Hook for types with nested records; the default passes the fields through."""
        return cls(**fields)


@dataclasses.dataclass(frozen=True)
class Artifact(Record):
    """Base for every typed artifact.

    Subclasses set ``KIND`` (a stable name such as ``"version_manifest"``) and
    ``SCHEMA_VERSION``; bump the version whenever a field changes meaning.
    """

    KIND: ClassVar[str] = "artifact"
    SCHEMA_VERSION: ClassVar[int] = 1

    @classmethod
    def what(cls) -> str:
        return cls.KIND

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["kind"] = self.KIND
        out["schema_version"] = self.SCHEMA_VERSION
        return out

    def to_json_bytes(self) -> bytes:
        """The exact bytes :func:`write_artifact` stores (hash these for a manifest sha256)."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=str).encode()

    @classmethod
    def from_json_bytes(cls, data: bytes, *, source: str = "") -> Self:
        """Parse stored bytes; non-JSON raises :class:`ArtifactSchemaError` naming ``source``."""
        try:
            parsed = json.loads(data)
        except ValueError as err:
            raise ArtifactSchemaError(
                f"{cls.KIND}{_where(source)} is not JSON ({err}); the file is corrupt or not this artifact."
            ) from None
        return cls.from_dict(parsed, source=source)

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "") -> Self:
        """Build the artifact from its dict; raise :class:`ArtifactSchemaError` on any mismatch."""
        where = _where(source)
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
        fields = _checked_fields(cls, data, source, frozenset({"kind", "schema_version"}))
        return cls._from_fields(fields, source=source)


# ---------------------------------------------------------------- nested parts (for _from_fields)
def nested(cls: type[R], value: Any, source: str, path: str) -> R:
    """``value`` (a dict, or already a ``cls``) as ``cls``; errors name ``source`` and the field path."""
    if isinstance(value, cls):
        return value
    return cls.from_dict(value, source=f"{source or '<dict>'} field {path}")


def nested_optional(cls: type[R], value: Any, source: str, path: str) -> R | None:
    return None if value is None else nested(cls, value, source, path)


def nested_list(cls: type[R], values: Any, source: str, path: str) -> list[R]:
    if not isinstance(values, list | tuple):
        raise ArtifactSchemaError(
            f"Field {path}{_where(source)} is a {type(values).__name__}, expected a list of {cls.what()}."
        )
    return [nested(cls, v, source, f"{path}[{i}]") for i, v in enumerate(values)]


def nested_map(cls: type[R], values: Any, source: str, path: str) -> dict[str, R]:
    if not isinstance(values, dict):
        raise ArtifactSchemaError(
            f"Field {path}{_where(source)} is a {type(values).__name__}, expected an object of {cls.what()}."
        )
    return {str(k): nested(cls, v, source, f"{path}.{k}") for k, v in values.items()}


# ---------------------------------------------------------------- S3
def read_artifact(client: Any, uri: str, cls: type[A], version_id: str | None = None) -> A:
    """Read ``uri`` (optionally a pinned S3 object version) as an artifact of type ``cls``."""
    return cls.from_json_bytes(storage.get_bytes(client, uri, version_id), source=uri)


def write_artifact(client: Any, uri: str, artifact: Artifact, **put_kwargs: Any) -> storage.PutResult:
    """Write an artifact as sorted, indented JSON (``put_kwargs`` go to :func:`storage.put_bytes`).

    The bytes are :meth:`Artifact.to_json_bytes`, so a sha256 taken before writing matches the object.
    """
    return storage.put_bytes(
        client, uri, artifact.to_json_bytes(), content_type="application/json", **put_kwargs
    )

"""The models view: every registered model, its versions, pointer history, audit trail and diffs.

Read-only, through :mod:`mlops.storage`, :mod:`mlops.models` and the typed artifacts of
:mod:`mlops.artifacts`. Nothing here writes to S3 or imports a lifecycle step; moving a
pointer stays a DAG run (``mlops_rollback``).

The pointer history is read from the pointer object itself: every S3 version of
``aliases/production.json`` is one move, joined by ``sequence`` with the audit trail, so a
move that was never audited (or an audited move whose pointer version is gone) shows up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlops import artifacts, storage
from mlops import models as published
from mlops.artifacts import AuditEvent, ProductionPointer, Tombstone
from mlops.artifacts.nightly import HistoryRecord
from mlops.errors import ArtifactSchemaError, ConfigError, InputReadError, RegistryError
from mlops.tracking import paths, records
from mlops.tracking.reading import read_optional
from mlops.tracking.records import NightInfo, PointerMove, VersionInfo

#: Pointer versions read per model page (older moves come from the audit trail alone).
MAX_POINTER_VERSIONS = 100


@dataclass(frozen=True)
class ModelSummary:
    """One row of the models list."""

    dataset: str
    versions: int
    latest_version: str | None
    production: ProductionPointer | None
    production_version: VersionInfo | None
    monitoring: NightInfo | None
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        pv = self.production_version
        return {
            "dataset": self.dataset,
            "versions": self.versions,
            "latest_version": self.latest_version,
            "production": self.production.to_dict() if self.production else None,
            "production_metrics": pv.metrics if pv else None,
            "primary_metric": pv.primary_metric if pv else None,
            "monitoring": self.monitoring.to_dict() if self.monitoring else None,
            "problems": list(self.problems),
        }


@dataclass(frozen=True)
class ModelDetail:
    """Everything the model page shows. ``problems`` name files that could not be read as their artifact."""

    dataset: str
    versions: list[VersionInfo]
    production: ProductionPointer | None
    pointer_history: list[PointerMove]
    audit: list[AuditEvent]
    nights: list[NightInfo] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def version(self, ref: str) -> VersionInfo:
        try:
            wanted = published.normalize_version(ref)
        except RegistryError:
            raise ConfigError(f"The 'version' parameter must look like v0007. Got {ref!r} instead.") from None
        for v in self.versions:
            if v.version == wanted:
                return v
        raise InputReadError(
            f"Model {self.dataset!r} has no version {wanted}; known versions: "
            f"{[v.version for v in self.versions] or 'none'}."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "production": self.production.to_dict() if self.production else None,
            "versions": [v.to_dict() for v in self.versions],
            "pointer_history": [m.to_dict() for m in self.pointer_history],
            "audit": [e.to_dict() for e in self.audit],
            "monitoring": [n.to_dict() for n in self.nights],
            "problems": list(self.problems),
        }


# ---------------------------------------------------------------- listing
def check_dataset(dataset: str) -> str:
    if not paths.NAME_RE.match(str(dataset)):
        raise ConfigError(
            f"The 'dataset' parameter must be a model name matching {paths.NAME_RE.pattern}. "
            f"Got {dataset!r} instead."
        )
    return dataset


def _registry_index(client, bucket: str) -> dict[str, dict[str, set[str]]]:
    """``{dataset: {"versions": {complete versions}, "aliases": {...}}}`` from one listing."""
    out: dict[str, dict[str, set[str]]] = {}
    for uri in storage.list_uris(client, paths.models_root(bucket)):
        entry = paths.registry_entry(bucket, uri)
        if entry:
            dataset, kind, ident = entry
            out.setdefault(dataset, {"version": set(), "alias": set()})[kind].add(ident)
    return out


def model_names(client, bucket: str) -> list[str]:
    """Every model that has at least one complete version or an alias."""
    return sorted(_registry_index(client, bucket))


def read_version(client, bucket: str, dataset: str, version: str, problems: list[str]) -> VersionInfo | None:
    """One version (with its tombstone if retired); ``None`` (and a problem) if unreadable."""
    try:
        manifest, _ = published.read_manifest(client, bucket, dataset, version)
    except (RegistryError, ArtifactSchemaError) as err:
        problems.append(str(err))
        return None
    tomb = read_optional(
        client, artifacts.tombstone_uri(bucket, dataset, manifest.version), Tombstone, problems
    )
    return VersionInfo(manifest, tomb)


def production_pointer(client, bucket: str, dataset: str, problems: list[str]) -> ProductionPointer | None:
    """The current production pointer, or ``None`` (never set, or unreadable: then a problem)."""
    try:
        state = published.read_pointer(client, bucket, dataset)
    except ArtifactSchemaError as err:
        problems.append(str(err))
        return None
    return state.pointer if state else None


def pointer_versions(
    client, bucket: str, dataset: str, problems: list[str], *, limit: int = MAX_POINTER_VERSIONS
) -> tuple[list[tuple[ProductionPointer, str]], bool]:
    """``(pointer, S3 VersionId)`` of the newest ``limit`` versions of the production pointer
    (newest first), and whether that is all of them.

    Empty when the pointer was never set or its latest version is a delete marker.
    """
    uri = artifacts.production_pointer_uri(bucket, dataset)
    found = [v for v in storage.list_versions(client, uri) if v.uri == uri]
    if not found or found[0].is_delete_marker:
        return [], True
    kept = [v for v in found if not v.is_delete_marker]
    out = []
    for v in kept[:limit]:
        pointer = read_optional(client, uri, ProductionPointer, problems, version_id=v.version_id)
        if pointer is not None:
            out.append((pointer, v.version_id))
    return out, len(kept) <= limit


def audit_trail(client, bucket: str, dataset: str, problems: list[str]) -> list[AuditEvent]:
    """Every audit event of ``dataset``, oldest first."""
    prefix = artifacts.audit_prefix(bucket, dataset)
    events = [
        read_optional(client, uri, AuditEvent, problems)
        for uri in storage.list_uris(client, prefix)
        if uri.endswith(".json")
    ]
    return sorted((e for e in events if e is not None), key=lambda e: (e.created_at, e.event_id))


def nights(
    client, bucket: str, dataset: str, last: int = 14, problems: list[str] | None = None
) -> list[NightInfo]:
    """The last ``last`` monitored nights of ``dataset``, newest first."""
    problems = [] if problems is None else problems
    prefix = artifacts.history_prefix(bucket, dataset)
    days = [d for d in (paths.day_of(prefix, u) for u in storage.list_uris(client, prefix)) if d]
    out = []
    for day in sorted(days, reverse=True)[:last]:
        record = read_optional(client, artifacts.history_uri(bucket, dataset, day), HistoryRecord, problems)
        if record is not None:
            report = artifacts.report_uri(bucket, dataset, day)
            out.append(NightInfo(record, report if storage.exists(client, report) else None))
    return out


def list_models(client, bucket: str) -> list[ModelSummary]:
    """Every registered model with its production version and latest monitoring verdict."""
    out = []
    for dataset, keys in sorted(_registry_index(client, bucket).items()):
        problems: list[str] = []
        versions = sorted(keys["version"], key=published.version_number)
        pointer = (
            production_pointer(client, bucket, dataset, problems)
            if artifacts.PRODUCTION in keys["alias"]
            else None
        )
        prod = read_version(client, bucket, dataset, pointer.version, problems) if pointer else None
        latest = nights(client, bucket, dataset, last=1, problems=problems)
        out.append(
            ModelSummary(
                dataset=dataset,
                versions=len(versions),
                latest_version=versions[-1] if versions else None,
                production=pointer,
                production_version=prod,
                monitoring=latest[0] if latest else None,
                problems=problems,
            )
        )
    return out


def model_detail(client, bucket: str, dataset: str, *, last_nights: int = 14) -> ModelDetail:
    """The model page: versions (oldest first), production and its history, audit trail, recent nights."""
    check_dataset(dataset)
    index = _registry_index(client, bucket)
    if dataset not in index:
        raise InputReadError(
            f"No registered model {dataset!r} under {artifacts.models_prefix(bucket, dataset)}; "
            f"known models: {sorted(index) or 'none'}."
        )
    problems: list[str] = []
    ids = sorted(index[dataset]["version"], key=published.version_number)
    versions = [read_version(client, bucket, dataset, v, problems) for v in ids]
    audit = audit_trail(client, bucket, dataset, problems)
    pointers, complete = pointer_versions(client, bucket, dataset, problems)
    history = records.pointer_history(pointers, audit, complete=complete)
    problems += [f"production move #{m.sequence} ({m.version}): {m.problem}" for m in history if m.problem]
    return ModelDetail(
        dataset=dataset,
        versions=[v for v in versions if v is not None],
        production=pointers[0][0] if pointers else production_pointer(client, bucket, dataset, problems),
        pointer_history=history,
        audit=audit,
        nights=nights(client, bucket, dataset, last=last_nights, problems=problems) if last_nights else [],
        problems=problems,
    )


def diff_versions(detail: ModelDetail, a: str, b: str) -> records.Comparison:
    """Side-by-side diff of two versions: params, metrics, data window, library versions, code."""
    va, vb = detail.version(a), detail.version(b)
    return records.side_by_side([va.comparable(), vb.comparable()], [va.version, vb.version])

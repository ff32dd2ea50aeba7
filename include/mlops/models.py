"""Published models, read side: resolve a version or alias and load its verified model.

The registry step writes versions and moves pointers; every other step that *uses* a
published model (evaluation's champion, scoring, monitoring's reference) reads it here,
through the typed artifacts, so no step imports the registry step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlops import serialization, storage
from mlops.artifacts import registry as layout
from mlops.artifacts.registry import ProductionPointer, VersionManifest
from mlops.errors import InputReadError, IntegrityError, RegistryError

_VERSION_RE = re.compile(r"^\s*v?0*(\d+)\s*$", re.IGNORECASE)


def version_number(ref: str) -> int:
    """``"v0007"``, ``"v7"`` or ``"7"`` -> ``7``; raises :class:`RegistryError` for anything else."""
    match = _VERSION_RE.match(str(ref))
    if not match or int(match.group(1)) < 1:
        raise RegistryError(f"{ref!r} is not a version id; use the form v0007 (or the alias 'production').")
    return int(match.group(1))


def normalize_version(ref: str) -> str:
    """``"v7"`` -> ``"v0007"``."""
    return layout.format_version(version_number(ref))


def is_version_ref(ref: Any) -> bool:
    return bool(_VERSION_RE.match(str(ref)))


@dataclass(frozen=True)
class PointerState:
    """A pointer as read, with the S3 ETag and VersionId needed for a compare-and-swap."""

    pointer: ProductionPointer
    etag: str | None
    s3_version_id: str | None


@dataclass(frozen=True)
class ResolvedVersion:
    """A version pinned for use: its manifest, the manifest's sha256 and the pointer it came through."""

    dataset: str
    version: str
    manifest: VersionManifest
    manifest_sha256: str
    pointer: PointerState | None = None


def read_pointer(client: Any, bucket: str, dataset: str, alias: str = layout.PRODUCTION) -> PointerState | None:
    """The current pointer of ``alias``, or ``None`` if it was never set."""
    uri = layout.alias_uri(bucket, dataset, alias)
    try:
        data, head = storage.get_object(client, uri)
    except InputReadError:
        return None
    pointer = ProductionPointer.from_json_bytes(data, source=uri)
    etag = head.get("ETag")
    return PointerState(pointer, etag.strip('"') if etag else None, head.get("VersionId"))


def read_manifest(client: Any, bucket: str, dataset: str, version: str) -> tuple[VersionManifest, str]:
    """``(manifest, sha256 of its bytes)``; a missing version names the known ones."""
    v = normalize_version(version)
    uri = layout.manifest_uri(bucket, dataset, v)
    try:
        data = storage.get_bytes(client, uri)
    except InputReadError as err:
        known = list_versions(client, bucket, dataset)
        raise RegistryError(
            f"Model {dataset!r} has no version {v} (no {uri}); known versions: {known or 'none'}."
        ) from err
    return VersionManifest.from_json_bytes(data, source=uri), serialization.sha256_hex(data)


def list_versions(client: Any, bucket: str, dataset: str) -> list[str]:
    """Complete versions (those with a manifest), oldest first."""
    base = layout.versions_prefix(bucket, dataset)
    found = []
    for uri in storage.list_uris(client, base):
        head, _, name = uri[len(base) :].partition("/")
        if name == layout.MANIFEST_FILE and is_version_ref(head):
            found.append(normalize_version(head))
    return sorted(set(found), key=version_number)


def is_retired(client: Any, bucket: str, dataset: str, version: str) -> bool:
    return storage.exists(client, layout.tombstone_uri(bucket, dataset, normalize_version(version)))


def resolve(client: Any, bucket: str, dataset: str, ref: str = layout.PRODUCTION) -> ResolvedVersion:
    """Pin a version id (``"v0007"``) or an alias (``"production"``) to a manifest.

    Through an alias the manifest's sha256 is checked against the one the pointer recorded.
    """
    if is_version_ref(ref):
        manifest, sha = read_manifest(client, bucket, dataset, ref)
        return ResolvedVersion(dataset, manifest.version, manifest, sha)
    state = read_pointer(client, bucket, dataset, ref)
    if state is None:
        raise RegistryError(
            f"Model {dataset!r} has no {ref!r} alias yet ({layout.alias_uri(bucket, dataset, ref)} does not "
            "exist); promote a version first, or pass an explicit version such as v0001."
        )
    manifest, sha = read_manifest(client, bucket, dataset, state.pointer.version)
    if state.pointer.manifest_sha256 and sha != state.pointer.manifest_sha256:
        raise IntegrityError(
            f"Manifest of {dataset} {state.pointer.version} has sha256 {sha}, but the {ref!r} pointer recorded "
            f"{state.pointer.manifest_sha256}: the manifest was changed after promotion. Do not use it; "
            "roll back to a verified version."
        )
    return ResolvedVersion(dataset, manifest.version, manifest, sha, state)


def artifact_bytes(client: Any, manifest: VersionManifest, filename: str) -> bytes:
    """One artifact of a version, read at its pinned S3 version and verified against the manifest."""
    entry = manifest.artifacts.get(filename)
    if entry is None:
        raise RegistryError(
            f"{manifest.dataset} {manifest.version} has no artifact {filename!r}; "
            f"it has {sorted(manifest.artifacts)}."
        )
    try:
        data = storage.get_bytes(client, entry.uri, entry.version_id)
    except InputReadError as err:
        raise RegistryError(
            f"Artifact {entry.uri} of {manifest.dataset} {manifest.version} is missing "
            "(retired and purged by retention?); pick another version."
        ) from err
    serialization.verify_sha256(data, entry.sha256, where=entry.uri)
    return data


def load_model(client: Any, manifest: VersionManifest) -> Any:
    """The version's estimator, loaded through verified skops after a sha256 check."""
    from mlops.artifacts.training import MODEL_FILE

    data = artifact_bytes(client, manifest, MODEL_FILE)
    entry = manifest.artifacts[MODEL_FILE]
    return serialization.load_model(data, expected_sha256=entry.sha256, where=entry.uri)

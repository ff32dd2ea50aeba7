"""Verify: the checks a version must pass before an alias may point at it, and auditing versions.

Before a promotion or a rollback (:meth:`VerifyMixin.check_candidate`): the manifest exists,
there is no tombstone, every artifact at its pinned S3 version matches its sha256 and the
object now at its key is still the published one, and the model loads and predicts the
candidate's smoke input in a child process (:mod:`mlops.registry.smoke`). A pass is recorded
as a :class:`~mlops.artifacts.registry.ModelCheck` (``checks/vNNNN.json``); scoring loads only
checked versions, and a later move to the same bytes with the same libraries reuses it.

:meth:`VerifyMixin.verify` audits published versions: every artifact's bytes against the
manifest, every create-only key (the manifest and each artifact) has exactly one S3 version,
and the manifest's sha256 is the one the publish audit event, the alias pointers and the
alias audit events recorded. Each problem names the object and the mismatch.
"""

from __future__ import annotations

from typing import Any

from mlops import artifacts, models, serialization, storage
from mlops.artifacts import ArtifactEntry, AuditEvent, TrainingRecord, VersionManifest
from mlops.artifacts.registry import ModelCheck
from mlops.errors import RegistryError
from mlops.registry import smoke
from mlops.registry.publish import library_versions


def _short(sha: str | None) -> str:
    return f"{sha[:12]}…" if sha else "none"


def _key_versions(client: Any, uri: str) -> tuple[list[storage.ObjectVersion], int]:
    """``(object versions newest first, delete markers)`` of exactly the key of ``uri``."""
    entries = [v for v in storage.list_versions(client, uri) if v.uri == uri]
    return [v for v in entries if not v.is_delete_marker], sum(v.is_delete_marker for v in entries)


def _artifact_row(
    client: Any, name: str, entry: ArtifactEntry, expected_uri: str, retired: bool
) -> dict[str, Any]:
    """One artifact of :meth:`VerifyMixin.verify`: its pinned bytes, and its key's S3 versions."""
    row: dict[str, Any] = {"file": name, "uri": entry.uri, "ok": True, "problem": None}
    problems: list[str] = []
    if entry.uri != expected_uri:
        problems.append(f"manifest points it at {entry.uri}, not at its own key {expected_uri}")
    versions, markers = _key_versions(client, entry.uri)
    if not versions and not markers:
        if retired:
            return {**row, "problem": "purged"}
        return {**row, "ok": False, "problem": f"{entry.uri} is missing (no S3 version)"}
    pinned = next((v for v in versions if v.version_id == entry.version_id), None)
    if pinned is None:
        problems.append(f"pinned S3 version {entry.version_id} of {entry.uri} is gone")
    else:
        data = storage.get_bytes(client, entry.uri, pinned.version_id)
        actual = serialization.sha256_hex(data)
        row.update(sha256=actual, size=len(data))
        if actual != entry.sha256:
            problems.append(
                f"{entry.uri} sha256 {_short(actual)} != manifest {_short(entry.sha256)} (pinned version)"
            )
    if len(versions) != 1 or markers:
        latest = versions[0] if versions else None
        now = "deleted (delete marker)"
        if latest is not None and latest.version_id != entry.version_id:
            current = serialization.sha256_hex(storage.get_bytes(client, entry.uri, latest.version_id))
            same = "the same bytes" if current == entry.sha256 else f"sha256 {_short(current)}"
            now = f"now {latest.version_id} with {same}"
        elif latest is not None:
            now = "the pinned version is current"
        problems.append(
            f"{entry.uri} has {len(versions)} S3 versions and {markers} delete markers (create-only key: "
            f"expected exactly 1): rewritten after publishing; {now}"
        )
    if problems:
        row.update(ok=False, problem="; ".join(problems))
    return row


class VerifyMixin:
    """``check_candidate`` (before a pointer move) and ``verify`` (audit published versions)."""

    def _check_live_object(self, manifest: VersionManifest, entry: ArtifactEntry) -> None:
        """Refuse a version whose artifact key was deleted or overwritten with other bytes."""
        head = storage.head(self.client, entry.uri)
        if head is None:
            raise RegistryError(
                f"Artifact {entry.uri} of {self.dataset} {manifest.version} was deleted (no object at its key); "
                "an alias cannot point at it. Pick another version."
            )
        if entry.version_id and head.get("VersionId") == entry.version_id:
            return
        serialization.verify_sha256(storage.get_bytes(self.client, entry.uri), entry.sha256, where=entry.uri)

    def check_candidate(self, version: str) -> tuple[VersionManifest, str]:
        """Everything a version must pass before an alias may point at it (module docstring).

        Returns ``(manifest, manifest_sha256)``. Raises :class:`RegistryError` (retired, missing
        artifact, smoke prediction crashed, hung or failed) or :class:`IntegrityError`.
        """
        v = models.normalize_version(version)
        manifest, manifest_sha = models.read_manifest(self.client, self.bucket, self.dataset, v)
        tomb = self.tombstone(v)
        if tomb is not None:
            raise RegistryError(
                f"{self.dataset} {v} was retired at {tomb.retired_at} by {tomb.actor} "
                f"({self.tombstone_uri(v)}); an alias cannot point at a retired version. Pick another version."
            )
        blobs = {}
        for name, entry in sorted(manifest.artifacts.items()):
            blobs[name] = models.artifact_bytes(self.client, manifest, name)
            self._check_live_object(manifest, entry)
        training = None
        if artifacts.TRAINING_FILE in blobs:
            uri = manifest.artifacts[artifacts.TRAINING_FILE].uri
            training = TrainingRecord.from_json_bytes(blobs[artifacts.TRAINING_FILE], source=uri)
        self.smoke_check(manifest, manifest_sha, blobs[artifacts.MODEL_FILE], training)
        return manifest, manifest_sha

    def smoke_check(
        self,
        manifest: VersionManifest,
        manifest_sha: str,
        model_bytes: bytes,
        training: TrainingRecord | None,
    ) -> ModelCheck:
        """Load and predict in a child process, then record the pass (``checks/vNNNN.json``).

        A record for the same model and manifest bytes made with the same library versions
        is reused: the child already ran this exact check.
        """
        libraries = library_versions()
        done = models.read_check(self.client, self.bucket, self.dataset, manifest.version)
        if done is not None and (done.model_sha256, done.manifest_sha256, done.libraries) == (
            manifest.model_sha256,
            manifest_sha,
            libraries,
        ):
            return done
        entry = manifest.artifacts[artifacts.MODEL_FILE]
        result = smoke.check_in_child(
            model_bytes,
            sha256=entry.sha256,
            where=entry.uri,
            signature=manifest.feature_signature,
            rows=training.canned_rows if training else None,
            timeout=self.smoke_timeout,
        )
        check = ModelCheck(
            dataset=self.dataset,
            version=manifest.version,
            model_sha256=manifest.model_sha256,
            manifest_sha256=manifest_sha,
            checked_at=self.now_iso(),
            libraries=libraries,
            rows=int(result["rows"]),
            seconds=float(result["seconds"]),
        )
        artifacts.write_artifact(self.client, self.check_uri(manifest.version), check)
        return check

    def _manifest_problems(
        self,
        v: str,
        manifest: VersionManifest,
        sha: str,
        events: dict[str, AuditEvent],
        pointers: list[Any],
    ) -> list[str]:
        """The manifest's own checks: one S3 version, and the sha256 every record of it holds."""
        uri = self.manifest_uri(v)
        problems = []
        if (manifest.dataset, manifest.version) != (self.dataset, v):
            problems.append(f"{uri} describes {manifest.dataset} {manifest.version}, not {self.dataset} {v}")
        versions, markers = _key_versions(self.client, uri)
        if len(versions) != 1 or markers:
            first = serialization.sha256_hex(storage.get_bytes(self.client, uri, versions[-1].version_id))
            problems.append(
                f"{uri} has {len(versions)} S3 versions and {markers} delete markers (create-only: expected "
                f"exactly 1): it was rewritten; first version sha256 {_short(first)}, now {_short(sha)}"
            )
        published = events.get(f"publish-{v}")
        if published is None:
            problems.append(f"{self.audit_uri('publish-' + v)} is missing: no publish audit event for {v}")
        elif published.manifest_sha256 != sha:
            problems.append(
                f"{uri} sha256 {_short(sha)} != {_short(published.manifest_sha256)} recorded by the publish "
                f"audit event {self.audit_uri(published.event_id)}"
            )
        for p in pointers:
            if p.version == v and p.manifest_sha256 != sha:
                problems.append(
                    f"{uri} sha256 {_short(sha)} != {_short(p.manifest_sha256)} recorded by the {p.alias!r} "
                    f"pointer {self.alias_uri(p.alias)}"
                )
        for event in events.values():
            moved_here = event.alias is not None and event.version == v and event.manifest_sha256
            if moved_here and event.manifest_sha256 != sha:
                problems.append(
                    f"{uri} sha256 {_short(sha)} != {_short(event.manifest_sha256)} recorded by the "
                    f"{event.action} audit event {self.audit_uri(event.event_id)}"
                )
        return problems

    def verify(self, version: str | None = None) -> list[dict[str, Any]]:
        """Audit one version (or all) against its manifest and the records of it (module docstring).

        Per version: ``status`` ``ok``, ``MISMATCH`` or ``purged`` (retired, and retention
        deleted its artifacts), ``problems`` (each naming the object and the mismatch) and one
        row per artifact (``file``, ``uri``, ``ok``, ``sha256``, ``size``, ``problem``).
        """
        targets = [models.normalize_version(version)] if version else self.versions()
        events = {e.event_id: e for e in self.audit_events()}
        pointers = [p for p in (self.pointer(alias) for alias in self.aliases()) if p is not None]
        out = []
        for v in targets:
            manifest, sha = models.read_manifest(self.client, self.bucket, self.dataset, v)
            retired = self.is_retired(v)
            prefix = self.version_prefix(v)
            arts = [
                _artifact_row(self.client, name, entry, prefix + name, retired)
                for name, entry in sorted(manifest.artifacts.items())
            ]
            problems = self._manifest_problems(v, manifest, sha, events, pointers)
            problems += [f"{a['file']}: {a['problem']}" for a in arts if not a["ok"]]
            ok = not problems
            purged = retired and any(a["problem"] == "purged" for a in arts)
            status = "MISMATCH" if not ok else ("purged" if purged else "ok")
            out.append(
                {
                    "version": v,
                    "ok": ok,
                    "status": status,
                    "retired": retired,
                    "manifest_sha256": sha,
                    "problems": problems,
                    "artifacts": arts,
                }
            )
        return out

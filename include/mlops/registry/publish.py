"""Publish: copy a blessed candidate into the next immutable version; the manifest is written last.

Version ids are monotonic (``v0001``, ``v0002`` ...). A publisher claims a number by writing
the candidate's files and then the manifest with ``If-None-Match: *``; on HTTP 412 the number
is taken and it tries the next one, so concurrent publishers never collide. Every file carries
the publishing run id and the model sha256 in its S3 metadata and every manifest records the
run id, so a retried publish finds its own version instead of creating a second one.

The candidate is read through the typed artifacts: ``blessing.json`` (:class:`Blessing`) first,
then ``model.skops`` (required), ``training.json`` (:class:`TrainingRecord`), ``metrics.json``
(:class:`CandidateMetrics`) and ``reference_profile.json`` (:class:`ReferenceProfile`) when
present. A file that is present but not its artifact's current schema is an error, not skipped.
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mlops import artifacts, models, serialization, storage
from mlops.artifacts import (
    Artifact,
    ArtifactEntry,
    AuditEvent,
    Blessing,
    CandidateMetrics,
    ReferenceProfile,
    TrainingLineage,
    TrainingRecord,
    VersionManifest,
)
from mlops.errors import InputReadError, IntegrityError, RegistryError

MAX_CLAIM_ATTEMPTS = 50
RUN_ID_META = "mlops-run-id"
SHA_META = "mlops-sha256"
CONTENT_TYPES = {".json": "application/json", ".html": "text/html", ".skops": "application/octet-stream"}
#: The typed artifacts among a candidate's files (the rest, model and card, are bytes).
TYPED_FILES: dict[str, type[Artifact]] = {
    artifacts.TRAINING_FILE: TrainingRecord,
    artifacts.METRICS_FILE: CandidateMetrics,
    artifacts.BLESSING_FILE: Blessing,
    artifacts.REFERENCE_PROFILE_FILE: ReferenceProfile,
}
_REPO = Path(__file__).resolve().parents[3]


class NotBlessedError(RegistryError):
    """The candidate's blessing says NOT BLESSED (or it has none): it is not published."""

    def __init__(self, message: str, blessing: Blessing | None = None) -> None:
        super().__init__(message)
        self.blessing = blessing


@dataclass(frozen=True)
class PublishResult:
    """What :meth:`PublishMixin.publish` did (the publish task's XCom)."""

    dataset: str
    version: str
    manifest_uri: str
    model_uri: str
    model_sha256: str
    created: bool
    run_id: str
    blessed: bool
    forced: bool
    baseline_pointer_etag: str | None
    evaluation_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Candidate:
    """A candidate as read for publishing: its files' bytes and the typed artifacts among them."""

    uri: str
    files: dict[str, bytes]
    model_sha256: str
    training: TrainingRecord | None
    metrics: CandidateMetrics | None
    blessing: Blessing | None

    @property
    def evaluation_id(self) -> str | None:
        return (self.blessing.evaluation_id or self.blessing.candidate_uri) if self.blessing else None


# ---------------------------------------------------------------- lineage helpers
def code_version() -> dict[str, str]:
    """The git sha of the code (``git rev-parse HEAD``), else env ``MLOPS_CODE_VERSION``, else ``"unknown"``."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=_REPO, capture_output=True, text=True, timeout=5, check=False
        )
        sha = proc.stdout.strip()
        if proc.returncode == 0 and re.fullmatch(r"[0-9a-f]{40}", sha):
            return {"git_sha": sha, "source": "git"}
    except (OSError, subprocess.SubprocessError):
        pass
    env = os.environ.get("MLOPS_CODE_VERSION", "").strip()
    if env:
        return {"git_sha": env, "source": "env:MLOPS_CODE_VERSION"}
    return {"git_sha": "unknown", "source": "unknown"}


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model depends on (recorded in every manifest)."""
    from importlib import metadata

    out = {"python": platform.python_version()}
    for dist, key in (
        ("scikit-learn", "sklearn"),
        ("numpy", "numpy"),
        ("pandas", "pandas"),
        ("skops", "skops"),
        ("scipy", "scipy"),
    ):
        try:
            out[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[key] = "not installed"
    return out


def _ascii(text: str) -> str:
    """S3 user metadata must be ASCII."""
    return str(text).encode("ascii", "replace").decode("ascii")


def _prefix(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


# ---------------------------------------------------------------- reading the candidate
def _read_optional(client: Any, uri: str) -> bytes | None:
    try:
        return storage.get_bytes(client, uri)
    except InputReadError:
        return None


def publish_decision(blessing: Blessing | None, force: bool, force_reason: str, candidate_uri: str) -> bool:
    """Whether this publish is *forced*; raise :class:`NotBlessedError` if it may not happen at all.

    A blessed candidate is published (not forced). Otherwise ``force`` with a non-empty
    ``force_reason`` publishes it, unless its behavioural checks failed (a model that does
    not behave is never published, see :attr:`Blessing.publish`).
    """
    if blessing is not None and blessing.blessed:
        return False
    why = "has no blessing.json" if blessing is None else f"is NOT BLESSED (failed: {blessing.failed})"
    if not force:
        raise NotBlessedError(
            f"Candidate {candidate_uri} {why}; not publishing (pass force with a reason to override).",
            blessing,
        )
    if not str(force_reason or "").strip():
        raise RegistryError(
            "The 'force_reason' parameter of publish must be a non-empty reason when force publishes an "
            f"unblessed candidate ({candidate_uri} {why}). Got {force_reason!r} instead."
        )
    if blessing is not None and not blessing.behaviour_ok:
        raise NotBlessedError(
            f"Candidate {candidate_uri} {why}, and its behavioural checks failed; force cannot publish "
            "a model that does not behave. Fix the model and re-run training.",
            blessing,
        )
    return True


def read_candidate(client: Any, candidate_uri: str, blessing_bytes: bytes | None) -> Candidate:
    """Read ``model.skops`` (required, loaded once with the trusted types) and the other files.

    Raises :class:`IntegrityError` if ``training.json`` or ``blessing.json`` name other model bytes.
    """
    prefix = _prefix(candidate_uri)
    model_uri = artifacts.model_uri(prefix)
    model_bytes = storage.get_bytes(client, model_uri)
    model_sha = serialization.sha256_hex(model_bytes)
    serialization.load_model(model_bytes, expected_sha256=model_sha, where=model_uri)
    files: dict[str, bytes] = {artifacts.MODEL_FILE: model_bytes}
    typed: dict[str, Artifact] = {}
    for name in artifacts.VERSION_FILES[1:]:
        data = blessing_bytes if name == artifacts.BLESSING_FILE else _read_optional(client, prefix + name)
        if data is None:
            continue
        files[name] = data
        if name in TYPED_FILES:
            typed[name] = TYPED_FILES[name].from_json_bytes(data, source=prefix + name)
    for name in (artifacts.TRAINING_FILE, artifacts.BLESSING_FILE):
        recorded = getattr(typed.get(name), "model_sha256", model_sha)
        if recorded != model_sha:
            raise IntegrityError(
                f"{prefix}{name} records model sha256 {recorded}, but {model_uri} has sha256 {model_sha}: "
                "the model was replaced after training or evaluation. Re-run training for this candidate."
            )
    return Candidate(
        uri=prefix,
        files=files,
        model_sha256=model_sha,
        training=typed.get(artifacts.TRAINING_FILE),  # type: ignore[arg-type]
        metrics=typed.get(artifacts.METRICS_FILE),  # type: ignore[arg-type]
        blessing=typed.get(artifacts.BLESSING_FILE),  # type: ignore[arg-type]
    )


def build_manifest(
    dataset: str,
    version: str,
    created_at: str,
    candidate: Candidate,
    run: dict[str, Any],
    written: dict[str, storage.PutResult],
    force_reason: str | None,
) -> VersionManifest:
    """The manifest of a version whose files are ``written`` (``force_reason`` None: not forced)."""
    training = candidate.training
    entries = {
        name: ArtifactEntry(
            uri=put.uri,
            sha256=serialization.sha256_hex(candidate.files[name]),
            size=len(candidate.files[name]),
            version_id=put.version_id,
        )
        for name, put in written.items()
    }
    return VersionManifest(
        dataset=dataset,
        version=version,
        created_at=created_at,
        candidate_uri=candidate.uri,
        run=run,
        artifacts=entries,
        model_format="skops",
        model_sha256=candidate.model_sha256,
        task=training.task if training else (candidate.metrics.task if candidate.metrics else None),
        model_plan=training.model_plan if training else None,
        params=training.estimator_params if training else None,
        best_params=training.best_params if training else None,
        seed=training.model_plan.seed if training else None,
        feature_signature=training.feature_signature if training else None,
        training_data=TrainingLineage.of(training) if training else None,
        metrics=candidate.metrics,
        blessing=candidate.blessing,
        code_version=code_version(),
        libraries=library_versions(),
        forced=force_reason is not None,
        force_reason=force_reason or "",
    )


# ---------------------------------------------------------------- the publish mixin
class PublishMixin:
    """``publish``: the write side of versions (see the module docstring)."""

    def publish(
        self,
        *,
        candidate_uri: str,
        run: dict[str, Any],
        reason: str = "",
        force: bool = False,
        force_reason: str = "",
    ) -> PublishResult:
        """Copy a candidate into the next version; the manifest is written last and create-only.

        Parameters
        ----------
        candidate_uri : str
            ``s3://.../candidates/<dataset>/<run>/`` holding at least ``model.skops``.
        run : dict
            ``dag_id``, ``run_id``, ``try_number`` (and optionally ``actor``) of the publishing task.
            The run id makes the publish idempotent: a retry returns the version it already made.
        reason : str
            Why (recorded in the audit event of a blessed publish).
        force, force_reason : bool, str
            Publish a candidate that is not blessed (or has no blessing); ``force_reason`` is
            required and recorded as ``forced``/``force_reason`` in the manifest and the audit event.

        Raises
        ------
        NotBlessedError
            The candidate is not blessed and ``force`` is false (or its behavioural checks failed).
        InputReadError
            ``model.skops`` is missing from the candidate.
        IntegrityError
            The model bytes cannot be loaded with the trusted types, or are not the bytes
            ``training.json``/``blessing.json`` describe.
        ArtifactSchemaError
            A candidate file is not its artifact's current schema.
        """
        prefix = _prefix(candidate_uri)
        blessing_bytes = _read_optional(self.client, artifacts.blessing_uri(prefix))
        blessing = (
            Blessing.from_json_bytes(blessing_bytes, source=artifacts.blessing_uri(prefix))
            if blessing_bytes is not None
            else None
        )
        forced = publish_decision(blessing, force, force_reason, prefix)
        candidate = read_candidate(self.client, prefix, blessing_bytes)
        run = dict(run or {})
        run["run_id"] = str(run.get("run_id") or f"manual-{candidate.model_sha256[:16]}")
        existing = self._find_published(run["run_id"], candidate.model_sha256)
        if existing is not None:
            self._audit_publish(existing, reason)  # a retry: the version exists, its event may not
            return self._result(existing, candidate, created=False)
        manifest, created = self._claim_version(candidate, run, force_reason.strip() if forced else None)
        self._audit_publish(manifest, reason)
        return self._result(manifest, candidate, created=created)

    def _audit_publish(self, manifest: VersionManifest, reason: str) -> bool:
        """Write the publish audit event of ``manifest`` unless it exists; ``True`` if written now.

        Built from the stored manifest alone, so a retry writes the event the crashed try would have.
        """
        _, manifest_sha = models.read_manifest(self.client, self.bucket, self.dataset, manifest.version)
        run = dict(manifest.run)
        return self._audit(
            AuditEvent(
                dataset=self.dataset,
                action="publish",
                version=manifest.version,
                actor=str(run.get("actor") or run.get("dag_id") or "unknown"),
                reason=manifest.force_reason if manifest.forced else (reason or "blessed candidate"),
                created_at=manifest.created_at,
                forced=manifest.forced,
                blessed=manifest.blessed,
                run=run,
                manifest_sha256=manifest_sha,
            )
        )

    def _result(self, manifest: VersionManifest, candidate: Candidate, *, created: bool) -> PublishResult:
        blessing = candidate.blessing
        return PublishResult(
            dataset=self.dataset,
            version=manifest.version,
            manifest_uri=self.manifest_uri(manifest.version),
            model_uri=manifest.model_uri,
            model_sha256=manifest.model_sha256,
            created=created,
            run_id=manifest.run_id,
            blessed=bool(blessing and blessing.blessed),
            forced=manifest.forced,
            baseline_pointer_etag=blessing.baseline_pointer_etag if blessing else None,
            evaluation_id=candidate.evaluation_id or manifest.run_id,
        )

    def _find_published(self, run_id: str, model_sha: str) -> VersionManifest | None:
        for v in reversed(self.versions()):
            manifest = self.manifest(v)
            if manifest.run_id == run_id and manifest.model_sha256 == model_sha:
                return manifest
        return None

    def _slots(self) -> dict[int, set[str]]:
        """Every version number in use -> file names: any object under ``versions/`` (complete or
        not), plus numbers whose abandoned folder retention removed (``audit/orphan-vNNNN``, with
        no files), so that a number never names two different publishes."""
        base = artifacts.versions_prefix(self.bucket, self.dataset)
        slots: dict[int, set[str]] = {}
        for uri in storage.list_uris(self.client, base):
            head, _, name = uri[len(base) :].partition("/")
            if name and models.is_version_ref(head):
                slots.setdefault(models.version_number(head), set()).add(name)
        orphans = artifacts.audit_prefix(self.bucket, self.dataset) + "orphan-"
        for uri in storage.list_uris(self.client, orphans):
            head = uri[len(orphans) :].removesuffix(".json")
            if models.is_version_ref(head):
                slots.setdefault(models.version_number(head), set())
        return slots

    def _put_create_only(self, uri: str, data: bytes, metadata: dict[str, str]) -> storage.PutResult | None:
        """Create-only put; ``None`` if the key already exists (HTTP 412)."""
        content_type = CONTENT_TYPES.get(Path(uri).suffix, "application/octet-stream")
        try:
            return storage.put_bytes(
                self.client, uri, data, content_type=content_type, if_none_match=True, metadata=metadata
            )
        except storage.PreconditionFailed:
            return None

    def _owned_by(self, uri: str, run_id: str, model_sha: str) -> storage.PutResult | None:
        """If the existing object at ``uri`` was written by our run for our model, its PutResult."""
        meta = storage.metadata(self.client, uri) or {}
        if meta.get(RUN_ID_META) == _ascii(run_id) and meta.get(SHA_META) == model_sha:
            head = storage.head(self.client, uri) or {}
            return storage.PutResult(uri, head.get("ETag", ""), head.get("VersionId"))
        return None

    def _write_files(
        self, version: str, candidate: Candidate, run_id: str
    ) -> dict[str, storage.PutResult] | None:
        """Write every candidate file under ``version`` create-only; ``None`` if another publisher holds it."""
        vprefix = self.version_prefix(version)
        metadata = {RUN_ID_META: _ascii(run_id), SHA_META: candidate.model_sha256}
        written: dict[str, storage.PutResult] = {}
        for name, data in candidate.files.items():
            put = self._put_create_only(vprefix + name, data, metadata) or self._owned_by(
                vprefix + name, run_id, candidate.model_sha256
            )
            if put is None:
                return None
            written[name] = put
        return written

    def _claim_version(
        self, candidate: Candidate, run: dict[str, Any], force_reason: str | None
    ) -> tuple[VersionManifest, bool]:
        """Claim the next free number: write the files, then the manifest create-only.

        Returns ``(manifest, True)`` for the manifest written, or ``(theirs, False)`` when a
        previous try of this run wrote the manifest of that number first.
        """
        run_id, sha = run["run_id"], candidate.model_sha256
        slots = self._slots()
        # A previous try of this run may have written files but not the manifest: reuse that number.
        ours = [
            n
            for n, names in sorted(slots.items())
            if artifacts.MANIFEST_FILE not in names
            and artifacts.MODEL_FILE in names
            and self._owned_by(
                self.version_prefix(artifacts.format_version(n)) + artifacts.MODEL_FILE, run_id, sha
            )
        ]
        numbers = (ours + [max(slots, default=0) + 1 + i for i in range(MAX_CLAIM_ATTEMPTS)])[
            :MAX_CLAIM_ATTEMPTS
        ]
        for number in numbers:
            version = artifacts.format_version(number)
            written = self._write_files(version, candidate, run_id)
            if written is None:
                continue  # another publisher holds this number
            manifest = build_manifest(
                self.dataset, version, self.now_iso(), candidate, run, written, force_reason
            )
            metadata = {RUN_ID_META: _ascii(run_id), SHA_META: sha}
            if self._put_create_only(self.manifest_uri(version), manifest.to_json_bytes(), metadata):
                return manifest, True
            theirs = self.manifest(version)
            if theirs.run_id == run_id:
                return theirs, False
        raise RegistryError(
            f"Could not claim a version number for {self.dataset} after {MAX_CLAIM_ATTEMPTS} attempts "
            f"(starting at {artifacts.format_version(numbers[0])}); too many concurrent publishers or a "
            f"stuck prefix under {artifacts.versions_prefix(self.bucket, self.dataset)}."
        )

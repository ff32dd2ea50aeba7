"""Verify: the checks a version must pass before an alias may point at it, and re-hashing versions.

Before a promotion or a rollback (:meth:`VerifyMixin.check_candidate`): the manifest exists,
there is no tombstone, every artifact at its pinned S3 version matches its sha256 and the
object now at its key is still the published one, the model loads with the trusted types,
and a smoke prediction works on the candidate's ``canned_rows`` (real holdout rows from
``training.json``) or, without them, on two synthetic rows built from the feature signature.
"""

from __future__ import annotations

from typing import Any

from mlops import artifacts, models, serialization, storage
from mlops.artifacts import ArtifactEntry, FeatureSignature, TrainingRecord, VersionManifest
from mlops.errors import RegistryError


# ---------------------------------------------------------------- smoke prediction
def _known_categories(model: Any) -> dict[str, Any]:
    """First known category per column, read from the fitted encoders inside ``model``."""
    found: dict[str, Any] = {}

    def walk(obj: Any, columns: list[str] | None) -> None:
        steps = getattr(obj, "steps", None)
        if isinstance(steps, list):
            for _, step in steps:
                walk(step, columns)
            return
        transformers = getattr(obj, "transformers_", None)
        if isinstance(transformers, list):
            for _, trans, cols in transformers:
                cols_list = list(cols) if hasattr(cols, "__iter__") and not isinstance(cols, str) else []
                names = cols_list if cols_list and all(isinstance(c, str) for c in cols_list) else None
                walk(trans, names)
            return
        cats = getattr(obj, "categories_", None)
        if isinstance(cats, list):
            names_in = getattr(obj, "feature_names_in_", None)
            names = [str(n) for n in names_in] if names_in is not None else (columns or [])
            for name, values in zip(names, cats, strict=False):
                usable = [v for v in list(values) if v is not None and v == v]
                if usable:
                    found.setdefault(name, usable[0])

    walk(model, None)
    return found


def smoke_frame(
    model: Any, signature: FeatureSignature | None = None, rows: list[dict[str, Any]] | None = None
):
    """A tiny input for a smoke prediction.

    Uses ``rows`` (the candidate's ``canned_rows`` from training.json: real holdout rows)
    when given; otherwise two synthetic rows: 0 for numeric columns and a category the
    fitted encoders know for categorical ones. Without a signature the columns are the
    model's ``feature_names_in_``.
    """
    import pandas as pd

    columns = [(c.name, c.kind) for c in signature.columns] if signature else []
    if rows:
        frame = pd.DataFrame(rows)
        if columns and all(c in frame for c, _ in columns):
            frame = frame[[c for c, _ in columns]]
        for name, kind in columns:
            if kind == "numeric" and name in frame:
                frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
        return frame
    if not columns:
        names = getattr(model, "feature_names_in_", None)
        if names is None:
            raise RegistryError(
                "Cannot build a smoke input: the manifest has no feature signature and the model has no "
                "feature_names_in_. Record feature_signature in training.json."
            )
        columns = [(str(n), "") for n in names]
    categories = _known_categories(model)
    data: dict[str, list[Any]] = {}
    for name, kind in columns:
        if name in categories and kind != "numeric":
            data[name] = [categories[name]] * 2
        elif kind == "numeric" or not kind:
            data[name] = [0.0] * 2
        else:
            data[name] = [None] * 2
    return pd.DataFrame(data)


def smoke_predict(
    model: Any, signature: FeatureSignature | None = None, rows: list[dict[str, Any]] | None = None
) -> list[Any]:
    """Predict on :func:`smoke_frame`; raise :class:`RegistryError` if the model cannot."""
    import numpy as np

    frame = smoke_frame(model, signature, rows)
    try:
        pred = np.asarray(model.predict(frame))
        if hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(frame), dtype=float)
            if not np.all(np.isfinite(proba)):
                raise ValueError("predict_proba returned non-finite values")
    except Exception as err:
        raise RegistryError(
            f"Smoke prediction failed on a {len(frame)}-row input with columns {list(frame.columns)}: "
            f"{type(err).__name__}: {err}"
        ) from err
    if len(pred) != len(frame):
        raise RegistryError(f"Smoke prediction returned {len(pred)} rows for {len(frame)} inputs.")
    if pred.dtype.kind in "fc" and not np.all(np.isfinite(pred)):
        raise RegistryError(f"Smoke prediction returned non-finite values: {pred.tolist()}")
    return pred.tolist()


# ---------------------------------------------------------------- checks
def _artifact_status(client: Any, entry: ArtifactEntry, retired: bool) -> dict[str, Any]:
    """Re-hash the object now at ``entry.uri`` against the manifest (one row of :meth:`verify`)."""
    head = storage.head(client, entry.uri)
    if head is None:
        return {"ok": retired, "problem": "purged" if retired else "missing"}
    data = storage.get_bytes(client, entry.uri)
    actual = serialization.sha256_hex(data)
    problem = None
    if actual != entry.sha256:
        problem = f"sha256 {actual[:12]}… != manifest {entry.sha256[:12]}…"
    elif entry.version_id and head.get("VersionId") and head["VersionId"] != entry.version_id:
        problem = f"rewritten with identical bytes (S3 VersionId {head['VersionId']} != {entry.version_id})"
    return {
        "ok": problem is None or problem.startswith("rewritten"),
        "sha256": actual,
        "size": len(data),
        "problem": problem,
    }


class VerifyMixin:
    """``check_candidate`` (before a pointer move) and ``verify`` (re-hash versions)."""

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

        Returns ``(manifest, manifest_sha256)``.
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
        entry = manifest.artifacts[artifacts.MODEL_FILE]
        model = serialization.load_model(
            blobs[artifacts.MODEL_FILE], expected_sha256=entry.sha256, where=entry.uri
        )
        smoke_predict(model, manifest.feature_signature, training.canned_rows if training else None)
        return manifest, manifest_sha

    def verify(self, version: str | None = None) -> list[dict[str, Any]]:
        """Re-hash the object at every artifact key of one version (or all) against its manifest.

        Status per version: ``ok``, ``MISMATCH`` (bytes changed or missing) or ``purged``
        (retired, and retention deleted its artifacts).
        """
        targets = [models.normalize_version(version)] if version else self.versions()
        out = []
        for v in targets:
            manifest = self.manifest(v)
            retired = self.is_retired(v)
            arts = [
                {"file": filename, **_artifact_status(self.client, entry, retired)}
                for filename, entry in sorted(manifest.artifacts.items())
            ]
            ok = all(a["ok"] for a in arts)
            if retired and any(a.get("problem") == "purged" for a in arts):
                status = "purged"
            else:
                status = "ok" if ok else "MISMATCH"
            out.append({"version": v, "ok": ok, "status": status, "retired": retired, "artifacts": arts})
        return out

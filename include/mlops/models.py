"""Published models, read side: resolve a version or alias and load its verified model.

The registry step writes versions and moves pointers; every other step that *uses* a
published model (evaluation's champion, scoring, monitoring's reference) reads it here,
through the typed artifacts, so no step imports the registry step.

Using a model, for every step alike: :func:`feature_frame` (the model's input columns,
coerced; booleans as 0/1), :func:`target_array`, :func:`predict` (prediction and the
probability of the positive class by :mod:`mlops.metrics`' one rule; of the predicted class
for a multiclass model), :func:`predict_proba` (every class's probability, for multiclass
metrics) and :func:`compute_threads`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops import metrics, serialization, storage
from mlops.artifacts import registry as layout
from mlops.artifacts.registry import ModelCheck, ProductionPointer, VersionManifest
from mlops.errors import ConfigError, InputReadError, IntegrityError, RegistryError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mlops.config import DatasetConfig

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


def read_pointer(
    client: Any, bucket: str, dataset: str, alias: str = layout.PRODUCTION
) -> PointerState | None:
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


def resolve(
    client: Any, bucket: str, dataset: str, ref: str = layout.PRODUCTION, *, require_checked: bool = False
) -> ResolvedVersion:
    """Pin a version id (``"v0007"``) or an alias (``"production"``) to a manifest.

    Through an alias the manifest's sha256 is checked against the one the pointer recorded.
    ``require_checked``: also require the version's :class:`~mlops.artifacts.registry.ModelCheck`
    for exactly this model (see :func:`require_check`).
    """
    if is_version_ref(ref):
        manifest, sha = read_manifest(client, bucket, dataset, ref)
        if require_checked:
            require_check(client, bucket, manifest)
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
    if require_checked:
        require_check(client, bucket, manifest)
    return ResolvedVersion(dataset, manifest.version, manifest, sha, state)


def read_check(client: Any, bucket: str, dataset: str, version: str) -> ModelCheck | None:
    """The version's smoke-check record (``checks/vNNNN.json``), or ``None`` if it was never checked."""
    uri = layout.check_uri(bucket, dataset, normalize_version(version))
    try:
        return ModelCheck.from_json_bytes(storage.get_bytes(client, uri), source=uri)
    except InputReadError:
        return None


def require_check(client: Any, bucket: str, manifest: VersionManifest) -> ModelCheck:
    """The version's :class:`ModelCheck`; raise :class:`RegistryError` unless it covers this model.

    A version is trusted in-process only after its model bytes (``model_sha256``, which every
    load verifies) loaded and predicted in a child process; the registry does that before
    every promotion and rollback.
    """
    check = read_check(client, bucket, manifest.dataset, manifest.version)
    where = layout.check_uri(bucket, manifest.dataset, manifest.version)
    problem = None
    if check is None:
        problem = f"has no smoke-check record ({where})"
    elif check.model_sha256 != manifest.model_sha256:
        problem = f"was checked with model sha256 {check.model_sha256}, not {manifest.model_sha256} ({where})"
    if problem:
        raise RegistryError(
            f"{manifest.dataset} {manifest.version} {problem}: its model never passed the smoke prediction "
            "in a child process, so it is not loaded here. Promote it through the registry, or run "
            f"`mlops registry check {manifest.dataset} {manifest.version}`."
        )
    return check


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


def load_model(client: Any, manifest: VersionManifest, *, require_checked: bool = False) -> Any:
    """The version's estimator, loaded through verified skops after a sha256 check.

    ``require_checked`` (scoring sets it): refuse a version whose model has no passed smoke
    check for these bytes (:func:`require_check`), before anything is deserialized.
    """
    from mlops.artifacts.training import MODEL_FILE

    if require_checked:
        require_check(client, storage.parse_uri(manifest.model_uri)[0], manifest)
    data = artifact_bytes(client, manifest, MODEL_FILE)
    entry = manifest.artifacts[MODEL_FILE]
    return serialization.load_model(data, expected_sha256=entry.sha256, where=entry.uri)


# ---------------------------------------------------------------- using a model
#: Native threads (OpenMP/BLAS) for fitting and scoring. One by default: on a small shared
#: machine, OpenMP threads that spin-wait for busy cores make HistGradientBoosting 2-6x slower.
THREADS_ENV = "MLOPS_TRAIN_THREADS"


def thread_count(n: int | None = None) -> int:
    """``n``, else env ``MLOPS_TRAIN_THREADS``, else 1; raises :class:`ConfigError` on a bad value."""
    if n is not None:
        return max(1, int(n))
    raw = os.environ.get(THREADS_ENV, "1")
    try:
        return max(1, int(raw))
    except ValueError:
        raise ConfigError(f"{THREADS_ENV} must be a positive integer. Got {raw!r} instead.") from None


def compute_threads(n: int | None = None) -> Any:
    """A context manager limiting OpenMP/BLAS threads to :func:`thread_count` ``(n)``."""
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime so the limit applies to it)
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=thread_count(n))


def feature_frame(df: pd.DataFrame, cfg: DatasetConfig) -> pd.DataFrame:
    """The model's input: the config's feature columns in config order.

    Numeric columns become float64; boolean columns become float64 1.0/0.0 (``"true"``/``"false"``
    text too) with NaN for missing, so the model's imputer and estimator see numbers;
    categorical missing values (``None``, ``pd.NA``) become ``np.nan`` so the imputer sees them
    as missing. Raises :class:`ConfigError` naming absent columns.
    """
    import numpy as np
    import pandas as pd

    missing = [c for c in cfg.feature_columns if c not in df.columns]
    if missing:
        raise ConfigError(
            f"Feature columns {missing} from include/configs/{cfg.name}.yaml are not in the frame "
            f"(columns: {list(df.columns)[:25]})."
        )
    out = df.loc[:, list(cfg.feature_columns)].copy()
    for col in cfg.features.numeric:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    for col in cfg.features.boolean:
        out[col] = boolean_values(out[col])
    for col in cfg.features.categorical:
        values = out[col].astype("object")
        out[col] = values.where(values.notna(), np.nan)
    return out


#: Text spellings of a boolean feature value (case-insensitive); anything else is missing.
BOOLEAN_TEXT = {"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}


def boolean_values(values: Any) -> np.ndarray:
    """A boolean feature as the model sees it: float64 1.0 (true), 0.0 (false), NaN (missing or unknown)."""
    import numpy as np
    import pandas as pd

    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values, dtype=object))
    if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
        out = pd.to_numeric(s, errors="coerce").astype("float64").to_numpy(na_value=np.nan)
        return np.where(np.isin(out, (0.0, 1.0)), out, np.nan)
    text = s.astype("object").map(lambda v: BOOLEAN_TEXT.get(str(v).strip().lower()) if pd.notna(v) else None)
    return text.astype("float64").to_numpy(na_value=np.nan)


def target_array(df: pd.DataFrame, cfg: DatasetConfig) -> np.ndarray:
    """The target as the model sees it: float64 for regression; for classification the labels
    themselves (integral numbers as int64, booleans as bool, anything else, e.g. strings, as objects)."""
    import numpy as np
    import pandas as pd

    y = df[cfg.target]
    if not cfg.is_classifier:
        return y.to_numpy(dtype="float64", na_value=np.nan)
    if pd.api.types.is_bool_dtype(y.dtype):
        return y.to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(y.dtype):
        values = y.to_numpy(dtype="float64", na_value=np.nan)
        integral = np.isfinite(values).all() and bool((values == np.round(values)).all())
        return values.astype("int64") if integral else values
    return y.astype("object").to_numpy()


def predict(model: Any, frame: pd.DataFrame, cfg: DatasetConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """``(prediction, probability)`` for a raw frame (probability None for regression).

    Binary: the probability of the positive class, :func:`mlops.metrics.positive_index` of the
    config over ``model.classes_`` (``positive_class`` when configured), the rule every metric
    uses. Multiclass (more than two ``classes_``): the probability of the predicted class (the
    model's confidence); metrics need every class, so they use :func:`predict_proba`.
    """
    scores = predict_proba(model, frame, cfg)
    if scores.proba is None:
        return scores.prediction, None
    return scores.prediction, scores.score


@dataclass(frozen=True)
class ClassScores:
    """A model's output on a frame: ``prediction`` and (classifiers) the ``predict_proba`` matrix.

    ``proba`` has one column per class in ``classes`` order (the model's ``classes_`` as Python
    scalars); ``positive`` is the positive class's column (binary), None for multiclass.
    """

    prediction: np.ndarray
    proba: np.ndarray | None
    classes: list[Any]
    positive: int | None

    @property
    def multiclass(self) -> bool:
        return len(self.classes) > 2

    @property
    def score(self) -> np.ndarray | None:
        """Binary: P(positive class); multiclass: P(predicted class); regression: None."""
        import numpy as np

        if self.proba is None:
            return None
        if self.positive is not None:
            return self.proba[:, self.positive]
        return self.proba[np.arange(len(self.proba)), np.argmax(self.proba, axis=1)]


def predict_proba(model: Any, frame: pd.DataFrame, cfg: DatasetConfig) -> ClassScores:
    """Predict a raw frame: the predicted class (or value) and, for a classifier, every class's probability."""
    import numpy as np

    X = feature_frame(frame, cfg)
    if not cfg.is_classifier:
        return ClassScores(np.asarray(model.predict(X), dtype="float64"), None, [], None)
    proba = np.asarray(model.predict_proba(X), dtype="float64")
    classes = np.asarray(model.classes_)
    listed = [c.item() if isinstance(c, np.generic) else c for c in classes]
    positive = None if metrics.is_multiclass(listed) else metrics.positive_index(cfg, classes)
    return ClassScores(classes[np.argmax(proba, axis=1)], proba, listed, positive)

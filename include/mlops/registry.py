"""A model registry on plain S3: immutable versions, atomic promotion, audit trail, retention.

Layout under ``s3://<bucket>/models/<name>/`` (the bucket must be versioned)::

    versions/v0007/model.skops          immutable artifacts, each written create-only
    versions/v0007/training.json        (plus metrics.json, blessing.json, model_card.html,
    versions/v0007/...                   reference_profile.json when the candidate has them)
    versions/v0007/manifest.json        written LAST and create-only: a version with a manifest is complete
    aliases/production.json             one pointer per alias, moved only by compare-and-swap (If-Match)
    audit/<event>.json                  append-only: one create-only object per event
    retired/v0003.json                  create-only tombstone written by retention

Version ids are monotonic (``v0001``, ``v0002`` ...). A publisher claims a number by
writing its artifacts and then the manifest with ``If-None-Match: *``; on HTTP 412 the
number is taken and it tries the next one, so concurrent publishers never collide.
Every artifact carries the publishing run id in its S3 metadata and every manifest
records the run id, so a retried publish finds its own version instead of creating
a second one.

Promotion reads the pointer (keeping its ETag), checks the candidate (manifest, not
retired, checksums, it loads, a smoke prediction works) and writes the new pointer with
``If-Match: <etag>`` (``If-None-Match: *`` for the first promotion). HTTP 412 means
someone else moved the alias: the promotion aborts with :class:`ConcurrentUpdateError`
and the pointer stays as they left it. HTTP 409 (a concurrent conditional write in
flight) is retried with bounded exponential backoff. Readers only ever see the old or
the new pointer: never zero or two production models.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mlops import artifacts, serialization, storage
from mlops.errors import (
    ConcurrentUpdateError,
    InputReadError,
    IntegrityError,
    MLOpsError,
    RegistryError,
)

SCHEMA_VERSION = 1
MODEL_FILE = "model.skops"
MANIFEST_FILE = "manifest.json"
#: Candidate files copied into a version (``model.skops`` is required, the rest optional).
ARTIFACT_FILES = (
    MODEL_FILE,
    "training.json",
    "metrics.json",
    "blessing.json",
    "model_card.html",
    "reference_profile.json",
)
CONTENT_TYPES = {".json": "application/json", ".html": "text/html", ".skops": "application/octet-stream"}
#: ``expected_etag`` value that skips the "moved since evaluation" check (the write is still a CAS).
ANY_ETAG = "*"
MIN_REASON_LENGTH = 10
MAX_CLAIM_ATTEMPTS = 50
CONFLICT_RETRIES = 5
CONFLICT_BACKOFF_SECONDS = 0.2
RUN_ID_META = "mlops-run-id"
SHA_META = "mlops-sha256"
_VERSION_RE = re.compile(r"^v?0*(\d+)$")
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_REPO = Path(__file__).resolve().parents[2]


class NotBlessedError(RegistryError):
    """The candidate's blessing says NOT BLESSED (or it has none): it is not published."""

    def __init__(self, message: str, blessing: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.blessing = blessing or {}


class PointerConflictError(MLOpsError):
    """The pointer write kept getting HTTP 409 after bounded retries. Transient: a retry may succeed."""


# ---------------------------------------------------------------- versions
def format_version(number: int) -> str:
    """``7`` -> ``"v0007"``."""
    return f"v{int(number):04d}"


def version_number(ref: str) -> int:
    """``"v0007"``, ``"v7"`` or ``"7"`` -> ``7``.

    Raises
    ------
    RegistryError
        If ``ref`` is not a version id.
    """
    match = _VERSION_RE.match(str(ref).strip())
    if not match or int(match.group(1)) < 1:
        raise RegistryError(
            f"{ref!r} is not a version id; use the form v0007 (or an alias such as 'production')."
        )
    return int(match.group(1))


def normalize_version(ref: str) -> str:
    """``"v7"`` -> ``"v0007"``."""
    return format_version(version_number(ref))


def is_version_ref(ref: str) -> bool:
    return bool(_VERSION_RE.match(str(ref).strip()))


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(str(text).replace("Z", "+00:00"))


def _strip_etag(etag: str | None) -> str | None:
    return etag.strip().strip('"') if etag else None


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class Pointer:
    """An alias pointer (``aliases/<alias>.json``) plus the S3 ETag/VersionId it was read with."""

    alias: str
    version: str
    manifest_sha256: str
    previous_version: str | None
    sequence: int
    action: str
    actor: str
    reason: str
    time: str
    evaluation_id: str | None = None
    request_id: str | None = None
    forced: bool = False
    run: dict[str, Any] = field(default_factory=dict)
    etag: str | None = None
    s3_version_id: str | None = None

    def body(self) -> dict[str, Any]:
        """What is stored in the pointer object (no ETag/VersionId: S3 assigns those)."""
        data = asdict(self)
        data.pop("etag")
        data.pop("s3_version_id")
        data["schema"] = SCHEMA_VERSION
        return data

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_body(
        cls, data: dict[str, Any], *, etag: str | None = None, s3_version_id: str | None = None
    ) -> Pointer:
        known = {f for f in cls.__dataclass_fields__ if f not in ("etag", "s3_version_id")}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs.setdefault("run", {})
        return cls(**kwargs, etag=etag, s3_version_id=s3_version_id)


@dataclass(frozen=True)
class PendingChange:
    """A checked, not yet written alias change: the new pointer and the ETag it must replace."""

    new: Pointer
    base_etag: str | None
    from_version: str | None
    already_applied: bool = False


@dataclass(frozen=True)
class PublishResult:
    name: str
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
class RetentionResult:
    name: str
    keep_last: int
    grace_days: int
    decisions: list[dict[str, str]]

    @property
    def retired(self) -> list[str]:
        return [d["version"] for d in self.decisions if d["decision"] == "retire"]

    @property
    def purged(self) -> list[str]:
        return [d["version"] for d in self.decisions if d["decision"] == "purge"]

    @property
    def kept(self) -> list[str]:
        return [d["version"] for d in self.decisions if d["decision"] == "keep"]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "keep_last": self.keep_last,
            "grace_days": self.grace_days,
            "retired": self.retired,
            "purged": self.purged,
            "kept": self.kept,
            "decisions": self.decisions,
        }


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


def training_lineage(training: dict[str, Any]) -> dict[str, Any]:
    """The training-data lineage from a candidate's ``training.json``.

    Reads the ``lineage`` list that :func:`mlops.training.train_candidate` writes (one record per
    day: ``batch_uri``, ``batch_version_id``, ``batch_sha256``, ``batch_rows``, ``labels_uri``,
    ``labels_version_id``, ``validation_uri``, ``joined_rows``, ``split``) plus ``data_hash``,
    ``window`` and ``split``. Validation result locations default to the file beside each batch.
    """
    uris: list[str] = []
    version_ids: dict[str, Any] = {}
    validation: list[str] = []
    rows = 0
    for item in training.get("lineage") or []:
        if not isinstance(item, dict):
            continue
        for kind in ("batch", "labels"):
            uri = item.get(f"{kind}_uri")
            if uri:
                uris.append(uri)
                version_ids[uri] = item.get(f"{kind}_version_id")
        if item.get("batch_uri"):
            validation.append(item.get("validation_uri") or artifacts.validation_uri(item["batch_uri"]))
        rows += int(item.get("joined_rows") or item.get("batch_rows") or 0)
    split = training.get("split") or {}
    if not rows and split:
        rows = int(split.get("train_rows") or 0) + int(split.get("holdout_rows") or 0)
    window = training.get("window") or {}
    return {
        "uris": uris,
        "version_ids": version_ids,
        "row_count": rows or None,
        "content_hash": training.get("data_hash"),
        "window": {k: window.get(k) for k in ("start", "end", "window_days") if k in window},
        "split": {k: v for k, v in split.items() if not isinstance(v, list)},
        "days": [i.get("day") for i in training.get("lineage") or [] if isinstance(i, dict)],
        "validation_uris": validation,
    }


def _signature_columns(signature: Any) -> list[tuple[str, str]]:
    """``[(name, kind)]`` with kind ``numeric``/``categorical``/``""`` from a feature signature.

    Accepts ``{"columns": [{"name", "kind"|"dtype"}, ...]}`` (what training writes), a list of
    such records, or a ``{name: dtype}`` mapping.
    """
    if isinstance(signature, dict) and isinstance(signature.get("columns"), list):
        signature = signature["columns"]
    items: list[tuple[str, str]] = []
    if isinstance(signature, dict):
        items = [(str(k), str(v)) for k, v in signature.items() if isinstance(v, str)]
    elif isinstance(signature, list):
        for item in signature:
            if isinstance(item, dict) and "name" in item:
                items.append((str(item["name"]), str(item.get("kind") or item.get("dtype") or "")))
            elif isinstance(item, str):
                items.append((item, ""))
    out = []
    for name, kind in items:
        k = kind.lower()
        if k == "numeric" or k.startswith(("int", "uint", "float", "bool", "double", "number")):
            out.append((name, "numeric"))
        elif k:
            out.append((name, "categorical"))
        else:
            out.append((name, ""))
    return out


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


def smoke_frame(model: Any, signature: Any = None, rows: list[dict[str, Any]] | None = None):
    """A tiny input for a smoke prediction.

    Uses ``rows`` (the candidate's ``canned_rows`` from training.json: real holdout rows)
    when given; otherwise two synthetic rows: 0 for numeric columns and a category the
    fitted encoders know for categorical ones.
    """
    import pandas as pd

    columns = _signature_columns(signature)
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


def smoke_predict(model: Any, signature: Any = None, rows: list[dict[str, Any]] | None = None) -> list[Any]:
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


# ---------------------------------------------------------------- the registry
class ModelRegistry:
    """One model's registry under ``s3://<bucket>/models/<name>/``.

    Parameters
    ----------
    client : boto3 S3 client
    bucket : str
        A versioned bucket.
    name : str
        The model name (== the dataset name).
    clock : callable, optional
        Returns the current UTC datetime (tests inject one).
    sleep : callable, optional
        Used for the 409 backoff (tests inject a no-op).
    """

    def __init__(
        self,
        client,
        bucket: str,
        name: str,
        *,
        clock: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not _NAME_RE.match(str(name)):
            raise RegistryError(
                f"The 'name' parameter of ModelRegistry must match {_NAME_RE.pattern} (a dataset name). "
                f"Got {name!r} instead."
            )
        self.client = client
        self.bucket = bucket
        self.name = name
        self.clock = clock or _now
        self.sleep = sleep

    # ------------------------------------------------------------ keys
    @property
    def prefix(self) -> str:
        return f"s3://{self.bucket}/models/{self.name}/"

    def version_prefix(self, version: str) -> str:
        return f"{self.prefix}versions/{normalize_version(version)}/"

    def manifest_uri(self, version: str) -> str:
        return self.version_prefix(version) + MANIFEST_FILE

    def alias_uri(self, alias: str = "production") -> str:
        return f"{self.prefix}aliases/{alias}.json"

    def tombstone_uri(self, version: str) -> str:
        return f"{self.prefix}retired/{normalize_version(version)}.json"

    def audit_uri(self, event_name: str) -> str:
        return f"{self.prefix}audit/{event_name}.json"

    def _key(self, uri: str) -> str:
        return storage.parse_uri(uri)[1]

    # ------------------------------------------------------------ reading
    def _keys(self, sub: str) -> list[str]:
        return [self._key(u) for u in storage.list_uris(self.client, self.prefix + sub)]

    def _slots(self) -> dict[int, set[str]]:
        """Every version number that has any object under ``versions/`` (complete or not) -> file names."""
        slots: dict[int, set[str]] = {}
        base = self._key(self.prefix + "versions/")
        for key in self._keys("versions/"):
            parts = key[len(base) :].split("/", 1)
            if len(parts) == 2 and is_version_ref(parts[0]):
                slots.setdefault(version_number(parts[0]), set()).add(parts[1])
        return slots

    def versions(self) -> list[str]:
        """Complete versions (those with a manifest), oldest first: ``["v0001", "v0002", ...]``."""
        return [format_version(n) for n, files in sorted(self._slots().items()) if MANIFEST_FILE in files]

    def _manifest_raw(self, version: str) -> tuple[dict[str, Any], str]:
        v = normalize_version(version)
        try:
            data = storage.get_bytes(self.client, self.manifest_uri(v))
        except InputReadError as err:
            raise RegistryError(
                f"Model {self.name!r} has no version {v} (no {self.manifest_uri(v)}); "
                f"known versions: {self.versions() or 'none'}."
            ) from err
        return json.loads(data), serialization.sha256_hex(data)

    def manifest(self, version: str) -> dict[str, Any]:
        """The manifest of ``version`` (raises :class:`RegistryError` if it does not exist)."""
        return self._manifest_raw(version)[0]

    def aliases(self) -> list[str]:
        base = self._key(self.prefix + "aliases/")
        return sorted(k[len(base) : -5] for k in self._keys("aliases/") if k.endswith(".json"))

    def pointer(self, alias: str = "production") -> Pointer | None:
        """The current pointer of ``alias`` with its ETag, or ``None`` if the alias was never set."""
        try:
            data, head = storage.get_object(self.client, self.alias_uri(alias))
        except InputReadError:
            return None
        return Pointer.from_body(json.loads(data), etag=head.get("ETag"), s3_version_id=head.get("VersionId"))

    def tombstone(self, version: str) -> dict[str, Any] | None:
        try:
            return storage.get_json(self.client, self.tombstone_uri(version))
        except InputReadError:
            return None

    def is_retired(self, version: str) -> bool:
        return storage.exists(self.client, self.tombstone_uri(version))

    def resolve(self, ref: str = "production") -> tuple[str, dict[str, Any]]:
        """``(version, manifest)`` for an alias (``"production"``) or a version id (``"v0007"``).

        Through an alias, the manifest's sha256 is checked against the pointer.
        """
        if is_version_ref(ref):
            v = normalize_version(ref)
            return v, self.manifest(v)
        pointer = self.pointer(ref)
        if pointer is None:
            raise RegistryError(
                f"Model {self.name!r} has no {ref!r} alias yet ({self.alias_uri(ref)} does not exist); "
                "promote a version first, or pass an explicit version such as v0001."
            )
        manifest, sha = self._manifest_raw(pointer.version)
        if pointer.manifest_sha256 and sha != pointer.manifest_sha256:
            raise IntegrityError(
                f"Manifest of {self.name} {pointer.version} has sha256 {sha}, but the {ref!r} pointer recorded "
                f"{pointer.manifest_sha256}: the manifest was changed after promotion. Do not use it; "
                "roll back to a verified version."
            )
        return pointer.version, manifest

    def artifact_bytes(
        self, version: str, filename: str = MODEL_FILE, manifest: dict[str, Any] | None = None
    ) -> bytes:
        """The bytes of one artifact, verified against the manifest's sha256."""
        v = normalize_version(version)
        manifest = manifest or self.manifest(v)
        art = (manifest.get("artifacts") or {}).get(filename)
        if not art:
            raise RegistryError(
                f"{self.name} {v} has no artifact {filename!r}; it has {sorted(manifest.get('artifacts') or {})}."
            )
        uri = art["uri"]
        try:
            data = storage.get_bytes(self.client, uri)
        except InputReadError as err:
            hint = " (retired and deleted by retention)" if self.is_retired(v) else ""
            raise RegistryError(f"Artifact {uri} of {self.name} {v} is missing{hint}.") from err
        serialization.verify_sha256(data, art["sha256"], where=uri)
        return data

    def load_model(self, version: str, manifest: dict[str, Any] | None = None) -> Any:
        """Load ``version``'s model; the bytes are checksum-verified before deserialization."""
        v = normalize_version(version)
        manifest = manifest or self.manifest(v)
        data = self.artifact_bytes(v, MODEL_FILE, manifest)
        art = manifest["artifacts"][MODEL_FILE]
        return serialization.load_model(data, expected_sha256=art["sha256"], where=art["uri"])

    # ------------------------------------------------------------ publish
    def _read_candidate_json(self, prefix: str, filename: str) -> dict[str, Any] | None:
        try:
            return json.loads(storage.get_bytes(self.client, prefix + filename))
        except InputReadError:
            return None

    def _find_published(self, run_id: str, model_sha: str) -> tuple[str, dict[str, Any]] | None:
        for v in reversed(self.versions()):
            manifest = self.manifest(v)
            if (manifest.get("run") or {}).get("run_id") == run_id and (
                manifest.get("artifacts", {}).get(MODEL_FILE, {}).get("sha256") == model_sha
            ):
                return v, manifest
        return None

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
        head = storage.head(self.client, uri) or {}
        meta = {k.lower(): v for k, v in (head.get("Metadata") or {}).items()}
        if meta.get(RUN_ID_META) == _ascii(run_id) and meta.get(SHA_META) == model_sha:
            return storage.PutResult(uri, head.get("ETag", ""), head.get("VersionId"))
        return None

    def publish(
        self,
        *,
        candidate_prefix: str,
        run: dict[str, Any],
        require_blessing: bool = True,
        force: bool = False,
        reason: str = "",
    ) -> PublishResult:
        """Copy a candidate into the next version; the manifest is written last and create-only.

        Parameters
        ----------
        candidate_prefix : str
            ``s3://.../candidates/<name>/<run>/`` holding at least ``model.skops``.
        run : dict
            ``dag_id``, ``run_id``, ``try_number`` (and optionally ``actor``) of the publishing task.
            The run id makes the publish idempotent: a retry returns the version it already made.
        require_blessing : bool
            Refuse a candidate whose ``blessing.json`` is missing or not blessed.
        force : bool
            Publish even if not blessed; recorded in the manifest and the audit trail.

        Raises
        ------
        NotBlessedError
            The candidate is not blessed (and ``force`` is false).
        InputReadError
            ``model.skops`` is missing from the candidate.
        IntegrityError
            The model bytes cannot be loaded with the trusted types.
        """
        prefix = candidate_prefix if candidate_prefix.endswith("/") else candidate_prefix + "/"
        blessing = self._read_candidate_json(prefix, "blessing.json")
        blessed = bool(blessing and blessing.get("blessed") is True)
        if require_blessing and not blessed and not force:
            why = "has no blessing.json" if blessing is None else "is NOT BLESSED"
            raise NotBlessedError(
                f"Candidate {prefix} {why}; not publishing (set force to override).", blessing
            )

        model_bytes = storage.get_bytes(self.client, prefix + MODEL_FILE)
        model_sha = serialization.sha256_hex(model_bytes)
        serialization.load_model(model_bytes, expected_sha256=model_sha, where=prefix + MODEL_FILE)
        run = dict(run or {})
        run_id = str(run.get("run_id") or f"manual-{model_sha[:16]}")
        run["run_id"] = run_id
        evaluation_id = (blessing or {}).get("evaluation_id") or (blessing or {}).get("candidate") or run_id
        baseline_etag = (blessing or {}).get("baseline_pointer_etag")

        def result(version: str, manifest: dict[str, Any], created: bool) -> PublishResult:
            return PublishResult(
                name=self.name,
                version=version,
                manifest_uri=self.manifest_uri(version),
                model_uri=manifest["artifacts"][MODEL_FILE]["uri"],
                model_sha256=model_sha,
                created=created,
                run_id=run_id,
                blessed=blessed,
                forced=bool(manifest.get("publish", {}).get("forced")),
                baseline_pointer_etag=baseline_etag,
                evaluation_id=evaluation_id,
            )

        existing = self._find_published(run_id, model_sha)
        if existing:
            return result(existing[0], existing[1], created=False)

        files: dict[str, bytes] = {MODEL_FILE: model_bytes}
        for name in ARTIFACT_FILES[1:]:
            try:
                files[name] = storage.get_bytes(self.client, prefix + name)
            except InputReadError:
                continue
        training = json.loads(files["training.json"]) if "training.json" in files else {}
        metrics = json.loads(files["metrics.json"]) if "metrics.json" in files else {}
        metadata = {RUN_ID_META: _ascii(run_id), SHA_META: model_sha}

        slots = self._slots()
        # A previous try of this run may have written artifacts but not the manifest: reuse that number.
        ours = [
            n
            for n, names in sorted(slots.items())
            if MANIFEST_FILE not in names
            and self._owned_by(self.version_prefix(format_version(n)) + MODEL_FILE, run_id, model_sha)
        ]
        candidates = ours + [max(slots, default=0) + 1 + i for i in range(MAX_CLAIM_ATTEMPTS)]
        for number in candidates[:MAX_CLAIM_ATTEMPTS]:
            version = format_version(number)
            vprefix = self.version_prefix(version)
            written: dict[str, storage.PutResult] = {}
            for name, data in files.items():
                put = self._put_create_only(vprefix + name, data, metadata) or self._owned_by(
                    vprefix + name, run_id, model_sha
                )
                if put is None:
                    break
                written[name] = put
            if len(written) != len(files):
                continue  # another publisher holds this number
            manifest = {
                "schema": SCHEMA_VERSION,
                "name": self.name,
                "version": version,
                "created_at": _iso(self.clock()),
                "candidate_prefix": prefix,
                "run": run,
                "artifacts": {
                    name: {
                        "key": self._key(put.uri),
                        "uri": put.uri,
                        "sha256": serialization.sha256_hex(files[name]),
                        "size": len(files[name]),
                        "version_id": put.version_id,
                    }
                    for name, put in written.items()
                },
                "model": {
                    "format": "skops",
                    "file": MODEL_FILE,
                    "sha256": model_sha,
                    "estimator": (training.get("model") or {}).get("estimator"),
                    "plan": training.get("model"),
                    "task": training.get("task"),
                },
                "training_data": training_lineage(training),
                "code_version": code_version(),
                "libraries": library_versions(),
                "params": training.get("estimator_params") or training.get("params"),
                "best_params": training.get("best_params"),
                "seed": training.get("seed"),
                "metrics": metrics,
                "blessing": blessing,
                "feature_signature": training.get("feature_signature"),
                "publish": {"forced": bool(force and not blessed), "reason": reason},
            }
            put = self._put_create_only(self.manifest_uri(version), _json_bytes(manifest), metadata)
            if put is None:
                theirs = self.manifest(version)
                if (theirs.get("run") or {}).get("run_id") == run_id:
                    return result(version, theirs, created=False)
                continue
            self._audit(
                f"publish-{version}",
                {
                    "action": "publish",
                    "version": version,
                    "actor": str(run.get("actor") or run.get("dag_id") or "unknown"),
                    "reason": reason
                    or (
                        "forced publish of an unblessed candidate"
                        if manifest["publish"]["forced"]
                        else "blessed candidate"
                    ),
                    "forced": manifest["publish"]["forced"],
                    "blessed": blessed,
                    "run": run,
                    "manifest_sha256": serialization.sha256_hex(_json_bytes(manifest)),
                },
            )
            return result(version, manifest, created=True)
        raise RegistryError(
            f"Could not claim a version number for {self.name} after {MAX_CLAIM_ATTEMPTS} attempts "
            f"(starting at {format_version(candidates[0])}); too many concurrent publishers or a stuck prefix "
            f"under {self.prefix}versions/."
        )

    # ------------------------------------------------------------ audit
    def _audit(self, event_name: str, event: dict[str, Any]) -> bool:
        """Write one create-only audit event; ``False`` if it already exists (a retried step)."""
        body = {"schema": SCHEMA_VERSION, "name": self.name, "time": _iso(self.clock()), **event}
        try:
            storage.put_json(self.client, self.audit_uri(event_name), body, if_none_match=True)
        except storage.PreconditionFailed:
            return False
        return True

    def _audit_alias_change(self, pointer: Pointer, from_version: str | None) -> bool:
        return self._audit(
            f"{pointer.alias}-{pointer.sequence:08d}",
            {
                "action": pointer.action,
                "alias": pointer.alias,
                "from_version": from_version,
                "to_version": pointer.version,
                "version": pointer.version,
                "sequence": pointer.sequence,
                "actor": pointer.actor,
                "reason": pointer.reason,
                "evaluation_id": pointer.evaluation_id,
                "request_id": pointer.request_id,
                "forced": pointer.forced,
                "run": pointer.run,
                "manifest_sha256": pointer.manifest_sha256,
                "pointer_etag": pointer.etag,
                "pointer_s3_version_id": pointer.s3_version_id,
                "time": pointer.time,
            },
        )

    # ------------------------------------------------------------ promotion
    def check_candidate(self, version: str) -> tuple[dict[str, Any], str]:
        """Everything a version must pass before an alias may point at it.

        The manifest exists, there is no tombstone, every artifact's sha256 matches,
        the model loads with the trusted types and a smoke prediction works.
        Returns ``(manifest, manifest_sha256)``.
        """
        v = normalize_version(version)
        manifest, manifest_sha = self._manifest_raw(v)
        tomb = self.tombstone(v)
        if tomb is not None:
            raise RegistryError(
                f"{self.name} {v} was retired at {tomb.get('time')} by {tomb.get('actor')} "
                f"({self.tombstone_uri(v)}); an alias cannot point at a retired version. Pick another version."
            )
        blobs = {f: self.artifact_bytes(v, f, manifest) for f in manifest.get("artifacts") or {}}
        training = json.loads(blobs["training.json"]) if "training.json" in blobs else {}
        art = manifest["artifacts"][MODEL_FILE]
        model = serialization.load_model(blobs[MODEL_FILE], expected_sha256=art["sha256"], where=art["uri"])
        smoke_predict(model, manifest.get("feature_signature"), training.get("canned_rows"))
        return manifest, manifest_sha

    def _cas_write(self, pointer: Pointer, expected_etag: str | None) -> storage.PutResult:
        uri = self.alias_uri(pointer.alias)
        for attempt in range(CONFLICT_RETRIES):
            try:
                if expected_etag is None:
                    return storage.put_json(self.client, uri, pointer.body(), if_none_match=True)
                return storage.put_json(self.client, uri, pointer.body(), if_match=expected_etag)
            except storage.PreconditionFailed as err:
                current = self.pointer(pointer.alias)
                now = (
                    f"{current.version} (sequence {current.sequence}, by {current.actor})"
                    if current
                    else "none"
                )
                raise ConcurrentUpdateError(
                    f"Someone else moved {pointer.alias!r} of {self.name} between our read and our write "
                    f"(HTTP 412 on {'If-None-Match: *' if expected_etag is None else 'If-Match ' + expected_etag}); "
                    f"it now points to {now}. Our {pointer.action} to {pointer.version} was NOT applied. "
                    "Re-read the pointer and retry if the change is still wanted."
                ) from err
            except Exception as err:
                if storage.is_not_found(err):
                    raise ConcurrentUpdateError(
                        f"{uri} was deleted between our read and our write; our {pointer.action} to "
                        f"{pointer.version} was NOT applied."
                    ) from err
                if not storage.is_conflict(err) or attempt == CONFLICT_RETRIES - 1:
                    if storage.is_conflict(err):
                        raise PointerConflictError(
                            f"Writing {uri} got HTTP 409 (conflicting concurrent write) {CONFLICT_RETRIES} times; "
                            "giving up for now (a task retry may succeed)."
                        ) from err
                    raise
                self.sleep(CONFLICT_BACKOFF_SECONDS * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def prepare_change(
        self,
        version: str,
        *,
        expected_etag: str | None,
        reason: str,
        actor: str,
        evaluation_id: str | None = None,
        alias: str = "production",
        request_id: str | None = None,
        run: dict[str, Any] | None = None,
        forced: bool = False,
        action: str = "promote",
    ) -> PendingChange:
        """Phase 1 of a compare-and-swap: read the pointer (keep its ETag) and check the target.

        Nothing is written. :meth:`commit` writes the pointer only if it still has that ETag.
        Raises the same errors as :meth:`promote`.
        """
        v = normalize_version(version)
        current = self.pointer(alias)
        if request_id and current and current.request_id == request_id and current.version == v:
            return PendingChange(
                new=current,
                base_etag=current.etag,
                from_version=current.previous_version,
                already_applied=True,
            )
        if expected_etag != ANY_ETAG:
            want = _strip_etag(expected_etag)
            have = _strip_etag(current.etag) if current else None
            if want != have:
                now = (
                    f"{current.version} since {current.time} by {current.actor} (ETag {have})"
                    if current
                    else ("nothing (no pointer)")
                )
                raise ConcurrentUpdateError(
                    f"{alias!r} of {self.name} moved since the evaluation: it was compared against ETag "
                    f"{want or 'none (no pointer)'}, now it is {now}. Not moving it to {v}; "
                    "re-run the evaluation against the current production model."
                )
        if current and current.version == v:
            raise RegistryError(
                f"{alias!r} of {self.name} already points to {v} (sequence {current.sequence})."
            )
        _, manifest_sha = self.check_candidate(v)
        new = Pointer(
            alias=alias,
            version=v,
            manifest_sha256=manifest_sha,
            previous_version=current.version if current else None,
            sequence=(current.sequence + 1) if current else 1,
            action=action,
            actor=actor,
            reason=reason,
            time=_iso(self.clock()),
            evaluation_id=evaluation_id,
            request_id=request_id,
            forced=forced,
            run=dict(run or {}),
        )
        return PendingChange(
            new=new,
            base_etag=current.etag if current else None,
            from_version=current.version if current else None,
        )

    def commit(self, change: PendingChange) -> Pointer:
        """Phase 2: write the pointer with If-Match (If-None-Match: * if there was none), then audit it.

        Raises :class:`ConcurrentUpdateError` on HTTP 412 (the pointer is left as the other writer set it).
        """
        if change.already_applied:
            self._audit_alias_change(change.new, change.from_version)
            return change.new
        put = self._cas_write(change.new, change.base_etag)
        pointer = replace(change.new, etag=put.etag, s3_version_id=put.version_id)
        self._audit_alias_change(pointer, change.from_version)
        return pointer

    def promote(
        self,
        version: str,
        *,
        expected_etag: str | None,
        reason: str,
        actor: str,
        evaluation_id: str | None = None,
        alias: str = "production",
        request_id: str | None = None,
        run: dict[str, Any] | None = None,
        forced: bool = False,
        action: str = "promote",
    ) -> Pointer:
        """Point ``alias`` at ``version`` with a compare-and-swap (:meth:`prepare_change` + :meth:`commit`).

        Parameters
        ----------
        expected_etag : str or None
            The pointer ETag the decision was based on (the gate's ``baseline_pointer_etag``);
            ``None`` means "there was no pointer". If the pointer has moved since, nothing is
            written. :data:`ANY_ETAG` skips this check (the write is still a CAS).
        request_id : str, optional
            Identifies this change (e.g. ``dag_id/run_id/task_id``): a retry whose change
            already landed returns the pointer instead of failing.

        Raises
        ------
        ConcurrentUpdateError
            The pointer moved since ``expected_etag`` or between our read and write (412).
        RegistryError
            The version is missing, retired, already the target, or fails its smoke prediction.
        IntegrityError
            An artifact's checksum does not match the manifest.
        """
        return self.commit(
            self.prepare_change(
                version,
                expected_etag=expected_etag,
                reason=reason,
                actor=actor,
                evaluation_id=evaluation_id,
                alias=alias,
                request_id=request_id,
                run=run,
                forced=forced,
                action=action,
            )
        )

    def promote_blessed(
        self,
        version: str,
        *,
        reason: str,
        actor: str,
        force: bool = False,
        alias: str = "production",
        request_id: str | None = None,
        run: dict[str, Any] | None = None,
    ) -> Pointer:
        """Promote using the blessing recorded in the manifest.

        The blessing's ``baseline_pointer_etag`` is the expected ETag, so production must not
        have moved since the evaluation (also with ``force``: a blessed candidate is always held
        to its evaluation). ``force`` promotes an unblessed version against the current pointer;
        it is recorded as ``forced`` in the pointer and the audit trail.
        """
        v = normalize_version(version)
        manifest = self.manifest(v)
        blessing = manifest.get("blessing") or {}
        blessed = blessing.get("blessed") is True
        if not blessed and not force:
            raise NotBlessedError(
                f"{self.name} {v} is not blessed; not promoting (set force to override).", blessing
            )
        if not blessed:  # forced: there is no evaluation to be stale against
            expected: str | None = ANY_ETAG
        elif "baseline_pointer_etag" not in blessing:
            raise RegistryError(
                f"The blessing of {self.name} {v} has no baseline_pointer_etag, so it cannot prove production "
                "is unchanged since the evaluation; re-run the gate (it must record the pointer ETag it compared)."
            )
        else:
            expected = blessing.get("baseline_pointer_etag")
        evaluation_id = (
            blessing.get("evaluation_id")
            or blessing.get("candidate")
            or (manifest.get("run") or {}).get("run_id")
        )
        return self.promote(
            v,
            expected_etag=expected,
            reason=reason or ("forced promotion" if force and not blessed else "blessed by the gate"),
            actor=actor,
            evaluation_id=evaluation_id,
            alias=alias,
            request_id=request_id,
            run=run,
            forced=bool(force and not blessed),
        )

    def rollback(
        self,
        *,
        target: str | None = None,
        reason: str,
        actor: str,
        alias: str = "production",
        request_id: str | None = None,
        run: dict[str, Any] | None = None,
    ) -> Pointer:
        """Move ``alias`` back to ``target`` (default: the pointer's ``previous_version``).

        The target is checked like a promotion; artifacts are never copied or changed.
        """
        if len((reason or "").strip()) < MIN_REASON_LENGTH:
            raise RegistryError(
                f"The 'reason' parameter of rollback must be at least {MIN_REASON_LENGTH} characters. "
                f"Got {reason!r} instead."
            )
        current = self.pointer(alias)
        if current is None:
            raise RegistryError(
                f"{self.name} has no {alias!r} pointer ({self.alias_uri(alias)}); nothing to roll back."
            )
        if request_id and current.request_id == request_id:
            self._audit_alias_change(current, current.previous_version)
            return current
        if target:
            to = normalize_version(target)
        elif current.previous_version:
            to = current.previous_version
        else:
            raise RegistryError(
                f"{alias!r} of {self.name} ({current.version}) has no previous_version; pass target_version explicitly."
            )
        return self.promote(
            to,
            expected_etag=current.etag,
            reason=reason.strip(),
            actor=actor,
            alias=alias,
            request_id=request_id,
            run=run,
            action="rollback",
        )

    # ------------------------------------------------------------ retention
    def retire(
        self,
        *,
        keep_last: int,
        grace_days: int,
        actor: str,
        reason: str = "retention policy",
        now: datetime | None = None,
        purge: bool = True,
    ) -> RetentionResult:
        """Tombstone versions beyond the newest ``keep_last``; delete artifacts retired over ``grace_days`` ago.

        Never retired: any version an alias points to, or its ``previous_version``; the newest
        ``keep_last``; anything younger than ``grace_days``. Manifests, tombstones, pointers and the
        audit trail are never deleted.
        """
        if int(keep_last) < 1:
            raise RegistryError(
                f"The 'keep_last' parameter of retire must be >= 1. Got {keep_last!r} instead."
            )
        if int(grace_days) < 0:
            raise RegistryError(
                f"The 'grace_days' parameter of retire must be >= 0. Got {grace_days!r} instead."
            )
        now = now or self.clock()
        grace = timedelta(days=int(grace_days))
        protected: dict[str, str] = {}
        for alias in self.aliases():
            p = self.pointer(alias)
            if p is None:
                continue
            protected.setdefault(p.version, f"alias {alias!r} points to it")
            if p.previous_version:
                protected.setdefault(p.previous_version, f"previous_version of {alias!r}")
        versions = self.versions()
        newest = set(versions[-int(keep_last) :])
        decisions: list[dict[str, str]] = []
        for v in versions:
            tomb = self.tombstone(v)
            if tomb is not None:
                retired_at = _parse_time(tomb.get("time"))
                if not purge or v in protected:
                    decisions.append({"version": v, "decision": "retired", "reason": "already retired"})
                elif retired_at and now - retired_at > grace:
                    deleted = self._purge(v)
                    if deleted:
                        self._audit(
                            f"purge-{v}",
                            {
                                "action": "purge",
                                "version": v,
                                "actor": actor,
                                "reason": f"retired {tomb.get('time')}, over {grace_days} days ago",
                                "deleted_objects": deleted,
                            },
                        )
                        decisions.append(
                            {
                                "version": v,
                                "decision": "purge",
                                "reason": f"retired over {grace_days} days ago; deleted {deleted} objects",
                            }
                        )
                    else:
                        decisions.append({"version": v, "decision": "retired", "reason": "already purged"})
                else:
                    decisions.append(
                        {
                            "version": v,
                            "decision": "retired",
                            "reason": f"retired {tomb.get('time')}, within {grace_days}-day grace",
                        }
                    )
                continue
            created = _parse_time(self.manifest(v).get("created_at"))
            if v in protected:
                decisions.append({"version": v, "decision": "keep", "reason": protected[v]})
            elif v in newest:
                decisions.append(
                    {"version": v, "decision": "keep", "reason": f"among the newest {keep_last}"}
                )
            elif created is None or now - created < grace:
                decisions.append(
                    {
                        "version": v,
                        "decision": "keep",
                        "reason": f"younger than the {grace_days}-day grace (created {_iso(created) if created else '?'})",
                    }
                )
            else:
                body = {
                    "schema": SCHEMA_VERSION,
                    "name": self.name,
                    "version": v,
                    "time": _iso(now),
                    "actor": actor,
                    "reason": reason,
                }
                try:
                    storage.put_json(self.client, self.tombstone_uri(v), body, if_none_match=True)
                except storage.PreconditionFailed:
                    decisions.append({"version": v, "decision": "retired", "reason": "retired concurrently"})
                    continue
                self._audit(
                    f"retire-{v}",
                    {
                        "action": "retire",
                        "version": v,
                        "actor": actor,
                        "reason": reason,
                        "keep_last": keep_last,
                        "grace_days": grace_days,
                    },
                )
                decisions.append(
                    {
                        "version": v,
                        "decision": "retire",
                        "reason": f"beyond the newest {keep_last} and older than {grace_days} days",
                    }
                )
        return RetentionResult(self.name, int(keep_last), int(grace_days), decisions)

    def _purge(self, version: str) -> int:
        """Permanently delete every object version under ``versions/<v>/`` except the manifest."""
        deleted = 0
        for item in storage.list_versions(self.client, self.version_prefix(version)):
            if item.key.endswith("/" + MANIFEST_FILE):
                continue
            storage.delete(self.client, item.uri, version_id=item.version_id)
            deleted += 1
        return deleted

    # ------------------------------------------------------------ history and verification
    def audit_events(self) -> list[dict[str, Any]]:
        return [
            storage.get_json(self.client, u) for u in storage.list_uris(self.client, self.prefix + "audit/")
        ]

    def pointer_history(self, alias: str = "production") -> list[Pointer]:
        """Every S3 version of the alias pointer, oldest first (from ``list_object_versions``)."""
        uri = self.alias_uri(alias)
        out: list[Pointer] = []
        for item in storage.list_versions(self.client, uri):
            if item.uri != uri or item.is_delete_marker:
                continue
            data = storage.get_json(self.client, uri, version_id=item.version_id)
            out.append(Pointer.from_body(data, etag=item.etag, s3_version_id=item.version_id))
        return sorted(out, key=lambda p: p.sequence)

    def history(self) -> list[dict[str, Any]]:
        """The audit trail merged with every alias pointer's S3 version history, oldest first.

        Each alias change appears once (matched on alias + sequence); ``sources`` says where it
        was found. A pointer version without an audit event is flagged ``audit_missing``.
        """
        rows: dict[tuple[str, Any], dict[str, Any]] = {}
        for event in self.audit_events():
            if event.get("alias") is not None and event.get("sequence") is not None:
                key = (event["alias"], int(event["sequence"]))
            else:
                key = (event.get("action", "?"), event.get("version"))
            rows[key] = {**_history_row(event), "sources": ["audit"]}
        for alias in self.aliases():
            for p in self.pointer_history(alias):
                key = (alias, p.sequence)
                row = rows.get(key)
                if row is None:
                    row = {
                        **_history_row(
                            {**p.body(), "to_version": p.version, "from_version": p.previous_version}
                        ),
                        "sources": [],
                        "audit_missing": True,
                    }
                    rows[key] = row
                row["sources"] = sorted(set(row["sources"]) | {"pointer"})
                row["pointer_s3_version_id"] = p.s3_version_id
        return sorted(rows.values(), key=lambda r: (str(r.get("time") or ""), r.get("sequence") or 0))

    def verify(self, version: str | None = None) -> list[dict[str, Any]]:
        """Re-hash every artifact of one version (or all) against its manifest."""
        targets = [normalize_version(version)] if version else self.versions()
        out = []
        for v in targets:
            manifest = self.manifest(v)
            retired = self.is_retired(v)
            arts = []
            for filename, art in sorted((manifest.get("artifacts") or {}).items()):
                head = storage.head(self.client, art["uri"])
                if head is None:
                    arts.append(
                        {"file": filename, "ok": retired, "problem": "purged" if retired else "missing"}
                    )
                    continue
                data = storage.get_bytes(self.client, art["uri"])
                actual = serialization.sha256_hex(data)
                problem = None
                if actual != art["sha256"]:
                    problem = f"sha256 {actual[:12]}… != manifest {art['sha256'][:12]}…"
                elif (
                    art.get("version_id") and head.get("VersionId") and head["VersionId"] != art["version_id"]
                ):
                    problem = f"rewritten with identical bytes (S3 VersionId {head['VersionId']} != {art['version_id']})"
                arts.append(
                    {
                        "file": filename,
                        "ok": problem is None or problem.startswith("rewritten"),
                        "sha256": actual,
                        "size": len(data),
                        "problem": problem,
                    }
                )
            ok = all(a["ok"] for a in arts)
            status = (
                "purged"
                if retired and any(a.get("problem") == "purged" for a in arts)
                else ("ok" if ok else "MISMATCH")
            )
            out.append({"version": v, "ok": ok, "status": status, "retired": retired, "artifacts": arts})
        return out


def _history_row(event: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "time",
        "action",
        "alias",
        "version",
        "from_version",
        "to_version",
        "sequence",
        "actor",
        "reason",
        "evaluation_id",
        "forced",
        "request_id",
    )
    return {k: event.get(k) for k in keys}


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=True, default=str).encode()


def _ascii(text: str) -> str:
    """S3 user metadata must be ASCII."""
    return str(text).encode("ascii", "replace").decode("ascii")


def registry_summary(client, bucket: str, name: str) -> dict[str, Any]:
    """Versions, the production pointer and the history of one model (for the demo summary)."""
    reg = ModelRegistry(client, bucket, name)
    versions = reg.versions()
    details = []
    for v in versions:
        manifest = reg.manifest(v)
        details.append(
            {
                "version": v,
                "created_at": manifest.get("created_at"),
                "run_id": (manifest.get("run") or {}).get("run_id"),
                "retired": reg.is_retired(v),
                "blessed": (manifest.get("blessing") or {}).get("blessed"),
                "forced": (manifest.get("publish") or {}).get("forced"),
                "model_sha256": manifest.get("artifacts", {}).get(MODEL_FILE, {}).get("sha256"),
            }
        )
    pointer = reg.pointer()
    return {
        "name": name,
        "prefix": reg.prefix,
        "versions": versions,
        "version_details": details,
        "production": pointer.to_dict() if pointer else None,
        "history": reg.history(),
    }

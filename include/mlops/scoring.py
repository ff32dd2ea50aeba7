"""Batch scoring: stream a day's batch through one pinned model version into an atomic partition.

How a run works
---------------
1. :func:`plan_scoring` resolves the model reference (``"production"`` or ``"v0007"``)
   **once** with :meth:`mlops.registry.ModelRegistry.resolve`, loads the model (the
   registry verifies the sha256 of ``model.skops`` against the manifest and loads it with
   the pinned skops trusted types), pins the input object (its S3 ``VersionId``, or its
   ETag on an unversioned bucket), reads the Parquet footer (row count, schema check) and
   cuts the rows into shards. A checksum mismatch raises :class:`~mlops.errors.IntegrityError`
   here, before anything is written.
2. :func:`score_shard` (one call per shard; the DAG maps them in parallel) streams its row
   range with ``pyarrow.parquet.ParquetFile.iter_batches`` over ranged S3 GETs of the
   pinned input version, re-cut into chunks of ``scoring.chunk_size`` rows. Each chunk is
   coerced to the model's feature types (rows that cannot be coerced go to the rejects
   file with the reason), scored, and appended to a Parquet writer that streams into an
   S3 multipart upload. Reading runs one chunk ahead in a thread; memory is bounded by a
   few chunks plus one Parquet row group of the input and does not grow with the input.
3. :func:`publish_partition` checks that every shard is there and agrees on the model
   version and input version, fails if the reject share exceeds
   ``scoring.max_reject_fraction``, writes ``_SUCCESS`` **last**, then removes stale
   objects of this partition.

:func:`score_batch` runs the three steps in one process (CLI, benchmark, tests).
Shards are cut on the global chunk grid (shard boundaries are multiples of
``chunk_size``), so every chunk holds the same rows sharded or not and the sharded output
is identical to the unsharded output, row for row and bit for bit.

Partition layout and the publish protocol
-----------------------------------------
::

    predictions/<dataset>/<date>/
        _SUCCESS                                         JSON manifest, written last
        attempt=<a>/part-00000-of-00002.parquet           id, prediction, probability, model_version, run_id
        attempt=<a>/rejects-00000-of-00002.parquet        id, row, column, value, reason, model_version, run_id
        attempt=<a>/part-00001-of-00002.parquet ...

* Readers trust only ``_SUCCESS``: it lists every part with its row count, size and
  sha256, plus the model version, the input URI and S3 VersionId, and the row counts.
  A partition without ``_SUCCESS`` is not published. :func:`read_predictions` reads a
  partition this way and verifies the checksums.
* ``<a>`` (the attempt id) is a hash of the run id, the model version and sha256, the input
  VersionId, the shard count and the chunk size. A retried task of the same run scores
  the same rows with the same model, so it rewrites the same keys with the same bytes;
  a new run, a moved pointer or a replaced input writes to new keys and never touches the
  objects the current ``_SUCCESS`` lists.
* Each part is one object, uploaded as a multipart upload that is completed only after
  the last chunk (or a single PUT when small): it is either absent or complete, never
  half-written. A failed shard aborts its upload.
* Publishing overwrites ``_SUCCESS`` in one PUT (readers see the old or the new manifest),
  and only then deletes every other object under *this* partition's prefix (stale
  attempts, parts of failed runs). Nothing outside ``predictions/<dataset>/<date>/`` is
  touched. So after a retry or a re-score the partition holds exactly one complete set.
* One writer per partition at a time: the scoring DAG runs with ``max_active_runs=1``.
* If the reject share is too high, ``_SUCCESS`` is not written (the previous published
  partition, if any, stays as it was) and the error names the rejects files to inspect.

Output columns: the dataset's id column, ``prediction`` (the class label, or the value for
regression), ``probability`` (classification only: the probability of the positive class
``classes_[-1]``, as in :func:`mlops.training.predict`), ``model_version`` and ``run_id``.
Missing values in a feature are not rejects (the model's imputers handle them); a value
that cannot be coerced to the feature's type (``"abc"`` in a numeric column), a
non-finite number, a null id, or a row the model raises on are.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops import storage
from mlops.config import DatasetConfig
from mlops.errors import ConfigError, InputReadError, IntegrityError, MLOpsError, ValidationFailed

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

log = logging.getLogger(__name__)

FORMAT = "mlops.predictions/v1"
SUCCESS_FILE = "_SUCCESS"
#: Multipart part size for streamed uploads (S3 minimum is 5 MiB for all but the last part).
PART_SIZE = 8 * 1024 * 1024
#: Values of a text column that mean "missing" rather than "bad number".
MISSING_TEXT = frozenset({"", "nan", "null", "none", "na", "n/a"})
#: Upper bound of model calls spent isolating rows the model raises on, per chunk.
MAX_BISECT_CALLS = 256
MAX_VALUE_CHARS = 200


class TooManyRejects(ValidationFailed):
    """More rows were rejected than ``scoring.max_reject_fraction`` allows. The partition is not published."""


class PartitionNotPublished(InputReadError):
    """A predictions partition has no ``_SUCCESS`` manifest (never scored, or still being written)."""


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class Shard:
    """Rows ``[row_start, row_end)`` of the input, scored by one task."""

    index: int
    count: int
    row_start: int
    row_end: int

    @property
    def rows(self) -> int:
        return self.row_end - self.row_start


@dataclass(frozen=True)
class ScoringPlan:
    """Everything a shard needs, fixed once per run: model version, pinned input, shards."""

    dataset: str
    registry_bucket: str
    model_ref: str
    model_version: str
    model_sha256: str
    pointer_sequence: int | None
    input_uri: str
    input_version_id: str | None
    input_etag: str | None
    input_size: int
    input_rows: int
    output_uri: str
    run_id: str
    attempt: str
    chunk_size: int
    features: tuple[dict[str, Any], ...]
    shards: tuple[Shard, ...]
    created_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["features"] = [dict(f) for f in self.features]
        data["shards"] = [asdict(s) for s in self.shards]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoringPlan:
        known = set(cls.__dataclass_fields__)
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["features"] = tuple(dict(f) for f in kwargs.get("features", ()))
        kwargs["shards"] = tuple(Shard(**s) for s in kwargs.get("shards", ()))
        return cls(**kwargs)

    def for_shard(self, index: int) -> dict[str, Any]:
        """The plan as a JSON-safe dict plus ``shard_index``: one element of the DAG's mapped input."""
        return {**self.to_dict(), "shard_index": int(index)}

    def shard_inputs(self) -> list[dict[str, Any]]:
        return [self.for_shard(s.index) for s in self.shards]

    @property
    def num_shards(self) -> int:
        return len(self.shards)

    def part_path(self, index: int) -> str:
        return f"attempt={self.attempt}/part-{index:05d}-of-{self.num_shards:05d}.parquet"

    def rejects_path(self, index: int) -> str:
        return f"attempt={self.attempt}/rejects-{index:05d}-of-{self.num_shards:05d}.parquet"


@dataclass(frozen=True)
class PartInfo:
    """One written object: path relative to the partition, URI, rows, size and sha256."""

    path: str
    uri: str
    rows: int
    bytes: int
    sha256: str
    s3_version_id: str | None = None


@dataclass(frozen=True)
class ShardResult:
    """What one shard wrote (the XCom of a mapped scoring task)."""

    dataset: str
    output_uri: str
    run_id: str
    attempt: str
    model_ref: str
    model_version: str
    model_sha256: str
    input_uri: str
    input_version_id: str | None
    input_rows: int
    shard_index: int
    num_shards: int
    row_start: int
    row_end: int
    rows_in: int
    rows_scored: int
    rows_rejected: int
    part: PartInfo
    rejects: PartInfo
    seconds: float
    reject_reasons: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ShardResult:
        kwargs = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        kwargs["part"] = PartInfo(**kwargs["part"])
        kwargs["rejects"] = PartInfo(**kwargs["rejects"])
        return cls(**kwargs)


@dataclass(frozen=True)
class ScoringResult:
    """A published partition (mirrors ``_SUCCESS``)."""

    dataset: str
    output_uri: str
    success_uri: str
    run_id: str
    attempt: str
    model_ref: str
    model_version: str
    input_uri: str
    input_version_id: str | None
    rows_in: int
    rows_scored: int
    rows_rejected: int
    reject_fraction: float
    max_reject_fraction: float
    num_shards: int
    part_uris: list[str]
    rejects_uris: list[str]
    stale_removed: int
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_lines(self) -> list[str]:
        return [
            f"model: {self.model_ref} -> {self.model_version}",
            f"input: {self.input_uri} (VersionId {self.input_version_id})",
            f"rows: {self.rows_in} in, {self.rows_scored} scored, {self.rows_rejected} rejected "
            f"({self.reject_fraction:.2%} <= max {self.max_reject_fraction:.2%})",
            f"published: {self.success_uri} ({self.num_shards} shard(s), {len(self.part_uris)} part(s))",
        ]


@dataclass(frozen=True)
class ChunkProgress:
    """Passed to the ``on_chunk`` hook after each chunk is written (tests use it to interleave events)."""

    shard_index: int
    chunk_index: int
    chunk_start: int
    rows_done: int
    rows_total: int
    rows_scored: int
    rows_rejected: int
    seconds: float


# ---------------------------------------------------------------- small helpers
def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _prefix(uri: str) -> str:
    uri = str(uri)
    return uri if uri.endswith("/") else uri + "/"


def _join(prefix: str, path: str) -> str:
    return _prefix(prefix) + path


def _strip_etag(etag: str | None) -> str | None:
    return etag.strip('"') if etag else None


def plan_shards(num_rows: int, chunk_size: int, shards: int) -> list[Shard]:
    """Cut ``num_rows`` into at most ``shards`` row ranges whose boundaries lie on the chunk grid.

    Fewer shards than asked are returned when there are fewer chunks than shards
    (an empty input gets one empty shard).
    """
    if int(shards) < 1:
        raise ConfigError(f"The 'shards' parameter of plan_shards must be >= 1. Got {shards!r} instead.")
    if int(chunk_size) < 1:
        raise ConfigError(
            f"The 'chunk_size' parameter of plan_shards must be >= 1. Got {chunk_size!r} instead."
        )
    n_chunks = -(-int(num_rows) // int(chunk_size))
    count = max(1, min(int(shards), n_chunks))
    out = []
    for i in range(count):
        c0, c1 = i * n_chunks // count, (i + 1) * n_chunks // count
        out.append(Shard(i, count, min(c0 * chunk_size, num_rows), min(c1 * chunk_size, num_rows)))
    return out


def attempt_id(
    run_id: str,
    model_version: str,
    model_sha256: str,
    input_version: str | None,
    shards: int,
    chunk_size: int,
) -> str:
    """Deterministic attempt id: same run + model + input + cut -> same keys (and the same bytes)."""
    text = json.dumps([run_id, model_version, model_sha256, input_version, shards, chunk_size])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


# ---------------------------------------------------------------- model
def feature_columns(
    cfg: DatasetConfig,
    manifest: Mapping[str, Any] | None = None,
    model: Any = None,
) -> list[dict[str, Any]]:
    """The model's input columns ``[{"name", "kind", "optional"}]`` in the order the model expects.

    The manifest's ``feature_signature`` (recorded at training) wins over the dataset config;
    the order follows the model's ``feature_names_in_`` when it has one.

    Raises
    ------
    ConfigError
        If the model expects a column that neither the signature nor the config describes.
    """
    signature = (manifest or {}).get("feature_signature") or {}
    columns = signature.get("columns") if isinstance(signature, dict) else None
    if columns and all(isinstance(c, dict) and "name" in c and "kind" in c for c in columns):
        feats = [
            {"name": str(c["name"]), "kind": str(c["kind"]), "optional": bool(c.get("optional", False))}
            for c in columns
        ]
    else:
        feats = [
            {
                "name": c,
                "kind": "numeric" if c in cfg.features.numeric else "categorical",
                "optional": c in cfg.features.optional,
            }
            for c in cfg.feature_columns
        ]
    names_in = getattr(model, "feature_names_in_", None)
    if names_in is not None:
        by_name = {f["name"]: f for f in feats}
        unknown = [str(n) for n in names_in if str(n) not in by_name]
        if unknown:
            raise ConfigError(
                f"The model expects columns {unknown} that are not in its feature signature nor in "
                f"include/configs/{cfg.name}.yaml; re-train the model or add them to features."
            )
        feats = [by_name[str(n)] for n in names_in]
    bad = sorted({f["kind"] for f in feats} - {"numeric", "categorical"})
    if bad:
        raise ConfigError(f"Feature kinds {bad} are not supported; use numeric or categorical.")
    return feats


def _load_model(
    client,
    plan_or_bucket,
    dataset: str | None = None,
    version: str | None = None,
    expected_sha256: str | None = None,
):
    """Load a registry version (checksum-verified by the registry) and check it is the planned artifact."""
    from mlops.registry import MODEL_FILE, ModelRegistry

    if isinstance(plan_or_bucket, ScoringPlan):
        plan = plan_or_bucket
        bucket, dataset, version, expected_sha256 = (
            plan.registry_bucket,
            plan.dataset,
            plan.model_version,
            plan.model_sha256,
        )
    else:
        bucket = plan_or_bucket
    reg = ModelRegistry(client, bucket, dataset)
    manifest = reg.manifest(version)
    sha = ((manifest.get("artifacts") or {}).get(MODEL_FILE) or {}).get("sha256")
    if expected_sha256 and sha != expected_sha256:
        raise IntegrityError(
            f"{dataset} {version} manifest lists model sha256 {sha}, but this run was planned with "
            f"{expected_sha256}; the version was changed after planning. Re-run the scoring DAG."
        )
    return reg.load_model(version, manifest), manifest


# ---------------------------------------------------------------- input
class _S3RangeFile(io.RawIOBase):
    """A read-only, seekable view of one S3 object version through ranged GETs (for pyarrow)."""

    def __init__(self, client, bucket: str, key: str, size: int, *, version_id: str | None, etag: str | None):
        super().__init__()
        self._client, self._bucket, self._key = client, bucket, key
        self._size, self._version_id, self._etag = int(size), version_id, etag
        self._pos = 0
        self._lock = threading.Lock()
        self.requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def size(self) -> int:
        return self._size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + int(offset))
        return self._pos

    def _get(self, start: int, end: int) -> bytes:
        uri = f"s3://{self._bucket}/{self._key}"
        try:
            data = storage.get_range(
                self._client,
                uri,
                start,
                end,
                version_id=self._version_id,
                if_match=None if self._version_id else self._etag,
            )
        except (storage.PreconditionFailed, InputReadError) as err:
            raise InputReadError(
                f"{uri} changed or disappeared while it was being scored (pinned "
                f"{'VersionId ' + str(self._version_id) if self._version_id else 'ETag ' + str(self._etag)}); "
                "re-run the scoring DAG once the upstream export is stable."
            ) from err
        self.requests += 1
        return data

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            start = self._pos
            end = self._size if size is None or size < 0 else min(self._size, start + int(size))
            if end <= start:
                return b""
            data = self._get(start, end)
            self._pos = start + len(data)
            return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


@dataclass(frozen=True)
class InputObject:
    uri: str
    version_id: str | None
    etag: str | None
    size: int


def head_input(client, uri: str) -> InputObject:
    """Pin the input: its S3 VersionId (or ETag on an unversioned bucket) and size.

    Raises
    ------
    InputReadError
        If the object does not exist.
    """
    if not storage.is_s3(uri):
        path = Path(uri)
        if not path.is_file():
            raise InputReadError(f"Input {uri} does not exist; pass a Parquet file or s3:// URI.")
        return InputObject(str(uri), None, None, path.stat().st_size)
    meta = storage.head(client, uri)
    if meta is None:
        raise InputReadError(
            f"Input {uri} does not exist; the day's batch has not landed (the DAG's wait_for_batch sensor "
            "waits for it), or the date or dataset is wrong."
        )
    version = meta.get("VersionId")
    return InputObject(
        uri,
        None if version in (None, "null") else version,
        _strip_etag(meta.get("ETag")),
        int(meta.get("ContentLength") or 0),
    )


def open_parquet(client, inp: InputObject) -> pq.ParquetFile:
    """A ``ParquetFile`` over the pinned input (ranged GETs on S3, the file itself locally)."""
    import pyarrow.parquet as pq

    if inp.size == 0:
        raise InputReadError(
            f"{inp.uri} is empty (0 bytes); the upstream export wrote nothing. Re-export the batch."
        )
    if storage.is_s3(inp.uri):
        bucket, key = storage.parse_uri(inp.uri)
        source: Any = _S3RangeFile(client, bucket, key, inp.size, version_id=inp.version_id, etag=inp.etag)
    else:
        source = inp.uri
    try:
        return pq.ParquetFile(source, pre_buffer=True)
    except InputReadError:
        raise
    except Exception as err:
        raise InputReadError(
            f"{inp.uri} is not a readable Parquet file ({type(err).__name__}: {err}); scoring streams Parquet "
            "only: re-export the batch as Parquet."
        ) from err


def _kind_ok(arrow_type, kind: str) -> bool:
    import pyarrow as pa

    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    text = (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or getattr(pa.types, "is_string_view", lambda _: False)(t)
    )
    number = (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_boolean(t)
        or pa.types.is_decimal(t)
        or pa.types.is_null(t)
    )
    return text or number


def check_input_schema(
    schema: pa.Schema, features: list[dict[str, Any]], id_column: str, uri: str
) -> list[str]:
    """Check the input has the id column and every required feature with a usable type.

    Returns the optional features that are absent (scored as missing).

    Raises
    ------
    InputReadError
        Naming the missing columns or the column whose type cannot hold the feature.
    """
    names = set(schema.names)
    if id_column not in names:
        raise InputReadError(
            f"{uri} has no id column {id_column!r} (columns: {schema.names[:25]}); every prediction must carry "
            "the id. Fix the upstream export or id_column in the dataset config."
        )
    missing = [f["name"] for f in features if f["name"] not in names and not f["optional"]]
    if missing:
        raise InputReadError(
            f"{uri} lacks required feature columns {missing} (columns: {schema.names[:25]}); the model cannot "
            "score it. Fix the upstream export, or mark them optional in the dataset config and re-train."
        )
    for f in features:
        if f["name"] in names and not _kind_ok(schema.field(f["name"]).type, f["kind"]):
            raise InputReadError(
                f"Column {f['name']!r} of {uri} has type {schema.field(f['name']).type}, which cannot hold a "
                f"{f['kind']} feature (expected a number or text). Fix the upstream export."
            )
    return [f["name"] for f in features if f["name"] not in names]


# ---------------------------------------------------------------- plan
def plan_scoring(
    client,
    cfg: DatasetConfig,
    *,
    input_uri: str,
    output_uri: str,
    version: str = "production",
    bucket: str | None = None,
    run_id: str | None = None,
    shards: int = 1,
    chunk_size: int | None = None,
) -> tuple[ScoringPlan, Any]:
    """Resolve the model once, verify and load it, pin the input and cut the shards.

    Returns ``(plan, model)``. Nothing is written.

    Raises
    ------
    RegistryError
        No such alias or version.
    IntegrityError
        The model bytes (or the manifest behind the alias) do not match their recorded sha256.
    InputReadError
        The input is missing, not Parquet, or lacks required columns.
    ConfigError
        A bad ``shards`` or ``chunk_size``.
    """
    from mlops.registry import MODEL_FILE, ModelRegistry

    bucket = bucket or storage.DEFAULT_BUCKET
    chunk_size = int(chunk_size or cfg.scoring.chunk_size)
    try:
        shards = int(shards)
    except (TypeError, ValueError):
        raise ConfigError(
            f"The 'shards' parameter must be an integer >= 1. Got {shards!r} instead."
        ) from None
    if not 1 <= shards <= cfg.scoring.max_shards:
        raise ConfigError(
            f"The 'shards' parameter must be in [1, {cfg.scoring.max_shards}] (scoring.max_shards in "
            f"include/configs/{cfg.name}.yaml). Got {shards} instead."
        )
    if chunk_size < 1:
        raise ConfigError(f"The 'chunk_size' parameter must be >= 1. Got {chunk_size} instead.")
    run_id = str(run_id or f"manual__{_now_iso()}")
    reg = ModelRegistry(client, bucket, cfg.name)
    # The one resolution of this run: every shard, and every retry of a shard, uses this version.
    model_version, manifest = reg.resolve(version)
    model = reg.load_model(model_version, manifest)
    pointer = None if _is_version(version) else reg.pointer(version)  # for the record only
    if pointer is not None and pointer.version != model_version:
        pointer = None  # moved since resolve(): the sequence would describe another version
    model_sha = manifest["artifacts"][MODEL_FILE]["sha256"]
    log.info(
        "model %s: %s -> %s (sha256 %s..., checksum verified)",
        cfg.name,
        version,
        model_version,
        model_sha[:12],
    )
    feats = feature_columns(cfg, manifest, model)

    inp = head_input(client, input_uri)
    pf = open_parquet(client, inp)
    absent = check_input_schema(pf.schema_arrow, feats, cfg.id_column, input_uri)
    if absent:
        log.info("optional features %s are absent from %s: scored as missing", absent, input_uri)
    rows = int(pf.metadata.num_rows)
    cut = plan_shards(rows, chunk_size, shards)
    if len(cut) < shards:
        log.info(
            "shards: asked %d, using %d (%d rows = %d chunk(s) of %d)",
            shards,
            len(cut),
            rows,
            -(-rows // chunk_size),
            chunk_size,
        )
    plan = ScoringPlan(
        dataset=cfg.name,
        registry_bucket=bucket,
        model_ref=str(version),
        model_version=model_version,
        model_sha256=model_sha,
        pointer_sequence=pointer.sequence if pointer else None,
        input_uri=str(input_uri),
        input_version_id=inp.version_id,
        input_etag=inp.etag,
        input_size=inp.size,
        input_rows=rows,
        output_uri=_prefix(output_uri),
        run_id=run_id,
        attempt=attempt_id(
            run_id, model_version, model_sha, inp.version_id or inp.etag, len(cut), chunk_size
        ),
        chunk_size=chunk_size,
        features=tuple(feats),
        shards=tuple(cut),
        created_at=_now_iso(),
    )
    log.info(
        "input %s: %d rows, %d row group(s), VersionId %s; %d shard(s) of <= %d rows; attempt %s",
        input_uri,
        rows,
        pf.metadata.num_row_groups,
        inp.version_id,
        len(cut),
        max(s.rows for s in cut),
        plan.attempt,
    )
    return plan, model


def _is_version(ref: str) -> bool:
    from mlops.registry import is_version_ref

    return is_version_ref(str(ref))


# ---------------------------------------------------------------- streaming read
def iter_chunks(
    pf: pq.ParquetFile, row_start: int, row_end: int, chunk_size: int, columns: list[str] | None = None
) -> Iterator[tuple[int, pa.Table]]:
    """Yield ``(first_row, table)`` for rows ``[row_start, row_end)`` in chunks on the global chunk grid.

    Only the row groups overlapping the range are read. ``row_start`` must lie on the grid
    (a multiple of ``chunk_size``); every chunk but the last of the range has ``chunk_size`` rows.
    """
    import pyarrow as pa

    if row_end <= row_start:
        return
    meta = pf.metadata
    groups, first_row, pos = [], None, 0
    for i in range(meta.num_row_groups):
        n = meta.row_group(i).num_rows
        if pos < row_end and pos + n > row_start:
            groups.append(i)
            first_row = pos if first_row is None else first_row
        pos += n
    pending: list[pa.RecordBatch] = []
    pending_rows, next_start, cursor = 0, row_start, first_row or 0
    for batch in pf.iter_batches(batch_size=chunk_size, row_groups=groups, columns=columns, use_threads=True):
        b0, b1 = cursor, cursor + batch.num_rows
        cursor = b1
        lo, hi = max(b0, row_start), min(b1, row_end)
        if hi > lo:
            pending.append(batch.slice(lo - b0, hi - lo))
            pending_rows += hi - lo
        while pending_rows >= chunk_size or (pending_rows and next_start + pending_rows >= row_end):
            take = min(chunk_size, pending_rows)
            table = pa.Table.from_batches(pending)
            yield next_start, table.slice(0, take)
            rest = table.slice(take)
            pending = rest.to_batches() if rest.num_rows else []
            pending_rows -= take
            next_start += take
        if cursor >= row_end:
            break


def _prefetch(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """Run ``items`` one step ahead in a thread (I/O and decoding overlap the model).

    Closing the returned generator (or an error in the consumer) stops the thread.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as err:  # handed to the consumer
            put(err)

    thread = threading.Thread(target=produce, name="scoring-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)


# ---------------------------------------------------------------- streaming write
class _Sink:
    """Write-only byte sink for ``pq.ParquetWriter`` that hashes what it is given."""

    def __init__(self, uri: str):
        self.uri = uri
        self.closed = False
        self._sha = hashlib.sha256()
        self._size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        pass

    def close(self) -> None:  # pyarrow may call it; commit() finishes the object
        self.closed = True

    def write(self, data) -> int:
        data = bytes(data)
        self._sha.update(data)
        self._size += len(data)
        self._write(data)
        return len(data)

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def commit(self) -> tuple[str, int, str | None]:
        raise NotImplementedError

    def abort(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()


class _LocalSink(_Sink):
    def __init__(self, uri: str):
        super().__init__(uri)
        self._path = Path(uri)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self._path.with_name(self._path.name + ".inprogress")
        self._fh = self._tmp.open("wb")

    def _write(self, data: bytes) -> None:
        self._fh.write(data)

    def commit(self) -> tuple[str, int, str | None]:
        self._fh.close()
        self._tmp.replace(self._path)
        return self._sha.hexdigest(), self._size, None

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)


class _S3Sink(_Sink):
    """Streams into an S3 multipart upload (one part in flight in a thread); a single PUT if small.

    The object becomes visible only when :meth:`commit` completes the upload.
    """

    def __init__(
        self, client, uri: str, *, part_size: int = PART_SIZE, content_type: str = "application/x-parquet"
    ):
        super().__init__(uri)
        self._client = client
        self._bucket, self._key = storage.parse_uri(uri)
        self._part_size = part_size
        self._content_type = content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[str] = []  # ETag of part i + 1
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: Future | None = None

    def _write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= self._part_size:
            self._ship(bytes(self._buffer))
            self._buffer = bytearray()

    def _ship(self, data: bytes) -> None:
        if self._upload_id is None:
            self._upload_id = storage.start_multipart(self._client, self.uri, content_type=self._content_type)
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring-upload")
        self._wait()
        number = len(self._parts) + 1
        self._parts.append("")
        self._inflight = self._pool.submit(self._upload_part, number, data)

    def _upload_part(self, number: int, data: bytes) -> None:
        self._parts[number - 1] = storage.upload_part(self._client, self.uri, self._upload_id, number, data)

    def _wait(self) -> None:
        if self._inflight is not None:
            self._inflight.result()
            self._inflight = None

    def commit(self) -> tuple[str, int, str | None]:
        if self._upload_id is None:
            put = storage.put_bytes(
                self._client, self.uri, bytes(self._buffer), content_type=self._content_type
            )
            return self._sha.hexdigest(), self._size, put.version_id
        if self._buffer:
            self._ship(bytes(self._buffer))
            self._buffer = bytearray()
        self._wait()
        self._pool.shutdown(wait=True)
        put = storage.complete_multipart(self._client, self.uri, self._upload_id, self._parts)
        return self._sha.hexdigest(), self._size, put.version_id

    def abort(self) -> None:
        if self._upload_id is None:
            return
        try:
            self._wait()
        except Exception:  # the upload is being thrown away anyway
            pass
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        try:
            storage.abort_multipart(self._client, self.uri, self._upload_id)
        except Exception as err:
            log.warning("could not abort multipart upload of %s: %s", self.uri, err)


def _open_sink(client, uri: str) -> _Sink:
    return _S3Sink(client, uri) if storage.is_s3(uri) else _LocalSink(uri)


# ---------------------------------------------------------------- chunk scoring
class _ChunkScorer:
    """Coerce one chunk to the model's feature types, score it, and split scored rows from rejects."""

    def __init__(self, model: Any, cfg: DatasetConfig, plan: ScoringPlan):
        import numpy as np
        import pyarrow as pa

        self.model = model
        self.id_column = cfg.id_column
        self.features = [dict(f) for f in plan.features]
        self.model_version = plan.model_version
        self.run_id = plan.run_id
        self.classifier = cfg.is_classifier
        self.has_proba = self.classifier and hasattr(model, "predict_proba")
        if self.classifier:
            classes = np.asarray(model.classes_)
            self.classes = classes
            pred_type = pa.from_numpy_dtype(classes.dtype) if classes.dtype.kind in "biuf" else pa.string()
        else:
            pred_type = pa.float64()
        self.pred_type = pred_type
        self.id_type: pa.DataType | None = None

    def schemas(self, id_type) -> tuple[pa.Schema, pa.Schema]:
        import pyarrow as pa

        self.id_type = id_type
        fields = [pa.field(self.id_column, id_type), pa.field("prediction", self.pred_type)]
        if self.classifier:
            fields.append(pa.field("probability", pa.float64()))
        fields += [pa.field("model_version", pa.string()), pa.field("run_id", pa.string())]
        rejects = pa.schema(
            [
                pa.field(self.id_column, id_type),
                pa.field("row", pa.int64()),
                pa.field("column", pa.string()),
                pa.field("value", pa.string()),
                pa.field("reason", pa.string()),
                pa.field("model_version", pa.string()),
                pa.field("run_id", pa.string()),
            ]
        )
        return pa.schema(fields), rejects

    # -- coercion
    def _numeric(self, arr, name: str, bad: dict[int, tuple[str, str, str, str]]) -> np.ndarray:
        import numpy as np
        import pandas as pd
        import pyarrow as pa
        import pyarrow.compute as pc

        t = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
        if pa.types.is_dictionary(arr.type):
            arr = pc.cast(arr, t)
        if (
            pa.types.is_string(t)
            or pa.types.is_large_string(t)
            or not (
                pa.types.is_integer(t)
                or pa.types.is_floating(t)
                or pa.types.is_boolean(t)
                or pa.types.is_decimal(t)
                or pa.types.is_null(t)
            )
        ):
            text = pd.Series(pc.cast(arr, pa.string()).to_numpy(zero_copy_only=False), dtype=object)
            values = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            missing = (
                text.isna().to_numpy()
                | text.astype(str).str.strip().str.lower().isin(MISSING_TEXT).to_numpy()
            )
            unparsed = np.flatnonzero(np.isnan(values) & ~missing)
            for i in unparsed:
                value = str(text.iloc[i])
                bad.setdefault(
                    int(i),
                    (
                        name,
                        value[:MAX_VALUE_CHARS],
                        f"column {name!r}: value {value[:40]!r} is not a number",
                        f"column {name!r}: not a number",
                    ),
                )
        else:
            values = pc.cast(arr, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
            if values.dtype != np.float64:
                values = values.astype("float64")
        inf = np.flatnonzero(np.isinf(values))
        for i in inf:
            bad.setdefault(
                int(i),
                (
                    name,
                    str(values[i]),
                    f"column {name!r}: value {values[i]} is not finite",
                    f"column {name!r}: not finite",
                ),
            )
        return values

    @staticmethod
    def _categorical(arr) -> np.ndarray:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if arr.type != pa.string() and arr.type != pa.large_string():
            arr = pc.cast(arr, pa.string())
        values = arr.to_numpy(zero_copy_only=False)
        if arr.null_count:
            values = values.copy() if not values.flags.writeable else values
            values[arr.is_null().to_numpy(zero_copy_only=False)] = np.nan
        return values

    def frame(self, table: pa.Table) -> tuple[pd.DataFrame, dict[int, tuple[str, str, str, str]]]:
        """The model input for ``table`` (float64 numerics, object categoricals with NaN) and the bad rows."""
        import numpy as np
        import pandas as pd

        n = table.num_rows
        bad: dict[int, tuple[str, str, str, str]] = {}
        data: dict[str, Any] = {}
        names = set(table.column_names)
        for f in self.features:
            name = f["name"]
            if name not in names:
                data[name] = (
                    np.full(n, np.nan)
                    if f["kind"] == "numeric"
                    else pd.Series(np.full(n, np.nan, dtype=object), dtype=object)
                )
                continue
            arr = table.column(name).combine_chunks()
            if f["kind"] == "numeric":
                data[name] = self._numeric(arr, name, bad)
            else:
                data[name] = pd.Series(self._categorical(arr), dtype=object, copy=False)
        ids = table.column(self.id_column)
        if ids.null_count:
            for i in np.flatnonzero(ids.is_null().to_numpy(zero_copy_only=False)):
                reason = f"id column {self.id_column!r} is null"
                bad.setdefault(int(i), (self.id_column, "", reason, reason))
        return pd.DataFrame(data, copy=False), bad

    # -- prediction
    def _predict(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        import numpy as np

        if self.has_proba:
            proba = np.asarray(self.model.predict_proba(X))
            return self.classes[np.argmax(proba, axis=1)], proba[:, -1].astype("float64")
        pred = np.asarray(self.model.predict(X))
        return pred, None

    def _predict_isolating(
        self, X: pd.DataFrame
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, dict[int, str]]:
        """Predict; if the model raises, bisect to the rows it raises on (bounded by MAX_BISECT_CALLS)."""
        import numpy as np

        if len(X) == 0:
            empty = np.asarray([], dtype=self.classes.dtype if self.classifier else "float64")
            return np.arange(0), empty, (np.asarray([], dtype="float64") if self.has_proba else None), {}
        try:
            pred, prob = self._predict(X)
            return np.arange(len(X)), pred, prob, {}
        except Exception as err:  # the model's own error on this chunk; isolate the rows
            first = err
            calls = [0]
            ok_idx: list[np.ndarray] = []
            preds: list[np.ndarray] = []
            probs: list[np.ndarray] = []
            failed: dict[int, str] = {}

            def visit(lo: int, hi: int) -> None:
                calls[0] += 1
                if calls[0] > MAX_BISECT_CALLS:
                    raise MLOpsError(
                        f"The model raises on most rows of a {len(X)}-row chunk ({type(first).__name__}: {first}); "
                        "this is not a few bad rows. Check the model's expected inputs against the batch."
                    ) from first
                part = X.iloc[lo:hi]
                try:
                    p, q = self._predict(part)
                except Exception as row_err:
                    if hi - lo == 1:
                        failed[lo] = (
                            f"model could not score the row: {type(row_err).__name__}: {str(row_err)[:160]}"
                        )
                        return
                    mid = (lo + hi) // 2
                    visit(lo, mid)
                    visit(mid, hi)
                    return
                ok_idx.append(np.arange(lo, hi))
                preds.append(p)
                if q is not None:
                    probs.append(q)

            visit(0, len(X))
            idx = np.concatenate(ok_idx) if ok_idx else np.arange(0)
            pred = (
                np.concatenate(preds)
                if preds
                else np.asarray([], dtype=self.classes.dtype if self.classifier else "float64")
            )
            prob = (
                np.concatenate(probs)
                if probs
                else (np.asarray([], dtype="float64") if self.has_proba else None)
            )
            return idx, pred, prob, failed

    def score(self, table: pa.Table, first_row: int) -> tuple[pa.Table, pa.Table, Counter]:
        """``(scored rows, rejected rows, reject reasons)`` for one chunk."""
        import numpy as np
        import pyarrow as pa

        n = table.num_rows
        X, bad = self.frame(table)
        keep = np.ones(n, dtype=bool)
        if bad:
            keep[list(bad)] = False
            X = X.iloc[np.flatnonzero(keep)]
        kept = np.flatnonzero(keep)
        idx, pred, prob, failed = self._predict_isolating(X)
        for local, reason in failed.items():
            bad[int(kept[local])] = (
                "",
                "",
                reason,
                reason.split(":")[0] + ": " + reason.split(":")[1].strip(),
            )
        scored_rows = kept[idx]
        ids = table.column(self.id_column)
        m = len(scored_rows)
        if m == n:
            out_ids = ids
        else:
            out_ids = ids.take(pa.array(scored_rows, type=pa.int64()))
        if self.classifier and self.pred_type == pa.string():
            pred_arr = pa.array(np.asarray(pred).astype(str), type=pa.string())
        else:
            pred_arr = pa.array(np.asarray(pred), type=self.pred_type)
        cols = [out_ids, pred_arr]
        if self.classifier:
            cols.append(pa.array(prob, type=pa.float64()) if prob is not None else pa.nulls(m, pa.float64()))
        cols += [pa.repeat(pa.scalar(self.model_version), m), pa.repeat(pa.scalar(self.run_id), m)]
        scored = pa.Table.from_arrays(cols, schema=self._out_schema)
        rejected_rows = sorted(bad)
        reasons: Counter = Counter()
        if rejected_rows:
            columns, values, texts = [], [], []
            for r in rejected_rows:
                col, val, reason, key = bad[r]
                columns.append(col or None)
                values.append(val if val != "" else None)
                texts.append(reason)
                reasons[key] += 1
            k = len(rejected_rows)
            rejects = pa.Table.from_arrays(
                [
                    ids.take(pa.array(rejected_rows, type=pa.int64())),
                    pa.array(np.asarray(rejected_rows, dtype="int64") + first_row, type=pa.int64()),
                    pa.array(columns, type=pa.string()),
                    pa.array(values, type=pa.string()),
                    pa.array(texts, type=pa.string()),
                    pa.repeat(pa.scalar(self.model_version), k),
                    pa.repeat(pa.scalar(self.run_id), k),
                ],
                schema=self._rejects_schema,
            )
        else:
            rejects = self._rejects_schema.empty_table()
        return scored, rejects, reasons

    def bind(self, id_type) -> tuple[pa.Schema, pa.Schema]:
        self._out_schema, self._rejects_schema = self.schemas(id_type)
        return self._out_schema, self._rejects_schema


# ---------------------------------------------------------------- shard
class _Progress:
    def __init__(self, label: str, total: int, interval: float):
        self.label, self.total, self.interval = label, total, interval
        self.started = time.perf_counter()
        self.last = self.started

    def update(self, done: int, rejected: int, *, final: bool = False) -> None:
        now = time.perf_counter()
        if not final and now - self.last < self.interval:
            return
        self.last = now
        elapsed = max(now - self.started, 1e-9)
        rate = done / elapsed
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        pct = 100.0 * done / self.total if self.total else 100.0
        log.info(
            "%s: %d/%d rows (%.1f%%), %.0f rows/s, ETA %.1fs, %d rejected",
            self.label,
            done,
            self.total,
            pct,
            rate,
            eta,
            rejected,
        )


def score_shard(
    client,
    cfg: DatasetConfig,
    plan: ScoringPlan | Mapping[str, Any],
    shard_index: int | None = None,
    *,
    model: Any = None,
    on_chunk: Callable[[ChunkProgress], None] | None = None,
) -> ShardResult:
    """Score one shard of a plan and write its part and rejects objects (not published).

    The model is the plan's pinned version (loaded and checksum-verified here unless given).
    A retry writes the same keys with the same bytes. ``on_chunk`` is called after each chunk.

    Raises
    ------
    InputReadError
        The pinned input changed, disappeared, or no longer matches the plan.
    IntegrityError
        The model artifact does not match its manifest or the plan.
    """
    import pyarrow.parquet as pq

    if not isinstance(plan, ScoringPlan):
        if shard_index is None and "shard_index" in plan:
            shard_index = int(plan["shard_index"])
        plan = ScoringPlan.from_dict(plan)
    shard_index = int(shard_index or 0)
    if not 0 <= shard_index < plan.num_shards:
        raise ConfigError(
            f"The 'shard_index' parameter must be in [0, {plan.num_shards}). Got {shard_index} instead."
        )
    shard = plan.shards[shard_index]
    if plan.dataset != cfg.name:
        raise ConfigError(f"The plan is for dataset {plan.dataset!r} but the config is {cfg.name!r}.")
    started = time.perf_counter()
    if model is None:
        model, _ = _load_model(client, plan)
    inp = InputObject(plan.input_uri, plan.input_version_id, plan.input_etag, plan.input_size)
    pf = open_parquet(client, inp)
    if pf.metadata.num_rows != plan.input_rows:
        raise InputReadError(
            f"{plan.input_uri} has {pf.metadata.num_rows} rows but the plan pinned {plan.input_rows}; the input "
            "changed after planning. Re-run the scoring DAG."
        )
    check_input_schema(pf.schema_arrow, list(plan.features), cfg.id_column, plan.input_uri)
    present = set(pf.schema_arrow.names)
    columns = [cfg.id_column] + [f["name"] for f in plan.features if f["name"] in present]
    scorer = _ChunkScorer(model, cfg, plan)
    id_type = pf.schema_arrow.field(cfg.id_column).type
    out_schema, rej_schema = scorer.bind(id_type)
    part_uri = _join(plan.output_uri, plan.part_path(shard_index))
    rej_uri = _join(plan.output_uri, plan.rejects_path(shard_index))
    label = f"shard {shard_index + 1}/{plan.num_shards} of {plan.input_uri}"
    progress = _Progress(label, shard.rows, cfg.scoring.progress_interval_seconds)
    log.info(
        "%s: rows [%d, %d) with %s %s in chunks of %d -> %s",
        label,
        shard.row_start,
        shard.row_end,
        cfg.name,
        plan.model_version,
        plan.chunk_size,
        part_uri,
    )
    done = scored = rejected = 0
    reasons: Counter = Counter()
    with _open_sink(client, part_uri) as part_sink, _open_sink(client, rej_uri) as rej_sink:
        writer = pq.ParquetWriter(part_sink, out_schema, compression="snappy")
        rej_writer = pq.ParquetWriter(rej_sink, rej_schema, compression="snappy")
        chunks = _prefetch(iter_chunks(pf, shard.row_start, shard.row_end, plan.chunk_size, columns))
        try:
            for k, (first_row, table) in enumerate(chunks):
                out, rej, why = scorer.score(table, first_row)
                writer.write_table(out)
                if rej.num_rows:
                    rej_writer.write_table(rej)
                done += table.num_rows
                scored += out.num_rows
                rejected += rej.num_rows
                reasons.update(why)
                progress.update(done, rejected)
                if on_chunk is not None:
                    on_chunk(
                        ChunkProgress(
                            shard_index,
                            k,
                            first_row,
                            done,
                            shard.rows,
                            scored,
                            rejected,
                            time.perf_counter() - started,
                        )
                    )
        finally:
            chunks.close()
            writer.close()
            rej_writer.close()
        if done != shard.rows:
            raise InputReadError(
                f"{plan.input_uri} yielded {done} rows for shard {shard_index} but the plan expects {shard.rows} "
                f"(rows [{shard.row_start}, {shard.row_end})); the file is inconsistent. Re-export the batch."
            )
        part_sha, part_size, part_vid = part_sink.commit()
        rej_sha, rej_size, rej_vid = rej_sink.commit()
    progress.update(done, rejected, final=True)
    seconds = round(time.perf_counter() - started, 3)
    log.info("wrote %s (%d rows) and %s (%d rejected) in %.1fs", part_uri, scored, rej_uri, rejected, seconds)
    return ShardResult(
        dataset=plan.dataset,
        output_uri=plan.output_uri,
        run_id=plan.run_id,
        attempt=plan.attempt,
        model_ref=plan.model_ref,
        model_version=plan.model_version,
        model_sha256=plan.model_sha256,
        input_uri=plan.input_uri,
        input_version_id=plan.input_version_id,
        input_rows=plan.input_rows,
        shard_index=shard_index,
        num_shards=plan.num_shards,
        row_start=shard.row_start,
        row_end=shard.row_end,
        rows_in=done,
        rows_scored=scored,
        rows_rejected=rejected,
        part=PartInfo(plan.part_path(shard_index), part_uri, scored, part_size, part_sha, part_vid),
        rejects=PartInfo(plan.rejects_path(shard_index), rej_uri, rejected, rej_size, rej_sha, rej_vid),
        seconds=seconds,
        reject_reasons=dict(reasons.most_common(10)),
    )


# ---------------------------------------------------------------- publish
def success_uri(output_uri: str) -> str:
    return _join(output_uri, SUCCESS_FILE)


def _object_exists_with_size(client, uri: str, size: int) -> bool:
    meta = storage.head(client, uri)
    return meta is not None and int(meta.get("ContentLength", -1)) == int(size)


def publish_partition(
    client,
    cfg: DatasetConfig,
    shard_results: list[ShardResult | Mapping[str, Any]],
    *,
    max_reject_fraction: float | None = None,
) -> ScoringResult:
    """Check the shards, enforce the reject share, write ``_SUCCESS`` last, then drop stale objects.

    Raises
    ------
    TooManyRejects
        The reject share is above ``max_reject_fraction`` (default: the config's). Nothing is published.
    MLOpsError
        Shards are missing, duplicated, disagree on the model or the input, or a listed part is missing.
    """
    started = time.perf_counter()
    results = sorted(
        (r if isinstance(r, ShardResult) else ShardResult.from_dict(r) for r in shard_results),
        key=lambda r: r.shard_index,
    )
    if not results:
        raise MLOpsError(
            "publish_partition got no shard results; the scoring tasks produced nothing to publish."
        )
    first = results[0]
    n = first.num_shards
    indices = [r.shard_index for r in results]
    if indices != list(range(n)):
        raise MLOpsError(
            f"Shard results cover shards {indices} but the plan has {n} shard(s) (0..{n - 1}); "
            "a scoring task is missing or ran twice. Re-run the scoring DAG."
        )
    for field_name in (
        "output_uri",
        "run_id",
        "attempt",
        "model_version",
        "model_sha256",
        "input_uri",
        "input_version_id",
        "num_shards",
        "dataset",
    ):
        values = {str(getattr(r, field_name)) for r in results}
        if len(values) > 1:
            raise MLOpsError(
                f"Shards disagree on {field_name}: {sorted(values)}; every shard of a run must use the plan of "
                "that run. Re-run the scoring DAG."
            )
    max_frac = cfg.scoring.max_reject_fraction if max_reject_fraction is None else float(max_reject_fraction)
    rows_in = sum(r.rows_in for r in results)
    rows_scored = sum(r.rows_scored for r in results)
    rows_rejected = sum(r.rows_rejected for r in results)
    if rows_in != first.input_rows:
        raise MLOpsError(
            f"Shards scored {rows_in} rows but the input has {first.input_rows}; re-run the scoring DAG."
        )
    fraction = rows_rejected / rows_in if rows_in else 0.0
    reasons: Counter = Counter()
    for r in results:
        reasons.update(r.reject_reasons)
    verdict = "pass" if fraction <= max_frac else "FAIL"
    log.info(
        "check reject share: %.4f (%d of %d rows) <= max %.4f -> %s",
        fraction,
        rows_rejected,
        rows_in,
        max_frac,
        verdict,
    )
    if fraction > max_frac:
        raise TooManyRejects(
            f"{rows_rejected} of {rows_in} rows ({fraction:.2%}) of {first.input_uri} could not be scored "
            f"(max {max_frac:.2%}); top reasons: {dict(reasons.most_common(3))}. Nothing was published; see the "
            f"rejects in {[r.rejects.uri for r in results if r.rows_rejected]}. Fix the batch, or raise "
            f"scoring.max_reject_fraction in include/configs/{cfg.name}.yaml."
        )
    listed = [r.part for r in results] + [r.rejects for r in results]
    for part in listed:
        if not _object_exists_with_size(client, part.uri, part.bytes):
            raise MLOpsError(
                f"{part.uri} is missing or has a different size than its shard wrote ({part.bytes} bytes); "
                "another writer touched this partition. Re-run the scoring DAG."
            )
    out = _prefix(first.output_uri)
    manifest = {
        "format": FORMAT,
        "dataset": first.dataset,
        "partition_uri": out,
        "run_id": first.run_id,
        "attempt": first.attempt,
        "published_at": _now_iso(),
        "model": {
            "name": first.dataset,
            "ref": first.model_ref,
            "version": first.model_version,
            "sha256": first.model_sha256,
        },
        "input": {"uri": first.input_uri, "version_id": first.input_version_id, "rows": first.input_rows},
        "rows": {
            "input": rows_in,
            "scored": rows_scored,
            "rejected": rows_rejected,
            "reject_fraction": round(fraction, 6),
            "max_reject_fraction": max_frac,
        },
        "shards": n,
        "parts": [
            {**asdict(r.part), "shard": r.shard_index, "row_start": r.row_start, "row_end": r.row_end}
            for r in results
        ],
        "rejects": [{**asdict(r.rejects), "shard": r.shard_index} for r in results],
        "reject_reasons": dict(reasons.most_common(10)),
    }
    marker = success_uri(out)
    storage.put_json(client, marker, manifest)
    keep = {marker} | {p.uri for p in listed}
    stale = [u for u in storage.list_uris(client, out) if u not in keep]
    for uri in stale:
        if storage.is_s3(uri):
            storage.delete(client, uri)
        else:
            Path(uri).unlink(missing_ok=True)
    if stale:
        log.info("removed %d stale object(s) of earlier attempts from %s", len(stale), out)
    log.info(
        "published %s: %d rows scored by %s %s, %d rejected, %d shard(s)",
        marker,
        rows_scored,
        first.dataset,
        first.model_version,
        rows_rejected,
        n,
    )
    return ScoringResult(
        dataset=first.dataset,
        output_uri=out,
        success_uri=marker,
        run_id=first.run_id,
        attempt=first.attempt,
        model_ref=first.model_ref,
        model_version=first.model_version,
        input_uri=first.input_uri,
        input_version_id=first.input_version_id,
        rows_in=rows_in,
        rows_scored=rows_scored,
        rows_rejected=rows_rejected,
        reject_fraction=round(fraction, 6),
        max_reject_fraction=max_frac,
        num_shards=n,
        part_uris=[r.part.uri for r in results],
        rejects_uris=[r.rejects.uri for r in results],
        stale_removed=len(stale),
        seconds=round(time.perf_counter() - started + sum(r.seconds for r in results), 3),
    )


# ---------------------------------------------------------------- one call
def score_batch(
    client,
    cfg: DatasetConfig,
    *,
    input_uri: str,
    output_uri: str,
    version: str = "production",
    bucket: str | None = None,
    run_id: str | None = None,
    shards: int = 1,
    chunk_size: int | None = None,
    max_reject_fraction: float | None = None,
    on_chunk: Callable[[ChunkProgress], None] | None = None,
) -> ScoringResult:
    """Plan, score every shard (in turn) and publish: the whole run in one process.

    The model reference is resolved once, before the first chunk; a pointer moved during
    the run does not change which model scores the remaining chunks.
    """
    plan, model = plan_scoring(
        client,
        cfg,
        input_uri=input_uri,
        output_uri=output_uri,
        version=version,
        bucket=bucket,
        run_id=run_id,
        shards=shards,
        chunk_size=chunk_size,
    )
    results = [score_shard(client, cfg, plan, s.index, model=model, on_chunk=on_chunk) for s in plan.shards]
    return publish_partition(client, cfg, results, max_reject_fraction=max_reject_fraction)


# ---------------------------------------------------------------- readers
def read_success(client, partition_uri: str) -> dict[str, Any]:
    """The ``_SUCCESS`` manifest of a partition.

    Raises
    ------
    PartitionNotPublished
        If the partition has none (never scored, or being written).
    """
    marker = success_uri(partition_uri)
    try:
        return json.loads(storage.get_bytes(client, marker))
    except InputReadError as err:
        raise PartitionNotPublished(
            f"{_prefix(partition_uri)} is not a published predictions partition (no {SUCCESS_FILE}); run the "
            "scoring DAG for that date first."
        ) from err


def _read_listed(client, entries: list[dict[str, Any]], verify: bool) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for entry in entries:
        data = storage.get_bytes(client, entry["uri"])
        if verify and storage.sha256_bytes(data) != entry["sha256"]:
            raise IntegrityError(
                f"{entry['uri']} has sha256 {storage.sha256_bytes(data)} but _SUCCESS lists {entry['sha256']}; "
                "the partition was modified after publishing. Re-run the scoring DAG for that date."
            )
        tables.append(pq.read_table(pa.BufferReader(data)))
    if not tables:
        return pd.DataFrame()
    return pa.concat_tables(tables).to_pandas()


def read_predictions(client, partition_uri: str, *, verify: bool = True) -> pd.DataFrame:
    """All predictions of a published partition, in input row order (only the parts ``_SUCCESS`` lists)."""
    return _read_listed(client, read_success(client, partition_uri)["parts"], verify)


def read_rejects(client, partition_uri: str, *, verify: bool = True) -> pd.DataFrame:
    """The rejected rows of a published partition with their reasons."""
    return _read_listed(client, read_success(client, partition_uri)["rejects"], verify)


def published_part_uris(client, partition_uri: str) -> list[str]:
    """The prediction part URIs a reader may trust (from ``_SUCCESS``)."""
    return [p["uri"] for p in read_success(client, partition_uri)["parts"]]


__all__ = [
    "ChunkProgress",
    "PartInfo",
    "PartitionNotPublished",
    "ScoringPlan",
    "ScoringResult",
    "Shard",
    "ShardResult",
    "TooManyRejects",
    "feature_columns",
    "head_input",
    "iter_chunks",
    "open_parquet",
    "plan_scoring",
    "plan_shards",
    "publish_partition",
    "read_predictions",
    "read_rejects",
    "read_success",
    "published_part_uris",
    "score_batch",
    "score_shard",
    "success_uri",
]

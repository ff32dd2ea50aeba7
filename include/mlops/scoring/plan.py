"""Planning a scoring run: resolve the model once, pin the input, cut the shards.

:func:`plan_scoring` resolves the model reference (``"production"`` or ``"v0007"``) **once**
through :mod:`mlops.models` (the manifest behind an alias is checked against the sha256 the
pointer recorded; ``model.skops`` against the manifest), pins the input object, checks its
Parquet schema against the model's :class:`~mlops.artifacts.FeatureSignature` and cuts the rows
into shards on the chunk grid. Nothing is written. The :class:`ScoringPlan` it returns is
the XCom every shard task gets, so every shard, and every retry of a shard, scores with the
same model version and the same input version.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

from mlops import artifacts, models, storage
from mlops.artifacts import FeatureColumn, FeatureSignature
from mlops.config import DatasetConfig
from mlops.errors import ConfigError, InputReadError, IntegrityError, MLOpsError
from mlops.scoring.chunk import positive_column
from mlops.scoring.io import InputObject, head_input, open_parquet

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

log = logging.getLogger(__name__)


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
    """Everything a shard needs, fixed once per run: model version, pinned input, features, shards.

    ``bucket`` is the registry bucket, ``model_ref`` what was asked (``production`` or
    ``v0007``), ``model_version`` what it resolved to; ``features`` is the model's input in
    the order it expects.
    """

    dataset: str
    bucket: str
    model_ref: str
    model_version: str
    model_sha256: str
    manifest_sha256: str
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
    features: tuple[FeatureColumn, ...]
    shards: tuple[Shard, ...]
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["features"] = [f.to_dict() for f in self.features]
        data["shards"] = [asdict(s) for s in self.shards]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoringPlan:
        """The plan from :meth:`to_dict` or :meth:`for_shard` output (``shard_index`` is ignored)."""
        names = {f.name for f in fields(cls)}
        given = {k: v for k, v in data.items() if k != "shard_index"}
        if set(given) != names:
            raise MLOpsError(
                f"Not a scoring plan: missing {sorted(names - set(given))}, unknown {sorted(set(given) - names)}; "
                "pass an element of plan_scoring's output (re-run the scoring DAG after an upgrade)."
            )
        given["features"] = tuple(
            FeatureColumn.from_dict(f, source="scoring plan") for f in given["features"]
        )
        given["shards"] = tuple(Shard(**s) for s in given["shards"])
        return cls(**given)

    def for_shard(self, index: int) -> dict[str, Any]:
        """The plan as a JSON-safe dict plus ``shard_index``: one element of the DAG's mapped input."""
        return {**self.to_dict(), "shard_index": int(index)}

    def shard_inputs(self) -> list[dict[str, Any]]:
        return [self.for_shard(s.index) for s in self.shards]

    @property
    def num_shards(self) -> int:
        return len(self.shards)

    @property
    def input(self) -> InputObject:
        return InputObject(self.input_uri, self.input_version_id, self.input_etag, self.input_size)

    def part_uri(self, index: int) -> str:
        return self.output_uri + artifacts.part_path(self.attempt, index, self.num_shards)

    def rejects_uri(self, index: int) -> str:
        return self.output_uri + artifacts.rejects_path(self.attempt, index, self.num_shards)


# ---------------------------------------------------------------- the cut
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


def _checked_cut(cfg: DatasetConfig, shards: Any, chunk_size: int | None) -> tuple[int, int]:
    """``(shards, chunk_size)`` checked against the config's ``scoring`` section."""
    chunk = int(chunk_size or cfg.scoring.chunk_size)
    try:
        count = int(shards)
    except (TypeError, ValueError):
        raise ConfigError(
            f"The 'shards' parameter must be an integer >= 1. Got {shards!r} instead."
        ) from None
    if not 1 <= count <= cfg.scoring.max_shards:
        raise ConfigError(
            f"The 'shards' parameter must be in [1, {cfg.scoring.max_shards}] (scoring.max_shards in "
            f"include/configs/{cfg.name}.yaml). Got {count} instead."
        )
    if chunk < 1:
        raise ConfigError(f"The 'chunk_size' parameter must be >= 1. Got {chunk} instead.")
    return count, chunk


# ---------------------------------------------------------------- model and features
#: The dtype each feature kind is described with (as training records it).
KIND_DTYPES = {"numeric": "float64", "categorical": "object", "boolean": "bool"}


def _config_columns(cfg: DatasetConfig) -> list[FeatureColumn]:
    columns = []
    for c in cfg.feature_columns:
        kind = cfg.features.kind_of(c) or "categorical"
        columns.append(FeatureColumn(c, kind, KIND_DTYPES[kind], c in cfg.features.optional))
    return columns


def feature_columns(
    cfg: DatasetConfig, signature: FeatureSignature | None = None, model: Any = None
) -> list[FeatureColumn]:
    """The model's input columns in the order the model expects.

    The version's feature signature (recorded at training, read from its manifest) describes
    them; a version published without one falls back to the dataset config. The order follows
    the model's ``feature_names_in_`` when it has one.

    Raises
    ------
    ConfigError
        If the model expects a column that the signature (or the config) does not describe.
    """
    feats = list(signature.columns) if signature is not None else _config_columns(cfg)
    names_in = getattr(model, "feature_names_in_", None)
    if names_in is None:
        return feats
    by_name = {f.name: f for f in feats}
    unknown = [str(n) for n in names_in if str(n) not in by_name]
    if unknown:
        source = "its feature signature" if signature is not None else f"include/configs/{cfg.name}.yaml"
        raise ConfigError(
            f"The model expects columns {unknown} that are not in {source}; "
            "re-train the model or add them to the config's features."
        )
    return [by_name[str(n)] for n in names_in]


def load_planned_model(client: Any, plan: ScoringPlan) -> Any:
    """The plan's model version, loaded through :mod:`mlops.models` and checked against the plan.

    Raises
    ------
    IntegrityError
        The manifest (or the model bytes) changed since planning.
    RegistryError
        The version has no smoke-check record for this manifest.
    """
    resolved = models.resolve(client, plan.bucket, plan.dataset, plan.model_version, require_checked=True)
    if (resolved.manifest_sha256, resolved.manifest.model_sha256) != (
        plan.manifest_sha256,
        plan.model_sha256,
    ):
        raise IntegrityError(
            f"{plan.dataset} {plan.model_version} now has manifest sha256 {resolved.manifest_sha256} and model "
            f"sha256 {resolved.manifest.model_sha256}, but this run was planned with {plan.manifest_sha256} and "
            f"{plan.model_sha256}; the version was changed after planning. Re-run the scoring DAG."
        )
    return models.load_model(client, resolved.manifest)


def _resolve_model(
    client: Any, cfg: DatasetConfig, bucket: str, ref: str
) -> tuple[models.ResolvedVersion, Any]:
    """The one resolution of this run, and the verified model.

    Only a version whose model passed the registry's smoke prediction in a child process
    (its ``checks/vNNNN.json`` for this manifest) is deserialized here.
    """
    resolved = models.resolve(client, bucket, cfg.name, ref, require_checked=True)
    model = models.load_model(client, resolved.manifest)
    log.info(
        "model %s: %s -> %s (sha256 %s..., checksum verified)",
        cfg.name,
        ref,
        resolved.version,
        resolved.manifest.model_sha256[:12],
    )
    column = positive_column(cfg, model)
    if cfg.is_classifier and column is None and len(getattr(model, "classes_", ())) > 2:
        log.info(
            "multiclass model: %d classes %s, one proba_<class> column each",
            len(model.classes_),
            list(model.classes_),
        )
    if column is not None:
        log.info(
            "positive class %r: probability column %d of %s", model.classes_[column], column, model.classes_
        )
    return resolved, model


# ---------------------------------------------------------------- input schema
def _holds_scalars(arrow_type: pa.DataType) -> bool:
    """Whether a column of this type can feed a feature: numbers and booleans are cast, text is parsed.

    Both kinds accept the same types (a numeric feature parses text, a categorical one reads
    numbers as labels); timestamps, binary, lists and structs are refused.
    """
    import pyarrow as pa

    t = arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type
    checks = (
        pa.types.is_string,
        pa.types.is_large_string,
        pa.types.is_string_view,
        pa.types.is_integer,
        pa.types.is_floating,
        pa.types.is_boolean,
        pa.types.is_decimal,
        pa.types.is_null,
    )
    return any(check(t) for check in checks)


def check_input_schema(
    schema: pa.Schema, features: list[FeatureColumn], id_column: str, uri: str
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
    missing = [f.name for f in features if f.name not in names and not f.optional]
    if missing:
        raise InputReadError(
            f"{uri} lacks required feature columns {missing} (columns: {schema.names[:25]}); the model cannot "
            "score it. Fix the upstream export, or mark them optional in the dataset config and re-train."
        )
    for f in features:
        if f.name in names and not _holds_scalars(schema.field(f.name).type):
            raise InputReadError(
                f"Column {f.name!r} of {uri} has type {schema.field(f.name).type}, which cannot hold a "
                f"{f.kind} feature (expected a number or text). Fix the upstream export."
            )
    return [f.name for f in features if f.name not in names]


def _pin_input(
    client: Any, cfg: DatasetConfig, input_uri: str, feats: list[FeatureColumn]
) -> tuple[InputObject, pq.ParquetFile]:
    inp = head_input(client, input_uri)
    pf = open_parquet(client, inp)
    absent = check_input_schema(pf.schema_arrow, feats, cfg.id_column, input_uri)
    if absent:
        log.info("optional features %s are absent from %s: scored as missing", absent, input_uri)
    return inp, pf


# ---------------------------------------------------------------- plan
def _cut(rows: int, chunk_size: int, shards: int) -> list[Shard]:
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
    return cut


def plan_scoring(
    client: Any,
    cfg: DatasetConfig,
    *,
    input_uri: str,
    output_uri: str,
    version: str = artifacts.PRODUCTION,
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
        No such alias or version, or the version never passed the registry's smoke check.
    IntegrityError
        The model bytes (or the manifest behind the alias) do not match their recorded sha256.
    InputReadError
        The input is missing, not Parquet, or lacks required columns.
    ConfigError
        A bad ``shards`` or ``chunk_size``, or a ``positive_class`` that is not one of the model's classes.
    """
    bucket = bucket or storage.DEFAULT_BUCKET
    shards, chunk_size = _checked_cut(cfg, shards, chunk_size)
    run_id = str(run_id or f"manual__{artifacts.utc_now_iso()}")
    resolved, model = _resolve_model(client, cfg, bucket, str(version))
    feats = feature_columns(cfg, resolved.manifest.feature_signature, model)
    inp, pf = _pin_input(client, cfg, input_uri, feats)
    rows = int(pf.metadata.num_rows)
    cut = _cut(rows, chunk_size, shards)
    model_sha = resolved.manifest.model_sha256
    plan = ScoringPlan(
        dataset=cfg.name,
        bucket=bucket,
        model_ref=str(version),
        model_version=resolved.version,
        model_sha256=model_sha,
        manifest_sha256=resolved.manifest_sha256,
        pointer_sequence=resolved.pointer.pointer.sequence if resolved.pointer else None,
        input_uri=str(input_uri),
        input_version_id=inp.version_id,
        input_etag=inp.etag,
        input_size=inp.size,
        input_rows=rows,
        output_uri=str(output_uri) if str(output_uri).endswith("/") else f"{output_uri}/",
        run_id=run_id,
        attempt=attempt_id(
            run_id, resolved.version, model_sha, inp.version_id or inp.etag, len(cut), chunk_size
        ),
        chunk_size=chunk_size,
        features=tuple(feats),
        shards=tuple(cut),
        created_at=artifacts.utc_now_iso(),
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

"""Artifacts of batch scoring: the feature signature a model scores, and the ``_SUCCESS`` manifest.

The :class:`FeatureSignature` is recorded at training (in ``training.json`` and the version
manifest) and is the one description of the model's input that scoring and the registry's
smoke prediction read.

Layout of one partition (:func:`mlops.artifacts.predictions_prefix`)::

    predictions/<dataset>/<day>/
        _SUCCESS                                      SuccessMarker, written LAST
        attempt=<a>/part-00000-of-00002.parquet       part_path(a, 0, 2)
        attempt=<a>/rejects-00000-of-00002.parquet    rejects_path(a, 0, 2)

Readers trust only ``_SUCCESS``: a partition without it is not published, and only the
parts it lists (checked against their sha256) belong to it. A part holds the id, ``prediction``,
``probability`` (binary: the positive class) or one ``proba_<class>`` column per class
(multiclass, :func:`proba_column`), ``model_version`` and ``run_id``. The old ``format`` string
(``mlops.predictions/v1``) is now ``kind`` + ``schema_version``; there is one shape, and no
reader lists the prefix for ``*.parquet`` any more.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, ClassVar

from mlops.artifacts.base import Artifact, Record, check_choice, check_utc_iso, nested_list, utc_now_iso
from mlops.errors import ArtifactSchemaError

SUCCESS_FILE = "_SUCCESS"
#: The kinds of model input columns (``features:`` in the dataset config).
FEATURE_KINDS = ("numeric", "categorical", "boolean")


def _prefix(uri: str) -> str:
    return uri if uri.endswith("/") else uri + "/"


def success_uri(partition_uri: str) -> str:
    """``<partition>/_SUCCESS``."""
    return _prefix(partition_uri) + SUCCESS_FILE


#: A multiclass classifier's predictions carry one probability column per class, ``proba_<class>``.
PROBA_PREFIX = "proba_"


def proba_column(label: Any) -> str:
    """The predictions column of one class's probability: ``proba_<class>`` (``proba_2``, ``proba_red``)."""
    return f"{PROBA_PREFIX}{label}"


def proba_columns(columns: Any) -> dict[str, str]:
    """``{class as str: column}`` of the ``proba_<class>`` columns among ``columns``, in column order."""
    return {str(c)[len(PROBA_PREFIX) :]: str(c) for c in columns if str(c).startswith(PROBA_PREFIX)}


def part_path(attempt: str, index: int, count: int) -> str:
    """A predictions part, relative to the partition: ``attempt=<a>/part-00000-of-00002.parquet``."""
    return f"attempt={attempt}/part-{index:05d}-of-{count:05d}.parquet"


def rejects_path(attempt: str, index: int, count: int) -> str:
    """A rejects file, relative to the partition: ``attempt=<a>/rejects-00000-of-00002.parquet``."""
    return f"attempt={attempt}/rejects-{index:05d}-of-{count:05d}.parquet"


# ---------------------------------------------------------------- feature signature
@dataclasses.dataclass(frozen=True)
class FeatureColumn(Record):
    """One model input column. ``kind`` is ``numeric`` (dtype float64), ``categorical`` (object) or
    ``boolean`` (bool; the model sees it as 1.0/0.0, see :func:`mlops.models.boolean_values`)."""

    name: str
    kind: str
    dtype: str
    optional: bool

    def __post_init__(self) -> None:
        check_choice("FeatureColumn", "kind", self.kind, FEATURE_KINDS)


@dataclasses.dataclass(frozen=True)
class FeatureSignature(Artifact):
    """The input a model expects, in the order it expects it, plus a sha256 of the columns.

    The one shape every reader uses (the scoring feature coercion, the registry smoke
    prediction): ``columns`` as :class:`FeatureColumn`. Embedded in ``training.json`` and in
    the version manifest. Build it with :meth:`of`; the hash is checked on construction.
    """

    KIND: ClassVar[str] = "feature_signature"

    columns: list[FeatureColumn]
    sha256: str

    def __post_init__(self) -> None:
        expected = self.hash_columns(self.columns)
        if self.sha256 != expected:
            raise ArtifactSchemaError(
                f"feature_signature sha256 {self.sha256!r} does not match its columns ({expected}); "
                "the signature was edited. Rebuild it with FeatureSignature.of(columns)."
            )

    @staticmethod
    def hash_columns(columns: list[FeatureColumn]) -> str:
        """sha256 of the columns as sorted JSON (the hash training recorded before the contract)."""
        data = [c.to_dict() for c in columns]
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    @classmethod
    def of(cls, columns: list[FeatureColumn]) -> FeatureSignature:
        return cls(columns=list(columns), sha256=cls.hash_columns(list(columns)))

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> FeatureSignature:
        fields["columns"] = nested_list(FeatureColumn, fields["columns"], source, "columns")
        return cls(**fields)


# ---------------------------------------------------------------- _SUCCESS
@dataclasses.dataclass(frozen=True)
class PartEntry(Record):
    """One Parquet object of the partition, written by shard ``shard`` for input rows
    ``[row_start, row_end)``: its path relative to the partition, URI, row count, ``size``
    in bytes (was ``bytes``), sha256 and S3 VersionId (was ``s3_version_id``)."""

    path: str
    uri: str
    rows: int
    size: int
    sha256: str
    version_id: str | None
    shard: int
    row_start: int
    row_end: int


@dataclasses.dataclass(frozen=True)
class SuccessMarker(Artifact):
    """``_SUCCESS``: a published predictions partition (one PUT, so readers see old or new).

    The former nested objects are flat fields: ``model`` -> ``model_ref`` (what was asked,
    ``production`` or ``v0007``), ``model_version``, ``model_sha256``; ``input`` ->
    ``input_uri``, ``input_version_id``; ``rows`` -> ``rows_in`` (== the input's rows),
    ``rows_scored``, ``rows_rejected``, ``reject_fraction``, ``max_reject_fraction``;
    ``shards`` -> ``num_shards``. ``parts`` and ``rejects`` have one entry per shard, in
    shard order (rejects entries now carry their shard's row range too).
    """

    KIND: ClassVar[str] = "predictions_success"

    dataset: str
    partition_uri: str
    run_id: str
    attempt: str
    published_at: str
    model_ref: str
    model_version: str
    model_sha256: str
    input_uri: str
    input_version_id: str | None
    rows_in: int
    rows_scored: int
    rows_rejected: int
    reject_fraction: float
    max_reject_fraction: float
    num_shards: int
    parts: list[PartEntry]
    rejects: list[PartEntry]
    reject_reasons: dict[str, int]

    def __post_init__(self) -> None:
        check_utc_iso("predictions_success", "published_at", self.published_at)
        if not self.partition_uri.endswith("/"):
            raise ArtifactSchemaError(
                f"predictions_success partition_uri must end with '/'. Got {self.partition_uri!r} instead."
            )
        for name in ("parts", "rejects"):
            shards = [p.shard for p in getattr(self, name)]
            if shards != list(range(self.num_shards)):
                raise ArtifactSchemaError(
                    f"predictions_success of {self.partition_uri}: {name} cover shards {shards}, expected "
                    f"0..{self.num_shards - 1} in order."
                )
        if self.rows_scored + self.rows_rejected != self.rows_in:
            raise ArtifactSchemaError(
                f"predictions_success of {self.partition_uri}: {self.rows_scored} scored + "
                f"{self.rows_rejected} rejected != {self.rows_in} input rows."
            )

    @property
    def part_uris(self) -> list[str]:
        """The prediction part URIs a reader may trust, in shard (= input row) order."""
        return [p.uri for p in self.parts]

    @property
    def rejects_uris(self) -> list[str]:
        return [p.uri for p in self.rejects]

    @classmethod
    def new(cls, **fields: Any) -> SuccessMarker:
        """A marker published now (``published_at`` filled)."""
        return cls(**{"published_at": utc_now_iso(), **fields})

    @classmethod
    def _from_fields(cls, fields: dict[str, Any], *, source: str = "") -> SuccessMarker:
        fields["parts"] = nested_list(PartEntry, fields["parts"], source, "parts")
        fields["rejects"] = nested_list(PartEntry, fields["rejects"], source, "rejects")
        return cls(**fields)

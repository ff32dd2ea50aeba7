"""Reading a published partition back: only what its ``_SUCCESS`` lists, checksums verified.

A partition without ``_SUCCESS`` is not published (never scored, or still being written):
:func:`read_success` raises :class:`PartitionNotPublished`. Parts are read at the S3
VersionId ``_SUCCESS`` recorded, so a later overwrite of a key cannot change what a reader sees.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mlops import artifacts, storage
from mlops.artifacts import PartEntry, SuccessMarker
from mlops.errors import InputReadError, IntegrityError

if TYPE_CHECKING:
    import pandas as pd


class PartitionNotPublished(InputReadError):
    """A predictions partition has no ``_SUCCESS`` (never scored, or still being written)."""


def read_success(client: Any, partition_uri: str) -> SuccessMarker:
    """The ``_SUCCESS`` of a partition.

    Raises
    ------
    PartitionNotPublished
        If the partition has none.
    ArtifactSchemaError
        If it is not a current-schema ``_SUCCESS``.
    """
    uri = artifacts.success_uri(partition_uri)
    try:
        data = storage.get_bytes(client, uri)
    except InputReadError as err:
        raise PartitionNotPublished(
            f"{partition_uri} is not a published predictions partition (no {artifacts.SUCCESS_FILE}); run the "
            "scoring DAG for that date first."
        ) from err
    return SuccessMarker.from_json_bytes(data, source=uri)


def _read_listed(client: Any, entries: list[PartEntry], verify: bool) -> pd.DataFrame:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for entry in entries:
        data = storage.get_bytes(client, entry.uri, entry.version_id)
        if verify and storage.sha256_bytes(data) != entry.sha256:
            raise IntegrityError(
                f"{entry.uri} has sha256 {storage.sha256_bytes(data)} but _SUCCESS lists {entry.sha256}; "
                "the partition was modified after publishing. Re-run the scoring DAG for that date."
            )
        tables.append(pq.read_table(pa.BufferReader(data)))
    if not tables:
        return pd.DataFrame()
    return pa.concat_tables(tables).to_pandas()


def read_predictions(client: Any, partition_uri: str, *, verify: bool = True) -> pd.DataFrame:
    """All predictions of a published partition, in input row order (only the parts ``_SUCCESS`` lists)."""
    return _read_listed(client, read_success(client, partition_uri).parts, verify)


def read_rejects(client: Any, partition_uri: str, *, verify: bool = True) -> pd.DataFrame:
    """The rejected rows of a published partition with their reasons."""
    return _read_listed(client, read_success(client, partition_uri).rejects, verify)

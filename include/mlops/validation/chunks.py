"""A batch as chunks of rows: a DataFrame already in memory, or a Parquet file read a row range at a time.

:func:`mlops.validation.engine.evaluate` reads a :class:`Table`. Every chunk has the dtypes the
whole batch gets when read into pandas (:meth:`Table.schema`), so GX sees the same types chunk by
chunk as on the whole frame: an integer column with a null anywhere is float64 in every chunk, and
a boolean one with a null is object.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mlops.errors import InputReadError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

#: Rows per chunk. With the credit schema (21 columns) validation peaks at ~0.6 GiB from 1M to 5M rows.
CHUNK_ROWS = 250_000


class Table(Protocol):
    """What :func:`mlops.validation.engine.evaluate` reads."""

    row_count: int

    @property
    def columns(self) -> list[str]: ...

    def schema(self) -> pd.DataFrame:
        """0 rows, every column, the dtypes of the whole batch."""
        ...

    def chunks(self, columns: list[str]) -> Iterator[pd.DataFrame]:
        """``columns`` of consecutive row ranges, in row order (one 0-row chunk for an empty batch)."""
        ...

    def frame(self, columns: list[str]) -> pd.DataFrame:
        """``columns`` of every row at once (for the metrics that cannot be merged across chunks)."""
        ...


def _check_chunk_rows(chunk_rows: int) -> int:
    if not isinstance(chunk_rows, int) or chunk_rows < 1:
        raise ValueError(f"The 'chunk_rows' parameter must be an integer >= 1. Got {chunk_rows!r} instead.")
    return chunk_rows


def plain_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the dtypes the suite's type checks name: a timezone-aware timestamp as naive UTC
    (``datetime64``) and a pandas ``category`` of strings as ``str`` (what Parquet dictionary columns
    and ISO text with an offset read as); other columns untouched, and no copy when nothing changes."""
    from pandas.api import types

    changed = {}
    for name in frame.columns:
        dtype = frame[name].dtype
        if isinstance(dtype, types.DatetimeTZDtype):
            changed[name] = frame[name].dt.tz_convert("UTC").dt.tz_localize(None)
        elif isinstance(dtype, types.CategoricalDtype) and types.infer_dtype(dtype.categories) in (
            "string",
            "empty",
        ):
            changed[name] = frame[name].astype("str")
    return frame.assign(**changed) if changed else frame


class FrameTable:
    """A DataFrame in memory, served in slices of ``chunk_rows`` rows."""

    def __init__(self, df: pd.DataFrame, chunk_rows: int = CHUNK_ROWS) -> None:
        df = plain_dtypes(df)
        self.df, self.chunk_rows, self.row_count = df, _check_chunk_rows(chunk_rows), len(df)

    @property
    def columns(self) -> list[str]:
        return list(self.df.columns)

    def schema(self) -> pd.DataFrame:
        return self.df.iloc[:0]

    def chunks(self, columns: list[str]) -> Iterator[pd.DataFrame]:
        part = self.df[columns]
        for start in range(0, max(len(part), 1), self.chunk_rows):
            yield part.iloc[start : start + self.chunk_rows]

    def frame(self, columns: list[str]) -> pd.DataFrame:
        return self.df[columns]


class ParquetTable:
    """A local Parquet file, read ``chunk_rows`` rows and only the asked-for columns at a time.

    ``uri`` names the batch in errors: a page that cannot be decoded raises
    :class:`~mlops.errors.InputReadError` with the same wording as a corrupt file read whole.
    """

    def __init__(self, path: str | Path, *, uri: str | None = None, chunk_rows: int = CHUNK_ROWS) -> None:
        import pyarrow.parquet as pq

        self.path, self.uri, self.chunk_rows = Path(path), uri or str(path), _check_chunk_rows(chunk_rows)
        with self._reading():
            self.file = pq.ParquetFile(self.path)
            self.row_count = self.file.metadata.num_rows
            self._arrow = self.file.schema_arrow
            self._with_nulls = self._nullable_ints_and_bools()
            self._schema = self._to_pandas(self._arrow.empty_table())

    @property
    def columns(self) -> list[str]:
        return list(self._schema.columns)

    def schema(self) -> pd.DataFrame:
        return self._schema

    def chunks(self, columns: list[str]) -> Iterator[pd.DataFrame]:
        import pyarrow as pa

        empty = True
        with self._reading():
            for batch in self.file.iter_batches(batch_size=self.chunk_rows, columns=columns):
                empty = False
                yield self._to_pandas(pa.Table.from_batches([batch]))[columns]
        if empty:
            yield self._schema[columns]

    def frame(self, columns: list[str]) -> pd.DataFrame:
        with self._reading():
            return plain_dtypes(self.file.read(columns=columns).to_pandas()[columns])

    def _reading(self):
        """Decoding errors as the corrupt-Parquet :class:`InputReadError` (what and the fix)."""
        return _CorruptParquet(self.uri)

    def _nullable_ints_and_bools(self) -> set[str]:
        """Integer and boolean columns with a null anywhere (row-group statistics; a scan where absent)."""
        import pyarrow as pa

        wanted = {f.name for f in self._arrow if pa.types.is_integer(f.type) or pa.types.is_boolean(f.type)}
        meta, nulls, unknown = self.file.metadata, set(), set()
        for i in range(meta.num_row_groups):
            group = meta.row_group(i)
            for j in range(group.num_columns):
                col = group.column(j)
                if col.path_in_schema not in wanted:
                    continue
                stats = col.statistics
                if stats is None or not stats.has_null_count:
                    unknown.add(col.path_in_schema)
                elif stats.null_count:
                    nulls.add(col.path_in_schema)
        for name in sorted(unknown - nulls):
            if any(b.column(0).null_count for b in self.file.iter_batches(columns=[name])):
                nulls.add(name)
        return nulls

    def _to_pandas(self, table: pa.Table) -> pd.DataFrame:
        """``table.to_pandas()`` with the whole file's dtypes (nullable ints -> float64, nullable bools -> object)."""
        import pyarrow as pa

        for name in sorted(self._with_nulls & set(table.column_names)):
            i = table.column_names.index(name)
            field = table.schema.field(i)
            if pa.types.is_integer(field.type):
                table = table.set_column(i, field.with_type(pa.float64()), table.column(i).cast(pa.float64()))
        frame = table.to_pandas()
        for name in self._with_nulls & set(frame.columns):
            if frame[name].dtype.kind == "b":
                frame[name] = frame[name].astype(object)
        return plain_dtypes(frame)


class _CorruptParquet:
    """Context manager: pyarrow's decoding errors -> ``InputReadError("<uri> is a corrupt Parquet file: ...")``."""

    def __init__(self, uri: str) -> None:
        self.uri = uri

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, err, tb) -> bool:
        import pyarrow as pa

        if (
            err is not None
            and isinstance(err, pa.ArrowException | OSError)
            and not isinstance(err, InputReadError)
        ):
            raise InputReadError(
                f"{self.uri} is a corrupt Parquet file: {err}. Re-export the batch."
            ) from err
        return False

"""Table bytes: Parquet or CSV bytes to a DataFrame with a clear error for bad input, and back.

No S3 here: :mod:`mlops.storage` reads and writes the bytes (and re-exports these functions).
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from mlops.errors import InputReadError

if TYPE_CHECKING:
    import pandas as pd


def frame_to_parquet_bytes(df: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    return buf.getvalue()


def read_table_bytes(data: bytes, uri: str) -> pd.DataFrame:
    """Parse Parquet or CSV bytes into a DataFrame with a clear error for bad input.

    Raises
    ------
    InputReadError
        For an empty object, a truncated or corrupt Parquet file, a header-only
        CSV, a CSV cut short in its last row, a CSV with the wrong delimiter, or
        bytes that are neither format.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not data:
        raise InputReadError(
            f"{uri} is empty (0 bytes); the upstream export wrote nothing. Re-export the batch."
        )
    if data[:4] == b"PAR1":
        if data[-4:] != b"PAR1":
            raise InputReadError(
                f"{uri} is a truncated Parquet file ({len(data)} bytes, no footer); re-upload the complete file."
            )
        try:
            return pq.read_table(pa.BufferReader(data)).to_pandas()
        except Exception as err:
            raise InputReadError(f"{uri} is a corrupt Parquet file: {err}. Re-export the batch.") from err
    if uri.endswith(".parquet"):
        raise InputReadError(
            f"{uri} is named .parquet but is not a Parquet file (first bytes {data[:8]!r}); "
            "check the upstream export format."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputReadError(
            f"{uri} is neither Parquet nor UTF-8 CSV (binary content); supported formats: .parquet, .csv."
        ) from err
    try:
        df = pd.read_csv(io.StringIO(text))
    except Exception as err:
        raise InputReadError(f"{uri} could not be parsed as CSV: {err}.") from err
    if df.shape[1] <= 1 and any(sep in text.splitlines()[0] for sep in (";", "\t", "|")):
        raise InputReadError(
            f"{uri} parsed as a single column {list(df.columns)[:1]}: wrong delimiter? "
            "Batches must be comma-separated CSV or Parquet."
        )
    if df.empty:
        raise InputReadError(f"{uri} has a header but no rows ({len(df.columns)} columns, 0 rows).")
    last = next(csv.reader([text.rsplit("\n", 1)[-1]]), [])
    if not text.endswith(("\n", "\r")) and len(last) < df.shape[1]:  # pandas pads a short row with NaN
        raise InputReadError(
            f"{uri} looks truncated: its last line has {len(last)} of {df.shape[1]} fields and no line end; "
            "re-upload the complete file."
        )
    return df

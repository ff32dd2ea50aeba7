"""Reading a batch to validate: Parquet or CSV (S3 or local), typed by the config, labels joined.

:func:`open_batch` serves a Parquet batch chunk by chunk from a local copy (an S3 object is
downloaded in ranged GETs pinned to its version), so memory does not grow with the rows; a CSV
batch, and a batch whose late labels are joined, are read whole (:func:`read_batch`).
Every read error is an :class:`~mlops.errors.InputReadError` whose message names the object and
the fix (empty, truncated, header-only, wrong delimiter, not a table, labels not there yet).
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops import artifacts, storage
from mlops.config import DatasetConfig
from mlops.errors import InputReadError
from mlops.validation.chunks import FrameTable, ParquetTable, Table
from mlops.validation.hints import DEFAULT_STYLE, hint

if TYPE_CHECKING:
    import pandas as pd


def labels_uri_for(batch_uri: str) -> str | None:
    """``.../features/dt=D/batch.parquet`` -> ``.../labels/dt=D/labels.parquet`` (None if not that layout)."""
    m = re.match(r"^(.*)/features/(dt=[^/]+)/[^/]+$", str(batch_uri))
    return f"{m.group(1)}/labels/{m.group(2)}/labels.parquet" if m else None


def _clearer(err: InputReadError, data: bytes, uri: str) -> InputReadError:
    """Shorter, actionable wording for two of the storage layer's messages."""
    msg = str(err)
    if "wrong delimiter" in msg:
        header = data.decode("utf-8", "replace").splitlines()[0]
        sep = max((";", "\t", "|"), key=header.count)
        shown = header if len(header) <= 60 else header[:57] + "..."
        return InputReadError(
            f"{uri} is a {sep!r}-delimited CSV (header {shown!r}): wrong delimiter. "
            "Batches must be comma-separated CSV or Parquet; re-export with ','."
        )
    if "has a header but no rows" in msg:
        return InputReadError(f"{msg.rstrip('.')}: the upstream export wrote no data. Re-export the batch.")
    return err


def _type_csv(frame: pd.DataFrame, cfg: DatasetConfig) -> pd.DataFrame:
    """CSV carries no types: parse the date column, keep string ids and categories as strings.

    Booleans need nothing: pandas reads ``True``/``false`` as bool, and ``yes``/``no`` stays
    text, which the type expectation names.
    """
    import pandas as pd

    frame = frame.copy()
    date = cfg.date_column
    if date and date in frame and frame[date].dtype.kind not in "mM":
        try:
            frame[date] = pd.to_datetime(frame[date], format="ISO8601")
        except (ValueError, TypeError):
            pass  # left as text: the type expectation names the column
    text_ids = (cfg.id_column,) if cfg.id_type == "string" else ()
    for col in (*text_ids, *cfg.features.categorical):
        if col in frame and frame[col].dtype.kind in "iufb":
            frame[col] = frame[col].map(lambda x: x if pd.isna(x) else str(x)).astype("str")
    return frame


def parse_batch_bytes(data: bytes, uri: str, cfg: DatasetConfig) -> tuple[pd.DataFrame, str]:
    """Bytes -> ``(frame, "parquet"|"csv")``: the storage layer's clear errors, no 0-row tables, CSV typed."""
    try:
        frame = storage.read_table_bytes(data, uri)
    except InputReadError as err:
        better = _clearer(err, data, uri)
        if better is err:
            raise
        raise better from err
    fmt = "parquet" if data[:4] == b"PAR1" else "csv"
    if frame.empty:
        raise InputReadError(
            f"{uri} has {len(frame.columns)} columns but 0 rows; the upstream export wrote no data. "
            "Re-export the batch."
        )
    return (_type_csv(frame, cfg) if fmt == "csv" else frame), fmt


def _join_labels(
    client, uri: str, frame: pd.DataFrame, cfg: DatasetConfig, style: str
) -> tuple[pd.DataFrame, artifacts.LabelsSource | None]:
    """The batch with its late labels joined on the id column, and the labels object used.

    A batch outside the ``features/dt=<day>/`` layout has no labels object: it is returned as
    it is, and the labelled suite's column checks report the missing target (exit 1, not 2).
    """
    lab_uri = labels_uri_for(uri)
    if lab_uri is None:
        return frame, None
    try:
        lab_data, lab_head = storage.get_object(client, lab_uri)
    except InputReadError as err:
        raise InputReadError(
            f"Labels for {uri} are not there yet: {lab_uri} does not exist (labels land "
            f"{cfg.label_delay_days} days after the batch). {hint('unlabelled', style, start=True)} or wait."
        ) from err
    labels, _ = parse_batch_bytes(lab_data, lab_uri, cfg)
    missing = [c for c in (cfg.id_column, cfg.target) if c not in labels.columns]
    if missing:
        raise InputReadError(
            f"Labels {lab_uri} lack columns {missing}; expected {cfg.id_column!r} and {cfg.target!r}."
        )
    if cfg.id_column in frame.columns:  # else the schema expectations name the missing id column
        frame = frame.merge(labels[[cfg.id_column, cfg.target]], on=cfg.id_column, how="left")
    source = artifacts.LabelsSource(
        uri=lab_uri, etag=lab_head.get("ETag"), version_id=lab_head.get("VersionId")
    )
    return frame, source


def is_labelled(frame: pd.DataFrame | Table, cfg: DatasetConfig, labelled: bool) -> bool:
    """Whether ``frame`` (a DataFrame or a :class:`~mlops.validation.chunks.Table`) is checked with
    the target checks: asked for, or it carries its target and the config says labelled batches do
    (``labels.in_features``)."""
    return labelled or (cfg.labels.in_features and cfg.target in frame.columns)


def read_batch(
    client, uri: str, cfg: DatasetConfig, *, labelled: bool = False, hint_style: str = DEFAULT_STYLE
) -> tuple[pd.DataFrame, artifacts.BatchSource]:
    """Read a Parquet/CSV batch (S3 or local) and, if ``labelled``, join its late labels.

    With ``labels.in_features`` the target is never joined: it is in the batch or missing
    (which the labelled suite reports). Returns ``(frame, source)``; ``source`` records the
    ETag, VersionId, size, sha256 and format of the bytes read, and the labels object used.

    Raises
    ------
    InputReadError
        Missing, empty, truncated, header-only, wrong-delimiter or non-table input,
        or labels that have not arrived.
    """
    data, head = storage.get_object(client, uri)
    frame, fmt = parse_batch_bytes(data, uri, cfg)
    labels = None
    if labelled and not cfg.labels.in_features and cfg.target not in frame.columns:
        frame, labels = _join_labels(client, uri, frame, cfg, hint_style)
    source = artifacts.BatchSource(
        uri=uri,
        etag=head.get("ETag"),
        version_id=head.get("VersionId"),
        size=len(data),
        sha256=storage.sha256_bytes(data),
        format=fmt,
        labels=labels,
    )
    return frame, source


# ---------------------------------------------------------------- streamed (Parquet)
#: Bytes per ranged GET when an S3 batch is copied to local disk.
DOWNLOAD_PIECE = 16 * 2**20


def _pinned(head: dict[str, Any]) -> dict[str, Any]:
    """Ranged GETs of exactly the version read first: its VersionId, else (unversioned) its ETag."""
    version = head.get("VersionId")
    if version and version != "null":
        return {"version_id": version}
    return {"if_match": head.get("ETag")} if head.get("ETag") else {}


def _fetch(client, uri: str, workdir: Path) -> tuple[Path, dict[str, Any], str, int]:
    """A local file with the batch's bytes: ``(path, head, sha256, size)`` (an S3 object is copied)."""
    digest = hashlib.sha256()
    if not storage.is_s3(uri):
        path = Path(uri)
        if not path.is_file():
            raise InputReadError(f"File {uri} does not exist.")
        with path.open("rb") as fh:
            for piece in iter(lambda: fh.read(DOWNLOAD_PIECE), b""):
                digest.update(piece)
        return path, {}, digest.hexdigest(), path.stat().st_size
    head = storage.head(client, uri)
    if head is None:
        storage.get_object(client, uri)  # raises the missing-object InputReadError
        raise InputReadError(f"Object {uri} does not exist.")
    size, pin = int(head.get("ContentLength") or 0), _pinned(head)
    path = workdir / (Path(storage.parse_uri(uri)[1]).name or "batch")
    with path.open("wb") as fh:
        for start in range(0, size, DOWNLOAD_PIECE):
            piece = storage.get_range(client, uri, start, min(start + DOWNLOAD_PIECE, size), **pin)
            digest.update(piece)
            fh.write(piece)
    return path, head, digest.hexdigest(), size


def _is_parquet(path: Path) -> bool:
    """Parquet magic at both ends (anything else is parsed whole, with the clear messages of :func:`parse_batch_bytes`)."""
    if path.stat().st_size < 12:
        return False
    with path.open("rb") as fh:
        first = fh.read(4)
        fh.seek(-4, 2)
        return first == b"PAR1" and fh.read(4) == b"PAR1"


def _table(
    client, uri: str, path: Path, cfg: DatasetConfig, labelled: bool, style: str
) -> tuple[Table, str, artifacts.LabelsSource | None]:
    """``(table, format, labels)``: Parquet streamed, unless its labels must be joined; CSV whole."""
    join = labelled and not cfg.labels.in_features
    if _is_parquet(path):
        table = ParquetTable(path, uri=uri)
        if table.row_count == 0:
            raise InputReadError(
                f"{uri} has {len(table.columns)} columns but 0 rows; the upstream export wrote no data. "
                "Re-export the batch."
            )
        if not (join and cfg.target not in table.columns):
            return table, "parquet", None
        frame, fmt = table.frame(table.columns), "parquet"
    else:
        frame, fmt = parse_batch_bytes(path.read_bytes(), uri, cfg)
    labels = None
    if join and cfg.target not in frame.columns:
        frame, labels = _join_labels(client, uri, frame, cfg, style)
    return FrameTable(frame), fmt, labels


@contextmanager
def open_batch(
    client, uri: str, cfg: DatasetConfig, *, labelled: bool = False, hint_style: str = DEFAULT_STYLE
) -> Iterator[tuple[Table, artifacts.BatchSource]]:
    """The batch at ``uri`` (S3 or local) as a :class:`~mlops.validation.chunks.Table`, and its source.

    A Parquet batch is read chunk by chunk from a local copy: an S3 object is downloaded in
    ranged GETs pinned to the version its HEAD returned, so an overwrite meanwhile cannot mix two
    files, and hashed on the way. A CSV batch, and a Parquet batch whose late labels are joined
    (``labelled``), are read whole, typed and joined as :func:`read_batch` does. The local copy is
    deleted when the ``with`` block ends.

    Raises
    ------
    InputReadError
        Missing, empty, truncated, corrupt, header-only, wrong-delimiter or non-table input,
        a Parquet file with no rows, or labels that have not arrived.
    """
    with tempfile.TemporaryDirectory(prefix="mlops-batch-") as workdir:
        path, head, sha256, size = _fetch(client, uri, Path(workdir))
        table, fmt, labels = _table(client, uri, path, cfg, labelled, hint_style)
        yield (
            table,
            artifacts.BatchSource(
                uri=uri,
                etag=head.get("ETag"),
                version_id=head.get("VersionId"),
                size=size,
                sha256=sha256,
                format=fmt,
                labels=labels,
            ),
        )

"""Reading a batch to validate: Parquet or CSV (S3 or local), typed by the config, labels joined.

Every read error is an :class:`~mlops.errors.InputReadError` whose message names the object and
the fix (empty, truncated, header-only, wrong delimiter, not a table, labels not there yet).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from mlops import artifacts, storage
from mlops.config import DatasetConfig
from mlops.errors import InputReadError
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


def is_labelled(frame: pd.DataFrame, cfg: DatasetConfig, labelled: bool) -> bool:
    """Whether ``frame`` is checked with the target checks: asked for, or it carries its
    target and the config says labelled batches do (``labels.in_features``)."""
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

"""The training window: which days to use, reading them, the time split and the lineage.

:func:`plan_window` lists the days of the window (``window_days`` ending at ``end``) whose
batch exists and whose late labels have arrived and were due by ``end``
(``day + label_delay_days <= end``; a backfill never sees labels from its future).
:func:`load_training_data` reads those days whose :class:`~mlops.artifacts.ValidationResult`
says success, joins the labels by id (or, with ``labels: {in_features: true}``, takes the
target from the batch itself), splits the last ``holdout_days`` days off as the holdout and
records the lineage: URIs, S3 VersionIds, SHA-256 of every object, row counts and one data
hash. The day of a row is its partition (``dt=YYYY-MM-DD``), so no date column is needed.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from mlops import artifacts, metrics, storage
from mlops.artifacts import LineageDay, TrainingSplit, ValidationResult
from mlops.config import DatasetConfig, config_label
from mlops.errors import ConfigError, InputReadError, MLOpsError

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


class InsufficientDataError(MLOpsError, ValueError):
    """The window has too few usable (validated, labelled) days or rows to train. A retry will not help."""


# ---------------------------------------------------------------- window
@dataclass(frozen=True)
class WindowPlan:
    """The days of one training window and why any were left out."""

    dataset: str
    bucket: str
    start: str
    end: str
    window_days: int
    days: list[str]
    batch_uris: list[str]
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_window(self) -> artifacts.TrainingWindow:
        """The window as recorded in ``training.json``."""
        return artifacts.TrainingWindow(
            self.start, self.end, self.window_days, list(self.days), list(self.batch_uris), dict(self.skipped)
        )


def _as_day(value: date | str) -> date:
    try:
        return artifacts.parse_day(value)
    except ValueError:
        raise ConfigError(f"The end date must be YYYY-MM-DD. Got {value!r} instead.") from None


def resolve_window_days(cfg: DatasetConfig, window_days: int | str | None) -> int:
    """``window_days`` as given (an int, or its digits), or ``training.window_days`` from the config when None.

    Rendered template values (``"None"``, ``""``) are parsed by the operators, not here.
    """
    if window_days is None:
        return cfg.training.window_days
    try:
        days = int(window_days)
    except (TypeError, ValueError):
        raise ConfigError(
            f"The 'window_days' parameter must be an integer. Got {window_days!r} instead."
        ) from None
    if days <= cfg.training.holdout_days:
        raise ConfigError(
            f"The 'window_days' parameter must be greater than training.holdout_days "
            f"({cfg.training.holdout_days}) of {config_label(cfg.name)}. Got {days} instead."
        )
    return days


def plan_window(
    client, cfg: DatasetConfig, *, bucket: str, end: date | str, window_days: int | str | None = None
) -> WindowPlan:
    """List the days in ``[end - window_days + 1, end]`` that have a batch and labels due by ``end``.

    Raises
    ------
    InsufficientDataError
        If fewer than ``holdout_days + 1`` days are usable.
    """
    end_day = _as_day(end)
    n_days = resolve_window_days(cfg, window_days)
    start_day = end_day - timedelta(days=n_days - 1)
    batches = _day_index(
        storage.list_uris(client, f"s3://{bucket}/data/{cfg.name}/features/"), "batch.parquet"
    )
    labels = (
        batches
        if cfg.labels.in_features  # the target travels in the batch itself
        else _day_index(storage.list_uris(client, f"s3://{bucket}/data/{cfg.name}/labels/"), "labels.parquet")
    )
    days, uris, skipped = [], [], {}
    for i in range(n_days):
        day = (start_day + timedelta(days=i)).isoformat()
        due = start_day + timedelta(days=i + cfg.label_delay_days)
        if day not in batches:
            skipped[day] = "no batch"
        elif due > end_day:
            skipped[day] = f"labels not due before {end_day} (label_delay_days={cfg.label_delay_days})"
        elif day not in labels:
            skipped[day] = "labels not arrived yet"
        else:
            days.append(day)
            uris.append(batches[day])
    plan = WindowPlan(
        cfg.name, bucket, start_day.isoformat(), end_day.isoformat(), n_days, days, uris, skipped
    )
    log.info(
        "window %s..%s (%d days): %d usable, %d skipped %s",
        plan.start,
        plan.end,
        n_days,
        len(days),
        len(skipped),
        _summarize_skips(skipped),
    )
    _require_days(cfg, days, f"window {plan.start}..{plan.end} in s3://{bucket}/data/{cfg.name}/")
    return plan


def _day_index(uris: list[str], filename: str) -> dict[str, str]:
    out = {}
    for uri in uris:
        if not uri.endswith("/" + filename):
            continue
        part = uri.rsplit("/", 2)[-2]
        if part.startswith("dt="):
            out[part[3:]] = uri
    return out


def _summarize_skips(skipped: dict[str, str]) -> str:
    by_reason: dict[str, list[str]] = {}
    for day, reason in skipped.items():
        by_reason.setdefault(reason, []).append(day)
    return "; ".join(f"{reason}: {_day_span(days)}" for reason, days in by_reason.items()) or "-"


def _day_span(days: list[str]) -> str:
    return days[0] if len(days) == 1 else f"{days[0]}..{days[-1]} ({len(days)} days)"


def _require_days(cfg: DatasetConfig, days: list[str], where: str) -> None:
    need = cfg.training.holdout_days + 1
    if len(days) < need:
        raise InsufficientDataError(
            f"Only {len(days)} usable day(s) {days} in the {where}; need at least {need} "
            f"(training.holdout_days={cfg.training.holdout_days} for the holdout plus one to train). "
            "Seed or wait for more labelled batches, or raise window_days."
        )


# ---------------------------------------------------------------- data
@dataclass(frozen=True)
class TrainingData:
    """The joined window split by time, with its lineage. Frames stay in memory; never in XCom."""

    train: pd.DataFrame
    holdout: pd.DataFrame
    split: TrainingSplit
    lineage: list[LineageDay]
    excluded: dict[str, str]
    data_hash: str


@dataclass(frozen=True)
class _Day:
    """One day read and joined, before the split assigns it to train or holdout."""

    frame: pd.DataFrame
    facts: dict[str, Any]


def _read_versioned(client, uri: str, version_id: str | None = None) -> tuple[pd.DataFrame, dict[str, Any]]:
    data, head = storage.get_object(client, uri, version_id)
    frame = storage.read_table_bytes(data, uri)
    return frame, {
        "version_id": head.get("VersionId"),
        "sha256": storage.sha256_bytes(data),
        "rows": len(frame),
    }


def validation_status(client, batch_uri: str) -> tuple[bool, str]:
    """``(True, validation_uri)`` if the batch's :class:`ValidationResult` says success, else
    ``(False, why)``. A result in another schema raises :class:`~mlops.errors.ArtifactSchemaError`."""
    uri = artifacts.validation_uri(batch_uri)
    try:
        result = artifacts.read_artifact(client, uri, ValidationResult)
    except InputReadError:
        return False, "no validation result"
    if not result.success:
        return False, "validation failed"
    return True, uri


def _read_day(client, cfg: DatasetConfig, bucket: str, day: str, batch_uri: str, validation_uri: str) -> _Day:
    features, f_meta = _read_versioned(client, batch_uri)
    if cfg.labels.in_features:
        labels_uri, labels, l_meta = batch_uri, features, f_meta
        joined = labelled_rows(cfg, features, batch_uri)
    else:
        labels_uri = artifacts.labels_uri(bucket, cfg.name, day)
        labels, l_meta = _read_versioned(client, labels_uri)
        joined = join_labels(cfg, features, labels, batch_uri, labels_uri)
    facts = {
        "day": day,
        "batch_uri": batch_uri,
        "batch_version_id": f_meta["version_id"],
        "batch_sha256": f_meta["sha256"],
        "batch_rows": f_meta["rows"],
        "labels_uri": labels_uri,
        "labels_version_id": l_meta["version_id"],
        "labels_sha256": l_meta["sha256"],
        "labels_rows": l_meta["rows"],
        "validation_uri": validation_uri,
        "joined_rows": len(joined),
    }
    return _Day(joined, facts)


def load_training_data(client, cfg: DatasetConfig, plan: WindowPlan) -> TrainingData:
    """Read the planned days, join labels by id, split the last ``holdout_days`` days off as holdout.

    Days without a successful validation result, and days with no labelled row, are left out
    (and recorded in ``excluded``).
    """
    read, excluded = [], dict(plan.skipped)
    for day, batch_uri in zip(plan.days, plan.batch_uris, strict=True):
        ok, detail = validation_status(client, batch_uri)
        if not ok:
            excluded[day] = detail
            log.warning("skip %s: %s (%s)", day, detail, artifacts.validation_uri(batch_uri))
            continue
        one = _read_day(client, cfg, plan.bucket, day, batch_uri, detail)
        if not len(one.frame):
            excluded[day] = f"no labelled rows ('{cfg.target}' missing or null on every row)"
            log.warning("skip %s: %s (%s)", day, excluded[day], one.facts["labels_uri"])
            continue
        read.append(one)
    used = [d.facts["day"] for d in read]
    _require_days(cfg, used, f"validated, labelled part of window {plan.start}..{plan.end}")
    return _split_by_time(cfg, read, excluded)


def _split_by_time(cfg: DatasetConfig, read: list[_Day], excluded: dict[str, str]) -> TrainingData:
    """The last ``holdout_days`` days (by partition) are the holdout; rows keep their day's order."""
    import pandas as pd

    used = [d.facts["day"] for d in read]
    holdout_days, train_days = used[-cfg.training.holdout_days :], used[: -cfg.training.holdout_days]
    lineage = [
        LineageDay(**d.facts, split="holdout" if d.facts["day"] in holdout_days else "train") for d in read
    ]
    train = pd.concat([d.frame for d in read if d.facts["day"] in train_days], ignore_index=True)
    holdout = pd.concat([d.frame for d in read if d.facts["day"] in holdout_days], ignore_index=True)
    rates = _positive_rates(cfg, train, holdout, train_days) if cfg.is_classifier else (None, None)
    split = TrainingSplit(
        "time",
        train_days,
        holdout_days,
        train_days[0],
        train_days[-1],
        holdout_days[0],
        holdout_days[-1],
        len(train),
        len(holdout),
        *rates,
    )
    log.info(
        "split by time: train %s..%s (%d days, %d rows), holdout %s..%s (%d days, %d rows)",
        split.train_start,
        split.train_end,
        len(train_days),
        len(train),
        split.holdout_start,
        split.holdout_end,
        len(holdout_days),
        len(holdout),
    )
    return TrainingData(train, holdout, split, lineage, excluded, data_hash(lineage))


def _positive_rates(
    cfg: DatasetConfig, train, holdout, train_days: list[str]
) -> tuple[float | None, float | None]:
    """Check the training split has two classes or more; the positive rate of each split (binary only).

    A multiclass target (more than two labels over the window) has no positive class: the
    class counts are logged and both rates are None.
    """
    labels = metrics.labels_of(train[cfg.target], holdout[cfg.target])
    train_labels = metrics.labels_of(train[cfg.target])
    if len(train_labels) < 2:
        raise InsufficientDataError(
            f"The training split {train_days[0]}..{train_days[-1]} has a single class "
            f"{train_labels} in '{cfg.target}'; cannot train a classifier. Widen the window."
        )
    if metrics.is_multiclass(labels):
        counts = {str(k): int(v) for k, v in train[cfg.target].value_counts(sort=False).items()}
        log.info(
            "multiclass target '%s': %d classes, train rows per class %s", cfg.target, len(labels), counts
        )
        return None, None
    positive = metrics.resolve_positive_class(cfg, labels)

    def rate(part) -> float | None:
        value = metrics.positive_rate(part[cfg.target], positive_class=positive)
        return None if value is None else round(value, 6)

    return rate(train), rate(holdout)


def row_order(cfg: DatasetConfig) -> list[str]:
    """The sort keys of one day's rows: the date column (when configured), then the id."""
    return [cfg.date_column, cfg.id_column] if cfg.date_column else [cfg.id_column]


def _check_frame(cfg: DatasetConfig, frame, uri: str, cols: list[str]) -> None:
    absent = [c for c in cols if c not in frame.columns]
    if absent:
        raise InputReadError(f"{uri} has no column(s) {absent}; columns are {list(frame.columns)[:25]}.")
    dup = int(frame[cfg.id_column].duplicated().sum())
    if dup:
        raise InputReadError(
            f"{uri} has {dup} duplicate '{cfg.id_column}' values; ids must be unique to join labels. "
            "Fix the upstream export."
        )


def join_labels(cfg: DatasetConfig, features, labels, batch_uri: str, labels_uri: str):
    """Inner-join labels to the batch by id (both checked for the columns and unique ids), rows in
    (date, id) order (id order without a date column); rows with a missing label are dropped."""
    _check_frame(cfg, features, batch_uri, row_order(cfg))
    _check_frame(cfg, labels, labels_uri, [cfg.id_column, cfg.target])
    joined = features.merge(labels[[cfg.id_column, cfg.target]], on=cfg.id_column, how="inner")
    joined = joined[joined[cfg.target].notna()]
    return joined.sort_values(row_order(cfg), kind="mergesort").reset_index(drop=True)


def labelled_rows(cfg: DatasetConfig, batch, batch_uri: str):
    """The rows of a batch that carries its target (``labels: {in_features: true}``) with a label, in
    (date, id) order; a batch without the target column has none."""
    _check_frame(cfg, batch, batch_uri, row_order(cfg))
    if cfg.target not in batch.columns:
        return batch.iloc[0:0]
    rows = batch[batch[cfg.target].notna()]
    return rows.sort_values(row_order(cfg), kind="mergesort").reset_index(drop=True)


def data_hash(lineage: list[LineageDay]) -> str:
    """One SHA-256 over the content hashes of every batch and label object used."""
    lines = [
        f"{d.batch_uri}|{d.batch_sha256}|{d.labels_uri}|{d.labels_sha256}"
        for d in sorted(lineage, key=lambda d: d.day)
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()

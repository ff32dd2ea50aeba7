"""What the nightly run reads: the reference (a published version and its profile), the scored
days of a window (``_SUCCESS`` + its parts), late labels and the history of earlier nights.

Every read goes through a typed artifact: the version through :mod:`mlops.models`, the
predictions through :class:`~mlops.artifacts.SuccessMarker` (only the parts it lists, each
checked against its sha256), the history through :class:`~mlops.artifacts.nightly.HistoryRecord`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from mlops import artifacts, models, serialization, storage
from mlops.artifacts import REFERENCE_PROFILE_FILE, ReferenceProfile, SuccessMarker, VersionManifest
from mlops.artifacts.nightly import HistoryRecord
from mlops.errors import ConfigError, InputReadError

if TYPE_CHECKING:
    import pandas as pd

    from mlops.config import DatasetConfig


def parse_day(value: date | str) -> date:
    """A day from a date or ``YYYY-MM-DD``; anything else is a :class:`ConfigError`."""
    try:
        return artifacts.parse_day(value)
    except ValueError:
        raise ConfigError(f"The 'day' parameter must be YYYY-MM-DD. Got {value!r} instead.") from None


def window_days_list(end: date | str, days: int) -> list[str]:
    """``days`` calendar days ending at ``end`` (inclusive), oldest first."""
    end_day = parse_day(end)
    if int(days) < 1:
        raise ConfigError(f"The 'window_days' parameter must be >= 1. Got {days!r} instead.")
    return [(end_day - timedelta(days=i)).isoformat() for i in range(int(days) - 1, -1, -1)]


# ---------------------------------------------------------------- the reference
@dataclass(frozen=True)
class Reference:
    """A published version pinned for tonight: its manifest and its reference profile."""

    version: str
    manifest: VersionManifest
    profile: ReferenceProfile
    profile_uri: str

    @property
    def baseline_metrics(self) -> dict[str, float]:
        """The version's holdout metrics (the performance baseline)."""
        return self.manifest.holdout_metrics

    @property
    def window(self) -> dict[str, Any]:
        """The training window ``{start, end, window_days}`` (empty if the manifest has no lineage)."""
        return dict(self.manifest.training_data.window) if self.manifest.training_data else {}


def load_reference(client: Any, bucket: str, dataset: str, version: str = "production") -> Reference:
    """Resolve ``version`` (alias or ``vNNNN``) and read its reference profile, checked against the manifest."""
    resolved = models.resolve(client, bucket, dataset, version)
    manifest = resolved.manifest
    entry = manifest.artifacts.get(REFERENCE_PROFILE_FILE)
    if entry is None:
        raise ConfigError(
            f"Model {dataset} {resolved.version} has no {REFERENCE_PROFILE_FILE} (artifacts: "
            f"{sorted(manifest.artifacts)}); retrain it so the version carries its reference profile."
        )
    data = models.artifact_bytes(client, manifest, REFERENCE_PROFILE_FILE)
    profile = ReferenceProfile.from_json_bytes(data, source=entry.uri)
    return Reference(resolved.version, manifest, profile, entry.uri)


# ---------------------------------------------------------------- scored days
def read_marker(client: Any, bucket: str, dataset: str, day: date | str) -> SuccessMarker | None:
    """The ``_SUCCESS`` marker of one day's predictions, or None if the day was not scored (published)."""
    uri = artifacts.success_uri(artifacts.predictions_prefix(bucket, dataset, day))
    try:
        data = storage.get_bytes(client, uri)
    except InputReadError:
        return None
    return SuccessMarker.from_json_bytes(data, source=uri)


def read_parts(client: Any, marker: SuccessMarker) -> pd.DataFrame:
    """The prediction parts the marker lists, at their S3 versions, each verified against its sha256."""
    import pandas as pd

    frames = []
    for part in marker.parts:
        data = storage.get_bytes(client, part.uri, part.version_id)
        serialization.verify_sha256(data, part.sha256, where=part.uri)
        frames.append(storage.read_table_bytes(data, part.uri))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def read_predictions(client: Any, bucket: str, dataset: str, day: date | str) -> pd.DataFrame | None:
    """All predictions of one scored day (None if the day has no ``_SUCCESS`` marker)."""
    marker = read_marker(client, bucket, dataset, day)
    return None if marker is None else read_parts(client, marker)


def read_labels(client: Any, bucket: str, dataset: str, day: date | str) -> pd.DataFrame | None:
    """The late labels of one day's batch, or None if they have not arrived."""
    uri = artifacts.labels_uri(bucket, dataset, day)
    if not storage.exists(client, uri):
        return None
    return storage.read_table(client, uri)


def day_labels(client: Any, bucket: str, cfg: DatasetConfig, day: date | str) -> pd.DataFrame | None:
    """The labels of one scored day as ``[id, target]``, or None if there are none yet.

    With ``labels: {in_features: true}`` they are the target column of the day's batch (None
    when the batch has no target column or no labelled row); otherwise the late labels file.
    """
    if not cfg.labels.in_features:
        return read_labels(client, bucket, cfg.name, day)
    uri = artifacts.batch_uri(bucket, cfg.name, day)
    if not storage.exists(client, uri):
        return None
    batch = storage.read_table(client, uri)
    if cfg.target not in batch.columns or not batch[cfg.target].notna().any():
        return None
    return batch.loc[batch[cfg.target].notna(), [cfg.id_column, cfg.target]].reset_index(drop=True)


@dataclass(frozen=True)
class CurrentWindow:
    """The scored days of a window: their features, their predictions (by the monitored version) and the skips."""

    days: tuple[str, ...]
    features: pd.DataFrame
    predictions: pd.DataFrame | None
    skipped: dict[str, str]
    batch_uris: tuple[str, ...]

    def describe(self, requested_days: int) -> dict[str, Any]:
        """The ``current_window`` of a drift report."""
        return {
            "start": self.days[0],
            "end": self.days[-1],
            "days": list(self.days),
            "requested_days": requested_days,
            "skipped": dict(self.skipped),
        }


def load_current_window(
    client: Any,
    bucket: str,
    cfg: DatasetConfig,
    day: date | str,
    window_days: int,
    *,
    model_version: str | None = None,
) -> CurrentWindow:
    """Features and predictions of the scored days in the ``window_days`` days ending at ``day``.

    Days without a ``_SUCCESS`` marker under ``predictions/`` are skipped (not scored).
    Predictions by other model versions than ``model_version`` are left out of prediction drift.

    Raises
    ------
    InputReadError
        If no day of the window was scored.
    """
    import pandas as pd

    feats, preds, used, uris, skipped = [], [], [], [], {}
    days = window_days_list(day, window_days)
    for d in days:
        p = read_predictions(client, bucket, cfg.name, d)
        if p is None:
            skipped[d] = "not scored (no predictions _SUCCESS marker)"
            continue
        batch = artifacts.batch_uri(bucket, cfg.name, d)
        if not storage.exists(client, batch):
            skipped[d] = f"scored but the batch {batch} is missing"
            continue
        feats.append(storage.read_table(client, batch))
        if model_version and "model_version" in p.columns:
            p = p[p["model_version"].astype(str) == model_version]
        preds.append(p)
        used.append(d)
        uris.append(batch)
    if not used:
        raise InputReadError(
            f"No scored day of {cfg.name} between {days[0]} and {days[-1]} "
            f"(no {artifacts.success_uri(artifacts.predictions_prefix(bucket, cfg.name, '<day>'))}); "
            "run mlops_batch_scoring for these days first, or pick another date."
        )
    predictions = pd.concat(preds, ignore_index=True) if preds else None
    return CurrentWindow(tuple(used), pd.concat(feats, ignore_index=True), predictions, skipped, tuple(uris))


# ---------------------------------------------------------------- history
def load_history(
    client: Any, bucket: str, dataset: str, before: date | str, nights: int = 30
) -> list[HistoryRecord]:
    """The history records of the ``nights`` nights before ``before`` (oldest first)."""
    end = parse_day(before)
    prefix = artifacts.history_prefix(bucket, dataset)
    records = []
    for uri in storage.list_uris(client, prefix):
        name = uri.rsplit("/", 1)[-1].removesuffix(".json")
        try:
            d = date.fromisoformat(name)
        except ValueError:
            continue
        if end - timedelta(days=nights) <= d < end:
            records.append(artifacts.read_artifact(client, uri, HistoryRecord))
    return sorted(records, key=lambda r: r.day)

"""Fairness in production: the sensitive columns of scored days, and the disparity lines of a night.

Predictions carry only the id, the prediction and the probability, so the sensitive columns
(``fairness.sensitive_features``, model inputs or not) are read from each day's batch and
joined by id: :func:`read_sensitive` feeds ``compute_performance(..., sensitive=...)``, which
puts realised per-group metrics and disparities into ``PerformanceReport.fairness``; the
``fairness_disparity`` alert rule (:mod:`mlops.monitoring.alerts`) reads them.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from mlops import artifacts, storage

if TYPE_CHECKING:
    import pandas as pd

    from mlops.config import DatasetConfig


def read_sensitive(client: Any, bucket: str, cfg: DatasetConfig, day: date | str) -> pd.DataFrame | None:
    """The id and the sensitive columns of one day's batch; None without ``fairness:`` or without the batch.

    Sensitive columns the batch lacks are left out (the per-group metrics skip them).
    """
    if cfg.fairness is None:
        return None
    uri = artifacts.batch_uri(bucket, cfg.name, day)
    if not storage.exists(client, uri):
        return None
    frame = storage.read_table(client, uri)
    columns = [c for c in cfg.fairness.sensitive_features if c in frame.columns]
    return frame.loc[:, [cfg.id_column, *columns]]


def read_sensitive_days(
    client: Any, bucket: str, cfg: DatasetConfig, days: list[str]
) -> dict[str, pd.DataFrame | None]:
    """:func:`read_sensitive` for each day (``{}`` without a ``fairness:`` section)."""
    if cfg.fairness is None:
        return {}
    return {d: read_sensitive(client, bucket, cfg, d) for d in days}

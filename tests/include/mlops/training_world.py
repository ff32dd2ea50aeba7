"""Helpers for the training/evaluation tests: small seeded, validated windows in S3."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

START = date(2026, 1, 1)
DAYS = 12
#: With DAYS=12 from START and a 3-day label delay, days 01-01..01-09 are usable at END.
END = START + timedelta(days=DAYS - 1)
ROWS = 300


def seed_validated(
    client,
    bucket: str,
    cfg,
    *,
    days: int = DAYS,
    rows: int = ROWS,
    rejected: tuple[date, ...] = (),
    scenario=None,
) -> dict[str, Any]:
    """Seed batches and labels, and a validation result beside each batch (``rejected`` days fail)."""
    from mlops import artifacts, datagen, storage

    seeded = datagen.seed_dataset(
        client, bucket, cfg, start=START, days=days, rows_per_day=rows, scenario=scenario, log=lambda m: None
    )
    for day in datagen.daterange(START, days):
        uri = artifacts.batch_uri(bucket, cfg.name, day)
        storage.put_json(
            client, artifacts.validation_uri(uri), {"success": day not in rejected, "data_uri": uri}
        )
    return seeded


def with_updates(cfg, **sections: dict[str, Any]):
    """A copy of ``cfg`` with some sections' keys replaced, validated like a YAML file."""
    from mlops.config import DatasetConfig

    data = cfg.to_dict()
    for section, updates in sections.items():
        if isinstance(data.get(section), dict):
            data[section] = {**data[section], **updates}
        else:
            data[section] = updates
    return DatasetConfig.model_validate(data)


def fast(cfg):
    """The config with a two-point search, so unit tests stay in seconds."""
    if cfg.is_classifier:
        search = {"kind": "grid", "cv": 2, "scoring": "roc_auc", "space": {"learning_rate": [0.08, 0.12]}}
        return with_updates(cfg, model={"params": {"max_iter": 60}, "search": search})
    return cfg

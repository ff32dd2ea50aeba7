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
    from mlops import artifacts
    from mlops.dev import datagen

    seeded = datagen.seed_dataset(
        client, bucket, cfg, start=START, days=days, rows_per_day=rows, scenario=scenario, log=lambda m: None
    )
    for day in datagen.daterange(START, days):
        uri = artifacts.batch_uri(bucket, cfg.name, day)
        result = validation_result(cfg, uri, success=day not in rejected, rows=rows)
        artifacts.write_artifact(client, artifacts.validation_uri(uri), result)
    return seeded


def validation_result(cfg, batch_uri: str, *, success: bool, rows: int = ROWS):
    """A minimal labelled :class:`~mlops.artifacts.ValidationResult` (no checks listed) for a seeded batch."""
    from mlops import artifacts

    return artifacts.ValidationResult(
        dataset=cfg.name,
        batch_uri=batch_uri,
        success=success,
        labelled=True,
        row_count=rows,
        column_count=len(cfg.feature_columns) + 2,
        suite=f"{cfg.name}_labelled",
        suite_digest="seeded",
        evaluated=0,
        successful=0,
        checks=[],
        summary=[] if success else ["seeded as rejected"],
        checked_at=artifacts.utc_now_iso(),
        seconds=0.0,
        gx_version="seeded",
        source=None,
        run_id=None,
        validation_uri=artifacts.validation_uri(batch_uri),
        docs_uri=None,
        quarantine_uri=None,
    )


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

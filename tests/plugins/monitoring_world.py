"""A small, real monitoring world in S3 for operator and DAG tests.

Seeds credit batches and labels, trains a tiny classifier on the first days, writes it as a
blessed candidate through the typed artifacts (with its reference profile and holdout
metrics), publishes and promotes it through the registry, and scores later days through
the real scoring code. Days from ``DRIFT_START``
carry covariate drift.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

START = date(2026, 1, 1)
DRIFT_START = date(2026, 1, 10)
QUIET_NIGHT = date(2026, 1, 7)
DRIFT_NIGHT = date(2026, 1, 12)
ROWS = 500


def fit_model(cfg, frame: pd.DataFrame):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cat = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
    pre = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(), StandardScaler()), list(cfg.features.numeric)),
            ("cat", cat, list(cfg.features.categorical)),
        ]
    )
    model = make_pipeline(pre, LogisticRegression(max_iter=500))
    return model.fit(frame[list(cfg.features.all)], frame[cfg.target].to_numpy())


def build_world(client, bucket: str, cfg, *, score_days=(5, 6, 7, 10, 11, 12)) -> dict:
    """Seed, train, publish (a blessed candidate), promote and score; returns what the tests need to know."""
    from mlops import artifacts, profiling, scoring, storage
    from mlops.dev import datagen
    from mlops.registry import ModelRegistry
    from tests.conftest import write_candidate

    scenario = datagen.Scenario(drift_start=DRIFT_START)
    datagen.seed_dataset(
        client, bucket, cfg, start=START, days=12, rows_per_day=ROWS, scenario=scenario, log=lambda m: None
    )
    train_days = [START + timedelta(days=i) for i in range(4)]
    frame = pd.concat(
        [
            storage.read_table(client, artifacts.batch_uri(bucket, cfg.name, d)).merge(
                storage.read_table(client, artifacts.labels_uri(bucket, cfg.name, d)), on=cfg.id_column
            )
            for d in train_days
        ],
        ignore_index=True,
    )
    model = fit_model(cfg, frame)
    proba = model.predict_proba(frame[list(cfg.features.all)])[:, 1]
    kinds = {c: "numeric" for c in cfg.features.numeric} | {
        c: "categorical" for c in cfg.features.categorical
    }
    candidate = write_candidate(
        client,
        bucket,
        "monitoring-test",
        model,
        dataset=cfg.name,
        features=kinds,
        holdout_metrics={"roc_auc": 0.85, "recall": 0.3},
        reference_profile=profiling.build_reference_profile(frame, cfg, predictions=proba),
    )
    registry = ModelRegistry(client, bucket, cfg.name)
    version = registry.publish(
        candidate_uri=candidate, run={"dag_id": "test", "run_id": "mon", "try_number": 1}
    )
    registry.promote(version.version, expected_etag=None, reason="monitoring test model", actor="pytest")
    for i in score_days:
        day = START + timedelta(days=i - 1)
        scoring.score_batch(
            client,
            cfg,
            input_uri=artifacts.batch_uri(bucket, cfg.name, day),
            output_uri=artifacts.predictions_prefix(bucket, cfg.name, day),
            bucket=bucket,
            run_id="score-test",
        )
    return {"version": version.version, "train_days": train_days}

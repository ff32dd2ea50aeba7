"""The example-data generator: deterministic, realistic, and its switches do what they say."""

from __future__ import annotations

from datetime import date

import pandas as pd

from mlops import artifacts, storage
from mlops.dev import datagen

DAY = date(2026, 1, 5)


def test_same_seed_same_bytes(credit_cfg):
    a, la = datagen.generate_day(credit_cfg, DAY, 500, seed=1)
    b, lb = datagen.generate_day(credit_cfg, DAY, 500, seed=1)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(la, lb)
    c, _ = datagen.generate_day(credit_cfg, DAY, 500, seed=2)
    assert not a.equals(c)


def test_credit_shape_and_missingness(credit_cfg, credit_day):
    features, labels = credit_day
    assert set(credit_cfg.feature_columns) <= set(features.columns)
    assert credit_cfg.target not in features.columns
    assert features[credit_cfg.id_column].is_unique
    assert 0.02 < features["annual_income"].isna().mean() < 0.08
    assert 0.05 < labels[credit_cfg.target].mean() < 0.3


def test_covariate_drift_moves_only_chosen_features(credit_cfg):
    base, _ = datagen.generate_day(credit_cfg, DAY, 3000)
    scen = datagen.Scenario(drift_start=DAY, drift_features=("credit_score",))
    drifted, _ = datagen.generate_day(credit_cfg, DAY, 3000, scenario=scen)
    assert drifted["credit_score"].mean() < base["credit_score"].mean() - 40
    assert abs(drifted["age"].mean() - base["age"].mean()) < 1e-9


def test_label_shift_changes_base_rate(credit_cfg):
    scen = datagen.Scenario(label_shift_start=DAY, label_shift_rate=0.4)
    _, labels = datagen.generate_day(credit_cfg, DAY, 2000, scenario=scen)
    assert abs(labels[credit_cfg.target].mean() - 0.4) < 0.01


def test_bad_batch_is_corrupted(credit_cfg):
    bad, _ = datagen.generate_day(credit_cfg, DAY, 2000, scenario=datagen.Scenario(bad_days=(DAY,)))
    assert bad["credit_score"].isna().mean() > 0.3
    assert (bad["loan_amount"] < 0).any()


def test_diabetes_comes_from_sklearn(diabetes_cfg):
    features, labels = datagen.generate_day(diabetes_cfg, DAY, 50)
    assert len(features) == 50 and set(labels.columns) == {"patient_id", "progression"}
    assert labels["progression"].between(25, 346).all()


def test_seed_writes_batches_and_late_labels(s3, bucket, credit_cfg):
    out = datagen.seed_dataset(
        s3, bucket, credit_cfg, start=date(2026, 1, 1), days=5, rows_per_day=50, log=lambda m: None
    )
    assert out["days"] == [f"2026-01-0{i}" for i in range(1, 6)]
    # label delay is 3 days: only days 1 and 2 are labelled by day 5
    assert out["labelled_days"] == ["2026-01-01", "2026-01-02"]
    assert storage.exists(s3, artifacts.labels_uri(bucket, "credit", "2026-01-02"))
    assert not storage.exists(s3, artifacts.labels_uri(bucket, "credit", "2026-01-03"))

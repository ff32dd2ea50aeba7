"""Scoring beyond binary credit: a multiclass model's per-class probabilities, boolean features, integer ids."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlops import models, scoring, training
from mlops.artifacts import FeatureColumn
from mlops.artifacts.scoring import proba_column, proba_columns
from mlops.config import DatasetConfig
from mlops.scoring.chunk import ChunkScorer


@pytest.fixture(scope="module")
def wine_cfg():
    from mlops.config import load_dataset_config

    return load_dataset_config("wine")


def _fit(cfg, frame):
    model = training.build_model(cfg, training.plan_model(cfg, search="none"))
    return model.fit(models.feature_frame(frame, cfg), models.target_array(frame, cfg))


def _signature(cfg) -> list[FeatureColumn]:
    return list(training.feature_signature(cfg).columns)


def test_a_multiclass_model_writes_the_class_and_every_class_probability(wine_cfg):
    from mlops.dev import datagen

    features, labels = datagen.generate_day(wine_cfg, date(2026, 1, 5), 300)
    model = _fit(wine_cfg, features.merge(labels, on="wine_id"))
    scorer = ChunkScorer(model, wine_cfg, _signature(wine_cfg), "v0001", "run-1")
    assert scorer.multiclass and scorer.positive is None and scoring.positive_column(wine_cfg, model) is None
    table = pa.Table.from_pandas(features, preserve_index=False)
    out_schema, _ = scorer.bind(table.schema.field("wine_id").type)
    assert out_schema.names == [
        "wine_id",
        "prediction",
        "proba_0",
        "proba_1",
        "proba_2",
        "model_version",
        "run_id",
    ]
    assert (
        out_schema.field("wine_id").type == pa.int64() and out_schema.field("prediction").type == pa.int64()
    )
    scored, rejects, reasons = scorer.score(table, 0)
    assert rejects.num_rows == 0 and not reasons
    out = scored.to_pandas()
    expected = models.predict_proba(model, features, wine_cfg)
    np.testing.assert_array_equal(out["prediction"], expected.prediction)
    np.testing.assert_allclose(out[["proba_0", "proba_1", "proba_2"]].to_numpy(), expected.proba)
    assert proba_columns(out.columns) == {"0": "proba_0", "1": "proba_1", "2": "proba_2"}
    assert proba_column("red") == "proba_red"
    # a chunk the model scores no row of keeps the multiclass shape
    empty, _, _ = scorer.score(table.slice(0, 0), 0)
    assert empty.schema == out_schema and empty.num_rows == 0


def _flags_cfg() -> DatasetConfig:
    return DatasetConfig.model_validate(
        {
            "name": "flags",
            "task": "classification",
            "id_column": "row_id",
            "id_type": "integer",
            "target": "churned",
            "features": {"numeric": ["tenure"], "boolean": ["autopay"]},
            "model": {"estimator": "logistic_regression"},
            "gate": {"primary_metric": "roc_auc"},
        }
    )


def test_boolean_features_score_as_training_saw_them_and_bad_values_are_rejects():
    cfg = _flags_cfg()
    rng = np.random.default_rng(0)
    train = pd.DataFrame(
        {
            "row_id": np.arange(400, dtype="int64"),
            "tenure": rng.integers(1, 60, 400).astype(float),
            "autopay": rng.random(400) < 0.5,
        }
    )
    train["churned"] = (~train["autopay"] & (rng.random(400) < 0.7)).astype("int64")
    model = _fit(cfg, train)
    scorer = ChunkScorer(model, cfg, _signature(cfg), "v0001", "run-1")
    scorer.bind(pa.int64())
    batch = pd.DataFrame(
        {
            "row_id": np.arange(5, dtype="int64"),
            "tenure": [5.0, 6, 7, 8, 9],
            "autopay": [True, False, None, True, False],
        }
    )
    frame, bad = scorer.frame(pa.Table.from_pandas(batch, preserve_index=False))
    assert bad == {}
    pd.testing.assert_frame_equal(frame, models.feature_frame(batch, cfg))  # no training/serving skew
    text = pa.table({"row_id": pa.array([1, 2, 3], pa.int64()), "tenure": [1.0, 2.0, 3.0],
                     "autopay": ["true", "FALSE", "yes"]})  # fmt: skip
    scored, rejects, reasons = scorer.score(text, 100)
    assert scored.column("row_id").to_pylist() == [1, 2]
    reject = rejects.to_pylist()[0]
    assert (reject["row_id"], reject["row"], reject["column"], reject["value"]) == (3, 102, "autopay", "yes")
    assert reject["reason"] == "column 'autopay': value 'yes' is not a boolean"
    assert reasons == {"column 'autopay': not a boolean": 1}
    assert scored.column("probability").to_pylist() == pytest.approx(
        models.predict(model, text.to_pandas().iloc[:2], cfg)[1].tolist()
    )

"""Reference profiles (mlops.profiling): built once at training, the typed reference of every drift check."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from mlops import artifacts, profiling
from mlops.errors import ConfigError


def test_reference_profile_is_typed_json_safe_and_complete(credit_cfg, credit_day):
    features, labels = credit_day
    frame = features.merge(labels, on=credit_cfg.id_column)
    proba = np.column_stack([np.full(len(frame), 0.8), np.full(len(frame), 0.2)])
    profile = profiling.build_reference_profile(
        frame, credit_cfg, predictions=proba, importances={"credit_score": np.float64(0.3), "age": 0.01}
    )
    assert isinstance(profile, artifacts.ReferenceProfile)
    text = json.dumps(profile.to_dict(), allow_nan=False)  # strict JSON: no NaN/inf
    assert len(text) < 400_000
    assert artifacts.ReferenceProfile.from_json_bytes(profile.to_json_bytes()) == profile
    assert (
        profile.dataset == "credit" and profile.task == "classification" and profile.row_count == len(frame)
    )
    assert list(profile.features) == [*credit_cfg.features.numeric, *credit_cfg.features.categorical]
    score = profile.features["credit_score"]
    assert len(score.edges) == 9 and len(score.bin_counts) == 10 and sum(score.bin_counts) == score.count
    assert len(score.sketch) == profiling.SKETCH_SIZE and score.sketch == sorted(score.sketch)
    term = profile.features["loan_term_months"]  # two values: ties merge the bins
    assert term.edges == [36.0] and sum(term.bin_counts) == len(frame)
    edu = profile.features["education"]
    assert edu.kind == "categorical" and 0.04 < edu.missing_rate < 0.12
    assert abs(sum(edu.frequencies.values()) - 1) < 1e-9
    assert profile.prediction.kind == "probability" and profile.prediction.mean == pytest.approx(0.2)
    assert profile.prediction.positive_rate == 0.0
    assert profile.target.kind == "categorical"
    assert list(profile.importances) == ["credit_score", "age"]


def test_regression_profiles_scores_and_target_as_numbers(diabetes_cfg):
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({c: rng.normal(size=300) for c in diabetes_cfg.features.all})
    frame[diabetes_cfg.target] = rng.normal(150, 30, 300)
    profile = profiling.build_reference_profile(frame, diabetes_cfg, predictions=rng.normal(150, 20, 300))
    assert profile.task == "regression"
    assert profile.prediction.kind == "numeric" and profile.prediction.positive_rate is None
    assert profile.target.kind == "numeric" and profile.target.mean == pytest.approx(150, abs=5)


def test_edge_cases_all_missing_columns_and_long_category_tails():
    import pandas as pd

    frame = pd.DataFrame({"x": [np.nan] * 5 + [np.inf], "c": [f"cat{i}" for i in range(250)][:6]})
    tail = pd.Series([f"cat{i}" for i in range(300)] * 2)
    profile = profiling.profile_frame(frame, ["x"], ["c"])
    x = profile.features["x"]
    assert x.count == 0 and x.missing == 6 and x.missing_rate == 1.0 and x.mean is None and x.sketch == []
    wide = profiling.categorical_profile(tail)
    assert len(wide.counts) == profiling.MAX_CATEGORIES and wide.n_categories == 300
    assert wide.counts[profiling.OTHER] == 2 * (300 - profiling.MAX_CATEGORIES + 1)
    json.dumps(profile.to_dict(), allow_nan=False)


def test_reference_profile_rejects_missing_features_bad_bins_and_empty_scores(credit_cfg, credit_day):
    features, _ = credit_day
    with pytest.raises(ConfigError, match=r"lacks features \['credit_score'\]"):
        profiling.build_reference_profile(features.drop(columns=["credit_score"]), credit_cfg)
    with pytest.raises(ConfigError, match="'bins' parameter of build_reference_profile must be an int >= 2"):
        profiling.build_reference_profile(features, credit_cfg, bins=1)
    with pytest.raises(ConfigError, match="predictions is empty"):
        profiling.build_reference_profile(features, credit_cfg, predictions=np.zeros(0))


def test_quantile_and_bin_helpers_agree_with_numpy():
    x = np.sort(np.random.default_rng(1).normal(size=10_001))
    assert profiling.pick(x, [0.5])[0] == pytest.approx(np.quantile(x, 0.5, method="inverted_cdf"))
    counts = profiling.bin_counts(x, [-1.0, 0.0, 1.0])
    assert (
        counts.sum() == x.size and counts.tolist() == np.histogram(x, [-np.inf, -1, 0, 1, np.inf])[0].tolist()
    )
    values, missing = profiling.sorted_finite(["1.5", None, "a", 2])
    assert values.tolist() == [1.5, 2.0] and missing == 2


def test_boolean_features_and_predicted_classes_are_profiled_as_categories(credit_cfg):
    from mlops.config import DatasetConfig

    raw = credit_cfg.to_dict()
    raw["features"] = {"numeric": ["age"], "categorical": ["region"], "boolean": ["autopay"]}
    raw["training"]["slice_columns"] = []
    raw["fairness"] = None
    cfg = DatasetConfig.model_validate(raw)
    frame = pd.DataFrame(
        {
            "age": [30.0, 40, 50, 60],
            "region": ["north", "south", "north", None],
            "autopay": pd.array([True, False, True, None], dtype="boolean"),
        }
    )
    profile = profiling.build_reference_profile(
        frame, cfg, predictions=np.array(["a", "b", "a", "c"], dtype=object), prediction_kind="categorical"
    )
    assert profile.feature_kinds == {"age": "numeric", "region": "categorical", "autopay": "categorical"}
    autopay = profile.features["autopay"]
    assert autopay.counts == {"True": 2, "False": 1} and autopay.missing == 1
    assert profile.prediction.kind == "categorical" and profile.prediction.counts == {"a": 2, "b": 1, "c": 1}
    scores = profiling.build_reference_profile(frame, cfg, predictions=np.array([0.1, 0.6, 0.7, 0.2]))
    assert scores.prediction.kind == "probability" and scores.prediction.positive_rate == 0.5

"""skops serialization: pinned trusted types, checksum before load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops import serialization
from mlops.errors import IntegrityError


def _frame(n: int = 120):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n)})
    X.loc[::7, "a"] = np.nan
    X.loc[::11, "c"] = None
    return X, (X["b"] > 0).astype(int).to_numpy(), (2 * X["b"] + rng.normal(size=n)).to_numpy()


def _pipeline(estimator):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("num", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), ["a", "b"]),
            (
                "cat",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="most_frequent")),
                        ("onehot", OneHotEncoder(handle_unknown="ignore")),
                    ]
                ),
                ["c"],
            ),
        ]
    )
    return Pipeline([("pre", pre), ("model", estimator)])


def _estimators():
    from sklearn.dummy import DummyClassifier, DummyRegressor
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
        StackingClassifier,
        StackingRegressor,
        VotingClassifier,
        VotingRegressor,
    )
    from sklearn.linear_model import ElasticNet, LogisticRegression, Ridge, SGDClassifier

    return {
        "logistic_regression": (LogisticRegression(), "clf"),
        "sgd_classifier": (SGDClassifier(loss="log_loss", random_state=0), "clf"),
        "hist_gradient_boosting": (HistGradientBoostingClassifier(max_iter=5), "clf"),
        "hist_gradient_boosting_reg": (HistGradientBoostingRegressor(max_iter=5), "reg"),
        "random_forest": (RandomForestClassifier(n_estimators=3, random_state=0), "clf"),
        "random_forest_reg": (RandomForestRegressor(n_estimators=3, random_state=0), "reg"),
        "ridge": (Ridge(), "reg"),
        "elastic_net": (ElasticNet(), "reg"),
        "voting": (
            VotingClassifier(
                [
                    ("lr", LogisticRegression()),
                    ("rf", RandomForestClassifier(n_estimators=3, random_state=0)),
                ],
                voting="soft",
            ),
            "clf",
        ),
        "voting_reg": (
            VotingRegressor([("r", Ridge()), ("rf", RandomForestRegressor(n_estimators=3))]),
            "reg",
        ),
        "stacking": (
            StackingClassifier(
                [("lr", LogisticRegression()), ("hgb", HistGradientBoostingClassifier(max_iter=3))], cv=2
            ),
            "clf",
        ),
        "stacking_reg": (
            StackingRegressor([("r", Ridge()), ("rf", RandomForestRegressor(n_estimators=3))], cv=2),
            "reg",
        ),
        "dummy": (DummyClassifier(), "clf"),
        "dummy_reg": (DummyRegressor(), "reg"),
    }


@pytest.mark.parametrize("kind", sorted(_estimators()))
def test_every_supported_estimator_round_trips_with_the_pinned_list(kind):
    import skops.io as sio

    estimator, task = _estimators()[kind]
    X, y_clf, y_reg = _frame()
    model = _pipeline(estimator).fit(X, y_clf if task == "clf" else y_reg)
    data = serialization.dump_model(model)
    assert set(sio.get_untrusted_types(data=data)) <= set(serialization.TRUSTED_TYPES)
    loaded = serialization.load_model(data, expected_sha256=serialization.sha256_hex(data))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    if task == "clf":
        np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))


def test_tampered_bytes_are_refused_before_deserialization(monkeypatch):
    from sklearn.linear_model import LogisticRegression

    X, y, _ = _frame()
    data = serialization.dump_model(_pipeline(LogisticRegression()).fit(X, y))
    sha = serialization.sha256_hex(data)
    tampered = data[:-10] + b"0123456789"

    import skops.io as sio

    def boom(*args, **kwargs):  # pragma: no cover - must never be reached
        raise AssertionError("skops was called on unverified bytes")

    monkeypatch.setattr(sio, "loads", boom)
    monkeypatch.setattr(sio, "get_untrusted_types", boom)
    with pytest.raises(IntegrityError, match="Checksum mismatch for s3://b/model.skops"):
        serialization.load_model(tampered, expected_sha256=sha, where="s3://b/model.skops")


def test_missing_expected_checksum_is_refused():
    with pytest.raises(IntegrityError, match="No expected sha256"):
        serialization.load_model(b"anything", expected_sha256="")


def test_type_outside_the_pinned_list_is_refused_at_dump_and_at_load():
    import skops.io as sio
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression

    X, y, _ = _frame()
    model = CalibratedClassifierCV(LogisticRegression(), cv=2).fit(X[["b"]], y)  # reviewed: not on the list
    with pytest.raises(IntegrityError, match="not on the reviewed trusted list"):
        serialization.dump_model(model)
    raw = sio.dumps(model)  # what an attacker or a careless trainer could upload
    with pytest.raises(IntegrityError, match="Refusing to load"):
        serialization.load_model(raw, expected_sha256=serialization.sha256_hex(raw))


def test_not_a_skops_file_is_refused():
    data = b"definitely not a zip"
    with pytest.raises(IntegrityError, match="not a readable skops file"):
        serialization.load_model(data, expected_sha256=serialization.sha256_hex(data))

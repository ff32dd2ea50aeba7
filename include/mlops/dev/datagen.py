"""Deterministic example data: daily batches and late labels.

``credit`` is a synthetic consumer-loan dataset (19 features, realistic missing
values, ~12% default rate). ``diabetes`` resamples scikit-learn's bundled
diabetes data into daily visits; ``wine`` resamples its bundled wine data (three
cultivars, integer ids, no date column). All land in S3 as
``data/<dataset>/features/dt=<day>/batch.parquet`` with labels under
``data/<dataset>/labels/dt=<day>/labels.parquet`` once ``label_delay_days`` have
passed.

Switches: covariate drift (from a date, on chosen features), label shift (a new
default rate, drawn by resampling so P(x|y) is kept), and bad batches.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops import artifacts, storage
from mlops.config import DatasetConfig

if TYPE_CHECKING:
    import pandas as pd

#: Features the covariate-drift switch moves, and how.
CREDIT_DRIFT_FEATURES = ("credit_score", "annual_income", "interest_rate", "debt_to_income")

_PURPOSES = [
    "debt_consolidation",
    "credit_card",
    "home_improvement",
    "car",
    "medical",
    "small_business",
    "other",
]
_PURPOSE_P = [0.42, 0.22, 0.1, 0.1, 0.05, 0.04, 0.07]
_PURPOSE_RISK = {
    "debt_consolidation": 0.1,
    "credit_card": 0.0,
    "home_improvement": -0.2,
    "car": -0.3,
    "medical": 0.3,
    "small_business": 0.6,
    "other": 0.2,
}
_HOME = ["rent", "mortgage", "own", "other"]
_HOME_P = [0.45, 0.4, 0.13, 0.02]
_HOME_RISK = {"rent": 0.25, "mortgage": -0.15, "own": -0.1, "other": 0.4}
_EMPLOYMENT = ["salaried", "self_employed", "contract", "unemployed", "retired"]
_EMPLOYMENT_P = [0.62, 0.14, 0.12, 0.04, 0.08]
_REGION = ["north", "south", "east", "west", "central"]
_REGION_P = [0.22, 0.24, 0.18, 0.21, 0.15]
_EDUCATION = ["high_school", "bachelor", "master", "doctorate", "other"]
_EDUCATION_P = [0.38, 0.36, 0.16, 0.03, 0.07]


@dataclass(frozen=True)
class Scenario:
    """What to inject into the generated days.

    Parameters
    ----------
    drift_start : first day with covariate drift, or None.
    drift_features : the features that drift (credit only).
    drift_strength : 1.0 is a strong, obvious shift.
    label_shift_start : first day with a shifted default rate, or None.
    label_shift_rate : the default rate from that day on.
    bad_days : days whose batch is corrupted (nulls, out-of-range values).
    """

    drift_start: date | None = None
    drift_features: tuple[str, ...] = CREDIT_DRIFT_FEATURES
    drift_strength: float = 1.0
    label_shift_start: date | None = None
    label_shift_rate: float = 0.3
    bad_days: tuple[date, ...] = field(default_factory=tuple)

    def drifted(self, day: date) -> bool:
        return self.drift_start is not None and day >= self.drift_start

    def label_shifted(self, day: date) -> bool:
        return self.label_shift_start is not None and day >= self.label_shift_start


def _rng(seed: int, day: date, salt: str = "") -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(f"{day.isoformat()}|{salt}".encode())])


def _credit_pool(
    rng: np.random.Generator, n: int, drift: float, drift_features: tuple[str, ...]
) -> pd.DataFrame:
    import pandas as pd

    def shift(name: str) -> float:
        return drift if name in drift_features else 0.0

    age = np.clip(rng.normal(41, 12, n), 18, 85).round()
    employment_type = rng.choice(_EMPLOYMENT, n, p=_EMPLOYMENT_P)
    education = rng.choice(_EDUCATION, n, p=_EDUCATION_P)
    edu_boost = (
        pd.Series(education)
        .map({"high_school": 0.0, "bachelor": 0.25, "master": 0.4, "doctorate": 0.55, "other": 0.05})
        .to_numpy()
    )
    income = np.exp(rng.normal(10.9 + edu_boost - 0.35 * shift("annual_income"), 0.5, n)).round(-2)
    credit_score = np.clip(rng.normal(690 - 60 * shift("credit_score"), 55, n), 300, 850).round()
    loan_term = rng.choice([36, 60], n, p=[0.7, 0.3]).astype(float)
    loan_amount = np.clip(np.exp(rng.normal(9.4, 0.6, n)), 1000, 40000).round(-2)
    base_rate = 24 - (credit_score - 300) / 550 * 18 + (loan_term == 60) * 1.5
    interest_rate = np.clip(base_rate + rng.normal(2.5 * shift("interest_rate"), 1.5, n), 4, 30).round(2)
    dti = np.clip(rng.gamma(4.0, 4.5, n) + 8 * shift("debt_to_income"), 0, 60).round(1)
    open_acc = rng.poisson(9, n).astype(float)
    delinq = rng.poisson(np.where(credit_score < 620, 0.9, 0.15), n).astype(float)
    months_since = np.where(delinq > 0, rng.integers(1, 60, n), np.nan).astype(float)
    revol = np.clip(rng.beta(2, 3, n) * 100 + (700 - credit_score) * 0.05, 0, 150).round(1)
    emp_years = np.clip(rng.exponential(6, n), 0, 45).round(1)
    emp_years[employment_type == "unemployed"] = 0.0
    inquiries = rng.poisson(1.2, n).astype(float)
    monthly_rate = interest_rate / 1200
    installment = loan_amount * monthly_rate / (1 - (1 + monthly_rate) ** -loan_term)
    inst_to_income = np.round(installment * 12 / income, 4)

    df = pd.DataFrame(
        {
            "age": age,
            "annual_income": income,
            "loan_amount": loan_amount,
            "loan_term_months": loan_term,
            "interest_rate": interest_rate,
            "debt_to_income": dti,
            "credit_score": credit_score,
            "num_open_accounts": open_acc,
            "num_delinquencies_2y": delinq,
            "months_since_last_delinquency": months_since,
            "revolving_utilization": revol,
            "employment_years": emp_years,
            "num_credit_inquiries_6m": inquiries,
            "installment_to_income": inst_to_income,
            "home_ownership": rng.choice(_HOME, n, p=_HOME_P),
            "loan_purpose": rng.choice(_PURPOSES, n, p=_PURPOSE_P),
            "employment_type": employment_type,
            "region": rng.choice(_REGION, n, p=_REGION_P),
            "education": education,
        }
    )
    return _defaults_and_gaps(rng, df)


def _defaults_and_gaps(rng: np.random.Generator, df: pd.DataFrame) -> pd.DataFrame:
    """Draw the ``default`` label from a risk score, then blank optional fields (in place)."""
    n = len(df)
    z = lambda col: (df[col] - df[col].mean()) / (df[col].std() + 1e-9)  # noqa: E731
    logit = (
        -2.45
        - 1.05 * (df["credit_score"] - 690) / 55
        + 0.55 * (df["debt_to_income"] - 18) / 9
        + 0.35 * (df["revolving_utilization"] - 40) / 20
        + 0.45 * df["num_delinquencies_2y"]
        + 0.25 * (df["interest_rate"] - 14) / 4
        - 0.3 * (np.log(df["annual_income"]) - 11.1) / 0.5
        + 2.5 * (df["installment_to_income"] - 0.1)
        + 0.12 * df["num_credit_inquiries_6m"]
        + df["loan_purpose"].map(_PURPOSE_RISK)
        + df["home_ownership"].map(_HOME_RISK)
        + np.where(df["employment_type"] == "unemployed", 0.7, 0.0)
        - 0.1 * z("employment_years").fillna(0)
    )
    p = 1 / (1 + np.exp(-logit.to_numpy()))
    df["default"] = (rng.random(n) < p).astype("int64")

    # Realistic missingness: income and employment history are optional on the form.
    df.loc[rng.random(n) < 0.04, "annual_income"] = np.nan
    df.loc[rng.random(n) < 0.06, "employment_years"] = np.nan
    df.loc[rng.random(n) < 0.08, "education"] = None
    return df


def _label_shift(
    rng: np.random.Generator, pool: pd.DataFrame, n: int, rate: float, target: str
) -> pd.DataFrame:
    """Resample to a default rate of ``rate`` keeping P(x|y): true prior (label) shift."""
    import pandas as pd

    pos, neg = pool[pool[target] == 1], pool[pool[target] == 0]
    n_pos = int(round(n * rate))
    take_pos = rng.choice(len(pos), n_pos, replace=n_pos > len(pos))
    take_neg = rng.choice(len(neg), n - n_pos, replace=(n - n_pos) > len(neg))
    out = pd.concat([pos.iloc[take_pos], neg.iloc[take_neg]])
    return out.sample(frac=1.0, random_state=int(rng.integers(2**31))).reset_index(drop=True)


def _corrupt(rng: np.random.Generator, df: pd.DataFrame) -> pd.DataFrame:
    """A broken upstream export: a column mostly null and impossible values."""
    df = df.copy()
    n = len(df)
    df.loc[rng.random(n) < 0.4, "credit_score"] = np.nan
    bad = rng.random(n) < 0.1
    df.loc[bad, "loan_amount"] = -df.loc[bad, "loan_amount"]
    return df


def generate_credit_day(
    cfg: DatasetConfig, day: date, n_rows: int, seed: int = 0, scenario: Scenario | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One day of credit applications: ``(features, labels)``."""
    import pandas as pd

    scenario = scenario or Scenario()
    rng = _rng(seed, day)
    drift = scenario.drift_strength if scenario.drifted(day) else 0.0
    if scenario.label_shifted(day):
        pool = _credit_pool(rng, n_rows * 4, drift, scenario.drift_features)
        df = _label_shift(rng, pool, n_rows, scenario.label_shift_rate, cfg.target)
    else:
        df = _credit_pool(rng, n_rows, drift, scenario.drift_features)
    if day in scenario.bad_days:
        df = _corrupt(rng, df)
    df.insert(0, cfg.id_column, [f"A{day:%Y%m%d}{i:06d}" for i in range(len(df))])
    df.insert(1, cfg.date_column, pd.Timestamp(day))
    labels = df[[cfg.id_column, cfg.target]].copy()
    return df.drop(columns=[cfg.target]), labels


def generate_diabetes_day(
    cfg: DatasetConfig, day: date, n_rows: int, seed: int = 0, scenario: Scenario | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One day of visits resampled from ``sklearn.datasets.load_diabetes`` (real data, small jitter)."""
    import pandas as pd
    from sklearn.datasets import load_diabetes

    scenario = scenario or Scenario()
    raw = load_diabetes(as_frame=True, scaled=False).frame
    rng = _rng(seed, day, "diabetes")
    rows = raw.iloc[rng.integers(0, len(raw), n_rows)].reset_index(drop=True)
    df = pd.DataFrame(
        {
            "age": rows["age"].astype(float),
            "sex": rows["sex"].map({1.0: "1", 2.0: "2"}).astype(object),
            "bmi": (rows["bmi"] * rng.normal(1, 0.01, n_rows)).round(1),
            "bp": (rows["bp"] * rng.normal(1, 0.01, n_rows)).round(1),
            **{c: rows[c].astype(float) for c in ("s1", "s2", "s3", "s4", "s5", "s6")},
        }
    )
    if scenario.drifted(day):
        df["bmi"] = df["bmi"] + 4 * scenario.drift_strength
    if day in scenario.bad_days:
        df.loc[rng.random(n_rows) < 0.3, "bmi"] = np.nan
    df.insert(0, cfg.id_column, [f"P{day:%Y%m%d}{i:05d}" for i in range(n_rows)])
    df.insert(1, cfg.date_column, pd.Timestamp(day))
    labels = pd.DataFrame({cfg.id_column: df[cfg.id_column], cfg.target: rows["target"].astype(float)})
    return df, labels


#: Wine features the covariate-drift switch moves (by ``drift_strength`` standard deviations).
WINE_DRIFT_FEATURES = ("color_intensity", "proline", "alcohol")


def _wine_frame():
    """scikit-learn's wine data with the config's names: lower-case, non-alphanumerics as ``_``, target ``cultivar``."""
    import re

    from sklearn.datasets import load_wine

    raw = load_wine(as_frame=True).frame
    return raw.rename(
        columns=lambda c: "cultivar" if c == "target" else re.sub(r"[^a-z0-9]+", "_", c.lower())
    )


def generate_wine_day(
    cfg: DatasetConfig, day: date, n_rows: int, seed: int = 0, scenario: Scenario | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One day of wines resampled from ``sklearn.datasets.load_wine`` (real data, 1% jitter).

    Integer ids ``YYYYMMDD * 100000 + row`` (unique across days), no date column (the day is
    the partition), the three cultivars as labels. Drift moves :data:`WINE_DRIFT_FEATURES`.
    """
    import pandas as pd

    scenario = scenario or Scenario()
    raw = _wine_frame()
    rng = _rng(seed, day, "wine")
    rows = raw.iloc[rng.integers(0, len(raw), n_rows)].reset_index(drop=True)
    df = pd.DataFrame({c: rows[c].astype(float) for c in cfg.features.numeric})
    for col in ("alcohol", "color_intensity", "hue", "proline", "magnesium"):
        if col in df:
            df[col] = (df[col] * rng.normal(1, 0.01, n_rows)).round(3)
    if scenario.drifted(day):
        for col in WINE_DRIFT_FEATURES:
            df[col] = df[col] + scenario.drift_strength * 0.8 * raw[col].std()
    if day in scenario.bad_days:
        df.loc[rng.random(n_rows) < 0.3, "alcohol"] = np.nan
    ids = np.int64(int(f"{day:%Y%m%d}")) * 100_000 + np.arange(n_rows, dtype="int64")
    df.insert(0, cfg.id_column, ids)
    labels = pd.DataFrame({cfg.id_column: ids, cfg.target: rows["cultivar"].astype("int64")})
    return df, labels


GENERATORS = {
    "generated": generate_credit_day,
    "sklearn_diabetes": generate_diabetes_day,
    "sklearn_wine": generate_wine_day,
}


def generate_day(
    cfg: DatasetConfig, day: date, n_rows: int, seed: int = 0, scenario: Scenario | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Dispatch on ``cfg.source``."""
    try:
        gen = GENERATORS[cfg.source]
    except KeyError:
        raise ValueError(f"No generator for source {cfg.source!r}; known: {sorted(GENERATORS)}") from None
    return gen(cfg, day, n_rows, seed, scenario)


def daterange(start: date, days: int) -> list[date]:
    return [start + timedelta(days=i) for i in range(days)]


def seed_dataset(
    client,
    bucket: str,
    cfg: DatasetConfig,
    *,
    start: date,
    days: int,
    rows_per_day: int,
    today: date | None = None,
    seed: int = 0,
    scenario: Scenario | None = None,
    skip_existing: bool = False,
    log=print,
) -> dict[str, Any]:
    """Write ``days`` daily batches from ``start`` and the labels that have arrived by ``today``.

    Idempotent: the same arguments write the same bytes to the same keys. With
    ``skip_existing``, an object already in the bucket is left alone (no new S3
    version): a top-up writes only the new days and the labels that came due.

    Returns the days whose batch and whose labels this call wrote (``days``,
    ``labelled_days``) and the days it left untouched (``skipped_days``).
    """
    today = today or (start + timedelta(days=days - 1))
    have: set[str] = set()
    if skip_existing:
        for kind in ("features", "labels"):
            have.update(storage.list_uris(client, f"s3://{bucket}/data/{cfg.name}/{kind}/"))
    written, labelled, skipped = [], [], []
    for i, day in enumerate(daterange(start, days), 1):
        batch, labels_at = (
            artifacts.batch_uri(bucket, cfg.name, day),
            artifacts.labels_uri(bucket, cfg.name, day),
        )
        need_batch = batch not in have
        need_labels = day + timedelta(days=cfg.label_delay_days) <= today and labels_at not in have
        if need_batch or need_labels:
            features, labels = generate_day(cfg, day, rows_per_day, seed, scenario)
            if need_batch:
                storage.write_parquet(client, batch, features)
                written.append(day.isoformat())
            if need_labels:
                storage.write_parquet(client, labels_at, labels)
                labelled.append(day.isoformat())
        else:
            skipped.append(day.isoformat())
        if i % 10 == 0 or i == days:
            log(f"seeded {cfg.name}: {i}/{days} days ({rows_per_day} rows/day)")
    return {
        "dataset": cfg.name,
        "bucket": bucket,
        "days": written,
        "labelled_days": labelled,
        "skipped_days": skipped,
        "rows_per_day": rows_per_day,
    }

"""A stranger's own datasets, none of them shipped: ``mlops init`` -> ``mlops validate`` -> the DAGs.

Three datasets the repo knows nothing about:

- scikit-learn's breast cancer data (binary 0/1 target, 30 features whose names hold spaces
  such as ``mean radius``), with an integer ``patient_id`` added;
- a hand-made CSV with the columns real exports have: a string id named ``Customer ID``, an ISO
  text date, names with dots, upper case, unicode and a ``?``, a numeric column with nulls, a
  constant column, a high-cardinality text column, a boolean feature and a ``yes``/``no`` target;
- a tiny hand-made regression CSV (30 rows in the sample, 6 a day) with an integer ``Price €``.

Each is inferred from a clean sample into a temp config dir (``$MLOPS_CONFIG_DIR``), validated
clean (passes) and corrupted (fails, naming the column), then seeded into moto S3 as daily
batches (labels in the batch) and taken through mlops_training, mlops_batch_scoring and
mlops_monitoring with ``dag.test()`` on a DagBag parsed with that config dir, so the datasets are
in the DAGs' ``dataset`` Params as they would be after ``mlops init`` in a real deployment.
"""

from __future__ import annotations

import contextlib
import io
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pendulum
import pytest
from dag_runs import task_states, work_states

from mlops import artifacts, scoring, storage
from mlops.artifacts import DriftReport
from mlops.artifacts.nightly import PerformanceReport
from mlops.cli import main
from mlops.registry import ModelRegistry

pytestmark = pytest.mark.e2e

BUCKET = "mlops-test"
START, DAYS = date(2026, 3, 1), 8
END = START + timedelta(days=DAYS - 1)
SCORE_DAY = END + timedelta(days=1)  # an unlabelled batch: scored, never trained on
AWKWARD_ROWS = 80


# ------------------------------------------------------------------ the datasets
def _breast_cancer() -> pd.DataFrame:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.insert(0, "patient_id", np.arange(1, len(frame) + 1, dtype="int64"))
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def _awkward(seed: int, n: int, day: date) -> pd.DataFrame:
    """A CRM-like export: awkward names, a text id, ISO dates, nulls, a constant, yes/no target."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 90, n)
    card = rng.random(n) < 0.5
    city = rng.choice(["Roma", "Milano", "Napoli", "Torino"], n, p=[0.4, 0.3, 0.2, 0.1])
    income = rng.gamma(3.0, 20_000.0, n).round(0)
    logit = -2.0 + 0.05 * (age - 50) + 1.5 * card + 0.8 * (city == "Napoli")
    churned = rng.random(n) < 1 / (1 + np.exp(-logit))
    start = pd.Timestamp(day)
    return pd.DataFrame(
        {
            "Customer ID": [f"C-{seed:03d}-{i:05d}" for i in range(n)],
            "Signup Date": (start + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s")).strftime(
                "%Y-%m-%dT%H:%M:%S"
            ),
            "Annual.Income": np.where(rng.random(n) < 0.1, np.nan, income),
            "Città": city,
            "Referral Code": [f"R{x:06d}" for x in rng.integers(0, 999_999, n)],
            "Age": age,
            "Const": 1.0,
            "Has Card": card,
            "Churned?": np.where(churned, "yes", "no"),
        }
    )


def _houses(seed: int, n: int) -> pd.DataFrame:
    """A tiny hand-made regression CSV: an integer price (the target) named with a symbol."""
    rng = np.random.default_rng(seed)
    rooms = rng.integers(1, 6, n)
    area = rng.normal(80.0, 20.0, n).round(1)
    price = (rooms * 40 + area * 2 + rng.integers(0, 50, n)).astype("int64") * 1000
    return pd.DataFrame(
        {
            "house_id": np.arange(seed * 1000, seed * 1000 + n),
            "Rooms": rooms,
            "Area m2": area,
            "Price €": price,
        }
    )


#: Per dataset: the id column, the target, and the labels a prediction may take (None: regression).
SPECS = {
    "breast_cancer": ("patient_id", "target", {0, 1}),
    "crm_churn": ("Customer ID", "Churned?", {"no", "yes"}),
    "tiny_houses": ("house_id", "Price €", None),
}


@pytest.fixture(scope="module")
def stranger_dirs(tmp_path_factory):
    """``$MLOPS_CONFIG_DIR`` / ``$MLOPS_EXPECTATIONS_DIR`` in a temp dir for the whole module."""
    root = tmp_path_factory.mktemp("stranger")
    cfg_dir, exp_dir = root / "configs", root / "expectations"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLOPS_CONFIG_DIR", str(cfg_dir))
        mp.setenv("MLOPS_EXPECTATIONS_DIR", str(exp_dir))
        yield root


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _validate(capsys, name: str, path) -> tuple[int, str]:
    code, out, err = _cli(capsys, "validate", "--dataset", name, "--input", str(path))
    assert "Traceback" not in out + err, out + err
    return code, out + err


@pytest.fixture(scope="module")
def inited(stranger_dirs):
    """Both datasets inited from their clean samples (the CLI, as a stranger runs it)."""
    root = stranger_dirs
    bc = _breast_cancer()
    bc.iloc[:300].to_parquet(root / "bc_sample.parquet")
    _awkward(0, 300, START - timedelta(days=30)).to_csv(root / "awkward_sample.csv", index=False)
    _houses(0, 30).to_csv(root / "houses.csv", index=False)  # very few rows
    outputs = {}
    for argv in (
            ["init", "breast_cancer", "--sample", str(root / "bc_sample.parquet")],
            [
                "init", "crm_churn", "--sample", str(root / "awkward_sample.csv"),
                "--id", "Customer ID", "--target", "Churned?", "--date", "Signup Date",
            ],
            ["init", "tiny_houses", "--sample", str(root / "houses.csv"), "--target", "Price €"],
    ):  # fmt: skip
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(argv) == 0, buf.getvalue()
        outputs[argv[1]] = buf.getvalue()
    return outputs


# ------------------------------------------------------------------ init and validate (no Airflow)
def test_init_infers_sensible_configs_for_awkward_columns(inited):
    from mlops.config import load_dataset_config

    bc = load_dataset_config("breast_cancer")
    assert bc.id_column == "patient_id" and bc.id_type == "integer" and bc.target == "target"
    assert bc.task == "classification" and bc.validation.target_values == (0, 1)
    assert len(bc.features.numeric) == 30 and "mean radius" in bc.features.numeric
    assert bc.gate.primary_metric == "roc_auc" and bc.validation.min_rows == 30

    crm = load_dataset_config("crm_churn")
    assert (crm.id_column, crm.id_type, crm.date_column) == ("Customer ID", "string", "Signup Date")
    assert crm.target == "Churned?" and crm.validation.target_values == ("no", "yes")
    assert set(crm.features.numeric) == {"Annual.Income", "Age", "Const"}
    assert set(crm.features.categorical) == {"Città", "Referral Code"} and crm.features.boolean == (
        "Has Card",
    )
    assert (
        crm.features.optional == ("Annual.Income",)
        and 0.1 < crm.validation.null_tolerance["Annual.Income"] < 0.3
    )
    assert crm.validation.value_sets["Città"] == ("Milano", "Napoli", "Roma", "Torino")
    assert "Referral Code" not in crm.validation.value_sets  # 300 distinct: no value set
    out = inited["crm_churn"]
    assert "one value in every row" in out  # Const
    assert "ISO text in the sample, parsed" in out and "binary labels ['no', 'yes']" in out


def test_init_user_errors_are_one_line_and_write_nothing(stranger_dirs, tmp_path, capsys):
    sample = tmp_path / "crm.csv"
    _awkward(9, 60, START).to_csv(sample, index=False)
    cases = {
        ("all",): "Dataset name 'all' is reserved",
        ("crm2", "--target", "Churned?", "--date", "Città"): "--date 'Città' is not a datetime column nor ISO 8601 text",
        ("crm2",): "Cannot tell the target column of the sample (no candidate); pass --target COL",
    }  # fmt: skip
    for args, expected in cases.items():
        code, out, err = _cli(capsys, "init", args[0], "--sample", str(sample), *args[1:])
        assert code == 2 and expected in err and len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err and not (stranger_dirs / "configs" / f"{args[0]}.yaml").exists()
    broken = tmp_path / "inf.csv"
    _awkward(9, 60, START).assign(Age=lambda f: f["Age"].where(f.index != 7, np.inf)).to_csv(
        broken, index=False
    )
    code, out, err = _cli(capsys, "init", "crm2", "--sample", str(broken), "--target", "Churned?")
    assert code == 2 and err.startswith(
        "error: Column 'Age' has 1 infinite values in the sample (e.g. inf)"
    ), err
    assert len(err.strip().splitlines()) == 1
    # "Customer ID" is the id without --id (names are compared as snake_case: customer_id)
    code, out, err = _cli(capsys, "init", "crm2", "--sample", str(sample), "--target", "Churned?", "--json")
    assert code == 0, err
    payload = json.loads(out)
    assert payload["config"]["id_column"] == "Customer ID"
    signup = next(c for c in payload["columns"] if c["name"] == "Signup Date")
    assert any("pass --date 'Signup Date'" in n for n in signup["notes"])
    (stranger_dirs / "configs" / "crm2.yaml").unlink()  # not one of the DAG tests' datasets


def test_inferred_ranges_leave_room_for_the_tails_of_unseen_rows(inited):
    """The sample has 300 of 569 rows; no row of the rest is outside a hard range (heavy tails included)."""
    from mlops.config import load_dataset_config

    rest = _breast_cancer().iloc[300:]
    ranges = load_dataset_config("breast_cancer").validation.ranges
    outside = {c: int(((rest[c] < lo) | (rest[c] > hi)).sum()) for c, (lo, hi) in ranges.items()}
    assert not {c: n for c, n in outside.items() if n}, outside
    assert ranges["mean radius"][1] < 10 * rest["mean radius"].max()  # still catches a unit change


def _corrupt_bc(f: pd.DataFrame, case: str) -> pd.DataFrame:
    f = f.copy()
    if case == "nulls":
        f.loc[f.index[:5], "mean radius"] = np.nan
    elif case == "out_of_range":
        f.loc[f.index[:3], "worst area"] = -1.0
    elif case == "wrong_type":
        f["mean texture"] = f["mean texture"].astype(str)
    elif case == "missing":
        f = f.drop(columns=["worst symmetry"])
    elif case == "extra":
        f["scan notes"] = "n/a"
    return f


BC_EXPECTED = {
    "nulls": 'column "mean radius": 7.8% null (5 of 64 rows; allowed 0%)',
    "out_of_range": 'column "worst area": 4.7% of values outside',
    "wrong_type": 'column "mean texture": type str, expected one of',
    "missing": "table: missing columns ['worst symmetry']",
    "extra": "table: unexpected columns ['scan notes']",
}


def test_breast_cancer_clean_batch_passes_and_each_corruption_names_its_column(
    inited, tmp_path, capsys, caplog
):
    batch = _day_batches()["breast_cancer"][START]
    batch.to_parquet(tmp_path / "clean.parquet")
    code, out = _validate(capsys, "breast_cancer", tmp_path / "clean.parquet")
    assert code == 0 and "VERDICT: PASS" in out, out
    for case, expected in BC_EXPECTED.items():
        path = tmp_path / f"{case}.parquet"
        _corrupt_bc(batch, case).to_parquet(path)
        code, out = _validate(capsys, "breast_cancer", path)
        assert code == 1 and "VERDICT: REJECTED" in out and expected in out, (case, out)
    # A mistyped column is one FAIL line: GX's warning with every failed metric's traceback is not logged.
    assert not [r for r in caplog.records if r.name.startswith("great_expectations")], caplog.text[:2000]
    (tmp_path / "empty.parquet").write_bytes(b"")
    (tmp_path / "text.parquet").write_text("patient_id,target\n1,0\n")
    for name, expected in (("empty", "is empty (0 bytes)"), ("text", "is not a Parquet file")):
        code, out = _validate(capsys, "breast_cancer", tmp_path / f"{name}.parquet")
        assert code == 2 and expected in out and len(out.strip().splitlines()) == 1, out


def test_awkward_csv_batches_pass_clean_and_fail_naming_the_column(inited, tmp_path, capsys):
    clean = _awkward(42, 120, START)
    clean.to_csv(tmp_path / "clean.csv", index=False)  # ISO text dates: parsed for a CSV batch
    code, out = _validate(capsys, "crm_churn", tmp_path / "clean.csv")
    assert code == 0 and "VERDICT: PASS" in out, out
    cases = {
        "unknown_city": (clean.assign(**{"Città": clean["Città"].where(clean.index > 0, "Firenze")}),
                         "column \"Città\": 0.8% of values not in {'Milano', 'Napoli', 'Roma', 'Torino'}"),
        "age_as_text": (clean.assign(Age=clean["Age"].astype(str) + " y"), 'column "Age": type str'),
        "no_card": (clean.drop(columns=["Has Card"]), "table: missing columns ['Has Card']"),
        "bool_target": (clean.assign(**{"Churned?": clean["Churned?"] == "yes"}),
                        'column "Churned?": type bool, expected str'),
        "income_nulls": (clean.assign(**{"Annual.Income": np.nan}), 'column "Annual.Income": 100% null'),
    }  # fmt: skip
    for case, (frame, expected) in cases.items():
        frame.to_csv(tmp_path / f"{case}.csv", index=False)
        code, out = _validate(capsys, "crm_churn", tmp_path / f"{case}.csv")
        assert code == 1 and expected in out, (case, out)


def test_a_sample_passes_its_own_suite_whatever_its_pandas_dtypes(stranger_dirs, tmp_path, capsys):
    """A timezone-aware date, a ``category`` column and a nullable boolean with nulls, as Parquet and
    as CSV (ISO dates with an offset): init accepts them, so validation must too."""
    rng = np.random.default_rng(5)
    n = 120
    sample = pd.DataFrame(
        {
            "event_id": np.arange(n),
            "At": pd.Timestamp("2026-03-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 86_400, n), unit="s"),
            "Tier": pd.Categorical(rng.choice(["gold", "silver"], n)),
            "Opt In": pd.array(np.where(rng.random(n) < 0.1, None, rng.random(n) < 0.5), dtype="boolean"),
            "score": rng.normal(size=n),
            "label": rng.integers(0, 2, n),
        }
    )
    sample.to_parquet(tmp_path / "dtypes.parquet")
    sample.to_csv(tmp_path / "dtypes.csv", index=False)
    code, out, err = _cli(capsys, "init", "dtypes", "--sample", str(tmp_path / "dtypes.parquet"))
    assert code == 0, err
    for path in (tmp_path / "dtypes.parquet", tmp_path / "dtypes.csv"):
        code, out = _validate(capsys, "dtypes", path)
        assert code == 0 and "VERDICT: PASS" in out, out
    bad = sample.assign(Tier=sample["Tier"].cat.add_categories(["bronze"]))
    bad.loc[3, "Tier"] = "bronze"
    bad.to_parquet(tmp_path / "bad.parquet")
    code, out = _validate(capsys, "dtypes", tmp_path / "bad.parquet")
    assert code == 1 and "column \"Tier\": 0.8% of values not in {'gold', 'silver'}" in out, out
    (stranger_dirs / "configs" / "dtypes.yaml").unlink()  # not one of the DAG tests' datasets


@pytest.fixture(scope="module")
def stranger_dagbag(inited, airflow_db):
    """The DAGs parsed with the temp config dir: the new datasets are in their ``dataset`` Params."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags"))
    assert not bag.import_errors, bag.import_errors
    return bag


def _day_batches() -> dict[str, dict[date, pd.DataFrame]]:
    bc = _breast_cancer()
    days = [START + timedelta(days=i) for i in range(DAYS + 1)]
    out: dict[str, dict[date, pd.DataFrame]] = {name: {} for name in SPECS}
    for i, chunk in enumerate(np.array_split(np.arange(len(bc)), len(days))):
        out["breast_cancer"][days[i]] = bc.iloc[chunk].reset_index(drop=True)
    for i, day in enumerate(days):
        frame = _awkward(i + 1, AWKWARD_ROWS, day)
        frame["Signup Date"] = pd.to_datetime(frame["Signup Date"])
        out["crm_churn"][day] = frame
        out["tiny_houses"][day] = _houses(i + 1, 6)
    for name in out:  # the day to score arrives without its labels
        out[name][SCORE_DAY] = out[name][SCORE_DAY].drop(columns=[_target(name)])
    return out


def _target(name: str) -> str:
    return SPECS[name][1]


def _xcom(dag_run, task_id):
    return dag_run.get_task_instance(task_id).xcom_pull(task_ids=task_id)


def _at(day: date, hour: int):
    return pendulum.datetime(day.year, day.month, day.day, hour, tz="UTC")


@pytest.mark.parametrize("name", sorted(SPECS))
def test_a_strangers_dataset_trains_scores_and_is_monitored(name, stranger_dagbag, server_s3):
    batches = _day_batches()[name]
    for day, frame in batches.items():
        storage.write_parquet(server_s3, artifacts.batch_uri(BUCKET, name, day), frame)

    training = stranger_dagbag.get_dag("mlops_training")
    conf = {
        "dataset": name, "window_days": DAYS, "estimator": None, "search": "config",
        "force_promote": False, "skip_rejected_batches": False, "reason": "pytest: a stranger's dataset",
    }  # fmt: skip
    trained = training.test(logical_date=_at(END, 0), run_conf=conf)
    assert set(work_states(trained).values()) == {"success"}, task_states(trained)
    evaluation = _xcom(trained, "evaluate_model")
    id_col, _, labels = SPECS[name]
    if labels is None:  # regression on 6 rows a day: rmse primary, r2 well above the 0.1 floor
        assert evaluation["primary_metric"] == "rmse" and evaluation["candidate"]["r2"] > 0.5, evaluation
    else:
        floor = {"breast_cancer": 0.95, "crm_churn": 0.65}[name]
        assert evaluation["primary_metric"] == "roc_auc" and evaluation["candidate"]["roc_auc"] > floor
    assert _xcom(trained, "gate_model")["blessed"]
    registry = ModelRegistry(server_s3, BUCKET, name)
    assert registry.versions() == ["v0001"] and registry.pointer("production").version == "v0001"

    scoring_dag = stranger_dagbag.get_dag("mlops_batch_scoring")
    for day in (END, SCORE_DAY):  # a labelled day (realised metrics tonight) and an unlabelled one
        scored = scoring_dag.test(
            logical_date=_at(day, 4),
            run_conf={"dataset": name, "date": day.isoformat(), "version": "production", "shards": 1},
        )
        assert scored.state == "success", task_states(scored)
    preds = scoring.read_predictions(server_s3, artifacts.predictions_prefix(BUCKET, name, SCORE_DAY))
    batch = batches[SCORE_DAY]
    proba = [] if labels is None else ["probability"]
    assert list(preds.columns) == [id_col, "prediction", *proba, "model_version", "run_id"]
    assert list(preds[id_col]) == list(batch[id_col]) and preds[id_col].dtype == batch[id_col].dtype
    assert (preds["model_version"] == "v0001").all()
    if labels is None:
        assert preds["prediction"].between(50_000, 600_000).all(), preds["prediction"]
    else:
        assert set(preds["prediction"]) <= labels

    monitoring_dag = stranger_dagbag.get_dag("mlops_monitoring")
    monitored = monitoring_dag.test(
        logical_date=_at(SCORE_DAY, 6),
        run_conf={"dataset": name, "date": SCORE_DAY.isoformat(), "window_days": 2},
    )
    assert monitored.state == "success", task_states(monitored)
    states = task_states(monitored)
    assert states["monitor_drift"] == states["monitor_performance"] == "success", states
    drift = artifacts.read_artifact(server_s3, artifacts.drift_uri(BUCKET, name, SCORE_DAY), DriftReport)
    assert set(drift.current_window["days"]) == {END.isoformat(), SCORE_DAY.isoformat()}
    perf = artifacts.read_artifact(
        server_s3, artifacts.performance_uri(BUCKET, name, SCORE_DAY), PerformanceReport
    )
    by_day = {d.day: d for d in perf.days}
    assert by_day[END.isoformat()].source == "realised" and by_day[END.isoformat()].n == len(batches[END])
    assert by_day[SCORE_DAY.isoformat()].source != "realised"  # no labels yet

"""``mlops init``: a config and suite inferred from a clean sample accept clean batches and reject broken ones.

The dataset is none of the shipped ones: an integer id, numeric, categorical and boolean
features, a boolean target carried in the batch, and no date column.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops.cli import main
from mlops.config import load_dataset_config
from mlops.validation.infer import infer_config

NAME = "churn"


def _frame(seed: int, n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "customer_id": np.arange(seed * 10_000, seed * 10_000 + n, dtype="int64"),
            "age": rng.integers(18, 80, n),
            "monthly_spend": rng.gamma(2.0, 30.0, n).round(2),
            "plan": rng.choice(["basic", "plus", "pro"], n, p=[0.5, 0.3, 0.2]),
            "is_active": rng.random(n) < 0.7,
            "tenure_months": np.where(rng.random(n) < 0.05, np.nan, rng.integers(0, 120, n)),
            "churned": rng.random(n) < 0.25,
        }
    )


@pytest.fixture
def dirs(tmp_path, monkeypatch):
    """Configs and suites in a temp dir (``$MLOPS_CONFIG_DIR``), never in include/."""
    cfg_dir, exp_dir = tmp_path / "configs", tmp_path / "expectations"
    monkeypatch.setenv("MLOPS_CONFIG_DIR", str(cfg_dir))
    monkeypatch.setenv("MLOPS_EXPECTATIONS_DIR", str(exp_dir))
    return cfg_dir, exp_dir


@pytest.fixture
def inited(dirs, tmp_path, capsys):
    sample = tmp_path / "sample.parquet"
    _frame(1).to_parquet(sample)
    assert main(["init", NAME, "--sample", str(sample), "--id", "customer_id", "--target", "churned"]) == 0
    return capsys.readouterr().out


def _validate(
    tmp_path, capsys, frame: pd.DataFrame, *extra: str, name: str = "batch.parquet"
) -> tuple[int, str]:
    path = tmp_path / name
    if name.endswith(".csv"):
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    code = main(["validate", "--dataset", NAME, "--input", str(path), *extra])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


# ------------------------------------------------------------------ init itself
def test_init_writes_a_config_that_loads_and_prints_what_it_inferred(inited, dirs):
    cfg_dir, exp_dir = dirs
    cfg = load_dataset_config(NAME)
    assert cfg.id_column == "customer_id" and cfg.id_type == "integer" and cfg.date_column is None
    assert cfg.task == "classification" and cfg.target == "churned" and cfg.labels.in_features
    assert cfg.features.numeric == ("age", "monthly_spend", "tenure_months")
    assert cfg.features.categorical == ("plan",) and cfg.features.boolean == ("is_active",)
    assert cfg.features.optional == ("tenure_months",)
    v = cfg.validation
    assert v.value_sets == {"plan": ("basic", "plus", "pro")}
    assert v.target_values == (False, True) and all(type(x) is bool for x in v.target_values)
    lo, hi = v.target_mean_range
    assert 0 < lo < 0.25 < hi < 1
    assert v.ranges["age"][0] < 18 and v.ranges["age"][1] > 79 and v.ranges["monthly_spend"][0] == 0
    assert 0.05 < v.null_tolerance["tenure_months"] <= 0.2 and v.max_null_fraction == 0
    assert set(v.quantile_ranges["age"]) == {0.05, 0.5, 0.95} and v.min_rows == 40
    raw = (cfg_dir / f"{NAME}.yaml").read_text()
    assert raw.startswith(
        "# churn: inferred from a sample of 400 rows by\n#   mlops init churn --sample sample.parquet"
    )
    assert "target_values: [false, true]" in raw  # booleans stay booleans
    suite = json.loads((exp_dir / f"{NAME}.json").read_text())
    assert suite["meta"]["generated_by"] == f"mlops suites --dataset {NAME}"
    assert all(e["kwargs"].get("column") != "application_date" for e in suite["expectations"])
    assert "boolean     is_active" in inited and "value set of 3: {basic, plus, pro}" in inited
    assert "positive rate" in inited and f"wrote {cfg_dir / 'churn.yaml'}" in inited


def test_init_refuses_to_overwrite_without_force(inited, tmp_path, capsys):
    sample = tmp_path / "sample.parquet"
    assert main(["init", NAME, "--sample", str(sample), "--id", "customer_id", "--target", "churned"]) == 2
    err = capsys.readouterr().err
    assert "already exist" in err and "--force" in err and len(err.strip().splitlines()) == 1
    args = ["init", NAME, "--sample", str(sample), "--id", "customer_id", "--target", "churned", "--force"]
    assert main(args) == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--id", "nope"], r"--id 'nope' is not a column of the sample"),
        (["--id", "customer_id", "--target", "nope"], r"--target 'nope' is not a column of the sample"),
        (["--id", "plan", "--target", "churned"], r"Id column 'plan' is not a unique, non-null key"),
        (["--id", "customer_id"], r"Cannot tell the target column of the sample .*pass --target COL"),
    ],
)
def test_init_bad_columns_exit_2_with_one_line(dirs, tmp_path, capsys, args, message):
    sample = tmp_path / "sample.parquet"
    _frame(1).to_parquet(sample)
    assert main(["init", NAME, "--sample", str(sample), *args]) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (dirs[0] / f"{NAME}.yaml").exists()


def test_init_unreadable_sample_exits_2(dirs, tmp_path, capsys):
    bad = tmp_path / "sample.parquet"
    bad.write_bytes(b"PAR1 not really")
    assert main(["init", NAME, "--sample", str(bad), "--target", "churned"]) == 2
    assert "truncated Parquet file" in capsys.readouterr().err
    assert main(["init", NAME, "--sample", str(tmp_path / "missing.csv"), "--target", "churned"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_high_cardinality_text_gets_no_value_set_and_regression_gets_ranges():
    frame = _frame(2).assign(
        note=[f"free text {i}" for i in range(400)], spend_next=lambda f: f.monthly_spend * 1.1
    )
    inference = infer_config(
        frame.drop(columns=["churned"]),
        "spend",
        id_column="customer_id",
        target="spend_next",
        max_categories=10,
    )
    cfg = inference.config
    assert cfg["task"] == "regression" and "note" in cfg["features"]["categorical"]
    assert "note" not in cfg["validation"]["value_sets"]
    note = next(c for c in inference.columns if c.name == "note")
    assert any("free text or high-cardinality" in n for n in note.notes)
    assert any("unique on every row" in n for n in note.notes)
    lo, hi = cfg["validation"]["target_range"]
    assert lo == 0 and hi > frame.spend_next.max()
    assert cfg["gate"]["primary_metric"] == "rmse"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_small_sample_keeps_tight_ranges_so_unit_errors_fail(seed):
    """30 rows are too few to extrapolate a tail: only a (wider) share of the span is added."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": range(30),
            "age": rng.integers(18, 81, 30),
            "amount": rng.lognormal(5, 1, 30).round(2),
            "target": rng.integers(0, 2, 30),
        }
    )
    ranges = infer_config(frame, "small", id_column="id", target="target").config["validation"]["ranges"]
    assert ranges["age"][1] < 150  # an age of 150 is out of range
    assert ranges["amount"][1] < 100 * frame.amount.median()  # one amount x100 is out of range
    assert ranges["amount"][1] <= 2 * frame.amount.max()


def test_multiclass_target_gets_class_shares_and_a_majority_floor():
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {"id": [f"r{i}" for i in range(300)], "x": rng.normal(size=300), "kind": rng.choice([0, 1, 2], 300)}
    )
    cfg = infer_config(frame, "kinds", target="kind").config
    assert cfg["id_type"] == "string" and cfg["validation"]["target_values"] == [0, 1, 2]
    shares = cfg["validation"]["class_shares"]
    assert set(shares) == {0, 1, 2} and all(0 < lo < 0.34 < hi < 1 for lo, hi in shares.values())
    assert cfg["gate"]["primary_metric"] == "accuracy" and 0.4 < cfg["gate"]["min_accuracy"] < 0.6
    yaml.safe_load(yaml.safe_dump(cfg))  # YAML-safe: plain Python scalars only


# ------------------------------------------------------------------ batches against the inferred suite
def test_clean_batches_pass_as_parquet_and_csv(inited, tmp_path, capsys):
    clean = _frame(7)
    code, out = _validate(tmp_path, capsys, clean)
    assert code == 0, out
    assert "VERDICT: PASS" in out
    code, out = _validate(tmp_path, capsys, clean.drop(columns=["churned"]), name="unlabelled.csv")
    assert code == 0, out


def _spend_as_text(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(monthly_spend=f.monthly_spend.astype(str))


def _yes_no(f: pd.DataFrame) -> pd.DataFrame:
    return f.assign(is_active=np.where(f.is_active, "yes", "no"))


def _huge(f: pd.DataFrame) -> pd.DataFrame:
    f = f.copy()
    f.loc[3, "plan"] = "x" * (1 << 20)
    return f


def _dup(f: pd.DataFrame) -> pd.DataFrame:
    f = f.copy()
    f.loc[1, "customer_id"] = f.loc[0, "customer_id"]
    return f


def _set(col, rows, value):
    def corrupt(f: pd.DataFrame) -> pd.DataFrame:
        f = f.copy()
        f[col] = f[col].astype(object) if value is None else f[col]
        f.loc[rows, col] = value
        return f

    return corrupt


CORRUPTIONS = {
    "out_of_range": (_set("age", [0, 5, 9], 500), 'column "age": 0.8% of values outside [2, 95] (3 of 400 non-null rows; allowed 0%), e.g. 500'),
    "unknown_category": (_set("plan", [2], "enterprise"), "column \"plan\": 0.2% of values not in {'basic', 'plus', 'pro'}"),
    "nulls": (_set("monthly_spend", list(range(10)), None), 'column "monthly_spend": 2.5% null (10 of 400 rows; allowed 0%)'),
    "duplicate_ids": (_dup, 'column "customer_id": 0.5% of rows share a value with another row'),
    "missing_column": (lambda f: f.drop(columns=["plan"]), "table: missing columns ['plan']"),
    "changed_type": (_spend_as_text, 'column "monthly_spend": type str, expected one of int64|int32|float64|float32'),
    "yes_no_booleans": (_yes_no, 'column "is_active": type str, expected bool'),
    "one_mib_string": (_huge, "column \"plan\": 0.2% of values not in {'basic', 'plus', 'pro'} (1 row; allowed 0%), e.g. 'xxx"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_each_corruption_exits_1_naming_the_column(inited, tmp_path, capsys, case):
    corrupt, expected = CORRUPTIONS[case]
    code, out = _validate(tmp_path, capsys, corrupt(_frame(7)))
    assert code == 1, out
    assert expected in out, out
    assert "VERDICT: REJECTED" in out and "could not be evaluated" not in out and "Traceback" not in out
    fails = [line for line in out.splitlines() if line.startswith("  FAIL")]
    assert len(fails) == 1, fails  # one problem, one line
    assert len(out) < 2_000, len(out)  # a 1 MiB value never reaches the output


def test_one_mib_value_is_cut_in_the_message_and_the_json(inited, tmp_path, capsys):
    code, out = _validate(tmp_path, capsys, _huge(_frame(7)))
    assert code == 1 and f"'{'x' * 60}'… (1048576 chars)" in out
    code, out = _validate(tmp_path, capsys, _huge(_frame(7)), "--json")
    assert code == 1 and len(out) < 60_000, len(out)
    check = next(c for c in json.loads(out)["checks"] if not c["success"])
    assert check["samples"] == ["x" * 60 + "…"]


def test_labelled_batch_without_its_target_is_a_failed_check(inited, tmp_path, capsys):
    code, out = _validate(tmp_path, capsys, _frame(7).drop(columns=["churned"]), "--labelled")
    assert code == 1, out
    assert "missing columns ['churned']" in out and "validate without --labelled" in out
    code, out = _validate(tmp_path, capsys, _frame(7).assign(churned=True))  # class balance: all churned
    assert code == 1 and 'column "churned": mean 1 outside' in out

"""``make up``'s bootstrap: data that ends today, top-ups that write only what is new, a first model once."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta

import pytest

from mlops import artifacts, storage, training
from mlops.cli import main as mlops_main
from mlops.dev import bootstrap

TODAY = date(2026, 11, 30)
DATASETS = ["credit", "diabetes"]


@pytest.fixture
def small_rows(monkeypatch):
    monkeypatch.setattr(bootstrap, "ROWS_PER_DAY", {"credit": 150, "diabetes": 30})


def _days(client, bucket: str, dataset: str, kind: str) -> list[str]:
    name = "batch.parquet" if kind == "features" else "labels.parquet"
    uris = storage.list_uris(client, f"s3://{bucket}/data/{dataset}/{kind}/")
    return [u.rsplit("/", 2)[-2][3:] for u in uris if u.endswith(name)]


def _span(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def test_seed_ends_today_with_labels_due_and_feeds_a_default_training_window(
    s3, bucket, small_rows, credit_cfg
):
    bootstrap.seed_to_today(s3, bucket, TODAY, DATASETS)
    first = TODAY - timedelta(days=bootstrap.SEED_DAYS - 1)
    assert _days(s3, bucket, "credit", "features") == _span(first, TODAY)
    assert _days(s3, bucket, "credit", "labels") == _span(first, TODAY - timedelta(days=3))
    assert _days(s3, bucket, "diabetes", "labels") == _span(first, TODAY - timedelta(days=2))
    # what mlops_training's plan_window sees on a default trigger (window ends at the logical date)
    plan = training.plan_window(s3, credit_cfg, bucket=bucket, end=TODAY)
    assert plan.days == _span(TODAY - timedelta(days=29), TODAY - timedelta(days=3))


def test_a_second_seed_writes_nothing_and_the_next_day_only_what_is_new(s3, bucket, small_rows, capsys):
    bootstrap.seed_to_today(s3, bucket, TODAY, DATASETS)
    versions = len(storage.list_versions(s3, f"s3://{bucket}/data/"))
    again = bootstrap.seed_to_today(s3, bucket, TODAY, DATASETS)
    assert all(r["days"] == [] and r["labelled_days"] == [] for r in again.values())
    assert len(storage.list_versions(s3, f"s3://{bucket}/data/")) == versions  # no new S3 versions
    assert "seed credit: skipped, all 60 days up to 2026-11-30" in capsys.readouterr().out

    tomorrow = TODAY + timedelta(days=1)
    out = bootstrap.seed_to_today(s3, bucket, tomorrow, DATASETS)
    assert out["credit"]["days"] == ["2026-12-01"]
    assert out["credit"]["labelled_days"] == ["2026-11-28"]  # came due: 3 days later
    assert out["diabetes"]["labelled_days"] == ["2026-11-29"]
    assert len(storage.list_versions(s3, f"s3://{bucket}/data/")) == versions + 4


class Runner:
    """Records ``airflow dags test`` calls and writes what the real run would leave in S3."""

    def __init__(self, client, bucket: str, ok: bool = True) -> None:
        self.client, self.bucket, self.ok, self.calls = client, bucket, ok, []

    def __call__(self, dag_id: str, conf: dict, log_path) -> tuple[bool, float]:
        ds, day = conf["dataset"], conf.get("date", TODAY.isoformat())
        self.calls.append((dag_id, ds, conf["date"]) if "date" in conf else (dag_id, ds))
        if not self.ok:
            return False, 1.0
        written = {
            "mlops_training": bootstrap.production_uri(self.bucket, ds),
            "mlops_batch_scoring": artifacts.predictions_prefix(self.bucket, ds, day) + "_SUCCESS",
            "mlops_monitoring": f"s3://{self.bucket}/monitoring/{ds}/{TODAY}/report.json",
        }[dag_id]
        storage.put_json(self.client, written, {"version": "v0001"})
        return True, 1.0


def test_first_model_only_where_production_is_missing(s3, bucket, tmp_path, capsys):
    storage.put_json(s3, bootstrap.production_uri(bucket, "diabetes"), {"version": "v0003"})
    run = Runner(s3, bucket)
    assert bootstrap.first_models(s3, bucket, DATASETS, tmp_path, run) == {
        "credit": "trained",
        "diabetes": "skipped",
    }
    assert run.calls == [("mlops_training", "credit")]
    assert "first model diabetes: skipped, production is already v0003" in capsys.readouterr().out
    assert bootstrap.first_models(s3, bucket, DATASETS, tmp_path, run) == dict.fromkeys(DATASETS, "skipped")
    assert len(run.calls) == 1


def test_a_failed_first_training_is_reported_and_the_ui_still_starts(s3, bucket, tmp_path, capsys):
    status = bootstrap.first_models(s3, bucket, ["credit"], tmp_path, Runner(s3, bucket, ok=False))
    assert status == {"credit": "failed"}
    assert "first model credit: FAILED, no production model" in capsys.readouterr().out


def test_scoring_and_monitoring_run_once_after_the_first_model(s3, bucket, tmp_path):
    run = Runner(s3, bucket)
    assert bootstrap.first_scoring_and_monitoring(s3, bucket, "credit", TODAY, tmp_path, run) == {
        "scoring": "skipped",
        "monitoring": "skipped",
    }
    assert run.calls == []  # no production model yet
    storage.put_json(s3, bootstrap.production_uri(bucket, "credit"), {"version": "v0001"})
    first = bootstrap.first_scoring_and_monitoring(s3, bucket, "credit", TODAY, tmp_path, run)
    assert first == {"scoring": "ran", "monitoring": "ran"}
    # yesterday and today are scored, oldest first, then tonight is monitored
    assert run.calls == [
        ("mlops_batch_scoring", "credit", "2026-11-29"),
        ("mlops_batch_scoring", "credit", "2026-11-30"),
        ("mlops_monitoring", "credit"),
    ]
    again = bootstrap.first_scoring_and_monitoring(s3, bucket, "credit", TODAY, tmp_path, run)
    assert again == {"scoring": "skipped", "monitoring": "skipped"} and len(run.calls) == 3


def test_mlops_seed_ends_on_a_day_and_skips_existing(server_s3, capsys):
    args = ["seed", "--dataset", "diabetes", "--bucket", "mlops-test", "--end", "2026-11-30"]
    args += ["--days", "4", "--rows-per-day", "20", "--skip-existing", "--json"]
    assert mlops_main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["days"] == _span(date(2026, 11, 27), TODAY)
    assert out["labelled_days"] == ["2026-11-27", "2026-11-28"]  # label_delay_days=2
    assert mlops_main(args) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["days"] == [] and len(again["skipped_days"]) == 4


def test_an_interrupted_bootstrap_does_not_leave_dags_test_running():
    """`airflow dags test` can ignore SIGTERM; the bootstrap kills it after a grace period."""
    ignores_term = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(1, flush=True); time.sleep(60)"
    proc = subprocess.Popen([sys.executable, "-c", ignores_term], stdout=subprocess.PIPE)
    proc.stdout.readline()  # the handler is installed
    bootstrap._stop(proc, grace=0.5)
    assert proc.returncode == -9


def test_datasets_without_a_generator_are_skipped_with_a_note(monkeypatch, capsys):
    from mlops.dev import datagen

    monkeypatch.setattr(datagen, "GENERATORS", {"generated": datagen.generate_credit_day})
    assert bootstrap.seedable_datasets() == ["credit"]
    assert "dataset diabetes: skipped, no example-data generator for source 'sklearn_diabetes'" in (
        capsys.readouterr().out
    )


def test_every_dataset_gets_its_first_scoring_and_monitoring(s3, bucket, monkeypatch, tmp_path):
    """The scoring and monitoring DAGs default to dataset=all: each dataset needs scored days."""
    seen = []
    monkeypatch.setenv("AIRFLOW_HOME", str(tmp_path))
    monkeypatch.setattr(bootstrap.storage, "client_from_env", lambda: s3)
    monkeypatch.setattr(bootstrap, "seedable_datasets", lambda: ["credit", "diabetes", "wine"])
    monkeypatch.setattr(bootstrap, "seed_to_today", lambda *a, **k: None)
    monkeypatch.setattr(bootstrap, "first_models", lambda *a, **k: None)
    monkeypatch.setattr(
        bootstrap, "first_scoring_and_monitoring", lambda client, b, name, *a, **k: seen.append(name)
    )
    assert bootstrap.main(["--bucket", bucket]) == 0
    assert seen == ["credit", "diabetes", "wine"]

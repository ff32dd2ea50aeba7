"""``make demo``: run the whole lifecycle on the embedded defaults with the real Airflow.

1. a fresh SQLite Airflow home in ``.airflow/`` (``airflow db migrate``);
2. moto's S3 server on 127.0.0.1 with a versioned bucket;
3. 60 days of example data (a bad batch and covariate drift injected);
4. the lifecycle DAGs, each with ``airflow dags test`` (a real DagRun): a run starts as soon as
   the runs it needs are done (the diabetes training beside the credit story, the scoring days
   side by side), up to ``--parallel`` at once, each in its own copy of the migrated SQLite
   database so that parallel runs never wait on its lock;
5. a readable summary, also written as JSON, and the total time.

Some runs are *expected* to fail (the bad batch must be rejected); the demo
exits non-zero if any run ends in a state other than the one expected.
This module shells out to the ``airflow`` CLI; it does not import Airflow.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from mlops import storage
from mlops.dev import local_s3

REPO = Path(__file__).resolve().parents[3]
START = date(2026, 1, 1)
DAYS = 60
BAD_DAY = date(2026, 2, 20)
DRIFT_START = date(2026, 2, 24)
TODAY = START + timedelta(days=DAYS - 1)


@dataclass
class DagRunSpec:
    dag_id: str
    logical_date: str
    conf: dict[str, Any]
    label: str
    expect: str = "success"
    section: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    #: This run's name, and the runs it needs finished first; any other runs may go side by side.
    key: str = ""
    after: tuple[str, ...] = ()


def plan() -> list[DagRunSpec]:
    """The demo's DAG runs, in story order, each with the runs it depends on (``after``)."""
    return _training_runs() + _scoring_and_monitoring_runs()


def _training_runs() -> list[DagRunSpec]:
    credit = {"dataset": "credit"}
    return [
        DagRunSpec(
            "mlops_training",
            "2026-01-31",
            {**credit, "reason": "demo: first model"},
            "train on the first window (no production yet: floors decide)",
            section="training",
            key="first",
        ),
        DagRunSpec(
            "mlops_training",
            "2026-02-07",
            {**credit, "estimator": "dummy", "search": "none", "reason": "demo: weak challenger"},
            "train a deliberately weak challenger (dummy estimator)",
            section="training",
            key="weak",
            after=("first",),
        ),
        DagRunSpec(
            "mlops_training",
            "2026-02-14",
            {**credit, "reason": "demo: retrain on a later window"},
            "retrain on a later window (champion/challenger)",
            section="training",
            key="retrain",
            # beside the weak challenger: both are gated against the first model (the challenger is
            # never blessed; should the retrain promote first, it is rejected against that one)
            after=("first",),
        ),
        DagRunSpec(
            "mlops_rollback",
            "2026-02-15",
            {"dataset": "credit", "reason": "demo: roll back to the first model after review"},
            "roll production back to its previous version",
            section="registry",
            key="rollback",
            after=("weak", "retrain"),
        ),
        DagRunSpec(  # another dataset: runs beside the credit story from the start
            "mlops_training",
            "2026-01-31",
            {"dataset": "diabetes", "reason": "demo: regression config"},
            "train the regression dataset (diabetes, sklearn)",
            section="training",
            key="diabetes",
        ),
    ]


def _score(day: str, label: str, **kwargs: Any) -> DagRunSpec:
    """Scoring one credit day with the production model left by the rollback."""
    return DagRunSpec(
        "mlops_batch_scoring",
        day,
        {"dataset": "credit", "date": day},
        label,
        section="scoring",
        key=f"score {day}",
        after=("rollback",),
        **kwargs,
    )


def _scoring_and_monitoring_runs() -> list[DagRunSpec]:
    quiet, drifted = ("2026-02-17", "2026-02-18", "2026-02-19"), ("2026-02-24", "2026-02-25", "2026-02-26")
    credit = {"dataset": "credit"}
    return [
        *(_score(day, f"score {day}") for day in quiet),
        _score(
            BAD_DAY.isoformat(), f"score {BAD_DAY} (bad batch: validation must reject it)", expect="failed"
        ),
        DagRunSpec(
            "mlops_monitoring",
            "2026-02-19",
            {**credit, "date": "2026-02-19"},
            "monitor a quiet night (expect OK)",
            section="monitoring",
            key="monitor quiet",
            after=tuple(f"score {day}" for day in quiet),
        ),
        *(_score(day, f"score {day} (drifted)") for day in drifted),
        DagRunSpec(
            "mlops_monitoring",
            "2026-02-26",
            {**credit, "date": "2026-02-26"},
            "monitor a drifted night (expect ALERT and a retrain request)",
            section="monitoring",
            key="monitor drifted",
            after=("monitor quiet", *(f"score {day}" for day in drifted)),
        ),
        DagRunSpec(
            "mlops_retention",
            "2026-02-27",
            {**credit, "keep_last": 1, "grace_days": 0},
            "weekly retention (production and its previous version are kept)",
            section="registry",
            key="retention",
            after=("monitor drifted",),
        ),
    ]


def _env(port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("AIRFLOW_HOME", str(REPO / ".airflow"))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(REPO / "dags"))
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(REPO / "plugins"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("MLOPS_BUCKET", storage.DEFAULT_BUCKET)
    env.setdefault("GX_ANALYTICS_ENABLED", "False")
    env.setdefault("MPLBACKEND", "Agg")
    env["AIRFLOW_CONN_AWS_DEFAULT"] = local_s3.connection_json(port)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _airflow(env: dict[str, str], args: list[str], log_path: Path) -> int:
    with log_path.open("w") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "airflow", *args], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO
        )
    return proc.returncode


def _run_record(db: Path, dag_id: str, logical_date: str) -> dict[str, Any]:
    """State, task states and XCom return values of the newest run of ``dag_id`` at ``logical_date``."""
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        row = con.execute(
            "SELECT run_id, state FROM dag_run WHERE dag_id=? AND logical_date LIKE ? ORDER BY id DESC LIMIT 1",
            (dag_id, f"{logical_date}%"),
        ).fetchone()
        if row is None:
            return {"state": "missing", "run_id": None, "tasks": {}, "xcom": {}}
        tasks = {}
        for t in con.execute(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id=? AND run_id=?",
            (dag_id, row["run_id"]),
        ):
            key = t["task_id"] if t["map_index"] < 0 else f"{t['task_id']}[{t['map_index']}]"
            tasks[key] = t["state"]
        xcom: dict[str, Any] = {}
        for x in con.execute(
            "SELECT task_id, map_index, value FROM xcom WHERE dag_id=? AND run_id=? AND key='return_value'",
            (dag_id, row["run_id"]),
        ):
            try:
                value = json.loads(x["value"])
            except (TypeError, ValueError):
                value = x["value"]
            key = x["task_id"] if x["map_index"] < 0 else f"{x['task_id']}[{x['map_index']}]"
            xcom[key] = value
        return {"state": row["state"], "run_id": row["run_id"], "tasks": tasks, "xcom": xcom}
    finally:
        con.close()


def _sections(client, bucket: str) -> dict[str, Any]:
    """Read what landed in S3 into the summary's sections (each step's own summariser)."""
    out: dict[str, Any] = {}
    try:
        from mlops.validation import summarize_validations

        out["validation"] = summarize_validations(client, bucket, "credit")
    except ImportError:
        out["validation"] = "not available"
    try:
        from mlops.registry import registry_summary

        out["registry"] = {name: registry_summary(client, bucket, name) for name in ("credit", "diabetes")}
    except ImportError:
        out["registry"] = "not available"
    return out


def _seed(client, bucket: str) -> dict[str, Any]:
    """60 days of both datasets (credit with the bad batch and the drift); the seed results."""
    from mlops.config import load_dataset_config
    from mlops.dev import datagen

    scenario = datagen.Scenario(drift_start=DRIFT_START, bad_days=(BAD_DAY,))
    seeded: dict[str, Any] = {
        "credit": datagen.seed_dataset(
            client,
            bucket,
            load_dataset_config("credit"),
            start=START,
            days=DAYS,
            rows_per_day=1500,
            today=TODAY,
            scenario=scenario,
            log=lambda m: print(f"[demo] {m}", flush=True),
        ),
        "diabetes": datagen.seed_dataset(
            client,
            bucket,
            load_dataset_config("diabetes"),
            start=START,
            days=DAYS,
            rows_per_day=60,
            today=TODAY,
            log=lambda m: print(f"[demo] {m}", flush=True),
        ),
    }
    seeded["scenario"] = {"bad_day": BAD_DAY.isoformat(), "drift_start": DRIFT_START.isoformat()}
    return seeded


def _run_one(env: dict[str, str], template: Path, logs: Path, i: int, spec: DagRunSpec) -> dict[str, Any]:
    """``airflow dags test`` one planned run in its own copy of the migrated database; its summary entry."""
    log_path = logs / f"{i:02d}_{spec.dag_id}_{spec.logical_date}.log"
    db = template.with_name(f"demo-run-{i:02d}.db")
    shutil.copyfile(template, db)
    run_env = {**env, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{db}"}
    started = time.monotonic()
    print(f"[demo] {i:02d} {spec.dag_id} {spec.logical_date}: {spec.label} ...", flush=True)
    dag_file = REPO / "dags" / f"{spec.dag_id}.py"  # parse this DAG only (DAG id = file stem)
    args = ["dags", "test", spec.dag_id, spec.logical_date, "-c", json.dumps(spec.conf), "-f", str(dag_file)]
    _airflow(run_env, args, log_path)
    record = _run_record(db, spec.dag_id, spec.logical_date)
    spec.result = {**record, "seconds": round(time.monotonic() - started, 1), "log": str(log_path)}
    verdict = "as expected" if record["state"] == spec.expect else f"UNEXPECTED (expected {spec.expect})"
    print(
        f"[demo] {i:02d} {spec.dag_id} {spec.logical_date} -> {record['state']} {verdict} "
        f"in {spec.result['seconds']}s; log {log_path}",
        flush=True,
    )
    return {
        "dag_id": spec.dag_id,
        "logical_date": spec.logical_date,
        "conf": spec.conf,
        "label": spec.label,
        "section": spec.section,
        "expected": spec.expect,
        "after": list(spec.after),
        **spec.result,
    }


def _run_all(env: dict[str, str], template: Path, logs: Path, parallel: int) -> list[dict[str, Any]]:
    """Every planned run once the runs it needs are done, up to ``parallel`` at once (story order
    first); the entries in story order."""
    specs = plan()
    number = {s.key: i for i, s in enumerate(specs, 1)}
    done: dict[str, dict[str, Any]] = {}
    running: dict[str, Future] = {}
    with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
        while len(done) < len(specs):
            for s in specs:
                ready = s.key not in done and s.key not in running and all(a in done for a in s.after)
                if ready and len(running) < max(1, parallel):
                    running[s.key] = pool.submit(_run_one, env, template, logs, number[s.key], s)
            finished, _ = wait(running.values(), return_when=FIRST_COMPLETED)
            for key, future in list(running.items()):
                if future in finished:
                    done[key] = future.result()
                    del running[key]
    return [done[s.key] for s in specs]


def run_demo(port: int, out_path: Path, parallel: int = 2) -> int:
    env = _env(port)
    bucket = env["MLOPS_BUCKET"]
    home = Path(env["AIRFLOW_HOME"])
    demo_dir = out_path.parent
    logs = demo_dir / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir(parents=True)
    home.mkdir(parents=True, exist_ok=True)
    db = home / "airflow.db"
    db.unlink(missing_ok=True)
    for old in home.glob("demo-run-*.db"):
        old.unlink()
    t0 = time.monotonic()
    print(f"[demo] Airflow home {home} (fresh SQLite); migrating ...", flush=True)
    if _airflow(env, ["db", "migrate"], logs / "00_db_migrate.log") != 0:
        print(f"[demo] airflow db migrate failed; see {logs / '00_db_migrate.log'}", file=sys.stderr)
        return 1
    summary: dict[str, Any] = {"bucket": bucket, "runs": [], "parallel": parallel}
    with local_s3.serve(port, bucket) as endpoint:
        os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = env["AIRFLOW_CONN_AWS_DEFAULT"]
        client = storage.client_from_env()
        print(f"[demo] local S3 at {endpoint}, bucket s3://{bucket} (versioned)", flush=True)
        summary["seed"] = _seed(client, bucket)
        summary["runs"] = _run_all(env, db, logs, parallel)
        failures = [
            f"{r['dag_id']} {r['logical_date']}: {r['state']} (expected {r['expected']})"
            for r in summary["runs"]
            if r["state"] != r["expected"]
        ]
        summary.update(_sections(client, bucket))
    summary["seconds"] = round(time.monotonic() - t0, 1)
    summary["ok"] = not failures
    summary["failures"] = failures
    out_path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    print(render(summary))
    print(f"[demo] summary written to {out_path}")
    print(
        f"[demo] total time {summary['seconds']:.0f}s ({len(summary['runs'])} DAG runs, up to {parallel} at once)"
    )
    return 0 if not failures else 1


def render(summary: dict[str, Any]) -> str:
    """The human-readable summary."""
    from mlops.dev import demo_report

    return demo_report.render(summary)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=local_s3.DEFAULT_PORT)
    parser.add_argument("--out", type=Path, default=REPO / ".demo" / "summary.json")
    parser.add_argument(
        "--parallel",
        type=int,
        default=max(2, os.cpu_count() or 2),
        help="DAG runs at once (default: cores, >= 2)",
    )
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    return run_demo(args.port, args.out, args.parallel)


if __name__ == "__main__":
    sys.exit(main())

"""Expected failures end in one ERROR line (what, value, fix) and no chained traceback (issue 12).

Real ``dag.test()`` runs of ``mlops_rollback`` and ``mlops_validation`` against the moto server,
sharing one seeded world: three published credit versions (v0003 in production, v0001 retired)
and two days of credit batches.

Where the task log is: ``dag.test()`` runs each task in this process (``run_task_in_process``)
and writes no log file. The records a task emits reach two places: structlog's (the task runner,
an operator's ``self.log``) are printed to stdout by Airflow's console renderer, as
``<timestamp> [<level>] <event> [<logger>] loc=...`` with a traceback, if any, on the lines
after it; stdlib loggers' (``logging.getLogger(__name__)``, the failure notice) go to pytest's
log capture. The tests read both (``capfd`` and ``caplog``) for the span of one ``dag.test()``,
minus the moto server's request lines (logger ``werkzeug``: another thread, not the task).

What a bad input leaves in the task log:

1. one ERROR record from the operator: the library's message (what, value, fix);
2. Airflow's own ``Task failed with exception`` (``task_runner.py``), which always carries the
   stack of the exception that failed the task. For bad input that is a single
   ``AirflowFailException`` raised ``from None``: no chain of RegistryError, InputReadError
   and NoSuchKey tracebacks. This one stack is Airflow's and cannot be turned off from an
   operator;
3. the failure notice (``MLOPS TASK FAILED``, :mod:`mlops_operators.failure`), a deliberate alert.

An unexpected error (a library function raising RuntimeError) keeps its full traceback and
gets no such ERROR line.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pendulum
import pytest
from dag_runs import task_states

pytestmark = pytest.mark.e2e

BUCKET = "mlops-test"
REPO = Path(__file__).resolve().parents[2]
DAY = pendulum.datetime(2026, 2, 15, tz="UTC")
SEEDED_DAYS = (date(2026, 1, 1), 2)  # first day, number of days
REASON = "roll back after incident 4711"

AIRFLOW_FAILED = "Task failed with exception"
NOTICE = "MLOPS TASK FAILED"
TRACEBACK = "Traceback (most recent call last)"
CHAINED = ("The above exception was the direct cause", "During handling of the above exception")

_RECORD = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z \[(?P<level>\w+)\s*\] (?P<rest>.*)$")
_LOGGER = re.compile(r" \[(?P<logger>[A-Za-z_][\w.]*)\](?= \w+=| *$)")
_EXCEPTION_LINE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Key|Exit)): ", re.M)


@dataclass
class Record:
    """One task-log record: level, logger, the event's first line and the lines after it."""

    level: str
    logger: str
    event: str
    text: str


@dataclass
class TaskLog:
    records: list[Record]

    @property
    def text(self) -> str:
        return "\n".join(r.text for r in self.records)

    def errors(self) -> list[Record]:
        return [r for r in self.records if r.level == "error"]

    def ours(self) -> list[Record]:
        """ERROR records other than Airflow's own failure line and the failure notice."""
        return [r for r in self.errors() if r.event != AIRFLOW_FAILED and not r.event.startswith(NOTICE)]


def _console_records(stdout: str) -> list[Record]:
    """Records that structlog's console renderer wrote (the task runner's and ``self.log``'s)."""
    records: list[Record] = []
    for line in stdout.splitlines():
        m = _RECORD.match(line)
        if m:
            found = ([None, *_LOGGER.finditer(m["rest"])])[-1]  # the last: kv values follow it
            event = m["rest"][: found.start()] if found else m["rest"]
            records.append(Record(m["level"], found["logger"] if found else "", event.strip(), line))
        elif records:
            records[-1].text += "\n" + line
            if not records[-1].logger and (found := _LOGGER.search(line)):
                records[-1].logger = found["logger"]  # a multi-line event names its logger on its last line
    return records


def _stdlib_records(caplog) -> list[Record]:
    """Records of stdlib loggers (``logging.getLogger(__name__)``), which pytest's caplog holds."""
    out = []
    for r in caplog.records:
        text = r.getMessage()
        if r.exc_info:
            text += "\n" + logging.Formatter().formatException(r.exc_info)
        out.append(Record(r.levelname.lower(), r.name, text.splitlines()[0].strip() if text else "", text))
    return out


def run(dag, capfd, caplog, conf: dict) -> tuple[dict[str, str], TaskLog]:
    """``dag.test()`` with ``conf``; the task states and every record logged meanwhile.

    In-process, a task's records reach two places: structlog's (the task runner, ``self.log``)
    are printed to stdout, stdlib loggers' go to pytest's log capture (and some to stdout as
    well: those are counted once). The moto server's request lines are dropped.
    """
    capfd.readouterr()
    caplog.clear()
    dr = dag.test(logical_date=DAY, run_conf=conf)
    out, err = capfd.readouterr()
    stdlib = _stdlib_records(caplog)
    seen = {(r.level, r.logger, r.event) for r in stdlib}
    console = [r for r in _console_records(out + err) if (r.level, r.logger, r.event) not in seen]
    return task_states(dr), TaskLog([r for r in console + stdlib if r.logger != "werkzeug"])


def assert_one_error_line(log: TaskLog, *parts: str) -> str:
    """One ERROR line of ours with every part; Airflow's single AirflowFailException stack; no chain."""
    ours = log.ours()
    assert len(ours) == 1, [r.text for r in ours]
    line = ours[0]
    assert "\n" not in line.text, line.text  # one line: no traceback attached to it
    assert line.logger.startswith("airflow.task.operators.mlops_operators."), line.logger
    for part in parts:
        assert part in line.event, (part, line.event)

    failed = [r for r in log.errors() if r.event == AIRFLOW_FAILED]
    assert len(failed) == 1
    text = log.text
    assert text.count(TRACEBACK) == 1 and TRACEBACK in failed[0].text
    assert not any(c in text for c in CHAINED), text
    # One exception in the whole log, and it is the AirflowFailException carrying our message.
    raised = _EXCEPTION_LINE.findall(text)
    assert raised == ["airflow.sdk.exceptions.AirflowFailException"], raised
    assert f"airflow.sdk.exceptions.AirflowFailException: {line.event}" in failed[0].text
    for library in ("NoSuchKey", "ClientError", "mlops.errors."):
        assert library not in text
    return line.event


# ------------------------------------------------------------------ the world
def _clear(client) -> None:
    for page in client.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=BUCKET, Key=item["Key"], VersionId=item["VersionId"])


def _model_bytes() -> bytes:
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from mlops.serialization import dump_model

    rng = np.random.default_rng(3)
    X = pd.DataFrame({"income": rng.normal(size=80)})
    return dump_model(LogisticRegression().fit(X, (X["income"] > 0).astype(int)))


@pytest.fixture(scope="module")
def world(airflow_db, moto_server, credit_cfg):
    """v0001..v0003 of credit (production v0003, previous v0002, v0001 retired) and two days of batches."""
    from mlops.dev import datagen
    from mlops.registry import ModelRegistry
    from mlops.storage import client_from_env, ensure_bucket
    from tests.conftest import write_candidate

    client = client_from_env()
    ensure_bucket(client, BUCKET)
    _clear(client)
    reg = ModelRegistry(client, BUCKET, "credit")
    blob = _model_bytes()
    for i in range(3):
        prefix = write_candidate(client, BUCKET, f"seed-{i}", blob, features={"income": "numeric"})
        reg.publish(candidate_uri=prefix, run={"dag_id": "seed", "run_id": f"seed-{i}"})
    for v in ("v0002", "v0003"):
        current = reg.pointer()
        reg.promote(
            v, expected_etag=current.etag if current else None, reason="seeded promotion", actor="seed"
        )
    reg.retire(keep_last=1, grace_days=0, actor="seed")
    assert [v for v in reg.versions() if reg.is_retired(v)] == ["v0001"]
    start, days = SEEDED_DAYS
    datagen.seed_dataset(
        client, BUCKET, credit_cfg, start=start, days=days, rows_per_day=300, log=lambda m: None
    )
    yield reg
    _clear(client)


@pytest.fixture(scope="module")
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    out = {}
    for name in ("mlops_rollback", "mlops_validation"):
        bag = DagBag(dag_folder=str(REPO / "dags" / f"{name}.py"))
        assert not bag.import_errors, bag.import_errors
        out[name] = bag.get_dag(name)
    return out


def _production(reg) -> tuple[str, str | None]:
    p = reg.pointer()
    return p.version, p.etag


# ------------------------------------------------------------------ bad user input
@pytest.mark.parametrize(
    ("conf", "parts"),
    [
        pytest.param(
            {"target_version": "v0099", "reason": REASON},
            ["Model 'credit' has no version v0099", "known versions: ['v0001', 'v0002', 'v0003']"],
            id="unknown-version",
        ),
        pytest.param(
            {"target_version": "v0001", "reason": REASON},
            ["credit v0001 was retired at", "cannot point at a retired version", "Pick another version"],
            id="retired-version",
        ),
    ],
)
def test_bad_rollback_input_is_one_error_line(dags, world, capfd, caplog, conf, parts):
    before = _production(world)
    states, log = run(dags["mlops_rollback"], capfd, caplog, {"dataset": "credit", **conf})
    assert states == {"rollback_model": "failed"}  # at once: AirflowFailException, no retry
    assert_one_error_line(log, *parts)
    assert _production(world) == before  # nothing moved


def test_missing_batch_is_one_error_line_naming_the_days_that_exist(dags, world, capfd, caplog):
    conf = {"dataset": "credit", "date": "2026-03-01"}
    states, log = run(dags["mlops_validation"], capfd, caplog, conf)
    assert states == {"validate_batch": "failed", "summarize_batches": "upstream_failed"}
    uri = f"s3://{BUCKET}/data/credit/features/dt=2026-03-01/batch.parquet"
    assert_one_error_line(
        log,
        "cannot validate the credit batch of 2026-03-01",
        f"{uri} does not exist",
        "credit has batches for 2026-01-01..2026-01-02 (2 days)",
        "Trigger with a date that has a batch, or upload this batch first.",
    )


def test_config_typo_is_one_error_line_naming_the_key(dags, world, capfd, caplog, monkeypatch, tmp_path):
    for path in (REPO / "include" / "configs").glob("*.yaml"):
        shutil.copy(path, tmp_path / path.name)
    typo = tmp_path / "credit.yaml"
    text = typo.read_text()
    assert "\nlabel_delay_days:" in text
    typo.write_text(text.replace("\nlabel_delay_days:", "\nlabel_delay_dayz:"))
    monkeypatch.setenv("MLOPS_CONFIG_DIR", str(tmp_path))

    conf = {"dataset": "credit", "date": SEEDED_DAYS[0].isoformat()}
    states, log = run(dags["mlops_validation"], capfd, caplog, conf)
    assert states == {"validate_batch": "failed", "summarize_batches": "upstream_failed"}
    assert_one_error_line(
        log, f"Invalid dataset config {typo}", "unknown key 'label_delay_dayz' (check the spelling)"
    )


def test_a_dataset_typo_or_empty_reason_is_refused_at_trigger_time(dags, world):
    """The trigger form and the REST API validate Params first: no run, no task log."""
    from airflow.sdk.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError, match=r"'credt' is not one of \['credit', 'diabetes', 'wine'\]"):
        dags["mlops_validation"].test(logical_date=DAY, run_conf={"dataset": "credt"})
    with pytest.raises(ParamValidationError, match=r"param reason: '' is too short"):
        dags["mlops_rollback"].test(logical_date=DAY, run_conf={"dataset": "credit", "reason": ""})
    with pytest.raises(ParamValidationError, match=r"param reason: .* does not match"):
        # Passes minLength=10 but holds no visible character: the form's pattern refuses it.
        dags["mlops_rollback"].test(logical_date=DAY, run_conf={"dataset": "credit", "reason": " " * 12})


# ------------------------------------------------------------------ unexpected errors
def test_an_unexpected_error_keeps_its_traceback(dags, world, capfd, caplog, monkeypatch):
    from mlops import models

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug in read_manifest")

    monkeypatch.setattr(models, "read_manifest", broken)
    task = dags["mlops_rollback"].get_task("rollback_model")
    monkeypatch.setattr(task, "retries", 0)  # a retry would wait a minute in dag.test()
    before = _production(world)
    conf = {"dataset": "credit", "target_version": "v0002", "reason": REASON}
    states, log = run(dags["mlops_rollback"], capfd, caplog, conf)
    assert states == {"rollback_model": "failed"}
    assert log.ours() == []  # not dressed up as bad input
    failed = [r for r in log.errors() if r.event == AIRFLOW_FAILED]
    assert len(failed) == 1
    assert TRACEBACK in failed[0].text and "RuntimeError: simulated bug in read_manifest" in failed[0].text
    for frame in ("in rollback", "in check_candidate", "in broken"):  # the whole way down
        assert frame in failed[0].text, frame
    assert "AirflowFailException" not in log.text
    assert _production(world) == before

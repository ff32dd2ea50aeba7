"""Failed tasks notify, and S3 outages are retried with a clear message.

Failure notices: a real ``dag.test()`` run of ``mlops_validation`` whose task fails, with the
``mlops_alerts_webhook`` connection pointing at a real HTTP server on 127.0.0.1; the server must
receive exactly one JSON notice with the DAG, task, dataset, error line and log link.

Outages: real botocore errors from real sockets (a closed port, a server answering 503, a
server that never answers) go through ``fail_fast_on_bad_input``: one ERROR line naming the
endpoint and what to check, and a retryable ``StorageUnavailableError`` (never
``AirflowFailException``). A ``dag.test()`` run against a dead endpoint retries the task and sends
one notice after the last try.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlops.errors import InputReadError
from mlops_operators.common import StorageUnavailableError, describe_outage, fail_fast_on_bad_input, s3_client
from mlops_operators.failure import WEBHOOK_CONN_ID, error_line, failure_notice, notify_task_failure

REPO = Path(__file__).resolve().parents[2]
MISSING_DAY = date(2026, 3, 9)


def _raise(err):
    raise err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(handler_cls, server_cls=HTTPServer):
    server = server_cls(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def receiver(monkeypatch):
    """A webhook receiver on a free loopback port, wired as the ``mlops_alerts_webhook`` connection."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append({"path": self.path, "content_type": self.headers["Content-Type"], "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = _serve(Handler)
    conn = {"conn_type": "http", "host": "127.0.0.1", "port": server.server_address[1], "schema": "http"}
    monkeypatch.setenv(f"AIRFLOW_CONN_{WEBHOOK_CONN_ID.upper()}", json.dumps(conn))
    yield received
    server.shutdown()
    server.server_close()


def _states(dag_run) -> dict[str, tuple[str, int]]:
    return {
        ti.task_id: (str(getattr(ti.state, "value", ti.state)), ti.try_number)
        for ti in dag_run.get_task_instances()
    }


# ------------------------------------------------------------------ failure notices, end to end
@pytest.mark.e2e
def test_a_failed_task_posts_one_notice_to_the_webhook_and_the_log(dagbag, server_s3, receiver, caplog):
    caplog.set_level(logging.INFO)
    dag = dagbag.get_dag("mlops_validation")
    run = dag.test(
        logical_date=pendulum.datetime(2026, 3, 9, tz="UTC"),
        run_conf={"dataset": "credit", "date": MISSING_DAY.isoformat(), "labelled": False},
    )
    assert run.state == "failed"
    states = _states(run)
    assert states["validate_batch"] == ("failed", 1)  # bad input: no retry
    assert states["summarize_batches"][0] == "upstream_failed"

    assert len(receiver) == 1, receiver
    assert receiver[0]["content_type"] == "application/json"
    notice = json.loads(receiver[0]["body"])
    batch_uri = f"s3://mlops-test/data/credit/features/dt={MISSING_DAY}/batch.parquet"
    assert notice["kind"] == "mlops_task_failure"
    assert notice["dag_id"] == "mlops_validation" and notice["task_id"] == "validate_batch"
    assert notice["dataset"] == "credit"
    assert notice["run_id"] == run.run_id and notice["try_number"] == 1
    assert notice["error"].startswith("AirflowFailException: ") and batch_uri in notice["error"]
    assert "\n" not in notice["error"]
    assert notice["log_url"].endswith(
        f"/dags/mlops_validation/runs/{quote(run.run_id)}/tasks/validate_batch?try_number=1"
    )
    assert notice["log_url"].startswith("http")
    log_blocks = [r.getMessage() for r in caplog.records if r.name == "mlops_operators.notifiers"]
    block = next(m for m in log_blocks if m.startswith("MLOPS TASK FAILED: mlops_validation.validate_batch"))
    assert "  dataset: credit" in block and f"  log_url: {notice['log_url']}" in block
    assert f"  error: {notice['error']}" in block


# ------------------------------------------------------------------ the notice itself
class _TI:
    dag_id, task_id, run_id, try_number, map_index = "mlops_batch_scoring", "score_batch", "r1", 3, 2
    log_url = "http://localhost:8080/dags/mlops_batch_scoring/runs/r1/tasks/score_batch/mapped/2?try_number=3"


class _Task:
    dataset = "diabetes"  # rendered template field


def test_the_notice_names_the_rendered_dataset_and_one_error_line():
    err = RuntimeError("first line\nsecond line\n" + "x" * 2000)
    notice = failure_notice({"ti": _TI(), "task": _Task(), "params": {"dataset": "credit"}, "exception": err})
    assert notice == {
        "kind": "mlops_task_failure",
        "dag_id": "mlops_batch_scoring",
        "task_id": "score_batch",
        "map_index": 2,
        "run_id": "r1",
        "try_number": 3,
        "dataset": "diabetes",
        "error": "RuntimeError: first line",
        "log_url": _TI.log_url,
    }
    assert len(error_line(RuntimeError("y" * 2000))) == 500
    assert error_line(None) == "unknown error (see the task log)"


def test_a_broken_notifier_is_logged_and_the_others_still_run(caplog):
    calls = []

    def broken(context):
        raise ConnectionError("webhook down")

    notice = notify_task_failure(
        {"ti": _TI(), "exception": ValueError("bad")}, notifiers=[broken, calls.append]
    )
    assert len(calls) == 1 and calls[0]["mlops_failure"] == notice
    assert "failure notifier broken failed: webhook down" in caplog.text


# ------------------------------------------------------------------ outages
def _client(endpoint: str, **config):
    import boto3
    from botocore.config import Config

    cfg = Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=1, read_timeout=1, **config)
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="t",
        aws_secret_access_key="t",
        config=cfg,
    )


def _translated(call, caplog) -> tuple[BaseException, list[str]]:
    caplog.clear()
    caplog.set_level(logging.ERROR, logger="mlops_operators.common")
    with pytest.raises(Exception) as info:
        with fail_fast_on_bad_input():
            call()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    return info.value, errors


def test_a_closed_port_is_one_error_line_and_a_retryable_error(caplog):
    endpoint = f"http://127.0.0.1:{_free_port()}"  # nothing listens
    err, errors = _translated(lambda: _client(endpoint).get_object(Bucket="b", Key="k"), caplog)
    assert type(err) is StorageUnavailableError and not isinstance(err, AirflowFailException)
    assert err.__cause__ is None and err.__suppress_context__  # no chained tracebacks
    assert len(errors) == 1 and errors[0] == str(err)
    assert errors[0].startswith(f"S3 endpoint {endpoint} is unreachable (EndpointConnectionError on /b/k)")
    assert "check that the storage service is running" in errors[0] and "endpoint_url" in errors[0]
    assert "retried" in errors[0]


def test_http_503_is_retryable_and_names_status_operation_and_connection(caplog, monkeypatch):
    class Unavailable(BaseHTTPRequestHandler):
        def _reply(self):
            body = b"<Error><Code>ServiceUnavailable</Code><Message>Please reduce your request rate.</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PUT = do_HEAD = _reply  # noqa: N815 (http.server API)

        def log_message(self, *args):
            pass

    server = _serve(Unavailable, ThreadingHTTPServer)
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    extra = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "config_kwargs": {"retries": {"max_attempts": 1}},
    }
    monkeypatch.setenv(
        "AIRFLOW_CONN_TEST_S3_503",
        json.dumps({"conn_type": "aws", "login": "t", "password": "t", "extra": extra}),
    )
    try:
        client = s3_client("test_s3_503")  # the operators' way: S3Hook and an Airflow connection
        err, errors = _translated(lambda: client.put_object(Bucket="b", Key="k", Body=b"x"), caplog)
    finally:
        server.shutdown()
        server.server_close()
    assert type(err) is StorageUnavailableError
    assert errors == [
        f"S3 endpoint {endpoint} (connection 'test_s3_503') answered HTTP 503 ServiceUnavailable to PutObject: "
        "Please reduce your request rate.; the storage service is failing or overloaded: check its health "
        "and capacity; the task will be retried with backoff."
    ]


def test_a_read_timeout_is_retryable(caplog):
    class Silent(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server API)
            time.sleep(3)  # longer than the client's read_timeout

        def log_message(self, *args):
            pass

    server = _serve(Silent, ThreadingHTTPServer)
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        err, errors = _translated(lambda: _client(endpoint).get_object(Bucket="b", Key="k"), caplog)
    finally:
        server.shutdown()
        server.server_close()
    assert type(err) is StorageUnavailableError
    assert len(errors) == 1 and errors[0].startswith(
        f"S3 endpoint {endpoint} timed out (ReadTimeoutError on /b/k)"
    )


def test_bad_input_still_fails_at_once_and_other_errors_keep_their_traceback(s3, caplog):
    err, errors = _translated(lambda: _raise(InputReadError("File s3://b/k does not exist.")), caplog)
    assert type(err) is AirflowFailException and errors == [str(err)] and err.__cause__ is None
    s3.create_bucket(Bucket="mlops-test")
    err, _ = _translated(lambda: s3.get_object(Bucket="mlops-test", Key="missing"), caplog)
    assert type(err).__name__ == "NoSuchKey"  # a 4xx is no outage: unchanged
    err, _ = _translated(lambda: _raise(KeyError("x")), caplog)
    assert type(err) is KeyError


def test_an_outage_wrapped_in_a_library_error_is_still_an_outage():
    from botocore.exceptions import EndpointConnectionError

    try:
        try:
            raise EndpointConnectionError(endpoint_url="http://minio:9000/mlops/x")
        except EndpointConnectionError as inner:
            raise InputReadError("could not read s3://mlops/x") from inner
    except InputReadError as wrapped:
        message = describe_outage(wrapped)
    assert message.startswith(
        "S3 endpoint http://minio:9000 is unreachable (EndpointConnectionError on /mlops/x)"
    )


@pytest.mark.e2e
def test_an_outage_is_retried_then_notified_once(receiver, monkeypatch, airflow_db):
    """A dead S3 endpoint: the task goes up for retry (no notice), fails after its last try, notifies once."""
    from airflow.dag_processing.dagbag import DagBag

    dead = f"http://127.0.0.1:{_free_port()}"
    conn = {
        "conn_type": "aws",
        "login": "t",
        "password": "t",
        "extra": {"endpoint_url": dead, "region_name": "us-east-1"},
    }
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    # A DAG object of its own: the retry policy is shortened here only, so the run takes seconds.
    dag = DagBag(dag_folder=str(REPO / "dags")).get_dag("mlops_validation")
    task = dag.get_task("validate_batch")
    assert task.retries >= 1 and task.retry_exponential_backoff > 1  # the real policy, from dag_defaults
    task.retries, task.retry_delay, task.retry_exponential_backoff = 1, timedelta(seconds=1), 0
    run = dag.test(
        logical_date=pendulum.datetime(2026, 3, 10, tz="UTC"),
        run_conf={"dataset": "credit", "date": "2026-03-10", "labelled": False},
    )
    assert run.state == "failed"
    assert _states(run)["validate_batch"] == ("failed", 2)  # retried once
    assert len(receiver) == 1, receiver
    notice = json.loads(receiver[0]["body"])
    assert notice["try_number"] == 2
    assert notice["error"].startswith(
        f"StorageUnavailableError: S3 endpoint {dead} (connection 'aws_default') is unreachable"
    )

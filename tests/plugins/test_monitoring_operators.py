"""Monitoring operators and notifiers against the moto server, and the webhook against a local HTTP server."""

from __future__ import annotations

import json
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from airflow.sdk.exceptions import AirflowFailException

from mlops import artifacts, storage
from mlops.artifacts.nightly import AlertEvent, NightVerdict
from mlops_operators.monitoring import (
    EvaluateAlertsOperator,
    MonitorDriftOperator,
    MonitorPerformanceOperator,
    RequestRetrainOperator,
)
from mlops_operators.notifiers import LogAlertNotifier, WebhookAlertNotifier
from tests.plugins.monitoring_world import DRIFT_NIGHT, QUIET_NIGHT, build_world

TEST_BUCKET = "mlops-test"  # the bucket of the server_s3 fixture (tests/conftest.py)


@pytest.fixture
def world(server_s3, credit_cfg):
    return build_world(server_s3, TEST_BUCKET, credit_cfg)


@pytest.fixture
def webhook(monkeypatch):
    """A local HTTP server on 127.0.0.1 that records POSTed JSON; its Airflow connection is set in the env."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            received.append({"path": self.path, "json": json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    conn = {"conn_type": "http", "host": "127.0.0.1", "port": server.server_address[1], "schema": "http"}
    monkeypatch.setenv("AIRFLOW_CONN_TEST_ALERTS_WEBHOOK", json.dumps(conn))
    yield received
    server.shutdown()
    server.server_close()


def _night(day, notifiers=()):
    common = {"dataset": "credit", "date": day.isoformat(), "bucket": TEST_BUCKET}
    drift = MonitorDriftOperator(task_id="monitor_drift", **common).execute(context={})
    perf = MonitorPerformanceOperator(task_id="monitor_performance", **common).execute(context={})
    night = EvaluateAlertsOperator(task_id="evaluate_alerts", notifiers=list(notifiers), **common).execute(
        context={}
    )
    return drift, perf, night


def _logs(capsys, caplog) -> str:
    captured = capsys.readouterr()
    return captured.out + captured.err + caplog.text


def test_webhook_fires_on_the_drift_night_only(world, server_s3, webhook, caplog, capsys):
    """Quiet night: OK, nobody notified. Drift night: ALERT, alert event, log block, one POST to the webhook."""
    caplog.set_level(logging.INFO)
    notifiers = [
        LogAlertNotifier(),
        WebhookAlertNotifier(http_conn_id="test_alerts_webhook", endpoint="hooks/mlops"),
    ]
    drift, perf, night = _night(QUIET_NIGHT, notifiers)
    assert drift["verdict"] == "OK" and not drift["dataset_drift"] and not drift["prediction_drift"]
    # At most a "minor" detection (significant but PSI below the warn level) on a quiet night.
    assert len(drift["drifted_features"]) <= 1
    assert perf["days"] and all(d["source"] == "realised" for d in perf["days"])
    assert night["verdict"] == "OK" and night["fired"] == [] and not night["retrain"]
    assert webhook == [] and night["notified"] == []
    assert not storage.exists(server_s3, artifacts.alert_uri(TEST_BUCKET, "credit", QUIET_NIGHT.isoformat()))
    assert storage.exists(server_s3, night["report_uri"])
    log = _logs(capsys, caplog)
    assert "MONITORING ALERT" not in log and "VERDICT: OK" in log
    with pytest.raises(AirflowFailException, match="fired no rule with retrain: true"):
        RequestRetrainOperator(
            task_id="request_retrain", dataset="credit", date=QUIET_NIGHT.isoformat(), bucket=TEST_BUCKET
        ).execute(context={})

    drift, perf, night = _night(DRIFT_NIGHT, notifiers)
    assert drift["verdict"] == "ALERT" and drift["dataset_drift"]
    assert drift["model_version"] == world["version"]
    assert {"credit_score", "interest_rate", "debt_to_income"} <= set(drift["drifted_features"])
    assert drift["report_uri"].endswith("/monitoring/credit/2026-01-12/report.html")
    assert [d["source"] for d in perf["days"]] == ["realised", "estimated", "estimated", "estimated"]
    assert perf["baseline"]["roc_auc"] == 0.85 and "holdout roc_auc=0.850" in perf["summary"]

    assert night["verdict"] == "ALERT" and night["retrain"] and "dataset_drift" in night["fired"]
    assert night["notified"] == ["LogAlertNotifier", "WebhookAlertNotifier"]
    assert len(webhook) == 1 and webhook[0]["path"] == "/hooks/mlops"
    payload = webhook[0]["json"]
    assert payload["kind"] == "mlops_monitoring_alert" and payload["verdict"] == "ALERT"
    assert payload["dataset"] == "credit" and payload["day"] == "2026-01-12" and payload["retrain"] is True
    assert payload["report_uri"] == drift["report_uri"]
    event = artifacts.read_artifact(server_s3, night["alert_uri"], AlertEvent)
    assert (
        event.fired == night["fired"] and event.verdict == "ALERT" and event.night_uri == night["night_uri"]
    )
    assert artifacts.read_artifact(server_s3, night["night_uri"], NightVerdict).fired == night["fired"]
    assert storage.exists(server_s3, night["report_uri"])

    log = _logs(capsys, caplog)
    assert "MONITORING ALERT  dataset=credit  night=2026-01-12" in log
    assert "VERDICT: ALERT dataset=credit night=2026-01-12" in log
    assert "report: s3://mlops-test/monitoring/credit/2026-01-12/report.html" in log
    assert "credit_score: KS D=" in log and "Holm-adjusted p=" in log and "-> DRIFT" in log
    assert "webhook notifier: POST http://127.0.0.1:" in log


def test_webhook_without_connection_is_skipped(caplog, capsys):
    caplog.set_level(logging.INFO)
    context = {"mlops_alert": {"dataset": "credit", "verdict": "ALERT", "rules": []}}
    WebhookAlertNotifier(http_conn_id="no_such_webhook_conn")(context)
    assert "no Airflow connection 'no_such_webhook_conn'" in _logs(capsys, caplog)


def test_operators_fail_fast_on_bad_parameters(server_s3):
    message = (
        "The 'window_days' parameter of MonitorDriftOperator must be a positive integer. Got 'three' instead."
    )
    with pytest.raises(AirflowFailException, match=re.escape(message)):
        MonitorDriftOperator(
            task_id="monitor_drift",
            dataset="credit",
            date="2026-01-12",
            window_days="three",
            bucket=TEST_BUCKET,
        ).execute(context={})
    with pytest.raises(AirflowFailException, match="has no 'production' alias yet"):
        MonitorDriftOperator(
            task_id="monitor_drift", dataset="credit", date="2026-01-12", bucket=TEST_BUCKET
        ).execute(context={})
    with pytest.raises(AirflowFailException, match="No drift result"):
        EvaluateAlertsOperator(
            task_id="evaluate_alerts", dataset="credit", date="2026-01-12", bucket=TEST_BUCKET
        ).execute(context={})

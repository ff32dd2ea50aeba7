"""The "ML models" UI plugin inside Airflow's real API server app: auth, pages, artifact viewer.

The app is Airflow's own ``create_app()`` (plugins loaded from ``plugins/``, the simple auth
manager, JWTs it signs), reading a real registry in the moto server through ``aws_default``.
"""

from __future__ import annotations

import re

import pytest

from tests.conftest import TEST_BUCKET

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def world(moto_server, credit_cfg):
    from mlops.storage import client_from_env, ensure_bucket
    from tests.include.mlops import tracking_world

    client = client_from_env()
    ensure_bucket(client, TEST_BUCKET)
    built = tracking_world.build(client, TEST_BUCKET, credit_cfg)
    yield {**built, "client": client}
    for page in client.get_paginator("list_object_versions").paginate(Bucket=TEST_BUCKET):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            client.delete_object(Bucket=TEST_BUCKET, Key=item["Key"], VersionId=item["VersionId"])


@pytest.fixture(scope="module")
def api(airflow_db, world):
    """Airflow's API server app (core + plugins) under a TestClient, plus JWTs for two roles."""
    from airflow.api_fastapi.app import create_app, get_auth_manager, purge_cached_app
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    app = create_app()
    client = TestClient(app)
    manager = get_auth_manager()
    tokens = {
        "viewer": manager.generate_jwt(SimpleAuthManagerUser(username="vera", role="viewer")),
        "nobody": manager.generate_jwt(SimpleAuthManagerUser(username="nemo", role=None)),
    }
    yield client, tokens
    purge_cached_app()


def _get(api, path: str, who: str | None = "viewer", **kwargs):
    client, tokens = api
    client.cookies.clear()
    if who:
        client.cookies.set("_token", tokens[who])
    return client.get(path, **kwargs)


def test_plugin_registers_one_nav_entry_and_the_app():
    from airflow import plugins_manager

    views, _ = plugins_manager._get_ui_plugins()
    ours = [v for v in views if v["name"] == "ML models"]
    assert ours == [
        {
            "name": "ML models",
            "href": "mlops/models",
            "destination": "nav",
            "url_route": "ml-models",
            "nav_top_level": True,
        }
    ]
    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [a["url_prefix"] for a in apps if a["name"] == "ML models"] == ["/mlops"]


@pytest.mark.parametrize(
    "path",
    [
        "/mlops/models",
        "/mlops/api/models",
        "/mlops/runs",
        f"/mlops/artifacts/{TEST_BUCKET}/monitoring/credit/2026-01-12/report.html",
    ],
)
def test_every_endpoint_needs_a_valid_airflow_session(api, path):
    assert _get(api, path, who=None).status_code == 401
    assert _get(api, path, who=None, headers={"Authorization": "Bearer not-a-jwt"}).status_code == 403
    assert _get(api, path, who="nobody").status_code == 403  # a user without DAG read access
    assert _get(api, path).status_code == 200


def test_models_page_shows_production_and_monitoring(api, world):
    html = _get(api, "/mlops/models").text
    assert ">credit</a>" in html and f">{world['v2']}</span>" in html
    assert '<td>alice <a href="/dags/mlops_training/runs/r2"' in html and "WARN" in html
    models = _get(api, "/mlops/api/models").json()
    assert models[0]["production"]["version"] == world["v2"] == "v0002"
    assert models[0]["monitoring"]["verdict"] == "WARN"


def test_model_page_versions_history_diff_and_rollback_link(api, world):
    html = _get(api, "/mlops/models/credit").text
    assert html.count("BLESSED") >= 2 and "hist_gradient_boosting" in html and "logistic_regression" in html
    assert "Roll back to this version" in html and "/mlops/models/credit/rollback?version=v0001" in html
    # the default diff is production's previous version vs production, differences only
    differs = "<td>model</td><td><code>estimator</code></td><td>hist_gradient_boosting</td><td>logistic_regression</td>"
    assert differs in html and "<code>sklearn</code>" not in html
    every = _get(api, "/mlops/models/credit?a=v0001&b=v0002&all=true").text
    assert re.search(r'<tr class="changed"><td>model</td><td><code>estimator</code>', every)
    assert '<tr class=""><td>libraries</td><td><code>sklearn</code>' in every
    assert "Production pointer history" in html and "first production model" in html
    rollback = _get(api, "/mlops/models/credit/rollback?version=v0001").text
    assert (
        'href="/dags/mlops_rollback"' in rollback
        and "&quot;target_version&quot;: &quot;v0001&quot;" in rollback
    )
    assert _get(api, "/mlops/models/credit/rollback?version=v0009").status_code == 404
    assert _get(api, "/mlops/models/nope").status_code == 404


def test_model_page_names_a_record_it_cannot_read(api, world):
    from mlops import artifacts, storage

    uri = artifacts.tombstone_uri(TEST_BUCKET, "credit", "v0002")  # production: the list reads it too
    storage.put_json(world["client"], uri, {"version": "v0002", "schema_version": 99})
    try:
        html = _get(api, "/mlops/models/credit").text
        listed = _get(api, "/mlops/models").text
    finally:
        storage.delete(world["client"], uri)
    assert "Some records could not be read" in html and f"tombstone at {uri} has schema_version 99" in html
    assert "unreadable records" in listed and "Roll back to this version" in html


def test_runs_list_show_and_compare_with_a_plot(api, world):
    runs = _get(api, "/mlops/api/runs").json()
    assert {r["status"] for r in runs} == {"published v0001", "published v0002", "not blessed"}
    refs = [r["ref"] for r in runs]
    html = _get(api, "/mlops/runs").text
    assert all(ref.split("/")[1] in html for ref in refs)
    assert "/dags/mlops_training/runs/r1" in html
    one = _get(api, f"/mlops/runs/{refs[0]}").text
    assert "VERDICT: NOT BLESSED" in one and "model_card.html" in one
    page = _get(api, "/mlops/runs/compare", params=[("run", r) for r in refs])
    assert page.status_code == 200 and 'src="data:image/png;base64,' in page.text
    assert _get(api, "/mlops/runs/compare", params={"run": refs[0]}).status_code == 400


def test_artifact_viewer_serves_reports_from_the_private_bucket(api, world):
    run = next(r for r in _get(api, "/mlops/api/runs").json() if r["status"] == "published v0002")
    card = _get(api, f"/mlops/artifacts/{TEST_BUCKET}/candidates/credit/{run['run_key']}/model_card.html")
    assert card.status_code == 200 and "<title>Model card: credit" in card.text
    assert card.headers["content-security-policy"].startswith("sandbox")
    blessing = _get(api, f"/mlops/artifacts/{TEST_BUCKET}/candidates/credit/{run['run_key']}/blessing.json")
    assert "VERDICT: BLESSED" in blessing.text and "raw JSON" in blessing.text


@pytest.mark.parametrize(
    "key",
    [
        "candidates/credit/x/model.skops",  # a model, not a report
        "data/credit/features/dt=2026-01-01/batch.parquet",  # data
        "candidates/credit/%2e%2e/%2e%2e/models/credit/manifest.json",  # traversal, encoded
        "candidates/credit/%2e%2e/blessing.json",
        "candidates%2Fcredit%2Fx%2Fmodel.skops",
        "etc/passwd",
    ],
)
def test_artifact_viewer_refuses_anything_but_reports(api, world, key):
    assert _get(api, f"/mlops/artifacts/{TEST_BUCKET}/{key}").status_code == 404


def test_artifact_viewer_refuses_other_buckets(api, world):
    assert (
        _get(
            api, "/mlops/artifacts/someone-elses-bucket/monitoring/credit/2026-01-12/report.html"
        ).status_code
        == 404
    )


# ---------------------------------------------------------------- S3 failures
def _plugin_app(api):
    """The "ML models" FastAPI app as Airflow mounted it at /mlops."""
    from starlette.routing import Mount

    client, _ = api
    return next(r.app for r in client.app.routes if isinstance(r, Mount) and r.path == "/mlops")


@pytest.fixture
def dead_s3(api, monkeypatch):
    """``aws_default`` points at a loopback port nobody listens on (one try, 1 s timeouts)."""
    import json
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        endpoint = f"http://127.0.0.1:{s.getsockname()[1]}"
    extra = {
        "endpoint_url": endpoint,
        "region_name": "us-east-1",
        "config_kwargs": {"connect_timeout": 1, "read_timeout": 1, "retries": {"total_max_attempts": 1}},
    }
    conn = {"conn_type": "aws", "login": "testing", "password": "testing", "extra": extra}
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", json.dumps(conn))
    s3 = _plugin_app(api).state.s3_client
    s3.reset()  # the app caches its client: build one from the dead connection
    yield endpoint
    s3.reset()  # and from the restored one after the test


def _one_line(response) -> str:
    """The message of an error answer: JSON ``detail``, or the alert of the HTML page (unescaped)."""
    import html

    if response.headers["content-type"].startswith("application/json"):
        return response.json()["detail"]
    found = re.search(r'<div class="note warn" role="alert">(.*?)</div>', response.text)
    assert found, response.text[:500]
    return html.unescape(found.group(1))


def test_an_s3_outage_is_a_503_saying_which_endpoint_and_what_to_check(api, world, dead_s3, caplog):
    import logging
    import time

    caplog.set_level(logging.WARNING, logger="mlops_ui.app")
    started = time.monotonic()
    page = _get(api, "/mlops/models/credit")
    listed = _get(api, "/mlops/api/runs")
    assert time.monotonic() - started < 15  # no hang: the connection's timeouts and retries apply

    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "<h1>503 Service Unavailable</h1>" in page.text and '<nav class="top">' in page.text  # the layout
    for answer in (page, listed):
        line = _one_line(answer)
        assert line.startswith(f"Cannot read bucket {TEST_BUCKET!r}: cannot reach S3 endpoint {dead_s3}: ")
        assert f"cannot reach S3 endpoint {dead_s3}: Connection refused (EndpointConnectionError)" in line
        assert "check that the S3 endpoint is running" in line and "connection 'aws_default'" in line
        assert "testing" not in line and "\n" not in line  # no credential, one line
    assert listed.status_code == 503 and listed.headers["content-type"].startswith("application/json")

    lines = [r for r in caplog.records if r.name == "mlops_ui.app"]
    assert [(r.levelname, r.exc_info) for r in lines] == [("WARNING", None)] * 2  # no traceback
    assert "GET /mlops/models/credit: HTTP 503: Cannot read bucket" in lines[0].getMessage()


def test_the_app_reads_s3_again_once_the_endpoint_is_back(api, world, dead_s3, monkeypatch):
    assert _get(api, "/mlops/api/models").status_code == 503
    monkeypatch.undo()  # aws_default points at moto again
    assert _get(api, "/mlops/api/models").status_code == 200  # the failure dropped the cached client


def test_a_missing_bucket_is_a_404_naming_the_bucket_and_the_fix(api, world, monkeypatch):
    from mlops import storage

    monkeypatch.setattr(storage, "DEFAULT_BUCKET", "mlops-no-such-bucket")
    page = _get(api, "/mlops/runs")
    model = _get(api, "/mlops/api/models/credit")
    assert page.status_code == 404 and "<h1>404 Not Found</h1>" in page.text
    assert model.status_code == 404
    for answer in (page, model):
        line = _one_line(answer)
        assert line.startswith(
            "Bucket 'mlops-no-such-bucket' does not exist at S3 endpoint http://127.0.0.1:"
        )
        assert "MLOPS_BUCKET" in line and "`mlops seed`" in line and "connection 'aws_default'" in line


@pytest.mark.parametrize(
    ("code", "http", "status", "expected"),
    [
        (
            "AccessDenied",
            403,
            403,
            "S3 endpoint http://s3.local:9000 refused access to bucket 'b' (AccessDenied",
        ),
        ("InvalidAccessKeyId", 403, 403, "check the credentials of the Airflow connection 'aws_default'"),
        ("NoSuchBucket", 404, 404, "Bucket 'b' does not exist at S3 endpoint http://s3.local:9000;"),
        ("InternalError", 500, 502, "HTTP 500 InternalError on ListObjectsV2 (boom); check the S3 service's"),
        (
            "SlowDown",
            503,
            503,
            "Cannot read bucket 'b': cannot reach S3 endpoint http://s3.local:9000: HTTP 503 SlowDown",
        ),
    ],
)
def test_s3_client_errors_map_to_a_status_and_one_line(code, http, status, expected):
    from botocore.exceptions import ClientError
    from mlops_ui.failures import s3_failure

    from mlops.errors import InputReadError

    err = ClientError(
        {"Error": {"Code": code, "Message": "boom"}, "ResponseMetadata": {"HTTPStatusCode": http}},
        "ListObjectsV2",
    )
    wrapped = InputReadError("Object s3://b/k does not exist.")
    wrapped.__cause__ = err  # a library error wrapping the botocore one is classified the same
    for found in (err, wrapped):
        failure = s3_failure(
            found, bucket="b", endpoint="http://key:secret@s3.local:9000", conn_id="aws_default"
        )
        assert failure is not None and failure.status == status and expected in failure.message
        assert "secret" not in failure.message
    assert s3_failure(InputReadError("x"), bucket="b", endpoint=None, conn_id="aws_default") is None

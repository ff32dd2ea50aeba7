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

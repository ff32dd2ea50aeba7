"""The "ML models" UI in a real browser (Playwright driving Debian's Chromium) against a live Airflow.

Airflow runs on the embedded defaults (api-server, scheduler, dag-processor, triggerer; SQLite;
LocalExecutor) with moto's S3 server. The registry gets v0001 in production from the library,
then a real DAG run (``mlops_ui_seed``: evaluate, gate, publish, promote) makes v0002
production, so its tasks carry real "Model card" extra links. The test then:

1. logs in and opens "ML models": production is v0002;
2. opens the model card through the evaluate task's extra link: HTTP 200, title visible;
3. triggers ``mlops_rollback`` from the UI trigger form: production becomes v0001 on the page;
4. requests an artifact without a session: 401;
5. as a FAB Viewer: reads the ML models API and the model card, and gets 403 triggering ``mlops_rollback``.

Auth is the FAB auth manager with the compose file's roles, as deployed.
"""

from __future__ import annotations

import time
import urllib.parse

import pytest

from tests.include.mlops.training_world import END, fast, seed_validated
from tests.ui.conftest import BUCKET, poll

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture(scope="module")
def seeded(airflow, s3_server, credit_cfg):
    """v0001 in production (library), then v0002 through a real run of the seed DAG."""
    from mlops import training
    from tests.include.mlops.tracking_world import publish_and_promote

    _, client = s3_server
    started = time.monotonic()
    cfg = fast(credit_cfg)
    seed_validated(client, BUCKET, cfg)  # while Airflow starts
    v1 = publish_and_promote(client, BUCKET, cfg, "r1", "first production model")
    candidate = training.train_candidate(
        client,
        cfg,
        bucket=BUCKET,
        end=END,
        run_id="r2",
        window_days=12,
        estimator="logistic_regression",
        run={"dag_id": "mlops_training", "run_id": "r2"},
    )
    airflow.wait_until_up()
    token = airflow.token()
    airflow.wait_for_dag("mlops_ui_seed", token)
    airflow.wait_for_dag("mlops_rollback", token)
    run_id = airflow.trigger(
        "mlops_ui_seed", {"candidate_prefix": candidate.candidate_prefix, "dataset": "credit"}, token
    )
    state = airflow.wait_for_run("mlops_ui_seed", run_id, token)
    assert state == "success", f"seed run {run_id} ended {state}; task logs under {airflow.home}/logs"
    print(f"seeded in {time.monotonic() - started:.0f}s")
    card_key = candidate.candidate_prefix.split(f"{BUCKET}/", 1)[1] + "model_card.html"
    return {"v1": v1, "seed_run": run_id, "card_key": card_key}


def _login(page, airflow) -> None:
    page.goto(airflow.url + "/")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", airflow.password)
    page.press("input[name=password]", "Enter")
    page.wait_for_url(lambda url: "/auth/" not in url)


def _production_on_page(page, airflow) -> str:
    """The production badge of 'credit' as the ML models page (inside the Airflow UI) shows it."""
    page.goto(airflow.url + "/plugin/ml-models")
    frame = page.frame_locator("iframe").first
    row = frame.locator("tr", has=frame.locator("a", has_text="credit"))
    return row.locator(".badge.prod").inner_text(timeout=30_000)


def test_ml_models_ui_end_to_end(airflow, seeded, page, browser, shot):
    _login(page, airflow)

    # 1. the "ML models" nav entry opens the plugin page, which shows production v0002
    page.get_by_role("link", name="ML models").first.click()
    page.wait_for_url("**/plugin/ml-models**")
    assert _production_on_page(page, airflow) == "v0002"
    shot("ui-models")

    # 2. the model card, through the evaluate task's extra link (Details tab of the task instance)
    run = urllib.parse.quote(seeded["seed_run"], safe="")
    page.goto(f"{airflow.url}/dags/mlops_ui_seed/runs/{run}/tasks/evaluate_model/details")
    link = page.locator("a", has_text="Model card").first
    assert link.get_attribute("href").startswith(f"/mlops/artifacts/{BUCKET}/candidates/credit/")
    shot("ui-extra-links")
    with page.expect_navigation() as navigation:
        link.click()
    assert navigation.value.status == 200
    assert page.title().startswith("Model card: credit")
    assert page.locator("h1", has_text="Model card: credit").is_visible()

    # 3. "Roll back to this version" leads to the mlops_rollback trigger form; production moves to v0001
    page.goto(f"{airflow.url}/mlops/models/credit")
    page.get_by_role("link", name="Roll back to this version").click()
    page.wait_for_url(lambda url: url.endswith(f"/mlops/models/credit/rollback?version={seeded['v1']}"))
    page.get_by_role("link", name="mlops_rollback in Airflow").click()
    page.wait_for_url("**/dags/mlops_rollback")
    page.get_by_test_id("trigger-dag-button").click()
    dialog = page.get_by_role("dialog")
    dialog.locator("#element_target_version").fill(seeded["v1"])
    dialog.locator("#element_reason").fill("browser test: roll back to the first model")
    # wait for the trigger's POST: navigating away at once can cancel it on a busy machine
    with page.expect_response(
        lambda r: r.request.method == "POST" and "/mlops_rollback/dagRuns" in r.url
    ) as sent:
        dialog.get_by_test_id("trigger-dag-submit").click()
    assert sent.value.status == 200, sent.value.text()
    poll(
        lambda: _production_on_page(page, airflow) == seeded["v1"],
        timeout=150,
        every=3,
        what="production == v0001",
    )
    page.goto(f"{airflow.url}/mlops/models/credit")
    history = page.locator("table", has=page.locator("th", has_text="From")).first
    latest = history.locator("tbody tr").first.inner_text()
    assert "rollback" in latest and "v0002" in latest and seeded["v1"] in latest
    shot("ui-model-page")

    # the runs page compares the two training runs side by side, with the metric plot
    page.goto(f"{airflow.url}/mlops/runs")
    boxes = page.locator("input[type=checkbox][name=run]")
    assert boxes.count() == 2
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_url(lambda url: "/mlops/runs/compare?run=" in url)
    assert page.locator("img.plot").is_visible()
    shot("ui-runs-compare")

    # 4. no session, no artifact
    anonymous = browser.new_context()
    try:
        response = anonymous.request.get(f"{airflow.url}/mlops/artifacts/{BUCKET}/{seeded['card_key']}")
        assert response.status in (401, 403), response.status
    finally:
        anonymous.close()

    # 5. FAB roles: a Viewer reads "ML models" and the model card, but mlops_rollback (MLOpsRelease) is refused
    viewer = airflow.token(airflow.viewer)
    assert airflow.status("GET", "/mlops/api/models/credit", viewer) == 200
    assert airflow.status("GET", f"/mlops/artifacts/{BUCKET}/{seeded['card_key']}", viewer) == 200
    trigger = {"logical_date": None, "conf": {"dataset": "credit", "reason": "a viewer may not roll back"}}
    assert airflow.status("POST", "/api/v2/dags/mlops_rollback/dagRuns", viewer, trigger) == 403

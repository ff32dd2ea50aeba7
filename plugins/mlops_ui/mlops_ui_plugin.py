"""Registers the "ML models" UI: a FastAPI app on the API server and one navigation entry.

Airflow imports this file in every component (API server, scheduler, workers), so it
stays light: the app's routes import what they need when called.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mlops.tracking.viewer import UI_PREFIX
from mlops_ui.app import create_app


class MlopsUiPlugin(AirflowPlugin):
    """Registry, training runs and reports inside the Airflow UI (read-only; changes stay DAG runs)."""

    name = "mlops_ui"
    fastapi_apps = [{"app": create_app(), "url_prefix": UI_PREFIX, "name": "ML models"}]
    external_views = [
        {
            "name": "ML models",
            # Relative to the UI's <base href>: works under a base_url path too.
            "href": f"{UI_PREFIX.lstrip('/')}/models",
            "destination": "nav",
            "url_route": "ml-models",
            "nav_top_level": True,
        }
    ]

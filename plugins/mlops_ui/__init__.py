"""The "ML models" UI plugin: registry, training runs and reports inside the Airflow UI.

``mlops_ui_plugin.py`` registers it (a FastAPI app mounted at ``/mlops`` on the API server
and one navigation entry); ``app.py`` holds the routes and the auth check, ``pages.py`` and
``html.py`` render the pages, ``plots.py`` draws the run comparison. Data comes from the
read-only views in :mod:`mlops.tracking`. Airflow's plugin loader imports only
``mlops_ui_plugin.py`` (see ``.airflowignore``); the rest is imported as ``mlops_ui.*``.
See README.md, section 'The "ML models" pages' (and its UI failure answers: 503/403/404).
"""

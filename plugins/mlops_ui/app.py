"""The "ML models" FastAPI app, mounted by Airflow's API server at ``/mlops``.

Every route requires a logged-in Airflow user who may read DAGs: the request's
``Authorization: Bearer`` token or the UI's ``_token`` session cookie is validated by
Airflow's own auth manager (:func:`require_reader`). No session: 401; an invalid token
or a user without DAG read access: 403.

S3 is read on the server with the ``aws_default`` connection (through ``S3Hook``), so
private buckets work and no credential or presigned URL ever reaches the browser. The
artifact viewer serves only report-like keys (:mod:`mlops.tracking.viewer`); HTML
reports are sent with a CSP sandbox so their scripts cannot act as the Airflow user.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from mlops import storage
from mlops.errors import ConfigError, InputReadError, MLOpsError
from mlops.tracking import models as models_view
from mlops.tracking import runs as runs_view
from mlops.tracking import viewer
from mlops_ui import pages
from mlops_ui.failures import s3_failure

log = logging.getLogger(__name__)

AWS_CONN_ID = "aws_default"
CLIENT_TTL_SECONDS = 300
#: botocore settings of the app's client: a page fails fast on a dead endpoint instead of hanging.
#: The connection's ``extra.config_kwargs`` override them.
CLIENT_CONFIG: dict[str, Any] = {
    "connect_timeout": 5,
    "read_timeout": 30,
    "retries": {"mode": "standard", "total_max_attempts": 2},
}
#: Sent with every served artifact: no sniffing, no caching, no referrer.
SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
}
#: HTML reports run in an opaque origin: their scripts cannot read Airflow's cookies or call its API.
HTML_CSP = "sandbox allow-scripts allow-popups allow-popups-to-escape-sandbox; frame-ancestors 'self'"


# ---------------------------------------------------------------- auth
async def require_reader(request: Request) -> None:
    """Airflow's own check: a valid JWT (bearer header or ``_token`` cookie) of a user who may read DAGs."""
    from airflow.api_fastapi.core_api.security import get_user, requires_access_dag
    from fastapi.security import HTTPBearer

    credentials = await HTTPBearer(auto_error=False)(request)
    user = await get_user(request, None, credentials)
    requires_access_dag("GET")(request, user)


# ---------------------------------------------------------------- S3
class _HookClient:
    """A boto3 client from ``S3Hook(aws_conn_id)``, rebuilt every few minutes (connection edits apply)."""

    def __init__(self, conn_id: str = AWS_CONN_ID, ttl: float = CLIENT_TTL_SECONDS) -> None:
        self.conn_id, self.ttl = conn_id, ttl
        self._client: Any = None
        self._made = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        with self._lock:
            if self._client is None or time.monotonic() - self._made > self.ttl:
                from airflow.providers.amazon.aws.hooks.s3 import S3Hook
                from botocore.config import Config

                own = S3Hook(aws_conn_id=self.conn_id).conn_config.botocore_config
                config = Config(**CLIENT_CONFIG).merge(own) if own else Config(**CLIENT_CONFIG)
                self._client = S3Hook(aws_conn_id=self.conn_id, config=config).get_conn()
                self._made = time.monotonic()
            return self._client

    def reset(self) -> None:
        """Build a new client at the next request (after a failure: a fixed connection applies at once)."""
        with self._lock:
            self._client = None


# ---------------------------------------------------------------- the app
def _urls(request: Request) -> pages.Urls:
    base = str(request.scope.get("root_path") or "").rstrip("/")
    airflow = base.removesuffix(viewer.UI_PREFIX) if base.endswith(viewer.UI_PREFIX) else ""
    return pages.Urls(base=base, airflow=airflow)


def _html(text: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(text, status_code=status, headers={"Cache-Control": "private, no-store"})


def create_app(client_factory: Callable[[], Any] | None = None, bucket: str | None = None) -> FastAPI:
    """Build the app; tests pass a ``client_factory`` and ``bucket``, Airflow uses ``aws_default``."""
    get_client = client_factory or _HookClient()
    app = FastAPI(
        title="ML models",
        description="Registry, training runs and reports of the mlops project (read-only).",
        dependencies=[Depends(require_reader)],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    def the_bucket() -> str:
        return bucket or storage.DEFAULT_BUCKET

    async def failure(request: Request, err: Exception) -> Response:
        """The one error handler: S3 failures and library errors as one line, in the page layout for HTML."""
        status, message = _answer(err, request, get_client, the_bucket())
        if request.url.path.startswith(f"{request.scope.get('root_path', '')}/api/"):
            return JSONResponse({"detail": message}, status_code=status)
        return _html(pages.error_page(status, message, _urls(request)), status)

    for error_type in (MLOpsError, ClientError, BotoCoreError):
        app.add_exception_handler(error_type, failure)
    app.state.s3_client = get_client  # the mounted app's client (tests point it elsewhere)

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> RedirectResponse:
        return RedirectResponse(f"{_urls(request).base}/models", status_code=307)

    # ------------------------------------------------------------ HTML pages
    @app.get("/models", response_class=HTMLResponse)
    def models_page(request: Request) -> HTMLResponse:
        found = models_view.list_models(get_client(), the_bucket())
        return _html(pages.models_page(found, _urls(request), the_bucket()))

    @app.get("/models/{dataset}", response_class=HTMLResponse)
    def model_page(
        request: Request, dataset: str, a: str | None = None, b: str | None = None, all: bool = False
    ) -> HTMLResponse:
        detail = models_view.model_detail(get_client(), the_bucket(), dataset)
        a, b = _diff_pair(detail, a, b)
        diff = models_view.diff_versions(detail, a, b) if a and b else None
        return _html(pages.model_page(detail, _urls(request), diff, a or "", b or "", show_all=all))

    @app.get("/models/{dataset}/rollback", response_class=HTMLResponse)
    def rollback_page(request: Request, dataset: str, version: str) -> HTMLResponse:
        detail = models_view.model_detail(get_client(), the_bucket(), dataset, last_nights=0)
        return _html(pages.rollback_page(detail, detail.version(version), _urls(request)))

    @app.get("/runs", response_class=HTMLResponse)
    def runs_page(request: Request, dataset: str | None = None) -> HTMLResponse:
        client = get_client()
        found = runs_view.list_runs(client, the_bucket(), dataset or None)
        datasets = runs_view.datasets(client, the_bucket())
        return _html(pages.runs_page(found, _urls(request), dataset or None, datasets))

    @app.get("/runs/compare", response_class=HTMLResponse)
    def compare_page(
        request: Request, run: Annotated[list[str] | None, Query()] = None, all: bool = False
    ) -> HTMLResponse:
        found = runs_view.get_runs(get_client(), the_bucket(), run or [])
        from mlops_ui.plots import metrics_png

        table = runs_view.compare_runs(found)
        return _html(pages.compare_page(found, table, metrics_png(found), _urls(request), show_all=all))

    @app.get("/runs/{dataset}/{run_key}", response_class=HTMLResponse)
    def run_page(request: Request, dataset: str, run_key: str) -> HTMLResponse:
        found = runs_view.get_run(get_client(), the_bucket(), f"{dataset}/{run_key}")
        return _html(pages.run_page(found, _urls(request)))

    # ------------------------------------------------------------ artifact viewer
    @app.get("/artifacts/{bucket}/{key:path}")
    def artifact(request: Request, bucket: str, key: str, raw: bool = False) -> Response:
        if viewer.artifact_kind(bucket, key) is None:
            raise HTTPException(
                404, f"s3://{bucket}/{key} is not a viewable artifact (only reports in the mlops buckets)."
            )
        data = storage.get_bytes(get_client(), f"s3://{bucket}/{key}")
        if key.endswith(".html"):
            return Response(
                data,
                media_type=viewer.content_type(key),
                headers={**SAFE_HEADERS, "Content-Security-Policy": HTML_CSP},
            )
        if raw:
            return Response(data, media_type="application/json", headers=SAFE_HEADERS)
        try:
            parsed = json.loads(data)
        except ValueError:
            return Response(data, media_type="text/plain; charset=utf-8", headers=SAFE_HEADERS)
        raw_href = request.url.path + "?raw=true"
        return HTMLResponse(
            pages.json_artifact_page(bucket, key, parsed, raw_href, _urls(request)), headers=SAFE_HEADERS
        )

    # ------------------------------------------------------------ JSON
    @app.get("/api/models")
    def api_models() -> list[dict[str, Any]]:
        return [m.to_dict() for m in models_view.list_models(get_client(), the_bucket())]

    @app.get("/api/models/{dataset}")
    def api_model(dataset: str) -> dict[str, Any]:
        return models_view.model_detail(get_client(), the_bucket(), dataset).to_dict()

    @app.get("/api/runs")
    def api_runs(dataset: str | None = None) -> list[dict[str, Any]]:
        return [r.to_dict() for r in runs_view.list_runs(get_client(), the_bucket(), dataset or None)]

    @app.get("/api/runs/{dataset}/{run_key}")
    def api_run(dataset: str, run_key: str) -> dict[str, Any]:
        return runs_view.get_run(get_client(), the_bucket(), f"{dataset}/{run_key}").to_dict()

    return app


def _answer(err: Exception, request: Request, get_client: Callable[[], Any], bucket: str) -> tuple[int, str]:
    """``(status, one line)`` for an error of a route; re-raises what is neither S3 nor the library's."""
    endpoint = None
    with contextlib.suppress(Exception):
        endpoint = get_client().meta.endpoint_url
    bucket = str(request.path_params.get("bucket") or bucket)
    found = s3_failure(err, bucket=bucket, endpoint=endpoint, conn_id=AWS_CONN_ID)
    if found is not None:
        log.warning("%s %s: HTTP %d: %s", request.method, request.url.path, found.status, found.message)
        getattr(get_client, "reset", lambda: None)()
        return found.status, found.message
    if isinstance(err, ConfigError):
        return 400, str(err)
    if isinstance(err, InputReadError):
        return 404, str(err)
    if isinstance(err, storage.StorageUnavailable):
        log.warning("%s %s: HTTP 503: %s", request.method, request.url.path, err)
        return 503, str(err)
    if isinstance(err, MLOpsError):
        return 500, str(err)
    raise err  # an unexpected botocore error: Starlette's 500 with the traceback in the log


def _diff_pair(
    detail: models_view.ModelDetail, a: str | None, b: str | None
) -> tuple[str | None, str | None]:
    """The versions to diff: the query's, else production's previous version vs production."""
    if a and b:
        return a, b
    p = detail.production
    if p and p.previous_version:
        return p.previous_version, p.version
    names = [v.version for v in detail.versions]
    return (names[-2], names[-1]) if len(names) >= 2 else (None, None)

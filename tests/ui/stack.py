"""Airflow for the browser test: SQLite, LocalExecutor, moto's S3 server, the FAB auth manager.

Starts ``airflow api-server``, ``scheduler``, ``dag-processor`` and ``triggerer`` as
subprocesses of the test on free ports, in a temporary ``AIRFLOW_HOME`` whose DAGs folder
holds ``mlops_rollback`` and the test's seed DAG. Access is set up as docker-compose.yaml's
``airflow-init`` does: the FAB auth manager, the ``access_control`` roles, an Admin user, plus
a Viewer user for the access checks. Every process is started in its own session and stopped
by its process id at the end; logs stay in ``$AIRFLOW_HOME/logs``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_operators.dag_defaults import OPERATOR_ROLE, RELEASE_ROLE

REPO = Path(__file__).resolve().parents[2]
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
DAG_FILES = (REPO / "dags" / "mlops_rollback.py", REPO / "tests" / "ui" / "dags" / "mlops_ui_seed.py")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class AirflowStack:
    home: Path
    api_port: int
    s3_endpoint: str
    bucket: str
    password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    #: A Viewer (reads every DAG, triggers none): may open "ML models", may not roll back.
    viewer: str = "vera"
    viewer_password: str = field(default_factory=lambda: secrets.token_urlsafe(12))
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        bin_dir = str(Path(sys.executable).parent)
        conn = {
            "conn_type": "aws",
            "login": "testing",
            "password": "testing",
            "extra": {"endpoint_url": self.s3_endpoint, "region_name": "us-east-1"},
        }
        env = dict(os.environ)
        env.update(
            {
                "PATH": f"{bin_dir}:{env.get('PATH', '')}",
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.home / "dags"),
                "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "2",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn),
                "MLOPS_BUCKET": self.bucket,
                "GX_ANALYTICS_ENABLED": "False",
                "MPLBACKEND": "Agg",
            }
        )
        return env

    # ------------------------------------------------------------ lifecycle
    def prepare(self) -> None:
        dags = self.home / "dags"
        dags.mkdir(parents=True, exist_ok=True)
        for src in DAG_FILES:
            shutil.copy(src, dags / src.name)
        (self.home / "logs").mkdir(exist_ok=True)
        self._env = self.env()
        self._airflow("db", "migrate")  # Airflow's tables and, through the FAB provider, its users and roles
        self._airflow("roles", "create", RELEASE_ROLE, OPERATOR_ROLE)  # before the DAGs' access_control syncs
        for role, user, password in (
            ("Admin", "admin", self.password),
            ("Viewer", self.viewer, self.viewer_password),
        ):
            self._airflow(
                "users", "create", "--role", role, "--username", user, "--password", password,
                "--firstname", user, "--lastname", "Test", "--email", f"{user}@mlops.invalid",
            )  # fmt: skip

    def _airflow(self, *args: str) -> None:
        done = subprocess.run(
            [sys.executable, "-m", "airflow", *args],
            env=self._env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode:
            raise RuntimeError(
                f"airflow {' '.join(args[:2])} failed ({done.returncode}): {done.stderr[-3000:]}"
            )

    def start(self) -> None:
        for name in COMPONENTS:
            log = open(self.home / "logs" / f"{name}.log", "wb")  # noqa: SIM115 (closed with the process)
            self.procs[name] = subprocess.Popen(
                [sys.executable, "-m", "airflow", name],
                env=self._env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = (self.home / "logs" / f"{name}.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}; log tail:\n{tail}")

    # ------------------------------------------------------------ REST
    def request(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(req, timeout=30) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def wait_until_up(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                health = self.request("GET", "/api/v2/monitor/health")
                if health.get("metadatabase", {}).get("status") == "healthy":
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(1)
        raise TimeoutError(f"the API server on {self.url} did not come up in {timeout:.0f}s")

    def token(self, user: str = "admin") -> str:
        password = self.password if user == "admin" else self.viewer_password
        return self.request("POST", "/auth/token", {"username": user, "password": password})["access_token"]

    def status(self, method: str, path: str, token: str, body: Any = None) -> int:
        """The HTTP status of one request (errors included); the body is not read as JSON."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status
        except urllib.error.HTTPError as err:
            return err.code

    def wait_for_dag(self, dag_id: str, token: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                self.request("GET", f"/api/v2/dags/{dag_id}", token=token)
                return
            except urllib.error.HTTPError as err:
                if err.code != 404:
                    raise
            time.sleep(1)
        raise TimeoutError(f"DAG {dag_id} was not parsed within {timeout:.0f}s; see {self.home}/logs")

    def trigger(self, dag_id: str, conf: dict[str, Any], token: str) -> str:
        run = self.request(
            "POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf}, token=token
        )
        return run["dag_run_id"]

    def wait_for_run(self, dag_id: str, run_id: str, token: str, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        quoted = urllib.request.quote(run_id, safe="")
        while time.monotonic() < deadline:
            self.check_alive()
            state = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}", token=token)["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(2)
        raise TimeoutError(f"{dag_id} run {run_id} did not finish within {timeout:.0f}s")

    def latest_run(self, dag_id: str, token: str) -> dict[str, Any] | None:
        runs = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=-run_after&limit=1", token=token)
        return (runs.get("dag_runs") or [None])[0]

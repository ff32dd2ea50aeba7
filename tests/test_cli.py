"""The ``mlops`` entry point: installed, --help lists commands, --json everywhere, S3 outages in one line."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlops import storage
from mlops.cli import build_parser, main


def test_console_script_is_installed():
    exe = shutil.which("mlops") or str(__import__("pathlib").Path(sys.executable).with_name("mlops"))
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    assert "config" in out and "seed" in out and "init" in out


def test_python_dash_m_works():
    out = subprocess.run(
        [sys.executable, "-m", "mlops", "--help"], capture_output=True, text=True, check=True
    )
    assert "usage: mlops" in out.stdout


def test_every_subcommand_takes_json():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        assert any("--json" in a.option_strings for a in p._actions), f"mlops {name} lacks --json"


def test_config_json(capsys):
    assert main(["config", "credit", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["task"] == "classification"


def test_bad_config_exit_code(capsys, tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text("name: x\n")
    assert main(["config", str(bad)]) == 2
    assert "missing required key" in capsys.readouterr().err


# ------------------------------------------------------------------ S3 outages and unversioned buckets (issue 14)
BATCH = "s3://mlops-test/data/credit/features/dt=2026-01-10/batch.parquet"
S3_COMMANDS = {
    "registry": ["registry", "versions", "credit"],
    "score": ["score", "--dataset", "credit", "--input", BATCH, "--output", "s3://mlops-test/predictions/x/"],
    "validate": ["validate", "--dataset", "credit", "--input", BATCH, "--json"],
}


def _conn(endpoint: str) -> str:
    extra = {"endpoint_url": endpoint, "region_name": "us-east-1"}
    return json.dumps({"conn_type": "aws", "login": "t", "password": "t", "extra": extra})


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("command", sorted(S3_COMMANDS))
def test_an_unreachable_endpoint_is_one_error_line_and_exit_2(command):
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    env = {**os.environ, "AIRFLOW_CONN_AWS_DEFAULT": _conn(endpoint)}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "mlops", *S3_COMMANDS[command]],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert time.monotonic() - started < 30  # fails fast: short timeouts, one retry
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"ERROR: cannot reach S3 endpoint {endpoint}: Connection refused (EndpointConnectionError); check that "
        "the service is running, and the connection's endpoint_url (AIRFLOW_CONN_AWS_DEFAULT) and network"
    ]


def test_an_endpoint_answering_503_is_one_error_line_naming_it(monkeypatch, capsys):
    class Unavailable(BaseHTTPRequestHandler):
        def _reply(self):
            body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
            self.send_response(503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_HEAD = _reply  # noqa: N815 (http.server API)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("AIRFLOW_CONN_AWS_DEFAULT", _conn(endpoint))
    monkeypatch.setattr(storage, "_VERSIONED", set())
    try:
        assert main(S3_COMMANDS["registry"]) == 2
    finally:
        server.shutdown()
        server.server_close()
    out = capsys.readouterr()
    assert out.out == "" and len(out.err.splitlines()) == 1
    assert re.fullmatch(
        rf"ERROR: cannot reach S3 endpoint {endpoint}: HTTP 503 SlowDown on [A-Za-z]+ \(Please reduce your "
        r"request rate\.\); check the storage service's health, logs and capacity, then retry\n",
        out.err,
    ), out.err


@pytest.mark.parametrize("command", ["registry", "validate"])
def test_an_unversioned_bucket_is_refused_with_how_to_enable_versioning(
    command, moto_server, monkeypatch, capsys
):
    client = storage.client_from_env(require_versioned=False)
    client.create_bucket(Bucket="mlops-cli-unversioned")
    monkeypatch.setattr(storage, "_VERSIONED", set())
    argv = [a.replace("mlops-test", "mlops-cli-unversioned") for a in S3_COMMANDS[command]]
    try:
        assert main([*argv, "--bucket", "mlops-cli-unversioned"] if command == "registry" else argv) == 2
    finally:
        client.delete_bucket(Bucket="mlops-cli-unversioned")
    err = capsys.readouterr().err
    assert err.startswith(f"error: Bucket 'mlops-cli-unversioned' at {moto_server} is not versioned")
    assert (
        "put-bucket-versioning --bucket mlops-cli-unversioned --versioning-configuration Status=Enabled"
        in err
    )


def test_init_help_names_every_flag():
    out = subprocess.run(
        [sys.executable, "-m", "mlops", "init", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for flag in ("--sample", "--id", "--target", "--task", "--force", "--json"):
        assert flag in out

"""The local S3 of ``make up`` survives a restart: every version, with its VersionId, bytes and ETag.

Each server runs in its own process (``python -m mlops.dev.local_s3``), so a restart starts from
empty memory and only the state file can bring the objects back.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from mlops import storage
from mlops.dev import local_s3

BUCKET = "state-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python -m mlops.dev.local_s3`` in a subprocess, with a client once it answers."""

    def __init__(self, port: int, state_dir: Path, save_every: float = 30.0) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlops.dev.local_s3",
                "--port",
                str(port),
                "--bucket",
                BUCKET,
                "--state-dir",
                str(state_dir),
                "--save-every",
                str(save_every),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.client = storage.make_client(
            endpoint_url=f"http://127.0.0.1:{port}",
            region_name="us-east-1",
            access_key="local-moto",
            secret_key="local-moto",
        )
        deadline = time.monotonic() + 60
        while True:  # ready once the bucket exists (created after any restore)
            try:
                self.client.head_bucket(Bucket=BUCKET)
                return
            except Exception:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"local_s3 did not start: {self.proc.communicate()[0]}") from None
                time.sleep(0.2)

    def stop(self, sig: int = signal.SIGTERM) -> str:
        self.proc.send_signal(sig)
        out, _ = self.proc.communicate(timeout=60)
        return out


@pytest.fixture
def port() -> int:
    return _free_port()


def _versions(client) -> list[tuple[str, str, str | None, bool]]:
    return [
        (v.key, v.version_id, v.etag, v.is_delete_marker)
        for v in storage.list_versions(client, f"s3://{BUCKET}/")
    ]


def test_restart_restores_every_version_with_its_version_id(tmp_path, port):
    server = Server(port, tmp_path)
    c = server.client
    v1 = c.put_object(Bucket=BUCKET, Key="models/m/manifest.json", Body=b"first")["VersionId"]
    v2 = c.put_object(Bucket=BUCKET, Key="models/m/manifest.json", Body=b"second")["VersionId"]
    big = os.urandom(3 * 2**20)
    c.put_object(Bucket=BUCKET, Key="data/big.bin", Body=big, Metadata={"sha256": "x"})
    gone = c.put_object(Bucket=BUCKET, Key="tmp/gone.txt", Body=b"bye")["VersionId"]
    c.delete_object(Bucket=BUCKET, Key="tmp/gone.txt")
    before = _versions(c)
    out = server.stop()
    assert server.proc.returncode == 0, out
    assert "saved S3 state" in out and (tmp_path / local_s3.STATE_FILE).exists()

    again = Server(port, tmp_path)
    c = again.client
    try:
        assert _versions(c) == before
        assert (
            c.get_object(Bucket=BUCKET, Key="models/m/manifest.json", VersionId=v1)["Body"].read() == b"first"
        )
        assert (
            c.get_object(Bucket=BUCKET, Key="models/m/manifest.json", VersionId=v2)["Body"].read()
            == b"second"
        )
        assert c.get_object(Bucket=BUCKET, Key="models/m/manifest.json")["VersionId"] == v2
        head = c.head_object(Bucket=BUCKET, Key="data/big.bin")
        assert head["Metadata"] == {"sha256": "x"} and head["ContentLength"] == len(big)
        assert c.get_object(Bucket=BUCKET, Key="data/big.bin")["Body"].read() == big
        listed = c.list_objects_v2(Bucket=BUCKET)
        assert [o["Key"] for o in listed["Contents"]] == ["data/big.bin", "models/m/manifest.json"]
        with pytest.raises(ClientError, match="NoSuchKey"):  # the delete marker came back too
            c.get_object(Bucket=BUCKET, Key="tmp/gone.txt")
        assert c.get_object(Bucket=BUCKET, Key="tmp/gone.txt", VersionId=gone)["Body"].read() == b"bye"
        # versioning still on after the restore: a new put gets a new version
        v3 = c.put_object(Bucket=BUCKET, Key="models/m/manifest.json", Body=b"third")["VersionId"]
        assert v3 not in (v1, v2)
        assert "restored 5 object versions" in again.stop()
    finally:
        if again.proc.poll() is None:
            again.stop()


def test_periodic_save_survives_a_hard_kill(tmp_path, port):
    server = Server(port, tmp_path, save_every=0.3)
    version = server.client.put_object(Bucket=BUCKET, Key="k", Body=b"kept")["VersionId"]
    state = tmp_path / local_s3.STATE_FILE
    deadline = time.monotonic() + 20
    while not state.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    server.stop(signal.SIGKILL)  # no final save: only the periodic one can have kept it
    again = Server(port, tmp_path)
    try:
        assert again.client.get_object(Bucket=BUCKET, Key="k", VersionId=version)["Body"].read() == b"kept"
    finally:
        again.stop()
    assert not list(tmp_path.glob("*.tmp")), "a temp file was left behind"


def test_unreadable_state_is_moved_aside_and_the_server_starts_empty(tmp_path, port):
    (tmp_path / local_s3.STATE_FILE).write_bytes(b"not a pickle")
    server = Server(port, tmp_path)
    try:
        assert server.client.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    finally:
        out = server.stop()
    assert "cannot restore S3 state" in out and "moved it to" in out
    assert len(list(tmp_path.glob(f"{local_s3.STATE_FILE}.unreadable-*"))) == 1


def test_without_a_state_dir_nothing_is_written(tmp_path, port, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with local_s3.serve(port, BUCKET) as endpoint:
        client = storage.make_client(
            endpoint_url=endpoint, region_name="us-east-1", access_key="a", secret_key="b"
        )
        client.put_object(Bucket=BUCKET, Key="k", Body=b"v")
    assert list(tmp_path.iterdir()) == []


def test_write_state_replaces_the_file_atomically(tmp_path):
    target = tmp_path / "deep" / local_s3.STATE_FILE
    local_s3.write_state(target, b"one")
    local_s3.write_state(target, b"two")
    assert target.read_bytes() == b"two"
    assert [p.name for p in target.parent.iterdir()] == [local_s3.STATE_FILE]

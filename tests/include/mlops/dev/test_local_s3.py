"""The local S3 of ``make up`` survives a restart: every version, with its VersionId, bytes and ETag.

Each server runs in its own process (``python -m mlops.dev.local_s3``), so a restart starts from
empty memory and only the state file can bring the objects back. The state file is plain data
(a zip of a JSON manifest and content-addressed bodies): nothing in it is ever unpickled.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import os
import pickle
import pickletools
import signal
import socket
import subprocess
import sys
import time
import zipfile
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
    (tmp_path / local_s3.STATE_FILE).write_bytes(b"not a zip")
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


# ---------------------------------------------------------------- every setting survives, as plain data
OTHER = "settings-test"  # not the served bucket: the server's ensure_bucket would reset its encryption


def _fill(c) -> dict[str, str]:
    """Versions, delete markers (also one of a marker), SSE, metadata, tags, a multipart object, settings."""
    c.create_bucket(Bucket=OTHER)
    c.put_bucket_versioning(Bucket=OTHER, VersioningConfiguration={"Status": "Enabled"})
    kms = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "bucket-key"}
    c.put_bucket_encryption(
        Bucket=OTHER,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": kms}]},
    )
    c.put_bucket_tagging(Bucket=OTHER, Tagging={"TagSet": [{"Key": "team", "Value": "ml"}]})
    c.put_bucket_lifecycle_configuration(
        Bucket=OTHER,
        LifecycleConfiguration={
            "Rules": [
                {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 3}}
            ]
        },
    )
    c.put_bucket_cors(
        Bucket=OTHER, CORSConfiguration={"CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}
    )
    c.put_public_access_block(
        Bucket=OTHER,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*"}]}
    c.put_bucket_policy(Bucket=OTHER, Policy=json.dumps(policy))
    ids = {}
    ids["a1"] = c.put_object(
        Bucket=OTHER,
        Key="a/obj.json",
        Body=b'{"v": 1}',
        ContentType="application/json",
        Metadata={"sha256": "abc", "run-id": "r1"},
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId="object-key",
        Tagging="stage=raw&owner=me",
    )["VersionId"]
    ids["a2"] = c.put_object(Bucket=OTHER, Key="a/obj.json", Body=b'{"v": 2}', ServerSideEncryption="AES256")[
        "VersionId"
    ]
    c.put_object_tagging(
        Bucket=OTHER, Key="a/obj.json", VersionId=ids["a2"], Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}
    )
    c.put_object_acl(Bucket=OTHER, Key="a/obj.json", VersionId=ids["a1"], ACL="public-read")
    ids["dup"] = c.put_object(Bucket=OTHER, Key="b/same.bin", Body=b'{"v": 2}')["VersionId"]  # same bytes
    ids["gone"] = c.put_object(Bucket=OTHER, Key="tmp/gone", Body=b"bye")["VersionId"]
    c.delete_object(Bucket=OTHER, Key="tmp/gone")
    c.delete_object(Bucket=OTHER, Key="tmp/gone")  # a delete marker of a delete marker
    c.put_object(Bucket=OTHER, Key="tmp/twice", Body=b"x")
    first = c.delete_object(Bucket=OTHER, Key="tmp/twice")["VersionId"]
    c.delete_object(Bucket=OTHER, Key="tmp/twice")
    c.delete_object(Bucket=OTHER, Key="tmp/twice", VersionId=first)  # the marker it marked is gone
    up = c.create_multipart_upload(Bucket=OTHER, Key="big/multi.bin")["UploadId"]
    parts = []
    for n, body in ((1, b"a" * 5 * 2**20), (2, b"tail")):
        etag = c.upload_part(Bucket=OTHER, Key="big/multi.bin", UploadId=up, PartNumber=n, Body=body)["ETag"]
        parts.append({"ETag": etag, "PartNumber": n})
    c.complete_multipart_upload(
        Bucket=OTHER, Key="big/multi.bin", UploadId=up, MultipartUpload={"Parts": parts}
    )
    return ids


def _observe(c) -> dict:
    """Everything a client can see of both buckets, per setting and per object version."""
    seen: dict = {}
    for bucket in (BUCKET, OTHER):
        for call in (
            "get_bucket_versioning",
            "get_bucket_encryption",
            "get_bucket_tagging",
            "get_bucket_lifecycle_configuration",
            "get_bucket_cors",
            "get_public_access_block",
            "get_bucket_policy",
            "get_bucket_acl",
            "list_object_versions",
            "list_objects_v2",
        ):
            try:
                seen[bucket, call] = getattr(c, call)(Bucket=bucket)
            except ClientError as err:
                seen[bucket, call] = err.response["Error"]["Code"]
        for v in c.list_object_versions(Bucket=bucket).get("Versions", []):
            where = {"Bucket": bucket, "Key": v["Key"], "VersionId": v["VersionId"]}
            got = c.get_object(**where)
            seen[bucket, v["VersionId"], "body"] = got.pop("Body").read()
            seen[bucket, v["VersionId"], "get"] = got
            seen[bucket, v["VersionId"], "tags"] = c.get_object_tagging(**where)["TagSet"]
            if v["Key"] != "big/multi.bin":  # moto cannot answer GetObjectAcl for multipart objects
                seen[bucket, v["VersionId"], "acl"] = c.get_object_acl(**where)["Grants"]
    seen["part"] = c.head_object(Bucket=OTHER, Key="big/multi.bin", PartNumber=1)
    for answer in seen.values():
        if isinstance(answer, dict):
            answer.pop("ResponseMetadata", None)
    return seen


def test_restart_restores_sse_metadata_tags_delete_markers_and_bucket_settings(tmp_path, port):
    server = Server(port, tmp_path)
    ids = _fill(server.client)
    before = _observe(server.client)
    assert before[OTHER, ids["a1"], "get"]["Metadata"] == {"sha256": "abc", "run-id": "r1"}
    assert before[OTHER, ids["a1"], "get"]["SSEKMSKeyId"] == "object-key"
    assert before["part"]["PartsCount"] == 2
    assert server.stop() and server.proc.returncode == 0

    again = Server(port, tmp_path)
    try:
        after = _observe(again.client)
        assert set(after) == set(before)
        for what, seen in before.items():  # one by one, so a failure names the setting or version
            assert after[what] == seen, what
        # moto answers "x-amz-delete-marker" only when deleting a marker that points at a marker
        for key in ("tmp/gone", "tmp/twice"):
            markers = again.client.list_object_versions(Bucket=OTHER, Prefix=key)["DeleteMarkers"]
            assert markers[0]["IsLatest"] and len(markers) == {"tmp/gone": 2, "tmp/twice": 1}[key]
            deleted = again.client.delete_object(Bucket=OTHER, Key=key, VersionId=markers[0]["VersionId"])
            assert deleted.get("DeleteMarker") is True, key
        # still versioned and still encrypted by default after the restore
        new = again.client.put_object(Bucket=OTHER, Key="a/obj.json", Body=b"3")
        assert new["VersionId"] not in ids.values() and new["SSEKMSKeyId"] == "bucket-key"
    finally:
        again.stop()


def test_state_file_is_a_zip_of_json_and_content_addressed_bodies(tmp_path, port):
    server = Server(port, tmp_path)
    ids = _fill(server.client)
    server.stop()
    with zipfile.ZipFile(tmp_path / local_s3.STATE_FILE) as zf:
        names = zf.namelist()
        manifest = json.loads(zf.read(local_s3.MANIFEST))
        blobs = {n: zf.read(n) for n in names if n != local_s3.MANIFEST}
    assert manifest["format"] == local_s3.STATE_FORMAT
    assert all(n == "objects/" + hashlib.sha256(b).hexdigest() for n, b in blobs.items())
    (other,) = [b for e in manifest["backends"] for b in e["buckets"] if b["name"] == OTHER]
    assert other["settings"]["versioning_status"] == "Enabled"
    versions = {k["key"]: k["versions"] for k in other["keys"]}
    assert [v["version_id"] for v in versions["a/obj.json"]] == [ids["a1"], ids["a2"]]  # oldest first
    first = versions["a/obj.json"][0]
    assert first["attrs"]["encryption"] == "aws:kms" and first["attrs"]["kms_key_id"] == "object-key"
    assert first["attrs"]["_metadata"]["$lowercase"]["x-amz-meta-run-id"] == "r1"
    assert [v["delete_marker"] for v in versions["tmp/gone"]] == [False, True, True]
    same = versions["b/same.bin"][0]["body"]
    assert same == versions["a/obj.json"][1]["body"]  # identical bytes are stored once
    assert len(blobs) == 5  # {"v": 1}, {"v": 2}, bye, x, the multipart object
    tags = next(e["tags"] for e in manifest["backends"] if any(b["name"] == OTHER for b in e["buckets"]))
    assert tags[f"arn:aws:s3:::{OTHER}/a/obj.json/{ids['a1']}"] == {"stage": "raw", "owner": "me"}


# ---------------------------------------------------------------- no pickle, no code from the state file
_UNPICKLERS = {
    "pickle",
    "cPickle",
    "_pickle",
    "marshal",
    "shelve",
    "dill",
    "cloudpickle",
    "joblib",
    "jsonpickle",
}


def test_the_module_never_imports_an_unpickler():
    tree = ast.parse(inspect.getsource(local_s3))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & _UNPICKLERS
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert not names & _UNPICKLERS
    assert "pickle.load" not in inspect.getsource(local_s3)


class _Payload:
    """Pickled, this creates ``path`` when unpickled: proof that a loader ran the state file's code."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (self.path,))


def test_a_pickled_state_is_never_unpickled(tmp_path, port):
    sentinel = tmp_path / "code-ran"
    payload = pickle.dumps(_Payload(sentinel))
    assert any(op.name == "REDUCE" for op, _, _ in pickletools.genops(payload))  # it would call Path.touch
    (tmp_path / local_s3.LEGACY_STATE_FILE).write_bytes(payload)  # the old state file name
    (tmp_path / local_s3.STATE_FILE).write_bytes(payload)  # and a pickle where the zip belongs
    server = Server(port, tmp_path)
    try:
        assert server.client.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    finally:
        out = server.stop()
    assert not sentinel.exists()
    ignored = [line for line in out.splitlines() if local_s3.LEGACY_STATE_FILE in line]
    assert len(ignored) == 1 and "ignoring" in ignored[0] and "make clean" in ignored[0], out
    assert (tmp_path / local_s3.LEGACY_STATE_FILE).read_bytes() == payload  # left for `make clean`
    assert "cannot restore S3 state" in out


def test_a_state_file_can_name_only_allowed_moto_records():
    for evil in (
        {"$model": ["FakeKey", {}]},
        {"$model": ["system", {}]},
        {"$enum": ["Popen", "x"]},
        {"$eval": "1"},
    ):
        with pytest.raises(ValueError, match="not allowed"):
            local_s3.from_plain({"settings": [evil]})
    acl = local_s3.from_plain({"$model": ["FakeGrantee", {"id": "i", "uri": "", "display_name": "d"}]})
    assert type(acl).__name__ == "FakeGrantee" and acl.id == "i"
    with pytest.raises(TypeError, match="cannot save"):
        local_s3.to_plain({"x": object()})


def test_a_tampered_body_is_refused_and_moved_aside(tmp_path, port):
    server = Server(port, tmp_path)
    server.client.put_object(Bucket=BUCKET, Key="k", Body=b"original")
    server.stop()
    state = tmp_path / local_s3.STATE_FILE
    with zipfile.ZipFile(state) as zf:
        entries = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(state, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data if name == local_s3.MANIFEST else b"tampered")
    with pytest.raises(ValueError, match="does not match its checksum"):
        local_s3.read_state(state)
    assert local_s3.load_state_file(state) == 0
    assert not state.exists() and len(list(tmp_path.glob(f"{local_s3.STATE_FILE}.unreadable-*"))) == 1

"""A local S3 endpoint for the embedded defaults: moto's server on a loopback port.

``python -m mlops.dev.local_s3 --port 5055 --bucket mlops-demo`` serves until
interrupted, in memory. With ``--state-dir DIR`` it survives a restart: the
buckets (versioning, encryption, policy, lifecycle, CORS, ACLs, tags and the other
bucket settings), every object version (bytes, VersionId, ETag, last-modified,
content type and user metadata, SSE settings, checksum, ACL, tags) and delete
markers are written to ``DIR/moto-s3.zip`` every ``--save-every`` seconds when
something changed, and on SIGTERM/SIGINT; the next start restores them. Registry
manifests pin VersionIds, so those are kept as they were, not re-created.

The state file is plain data, never a pickle: a zip holding ``manifest.json``
(every bucket's settings, and for every key its versions in order, each with the
attributes moto keeps for it) and ``objects/<sha256>`` (each distinct object body
once; checked against its name on load). Values JSON has no type for (bytes,
datetimes, moto's ACL/lifecycle/CORS/... records) are tagged, e.g.
``{"$datetime": "..."}``; a ``$model`` is rebuilt only for the moto classes in
:data:`_MODEL_CLASSES` and only by setting attributes, so loading a state file
runs no code from it. The file is written to a temp file and renamed, so a crash
never leaves half a snapshot. An old ``moto-s3.pickle`` is never loaded.

How: moto keeps S3 in module-level objects (``moto.s3.models.s3_backends``). A
bucket's key store returns only the newest version from ``items()``, so the
snapshot walks each key's full version list. Restoring builds moto's own objects
(``FakeBucket``, ``FakeKey``, ``FakeDeleteMarker``) and then sets the saved
attributes on them. Requests share a gate; a snapshot holds it alone for the
moment it takes to copy the state, so it never sees a half-applied request.
In-progress multipart uploads are not saved (a restart aborts them).

:func:`serve` is the in-process form used by the demo and the tests.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import logging
import os
import signal
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from mlops import storage

log = logging.getLogger(__name__)

DEFAULT_PORT = int(os.environ.get("MLOPS_S3_PORT", "5055"))
STATE_FILE = "moto-s3.zip"
#: The pickled state of earlier versions: never loaded, only reported (``make clean`` removes it).
LEGACY_STATE_FILE = "moto-s3.pickle"
#: Bumped when the layout of the snapshot changes.
STATE_FORMAT = 2
MANIFEST = "manifest.json"
_BLOB_DIR = "objects/"
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: The moto record classes a bucket or key setting may hold; the only classes a state file can name.
_MODEL_CLASSES = frozenset(
    {
        "FakeAcl",
        "FakeGrant",
        "FakeGrantee",
        "LifecycleRule",
        "LifecycleFilter",
        "LifecycleAndFilter",
        "LifecycleTransition",
        "LifeCycleNoncurrentVersionTransition",
        "CorsRule",
        "Notification",
        "NotificationConfiguration",
        "PublicAccessBlock",
        "FakeBucketInventoryConfiguration",
    }
)
_ENUM_CLASSES = frozenset({"TransitionDefaultMinimumObjectSize"})
#: Attributes rebuilt on restore rather than saved: the key store, open uploads, buffers, locks.
_BUCKET_SKIP = frozenset({"keys", "multiparts"})
_KEY_SKIP = frozenset({"_value_buffer", "lock", "multipart", "disposed", "value"})


def connection_json(port: int, region: str = "us-east-1") -> str:
    """The ``AIRFLOW_CONN_AWS_DEFAULT`` value that points at the local endpoint (fake keys)."""
    return json.dumps(
        {
            "conn_type": "aws",
            "login": "local-moto",
            "password": "local-moto",
            "extra": {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": region},
        }
    )


# ---------------------------------------------------------------- plain data <-> moto values
def to_plain(value: Any) -> Any:
    """``value`` as JSON-ready data; raises TypeError for anything that is not plain or an allowed record."""
    from moto.utilities.utils import LowercaseDict

    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if type(value) is dict:
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: to_plain(v) for k, v in value.items()}
        return {"$dict": [[to_plain(k), to_plain(v)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"$tuple": [to_plain(v) for v in value]}
    if isinstance(value, bytes):
        return {"$bytes": base64.b64encode(value).decode("ascii")}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, LowercaseDict):
        return {"$lowercase": to_plain(dict(value.store))}
    name = type(value).__name__
    if name in _ENUM_CLASSES and type(value).__module__ == "moto.s3.models":
        return {"$enum": [name, value.value]}
    if name in _MODEL_CLASSES and type(value).__module__ == "moto.s3.models":
        return {"$model": [name, to_plain(dict(vars(value)))]}
    raise TypeError(f"cannot save a {type(value).__module__}.{name} in the S3 state")


def from_plain(value: Any) -> Any:
    """The inverse of :func:`to_plain`; a ``$model`` names one of :data:`_MODEL_CLASSES` or is refused."""
    import moto.s3.models as s3_models
    from moto.utilities.utils import LowercaseDict

    if isinstance(value, list):
        return [from_plain(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = next(iter(value), "")
    if not tag.startswith("$"):
        return {k: from_plain(v) for k, v in value.items()}
    if len(value) != 1:
        raise ValueError(f"malformed tagged value {sorted(value)}")
    body = value[tag]
    if tag == "$dict":
        return {from_plain(k): from_plain(v) for k, v in body}
    if tag == "$tuple":
        return tuple(from_plain(v) for v in body)
    if tag == "$bytes":
        return base64.b64decode(body, validate=True)
    if tag == "$datetime":
        return datetime.fromisoformat(body)
    if tag == "$lowercase":
        return LowercaseDict(from_plain(body))
    well_formed = isinstance(body, list) and len(body) == 2 and isinstance(body[0], str)
    name, payload = body if well_formed else ("", None)
    if tag == "$enum" and name in _ENUM_CLASSES:
        return getattr(s3_models, name)(payload)
    if tag == "$model" and name in _MODEL_CLASSES:
        cls = getattr(s3_models, name)
        record = cls.__new__(cls)  # no __init__, no __setstate__: only attributes are set
        record.__dict__.update(from_plain(payload))
        return record
    raise ValueError(f"the S3 state names {tag} {name!r}, which is not allowed")


# ---------------------------------------------------------------- snapshot of moto's S3 backends
def snapshot() -> dict[str, Any]:
    """Every S3 bucket moto holds in this process, with the full version list of each key.

    Plain data except each object version's ``body`` (its bytes); :func:`save_state` writes it.
    """
    import moto
    from moto.s3.models import s3_backends

    backends = []
    for account_id in list(s3_backends):
        for partition in list(s3_backends[account_id]):
            backend = s3_backends[account_id][partition]
            buckets = [_bucket_state(b) for b in backend.buckets.values()]
            if buckets:
                backends.append(
                    {
                        "account_id": account_id,
                        "partition": partition,
                        "buckets": buckets,
                        "tags": to_plain(backend.tagger.tags),  # bucket and object tags, by ARN
                    }
                )
    return {
        "format": STATE_FORMAT,
        "moto_version": moto.__version__,
        "saved_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "backends": backends,
    }


def _bucket_state(bucket) -> dict[str, Any]:
    settings = {k: v for k, v in vars(bucket).items() if k not in _BUCKET_SKIP}
    # dict.items, not the store's own items(): that one yields only the newest version of each key.
    keys = [
        {"key": name, "versions": [_version_state(v) for v in versions]}
        for name, versions in dict.items(bucket.keys)
    ]
    return {"name": bucket.name, "settings": to_plain(settings), "keys": keys}


def _version_state(version) -> dict[str, Any]:
    from moto.s3.models import FakeDeleteMarker

    if isinstance(version, FakeDeleteMarker):
        return {
            "delete_marker": True,
            "version_id": version.version_id,
            "last_modified": to_plain(version.last_modified),
            # moto tells a marker of a marker from a marker of an object by what it points at
            "marks": version.key.version_id,
            "marks_delete_marker": isinstance(version.key, FakeDeleteMarker),
        }
    attrs = {k: v for k, v in vars(version).items() if k not in _KEY_SKIP}
    return {
        "delete_marker": False,
        "version_id": version.version_id,
        "attrs": to_plain(attrs),
        "body": version.value,
        "parts": _parts_state(version),
    }


def _parts_state(key) -> dict[str, Any] | None:
    """A multipart object's upload id and parts, ``[number, size, etag, last_modified]`` each.

    Their bytes are not saved again: they are slices of the object's.
    """
    mp = key.multipart
    if mp is None:
        return None
    parts = [
        [n, mp.parts[n].contentsize, mp.parts[n].etag.strip('"'), to_plain(mp.parts[n].last_modified)]
        for n in mp.partlist
    ]
    if sum(part[1] for part in parts) != key.contentsize:
        return None  # parts uploaded but left out of the object: no slicing reproduces them
    return {"upload_id": mp.id, "parts": parts}


def restore(state: dict[str, Any]) -> int:
    """Load a :func:`snapshot` into this process's moto backends; returns the number of object versions.

    Every bucket is rebuilt before any is installed, so a state that fails to load changes nothing.
    """
    from moto.s3.models import s3_backends
    from moto.utilities.tagging_service import TaggingService

    if state.get("format") != STATE_FORMAT:
        raise ValueError(f"S3 state format {state.get('format')!r} is not {STATE_FORMAT}")
    n_versions = 0
    staged = []
    for entry in state["backends"]:
        buckets = []
        for bucket_state in entry["buckets"]:
            bucket, n = _restore_bucket(bucket_state)
            buckets.append(bucket)
            n_versions += n
        tagger = TaggingService()
        tagger.tags = from_plain(entry["tags"])
        staged.append((s3_backends[entry["account_id"]][entry["partition"]], tagger, buckets))
    for backend, tagger, buckets in staged:
        backend.tagger = tagger
        for bucket in buckets:
            backend.buckets[bucket.name] = bucket
            s3_backends.bucket_accounts[bucket.name] = (bucket.partition, bucket.account_id)
    return n_versions


def _restore_bucket(state: dict[str, Any]) -> tuple[Any, int]:
    from moto.s3.models import FakeBucket, s3_backends

    settings = from_plain(state["settings"])
    # the constructor sets defaults for anything this snapshot lacks; it also registers the name
    bucket = FakeBucket(state["name"], settings["account_id"], settings["region_name"])
    s3_backends.bucket_accounts.pop(state["name"], None)  # registered when installed
    bucket.__dict__.update(settings)
    n_versions = 0
    for entry in state["keys"]:
        versions: list[Any] = []
        for record in entry["versions"]:
            versions.append(_restore_version(entry["key"], record, versions, bucket))
        bucket.keys.setlist(entry["key"], versions)
        n_versions += len(versions)
    return bucket, n_versions


def _restore_version(name: str, record: dict[str, Any], earlier: list[Any], bucket) -> Any:
    from moto.s3.models import FakeDeleteMarker, FakeKey

    if record["delete_marker"]:
        marks = next((v for v in earlier if v.version_id == record["marks"]), None)
        if marks is None or isinstance(marks, FakeDeleteMarker) != record["marks_delete_marker"]:
            # what it marked was deleted since; a stand-in of the same kind keeps moto's answers
            stand_in = FakeKey(name, b"", bucket.account_id, bucket.region_name, version_id=record["marks"])
            marks = FakeDeleteMarker(stand_in) if record["marks_delete_marker"] else stand_in
        marker = FakeDeleteMarker(marks)
        marker.last_modified = from_plain(record["last_modified"])
        marker._version_id = record["version_id"]
        return marker
    attrs = from_plain(record["attrs"])
    key = FakeKey(name, record["body"], bucket.account_id, bucket.region_name)
    key.__dict__.update(attrs)
    key.multipart = _restore_parts(key, record.get("parts"), record["body"])
    return key


def _restore_parts(key, parts: dict[str, Any] | None, body: bytes) -> Any:
    from moto.s3.models import FakeMultipart

    if not parts:
        return None
    mp = FakeMultipart(key.name, {}, key.account_id, key.region_name)
    mp.id = parts["upload_id"]
    offset = 0
    for number, size, etag, last_modified in parts["parts"]:
        part = mp.set_part(int(number), body[offset : offset + size])
        part._etag = etag
        part.last_modified = from_plain(last_modified)
        offset += size
    return mp


# ---------------------------------------------------------------- the state file
def save_state(path: Path, state: dict[str, Any]) -> int:
    """Write a :func:`snapshot` to ``path`` atomically as a zip (manifest + bodies); returns its size."""
    blobs: dict[str, bytes] = {}

    def body_ref(record: dict[str, Any]) -> dict[str, Any]:
        if record["delete_marker"]:
            return record
        body = record["body"]
        digest = hashlib.sha256(body).hexdigest()
        blobs.setdefault(digest, body)
        return {**record, "body": {"sha256": digest, "size": len(body)}}

    manifest = {
        **state,
        "backends": [
            {
                **entry,
                "buckets": [
                    {
                        **bucket,
                        "keys": [
                            {"key": k["key"], "versions": [body_ref(v) for v in k["versions"]]}
                            for k in bucket["keys"]
                        ],
                    }
                    for bucket in entry["buckets"]
                ],
            }
            for entry in state["backends"]
        ],
    }

    def write(fh: IO[bytes]) -> None:
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            zf.writestr(MANIFEST, json.dumps(manifest, indent=1), compress_type=zipfile.ZIP_DEFLATED)
            for digest, body in blobs.items():
                zf.writestr(_BLOB_DIR + digest, body)

    write_state(path, write)
    return path.stat().st_size


def read_state(path: Path) -> dict[str, Any]:
    """The :func:`snapshot` saved at ``path``; ValueError if it is not a state file this module wrote."""
    if not zipfile.is_zipfile(path):
        raise ValueError("not a zip file")
    with zipfile.ZipFile(path) as zf:
        state = json.loads(zf.read(MANIFEST))
        found = state.get("format") if isinstance(state, dict) else None
        if found != STATE_FORMAT:
            raise ValueError(f"S3 state format {found!r} is not {STATE_FORMAT}")
        for entry in state["backends"]:
            for bucket in entry["buckets"]:
                for key in bucket["keys"]:
                    for record in key["versions"]:
                        if not record["delete_marker"]:
                            record["body"] = _read_blob(zf, record["body"])
    return state


def _read_blob(zf: zipfile.ZipFile, ref: dict[str, Any]) -> bytes:
    digest = str(ref["sha256"])
    body = zf.read(_BLOB_DIR + digest)
    if hashlib.sha256(body).hexdigest() != digest or len(body) != ref["size"]:
        raise ValueError(f"object body {digest} does not match its checksum")
    return body


def write_state(path: Path, data: bytes | Callable[[IO[bytes]], None]) -> None:
    """Write ``data`` (bytes, or a function writing to a file) to ``path`` atomically.

    A temp file in the same directory, fsync, rename: a crash leaves the old file or the new one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def load_state_file(path: Path) -> int | None:
    """Restore ``path`` if it exists; returns the number of object versions, or None if there was none.

    An unreadable file (another format, truncated, tampered) is moved aside and the server starts empty.
    An old pickled state next to it is never loaded: one line says so.
    """
    legacy = path.with_name(LEGACY_STATE_FILE)
    if legacy.exists():
        log.warning(
            "ignoring %s: pickled S3 state is never loaded; delete it (`make clean` removes it)", legacy
        )
    if not path.exists():
        return None
    try:
        return restore(read_state(path))
    except Exception as err:  # noqa: BLE001 - any unreadable state means: start empty, keep the file
        aside = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        path.replace(aside)
        log.error(
            "cannot restore S3 state %s (%s: %s); moved it to %s and starting empty; "
            "delete the state dir if you do not need it",
            path,
            type(err).__name__,
            err,
            aside,
        )
        return 0


# ---------------------------------------------------------------- the server
class _Gate:
    """Requests share the gate; a snapshot takes it alone (waits for in-flight requests, holds new ones)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self._exclusive = False
        self.writes = 0

    @contextlib.contextmanager
    def shared(self, write: bool) -> Iterator[None]:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self.writes += write
                self._cond.notify_all()

    @contextlib.contextmanager
    def alone(self) -> Iterator[None]:
        with self._cond:
            while self._exclusive:
                self._cond.wait()
            self._exclusive = True
            while self._active:
                self._cond.wait()
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


class _GatedApp:
    """WSGI middleware: every request runs inside the gate; the body is built before the gate opens."""

    def __init__(self, app, gate: _Gate) -> None:
        self.app = app
        self.gate = gate

    def __call__(self, environ, start_response):
        with self.gate.shared(environ.get("REQUEST_METHOD", "GET") not in _READ_METHODS):
            result = self.app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                if hasattr(result, "close"):
                    result.close()


class LocalS3:
    """moto's S3 server on ``127.0.0.1:port``, optionally persisted to ``state_dir``.

    Parameters
    ----------
    port : the loopback port to serve on.
    state_dir : directory of the state file; None keeps everything in memory only.
    save_every : seconds between checks for changes to save (with ``state_dir``).
    """

    def __init__(self, port: int, state_dir: str | Path | None = None, save_every: float = 30.0) -> None:
        self.port = port
        self.state_dir = Path(state_dir) if state_dir else None
        self.save_every = save_every
        self.gate = _Gate()
        self._saved_writes = 0
        self._save_lock = threading.Lock()
        self._stop = threading.Event()
        self._server = None
        self._threads: list[threading.Thread] = []

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def state_file(self) -> Path | None:
        return self.state_dir / STATE_FILE if self.state_dir else None

    def start(self) -> LocalS3:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request
        if self.state_file is not None:
            started = time.monotonic()
            n = load_state_file(self.state_file)
            if n is not None:
                log.info(
                    "restored %d object versions from %s in %.1f s",
                    n,
                    self.state_file,
                    time.monotonic() - started,
                )
        app = _GatedApp(DomainDispatcherApplication(create_backend_app), self.gate)
        self._server = make_server(
            "127.0.0.1", self.port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._spawn(self._server.serve_forever, "local-s3-http")
        if self.state_file is not None and self.save_every > 0:
            self._spawn(self._autosave, "local-s3-autosave")
        return self

    def _spawn(self, target, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _autosave(self) -> None:
        while not self._stop.wait(self.save_every):
            try:
                self.save()
            except Exception:  # keep serving; the next round retries
                log.exception(
                    "saving the S3 state to %s failed; retrying in %s s", self.state_file, self.save_every
                )

    def save(self, *, force: bool = False) -> bool:
        """Write the state file if anything changed since the last save; True if written."""
        if self.state_file is None:
            return False
        with self._save_lock:
            with self.gate.alone():
                writes = self.gate.writes
                if writes == self._saved_writes and not force:
                    return False
                state = snapshot()
            size = save_state(self.state_file, state)
            self._saved_writes = writes
        log.info("saved S3 state to %s (%.1f MiB)", self.state_file, size / 2**20)
        return True

    def stop(self) -> None:
        """Stop serving, then save once more (so nothing accepted is lost)."""
        self._stop.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=30)
        self.save()


@contextlib.contextmanager
def serve(
    port: int = DEFAULT_PORT,
    bucket: str | None = storage.DEFAULT_BUCKET,
    *,
    state_dir: str | Path | None = None,
    save_every: float = 30.0,
) -> Iterator[str]:
    """Run the local S3 on ``127.0.0.1:port`` and make sure ``bucket`` exists with versioning."""
    server = LocalS3(port, state_dir, save_every).start()
    try:
        if bucket:
            client = storage.make_client(
                endpoint_url=server.endpoint,
                region_name="us-east-1",
                access_key="local-moto",
                secret_key="local-moto",
            )
            storage.ensure_bucket(client, bucket)
        yield server.endpoint
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--bucket", default=storage.DEFAULT_BUCKET)
    parser.add_argument(
        "--state-dir", type=Path, default=None, help="persist the S3 state here (default: memory only)"
    )
    parser.add_argument("--save-every", type=float, default=30.0, help="seconds between saves of changes")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[local-s3] %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    with serve(args.port, args.bucket, state_dir=args.state_dir, save_every=args.save_every) as endpoint:
        where = f"persisted in {args.state_dir}" if args.state_dir else "in memory only"
        print(
            f"[local-s3] moto S3 at {endpoint}, bucket s3://{args.bucket} (versioned), {where}",
            flush=True,
        )
        stop.wait()
    print("[local-s3] stopped", flush=True)


if __name__ == "__main__":
    main()

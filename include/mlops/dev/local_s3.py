"""A local S3 endpoint for the embedded defaults: moto's server on a loopback port.

``python -m mlops.dev.local_s3 --port 5055 --bucket mlops-demo`` serves until
interrupted, in memory. With ``--state-dir DIR`` it survives a restart: the
buckets, every object version (bytes, VersionId, ETag, metadata, last-modified),
delete markers and object tags are written to ``DIR/moto-s3.pickle`` every
``--save-every`` seconds when something changed, and on SIGTERM/SIGINT; the
next start restores them. Registry manifests pin VersionIds, so those are kept
as they were, not re-created.

How: moto keeps S3 in module-level objects (``moto.s3.models.s3_backends``).
Each ``FakeKey`` pickles its bytes (moto implements ``__getstate__``), but a
bucket's key store returns only the newest version from ``items()``, so a plain
pickle of a bucket would silently drop old versions. The snapshot therefore
stores every key's full version list. Requests share a gate; a snapshot holds
it alone for the moment it takes to pickle, so it never sees a half-applied
request. In-progress multipart uploads are not saved (a restart aborts them).
The state file is a pickle: only restore files this module wrote.

:func:`serve` is the in-process form used by the demo and the tests.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import pickle
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops import storage

log = logging.getLogger(__name__)

DEFAULT_PORT = int(os.environ.get("MLOPS_S3_PORT", "5055"))
STATE_FILE = "moto-s3.pickle"
#: Bumped when the layout of the pickled snapshot changes.
STATE_FORMAT = 1
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


# ---------------------------------------------------------------- snapshot of moto's S3 backends
def snapshot() -> dict[str, Any]:
    """Every S3 bucket moto holds in this process, with the full version list of each key."""
    import moto
    from moto.s3.models import s3_backends

    backends = []
    for account_id in list(s3_backends):
        for partition in list(s3_backends[account_id]):
            backend = s3_backends[account_id][partition]
            buckets = {name: _bucket_state(b) for name, b in backend.buckets.items()}
            if buckets:
                backends.append(
                    {
                        "account_id": account_id,
                        "partition": partition,
                        "buckets": buckets,
                        "tagger": backend.tagger,
                    }
                )
    return {
        "format": STATE_FORMAT,
        "moto_version": moto.__version__,
        "saved_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "backends": backends,
    }


def _bucket_state(bucket) -> dict[str, Any]:
    state = dict(bucket.__dict__)
    # dict.items, not the store's own items(): that one yields only the newest version of each key.
    state["keys"] = {name: list(versions) for name, versions in dict.items(bucket.keys)}
    state["multiparts"] = {}
    return state


def restore(state: dict[str, Any]) -> int:
    """Load a :func:`snapshot` into this process's moto backends; returns the number of object versions."""
    from moto.s3.models import FakeBucket, MultipartDict, s3_backends
    from moto.s3.utils import _VersionedKeyStore

    if state.get("format") != STATE_FORMAT:
        raise ValueError(f"S3 state format {state.get('format')!r} is not {STATE_FORMAT}")
    n_versions = 0
    for entry in state["backends"]:
        backend = s3_backends[entry["account_id"]][entry["partition"]]
        backend.tagger = entry["tagger"]
        for name, bucket_state in entry["buckets"].items():
            bucket = FakeBucket.__new__(FakeBucket)
            bucket.__dict__.update(bucket_state)
            keys = _VersionedKeyStore()
            for key, versions in bucket_state["keys"].items():
                keys.setlist(key, versions)
                n_versions += len(versions)
            bucket.keys = keys
            bucket.multiparts = MultipartDict()
            backend.buckets[name] = bucket
            s3_backends.bucket_accounts[name] = (bucket.partition, bucket.account_id)
    return n_versions


def write_state(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: a temp file in the same directory, fsync, rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
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

    An unreadable file (another moto version, truncated) is moved aside and the server starts empty.
    """
    if not path.exists():
        return None
    try:
        with path.open("rb") as fh:
            return restore(pickle.load(fh))
    except Exception as err:  # noqa: BLE001 - any unpickling failure means: start empty, keep the file
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
                data = pickle.dumps(snapshot(), protocol=pickle.HIGHEST_PROTOCOL)
            write_state(self.state_file, data)
            self._saved_writes = writes
        log.info("saved S3 state to %s (%.1f MiB)", self.state_file, len(data) / 2**20)
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

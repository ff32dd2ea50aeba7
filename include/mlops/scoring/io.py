"""Streaming I/O of a scoring run: a ranged reader over the pinned input, and multipart sinks.

Reading: :func:`head_input` pins the input object (its S3 VersionId, or its ETag on an
unversioned bucket); :func:`open_parquet` opens a ``ParquetFile`` over :class:`RangeFile`, which
reads only the byte ranges pyarrow asks for, at the pinned version; :func:`iter_chunks` yields
the rows of a shard in chunks on the global chunk grid; :func:`prefetch` runs it one chunk ahead
in a thread.

Writing: :class:`S3Sink` streams a Parquet writer into an S3 multipart upload that becomes
visible only on :meth:`Sink.commit` (a failed shard aborts it), and hashes the bytes on the
way, so the part's sha256 and size are known without reading it back. Every S3 call goes
through :mod:`mlops.storage`.
"""

from __future__ import annotations

import hashlib
import io
import logging
import queue
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops import storage
from mlops.errors import InputReadError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.parquet as pq

log = logging.getLogger(__name__)

#: Multipart part size for streamed uploads (S3 minimum is 5 MiB for all but the last part).
PART_SIZE = 8 * 1024 * 1024


# ---------------------------------------------------------------- the pinned input
@dataclass(frozen=True)
class InputObject:
    """The input as pinned at planning: its URI, S3 VersionId (or ETag when unversioned) and size."""

    uri: str
    version_id: str | None
    etag: str | None
    size: int


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of one pinned S3 object version through ranged GETs (for pyarrow)."""

    def __init__(self, client: Any, inp: InputObject):
        super().__init__()
        self._client, self._inp = client, inp
        self._pos = 0
        self._lock = threading.Lock()
        self.requests = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def size(self) -> int:
        return self._inp.size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._inp.size}[whence]
        self._pos = max(0, base + int(offset))
        return self._pos

    def _get(self, start: int, end: int) -> bytes:
        inp = self._inp
        try:
            data = storage.get_range(
                self._client,
                inp.uri,
                start,
                end,
                version_id=inp.version_id,
                if_match=None if inp.version_id else inp.etag,
            )
        except (storage.PreconditionFailed, InputReadError) as err:
            pinned = f"VersionId {inp.version_id}" if inp.version_id else f"ETag {inp.etag}"
            raise InputReadError(
                f"{inp.uri} changed or disappeared while it was being scored (pinned {pinned}); "
                "re-run the scoring DAG once the upstream export is stable."
            ) from err
        self.requests += 1
        return data

    def read(self, size: int = -1) -> bytes:
        with self._lock:
            start = self._pos
            end = self._inp.size if size is None or size < 0 else min(self._inp.size, start + int(size))
            if end <= start:
                return b""
            data = self._get(start, end)
            self._pos = start + len(data)
            return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def head_input(client: Any, uri: str) -> InputObject:
    """Pin the input: its S3 VersionId (or ETag on an unversioned bucket) and size.

    Raises
    ------
    InputReadError
        If the object does not exist.
    """
    if not storage.is_s3(uri):
        path = Path(uri)
        if not path.is_file():
            raise InputReadError(f"Input {uri} does not exist; pass a Parquet file or s3:// URI.")
        return InputObject(str(uri), None, None, path.stat().st_size)
    meta = storage.head(client, uri)
    if meta is None:
        raise InputReadError(
            f"Input {uri} does not exist; the day's batch has not landed (the DAG's wait_for_batch sensor "
            "waits for it), or the date or dataset is wrong."
        )
    version = meta.get("VersionId")
    etag = meta.get("ETag")
    return InputObject(
        uri,
        None if version in (None, "null") else version,
        etag.strip('"') if etag else None,
        int(meta.get("ContentLength") or 0),
    )


def open_parquet(client: Any, inp: InputObject) -> pq.ParquetFile:
    """A ``ParquetFile`` over the pinned input (ranged GETs on S3, the file itself locally)."""
    import pyarrow.parquet as pq

    if inp.size == 0:
        raise InputReadError(
            f"{inp.uri} is empty (0 bytes); the upstream export wrote nothing. Re-export the batch."
        )
    source: Any = RangeFile(client, inp) if storage.is_s3(inp.uri) else inp.uri
    try:
        return pq.ParquetFile(source, pre_buffer=True)
    except InputReadError:
        raise
    except Exception as err:
        raise InputReadError(
            f"{inp.uri} is not a readable Parquet file ({type(err).__name__}: {err}); scoring streams Parquet "
            "only: re-export the batch as Parquet."
        ) from err


# ---------------------------------------------------------------- streaming read
def _row_groups(pf: pq.ParquetFile, row_start: int, row_end: int) -> tuple[list[int], int]:
    """The row groups overlapping ``[row_start, row_end)`` and the first row of the first of them."""
    meta = pf.metadata
    groups, first_row, pos = [], None, 0
    for i in range(meta.num_row_groups):
        n = meta.row_group(i).num_rows
        if pos < row_end and pos + n > row_start:
            groups.append(i)
            first_row = pos if first_row is None else first_row
        pos += n
    return groups, first_row or 0


def iter_chunks(
    pf: pq.ParquetFile, row_start: int, row_end: int, chunk_size: int, columns: list[str] | None = None
) -> Iterator[tuple[int, pa.Table]]:
    """Yield ``(first_row, table)`` for rows ``[row_start, row_end)`` in chunks on the global chunk grid.

    Only the row groups overlapping the range are read. ``row_start`` must lie on the grid
    (a multiple of ``chunk_size``); every chunk but the last of the range has ``chunk_size`` rows.
    """
    import pyarrow as pa

    if row_end <= row_start:
        return
    groups, cursor = _row_groups(pf, row_start, row_end)
    pending: list[pa.RecordBatch] = []
    pending_rows, next_start = 0, row_start
    for batch in pf.iter_batches(batch_size=chunk_size, row_groups=groups, columns=columns, use_threads=True):
        b0, b1 = cursor, cursor + batch.num_rows
        cursor = b1
        lo, hi = max(b0, row_start), min(b1, row_end)
        if hi > lo:
            pending.append(batch.slice(lo - b0, hi - lo))
            pending_rows += hi - lo
        while pending_rows >= chunk_size or (pending_rows and next_start + pending_rows >= row_end):
            take = min(chunk_size, pending_rows)
            table = pa.Table.from_batches(pending)
            yield next_start, table.slice(0, take)
            rest = table.slice(take)
            pending = rest.to_batches() if rest.num_rows else []
            pending_rows -= take
            next_start += take
        if cursor >= row_end:
            break


def prefetch(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """Run ``items`` one step ahead in a thread (I/O and decoding overlap the model).

    Closing the returned generator (or an error in the consumer) stops the thread.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(done)
        except BaseException as err:  # handed to the consumer
            put(err)

    thread = threading.Thread(target=produce, name="scoring-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=30)


# ---------------------------------------------------------------- streaming write
@dataclass(frozen=True)
class Committed:
    """A finished object: sha256 and size of the bytes written, and its S3 VersionId."""

    sha256: str
    size: int
    version_id: str | None


class Sink:
    """Write-only byte sink for ``pq.ParquetWriter`` that hashes what it is given.

    Use as a context manager: leaving it with an error aborts the object.
    """

    def __init__(self, uri: str):
        self.uri = uri
        self.closed = False
        self._sha = hashlib.sha256()
        self._size = 0

    def writable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        pass

    def close(self) -> None:  # pyarrow may call it; commit() finishes the object
        self.closed = True

    def write(self, data: Any) -> int:
        data = bytes(data)
        self._sha.update(data)
        self._size += len(data)
        self._write(data)
        return len(data)

    def _write(self, data: bytes) -> None:
        raise NotImplementedError

    def commit(self) -> Committed:
        raise NotImplementedError

    def abort(self) -> None:
        pass

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is not None:
            self.abort()


class LocalSink(Sink):
    """Writes ``<path>.inprogress`` and renames it on commit (local runs of the CLI)."""

    def __init__(self, uri: str):
        super().__init__(uri)
        self._path = Path(uri)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = self._path.with_name(self._path.name + ".inprogress")
        self._fh = self._tmp.open("wb")

    def _write(self, data: bytes) -> None:
        self._fh.write(data)

    def commit(self) -> Committed:
        self._fh.close()
        self._tmp.replace(self._path)
        return Committed(self._sha.hexdigest(), self._size, None)

    def abort(self) -> None:
        self._fh.close()
        self._tmp.unlink(missing_ok=True)


class S3Sink(Sink):
    """Streams into an S3 multipart upload (one part in flight in a thread); a single PUT if small.

    The object becomes visible only when :meth:`commit` completes the upload.
    """

    def __init__(
        self,
        client: Any,
        uri: str,
        *,
        part_size: int = PART_SIZE,
        content_type: str = "application/x-parquet",
    ):
        super().__init__(uri)
        self._client = client
        self._part_size = part_size
        self._content_type = content_type
        self._buffer = bytearray()
        self._upload_id: str | None = None
        self._parts: list[str] = []  # ETag of part i + 1
        self._pool: ThreadPoolExecutor | None = None
        self._inflight: Future | None = None

    def _write(self, data: bytes) -> None:
        self._buffer += data
        if len(self._buffer) >= self._part_size:
            self._ship(bytes(self._buffer))
            self._buffer = bytearray()

    def _ship(self, data: bytes) -> None:
        if self._upload_id is None:
            self._upload_id = storage.start_multipart(self._client, self.uri, content_type=self._content_type)
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="scoring-upload")
        self._wait()
        number = len(self._parts) + 1
        self._parts.append("")
        self._inflight = self._pool.submit(self._upload_part, number, data)

    def _upload_part(self, number: int, data: bytes) -> None:
        self._parts[number - 1] = storage.upload_part(self._client, self.uri, self._upload_id, number, data)

    def _wait(self) -> None:
        if self._inflight is not None:
            self._inflight.result()
            self._inflight = None

    def commit(self) -> Committed:
        if self._upload_id is None:
            put = storage.put_bytes(
                self._client, self.uri, bytes(self._buffer), content_type=self._content_type
            )
            return Committed(self._sha.hexdigest(), self._size, put.version_id)
        if self._buffer:
            self._ship(bytes(self._buffer))
            self._buffer = bytearray()
        self._wait()
        self._pool.shutdown(wait=True)
        put = storage.complete_multipart(self._client, self.uri, self._upload_id, self._parts)
        return Committed(self._sha.hexdigest(), self._size, put.version_id)

    def abort(self) -> None:
        if self._upload_id is None:
            return
        try:
            self._wait()
        except Exception:  # the upload is being thrown away anyway
            pass
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        try:
            storage.abort_multipart(self._client, self.uri, self._upload_id)
        except Exception as err:
            log.warning("could not abort multipart upload of %s: %s", self.uri, err)


def open_sink(client: Any, uri: str) -> Sink:
    """An :class:`S3Sink` for ``s3://`` URIs, a :class:`LocalSink` for local paths."""
    return S3Sink(client, uri) if storage.is_s3(uri) else LocalSink(uri)

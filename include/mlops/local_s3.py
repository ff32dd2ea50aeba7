"""A local S3 endpoint for the embedded defaults: moto's server on a loopback port.

``python -m mlops.local_s3 --port 5055 --bucket mlops-demo`` serves until
interrupted. :func:`serve` is the in-process form used by the demo and tests.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Iterator

from mlops import storage

DEFAULT_PORT = int(os.environ.get("MLOPS_S3_PORT", "5055"))


def connection_json(port: int, region: str = "us-east-1") -> str:
    """The ``AIRFLOW_CONN_AWS_DEFAULT`` value that points at the local endpoint (fake keys)."""
    import json

    return json.dumps(
        {
            "conn_type": "aws",
            "login": "local-moto",
            "password": "local-moto",
            "extra": {"endpoint_url": f"http://127.0.0.1:{port}", "region_name": region},
        }
    )


@contextlib.contextmanager
def serve(port: int = DEFAULT_PORT, bucket: str | None = storage.DEFAULT_BUCKET) -> Iterator[str]:
    """Run moto's S3 server on ``127.0.0.1:port`` and create ``bucket`` with versioning."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        if bucket:
            import boto3

            client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id="local-moto",
                aws_secret_access_key="local-moto",
            )
            storage.ensure_bucket(client, bucket)
        yield endpoint
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--bucket", default=storage.DEFAULT_BUCKET)
    args = parser.parse_args()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with serve(args.port, args.bucket) as endpoint:
        print(
            f"local S3 (moto) at {endpoint}, bucket s3://{args.bucket} (versioned); Ctrl-C to stop",
            flush=True,
        )
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()


if __name__ == "__main__":
    main()

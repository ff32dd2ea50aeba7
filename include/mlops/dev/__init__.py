"""Demo and example-data tooling: not part of the lifecycle core.

- :mod:`mlops.dev.datagen`: deterministic example batches and late labels;
- :mod:`mlops.dev.local_s3`: moto's S3 server on a loopback port, optionally persisted to a state dir;
- :mod:`mlops.dev.bootstrap`: what ``make up`` does before the UI starts (seed to today, a first model);
- :mod:`mlops.dev.demo` and :mod:`mlops.dev.demo_report`: ``make demo`` and its summary.

The core packages never import this one; ``mlops seed`` (a CLI command) is its only caller there.
"""

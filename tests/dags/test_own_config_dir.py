"""A deployment's own config directory (``MLOPS_CONFIG_DIR``) without the example datasets.

Every DAG must still import, with its ``dataset`` Param defaulting to a dataset that exists, so a
default trigger works; an empty directory fails with a message that says how to add a dataset.
The DAG files are parsed in a fresh process, because the Params are built at import time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PARSE = """
import json
from airflow.dag_processing.dagbag import DagBag
bag = DagBag({dags!r})
print("RESULT " + json.dumps({{
    "errors": {{k: v[-400:] for k, v in bag.import_errors.items()}},
    "defaults": {{d: bag.dags[d].params.get_param("dataset").value
                 for d in sorted(bag.dag_ids) if "dataset" in bag.dags[d].params}},
}}))
"""


def _parse_dags(tmp_path: Path, datasets: list[str]) -> dict:
    configs, suites = tmp_path / "configs", tmp_path / "expectations"
    configs.mkdir()
    suites.mkdir()
    for name in datasets:
        shutil.copy(REPO / "include" / "configs" / f"{name}.yaml", configs)
        shutil.copy(REPO / "include" / "expectations" / f"{name}.json", suites)
    env = {
        **os.environ,
        "MLOPS_CONFIG_DIR": str(configs),
        "MLOPS_EXPECTATIONS_DIR": str(suites),
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PYTHONPATH": os.pathsep.join([str(REPO / "plugins"), str(REPO / "include")]),
    }
    proc = subprocess.run(
        [sys.executable, "-c", PARSE.format(dags=str(REPO / "dags"))],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    line = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
    assert line, proc.stderr[-3000:]
    return json.loads(line[-1][len("RESULT ") :])


def test_dags_import_with_only_a_dataset_of_the_deployments_own(tmp_path):
    parsed = _parse_dags(tmp_path, ["wine"])
    assert parsed["errors"] == {}
    defaults = parsed["defaults"]
    assert set(defaults) >= {"mlops_training", "mlops_batch_scoring", "mlops_monitoring", "mlops_rollback"}
    # single-dataset DAGs default to the one dataset there is; fan-out DAGs keep "all"
    assert defaults["mlops_training"] == "wine"
    assert defaults["mlops_rollback"] == "wine"
    assert defaults["mlops_batch_scoring"] == "all"
    assert "credit" not in defaults.values()


def test_an_empty_config_directory_says_how_to_add_a_dataset(tmp_path):
    parsed = _parse_dags(tmp_path, [])
    assert parsed["errors"], "DAGs must not import without any dataset config"
    for error in parsed["errors"].values():
        assert "No dataset configs in" in error and "mlops init" in error

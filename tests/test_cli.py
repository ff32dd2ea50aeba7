"""The ``mlops`` entry point: installed, --help lists commands, --json everywhere."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

from mlops.cli import build_parser, main


def test_console_script_is_installed():
    exe = shutil.which("mlops") or str(__import__("pathlib").Path(sys.executable).with_name("mlops"))
    out = subprocess.run([exe, "--help"], capture_output=True, text=True, check=True).stdout
    assert "config" in out and "seed" in out


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

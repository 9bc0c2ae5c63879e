"""`dmvpnlab --version` reports the installed package's version, from its metadata."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest

from dmvpnlab.command import main


def test_version_prints_the_metadata_version_on_stdout_and_exits_0(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0
    out, err = capsys.readouterr()
    assert out == f"dmvpnlab {importlib.metadata.version('dmvpnlab')}\n" and err == ""


def test_python_dash_m_dmvpnlab_answers_too():
    result = subprocess.run([sys.executable, "-m", "dmvpnlab", "--version"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("dmvpnlab ")
    assert result.stdout.split()[1] == importlib.metadata.version("dmvpnlab")

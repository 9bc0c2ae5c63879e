"""`dmvpnlab completion bash`, run the way bash runs it: the script sourced, COMP_WORDS and
COMP_CWORD set, `_dmvpnlab` called, COMPREPLY read back.

Node names come from lab records written as a lab writes them (LabRecords, under a
DMVPNLAB_RUN_DIR of the test's own), and are fetched at TAB time by the real hidden
helper through the installed `dmvpnlab` command, so these fail if the script, the
helper or the records disagree.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from dmvpnlab.command import build_parser
from dmvpnlab.completion import bash_script
from dmvpnlab.lab.records import LabRecords, ProcessRecord

BIN = Path(sys.executable).parent


def make_lab(root: Path, name: str, nodes: dict[str, str], routers: set[str], state: str = "up") -> None:
    records = LabRecords.create(name, f"topologies/{name}.yaml", root=root)
    for router in sorted(routers):
        records.add_process(ProcessRecord(pid=1, start_time=0, cmdline=["dmvpnlab", "agent"], kind="agent",
                                          node=router))
    records.update(state=state, nodes=[{"name": n, "role": role} for n, role in nodes.items()])


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    root = tmp_path / "run"
    make_lab(root, "default", {"hub": "hub", "spoke1": "spoke", "spoke2": "spoke", "h1": "host", "s1": "bridge"},
             {"hub", "spoke1", "spoke2"})
    make_lab(root, "nat", {"spoke3": "spoke", "nat3": "nat"}, {"spoke3"})
    make_lab(root, "crashed", {"spoke9": "spoke"}, {"spoke9"}, state="starting")
    return root


def complete(words: list[str], run_dir: Path, script: str | None = None, cwd: Path | None = None) -> list[str]:
    """COMPREPLY after TAB on `words` (the last one is the word being completed)."""
    script_file = (cwd or run_dir) / "completion.bash"
    script_file.write_text(script if script is not None else bash_script(build_parser()))
    program = (f"source {shlex.quote(str(script_file))}\n"
               f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
               '_dmvpnlab; printf "%s\\n" "${COMPREPLY[@]}"\n')
    env = {**os.environ, "DMVPNLAB_RUN_DIR": str(run_dir), "PATH": f"{BIN}:{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, env=env,
                            cwd=cwd or run_dir, timeout=60)
    assert result.returncode == 0, result.stderr
    return sorted(line for line in result.stdout.splitlines() if line)


def test_the_command_prints_a_script_bash_accepts(capsys):
    from dmvpnlab.command import main
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert "complete -F _dmvpnlab dmvpnlab" in script
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0


def test_subcommands_complete_and_the_hidden_helper_is_not_one_of_them(run_dir):
    offered = complete(["dmvpnlab", ""], run_dir)
    assert {"up", "down", "exec", "cli", "fault", "pcap", "wireshark-profile", "completion", "--version"} <= set(offered)
    assert "_complete-nodes" not in offered
    assert complete(["dmvpnlab", "ex"], run_dir) == ["exec"]


def test_options_come_from_the_subcommands_parser(run_dir):
    assert {"--decrypt", "--keys", "--json", "--roundtrip"} <= set(complete(["dmvpnlab", "pcap", "--"], run_dir))
    assert complete(["dmvpnlab", "wireshark-profile", "--c"], run_dir) == ["--captures"]


def test_exec_completes_the_nodes_of_labs_that_are_up_but_no_bridge(run_dir):
    assert complete(["dmvpnlab", "exec", ""], run_dir) == ["h1", "hub", "nat3", "spoke1", "spoke2", "spoke3"]
    assert complete(["dmvpnlab", "exec", "sp"], run_dir) == ["spoke1", "spoke2", "spoke3"]


def test_lab_narrows_the_nodes_and_completes_to_the_labs_that_are_up(run_dir):
    assert complete(["dmvpnlab", "exec", "--lab", "nat", ""], run_dir) == ["nat3", "spoke3"]
    assert complete(["dmvpnlab", "exec", "--lab", ""], run_dir) == ["default", "nat"]
    assert complete(["dmvpnlab", "down", ""], run_dir) == ["default", "nat"]


def test_cli_completes_routers_only_and_fault_adds_its_special_targets(run_dir):
    assert complete(["dmvpnlab", "cli", ""], run_dir) == ["hub", "spoke1", "spoke2", "spoke3"]
    assert complete(["dmvpnlab", "fault", "loss", ""], run_dir) == ["all", "hub", "isp", "spoke1", "spoke2",
                                                                       "spoke3"]


def test_after_the_node_exec_completes_files_not_nodes(run_dir):
    (run_dir / "spoke-notes.txt").write_text("")
    assert complete(["dmvpnlab", "exec", "spoke1", "--", "spoke"], run_dir) == ["spoke-notes.txt"]


def test_directories_for_a_profile_folder_and_files_for_a_capture(run_dir):
    (run_dir / "profiles").mkdir()
    (run_dir / "phase3.pcapng").write_text("")
    assert complete(["dmvpnlab", "wireshark-profile", "p"], run_dir) == ["profiles"]
    assert complete(["dmvpnlab", "pcap", "p"], run_dir) == ["phase3.pcapng", "profiles"]


def test_trace_and_report_complete_nodes_and_directories(run_dir):
    script = bash_script(build_parser())
    (run_dir / "out").mkdir()
    assert complete(["dmvpnlab", "trace", "h"], run_dir, script) == ["h1", "hub"]
    assert complete(["dmvpnlab", "trace", "--lab", "default", "h1", "sp"], run_dir, script) == ["spoke1", "spoke2"]
    assert complete(["dmvpnlab", "report", "o"], run_dir, script) == ["out"]


def test_the_helper_loads_neither_mininet_nor_the_lab_controller(run_dir):
    probe = ("import sys; from dmvpnlab.command import main; main(['_complete-nodes', '--routers']); "
             "print(sorted(m for m in ('mininet', 'rich', 'dmvpnlab.lab.lab') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            env={**os.environ, "DMVPNLAB_RUN_DIR": str(run_dir)})
    assert result.stdout.splitlines() == ["hub", "spoke1", "spoke2", "spoke3", "[]"], result.stderr

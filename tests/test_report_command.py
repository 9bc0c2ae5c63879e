"""`dmvpnlab report CAPTURE_DIR [-o FILE]`: prints the path written; bad input is one line and exit 1."""

from __future__ import annotations

from dmvpnlab.command import main
from tests.report_captures import phase3_run


def test_the_report_is_written_into_the_capture_directory_and_its_path_printed(tmp_path, capsys):
    directory = phase3_run(tmp_path / "run")
    assert main(["report", str(directory)]) == 0
    out = capsys.readouterr().out.strip()
    assert out == str(directory / "report.html")
    assert (directory / "report.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_output_goes_where_o_says(tmp_path, capsys):
    directory = phase3_run(tmp_path / "run")
    target = tmp_path / "out" / "page.html"
    assert main(["report", str(directory), "-o", str(target)]) == 0
    assert target.is_file() and capsys.readouterr().out.strip() == str(target)


def test_a_missing_directory_is_one_line_naming_it_and_exit_1(tmp_path, capsys):
    assert main(["report", str(tmp_path / "gone")]) == 1
    err = capsys.readouterr().err
    assert err == f"dmvpnlab report: {tmp_path / 'gone'}: no such directory\n"


def test_a_damaged_capture_is_one_line_naming_it_and_exit_1(tmp_path, capsys):
    directory = phase3_run(tmp_path / "run")
    (directory / "hub-isp.pcap").write_bytes(b"not a capture at all")
    assert main(["report", str(directory)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "hub-isp.pcap: not a pcap or pcapng capture" in err
    assert "Traceback" not in err

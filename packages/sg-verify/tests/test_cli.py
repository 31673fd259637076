"""The ``sg-verify`` command refuses bad arguments before it runs anything."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from sg_verify.cli import main


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run ``sg-verify argv`` expecting argparse's refusal (exit 2); its message."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["parity", "--count", "0"], "--count: must be at least 1, got 0"),
        (["parity", "--count", "-5"], "--count: must be at least 1, got -5"),
        (["parity", "--count", "many"], "--count: not an integer: 'many'"),
        (["parity", "--seed", "-1"], "--seed: must be >= 0"),
        (["report", "--count", "0"], "--count: must be at least 1"),
        (["report", "--jobs", "0"], "--jobs: must be at least 1, got 0"),
        (["mutants", "--jobs", "all"], "--jobs: not an integer: 'all'"),
        (["ops", "--jobs", "-2"], "--jobs: must be at least 1"),
        (["trajectory", "--steps", "0"], "--steps: must be at least 1"),
        (["trajectory", "--steps", "-3"], "--steps: must be at least 1"),
        (
            ["trajectory", "sgdd"],
            "'sgdd' is not one of adagrad, adam, adamw, rmsprop, sgd, sgd_nesterov",
        ),
    ],
)
def test_counts_seeds_and_names_are_checked(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert message in _refused(argv, capsys)


def test_an_output_folder_that_is_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    assert "exists and is not a folder" in _refused(["report", "--out", str(afile)], capsys)
    nested = afile / "report"
    assert "is not a folder" in _refused(["report", "--out", str(nested)], capsys)
    assert afile.read_text() == "keep me"


def test_a_json_path_that_is_a_folder_or_in_no_folder_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "is a folder, not a file" in _refused(["trajectory", "--json", str(tmp_path)], capsys)
    missing = tmp_path / "missing" / "out.json"
    assert "does not exist" in _refused(["trajectory", "--json", str(missing)], capsys)


def test_an_output_folder_that_cannot_be_written_stops_the_report_before_it_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Permission bits do not stop root; a failing write does, so that is what is checked.
    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    import sg_verify.report

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the report ran although its folder cannot be written")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    monkeypatch.setattr(sg_verify.report, "build_report", never)
    assert main(["report", "--out", str(tmp_path / "out")]) == 2
    assert "sg-verify report: cannot write to" in capsys.readouterr().err


def test_without_pytorch_a_check_that_needs_it_says_so_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)  # ``import torch`` now fails
    for argv in (["parity", "--count", "1"], ["trajectory", "--steps", "1"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0
        assert err.startswith(f"sg-verify {argv[0]}: this check needs PyTorch: pip install")


def test_python_dash_m_runs_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "sg_verify", "operators"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "relu" in done.stdout

"""The `dmde` command line: subcommands, help, and clear errors before Spark starts."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from jobs.cli import JOBS, build_parser, main


def test_every_job_is_a_subcommand_with_help(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for name in JOBS:
        assert name in out


@pytest.mark.parametrize("job", sorted(JOBS))
def test_each_subcommand_explains_itself(job, capsys):
    with pytest.raises(SystemExit):
        main([job, "--help"])
    out = capsys.readouterr().out
    assert "--data-dir" in out and "--env" in out


def test_a_bad_month_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["score", "--month", "2026-13"])
    assert exit_.value.code == 2


def test_an_unknown_environment_fails_with_the_config_error(capsys, tmp_path):
    assert main(["show", "--env", "nowhere", "--month", "2026-02", "--caf", "59",
                 "--data-dir", str(tmp_path)]) == 2
    assert "unknown environment 'nowhere'" in capsys.readouterr().err


def test_jobs_run_as_scripts_with_the_same_arguments():
    result = subprocess.run([sys.executable, "jobs/show.py", "--help"], capture_output=True, text=True,
                            cwd=Path(__file__).parents[1])
    assert result.returncode == 0 and "--caf" in result.stdout

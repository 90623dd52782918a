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


@pytest.fixture
def local_partitions(spark):
    """The CLI applies conf/local.yaml to the shared session: restore the suite's settings."""
    yield
    spark.conf.set("spark.sql.shuffle.partitions", "2")


@pytest.mark.parametrize("argv", [["score", "--month", "2026-02"], ["score"], ["calibrate", "--month", "2026-02"],
                                  ["validate", "--month", "2026-02"], ["ingest", "--month", "2026-01"],
                                  ["ingest", "--stale"]])
def test_a_data_dir_without_sources_says_so_in_one_line(argv, tmp_path, capsys, local_partitions):
    assert main([*argv, "--data-dir", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "holds no source tables" in err and "dmde generate" in err
    assert not (tmp_path / "nowhere").exists(), "a wrong --data-dir gets nothing written"


def test_show_on_a_data_dir_without_outputs_says_what_to_run(tmp_path, capsys):
    assert main(["show", "--month", "2026-02", "--caf", "59", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "holds no scores" in err and "dmde score --month 2026-02" in err


def test_show_refuses_what_is_not_a_caf_code(tmp_path, capsys):
    assert main(["show", "--month", "2026-02", "--caf", "999", "--data-dir", str(tmp_path)]) == 1
    assert "'999' is not a Caf code" in capsys.readouterr().err


def test_a_cluster_overlay_without_a_master_is_refused_outside_spark_submit(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("PYSPARK_GATEWAY_PORT", raising=False)
    assert main(["validate", "--env", "cluster", "--month", "2026-02", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "spark.master" in err and "spark-submit" in err and "Traceback" not in err


def test_an_unexpected_error_is_one_paragraph_without_traceback(capsys, monkeypatch, tmp_path):
    import jobs.show

    def broken(ctx):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr(jobs.show, "run", broken)
    assert main(["show", "--month", "2026-02", "--caf", "59", "--data-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "unexpected error RuntimeError: disk on fire" in err and "--verbose" in err and "Traceback" not in err


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("dmde ")


@pytest.fixture(scope="module")
def scored_copy(spark, population, tmp_path_factory):
    """A copy of the shared population re-scored through `dmde score`, with a capacity for
    its largest Caf so that a target list exists (the national capacity rounds to 0 for
    every Caf of a population this small)."""
    import shutil

    from pyspark.sql import functions as F

    from jobs.lib import delta

    data_dir = tmp_path_factory.mktemp("cli") / "data"
    shutil.copytree(population.data_dir, data_dir)
    scores = delta.read(spark, population.config.output_path("scores"))
    by_size = scores.groupBy("caf").count().orderBy(F.desc("count"), "caf").collect()
    largest, smallest = by_size[0].caf, by_size[-1].caf
    overlay = data_dir.parent / "capacity.yaml"
    overlay.write_text(f'capacity: {{per_caf_monthly: {{"{largest}": 5}}}}\n')
    try:
        code = main(["score", "--month", "2026-02", "--conf", str(overlay), "--data-dir", str(data_dir)])
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", "2")
    assert code == 0
    return {"data_dir": str(data_dir), "largest": largest, "smallest": smallest}


def test_show_prints_a_target_list_with_its_reasons(scored_copy, capsys):
    assert main(["show", "--month", "2026-02", "--caf", scored_copy["largest"], "--top", "3",
                 "--data-dir", scored_copy["data_dir"]]) == 0
    out = capsys.readouterr().out
    assert f"Caf {scored_copy['largest']}, score month 2026-02: target list (top 3 of" in out
    assert out.count("raises the risk:") >= 3 and "odds ratio" not in out


def test_show_all_prints_ranked_households_with_odds_ratios(scored_copy, capsys):
    assert main(["show", "--month", "2026-02", "--caf", scored_copy["largest"], "--top", "2", "--all",
                 "--data-dir", scored_copy["data_dir"]]) == 0
    out = capsys.readouterr().out
    assert "all scored households (top 2 of" in out and "odds ratio" in out


def test_show_of_a_caf_without_capacity_says_why_its_list_is_empty(scored_copy, capsys):
    assert main(["show", "--month", "2026-02", "--caf", scored_copy["smallest"],
                 "--data-dir", scored_copy["data_dir"]]) == 1
    err = capsys.readouterr().err
    assert "target list of 2026-02 is empty" in err and "capacity is 0" in err and "--all" in err


def test_show_of_a_month_not_scored_says_what_to_run(scored_copy, capsys):
    assert main(["show", "--month", "2026-05", "--caf", scored_copy["largest"],
                 "--data-dir", scored_copy["data_dir"]]) == 1
    assert "2026-05 is not scored" in capsys.readouterr().err


@pytest.mark.slow
def test_a_job_whose_output_is_captured_prints_only_its_own_lines(population, tmp_path):
    """Not a terminal (CI, cron, a log file): no ANSI codes, no Spark banner or WARN line, the
    job's first line and its stage lines."""
    import shutil

    data_dir = tmp_path / "data"
    shutil.copytree(population.data_dir, data_dir)
    root = Path(__file__).resolve().parents[1]
    result = subprocess.run([sys.executable, "-m", "jobs.cli", "validate", "--month", "2026-02",
                             "--data-dir", str(data_dir)], cwd=root, capture_output=True, text=True, timeout=900)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "\x1b[" not in output and "\r" not in output
    assert "WARN" not in output and "log4j" not in output.lower() and "Using Spark's default" not in output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("[validate] dmde ") and str(data_dir) in lines[0]
    assert any(line.startswith("[validate] ") for line in lines)

"""The layout the code promises: pure layers that do not import the wiring, entry points
that do not import each other, a domain that neither reads files nor starts Spark."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from jobs.cli import JOBS

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", ["domain", "transforms", "expectations"])
def test_pure_layers_do_not_import_the_jobs(package):
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in imported_modules(p) if m.split(".")[0] == "jobs")
                 for p in modules_of(package)}
    assert {p: m for p, m in offenders.items() if m} == {}


def test_the_domain_neither_starts_spark_nor_reads_files():
    forbidden = ("pyspark", "deltalake", "polars", "yaml", "csv", "jobs", "transforms", "expectations")
    offenders = {str(p.relative_to(ROOT)): sorted(m for m in imported_modules(p) if m.split(".")[0] in forbidden)
                 for p in modules_of("domain")}
    assert {p: m for p, m in offenders.items() if m} == {}


def test_no_entry_point_is_imported_by_another_module_of_jobs():
    entry_points = {module for module, _ in JOBS.values()}
    assert all((ROOT / (module.replace(".", "/") + ".py")).exists() for module in entry_points)
    offenders = {}
    for path in modules_of("jobs"):
        if path.name == "cli.py":
            continue  # the dispatcher of `dmde <job>`
        imported = {m for m in imported_modules(path) if m in entry_points or m.rsplit(".", 1)[0] in entry_points}
        if imported:
            offenders[str(path.relative_to(ROOT))] = sorted(imported)
    assert offenders == {}


def test_every_module_directly_in_jobs_is_an_entry_point():
    entry_points = {module.split(".")[-1] for module, _ in JOBS.values()} | {"cli", "__init__"}
    assert {p.stem for p in (ROOT / "jobs").glob("*.py")} == entry_points


def test_the_scoring_never_computes_the_populations():
    """MONITORING.md §1: the populations are for the monitoring only (never model inputs)."""
    scoring = ["jobs/score_month.py", "jobs/lib/scoring.py", "transforms/features.py", "transforms/model.py",
               "transforms/ranking.py"]
    assert {p: sorted(m for m in imported_modules(ROOT / p) if "populations" in m) for p in scoring} == \
        {p: [] for p in scoring}

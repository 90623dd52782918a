"""The user documentation (README.md, docs/*.md) against the code: pure Python, no Spark.

- every relative link (and image) points to a file of the repository, every anchor to a
  heading of it, and external links only to the public sources listed here;
- no text names the team's internal specification files;
- every `dmde` subcommand of the argparse parser is a row of the README's command table;
- every table documented lists exactly the columns of its schema in the code;
- the odds-ratio table of docs/rules.md is the model file's, rendered here;
- every test the documents cite as `tests/<file>.py::<test>` exists.
"""
from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# The internal specifications stay with the team: a reader of the repository has none of them.
FORBIDDEN = ("../shared", "shared/spec", "DMDE.md", "MONITORING.md", "DATA.md", "STACK.md", "STYLE.md")
# Links outside the repository: public sources only (library documentation).
EXTERNAL_HOSTS = {"docs.delta.io", "spark.apache.org"}


def text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def without_code(text: str) -> str:
    """The text outside fenced code blocks and inline code spans (where a link is no link)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    return re.sub(r"`[^`\n]*`", "", text)


LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]]+\]:\s*(\S+)", re.M)


def links(path: Path) -> list[str]:
    text = without_code(text_of(path))
    return LINK.findall(text) + REFERENCE.findall(text)


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    heading = re.sub(r"`", "", heading.strip().lower())
    heading = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    return re.sub(r"[^\w\- ]", "", heading).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: dict[str, int] = {}
    out = set()
    for line in re.sub(r"^```.*?^```", "", text_of(path), flags=re.S | re.M).splitlines():
        match = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if match:
            base = slug(match.group(1))
            n = found.get(base, 0)
            out.add(base if n == 0 else f"{base}-{n}")
            found[base] = n + 1
    return out


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_points_into_the_repository_or_to_a_public_source(document):
    problems = []
    for target in links(document):
        parsed = urlparse(target)
        if parsed.scheme in ("http", "https"):
            if parsed.scheme != "https" or parsed.hostname not in EXTERNAL_HOSTS:
                problems.append(f"{target}: external links go to public sources only ({sorted(EXTERNAL_HOSTS)})")
            continue
        if parsed.scheme or parsed.netloc:
            problems.append(f"{target}: not a relative link")
            continue
        path_part, _, anchor = target.partition("#")
        file = (document.parent / unquote(path_part)).resolve() if path_part else document
        if ROOT not in file.parents and file != ROOT:
            problems.append(f"{target}: outside the repository")
        elif not file.exists():
            problems.append(f"{target}: no such file")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            problems.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert problems == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_text_names_the_internal_specifications(document):
    text = text_of(document)
    assert [name for name in FORBIDDEN if name in text] == []


def test_the_documents_exist():
    assert {p.name for p in DOCUMENTS} >= {"README.md", "rules.md", "monitoring.md", "operations.md",
                                           "synthetic.md", "tables.md"}


# ---------------------------------------------------------------------------------------
# The commands


def subcommands() -> set[str]:
    """The subcommands of `dmde`, from its argparse parser."""
    from jobs.cli import build_parser

    parser = build_parser()
    actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(actions) == 1
    return set(actions[0].choices)


def section(text: str, heading: str) -> str:
    """The text under `heading` (a whole heading line), up to the next heading of its level or above."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = text.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines))
                if re.match(rf"^#{{1,{level}}}\s", lines[i])), len(lines))
    return "\n".join(lines[start:end])


def test_every_dmde_subcommand_is_in_the_readme_command_table():
    from jobs.cli import JOBS

    table = section(text_of(ROOT / "README.md"), "## The `dmde` command")
    documented = re.findall(r"^\|\s*`dmde ([a-z][a-z-]*)", table, flags=re.M)
    assert len(documented) == len(set(documented)), "a command documented twice"
    assert set(documented) == subcommands() == set(JOBS)


# ---------------------------------------------------------------------------------------
# The columns of every table


def ddl_columns(ddl: str) -> list[str]:
    """The column names of a DDL string ("a string, b map<string,long>, c decimal(12,2)")."""
    names, depth, token = [], 0, ""
    for char in ddl + ",":
        if char == "," and depth == 0:
            if token.strip():
                names.append(token.strip().split()[0])
            token = ""
            continue
        depth += char in "(<"
        depth -= char in ")>"
        token += char
    return names


def documented_rows(path: Path, heading: str) -> list[list[str]]:
    """The cells of the first markdown table under `heading`, header and rule rows left out."""
    lines = section(text_of(path), heading).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def documented_columns(path: Path, heading: str) -> list[str]:
    """The column names of a table's documentation: the `names` of each row's first cell."""
    return [name for row in documented_rows(path, heading) for name in re.findall(r"`([A-Za-z0-9_]+)`", row[0])]


def assert_same_columns(documented: list[str], schema: list[str]) -> None:
    assert len(documented) == len(set(documented)), f"documented twice: {sorted(documented)}"
    assert sorted(set(documented) - set(schema)) == [], "documented but not in the schema"
    assert sorted(set(schema) - set(documented)) == [], "in the schema but not documented"


TABLES_DOC = ROOT / "docs" / "tables.md"
MONITORING_DOC = ROOT / "docs" / "monitoring.md"
SOURCE_TABLES = ("households", "members", "payments", "declarations", "events", "controls")


@pytest.fixture(scope="module")
def spec():
    from jobs.lib.config import load_config

    return load_config().model


@pytest.mark.parametrize("table", SOURCE_TABLES)
def test_source_tables_are_documented_with_the_schema_and_types_of_their_suite(table):
    """The schema a source must have is its suite's (expectations/<table>.py)."""
    import importlib

    schema = {name: kind.simpleString() for name, kind in importlib.import_module(f"expectations.{table}").SCHEMA.items()}
    rows = documented_rows(TABLES_DOC, f"### `{table}`")
    documented = {re.findall(r"`([a-z0-9_]+)`", row[0])[0]: row[1].strip("`") for row in rows}
    assert_same_columns(list(documented), list(schema))
    assert documented == schema


def feature_columns() -> list[str]:
    """FEATURE_COLUMNS of tests/test_features.py: the columns `compute_features` returns,
    which that test pins against the transform (test_features_columns_feed_every_model_variable)."""
    tree = ast.parse(text_of(ROOT / "tests" / "test_features.py"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "FEATURE_COLUMNS" for t in node.targets):
            return ast.literal_eval(node.value)
    raise AssertionError("tests/test_features.py defines no FEATURE_COLUMNS")


def output_schema(table: str, spec) -> list[str]:
    """The columns `dmde score` writes to an output table, from the code that selects them
    (jobs/lib/scoring.py, transforms/quality.py, jobs/lib/publish.py)."""
    from domain.estimation import MODEL_ESTIMATES_COLUMNS
    from jobs.lib.publish import RUNS_SCHEMA
    from jobs.lib.scoring import TARGET_COLUMNS, score_columns
    from transforms.quality import QUARANTINE_COLUMNS

    return {
        # compute_features, then one modality column per variable (transforms.model.with_modalities)
        "features": [*feature_columns(), *[v.name for v in spec.variables], "model_version", "run_id"],
        "scores": [*score_columns(spec), "model_version", "run_id"],
        "targets": [*TARGET_COLUMNS, "run_id"],
        "quarantine": list(QUARANTINE_COLUMNS),
        "runs": ddl_columns(RUNS_SCHEMA),
        "model_estimates": ddl_columns(MODEL_ESTIMATES_COLUMNS),  # dmde estimate
    }[table]


@pytest.mark.parametrize("table", ["features", "scores", "targets", "quarantine", "runs", "model_estimates"])
def test_output_tables_are_documented_with_their_columns(table, spec):
    assert_same_columns(documented_columns(TABLES_DOC, f"### `{table}`"), output_schema(table, spec))


def test_the_restricted_table_is_documented_with_its_columns():
    """restricted/protected_attributes: the household's key, one column per population and
    intersection, the six-month baseline and the score run (jobs/monitor_month.py)."""
    from jobs.lib.config import load_config
    from jobs.monitor_month import attribute_columns
    from transforms.monitoring import BASELINE_FIELDS

    schema = ["score_month", "caf", "household_id", *attribute_columns(load_config()), *BASELINE_FIELDS,
              "score_run_id"]
    assert_same_columns(documented_columns(TABLES_DOC, "### `protected_attributes`"), schema)


COMMON_HEADING = "### Columns of every monitoring table"


def test_the_columns_every_monitoring_table_carries():
    from domain.monitoring import KEY_COLUMNS, TAIL_COLUMNS

    assert_same_columns(documented_columns(MONITORING_DOC, COMMON_HEADING),
                        ddl_columns(KEY_COLUMNS) + ddl_columns(TAIL_COLUMNS))


def test_every_monitoring_table_is_documented():
    from domain.monitoring import TABLE_COLUMNS

    headings = set(re.findall(r"^### `(monitoring_[a-z_]+)`", text_of(MONITORING_DOC), flags=re.M))
    assert headings == {*TABLE_COLUMNS, "monitoring_runs"}


@pytest.mark.parametrize("table", [
    "monitoring_performance", "monitoring_calibration", "monitoring_model_fit", "monitoring_representation",
    "monitoring_parity", "monitoring_volumes", "monitoring_human_decisiveness", "monitoring_drift"])
def test_monitoring_tables_are_documented_with_their_columns(table, spec):
    """The documented columns of a table, plus those every table carries, are its schema
    (domain.monitoring.table_schema, with one mean_p_<model> per model of the model file)."""
    from domain.monitoring import table_schema

    common = documented_columns(MONITORING_DOC, COMMON_HEADING)
    own = documented_columns(MONITORING_DOC, f"### `{table}`")
    assert set(own).isdisjoint(common), "a common column documented again"
    assert_same_columns(common + own, ddl_columns(table_schema(table, tuple(spec.model_names()))))


def test_the_monitoring_ledger_is_documented_with_its_columns():
    from jobs.lib.publish import MONITORING_RUNS_SCHEMA

    assert_same_columns(documented_columns(MONITORING_DOC, "### `monitoring_runs`"),
                        ddl_columns(MONITORING_RUNS_SCHEMA))


# ---------------------------------------------------------------------------------------
# The rules: variables and odds ratios

RULES_DOC = ROOT / "docs" / "rules.md"
ODDS_BEGIN, ODDS_END = "<!-- odds-ratios:begin -->", "<!-- odds-ratios:end -->"


def number(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def odds_ratio_table(spec) -> str:
    """The published odds ratios and shares of the model file, as docs/rules.md shows them."""
    before, after = spec.blend.before, spec.blend.after
    lines = [f"| # | variable | modality | label (French, as published) | OR {before} | OR {after} "
             "| share of the sample (%) | in the target (%) |",
             "|---:|---|---|---|---:|---:|---:|---:|"]
    for i, variable in enumerate(spec.variables, start=1):
        for j, m in enumerate(variable.modalities):
            label = m.label.replace("|", "\\|")
            lines.append(f"| {i if j == 0 else ''} | {f'`{variable.name}`' if j == 0 else ''} | `{m.code}` | {label} "
                         f"| {number(m.odds_ratio.get(before))} | {number(m.odds_ratio.get(after))} "
                         f"| {number(m.share)} | {number(m.target_share)} |")
    return "\n".join(lines)


def test_the_odds_ratio_table_is_the_model_files(spec):
    """docs/rules.md shows the odds ratios of conf/models/dmde_2025.yaml, rendered by
    `odds_ratio_table`; on a change of the file, paste the block the failure prints."""
    text = text_of(RULES_DOC)
    shown = text.split(ODDS_BEGIN, 1)[1].split(ODDS_END, 1)[0].strip()
    expected = odds_ratio_table(spec)
    assert shown == expected, f"replace the block of docs/rules.md with:\n{ODDS_BEGIN}\n{expected}\n{ODDS_END}"


def test_every_variable_of_the_model_file_has_its_definition(spec):
    """One section per variable, `### <n>. `<name>` …`, in the model file's order, naming its
    input column in `features`."""
    text = text_of(RULES_DOC)
    found = re.findall(r"^### (\d+)\. `([a-z0-9_]+)`", text, flags=re.M)
    assert found == [(str(i), v.name) for i, v in enumerate(spec.variables, start=1)]
    for v in spec.variables:
        body = section(text, next(line for line in text.splitlines()
                                  if re.match(rf"^### \d+\. `{v.name}`", line)))
        assert f"`{v.input}`" in body, f"{v.name}: its input column {v.input} is not named"


# ---------------------------------------------------------------------------------------
# The tests the documents cite

CITED = re.compile(r"tests/(test_[a-z0-9_]+\.py)::(test_[a-z0-9_]+)")


def test_every_cited_test_exists():
    missing, cited = [], 0
    for document in DOCUMENTS:
        for file, name in CITED.findall(text_of(document)):
            cited += 1
            path = ROOT / "tests" / file
            if not path.exists() or not re.search(rf"^\s*def {name}\(", text_of(path), flags=re.M):
                missing.append(f"{document.name}: tests/{file}::{name}")
    assert cited > 0 and missing == []

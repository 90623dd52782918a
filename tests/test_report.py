"""`dmde report` (MONITORING.md §6, issue 9): the ethics committee's report of a month,
rendered from published monitoring tables written by `tests/monitoring_fixture.py` (the
monitor's own row builders on a small synthetic population, deltalake writes, no Spark).
"""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import time
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from domain.monitoring import NATIONAL
from jobs.cli import main
from jobs.lib.config import load_config
from jobs.report import read_inputs, write_report
from reporting import formats as fmt
from reporting.render import render_report
from tests.monitoring_fixture import publish_estimates, publish_month

ROOT = Path(__file__).resolve().parents[1]
MONTH = date(2026, 2, 1)
SECTION_IDS = ("entete", "performance", "calibration", "representation", "parite", "decision-humaine", "volumes",
               "derive", "methode", "reestimation")


@pytest.fixture(scope="session")
def published(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("report")
    # 100 replicates: the fixture's intervals need not be as smooth as the job's
    config = load_config(env="local", overrides={"data_dir": str(data_dir),
                                                 "monitoring": {"bootstrap": {"replicates": 100}}})
    month = publish_month(config, MONTH)
    month.estimates = publish_estimates(config, MONTH)
    return month


@pytest.fixture(scope="session")
def report(published):
    start = time.perf_counter()
    path = write_report(published.config, MONTH)
    seconds = time.perf_counter() - start
    print(f"\nreport rendered in {seconds:.2f} s, {path.stat().st_size:,} bytes")
    return path


@pytest.fixture(scope="session")
def page(report):
    parsed = Page()
    parsed.feed(report.read_text(encoding="utf-8"))
    return parsed


class Page(HTMLParser):
    """Tags, attributes, visible text (outside <svg> and <style>), style text, and the
    cells of every table with their classes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.style: list[str] = []
        self.cells: list[tuple[str, str]] = []  # (classes, text)
        self.sections: dict[str, list[str]] = {}
        self._stack: list[str] = []
        self._cell: list[str] | None = None
        self._cell_class = ""
        self._section: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "section":
            self._section = attributes.get("id")
            self.sections[self._section] = []
        if tag == "td":
            self._cell, self._cell_class = [], attributes.get("class") or ""
        if tag not in ("br", "meta", "img", "input", "link"):
            self._stack.append(tag)

    def handle_endtag(self, tag):
        while self._stack and self._stack.pop() != tag:
            pass
        if tag == "td" and self._cell is not None:
            self.cells.append((self._cell_class, "".join(self._cell).strip()))
            self._cell = None

    def handle_data(self, data):
        if "style" in self._stack:
            self.style.append(data)
            return
        if "svg" in self._stack:
            return
        self.text.append(data)
        if self._section:
            self.sections[self._section].append(data)
        if self._cell is not None and "span" not in self._stack:
            self._cell.append(data)

    @property
    def visible(self) -> str:
        return shown(" ".join(self.text))


def shown(text: str) -> str:
    """Runs of ASCII white space as one space; the narrow no-break spaces of the numbers stay."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


# ---------------------------------------------------------------------------------------
# structure


def test_every_section_is_present_and_opens_with_the_note_or_says_it_goes_beyond(report, page):
    html = report.read_text(encoding="utf-8")
    assert "resume" in page.sections
    for section in SECTION_IDS:
        assert section in page.sections, section
        body = html[html.index(f'id="{section}"'):]
        after_title = body[body.index("</h2>"):][:400]
        assert '<blockquote class="note">' in after_title or "Au-delà de la note" in after_title, section
    text = page.visible
    # the note's sentences, verbatim (MONITORING.md quotes them)
    for sentence in ("la proportion de dossiers dans la « cible » du modèle 2025",
                     "La mesure de la sur- ou sous-représentation de différentes populations dans les contrôles "
                     "réalisés sur la base du DMDE.",
                     "La volumétrie des contrôles et le taux de contrôle, sur pièces et sur place, issus du DMDE.",
                     "Des indicateurs de part des dossiers non contrôlés après plusieurs mois seront produits"):
        assert sentence in text
    assert text.count("Au-delà de la note") == 4  # calibration, parity, drift, the re-estimation annex
    assert "DONNÉES SYNTHÉTIQUES" in text


def test_every_chart_is_inline_svg_with_its_axes(page):
    svgs = [attrs for tag, attrs in page.tags if tag == "svg"]
    # performance, calibration, ≥ 1 representation forest, decisiveness lines and forests, volumes, drift
    assert len(svgs) >= 7
    html_ids = [attrs["id"] for tag, attrs in page.tags if "id" in attrs]
    assert len(html_ids) == len(set(html_ids))  # charts' ids prefixed: no clash between charts


def test_the_banner_follows_the_runs_data_origin(published):
    inputs = read_inputs(published.config, MONTH)
    template = (ROOT / "conf/report/monitoring.html.j2").read_text(encoding="utf-8")
    real = render_report(replace(inputs, run={**inputs.run, "data_origin": "real"}), template)
    assert "DONNÉES SYNTHÉTIQUES" not in real


# ---------------------------------------------------------------------------------------
# self-contained


def test_no_external_reference_of_any_kind(report, page):
    forbidden_tags = {"script", "link", "iframe", "frame", "object", "embed", "img", "image", "base", "audio",
                      "video", "source", "track", "form", "applet", "portal"}  # <use> is checked: local #id only
    found = {tag for tag, _ in page.tags} & forbidden_tags
    assert found == set()
    for tag, attrs in page.tags:
        for name, value in attrs.items():
            value = value or ""
            assert not name.startswith("on"), (tag, name)  # no event handler: no JavaScript
            if name in ("src", "srcset", "action", "formaction", "poster", "data", "background", "ping"):
                pytest.fail(f"<{tag} {name}={value!r}>")
            if name in ("href", "xlink:href"):
                assert value.startswith("#"), (tag, name, value)
            if name == "style":
                assert not re.search(r"url\(\s*['\"]?(?!#)", value), (tag, value)
            if name == "http-equiv":
                pytest.fail(f"<meta http-equiv={value!r}>")
    style = "".join(page.style)
    assert "@import" not in style and "@font-face" not in style
    assert not re.search(r"url\(\s*['\"]?(?!#)", style)
    html = report.read_text(encoding="utf-8")
    assert "<!DOCTYPE svg" not in html and "<?xml" not in html
    # the only absolute URLs are the SVG namespaces, which no browser fetches
    for match in re.finditer(r"(?i)(?:https?:|ftp:|file:|data:|//[a-z0-9.-]+\.[a-z]{2,})", html):
        before = html[max(0, match.start() - 40):match.start()]
        assert re.search(r'xmlns(:\w+)?="(https?:)?$', before), html[match.start() - 40:match.end() + 40]
    assert "javascript:" not in html.lower()


def test_the_file_is_small(report):
    assert report.stat().st_size < 2_000_000


# ---------------------------------------------------------------------------------------
# small cells


def test_no_count_between_1_and_10_anywhere(page, published):
    counts = [text for classes, text in page.cells if "count" in classes.split()]
    assert len(counts) > 100
    for text in counts:
        value = int(text.replace(fmt.NNBSP, "")) if text not in (fmt.SUPPRESSED, fmt.MISSING) else None
        assert value is None or value == 0 or value >= published.config.monitoring.min_cell, text
    # nor in prose: "<n> foyers / contrôles / dossiers …"
    people = r"(?:foyers?|contrôles?|dossiers?|allocataires?|ménages?|cellules? masquées?)"
    for match in re.finditer(rf"(?<![\d,.])(\d+)\s+(?:{people})", page.visible):
        assert not 1 <= int(match.group(1)) <= 10, match.group(0)


def test_suppressed_rows_show_s(page, published):
    suppressed = [classes for classes, text in page.cells if text == fmt.SUPPRESSED]
    assert len(suppressed) > 20 and all("s" in classes.split() for classes in suppressed)
    table = published.tables["monitoring_representation"]
    hidden = table[(table["caf"] == NATIONAL) & table["suppressed"] & (table["selection"] == "DMDE_CONTROLLED")
                   & (table["reference"] == "SCORED_POOLED") & ~table["attribute"].str.contains("×")]
    assert len(hidden) > 0, "the fixture has national small cells"
    assert set(hidden["suppression_reason"]) <= {"PRIMARY", "SECONDARY"}
    labels = published.config.populations
    section = shown(" ".join(page.sections["representation"]))
    for row in hidden.itertuples():
        label = labels.category_label(row.attribute, row.category)
        # the category's line of the table: label, then the DMDE count « s »
        assert re.search(re.escape(label) + r" s\b", section), label


# ---------------------------------------------------------------------------------------
# numbers equal the rows


def test_numbers_shown_equal_the_table_rows(page, published):
    text = page.visible
    run = published.run
    assert f"Foyers notés {fmt.integer(run['households_scored'])}" in text
    volumes = published.tables["monitoring_volumes"]
    year = volumes[(volumes["caf"] == NATIONAL) & (volumes["window"] == "ROLLING_12") & (volumes["mode"] == "ALL")]
    n = int(year["n_dmde_controls"].iloc[0])
    rate = float(year["control_rate_per_1000"].iloc[0])
    assert f"12 mois Toutes modalités {fmt.integer(n)} {fmt.decimal(rate, 1)}" in text
    fit = published.tables["monitoring_model_fit"].set_index("predictor")
    auc = float(fit.loc["score", "auc"])
    low, high = float(fit.loc["score", "auc_ci_low"]), float(fit.loc["score", "auc_ci_high"])
    assert (f"{fmt.decimal(auc, 3)} [{fmt.decimal(low, 3)} ; {fmt.decimal(high, 3)}]") in text
    performance = published.tables["monitoring_performance"]
    random = performance[(performance["sample"] == "OPBD") & (performance["rule"] == "RANDOM")].iloc[0]
    assert (f"tous Tirage aléatoire {fmt.integer(random['n_controls'])} {fmt.percent(random['target_rate'])} "
            f"[{fmt.percent(random['target_rate_ci_low'])} ; {fmt.percent(random['target_rate_ci_high'])}]") in text
    representation = published.tables["monitoring_representation"]
    single_parents = representation[(representation["caf"] == NATIONAL) & (representation["selection"] == "TOP_DECILE")
                                    & (representation["reference"] == "SCORED")
                                    & (representation["category"] == "SINGLE_PARENT")].iloc[0]
    ratio = fmt.decimal(single_parents["representation_ratio"])
    interval = f"[{fmt.decimal(single_parents['rr_ci_low'])} ; {fmt.decimal(single_parents['rr_ci_high'])}]"
    assert f"{ratio} {interval}" in text
    assert single_parents["flag"] == "OVER"  # planted, and shown in the summary
    assert "« Famille monoparentale » (Situation familiale) en excès" in " ".join(page.sections["resume"])


def test_the_annex_shows_each_published_odds_ratio_next_to_its_re_estimate(page, published):
    section = shown(" ".join(page.sections["reestimation"]))
    rows = [r for r in published.estimates if r["term"] == "modality"]
    estimated = [r for r in rows if r["status"] == "estimated"]
    assert estimated and any(r["published_outside_ci"] for r in estimated)
    labels = {(v.name, m.code): m.label for v in published.config.model.variables for m in v.modalities}
    for r in estimated:
        interval = f"[{fmt.decimal(r['odds_ratio_ci_low'])} ; {fmt.decimal(r['odds_ratio_ci_high'])}]"
        line = (f"{labels[r['variable'], r['modality']]} {fmt.decimal(r['published_odds_ratio'])} "
                f"{fmt.decimal(r['odds_ratio'])} {interval}")
        assert line in section, line
    outside = sum(r["published_outside_ci"] for r in estimated if r["model"] == "model1")
    assert f"dont {outside} dont l'intervalle à {fmt.percent(0.95, 0)} exclut la valeur publiée" in section
    flagged_status = [text for classes, text in page.cells if "flag" in classes.split() and text == "hors intervalle"]
    assert len(flagged_status) == sum(r["published_outside_ci"] for r in estimated)
    assert "non estimable" in section
    assert len([1 for tag, attrs in page.tags if tag == "svg" and attrs.get("aria-labelledby", "").startswith("estimates-")]) == \
        len(published.config.model.model_names())


def test_without_a_re_estimation_the_annex_names_the_command(published):
    inputs = read_inputs(published.config, MONTH)
    template = (ROOT / "conf/report/monitoring.html.j2").read_text(encoding="utf-8")
    html = render_report(replace(inputs, estimates=[]), template)
    assert "dmde estimate --month 2026-02" in html and "hors intervalle" not in html


# ---------------------------------------------------------------------------------------
# determinism, command line


def test_same_tables_same_bytes(published, report, tmp_path):
    again = write_report(published.config, MONTH, tmp_path / "again.html")
    assert again.read_bytes() == report.read_bytes()


def test_dmde_report_writes_the_file_and_prints_its_path(published, capsys):
    out = published.config.data_dir / "elsewhere" / "report.html"
    assert main(["report", "--month", "2026-02", "--data-dir", str(published.config.data_dir),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed == [str(out)] and out.stat().st_size > 0


@pytest.mark.parametrize("month", ["2026-03", "2026-02"])
def test_a_month_without_monitoring_says_which_command_to_run(month, published, tmp_path, capsys):
    data_dir = published.config.data_dir if month == "2026-03" else tmp_path / "empty"
    assert main(["report", "--month", month, "--data-dir", str(data_dir)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"dmde monitor --month {month} --data-dir {data_dir}" in captured.err
    assert "Traceback" not in captured.err and len(captured.err.strip().splitlines()) == 1


def test_the_report_reads_neither_spark_nor_restricted_data():
    sources = [*sorted((ROOT / "reporting").glob("*.py")), ROOT / "jobs/report.py"]
    for path in sources:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not {m for m in imported if m.split(".")[0] == "pyspark"}, path
        text = path.read_text(encoding="utf-8")
        assert "restricted_path" not in text and "protected_attributes" not in text, path
        if path.parent.name == "reporting":
            assert not {m for m in imported if m.split(".")[0] in ("jobs", "polars", "deltalake")}, path


# ---------------------------------------------------------------------------------------
# a real browser


def _chromium() -> str | None:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    result = subprocess.run(["bash", str(ROOT / "scripts/install_chromium.sh")], capture_output=True, text=True)
    if result.returncode != 0:
        return None
    return shutil.which("chromium")


def test_the_report_renders_in_headless_chromium(report, tmp_path):
    """The page renders with its charts: a screenshot of the first screens (A4 width at
    150 dpi) is not blank and shows the charts' colours; chromium logs no console message
    and no failed load (the page has no script and loads nothing)."""
    if _chromium() is None:
        pytest.skip("chromium is not installed and scripts/install_chromium.sh could not install it "
                    "(needs root or password-less sudo, and Debian's package mirrors)")
    from PIL import Image

    shot = tmp_path / "report.png"
    result = subprocess.run(["bash", str(ROOT / "scripts/screenshot_report.sh"), str(report), str(shot), "1240,4200"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    log = result.stderr
    for marker in ("CONSOLE", "Uncaught", "net::ERR", "Failed to load", "Refused to"):
        assert marker not in log, [line for line in log.splitlines() if marker in line]
    image = Image.open(shot).convert("RGB")
    assert image.size == (1240, 4200)
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200  # text, banners, charts: far from blank
    present = {colour for _, colour in colours}

    def near(target: str) -> bool:
        r, g, b = (int(target[i:i + 2], 16) for i in (1, 3, 5))
        return any(abs(r - x) + abs(g - y) + abs(b - z) <= 12 for x, y, z in present)

    assert near("#0072B2") and near("#E69F00")  # the performance chart's two series are drawn
    # the first chart sits in the screenshot at the expected width: a band of rows holding
    # the blue bars spans most of the page's text width
    pixels = image.load()
    blue_columns = {x for y in range(0, 4200, 3) for x in range(0, 1240, 2)
                    if abs(pixels[x, y][0] - 0x00) + abs(pixels[x, y][1] - 0x72) + abs(pixels[x, y][2] - 0xB2) <= 12}
    assert blue_columns and max(blue_columns) - min(blue_columns) > 400

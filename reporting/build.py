"""From a month's published rows to what the report shows (MONITORING.md §6).

`report_context(inputs)` returns the template's context: one entry per section, each with
its quote, tables of `Cell`s (French numbers, « s » for suppressed rows, flags marked) and
its charts as inline SVG. Rows are plain records (dicts), as read from the Delta tables.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from domain.estimation import INTERCEPT, NOT_ESTIMABLE, REFERENCE
from domain.model import ModelSpec
from domain.monitoring import (
    ALL_ATTRIBUTES, ALL_LIST, FLAG_OVER, FLAG_UNDER, LIST_BANDS, NATIONAL, PSI_MODERATE, PSI_SIGNIFICANT,
    RULE_BENEFITS_6M, RULE_MODEL, RULE_RANDOM, SCORE_VARIABLE,
)
from domain.populations import PopulationsSpec
from domain.settings import MonitoringSettings
from reporting import figures as fig
from reporting import formats as fmt
from reporting.formats import Cell

FLAGS = (FLAG_OVER, FLAG_UNDER)
MODE_LABELS = {"ON_SITE": "Sur place", "DOCUMENTS": "Sur pièces", "ALL": "Toutes modalités"}
RULE_LABELS = {RULE_MODEL: "Modèle (score)", RULE_BENEFITS_6M: "Prestations des 6 derniers mois",
               RULE_RANDOM: "Tirage aléatoire", "AS_SELECTED": "Tous les contrôles DMDE",
               "ON_LIST": "Sur la liste", "OFF_LIST": "Hors liste"}
PREDICTOR_LABELS = {"score": "Score (mélange des modèles)", "benefits_6m_eur": "Prestations des 6 derniers mois"}
# (selection, reference, label, colour, marker) of the forest plot, the note's order (§8.1)
FOREST_SERIES = (
    ("DMDE_CONTROLLED", "SCORED_POOLED", "Contrôles DMDE (12 mois)", fig.COLOURS["vermilion"], "o"),
    ("TOP_DECILE", "SCORED", "Décile 1 du score", fig.COLOURS["blue"], "s"),
    ("TARGET_LIST", "SCORED", "Liste ciblée", fig.COLOURS["green"], "D"),
    ("BENEFITS_6M_TOP_DECILE", "SCORED", "Décile 1 des prestations (6 mois)", fig.COLOURS["orange"], "^"),
)
EQUAL_BURDEN = (("TOP_DECILE", "OPBD_TARGET", "Charge égale : décile 1"),
                ("DMDE_CONTROLLED", "OPBD_TARGET", "Charge égale : contrôles DMDE"))
SELECTION_LABELS = {s: label for s, _, label, _, _ in FOREST_SERIES}
REFERENCE_LABELS = {"SCORED": "foyers notés du mois", "SCORED_POOLED": "foyers notés des 12 mois",
                    "ELIGIBLE": "foyers éligibles", "OPBD_TARGET": "contrôles OPBD dans la cible"}
HORIZON_COLOURS = (fig.COLOURS["blue"], fig.COLOURS["orange"], fig.COLOURS["vermilion"], fig.COLOURS["green"])
FORESTS_PER_CHART = 22  # lines per forest plot, so that each fits half an A4 page


@dataclass(frozen=True)
class ReportInput:
    month: date
    run: dict                          # the monitoring_runs row of the published run
    tables: dict[str, list[dict]]      # the month's rows of each monitoring table
    settings: MonitoringSettings
    populations: PopulationsSpec
    model: ModelSpec
    texts: dict
    estimates: list[dict] = field(default_factory=list)  # the month's model_estimates rows, if `dmde estimate` ran


def _rows(tables: dict[str, list[dict]], table: str, **where) -> list[dict]:
    return [r for r in tables.get(table, []) if all(r.get(k) == v for k, v in where.items())]


def _one(rows: Sequence[dict]) -> dict | None:
    return rows[0] if rows else None


def _triple(row: dict | None, column: str, low: str | None = None, high: str | None = None):
    """(value, low, high) of a row's estimate; 's' when suppressed; None when absent."""
    if row is None:
        return None
    if row.get("suppressed"):
        return "s"
    value = fig.finite(row.get(column))
    if value is None:
        return None
    return (value, fig.finite(row.get(low or f"{column}_ci_low")), fig.finite(row.get(high or f"{column}_ci_high")))


class Labels:
    """French labels of attributes, categories, variables and modalities."""

    def __init__(self, populations: PopulationsSpec, model: ModelSpec) -> None:
        self.populations, self.model = populations, model

    def attribute(self, name: str) -> str:
        try:
            return self.populations.label(name)
        except Exception:  # noqa: BLE001 - a name the populations file no longer lists: show it as is
            return name

    def category(self, attribute: str, code: str) -> str:
        try:
            return self.populations.category_label(attribute, code)
        except Exception:  # noqa: BLE001
            return code

    def variable(self, name: str) -> str:
        if name == SCORE_VARIABLE:
            return "Score (répartition par tranche)"
        for variable in self.model.variables:
            if variable.name == name:
                return variable.label
        return name

    def modality(self, variable: str, code: str) -> str:
        for v in self.model.variables:
            if v.name == variable:
                for m in v.modalities:
                    if m.code == code:
                        return m.label
        return code


def _attribute_order(populations: PopulationsSpec, rows: Iterable[dict]) -> list[str]:
    present = {r["attribute"] for r in rows if r["attribute"] != ALL_ATTRIBUTES}
    listed = [a for a in populations.attributes if a in present]
    return listed + sorted(present - set(listed))


def _category_order(populations: PopulationsSpec, attribute: str, rows: Iterable[dict]) -> list[str]:
    present = {r["category"] for r in rows if r["attribute"] == attribute}
    try:
        listed = [c for c in populations.codes(attribute) if c in present]
    except Exception:  # noqa: BLE001 - intersections: sorted
        listed = []
    return listed + sorted(present - set(listed))


# ---------------------------------------------------------------------------------------
# 1. header and summary


def header_section(inp: ReportInput, texts: dict) -> dict:
    run, s = inp.run, inp.settings
    min_cell = s.min_cell
    volumes = _rows(inp.tables, "monitoring_volumes", caf=NATIONAL)
    controls = []
    for mode in ("ON_SITE", "DOCUMENTS", "ALL"):
        month_row = _one([r for r in volumes if r["window"] == "MONTH" and r["mode"] == mode])
        year_row = _one([r for r in volumes if r["window"] == "ROLLING_12" and r["mode"] == mode])
        controls.append([Cell(MODE_LABELS[mode]),
                         fmt.count_cell(month_row, "n_dmde_controls", min_cell) if month_row else Cell(fmt.MISSING),
                         fmt.count_cell(year_row, "n_dmde_controls", min_cell) if year_row else Cell(fmt.MISSING)])
    suppressed = run.get("suppressed_rows") or {}
    output = run.get("output_rows") or {}
    tables = [[Cell(name), Cell(fmt.integer(output.get(name)), ["num"]), Cell(fmt.integer(count), ["num"])]
              for name, count in sorted(suppressed.items())]
    months = texts["months"]
    facts = [
        ("Mois de notation", fmt.french_month(inp.month, months)),
        ("Modèle", run.get("model_version") or fmt.MISSING),
        ("Calcul", f"{run.get('run_id')}, terminé le {fmt.french_timestamp(run.get('finished_at'), months)}"),
        ("Version du code", run.get("code_version") or fmt.MISSING),
        ("Foyers notés", fmt.count(run.get("households_scored"), min_cell)),
        ("Fenêtre d'évaluation", f"contrôles de {fmt.french_month(run['window_start'], months)} à "
                                 f"{fmt.french_month(run['window_end'], months)}" if run.get("window_start") else
                                 fmt.MISSING),
        ("Mois de la fenêtre disponibles", f"{run.get('window_months_available')} sur {s.evaluation_months}"),
        ("Contrôles aléatoires OPBD de la fenêtre", fmt.count(run.get("opbd_controls_window"), min_cell)),
        ("Cellules masquées", f"{fmt.integer(sum(suppressed.values()))} sur "
                              f"{fmt.integer(sum(output.values()))} lignes publiées"),
    ]
    return {"facts": facts, "controls": controls, "tables": tables}


SUMMARY_ITEMS = 4  # per family; the sections list the rest


def _magnitude(ratio) -> float:
    ratio = fig.finite(ratio)
    return abs(math.log(ratio)) if ratio else 0.0  # a zero share (no interval to speak of) last


def _grouped_flags(rows: Iterable[dict], ratio: str, where, labels: Labels) -> tuple[list[str], int]:
    """National flags grouped by category and direction, the largest departures first:
    '« Famille monoparentale » (Situation familiale) sur-représentée : décile 1, liste'."""
    groups: dict[tuple, dict] = {}
    for r in rows:
        if "×" in r["attribute"]:
            continue  # intersections: in their section only
        key = (r["attribute"], r["category"], r["flag"])
        group = groups.setdefault(key, {"magnitude": 0.0, "where": []})
        group["magnitude"] = max(group["magnitude"], _magnitude(r.get(ratio)))
        label = where(r)
        if label not in group["where"]:
            group["where"].append(label)
    ordered = sorted(groups.items(), key=lambda item: (-item[1]["magnitude"], item[0]))
    items = []
    for (attribute, category, flag), group in ordered[:SUMMARY_ITEMS]:
        word = "en excès" if flag == FLAG_OVER else "en défaut"
        items.append(f"« {labels.category(attribute, category)} » ({labels.attribute(attribute)}) {word} : "
                     f"{', '.join(group['where'])}")
    return items, max(0, len(ordered) - SUMMARY_ITEMS)


def summary(inp: ReportInput, labels: Labels) -> dict:
    """One paragraph: what is flagged nationally, family by family (largest departures
    first, the rest counted), then how many Caf cells are flagged."""
    families = []
    caf_flags = 0

    def national_flags(table: str) -> list[dict]:
        nonlocal caf_flags
        rows = [r for r in inp.tables.get(table, []) if r.get("flag") in FLAGS]
        caf_flags += sum(1 for r in rows if r["caf"] != NATIONAL)
        return [r for r in rows if r["caf"] == NATIONAL]

    def family(table: str, ratio: str, where, name: str, section: str, keep=lambda r: True) -> int:
        rows = [r for r in national_flags(table) if keep(r)]
        items, more = _grouped_flags(rows, ratio, where, labels)
        if items:
            families.append({"name": name, "items": items, "more": more, "section": section})
        return len(rows)

    total = family("monitoring_representation", "representation_ratio",
                   lambda r: f"{SELECTION_LABELS.get(r['selection'], r['selection']).lower()} / "
                             f"{REFERENCE_LABELS.get(r['reference'], r['reference'])}",
                   "Représentation", "representation")
    total += family("monitoring_parity", "disparity",
                    lambda r: f"{'faux positifs' if r['metric'] == 'fpr' else 'précision'} "
                              f"({RULE_LABELS.get(r['rule'], r['rule']).lower()}, {fmt.percent(r['fraction'], 0)})",
                    "Parité", "parite", keep=lambda r: r["metric"] in ("fpr", "precision"))
    total += family("monitoring_human_decisiveness", "controlled_ratio_vs_band",
                    lambda r: f"{_band_label(r['band']).lower()} à {r['horizon_months']} mois",
                    "Décision humaine (part contrôlée)", "decision-humaine")
    drift, seen = [], set()
    for r in inp.tables.get("monitoring_drift", []):
        moving = r.get("psi_status") in (PSI_MODERATE, PSI_SIGNIFICANT)
        if moving and (r["caf"], r["variable"]) not in seen:
            seen.add((r["caf"], r["variable"]))
            if r["caf"] != NATIONAL:
                caf_flags += 1
            else:
                word = "modérée" if r["psi_status"] == PSI_MODERATE else "importante"
                drift.append(f"« {labels.variable(r['variable'])} » dérive {word} (PSI {fmt.decimal(r['psi_variable'], 3)})")
        if r["caf"] == NATIONAL and r.get("target_rate_flag"):
            drift.append(f"taux de cible OPBD de « {labels.modality(r['variable'], r['modality'])} » "
                         f"{fmt.percent(r['target_rate_opbd'])} contre {fmt.percent(r['target_share_published'], 0)} publié")
    if drift:
        families.append({"name": "Dérive", "items": drift[:SUMMARY_ITEMS],
                         "more": max(0, len(drift) - SUMMARY_ITEMS), "section": "derive"})
    model = []
    score_fit = _one(_rows(inp.tables, "monitoring_model_fit", predictor="score"))
    if score_fit and score_fit.get("o_e_ratio_ci_low") is not None and (
            score_fit["o_e_ratio_ci_low"] > 1 or score_fit["o_e_ratio_ci_high"] < 1):
        model.append(f"rapport observé / attendu du score {fmt.decimal(score_fit['o_e_ratio'])} "
                     f"{fmt.interval(score_fit['o_e_ratio_ci_low'], score_fit['o_e_ratio_ci_high'], fmt.decimal)}")
    for r in _rows(inp.tables, "monitoring_performance", sample="OPBD", rule=RULE_MODEL):
        high = r.get("diff_vs_benefits_pts_ci_high")
        if high is not None and high < 0:
            model.append(f"à {fmt.percent(r['fraction'], 1)} des rangs, moins de cibles que la sélection par les "
                         f"prestations ({fmt.points(r['diff_vs_benefits_pts'])})")
    if model:
        families.append({"name": "Performance et calibration", "items": model, "more": 0, "section": "calibration"})
    return {"families": families, "caf_flags": caf_flags, "national_flags": total,
            "cells_tested": fmt.integer(inp.run.get("cells_tested"))}


# ---------------------------------------------------------------------------------------
# 2. performance, 3. calibration


def _decile_series(rows: list[dict], rule: str, label: str, colour: str, column: str = "observed_rate") -> fig.Series:
    by_decile = {r["decile"]: r for r in rows if r["rule"] == rule}
    return fig.Series(label, colour, values=[_triple(by_decile.get(d), column) for d in range(1, 11)])


def performance_section(inp: ReportInput, texts: dict, labels: Labels) -> dict:
    s, min_cell = inp.settings, inp.settings.min_cell
    calibration = _rows(inp.tables, "monitoring_calibration", caf=NATIONAL, sample="OPBD")
    random = _one(_rows(inp.tables, "monitoring_performance", sample="OPBD", rule=RULE_RANDOM))
    chart = fig.decile_bars(
        "perf-deciles",
        [_decile_series(calibration, RULE_MODEL, RULE_LABELS[RULE_MODEL], fig.COLOURS["blue"]),
         _decile_series(calibration, RULE_BENEFITS_6M, RULE_LABELS[RULE_BENEFITS_6M], fig.COLOURS["orange"])],
        _triple(random, "target_rate") if random and not random.get("suppressed") else None,
        ylabel="Contrôles OPBD dans la cible (%)",
        xlabel="Décile national (1 = score ou prestations les plus élevés)",
        random_label="Tirage aléatoire (intervalle)")
    opbd = []
    rows = _rows(inp.tables, "monitoring_performance", sample="OPBD")
    order = {RULE_MODEL: 0, RULE_BENEFITS_6M: 1, RULE_RANDOM: 2}
    for r in sorted(rows, key=lambda r: (r["rule"] == RULE_RANDOM, r["fraction"] or 0, order.get(r["rule"], 9))):
        opbd.append({"flag": False, "cells": [
            Cell(fmt.percent(r["fraction"], 1) if r["rule"] != RULE_RANDOM else "tous"),
            Cell(RULE_LABELS.get(r["rule"], r["rule"])),
            fmt.count_cell(r, "n_controls", min_cell),
            fmt.value_cell(r, "target_rate", fmt.percent, ci=True),
            fmt.value_cell(r, "capture_rate", fmt.percent, ci=True),
            fmt.value_cell(r, "lift_vs_random", fmt.decimal, ci=True),
            fmt.value_cell(r, "diff_vs_benefits_pts", fmt.points, ci=True) if r["rule"] == RULE_MODEL else Cell(""),
            fmt.value_cell(r, "mean_overpayment_eur", fmt.euros, ci=True),
            fmt.value_cell(r, "median_overpayment_if_any_eur", fmt.euros, ci=True),
            fmt.value_cell(r, "underpayment_rate", fmt.percent, ci=True),
        ]})
    dmde = []
    for rule in ("AS_SELECTED", "ON_LIST", "OFF_LIST"):
        for mode in ("ALL", "ON_SITE", "DOCUMENTS"):
            r = _one(_rows(inp.tables, "monitoring_performance", caf=NATIONAL, sample="DMDE", rule=rule, mode=mode))
            if r is None:
                continue
            dmde.append([
                Cell(RULE_LABELS[rule]), Cell(MODE_LABELS[mode]), fmt.count_cell(r, "n_controls", min_cell),
                fmt.value_cell(r, "target_rate", fmt.percent, ci=True),
                fmt.value_cell(r, "overpayment_rate", fmt.percent, ci=True),
                fmt.value_cell(r, "mean_overpayment_eur", fmt.euros, ci=True),
                fmt.value_cell(r, "median_overpayment_if_any_eur", fmt.euros, ci=True),
                fmt.value_cell(r, "underpayment_rate", fmt.percent, ci=True),
                fmt.value_cell(r, "median_underpayment_if_any_eur", fmt.euros, ci=True),
                fmt.value_cell(r, "fraud_rate", fmt.percent),
            ])
    auc = []
    for r in _rows(inp.tables, "monitoring_model_fit", caf=NATIONAL):
        auc.append([Cell(PREDICTOR_LABELS.get(r["predictor"], _probability_label(inp.model, r["predictor"]))),
                    fmt.count_cell(r, "n_controls", min_cell), fmt.value_cell(r, "auc", lambda v: fmt.decimal(v, 3), ci=True),
                    fmt.value_cell(r, "auc_diff_vs_benefits_6m", lambda v: fmt.decimal(v, 3), ci=True)
                    if r["predictor"] != "benefits_6m_eur" else Cell("")])
    level = fmt.percent(s.bootstrap.level, 0)
    return {"chart": chart, "caption": texts["chart"].format(level=level), "opbd": opbd, "dmde": dmde, "auc": auc}


def _probability_label(model: ModelSpec, predictor: str) -> str:
    name = predictor.removeprefix("p_")
    info = model.models.get(name)
    return f"Probabilité, {info.label}" if info is not None else predictor


def calibration_section(inp: ReportInput, texts: dict) -> dict:
    min_cell = inp.settings.min_cell
    rows = _rows(inp.tables, "monitoring_calibration", caf=NATIONAL, sample="OPBD", rule=RULE_MODEL)
    points = [(r["decile"], fig.finite(r.get("mean_predicted")), fig.finite(r.get("observed_rate")),
               fig.finite(r.get("observed_rate_ci_low")), fig.finite(r.get("observed_rate_ci_high")))
              for r in sorted(rows, key=lambda r: r["decile"]) if not r.get("suppressed")]
    chart = fig.calibration("calibration", points, xlabel="Probabilité prédite moyenne (%)",
                            ylabel="Contrôles OPBD dans la cible (%)", legend="Décile du score (OPBD)",
                            diagonal_label="Calibration parfaite")
    deciles = []
    for sample in ("OPBD", "DMDE"):
        for r in sorted(_rows(inp.tables, "monitoring_calibration", caf=NATIONAL, sample=sample, rule=RULE_MODEL),
                        key=lambda r: r["decile"]):
            deciles.append([Cell(sample), Cell(str(r["decile"])), fmt.count_cell(r, "n_controls", min_cell),
                            fmt.value_cell(r, "mean_predicted", fmt.percent),
                            fmt.value_cell(r, "observed_rate", fmt.percent, ci=True),
                            fmt.value_cell(r, "o_e_ratio", fmt.decimal, ci=True),
                            fmt.value_cell(r, "overpayment_rate", fmt.percent),
                            fmt.value_cell(r, "underpayment_rate", fmt.percent)])
    fits, warning = [], None
    for r in _rows(inp.tables, "monitoring_model_fit", caf=NATIONAL):
        if r["predictor"] == "benefits_6m_eur":
            continue
        fits.append([Cell(PREDICTOR_LABELS.get(r["predictor"], _probability_label(inp.model, r["predictor"]))),
                     fmt.value_cell(r, "mean_predicted", fmt.percent), fmt.value_cell(r, "observed_rate", fmt.percent),
                     fmt.value_cell(r, "o_e_ratio", fmt.decimal, ci=True),
                     fmt.value_cell(r, "calibration_intercept", fmt.decimal),
                     fmt.value_cell(r, "calibration_slope", fmt.decimal, ci=True),
                     fmt.value_cell(r, "brier", lambda v: fmt.decimal(v, 3))])
        n, overlap = r.get("n_controls"), r.get("n_in_calibration_window")
        if r["predictor"] == "score" and n and overlap:
            warning = texts["overlap_all"] if overlap >= n else texts["overlap_some"].format(
                share=fmt.percent(overlap / n, 0).capitalize())
    level = fmt.percent(inp.settings.bootstrap.level, 0)
    return {"chart": chart, "caption": texts["chart"].format(level=level), "deciles": deciles, "fits": fits,
            "warning": warning}


# ---------------------------------------------------------------------------------------
# 4. representation, 5. parity, 6. human decisiveness


def _chunks(lines: list[fig.ForestLine], size: int) -> list[list[fig.ForestLine]]:
    """Forest lines cut between attributes, at most `size` lines per chart when possible."""
    chunks, current = [], []
    for line in lines:
        if line.header and current and len(current) >= size * 0.6:
            chunks.append(current)
            current = []
        current.append(line)
        if len(current) >= size and not line.header:
            chunks.append(current)
            current = []
    if current:
        chunks.append(current)
    return chunks


def representation_section(inp: ReportInput, texts: dict, labels: Labels) -> dict:
    s, min_cell = inp.settings, inp.settings.min_cell
    national = [r for r in inp.tables.get("monitoring_representation", []) if r["caf"] == NATIONAL]
    index = {(r["selection"], r["reference"], r["attribute"], r["category"]): r for r in national}
    attributes = _attribute_order(inp.populations, national)
    lines, table = [], []
    for attribute in attributes:
        single = "×" not in attribute
        if single:
            lines.append(fig.ForestLine(labels.attribute(attribute), header=True))
        table.append({"header": labels.attribute(attribute)})
        for category in _category_order(inp.populations, attribute, national):
            found = {sel: index.get((sel, ref, attribute, category)) for sel, ref, *_ in FOREST_SERIES}
            burden = {label: index.get((sel, ref, attribute, category)) for sel, ref, label in EQUAL_BURDEN}
            flagged = any(r is not None and r.get("flag") in FLAGS for r in [*found.values(), *burden.values()])
            if single:
                lines.append(fig.ForestLine(f"  {labels.category(attribute, category)}", bold=flagged,
                                            values={sel: _triple(r, "representation_ratio", "rr_ci_low", "rr_ci_high")
                                                    for sel, r in found.items()}))
            cells = [Cell(labels.category(attribute, category))]
            first = found.get("DMDE_CONTROLLED") or found.get("TOP_DECILE")
            cells.append(fmt.count_cell(first, "n_selected", min_cell) if first else Cell(fmt.MISSING))
            for r in [*found.values(), *burden.values()]:
                cells.append(_ratio_cell(r))
            table.append({"flag": flagged, "cells": cells})
    limits = fig.forest_limits(lines, s.band)
    charts = [fig.forest(f"representation-{i}", chunk,
                         [(sel, label, colour, marker) for sel, _, label, colour, marker in FOREST_SERIES], s.band,
                         xlabel="Rapport de représentation (échelle log ; 1 = proportionnelle)",
                         band_label=f"Bande {fmt.decimal(s.band[0])} – {fmt.decimal(s.band[1])}", limits=limits)
              for i, chunk in enumerate(_chunks(lines, FORESTS_PER_CHART))]
    caf_flags = []
    for r in inp.tables.get("monitoring_representation", []):
        if r["caf"] != NATIONAL and r.get("flag") in FLAGS:
            caf_flags.append({"flag": True, "cells": [
                Cell(r["caf"]), Cell(f"{SELECTION_LABELS.get(r['selection'], r['selection'])} / "
                                     f"{REFERENCE_LABELS.get(r['reference'], r['reference'])}"),
                Cell(f"{labels.attribute(r['attribute'])} : {labels.category(r['attribute'], r['category'])}"),
                fmt.count_cell(r, "n_selected", min_cell), _ratio_cell(r)]})
    caf_flags.sort(key=lambda row: (row["cells"][0].text, row["cells"][1].text, row["cells"][2].text))
    level = fmt.percent(s.bootstrap.level, 0)
    band = f"{fmt.decimal(s.band[0])} – {fmt.decimal(s.band[1])}"
    headers = ["Catégorie", "Contrôlés DMDE", *(label for *_, label, _c, _m in FOREST_SERIES),
               *(label for *_, label in EQUAL_BURDEN)]
    return {"charts": charts, "caption": texts["chart"].format(level=level, band=band), "table": table,
            "headers": headers, "caf_flags": caf_flags[:40], "caf_flags_more": max(0, len(caf_flags) - 40)}


def _ratio_cell(row: dict | None, column: str = "representation_ratio", low: str = "rr_ci_low",
                high: str = "rr_ci_high") -> Cell:
    if row is None:
        return Cell(fmt.MISSING)
    if row.get("suppressed"):
        return fmt.suppressed_cell()
    classes = ["num", "flag"] if row.get("flag") in FLAGS else ["num"]
    return Cell(fmt.decimal(row.get(column)), classes, fmt.interval(row.get(low), row.get(high), fmt.decimal))


def parity_section(inp: ReportInput, texts: dict, labels: Labels) -> dict:
    s, min_cell = inp.settings, inp.settings.min_cell
    fraction = min(s.parity_fractions, key=lambda q: abs(q - 0.10))
    rows = [r for r in inp.tables.get("monitoring_parity", []) if r["fraction"] == fraction]
    index = {(r["rule"], r["attribute"], r["category"], r["metric"]): r for r in rows}
    table = []
    for attribute in _attribute_order(inp.populations, rows):
        table.append({"header": labels.attribute(attribute)})
        for category in _category_order(inp.populations, attribute, rows):
            fpr, precision = index.get((RULE_MODEL, attribute, category, "fpr")), index.get(
                (RULE_MODEL, attribute, category, "precision"))
            base_fpr, base_precision = index.get((RULE_BENEFITS_6M, attribute, category, "fpr")), index.get(
                (RULE_BENEFITS_6M, attribute, category, "precision"))
            found = [fpr, precision, base_fpr, base_precision]
            reference = any(r is not None and r.get("ref_category") == category for r in found)
            flagged = any(r is not None and r.get("flag") in FLAGS for r in found)
            cells = [Cell(labels.category(attribute, category) + (" (réf.)" if reference else "")),
                     fmt.count_cell(fpr, "group_size", min_cell) if fpr else Cell(fmt.MISSING)]
            for r in found:
                cells.append(fmt.value_cell(r, "value", fmt.percent) if r else Cell(fmt.MISSING))
                cells.append(_ratio_cell(r, "disparity", "disparity_ci_low", "disparity_ci_high"))
            table.append({"flag": flagged, "cells": cells})
    level = fmt.percent(s.bootstrap.level, 0)
    return {"table": table, "caption": texts["table"].format(fraction=fmt.percent(fraction, 0), level=level)}


def _band_label(band: str) -> str:
    if band.startswith("LIST_Q"):
        return f"Liste, quartile {band[-1]}"
    if band == "OFF_LIST_DECILE_1":
        return "Décile 1 hors liste"
    if band.startswith("DECILE_"):
        return f"Décile {band.split('_')[1]}"
    return "Toute la liste" if band == ALL_LIST else band


def _band_order(bands: Iterable[str]) -> list[str]:
    def key(band: str):
        if band in LIST_BANDS:
            return (0, LIST_BANDS.index(band))
        if band == "OFF_LIST_DECILE_1":
            return (1, 1)
        if band.startswith("DECILE_"):
            return (1, int(band.split("_")[1]))
        return (2, 0)
    return sorted({b for b in bands if b != ALL_LIST}, key=key)


def decisiveness_section(inp: ReportInput, texts: dict, labels: Labels) -> dict:
    s, min_cell = inp.settings, inp.settings.min_cell
    national = [r for r in inp.tables.get("monitoring_human_decisiveness", []) if r["caf"] == NATIONAL]
    totals = [r for r in national if r["attribute"] == ALL_ATTRIBUTES]
    bands = _band_order(r["band"] for r in totals)
    horizons = sorted({r["horizon_months"] for r in national})
    series = []
    for i, horizon in enumerate(horizons):
        by_band = {r["band"]: r for r in totals if r["horizon_months"] == horizon}
        series.append(fig.Series(f"{horizon} mois", HORIZON_COLOURS[i % len(HORIZON_COLOURS)], "os^D"[i % 4],
                                 values=[_triple(by_band.get(b), "share_not_controlled") for b in bands]))
    chart = fig.band_lines("decisiveness-bands", [_band_label(b) for b in bands], series,
                           ylabel="Foyers non contrôlés (%)", xlabel="Tranche de la cohorte (liste du mois M−N)")
    listed = [r for r in national if r["band"] == ALL_LIST and r["attribute"] != ALL_ATTRIBUTES
              and "×" not in r["attribute"]]
    index = {(r["horizon_months"], r["attribute"], r["category"]): r for r in listed}
    lines = []
    for attribute in _attribute_order(inp.populations, listed):
        lines.append(fig.ForestLine(labels.attribute(attribute), header=True))
        for category in _category_order(inp.populations, attribute, listed):
            found = {h: index.get((h, attribute, category)) for h in horizons}
            lines.append(fig.ForestLine(f"  {labels.category(attribute, category)}",
                                        bold=any(r is not None and r.get("flag") in FLAGS for r in found.values()),
                                        values={h: _triple(r, "controlled_ratio_vs_band") for h, r in found.items()}))
    forest_series = [(h, f"{h} mois", HORIZON_COLOURS[i % len(HORIZON_COLOURS)], "os^D"[i % 4])
                     for i, h in enumerate(horizons)]
    limits = fig.forest_limits(lines, s.band)
    forests = [fig.forest(f"decisiveness-{i}", chunk, forest_series, s.band,
                          xlabel="Part contrôlée de la catégorie / part contrôlée de la liste (échelle log)",
                          band_label=f"Bande {fmt.decimal(s.band[0])} – {fmt.decimal(s.band[1])}", limits=limits)
               for i, chunk in enumerate(_chunks(lines, FORESTS_PER_CHART))]
    table = []
    for horizon in horizons:
        for band in [*bands, ALL_LIST]:
            r = _one([t for t in totals if t["horizon_months"] == horizon and t["band"] == band])
            if r is None:
                continue
            table.append([Cell(f"{horizon} mois"), Cell(_band_label(band)), fmt.count_cell(r, "n_households", min_cell),
                          fmt.count_cell(r, "n_controlled_dmde", min_cell),
                          fmt.value_cell(r, "share_not_controlled", fmt.percent, ci=True),
                          fmt.value_cell(r, "median_months_to_control", lambda v: fmt.decimal(v, 1))])
    flagged = []
    for r in inp.tables.get("monitoring_human_decisiveness", []):
        if r.get("flag") in FLAGS:
            flagged.append({"flag": True, "cells": [
                Cell("France" if r["caf"] == NATIONAL else f"Caf {r['caf']}"), Cell(f"{r['horizon_months']} mois"),
                Cell(_band_label(r["band"])),
                Cell(f"{labels.attribute(r['attribute'])} : {labels.category(r['attribute'], r['category'])}"),
                fmt.count_cell(r, "n_households", min_cell),
                _ratio_cell(r, "controlled_ratio_vs_band", "controlled_ratio_vs_band_ci_low",
                            "controlled_ratio_vs_band_ci_high")]})
    level = fmt.percent(s.bootstrap.level, 0)
    band = f"{fmt.decimal(s.band[0])} – {fmt.decimal(s.band[1])}"
    return {"chart": chart, "caption": texts["chart"].format(level=level), "forests": forests,
            "forest_caption": texts["forest"].format(level=level, band=band), "table": table, "flagged": flagged}


# ---------------------------------------------------------------------------------------
# 7. volumes, 8. drift


def volumes_section(inp: ReportInput, texts: dict) -> dict:
    min_cell = inp.settings.min_cell
    rows = inp.tables.get("monitoring_volumes", [])
    year = [r for r in rows if r["window"] == "ROLLING_12"]
    by_caf: dict[str, dict[str, dict]] = {}
    for r in year:
        by_caf.setdefault(r["caf"], {})[r["mode"]] = r
    cafs = sorted((c for c in by_caf if c != NATIONAL),
                  key=lambda c: (-(fig.finite(by_caf[c].get("ALL", {}).get("control_rate_per_1000")) or -1), c))
    series = []
    for mode, colour, marker in (("ALL", fig.COLOURS["black"], "o"), ("DOCUMENTS", fig.COLOURS["blue"], "s"),
                                 ("ON_SITE", fig.COLOURS["orange"], "^")):
        values = []
        for c in cafs:
            r = by_caf[c].get(mode)
            values.append(None if r is None or r.get("suppressed") else fig.finite(r.get("control_rate_per_1000")))
        series.append(fig.Series(MODE_LABELS[mode], colour, marker, values))
    national = {MODE_LABELS[m]: fig.finite(r.get("control_rate_per_1000")) for m, r in by_caf.get(NATIONAL, {}).items()
                if not r.get("suppressed")}
    chart = fig.caf_dots("volumes-cafs", series, national, ylabel="Contrôles DMDE pour 1 000 foyers, par an",
                         xlabel=f"Caf, de la plus contrôlée à la moins contrôlée ({len(cafs)} Caf)",
                         national_label="Taux national")
    nat = []
    for window in ("MONTH", "ROLLING_12"):
        for mode in ("ALL", "ON_SITE", "DOCUMENTS"):
            r = _one([x for x in rows if x["caf"] == NATIONAL and x["window"] == window and x["mode"] == mode])
            if r is None:
                continue
            nat.append([Cell("Mois M−1" if window == "MONTH" else "12 mois"), Cell(MODE_LABELS[mode]),
                        fmt.count_cell(r, "n_dmde_controls", min_cell),
                        fmt.value_cell(r, "control_rate_per_1000", lambda v: fmt.decimal(v, 1)),
                        fmt.value_cell(r, "capacity_use", fmt.percent), fmt.value_cell(r, "share_on_list", fmt.percent),
                        fmt.value_cell(r, "share_top_decile", fmt.percent),
                        fmt.value_cell(r, "median_percentile_in_caf", lambda v: fmt.decimal(v, 0)),
                        fmt.value_cell(r, "p90_percentile_in_caf", lambda v: fmt.decimal(v, 0)),
                        fmt.value_cell(r, "financial_impact_rate", fmt.percent),
                        fmt.value_cell(r, "fraud_rate", fmt.percent)])
    on_site = _one([x for x in year if x["caf"] == NATIONAL and x["mode"] == "ON_SITE"])
    everything = _one([x for x in year if x["caf"] == NATIONAL and x["mode"] == "ALL"])
    on_site_share = None
    if on_site and everything and not on_site.get("suppressed") and everything.get("n_dmde_controls"):
        on_site_share = fmt.percent(on_site["n_dmde_controls"] / everything["n_dmde_controls"], 0)
    published = [c for c in cafs if not by_caf[c].get("ALL", {}).get("suppressed")
                 and fig.finite(by_caf[c].get("ALL", {}).get("control_rate_per_1000")) is not None]

    def caf_row(c: str) -> list[Cell]:
        r = by_caf[c]["ALL"]
        return [Cell(c), fmt.count_cell(r, "n_dmde_controls", min_cell),
                fmt.value_cell(r, "control_rate_per_1000", lambda v: fmt.decimal(v, 1)),
                fmt.value_cell(r, "capacity_use", fmt.percent),
                fmt.value_cell(r, "median_percentile_in_caf", lambda v: fmt.decimal(v, 0)),
                fmt.value_cell(r, "p90_percentile_in_caf", lambda v: fmt.decimal(v, 0))]
    return {"chart": chart, "caption": texts["chart"], "national": nat, "on_site_share": on_site_share,
            "highest": [caf_row(c) for c in published[:5]], "lowest": [caf_row(c) for c in published[-5:][::-1]],
            "suppressed_cafs": len(cafs) - len(published), "references": texts["references"]}


def drift_section(inp: ReportInput, texts: dict, labels: Labels) -> dict:
    s, min_cell = inp.settings, inp.settings.min_cell
    national = [r for r in inp.tables.get("monitoring_drift", []) if r["caf"] == NATIONAL]
    variables = []
    for r in national:
        if r["variable"] not in [v["name"] for v in variables]:
            variables.append({"name": r["variable"], "row": r})
    order = {v.name: i for i, v in enumerate(inp.model.variables)}
    variables.sort(key=lambda v: order.get(v["name"], len(order)))
    flagged = [v["row"].get("psi_status") in (PSI_MODERATE, PSI_SIGNIFICANT) for v in variables]
    chart = fig.psi_bars("drift-psi", [labels.variable(v["name"])[:60] for v in variables],
                         [fig.finite(v["row"].get("psi_variable")) for v in variables], flagged,
                         [(s.psi.moderate, f"modéré ({fmt.decimal(s.psi.moderate)})"),
                          (s.psi.significant, f"important ({fmt.decimal(s.psi.significant)})")],
                         xlabel="PSI (sans unité)")
    psi_table = []
    for v, is_flagged in zip(variables, flagged):
        r = v["row"]
        psi_table.append({"flag": is_flagged, "cells": [
            Cell(labels.variable(v["name"])), Cell(fmt.decimal(r.get("psi_variable"), 3), ["num"]),
            Cell({"STABLE": "stable", "MODERATE": "modérée", "SIGNIFICANT": "importante"}.get(r.get("psi_status"), "–"),
                 ["flag"] if is_flagged else []),
            Cell(fmt.decimal(r.get("psi_vs_previous_month"), 3), ["num"])]})
    moving = sorted((r for r in national if r["variable"] != SCORE_VARIABLE and fig.finite(r.get("share_diff_pts"))
                     is not None), key=lambda r: (-abs(r["share_diff_pts"]), r["variable"], r["modality"]))[:5]
    modalities = [[Cell(labels.variable(r["variable"])), Cell(labels.modality(r["variable"], r["modality"])),
                   fmt.value_cell(r, "share_published", fmt.percent), fmt.value_cell(r, "share_population", fmt.percent),
                   fmt.value_cell(r, "share_diff_pts", fmt.points), fmt.value_cell(r, "psi_term", lambda v: fmt.decimal(v, 4))]
                  for r in moving]
    targets = [{"flag": True, "cells": [
        Cell(labels.variable(r["variable"])), Cell(labels.modality(r["variable"], r["modality"])),
        fmt.count_cell(r, "n_opbd", min_cell), fmt.value_cell(r, "target_rate_opbd", fmt.percent, ci=True),
        Cell(fmt.percent(r.get("target_share_published"), 0), ["num"])]}
        for r in national if r.get("target_rate_flag")]
    score = _one([r for r in national if r["variable"] == SCORE_VARIABLE])
    caf_moving = sorted({(r["caf"], r["variable"]) for r in inp.tables.get("monitoring_drift", [])
                         if r["caf"] != NATIONAL and r.get("psi_status") in (PSI_MODERATE, PSI_SIGNIFICANT)})
    return {"chart": chart, "caption": texts["chart"], "psi": psi_table, "modalities": modalities, "targets": targets,
            "score_reference": fmt.french_month(score["reference_month"], inp.texts["months"])
            if score and score.get("reference_month") else None,
            "caf_moving": [f"Caf {c} : {labels.variable(v)}" for c, v in caf_moving]}


# ---------------------------------------------------------------------------------------
# annex: the odds ratios re-estimated on the OPBD sample (`dmde estimate`)

ESTIMATE_STATUS = {REFERENCE: "référence", NOT_ESTIMABLE: "non estimable"}


def _odds_ratio(value) -> str:
    return fmt.decimal(value, 2)


def estimates_section(inp: ReportInput, texts: dict, labels: Labels) -> dict:
    """Per model: the published odds ratios next to the ones `dmde estimate` found on the
    month's OPBD sample (95 % interval), the modalities whose interval excludes the
    published value flagged; a forest plot of both. Absent: the command that computes them."""
    if not inp.estimates:
        return {"available": False, "command": f"dmde estimate --month {inp.month:%Y-%m}"}
    min_cell, models = inp.settings.min_cell, []
    for name in inp.model.model_names():
        rows = [r for r in inp.estimates if r["model"] == name]
        intercept = _one([r for r in rows if r["term"] == INTERCEPT])
        if intercept is None:
            continue
        by_term = {(r["variable"], r["modality"]): r for r in rows if r["term"] != INTERCEPT}
        lines, table = [], []
        for variable in inp.model.variables_of(name):
            lines.append(fig.ForestLine(variable.label, header=True))
            table.append({"header": variable.label})
            for modality in variable.modalities:
                r = by_term.get((variable.name, modality.code))
                if r is None:
                    continue
                outside = bool(r.get("published_outside_ci"))
                estimated = fig.finite(r.get("odds_ratio"))
                lines.append(fig.ForestLine(f"  {modality.label}", bold=outside, values={
                    "published": (r["published_odds_ratio"], None, None),
                    "estimated": (estimated, fig.finite(r.get("odds_ratio_ci_low")),
                                  fig.finite(r.get("odds_ratio_ci_high"))) if estimated else None}))
                shown = r["status"] not in ESTIMATE_STATUS
                table.append({"flag": outside, "cells": [
                    Cell(modality.label), Cell(_odds_ratio(r["published_odds_ratio"]), ["num"]),
                    Cell(_odds_ratio(estimated) if shown else fmt.MISSING, ["num"],
                         fmt.interval(r.get("odds_ratio_ci_low"), r.get("odds_ratio_ci_high"), _odds_ratio)
                         if shown else ""),
                    Cell(fmt.decimal(r.get("p_value"), 3) if shown else fmt.MISSING, ["num"]),
                    fmt.count_cell(r, "n_sample", min_cell), fmt.count_cell(r, "n_target", min_cell),
                    Cell(ESTIMATE_STATUS.get(r["status"], "hors intervalle" if outside else "estimé"),
                         ["flag"] if outside else [])]})
        estimated = [r for r in rows if r["term"] != INTERCEPT and r["status"] not in ESTIMATE_STATUS]
        outside = [r for r in estimated if r.get("published_outside_ci")]
        level = fmt.percent(intercept.get("confidence_level"), 0)
        constant_interval = fmt.interval(intercept.get("coefficient_ci_low"), intercept.get("coefficient_ci_high"),
                                         lambda v: fmt.decimal(v, 3))
        models.append({
            "label": inp.model.models[name].label, "name": name,
            "facts": [
                ("Échantillon", f"{fmt.count(intercept.get('n_sample'), min_cell)} contrôles OPBD, dont "
                                f"{fmt.count(intercept.get('n_target'), min_cell)} dans la cible"),
                ("Constante", f"{fmt.decimal(intercept.get('coefficient'), 3)} {constant_interval}"),
                ("Rapports de cotes estimés", f"{len(estimated)}, dont {len(outside)} dont l'intervalle à {level} "
                                              "exclut la valeur publiée"),
                ("Non estimables", str(sum(r["status"] == NOT_ESTIMABLE for r in rows)))],
            "chart": fig.forest(f"estimates-{name}", lines,
                                [("published", "Publié (note)", fig.COLOURS["vermilion"], "D"),
                                 ("estimated", f"Ré-estimé, intervalle à {level}", fig.COLOURS["blue"], "o")],
                                None, xlabel="Rapport de cotes (échelle logarithmique)", band_label=""),
            "table": table})
    return {"available": True, "models": models, "caption": texts["chart"], "run_id": inp.estimates[0].get("run_id"),
            "model_version": inp.estimates[0].get("model_version")}


# ---------------------------------------------------------------------------------------
# 9. method, and the whole


def method_section(inp: ReportInput) -> dict:
    s, run = inp.settings, inp.run
    flagged = run.get("flagged_rows") or {}
    return {
        "level": fmt.percent(s.bootstrap.level, 0), "replicates": fmt.integer(s.bootstrap.replicates),
        "seed": str(s.bootstrap.seed), "min_cell": s.min_cell,
        "band": f"{fmt.decimal(s.band[0])} – {fmt.decimal(s.band[1])}",
        "psi_moderate": fmt.decimal(s.psi.moderate), "psi_significant": fmt.decimal(s.psi.significant),
        "psi_floor": fmt.decimal(s.psi.floor, 4), "evaluation_months": s.evaluation_months,
        "horizons": ", ".join(str(h) for h in s.horizons_months),
        "fractions": ", ".join(fmt.percent(q, 1) for q in s.fractions),
        "cells_tested": fmt.integer(run.get("cells_tested")), "flagged": fmt.integer(sum(flagged.values())),
        "code_version": run.get("code_version") or fmt.MISSING, "model_version": run.get("model_version") or fmt.MISSING,
        "run_id": run.get("run_id"), "data_origin": run.get("data_origin"),
        "glossary": inp.texts["glossary"],
    }


def report_context(inp: ReportInput) -> dict:
    texts, labels = inp.texts, Labels(inp.populations, inp.model)
    sections = texts["sections"]
    origin = inp.run.get("data_origin")
    band = f"{fmt.decimal(inp.settings.band[0])} – {fmt.decimal(inp.settings.band[1])}"
    return {
        "title": texts["title"], "month": fmt.french_month(inp.month, texts["months"]),
        "month_iso": f"{inp.month:%Y-%m}", "synthetic": origin == "synthetic", "texts": texts,
        "suppressed_legend": texts["suppressed_legend"].format(min_cell=inp.settings.min_cell),
        "flag_legend": texts["flag_legend"].format(band=band),
        "sections": sections,
        "summary": summary(inp, labels),
        "header": header_section(inp, texts),
        "performance": performance_section(inp, sections["performance"], labels),
        "calibration": calibration_section(inp, sections["calibration"]),
        "representation": representation_section(inp, sections["representation"], labels),
        "parity": parity_section(inp, sections["parity"], labels),
        "decisiveness": decisiveness_section(inp, sections["decisiveness"], labels),
        "volumes": volumes_section(inp, sections["volumes"]),
        "drift": drift_section(inp, sections["drift"], labels),
        "estimates": estimates_section(inp, sections["estimates"], labels),
        "method": method_section(inp),
    }

"""Score households described in a file, as `dmde score` would have scored them.

    dmde whatif [FILE.yaml] [--month YYYY-MM] [--caf CODE] [--json]

FILE describes households in the terms of the source tables (members with their role,
birth date and activity, payments per benefit and month, resources, DTRs, events) or
directly by the 19 variables' modalities (see docs/rules.md, "What-if"); without FILE,
the profils-types of conf/personas.yaml (`personas_file`). Each is scored by the very
transforms of the monthly run (the variables, the modalities, both models, the blend)
with the calibrated model of the data directory.
For each household: every variable's modality with its French label and its contribution
(the log odds ratio of the modality, blended as the score is: (1 - w)·ln OR_model1 +
w·ln OR_model2), p_model1, p_model2, w_model2, the score, its place among the Caf's scored
households of the month, and the single change of one variable's modality that lowers the
score most.

The place reads as the `scores` table's: rank = 1 + the Caf's households of the month
with a higher score, percentile = ceil(100 × rank / the Caf's scored households), at most
100 ("top P % of the Caf"; 1 = the riskiest 1 %). It is read from the month's published
`scores`; a month without a succeeded score run prints "month not scored".
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from domain.errors import display
from jobs.lib.models import load_scoring_model
from jobs.lib.runner import JobContext, caf_argument, job_main, month_argument
from jobs.lib.whatif import load_whatif, score_whatif

PRINTS_START_LINE = False  # --json prints the JSON document only; the text names the data dir itself


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", nargs="?",
                        help="the what-if file (YAML); default: the configuration's personas_file, conf/personas.yaml")
    parser.add_argument("--month", type=month_argument,
                        help="score month YYYY-MM (overrides the file's `month`)")
    parser.add_argument("--caf", type=caf_argument,
                        help="score every household as a household of this Caf (overrides the file's and the "
                             "households' `caf`), e.g. 59, 2A, 974")
    parser.add_argument("--json", action="store_true", help="print one JSON document (for machines)")


def run(ctx: JobContext) -> int:
    args, config = ctx.args, ctx.config
    spec = load_scoring_model(config)
    file = args.file or config.personas_file
    what = load_whatif(file, config, spec, month=args.month, caf=args.caf)
    if args.json:
        ctx.progress.quiet = True  # stdout carries the JSON document only
    results = score_whatif(ctx.spark, config, spec, what)
    if args.json:
        print(json.dumps({"file": str(file), "score_month": f"{what.month:%Y-%m}",
                          "model_version": spec.calibrated_version(), "data_dir": str(config.data_dir),
                          "households": results}, ensure_ascii=False, indent=2))
        return 0
    w, p_before, p_after = spec.weight_column, *map(spec.probability_column, (spec.blend.before, spec.blend.after))
    print(f"What-if {display(file)}: score month {what.month:%Y-%m}, model {spec.calibrated_version()} "
          f"(data {config.data_dir}); score = (1 - {w})·{p_before} + {w}·{p_after}")
    for result in results:
        print()
        print(household_text(result, spec))
    print()
    print(summary_table(results, spec))
    return 0


def place_text(result: dict[str, Any]) -> str:
    place = result["place_in_caf"]
    if place["status"] != "scored":
        return place["status"]
    return (f"top {place['percentile_in_caf']} % of Caf {result['caf']} (rank {place['rank_in_caf']:,} of "
            f"{place['households_in_caf']:,} households scored in {result['score_month']})")


def change_text(result: dict[str, Any]) -> str:
    change = result["what_would_change_it"]
    if change is None:
        return "no single change of one modality lowers the score"
    return (f"{change['variable']} {change['from']} → {change['to']}: score {change['score']:.4f} "
            f"({change['score_change']:+.4f})")


def household_text(result: dict[str, Any], spec) -> str:
    """One household: its scores, place, every variable and the change that lowers it most."""
    weight = spec.weight_column
    probabilities = ", ".join(f"{spec.probability_column(m)} {result[spec.probability_column(m)]:.4f}"
                              for m in spec.model_names())
    lines = [f"{result['id']}{' · ' + result['label'] if result['label'] else ''} · Caf {result['caf']} · "
             f"given in {result['given_as']}",
             f"  score {result['score']:.4f} ({probabilities}, {weight} {result[weight]:.4f})",
             f"  place: {place_text(result)}",
             f"  {'variable':<26} {'modality':<18} {'contribution':>12}  modality label (input)"]
    for item in result["variables"]:
        given = f" ({item['input']})" if item["input"] is not None else ""
        lines.append(f"  {item['variable']:<26} {item['modality']:<18} {item['contribution']:>+12.4f}  "
                     f"{item['modality_label']}{given}")
    lines.append(f"  what would change it: {change_text(result)}")
    change = result["what_would_change_it"]
    if change is not None:
        lines.append(f"    ({change['variable_label']} : {change['to_label']})")
    return "\n".join(lines)


def summary_table(results: list[dict[str, Any]], spec) -> str:
    """A Markdown table of every household's score (the README's personas table)."""
    probability_columns = [spec.probability_column(m) for m in spec.model_names()]
    header = ["household", "Caf", *probability_columns, spec.weight_column, "score", "place in the Caf",
              "what would change it"]
    lines = ["| " + " | ".join(header) + " |", "|---|---|" + "---:|" * (len(probability_columns) + 2) + "---|---|"]
    for r in results:
        place = r["place_in_caf"]
        where = f"top {place['percentile_in_caf']} %" if place["status"] == "scored" else place["status"]
        cells = [f"`{r['id']}`", r["caf"], *[f"{r[c]:.4f}" for c in probability_columns], f"{r[spec.weight_column]:.4f}",
                 f"{r['score']:.4f}", where, change_text(r)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))

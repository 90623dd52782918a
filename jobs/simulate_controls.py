"""Simulate a month's DMDE controls from the published lists (synthetic data dirs only).

    dmde simulate-controls --month 2026-02 [--data-dir DIR]

Per Caf, about capacity × fill_rate DMDE controls dated in the month: a share `adherence`
taken from the Caf's lists (`targets`) of the month and the two before, the rest off the
lists from the Caf's deciles 1–3; never a household still inside its control delay (the
month's scores say who is eligible); about one third on site; outcomes drawn from the
generator's truth, fraud on about 7 % of them where an overpayment was found; an optional
planted controller bias. Knobs: `simulation:` in conf/synth.yaml. The month's DMDE rows
of `controls` are replaced in one commit (a rerun gives the same rows); OPBD and OTHER
rows are untouched. The month must be scored first (`dmde score`, or `dmde replay`).
"""
from __future__ import annotations

import argparse
import sys

from jobs.lib.runner import JobContext, job_main, month_argument
from jobs.lib.simulation import simulate_controls, summary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--month", type=month_argument, required=True, help="control month YYYY-MM (scored)")


def run(ctx: JobContext) -> int:
    result = simulate_controls(ctx.spark, ctx.config, ctx.args.month, ctx.progress)
    print(f"[simulate-controls] {summary(result)}\n  table: {ctx.config.source_path('controls')}")
    return 0


if __name__ == "__main__":
    sys.exit(job_main(sys.modules[__name__]))

#!/usr/bin/env bash
# The whole system on a small synthetic population, on this machine:
# creates .venv if missing, installs, generates 30 months of sources, calibrates the
# intercepts on the random-control sample, scores the latest month, prints a Caf's list.
# Environment: DMDE_DEMO_DIR (default ./data/demo), DMDE_DEMO_HOUSEHOLDS (default 20000).
source "$(dirname "$0")/_setup.sh"
DATA="${DMDE_DEMO_DIR:-$ROOT/data/demo}"
HOUSEHOLDS="${DMDE_DEMO_HOUSEHOLDS:-20000}"
START=2023-08
END=2026-01
MONTH=2026-02          # the month after the last snapshot
CAF=59

dmde generate --households "$HOUSEHOLDS" --start "$START" --end "$END" --seed 1 --data-dir "$DATA"
dmde calibrate --month "$MONTH" --data-dir "$DATA"
dmde score --month "$MONTH" --data-dir "$DATA"
dmde show --month "$MONTH" --caf "$CAF" --top 5 --all --data-dir "$DATA"
echo
echo "Source tables: $DATA/sources/{households,members,payments,declarations,events,controls}"
echo "Output tables: $DATA/tables/{features,scores,targets,runs} (Delta, partitioned by caf and score_month)"
echo "Calibrated model: $DATA/models/dmde_2025.yaml"

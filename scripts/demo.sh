#!/usr/bin/env bash
# The whole loop on a small synthetic population, on this machine:
# creates .venv if missing, installs, generates 30 months of sources, calibrates the
# intercepts on the random-control sample, then replays the last months (score the month,
# simulate the DMDE controls taken from its lists, next month), prints a Caf's list, then
# monitors the last month for the ethics committee and writes its report (and a screenshot
# of it, installing Debian's chromium when missing).
# The capacity is raised tenfold for a small population (scripts/synthetic_capacity.yaml).
# Environment: DMDE_DEMO_DIR (default ./data/demo), DMDE_DEMO_HOUSEHOLDS (default 20000).
source "$(dirname "$0")/_setup.sh"
DATA="${DMDE_DEMO_DIR:-$ROOT/data/demo}"
HOUSEHOLDS="${DMDE_DEMO_HOUSEHOLDS:-20000}"
START=2023-08
END=2026-01
FIRST=2026-01          # replayed months: FIRST … MONTH (the monitoring window then has one scored month)
MONTH=2026-02          # the month after the last snapshot
CAF=59
LOOP=(--conf "$ROOT/scripts/synthetic_capacity.yaml" --data-dir "$DATA")

dmde generate --households "$HOUSEHOLDS" --start "$START" --end "$END" --seed 1 --data-dir "$DATA"
dmde calibrate --month "$MONTH" --data-dir "$DATA"
dmde replay --from "$FIRST" --to "$MONTH" "${LOOP[@]}"
dmde show --month "$MONTH" --caf "$CAF" --top 5 "${LOOP[@]}"
dmde monitor --month "$MONTH" "${LOOP[@]}"
REPORT="$(dmde report --month "$MONTH" "${LOOP[@]}")"
if bash "$ROOT/scripts/screenshot_report.sh" "$REPORT" >/dev/null 2>&1; then
  SHOT="${REPORT%.html}.png"
else
  SHOT="none (chromium could not be installed: scripts/install_chromium.sh)"
fi
echo
echo "Source tables: $DATA/sources/{households,members,payments,declarations,events,controls}"
echo "  (controls: the DMDE controls of $FIRST … $MONTH were taken from the lists: dmde simulate-controls)"
echo "Output tables: $DATA/tables/{features,scores,targets,runs} (Delta, partitioned by caf and score_month)"
echo "Monitoring tables: $DATA/tables/monitoring_* (Delta, partitioned by score_month)"
echo "Calibrated model: $DATA/models/dmde_2025.yaml"
echo "The ethics committee's report of $MONTH: $REPORT (screenshot: $SHOT)"

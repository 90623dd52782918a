#!/usr/bin/env bash
# Fetches Delta Lake's jars (conf/base.yaml `delta.jars`, Maven coordinates) into the folder
# `delta.jars_dir` (default .jars/), once, with the machine's Maven. Sourced by _setup.sh;
# also runnable alone: scripts/fetch_jars.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${ROOT}/.venv/bin/python"
[ -x "$PY" ] || PY=python3
read_conf() {
  "$PY" - "$ROOT/conf/base.yaml" "$1" <<'PYEOF'
import sys, yaml
value = yaml.safe_load(open(sys.argv[1]))["delta"][sys.argv[2]]
print("\n".join(value) if isinstance(value, list) else value)
PYEOF
}
JARS_DIR="$(read_conf jars_dir)"
case "$JARS_DIR" in /*) ;; *) JARS_DIR="$ROOT/$JARS_DIR" ;; esac
mkdir -p "$JARS_DIR"
while read -r coordinate; do
  [ -n "$coordinate" ] || continue
  IFS=: read -r group artifact version <<< "$coordinate"
  if [ ! -s "$JARS_DIR/$artifact-$version.jar" ]; then
    if ! command -v mvn >/dev/null 2>&1; then
      echo "dmde: Maven ('mvn') is needed once to fetch $coordinate into $JARS_DIR (install maven, or copy the jar there)." >&2
      exit 1
    fi
    echo "dmde: fetching $coordinate into $JARS_DIR"
    if ! log=$(mvn -q -B dependency:copy -Dartifact="$coordinate" -DoutputDirectory="$JARS_DIR" 2>&1); then
      echo "$log" >&2
      echo "dmde: Maven could not fetch $coordinate (is Maven Central reachable?)." >&2
      exit 1
    fi
  fi
done < <(read_conf jars)

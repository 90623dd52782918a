# Sourced by demo.sh and test.sh: checks Java, creates .venv if missing, installs the project.
# Usage: source scripts/_setup.sh [extras]   e.g. "dev"
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if ! command -v java >/dev/null 2>&1; then
  echo "dmde: Java 17 is required by Spark and 'java' is not on PATH (install openjdk-17-jre-headless)." >&2
  exit 1
fi
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
if [ ! -x .venv/bin/python ]; then
  echo "dmde: creating .venv with $($PY --version)"
  "$PY" -m venv .venv
fi
EXTRAS="${1:-}"
SPEC="."
[ -n "$EXTRAS" ] && SPEC=".[$EXTRAS]"
# Re-install only when pyproject.toml changed since the last successful install; an install
# with the dev extras serves the base too (test.sh then demo.sh install once).
HASH="$(sha1sum pyproject.toml | cut -c1-12)"
STAMP=".venv/.dmde-installed-$HASH-${EXTRAS:-base}"
if [ ! -f "$STAMP" ] && [ ! -f ".venv/.dmde-installed-$HASH-dev" ]; then
  echo "dmde: installing $SPEC into .venv (first time: about 2 minutes; log in .venv/install.log)"
  if ! { .venv/bin/python -m pip install --quiet --upgrade pip \
         && .venv/bin/python -m pip install --quiet -e "$SPEC"; } >.venv/install.log 2>&1; then
    tail -20 .venv/install.log >&2
    echo "dmde: the install failed (full log: $ROOT/.venv/install.log)" >&2
    exit 1
  fi
  touch "$STAMP"
fi
bash "$ROOT/scripts/fetch_jars.sh"
export PYSPARK_PYTHON="$ROOT/.venv/bin/python"
export PYSPARK_DRIVER_PYTHON="$ROOT/.venv/bin/python"
export PATH="$ROOT/.venv/bin:$PATH"

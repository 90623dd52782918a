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
# Re-install only when pyproject.toml changed since the last successful install.
STAMP=".venv/.dmde-installed-$(sha1sum pyproject.toml | cut -c1-12)-${EXTRAS:-base}"
if [ ! -f "$STAMP" ]; then
  echo "dmde: installing $SPEC into .venv (first time: about 2 minutes)"
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e "$SPEC"
  touch "$STAMP"
fi
bash "$ROOT/scripts/fetch_jars.sh"
export PYSPARK_PYTHON="$ROOT/.venv/bin/python"
export PYSPARK_DRIVER_PYTHON="$ROOT/.venv/bin/python"
export PATH="$ROOT/.venv/bin:$PATH"

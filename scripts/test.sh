#!/usr/bin/env bash
# Creates .venv if missing, installs the project with its dev extras, runs the test suite.
source "$(dirname "$0")/_setup.sh" dev
exec python -m pytest "$@"

#!/usr/bin/env bash
# Installs Debian's headless-capable chromium, used by the report's browser test
# (tests/test_report.py) to render the HTML report and take a screenshot. Idempotent.
# Needs root (or sudo) and Debian's package mirrors; prints why when it cannot.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_chromium: no apt-get on this machine: install chromium by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "install_chromium: not root and no password-less sudo: install chromium by hand" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
command -v chromium >/dev/null 2>&1

#!/usr/bin/env bash
# A screenshot of an HTML report taken by headless chromium (Debian's), installed by
# scripts/install_chromium.sh when missing. Chromium's own log goes to stderr (console
# messages included: the report has no script, so there should be none).
# Usage: scripts/screenshot_report.sh REPORT.html [OUT.png] [WIDTH,HEIGHT]
#   OUT.png defaults to the report's path with .png; the window to 1240,1754 (A4 at 150 dpi).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HTML="$(realpath "$1")"
OUT="${2:-${HTML%.html}.png}"
SIZE="${3:-1240,1754}"
CHROME="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$CHROME" ]; then
  bash "$HERE/install_chromium.sh"
  CHROME="$(command -v chromium)"
fi
PROFILE="$(mktemp -d)"
trap 'rm -rf "$PROFILE"' EXIT
# --no-sandbox: root in a container has no user namespaces for chromium's sandbox
"$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars --force-device-scale-factor=1 \
  --user-data-dir="$PROFILE" --no-first-run --disable-extensions --disable-background-networking \
  --window-size="$SIZE" --screenshot="$OUT" --enable-logging=stderr --v=0 "file://$HTML"
echo "$OUT"

#!/usr/bin/env bash
# Make sure Debian's Chromium is at /usr/bin/chromium for the end-to-end test.
# CI machines start without it; `npx playwright install` does not work here, so use apt.
set -euo pipefail
CHROMIUM="${BACKUPD_E2E_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$CHROMIUM" != /usr/bin/chromium ]; then
  echo "ensure-chromium: $CHROMIUM is not executable" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "ensure-chromium: /usr/bin/chromium is missing and we are not root (install Debian's chromium package)" >&2
    exit 1
  fi
fi
echo "== installing Debian's chromium (apt-get install -y chromium)"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq || true
$SUDO apt-get install -y -qq chromium >/dev/null
if [ ! -x /usr/bin/chromium ]; then
  echo "ensure-chromium: apt-get installed chromium but /usr/bin/chromium is still missing" >&2
  exit 1
fi
/usr/bin/chromium --version 2>/dev/null || true

#!/usr/bin/env bash
# System packages the suite needs, from Debian's packages: Chromium for the
# browser tests (Playwright drives it; no browser is downloaded).
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests…"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: install Debian's 'chromium' package (apt-get install chromium)." >&2
    exit 1
  fi
fi

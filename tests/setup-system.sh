#!/usr/bin/env bash
# System packages the suite needs, from Debian's packages: Chromium for the
# browser tests (Playwright drives /usr/bin/chromium; no browser is downloaded).
set -euo pipefail
CHROMIUM=/usr/bin/chromium
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's chromium for the browser tests…"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "Chromium is missing: install Debian's 'chromium' package (apt-get install chromium)." >&2
    exit 1
  fi
fi
# Fail here, with a clear message, rather than in every browser test.
if ! "$CHROMIUM" --version 2>/dev/null | grep -q '^Chromium '; then
  echo "$CHROMIUM does not run: reinstall Debian's 'chromium' package." >&2
  exit 1
fi

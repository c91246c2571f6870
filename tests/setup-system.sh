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
# Dovecot (Debian's dovecot-imapd) for the IMAP poller's tests: they start
# their own private instance on a loopback port, so no system service is
# configured or needed. Under CI those tests fail, not skip, without it.
if ! command -v dovecot >/dev/null 2>&1 && [ ! -x /usr/sbin/dovecot ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's dovecot-imapd for the IMAP tests…"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null
  else
    echo "Dovecot is missing: install Debian's 'dovecot-imapd' package for the IMAP tests (they skip without it, fail under CI)." >&2
  fi
fi
# PostgreSQL's server binaries and redis-server for the fault tests
# (tests/faults/): they start their own private, throwaway instances on
# loopback ports and stop or kill only those, never the machine's services.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's postgresql and redis-server for the fault tests…"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql redis-server >/dev/null
  else
    echo "The fault tests (PostgreSQL leg only) need Debian's 'postgresql' and 'redis-server' packages (apt-get install postgresql redis-server); they fail without them." >&2
  fi
fi

#!/usr/bin/env bash
# Headless Chromium for browser tests and static (PNG) figure export: Debian's chromium package.
# Installs it when missing and we may (root + apt-get); otherwise exits 1 and callers carry on without it.
set -u
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium (headless browser for figure export and browser tests)..."
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) \
    >/tmp/grokkit-chromium-install.log 2>&1 && exit 0
  echo "chromium install failed, see /tmp/grokkit-chromium-install.log"
fi
exit 1

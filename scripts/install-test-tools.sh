#!/usr/bin/env bash
# What the tests need beyond custody's own tools: xmllint (Debian's libxml2-utils), PostgreSQL's
# server binaries, Debian's chromium (the Web UI test), the Library of Congress's bagit-python (PyPI `bagit`, kept under .tools/) and
# Temporal's time-skipping test server and the Versity S3 gateway. Installed when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v xmllint >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq libxml2-utils) >&2
  else
    echo "xmllint is missing: install Debian's libxml2-utils (sudo apt-get install libxml2-utils)" >&2; exit 1
  fi
fi
# PostgreSQL server binaries for the ledger tests on PostgreSQL (the tests start their own cluster).
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq postgresql) >&2
  else
    echo "PostgreSQL is missing: install Debian's postgresql package (sudo apt-get install postgresql)" >&2; exit 1
  fi
fi
# Debian's Chromium for the Web UI test (driven headless by the npm package playwright-core).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq chromium) >&2
  else
    echo "Chromium is missing: install Debian's chromium package (sudo apt-get install chromium)" >&2; exit 1
  fi
fi
if [ ! -x .tools/bagit/bin/bagit.py ]; then
  python3 -m pip install --quiet --target .tools/bagit bagit >&2
fi
scripts/get-test-server.sh >/dev/null
scripts/get-versitygw.sh >/dev/null

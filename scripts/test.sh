#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine with Python 3.11
# (a venv with requirements-dev.txt, Debian's Chromium for the browser tests)
# and runs every test. Extra arguments go to pytest. Exits with pytest's code.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v chromium >/dev/null 2>&1; then
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi
[ -x .venv/bin/python ] || python3.11 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
exec .venv/bin/python -m pytest "$@"

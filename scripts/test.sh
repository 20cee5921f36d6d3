#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine with Python 3.11
# (a venv with requirements-dev.txt, Debian's Chromium for the browser tests,
# openssl for the TLS tests' throwaway certificate, axe-core from npm for the
# browser tests' accessibility checks) and runs every test.
# Extra arguments go to pytest. Exits with pytest's code.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
# axe-core is pinned in package-lock.json; only the tests use it
[ -f node_modules/axe-core/axe.min.js ] || npm ci --no-audit --no-fund
ensure_venv requirements-dev.txt
exec .venv/bin/python -m pytest "$@"

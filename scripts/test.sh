#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine with Python 3.11
# (a venv with requirements-dev.txt, Debian's Chromium for the browser tests,
# openssl for the TLS tests' throwaway certificate) and runs every test.
# Extra arguments go to pytest. Exits with pytest's code.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
ensure_venv requirements-dev.txt
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Installs Stampede's runtime packages into .venv and starts the dashboard (with
# its SQLite file and the demo target). Extra arguments go to `run.py`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh
ensure_venv requirements.txt
exec .venv/bin/python run.py "$@"

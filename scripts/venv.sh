#!/usr/bin/env bash
# Sourced by start.sh and test.sh: make sure .venv exists (Debian's python3.11
# needs python3.11-venv for that) and holds the pinned packages of "$1".
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"

apt_install() {
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "$@"
}

ensure_venv() {
  if [ ! -x .venv/bin/python ]; then
    python3.11 -c "import ensurepip, venv" 2>/dev/null || apt_install python3.11-venv
    python3.11 -m venv .venv
  fi
  .venv/bin/pip install -q --disable-pip-version-check -r "$1"
}

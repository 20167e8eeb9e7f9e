#!/usr/bin/env bash
# Make a fresh Debian 12 / Raspberry Pi OS checkout ready for `make test` and `make demo`.
# Idempotent and silent when there is nothing to do; never reads stdin (CI has no tty).
set -euo pipefail
exec </dev/null

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# mosquitto: the real broker the tests and the demo start on private ports (simulators/broker.py).
# libzbar0: native library behind pyzbar. dbus: dbus-daemon for the BLE tests' fake BlueZ.
# python3-venv: Debian splits venv/ensurepip out of python3.
# libdbus-1-dev libglib2.0-dev pkg-config gcc python3-dev: pip builds dbus-python (python-dbusmock's dependency,
#   BLE tests) from source; without them it fails at "generating package metadata".
# libusb-1.0-0: nfcpy opens USB readers (RC-S380, PN533) through it; without it "usb" paths fail to open.
# linux-libc-dev: the kernel's input headers (linux/input.h) pip builds evdev against (keyboard-wedge scanners).
# openssl: scripts/store-pki.sh makes the fence tests' certificates with it (priority optional: slim images lack it).
# chromium chromium-driver: the kiosk page's real-browser test (Selenium drives /usr/bin/chromedriver; Debian ships
#   both at the same version, so they match by construction).
# nats-server: the chain tests' 3-node cluster (JetStream + MQTT 3.1.1, simulators/cluster.py).
SYSTEM_PACKAGES=(mosquitto nats-server libzbar0 dbus python3-venv libusb-1.0-0 linux-libc-dev libdbus-1-dev libglib2.0-dev pkg-config gcc python3-dev openssl
  chromium chromium-driver)
VENV=.venv
STAMP="$VENV/.installed"

missing_packages() {
  local pkg status
  for pkg in "${SYSTEM_PACKAGES[@]}"; do
    status="$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)"
    if [[ "$status" != "install ok installed" ]]; then
      printf '%s\n' "$pkg"
    fi
  done
}

install_system_packages() {
  if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "bootstrap: not a Debian-based system; install the equivalents of: ${SYSTEM_PACKAGES[*]}" >&2
    return 0
  fi
  local -a missing
  mapfile -t missing < <(missing_packages)
  if ((${#missing[@]} == 0)); then
    return 0
  fi
  if [[ "$(id -u)" -ne 0 ]]; then
    # Only root installs: assuming passwordless sudo would hang or fail oddly on CI runners.
    echo "bootstrap: missing system packages: ${missing[*]}" >&2
    echo "bootstrap: run this, then retry:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]}" >&2
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

check_python() {
  if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    echo "bootstrap: edge-agent needs Python >= 3.11, found $(python3 --version 2>&1)" >&2
    exit 1
  fi
}

ensure_venv() {
  if [[ ! -x "$VENV/bin/python" ]]; then
    echo "bootstrap: creating $VENV" >&2
    python3 -m venv "$VENV"
  fi
  # Reinstall only when the dependency list may have changed.
  if [[ ! -f "$STAMP" || pyproject.toml -nt "$STAMP" ]]; then
    echo "bootstrap: installing edge-agent and dev tools into $VENV" >&2
    "$VENV/bin/python" -m pip install --quiet --no-input --disable-pip-version-check -e '.[dev]'
    touch "$STAMP"
  fi
}

install_system_packages
check_python
ensure_venv

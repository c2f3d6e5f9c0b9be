#!/bin/sh
# Install timbrecast as a systemd service on a Raspberry Pi (or any Debian-like
# Linux box), from the checkout this script sits in. Run as root:
#
#   sudo sh systemd/install.sh            install, enable and start
#   sudo sh systemd/install.sh --no-start install and enable only
#
# Idempotent: run it again after `git pull` to upgrade. An existing
# /etc/timbrecast/timbrecast.toml is kept.
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/timbrecast
START=yes
[ "${1:-}" = "--no-start" ] && START=no

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (sudo sh systemd/install.sh)" >&2
    exit 77
fi

echo "Debian packages: python3-venv, PortAudio (for PyAudio), ALSA tools"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    python3-venv python3-dev gcc portaudio19-dev libportaudio2 alsa-utils >/dev/null

echo "virtual environment in $PREFIX/venv (the daemon and live capture; no TensorFlow)"
mkdir -p "$PREFIX"
[ -x "$PREFIX/venv/bin/python" ] || python3 -m venv "$PREFIX/venv"
"$PREFIX/venv/bin/pip" install --quiet --upgrade pip
"$PREFIX/venv/bin/pip" install --quiet "$REPO[live]"

echo "configuration in /etc/timbrecast"
install -d -m 0755 /etc/timbrecast
if [ ! -e /etc/timbrecast/timbrecast.toml ]; then
    install -m 0644 "$REPO/systemd/timbrecast.toml" /etc/timbrecast/timbrecast.toml
else
    echo "  keeping the existing /etc/timbrecast/timbrecast.toml"
fi
"$PREFIX/venv/bin/timbrecastd" check --config /etc/timbrecast/timbrecast.toml || {
    echo "install.sh: fix what check reports, then: systemctl restart timbrecast" >&2
}

echo "unit /etc/systemd/system/timbrecast.service"
install -m 0644 "$REPO/systemd/timbrecast.service" /etc/systemd/system/timbrecast.service
systemctl daemon-reload
systemctl enable timbrecast.service
if [ "$START" = yes ]; then
    systemctl restart timbrecast.service
    systemctl --no-pager status timbrecast.service || true
fi

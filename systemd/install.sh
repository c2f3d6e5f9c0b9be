#!/bin/sh
# Install timbrecast as a systemd service on a Raspberry Pi (Raspberry Pi OS
# Bookworm or Trixie, 64-bit) or any Debian-like Linux box, from the checkout
# this script sits in. Run as root:
#
#   sudo sh systemd/install.sh              install, enable and (re)start
#   sudo sh systemd/install.sh --no-start   install and enable only
#
# What it does, each step safe to repeat (run it again after `git pull`):
#   1. apt: python3-venv, a compiler, PortAudio (PyAudio builds against it),
#      alsa-utils (arecord), procps (/bin/kill, for reload) -- only the missing ones
#   2. the daemon with its `live` extra in /opt/timbrecast/venv (recreated when
#      the system Python changed, e.g. after an OS upgrade)
#   3. /etc/timbrecast/timbrecast.toml from systemd/timbrecast.toml, only if
#      absent: your configuration is never overwritten; then `timbrecastd check`
#      (what it finds is yours to fix; if the daemon crashes, the install stops, 70)
#   4. /etc/systemd/system/timbrecast.service (overwritten: keep local changes
#      in a drop-in, `systemctl edit timbrecast`), enabled, (re)started
#
# Environment: PYTHON, the interpreter for the venv (default /usr/bin/python3).
set -eu

usage() {
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
}

START=yes
for arg in "$@"; do
    case "$arg" in
        --no-start) START=no ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown argument: $arg (try --help)" >&2; exit 64 ;;
    esac
done

REPO=$(cd "$(dirname "$0")/.." && pwd)
PREFIX=/opt/timbrecast
VENV=$PREFIX/venv
CONFIG=/etc/timbrecast/timbrecast.toml
UNIT=/etc/systemd/system/timbrecast.service
PYTHON=${PYTHON:-/usr/bin/python3}
PACKAGES="python3-venv python3-dev gcc portaudio19-dev libportaudio2 alsa-utils procps"

if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: run as root (sudo sh systemd/install.sh)" >&2
    exit 77
fi
for file in "$REPO/pyproject.toml" "$REPO/systemd/timbrecast.service" "$REPO/systemd/timbrecast.toml" \
    "$REPO/systemd/first-check.sh"; do
    if [ ! -f "$file" ]; then
        echo "install.sh: $file missing: run this script from a timbrecast checkout" >&2
        exit 66
    fi
done

echo "1/4 Debian packages"
missing=""
for pkg in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
    echo "    installing:$missing"
    apt-get update -qq
    # $missing is a list of package names: split on purpose.
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
    echo "    all present: $PACKAGES"
fi

echo "2/4 the daemon in $VENV"
# The service cannot see /home, /root or /run/user (ProtectHome=yes), so the
# venv's interpreter must live elsewhere: not a pyenv or conda Python there.
if ! found=$(command -v "$PYTHON"); then
    echo "install.sh: no Python at $PYTHON (set PYTHON=/path/to/python3)" >&2
    exit 69
fi
real_python=$(readlink -f "$found")
case "$real_python" in
    /home/*|/root/*|/run/user/*)
        echo "install.sh: $PYTHON is $real_python, which the service cannot see" \
            "(ProtectHome=yes); use the system Python: PYTHON=/usr/bin/python3" >&2
        exit 78 ;;
esac
want=$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
have=$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)
if [ "$have" != "$want" ]; then
    [ -z "$have" ] || echo "    Python changed ($have -> $want): recreating the venv"
    rm -rf "$VENV"
    mkdir -p "$PREFIX"
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install --quiet --upgrade pip
# Build from a copy, so that no root-owned build/ or *.egg-info is left in the
# checkout (pip builds a local project in place).
SRC=$(mktemp -d)
trap 'rm -rf "$SRC"' EXIT
tar -C "$REPO" --exclude=./.git --exclude=./.venv --exclude=./runs --exclude=./build \
    --exclude='*.egg-info' --exclude=__pycache__ -cf - . | tar -C "$SRC" -xf -
"$VENV/bin/pip" install --quiet --upgrade "${SRC}[live]"
"$VENV/bin/timbrecastd" --version

echo "3/4 configuration $CONFIG"
install -d -m 0755 /etc/timbrecast
if [ -e "$CONFIG" ]; then
    echo "    kept (the example is $REPO/systemd/timbrecast.toml)"
else
    # World-readable: the service's dynamic user is neither owner nor group.
    install -m 0644 "$REPO/systemd/timbrecast.toml" "$CONFIG"
    echo "    installed the example"
fi
# As root and outside the sandbox: a first look, not the service's view.
sh "$REPO/systemd/first-check.sh" "$VENV" "$CONFIG"

echo "4/4 systemd unit $UNIT"
install -m 0644 "$REPO/systemd/timbrecast.service" "$UNIT"
if [ ! -d /run/systemd/system ]; then
    # A chroot or image build: enable works offline; the service starts at boot.
    systemctl enable timbrecast.service
    echo "    systemd is not running here: enabled for the next boot, not started"
    exit 0
fi
systemctl daemon-reload
systemctl enable --quiet timbrecast.service
if [ "$START" = no ]; then
    echo "    enabled; start it with: systemctl start timbrecast"
    exit 0
fi
# restart, not start: an upgrade must replace the running daemon.
if systemctl restart timbrecast.service; then
    systemctl --no-pager status timbrecast.service | sed -n '1,8p'
    echo "done: journalctl -u timbrecast -f to watch it"
else
    systemctl --no-pager status timbrecast.service | sed -n '1,12p' || true
    echo "install.sh: installed, but the service did not start. Exit status 78 is a" \
        "configuration problem: pick the device (timbrecastd devices, then [input]" \
        "device in $CONFIG), then: systemctl restart timbrecast" >&2
    exit 1
fi

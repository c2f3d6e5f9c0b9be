#!/bin/sh
# install.sh's step 3: `timbrecastd check` on the installed daemon, indented.
#
#   sh systemd/first-check.sh VENV CONFIG
#
# A problem the check finds (exit 69 or 78: a device not plugged in yet, a
# setting to fix) is the user's to fix later: exit 0. A crash means the daemon
# cannot run on this machine at all (seen under qemu-user, which shows an arm64
# guest the host's x86 /proc/cpuinfo): say so and exit 70, never swallow it.
set -eu
if [ "$#" -ne 2 ]; then
    echo "usage: sh systemd/first-check.sh VENV CONFIG" >&2
    exit 64
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
status=0
"$1/bin/timbrecastd" check --config "$2" >"$out" 2>&1 || status=$?
sed 's/^/    /' "$out"
case $status in
    0|69|78) ;;
    126|127)
        echo "install.sh: cannot run $1/bin/timbrecastd (exit $status): the install" \
            "above did not complete" >&2
        exit 70 ;;
    *)
        signal=""
        [ "$status" -gt 128 ] && signal=", signal $((status - 128))"
        echo "install.sh: timbrecastd check crashed (exit $status$signal): the daemon" \
            "cannot run here. Building an image under qemu-user? Bind-mount an ARM" \
            "/proc/cpuinfo (docs/raspberry-pi.md)" >&2
        exit 70 ;;
esac

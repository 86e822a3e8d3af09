#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only OR MIT
# Install the Debian packages pvpatch needs.  Idempotent: packages already
# present are not touched, and apt-get runs only when something is missing.
set -eu

PKGS="gcc binutils make python3 python3-pyelftools python3-capstone python3-pytest
      python3-pytest-xdist python3-matplotlib chromium
      libcmocka-dev qemu-system-x86 clang libclang-rt-14-dev
      csmith libcsmith-dev"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
		missing="$missing $p"
	fi
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "pvpatch: missing Debian packages:$missing" >&2
	echo "pvpatch: run as root: apt-get install$missing" >&2
	exit 1
fi

echo "pvpatch: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only OR MIT
# The clean-machine check: `make check` and `make demo` on a fresh clone in a
# fresh Debian 12 root, N times in a row, each run's result and time.
#
#   scripts/clean-root-check.sh [--runs N] [--ref REF] [--dir DIR]
#                               [--timeout S] [--keep] [--fresh-base]
#
# As root.  Once, debootstrap makes a minimal Debian 12 (bookworm) root with
# only make, gcc, python3 and git added (DIR/base, kept for later calls;
# --fresh-base makes it again).  Each run then copies that base into a
# root of its own, clones this repository at REF (default: the commit
# checked out here; uncommitted changes are not part of it) into
# /root/pvpatch there and, chrooted in a private mount and PID namespace
# (its own /proc, /dev bound from the host, /dev/pts and /dev/shm; every
# process of the run dies with it), runs `make check` and then `make demo`
# under one timeout (S seconds, default 3600).  `make check` installs the
# other Debian packages itself (scripts/install-deps.sh), as on a fresh
# machine; the downloaded .deb files are kept in DIR/apt-cache and shared
# by the runs (the packages are still installed afresh in every root).
# CI=1 inside the root: tests that skip on a developer machine when a
# package is missing fail there instead.
#
# Prints one line per run (check and demo: passed or failed, seconds) and a
# last line with how many runs passed; each run's output is in
# DIR/run-N.log.  Exit status 0 when every run passed, 1 when one failed,
# 2 on bad usage.  The run's root is removed after it unless --keep.
set -euo pipefail

usage() {
	echo "usage: $0 [--runs N] [--ref REF] [--dir DIR] [--timeout S] [--keep] [--fresh-base]" >&2
	exit 2
}
die() {
	echo "clean-root-check: $*" >&2
	exit 2
}

RUNS=1
REF=HEAD
DIR=/var/tmp/pvpatch-clean-root
TIMEOUT=3600
KEEP=0
FRESH=0
MIRROR=${PVPATCH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=bookworm

while [ $# -gt 0 ]; do
	case "$1" in
	--runs) [ $# -ge 2 ] || usage; RUNS=$2; shift 2 ;;
	--ref) [ $# -ge 2 ] || usage; REF=$2; shift 2 ;;
	--dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
	--timeout) [ $# -ge 2 ] || usage; TIMEOUT=$2; shift 2 ;;
	--keep) KEEP=1; shift ;;
	--fresh-base) FRESH=1; shift ;;
	-h|--help) sed -n '3,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) usage ;;
	esac
done
case "$RUNS" in ''|*[!0-9]*|0) die "--runs wants a positive number, not '$RUNS'" ;; esac
case "$TIMEOUT" in ''|*[!0-9]*|0) die "--timeout wants seconds, not '$TIMEOUT'" ;; esac
[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and mounts need it)"

REPO=$(cd "$(dirname "$0")/.." && pwd)
SHA=$(git -C "$REPO" rev-parse --verify -q "$REF^{commit}") ||
	die "'$REF' is not a commit of $REPO"
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
case "$DIR" in "$REPO"|"$REPO"/*) die "--dir must be outside the repository ($REPO)" ;; esac

if ! command -v debootstrap >/dev/null; then
	echo "clean-root-check: installing debootstrap"
	apt-get update -q >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null
fi

# --- the base root: Debian 12 minbase plus make, gcc, python3, git --------
BASE=$DIR/base
if [ "$FRESH" = 1 ] || [ ! -e "$BASE/.pvpatch-base-ok" ]; then
	rm -rf --one-file-system "$BASE"
	echo "clean-root-check: debootstrap $SUITE into $BASE (make gcc python3 git)"
	t0=$(date +%s)
	debootstrap --variant=minbase --include=make,gcc,python3,git \
		"$SUITE" "$BASE" "$MIRROR" >"$DIR/debootstrap.log" 2>&1 ||
		die "debootstrap failed (see $DIR/debootstrap.log)"
	echo "deb $MIRROR $SUITE main" >"$BASE/etc/apt/sources.list"
	touch "$BASE/.pvpatch-base-ok"
	echo "clean-root-check: base root made in $(( $(date +%s) - t0 )) s"
fi
mkdir -p "$DIR/apt-cache/partial"

# What runs inside the root (chrooted, in its own namespaces).  $1: seconds
# of the timeout, for the log.
INNER='
set -u
cd /root/pvpatch
echo "== $(git log -1 --format="%h %s")"
t0=$(date +%s)
make check; c=$?
t1=$(date +%s)
echo "== make check: exit $c, $((t1 - t0)) s"
make demo; d=$?
t2=$(date +%s)
echo "== make demo: exit $d, $((t2 - t1)) s"
echo "RESULT check=$c check_s=$((t1 - t0)) demo=$d demo_s=$((t2 - t1))"
'

# Mount what the root needs inside a private mount namespace (nothing
# outlives the run), then chroot.  $1: the run's root.
NS_SETUP='
set -e
r=$1
mount -t proc proc "$r/proc"
mount --bind /dev "$r/dev"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm"
mount -t sysfs sysfs "$r/sys"
mount -t tmpfs tmpfs "$r/tmp"
mount --bind "$2" "$r/var/cache/apt/archives"
exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
	LANG=C.UTF-8 TERM=dumb CI=1 /bin/sh -c "$3"
'

passed=0
for n in $(seq 1 "$RUNS"); do
	ROOT=$DIR/run-$n
	LOG=$DIR/run-$n.log
	rm -rf --one-file-system "$ROOT"
	cp -a "$BASE" "$ROOT"
	cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
	git clone -q --no-hardlinks "$REPO" "$ROOT/root/pvpatch"
	git -C "$ROOT/root/pvpatch" -c advice.detachedHead=false checkout -q "$SHA"
	t0=$(date +%s)
	set +e
	timeout --kill-after=30 "$TIMEOUT" \
		unshare --mount --pid --fork --kill-child --propagation private \
		/bin/sh -c "$NS_SETUP" ns "$ROOT" "$DIR/apt-cache" "$INNER" >"$LOG" 2>&1
	rc=$?
	set -e
	secs=$(( $(date +%s) - t0 ))
	res=$(grep '^RESULT ' "$LOG" | tail -1 || true)
	if [ -n "$res" ]; then
		eval "${res#RESULT }"
		word() { [ "$1" = 0 ] && echo passed || echo "FAILED (exit $1)"; }
		line="make check $(word "$check") in ${check_s} s, make demo $(word "$demo") in ${demo_s} s"
		[ "$check" = 0 ] && [ "$demo" = 0 ] && ok=1 || ok=0
	elif [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
		line="TIMED OUT after $TIMEOUT s"; ok=0
	else
		line="FAILED before a result (exit $rc)"; ok=0
	fi
	passed=$((passed + ok))
	echo "run $n/$RUNS ($(git -C "$REPO" rev-parse --short "$SHA")): $line; ${secs} s in all (log: $LOG)"
	[ "$KEEP" = 1 ] || rm -rf --one-file-system "$ROOT"
done
echo "clean-root-check: $passed of $RUNS runs passed make check and make demo"
[ "$passed" = "$RUNS" ]

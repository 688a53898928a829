#!/bin/bash
# `drover vm list` / `drover vm migrate` through real agents in two lab hosts: the CLI on
# host1's agent moves a running guest to host2 with a progress line and a summary, a
# refused move (VM unknown) exits 105, and host2's agent lists the guest as running.
export LAB_NAME=lcl
source "$(dirname "$0")/lib.sh"
DROVER=$BUILD/agent/drover
lab_up 2
agents_up "$DROVER"
guest_make cl1 64 idle shared >/dev/null
boot_on 1 cl1
S1=$(hdir 1)/drover.sock; S2=$(hdir 2)/drover.sock
"$DROVER" vm list --socket "$S1" | grep -q '^cl1 .*running' || fail "vm list on host1 lacks cl1"
out=$("$DROVER" vm migrate cl1 "$NET.2" --live --max-downtime 100 --socket "$S1" 2>"$LAB/progress")
log "$out"
echo "$out" | grep -q "^Migrated cl1 to $NET.2 in [0-9]* ms: downtime [0-9]* ms" || fail "no summary: $out"
grep -q 'Migration: \[' "$LAB/progress" || fail "no progress line"
verify_moved cl1 2 1
"$DROVER" vm list --json --socket "$S2" | grep -q '"name": "cl1"' || fail "host2's agent does not list cl1"
set +e
"$DROVER" vm migrate cl1 "$NET.2" --socket "$S1" 2>/dev/null; rc=$?
set -e
[ $rc = 105 ] || fail "moving a VM this host does not have: expected exit 105, got $rc"
"$DROVER" vm migrate cl1 "$NET.1" --socket "$S2" >/dev/null 2>&1
verify_moved cl1 1 2

#!/bin/bash
# A hung libvirtd (issue 11, 3c): two real agents on 127.0.0.1-2 (loopback only); h1 on
# libvirt's test driver, h2's libvirt URI points at silent_libvirtd, which accepts the
# connection and never answers — a libvirtd whose QEMUs live on while every RPC waits.
# Checks that h2's facts probe, stuck inside libvirt, does not stop its agent answering
# (and its placement commands say libvirtd does not answer rather than wait on it);
# that h2's record says libvirtd is not answering (with for how long) and its facts are
# unknown after the 5 s timeout while the probe is still stuck; and that h1 then sees h2
# as degraded with unknown facts — never "lacks network" or "libvirt 0.0.0".
set -euo pipefail
B=${1:?build dir}
D=$B/agent/drover
SILENT=$B/tests/proc/place/silent_libvirtd
PORT=$((19000 + $$ % 1000))
T=$(mktemp -d /tmp/drover-hung-XXXXXX)
# shellcheck source=../testdrv.sh
source "$(dirname "$0")/../testdrv.sh"
SPID=
cleanup() { [ -z "$SPID" ] || kill "$SPID" 2>/dev/null || true; testdrv_kill_all; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$T/out" "$T/err" >&2 2>/dev/null || true; tail -20 "$T/h2.log" >&2; exit 1; }
log() { echo "[hung2 $(date +%T)] $*"; }

"$SILENT" "$T/silent.sock" "$T/conns" & SPID=$!
URI[2]="qemu+unix:///system?socket=$T/silent.sock"
testdrv_setup 2
for i in 1 2; do testdrv_start "$i"; done
t0=$SECONDS

# h2's record as h1 sees it: libvirtd not answering, facts unknown, the reason with N s
h2_record_says_hung() {
  local j
  j=$("$D" members -c "$T/h1.conf" --json 2>/dev/null | tr -d ' \n') || return 1
  j=${j#*'"name":"h2"'}
  j=${j%%'"name":"h1"'*}
  grep -q '"libvirtd_responsive":false' <<< "$j" && grep -q '"facts_unknown":true' <<< "$j" &&
    grep -q '"degraded_reason":"libvirtdnotansweringfor[0-9]*s"' <<< "$j"   # spaces cut
}
until h2_record_says_hung; do
  [ $((SECONDS - t0)) -lt 60 ] || fail "h1 never saw h2's record say its libvirtd does not answer"
  sleep 0.5
done
log "h1 sees h2 hung after $((SECONDS - t0)) s ($(cat "$T/conns" 2>/dev/null || echo 0) connection(s) to the silent libvirtd)"
[ "$(cat "$T/conns" 2>/dev/null || echo 0)" -ge 1 ] || fail "nobody connected to the silent libvirtd"

# 1. h2's own agent still answers at once: its loop never waits for the stuck probe
s=$SECONDS
timeout 5 "$D" members -c "$T/h2.conf" --json > "$T/out" 2> "$T/err" ||
  fail "h2's agent did not answer within 5 s while its libvirtd hangs"
grep -q '"libvirtd_silent_ms"' "$T/out" || fail "h2's members output lacks libvirtd_silent_ms"
log "h2 answered in $((SECONDS - s)) s"
# 2. it says why in its log (at its next 1 s look): the probe is still out, and none is
#    stacked behind it
s=$SECONDS
until grep -q "not answering for .* still waiting, none is stacked behind it" "$T/h2.log"; do
  [ $((SECONDS - s)) -lt 10 ] || fail "h2's log does not say its probe is stuck"
  sleep 0.3
done
# 3. from h1, a move to h2 is blocked for reasons that pass — degraded, facts unknown —
#    and none built on h2's empty facts (the HA agent would take those for good)
set +e; "$D" check migrate test h2 --json -c "$T/h1.conf" > "$T/out" 2> "$T/err"; rc=$?; set -e
[ "$rc" = 107 ] || fail "check migrate test h2 exited $rc, expected 107"
grep -q '"health.degraded"' "$T/out" || fail "no health.degraded for h2"
grep -q '"host.facts_unknown"' "$T/out" || fail "no host.facts_unknown for h2"
grep -q "h2's facts are unknown (its libvirtd does not answer)" "$T/out" || fail "reason"
! grep -q '"network.missing"\|"version.libvirt"\|"version.qemu"\|"cpu\.' "$T/out" ||
  fail "a finding built on h2's unknown facts"
# 4. on h2, a command that needs the local libvirtd says it does not answer, at once,
#    instead of holding a worker (and the operator) for as long as it hangs
set +e; timeout 5 "$D" check migrate test h1 -c "$T/h2.conf" > "$T/out" 2> "$T/err"; rc=$?; set -e
[ "$rc" = 1 ] || fail "check migrate on h2 exited $rc, expected 1"
grep -q "libvirtd at .* has not answered for [0-9]* s" "$T/err" || fail "no 'has not answered' on h2"
echo "hung2: all checks passed"

#!/bin/bash
# A host's state dir restored from a backup (docs/security.md "Restored state dir").
# Three agents on 127.0.0.1-3 (static roster, tests/proc/testdrv.sh); V is a follower.
#  1. V stopped cleanly, its state dir copied (the "backup"); V runs again a while (its
#     epoch goes past the copy's), stops; the real dir is kept aside too.
#  2. the backup restored: the restored start reuses the epoch of the run after the
#     backup; a peer proves it (replay / too_old), V exits 103 with the message; the
#     leader, its term and the members are unchanged; a later start refuses at once.
#  3. the real dir put back: V runs again (epoch newer still) and is accepted; then both
#     peers restart (they must remember V's epoch from their store), and the backup is
#     restored again: an older epoch this time (old_epoch), refused the same way.
set -euo pipefail
B=${1:?build dir}
D=$B/agent/drover
PORT=$((20400 + ($$ % 300) * 2))
T=$(mktemp -d /tmp/drover-restore-XXXXXX)
# shellcheck source=../testdrv.sh
. "$(dirname "$0")/../testdrv.sh"
cleanup() { testdrv_kill_all; [ -n "${KEEP:-}" ] || rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for i in 1 2 3; do echo "--- h$i"; tail -12 "$T/h$i.log" 2>/dev/null; done >&2; exit 1; }
log() { echo "[restore $(date +%T.%3N)] $*"; }
status() { "$D" status -c "$T/h$1.conf" --json 2>/dev/null || echo '{}'; }
raft() { status "$1" | jq -r ".raft.$2 // empty"; }
up() { for _ in $(seq 100); do [ -S "$T/h$1.sock" ] && status "$1" | jq -e .raft > /dev/null && return; sleep 0.1; done; fail "h$1 did not start"; }
stop() { kill -TERM "${PIDS[$1 - 1]}"; wait "${PIDS[$1 - 1]}" || fail "h$1 did not stop cleanly ($?)"; }
# the leader host I follows (nothing while it knows none)
leader_of() { local l; l=$(raft "$1" leader); [ -n "$l" ] && [ "$l" != none ] && echo "$l"; }
members_count() { "$D" members -c "$T/h$1.conf" --json 2>/dev/null | jq '.members | length'; }
other() { local i; for i in 1 2 3; do [ "$i" = "$1" ] || [ "$i" = "$2" ] || echo "$i"; done; }
members_alive() { "$D" members -c "$T/h$1.conf" --json 2>/dev/null | jq '[.members[]? | select(.state == "alive")] | length'; }

testdrv_setup 3
for i in 1 2 3; do testdrv_start "$i"; done
for i in 1 2 3; do up "$i"; done
t0=$SECONDS
until L=$(leader_of 1) && [ "$(leader_of 2 || true)" = "$L" ] && [ "$(leader_of 3 || true)" = "$L" ]; do
  [ $((SECONDS - t0)) -lt 30 ] || fail "no leader agreed by all three after 30 s"; sleep 0.2; done
li=${L#h}
v=$(( li % 3 + 1 )); o=$(other "$li" "$v")
peers="$li $o"
log "leader $L; V = h$v"

# 1. backup while stopped, run on, keep the real dir
stop "$v"
cp -a "$T/h$v" "$T/backup"
testdrv_start "$v"; up "$v"
epoch_run=$(status "$v" | jq -r .epoch)
t0=$SECONDS
until [ "$(members_alive "$li")" = 3 ]; do [ $((SECONDS - t0)) -lt 15 ] || fail "h$v not alive again"; sleep 0.2; done
sleep 3
stop "$v"
cp -a "$T/h$v" "$T/real"
log "1. backup taken, V ran on at epoch $epoch_run and stopped"

# restore dir $1 as V's state dir and start V; wait for its exit, its code in RC
restore_run() {
  rm -rf "$T/h$v"; cp -a "$T/$1" "$T/h$v"
  : > "$T/h$v.start.log"
  "$D" agent -c "$T/h$v.conf" 2>> "$T/h$v.start.log" & PIDS[$v - 1]=$!
  local t0=$SECONDS
  while kill -0 "${PIDS[$v - 1]}" 2>/dev/null; do
    [ $((SECONDS - t0)) -lt 20 ] || fail "restored h$v still runs after 20 s"; sleep 0.1; done
  RC=0; wait "${PIDS[$v - 1]}" || RC=$?
  log "restored h$v exited $RC after $((SECONDS - t0)) s"
  cat "$T/h$v.start.log" >> "$T/h$v.log"
}
# the cluster state that must not move: leader, its term, voters
snapshot() { echo "$(raft "$li" leader) $(raft "$li" term) $(raft "$o" leader) $(raft "$o" term) $(status "$li" | jq -c '.raft.voters')"; }
check_refused() {  # $1: exit code, $2: what the peers should have counted
  [ "$1" = 103 ] || fail "restored h$v exited $1, not 103"
  grep -q "restored from a backup or copied" "$T/h$v.start.log" || fail "no message in h$v's log"
  grep -q "drover members remove h$v" "$T/h$v.start.log" || fail "the message does not say what to do"
  local sent=0 i n
  for i in $peers; do n=$(status "$i" | jq '.epoch_notices.sent // 0'); sent=$((sent + n)); done
  [ "$sent" -ge 1 ] || fail "no peer counted an epoch notice sent"
  n=0; for i in $peers; do n=$((n + $(status "$i" | jq "[.rejected[$2]] | add // 0"))); done
  [ "$n" -ge 1 ] || fail "the peers counted no $2 rejection"
}

# the backup restored is refused, with the peers counting $1, and nothing moves
backup_refused() {
  local before after
  before=$(snapshot)
  restore_run backup
  check_refused "$RC" "$1"
  sleep 1
  after=$(snapshot)
  [ "$before" = "$after" ] || fail "cluster moved: before [$before] after [$after]"
}

# 2. same epoch as the run after the backup
backup_refused '"replay","too_old"'
after=$(snapshot)
[ "$(members_count "$li")" = 3 ] || fail "the member list changed"
"$D" kv put -c "$T/h$o.conf" k1 v1 > /dev/null || fail "no write after the refusal"
log "2. same-epoch restore refused (exit 103); cluster unchanged [$after]"
cp -a "$T/h$v" "$T/refused"
restore_run refused   # the refused dir, as left
[ "$RC" = 103 ] && grep -q "refusing to start" "$T/h$v.start.log" || fail "a second start of the refused dir was not refused at once ($RC)"
log "2. a second start of it is refused at once"

# 3. the real dir runs on; peers restart; the backup again (an older epoch now)
rm -rf "$T/h$v"; cp -a "$T/real" "$T/h$v"
testdrv_start "$v"; up "$v"
t0=$SECONDS
until [ "$(members_alive "$li")" = 3 ]; do [ $((SECONDS - t0)) -lt 15 ] || fail "the real h$v is not accepted"; sleep 0.2; done
"$D" kv put -c "$T/h$v.conf" k2 v2 > /dev/null || fail "no write through the real h$v"
epoch_real=$(status "$v" | jq -r .epoch)
[ "$epoch_real" -gt "$epoch_run" ] || fail "epoch did not advance ($epoch_run -> $epoch_real)"
sleep 2
stop "$v"
for i in $peers; do stop "$i"; testdrv_start "$i"; done
for i in $peers; do up "$i"; done
t0=$SECONDS
until L2=$(leader_of "$li") && [ "$(leader_of "$o" || true)" = "$L2" ]; do
  [ $((SECONDS - t0)) -lt 30 ] || fail "no leader after the peers restarted"; sleep 0.2; done
li=${L2#h}; o=$(other "$li" "$v")
backup_refused '"old_epoch"'
log "3. real dir accepted at epoch $epoch_real; after the peers restarted, the backup (older epoch) refused too"
if grep -l "Sanitizer\|runtime error" "$T"/*.log 2>/dev/null; then
  grep -h -A20 "Sanitizer\|runtime error" "$T"/*.log | head -60 >&2; fail "sanitizer report in an agent log"
fi
echo "proc_restore: PASS"

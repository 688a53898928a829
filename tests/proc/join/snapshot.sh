#!/bin/bash
# A host that joins after the log was compacted catches up from a snapshot (LMDB state
# serialized, streamed in chunks, installed), and restarts from it: h1 alone writes 200
# entries with [ha] snapshot_every = 64, then h2 joins; h2 must report an installed
# snapshot, read keys that exist only in it, restart, and still have them.
set -euo pipefail
B=${1:?build dir}
D=$B/agent/drover
PORT=$((19900 + ($$ % 40) * 2))
T=$(mktemp -d /tmp/drover-snap-XXXXXX)
# the operator credential `drover init` writes and admin commands sign with
export DROVER_OPERATOR_KEY=$T/operator.key
declare -A PID
cleanup() { for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; tail -5 "$T"/h*.log >&2; exit 1; }
for i in 1 2; do
  printf '[agent]\nname = h%s\nstate_dir = %s/h%s\ncontrol_socket = %s/h%s.sock\n[cluster]\nbind = 127.0.0.%s:%s\n[ha]\nsnapshot_every = 64\n' \
    "$i" "$T" "$i" "$T" "$i" "$i" "$PORT" > "$T/h$i.conf"
done
"$D" init --state-dir "$T/h1" > /dev/null
"$D" init --join --state-dir "$T/h2" > /dev/null
start() { "$D" agent -c "$T/h$1.conf" 2>> "$T/h$1.log" & PID[$1]=$!; for _ in $(seq 100); do [ -S "$T/h$1.sock" ] && return; sleep 0.05; done; fail "h$1 did not start"; }
start 1; start 2
sleep 1
for k in $(seq 200); do "$D" kv put -c "$T/h1.conf" "k$k" "v$k" > /dev/null || fail "write k$k"; done
snap1=$("$D" status -c "$T/h1.conf" --json | tr -d '\n ' | grep -o '"snapshot_index":[0-9]*' | cut -d: -f2)
[ "${snap1:-0}" -gt 64 ] || fail "h1 took no snapshot ($snap1)"
J=$("$D" token create -c "$T/h1.conf" --json | sed -n 's/.*"command": "drover \(.*\)".*/\1/p')
# shellcheck disable=SC2086
"$D" $J -c "$T/h2.conf" > /dev/null || fail "join"
t0=$SECONDS
until [ "$("$D" kv get -c "$T/h2.conf" k200 2>/dev/null)" = v200 ]; do
  [ $((SECONDS - t0)) -lt 20 ] || fail "h2 did not catch up"; sleep 0.2; done
snap2=$("$D" status -c "$T/h2.conf" --json | tr -d '\n ' | grep -o '"snapshot_index":[0-9]*' | cut -d: -f2)
[ "${snap2:-0}" -gt 0 ] || fail "h2 caught up without installing a snapshot (test did not test it)"
[ "$("$D" kv get -c "$T/h2.conf" k1)" = v1 ] || fail "k1 (only in the snapshot) missing on h2"
echo "[snapshot] h1 snapshot at $snap1; h2 installed one at $snap2 and has k1..k200"
kill -TERM "${PID[2]}"; wait "${PID[2]}" || true; start 2; sleep 1.5
[ "$("$D" kv get -c "$T/h2.conf" k1)" = v1 ] || fail "k1 lost after h2 restarted from its snapshot"
"$D" kv put -c "$T/h2.conf" after restart > /dev/null || fail "write through restarted h2"
[ "$("$D" kv get -c "$T/h2.conf" after)" = restart ] || fail "h2 does not apply after restart"
if grep -l "Sanitizer\|runtime error" "$T"/*.log 2>/dev/null; then fail "sanitizer report in an agent log"; fi
echo "snapshot: all checks passed"

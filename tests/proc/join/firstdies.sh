#!/bin/bash
# The first host of a cluster dies after the others joined through it: the survivors
# must hear each other directly. A joiner dials the members a moment before they have
# applied its admission, their ZAP refuses it, and libzmq never redoes that handshake;
# while the first host lives, gossip and Raft go through it and hide the one-way link.
# Regression test for that (agent/transport.c remakes such sockets).
#  1. h1 bootstraps, h2 and h3 join with tokens from h1, 3 voters;
#  2. SIGKILL h1: h2 and h3 elect a leader, see each other alive, and commit a write.
set -euo pipefail
B=${1:?build dir}
D=$B/agent/drover
PORT=$((19800 + ($$ % 300) * 2))
T=$(mktemp -d /tmp/drover-firstdies-XXXXXX)
# the operator credential `drover init` writes and admin commands sign with
export DROVER_OPERATOR_KEY=$T/operator.key
declare -A PID
cleanup() { for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for i in 1 2 3; do echo "--- h$i"; tail -8 "$T/h$i.log" 2>/dev/null; done >&2; exit 1; }
log() { echo "[firstdies $(date +%T.%3N)] $*"; }
for i in 1 2 3; do
  printf '[agent]\nname = h%s\nstate_dir = %s/h%s\ncontrol_socket = %s/h%s.sock\n[cluster]\nbind = 127.0.0.%s:%s\n[libvirt]\nuri = test:///%s/empty.xml\n' \
    "$i" "$T" "$i" "$T" "$i" "$i" "$PORT" "$T" > "$T/h$i.conf"
  if [ "$i" = 1 ]; then "$D" init --state-dir "$T/h1" > /dev/null; else "$D" init --join --state-dir "$T/h$i" > /dev/null; fi
done
echo '<node/>' > "$T/empty.xml"
start() { "$D" agent -c "$T/h$1.conf" 2>> "$T/h$1.log" & PID[$1]=$!; for _ in $(seq 100); do [ -S "$T/h$1.sock" ] && return; sleep 0.05; done; fail "h$1 did not start"; }
for i in 1 2 3; do start "$i"; done
status() { "$D" status -c "$T/h$1.conf" --json 2>/dev/null | tr -d '\n ' || true; }
token() { "$D" token create -c "$T/h1.conf" --json | sed -n 's/.*"command": "drover \(.*\)".*/\1/p'; }
t0=$SECONDS
until status 1 | grep -q '"leader":"h1"'; do [ $((SECONDS - t0)) -lt 20 ] || fail "h1 formed no cluster"; sleep 0.2; done
for i in 2 3; do
  J=$(token); [ -n "$J" ] || fail "token create printed no command"
  # shellcheck disable=SC2086
  "$D" $J -c "$T/h$i.conf" > /dev/null || fail "h$i could not join"
done
t0=$SECONDS
until status 1 | grep -o '"voters":\[[^]]*\]' | grep -q 'h1.*h2.*h3\|h1.*h3.*h2\|h2.*h1.*h3\|h2.*h3.*h1\|h3.*h1.*h2\|h3.*h2.*h1'; do
  [ $((SECONDS - t0)) -lt 30 ] || fail "voters did not reach 3: $(status 1 | grep -o '"voters":\[[^]]*\]')"; sleep 0.2; done
sleep 1
log "1. h2 and h3 joined through h1; voters: $(status 1 | grep -o '"voters":\[[^]]*\]')"

kill -KILL "${PID[1]}"; unset 'PID[1]'
t0=$SECONDS
until { l=$(status 2 | grep -o '"leader":"h[23]"' || true); [ -n "$l" ] && status 3 | grep -q "$l"; }; do
  [ $((SECONDS - t0)) -lt 15 ] || fail "no leader among h2 and h3 15 s after h1 died: h2 $(status 2 | grep -o '"role":"[a-z-]*"'), h3 $(status 3 | grep -o '"role":"[a-z-]*"')"
  sleep 0.2; done
"$D" kv put -c "$T/h3.conf" after h1 > /dev/null || fail "write through h3 after h1 died"
[ "$("$D" kv get -c "$T/h2.conf" after)" = h1 ] || fail "h2 does not see the write"
alive() { "$D" members -c "$T/h$1.conf" --json | grep -o '"state": *"alive"' | wc -l; }
t0=$SECONDS
until [ "$(alive 2)" = 2 ] && [ "$(alive 3)" = 2 ]; do
  [ $((SECONDS - t0)) -lt 10 ] || fail "h2/h3 do not both see each other alive"; sleep 0.2; done
log "2. h1 killed: $l elected after $((SECONDS - t0))+ s, write committed, h2 and h3 see each other alive"
if grep -l "Sanitizer\|runtime error" "$T"/*.log 2>/dev/null; then
  grep -h -A20 "Sanitizer\|runtime error" "$T"/*.log | head -60 >&2; fail "sanitizer report in an agent log"
fi
echo "proc_firstdies: PASS"

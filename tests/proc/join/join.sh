#!/bin/bash
# kubeadm/pvecm-style membership on real agents (127.0.0.1-4):
#  1. h1 bootstraps; h2 joins with a token; the token cannot be used twice;
#  2. a wrong fingerprint is refused and joins nothing; an expired token is refused;
#  3. h3 joins through a follower's endpoint (h2); the cluster grows to 3 voters;
#  4. writes through the newest host are seen everywhere; a restarted host keeps its state;
#  5. h2 is removed: its keys stop being admitted (its requests fail), it leaves the config.
set -euo pipefail
B=${1:?build dir}
D=$B/agent/drover
PORT=$((19000 + ($$ % 400) * 2))
T=$(mktemp -d /tmp/drover-join-XXXXXX)
# the operator credential `drover init` writes and admin commands sign with
export DROVER_OPERATOR_KEY=$T/operator.key
declare -A PID
cleanup() { for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for i in 1 2 3 4; do echo "--- h$i"; tail -8 "$T/h$i.log" 2>/dev/null; done >&2; exit 1; }
log() { echo "[join $(date +%T.%3N)] $*"; }
expect_rc() { local want=$1; shift; set +e; "$@" > "$T/out" 2> "$T/err"; local rc=$?; set -e
  [ "$rc" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "'$*' exited $rc, expected $want"; }; }

for i in 1 2 3 4; do
  printf '[agent]\nname = h%s\nstate_dir = %s/h%s\ncontrol_socket = %s/h%s.sock\n[cluster]\nbind = 127.0.0.%s:%s\n' \
    "$i" "$T" "$i" "$T" "$i" "$i" "$PORT" > "$T/h$i.conf"
  if [ "$i" = 1 ]; then "$D" init --state-dir "$T/h1" > /dev/null; else "$D" init --join --state-dir "$T/h$i" > /dev/null; fi
done
start() { "$D" agent -c "$T/h$1.conf" 2>> "$T/h$1.log" & PID[$1]=$!; for _ in $(seq 100); do [ -S "$T/h$1.sock" ] && return; sleep 0.05; done; fail "h$1 did not start"; }
for i in 1 2 3 4; do start "$i"; done
token() { "$D" token create -c "$T/h$1.conf" "${@:2}" --json | sed -n 's/.*"command": "drover \(.*\)".*/\1/p'; }
status() { "$D" status -c "$T/h$1.conf" --json | tr -d '\n '; }

sleep 1
J=$(token 1); [ -n "$J" ] || fail "token create printed no command"
# shellcheck disable=SC2086
expect_rc 0 "$D" $J -c "$T/h2.conf"
expect_rc 77 "$D" $J -c "$T/h3.conf"; grep -q 'already used' "$T/err" || fail "reuse message"
"$D" events -c "$T/h1.conf" --kind membership --json | grep -q '"admitted":"h2"' || fail "no admission event"
"$D" events -c "$T/h1.conf" --kind join --json | grep -q 'already used' || fail "no refusal event"
log "1. h2 joined; reusing its token refused (77); both in h1's event journal"

J=$(token 1)
bad=$(echo "$J" | sed 's/--fingerprint [A-Z0-9-]*/--fingerprint AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA/')
expect_rc 107 "$D" $bad -c "$T/h3.conf"; grep -q 'fingerprint mismatch' "$T/err" || fail "fingerprint message"
status 3 | grep -q '"raft":{"role"' && fail "h3 joined despite the wrong fingerprint"
J2=$(token 1 --ttl 1s); sleep 2
expect_rc 77 "$D" $J2 -c "$T/h4.conf"; grep -q 'expired' "$T/err" || fail "expiry message"
log "2. wrong fingerprint refused (107), expired token refused (77)"

J=$(token 2)
echo "$J" | grep -q "127.0.0.2:$((PORT + 1))" || fail "h2's token should point at h2's endpoint: $J"
expect_rc 0 "$D" $J -c "$T/h3.conf"
t0=$SECONDS
until status 1 | grep -q '"voters":\["h1","h2","h3"\]\|"voters":\[[^]]*h1[^]]*h2[^]]*h3'; do
  [ $((SECONDS - t0)) -lt 20 ] || fail "voters did not reach 3: $(status 1 | grep -o '"voters":\[[^]]*\]')"; sleep 0.2; done
log "3. h3 joined through follower h2; voters: $(status 1 | grep -o '"voters":\[[^]]*\]')"

expect_rc 0 "$D" kv put -c "$T/h3.conf" color blue
sleep 0.5
for i in 1 2 3; do [ "$("$D" kv get -c "$T/h$i.conf" color)" = blue ] || fail "h$i does not see the write"; done
kill -TERM "${PID[3]}"; wait "${PID[3]}" || true; start 3; sleep 1.5
[ "$("$D" kv get -c "$T/h3.conf" color)" = blue ] || fail "restarted h3 lost the state"
expect_rc 0 "$D" kv put -c "$T/h3.conf" after restart
log "4. writes seen on all hosts; restarted h3 kept its state and writes again"

"$D" events -c "$T/h3.conf" --follow --kind membership --json > "$T/follow" 2>&1 &
FOLLOW=$!
expect_rc 107 "$D" members remove h1 -c "$T/h1.conf"
expect_rc 105 "$D" members remove nosuch -c "$T/h1.conf"
expect_rc 0 "$D" members remove h2 -c "$T/h1.conf"
sleep 2
expect_rc 106 timeout 20 "$D" kv put -c "$T/h2.conf" from removed
t0=$SECONDS
until ! status 1 | grep -o '"voters":\[[^]]*\],"learners":\[[^]]*\]' | grep -q h2; do
  [ $((SECONDS - t0)) -lt 20 ] || fail "h2 still in the Raft configuration"; sleep 0.2; done
expect_rc 0 "$D" kv put -c "$T/h3.conf" without h2
kill "$FOLLOW" 2>/dev/null || true
grep -q '"removed":"h2"' "$T/follow" || fail "drover events --follow on h3 did not show h2's removal"
log "5. h2 removed: its requests fail (106), it left the configuration, the rest write on; h3 followed it live"
# agents built with ASan/UBSan report into their logs; any report fails the test
if grep -l "Sanitizer\|runtime error" "$T"/*.log 2>/dev/null; then
  grep -h -A20 "Sanitizer\|runtime error" "$T"/*.log | head -60 >&2; fail "sanitizer report in an agent log"
fi
echo "join: all checks passed"

#!/bin/bash
# kubeadm/pvecm-style membership on real agents (127.0.0.1-5):
#  1. h1 bootstraps; h2 joins with a token read from stdin; the token cannot be used twice
#     (from the environment this time); the refusal is one summary event in the journal;
#  2. a wrong fingerprint (token from a file) is refused and joins nothing; an expired
#     token (on argv, which warns) is refused; a host named like a member is refused
#     with the member's name and stays unjoined; token list shows ids and issuers, no
#     secret; a revoked token is refused;
#  3. h3 joins through a follower's endpoint (h2) while another source floods that
#     endpoint: the flood gets a handful of answers, the joiner gets its own; the
#     cluster grows to 3 voters;
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
fail() { echo "FAIL: $*" >&2; for i in 1 2 3 4 5; do echo "--- h$i"; tail -8 "$T/h$i.log" 2>/dev/null; done >&2; exit 1; }
log() { echo "[join $(date +%T.%3N)] $*"; }
expect_rc() { local want=$1; shift; set +e; "$@" > "$T/out" 2> "$T/err"; local rc=$?; set -e
  [ "$rc" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "'$*' exited $rc, expected $want"; }; }

for i in 1 2 3 4 5; do
  name=h$i; [ "$i" = 5 ] && name=h2   # h5 asks to join under a member's name
  printf '[agent]\nname = %s\nstate_dir = %s/h%s\ncontrol_socket = %s/h%s.sock\n[cluster]\nbind = 127.0.0.%s:%s\n' \
    "$name" "$T" "$i" "$T" "$i" "$i" "$PORT" > "$T/h$i.conf"
  if [ "$i" = 1 ]; then "$D" init --state-dir "$T/h1" > /dev/null; else "$D" init --join --state-dir "$T/h$i" > /dev/null; fi
done
start() { "$D" agent -c "$T/h$1.conf" 2>> "$T/h$1.log" & PID[$1]=$!; for _ in $(seq 100); do [ -S "$T/h$1.sock" ] && return; sleep 0.05; done; fail "h$1 did not start"; }
for i in 1 2 3 4 5; do start "$i"; done
token() { "$D" token create -c "$T/h$1.conf" "${@:2}" --json | sed -n 's/.*"command": "drover \(.*\)".*/\1/p'; }
status() { "$D" status -c "$T/h$1.conf" --json | tr -d '\n '; }
# mint() HOST [ARGS]: a token into $TOK, $ADDR, $FPR (from token create --json)
mint() { "$D" token create -c "$T/h$1.conf" "${@:2}" --json > "$T/tok.json" || fail "token create on h$1"
  f() { sed -n "s/.*\"$1\": \"\([^\"]*\)\".*/\1/p" "$T/tok.json"; }
  TOK=$(f token); ADDR=$(f addr); FPR=$(f fingerprint); [ -n "$TOK" ] && [ -n "$FPR" ] || fail "token create printed no token"; }
join_stdin() { local h=$1; shift; set +e; echo "$TOK" | "$D" join "$ADDR" --token - --fingerprint "$FPR" -c "$T/h$h.conf" "$@" \
  > "$T/out" 2> "$T/err"; RC=$?; set -e; }

sleep 1
mint 1
join_stdin 2; [ "$RC" = 0 ] || { cat "$T/err" >&2; fail "h2 did not join with the token on stdin ($RC)"; }
grep -q 'visible to local users' "$T/err" && fail "--token - warned about argv"
expect_rc 77 env DROVER_JOIN_TOKEN="$TOK" "$D" join "$ADDR" --fingerprint "$FPR" -c "$T/h3.conf"
grep -q 'already used' "$T/err" || fail "reuse message"
"$D" events -c "$T/h1.conf" --kind membership --json | grep -q '"admitted":"h2"' || fail "no admission event"
"$D" events -c "$T/h1.conf" --kind join --json | grep -q 'already used' || fail "no refusal summary event"
log "1. h2 joined (token on stdin); reusing its token (from the environment) refused (77); both journalled"

mint 1
echo "$TOK" > "$T/token"
expect_rc 107 "$D" join "$ADDR" --token-file "$T/token" -c "$T/h3.conf" \
  --fingerprint AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA-AAAAA
grep -q 'fingerprint mismatch' "$T/err" || fail "fingerprint message"
status 3 | grep -q '"raft":{"role"' && fail "h3 joined despite the wrong fingerprint"
J2=$(token 1 --ttl 1s); sleep 2
# shellcheck disable=SC2086
expect_rc 77 "$D" $J2 -c "$T/h4.conf"; grep -q 'expired' "$T/err" || fail "expiry message"
grep -q 'visible to local users' "$T/err" || fail "--token VALUE did not warn"
log "2a. wrong fingerprint refused (107, token from a file), expired token refused (77, argv warned)"

mint 1
join_stdin 5; [ "$RC" = 77 ] || fail "h5 named like h2 exited $RC, expected 77"
grep -q 'a member named h2 already exists (host id [0-9a-f]*): pick another name or remove it first with `drover members remove h2`' \
  "$T/err" || { cat "$T/err" >&2; fail "duplicate name message"; }
status 5 | grep -q '"raft":{"role"' && fail "h5 joined under a duplicate name"
ID=${TOK%%.*}
"$D" token list -c "$T/h1.conf" --json > "$T/list"
grep -q "\"id\": \"$ID\"" "$T/list" || fail "token list lacks $ID (a duplicate name must not spend the token)"
grep -q '"issuer": "h1"' "$T/list" || fail "token list lacks the issuer"
grep -q "${TOK#*.}" "$T/list" && fail "token list shows a secret"
"$D" token list -c "$T/h2.conf" | grep -q "^$ID .* h1" || fail "token list (text) on h2"
expect_rc 0 "$D" token revoke "$ID" -c "$T/h1.conf"
expect_rc 105 "$D" token revoke "$ID" -c "$T/h1.conf"
sleep 0.3
"$D" token list -c "$T/h1.conf" --json | grep -q "$ID" && fail "revoked token still listed"
join_stdin 4; [ "$RC" = 77 ] || fail "a revoked token was not refused ($RC)"
log "2b. duplicate name refused with the member's name (77); token list has no secret; revoked token refused"

mint 2
[ "$ADDR" = "tcp://127.0.0.2:$((PORT + 1))" ] || fail "h2's token should point at h2's endpoint: $ADDR"
ev0=$("$D" events -c "$T/h2.conf" --kind join --json | grep -c . || true)
"$B/tests/proc/join/join_flood" "127.0.0.2:$((PORT + 1))" 127.0.0.9 3000 > "$T/flood" &
FLOOD=$!
join_stdin 3; [ "$RC" = 0 ] || { cat "$T/err" >&2; fail "h3 did not join during a flood from another source ($RC)"; }
wait "$FLOOD"
answered=$(cat "$T/flood")
[ "$answered" -le 12 ] || fail "the flooding source got $answered answers (per-source limit: burst 5, 1/s)"
ev1=$("$D" events -c "$T/h2.conf" --kind join --json | grep -c . || true)
[ $((ev1 - ev0)) -le 3 ] || fail "the flood wrote $((ev1 - ev0)) join events into h2's journal"
if status 2 | grep -q '"join":{'; then
  status 2 | grep -o '"join":{[^}]*}[^}]*}' | grep -q '"rate_source":[1-9]' || fail "no rate_source count in status"
fi
t0=$SECONDS
until status 1 | grep -q '"voters":\["h1","h2","h3"\]\|"voters":\[[^]]*h1[^]]*h2[^]]*h3'; do
  [ $((SECONDS - t0)) -lt 20 ] || fail "voters did not reach 3: $(status 1 | grep -o '"voters":\[[^]]*\]')"; sleep 0.2; done
log "3. h3 joined through follower h2 while 127.0.0.9 flooded it ($answered of 3000 answered); voters: $(status 1 | grep -o '"voters":\[[^]]*\]')"

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

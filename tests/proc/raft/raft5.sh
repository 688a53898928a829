#!/bin/bash
# 5 real agents on 127.0.0.1-5, 5 voters, default timings (election 500 ms):
#  1. one leader; writes through every host commit;
#  2. SIGKILL the leader -> a write through a survivor commits within the bound the
#     config implies (4 x the longest election timeout), measured;
#  3. SIGSTOP the new leader 2 s, SIGCONT -> another leader in between, the old one
#     steps down; no term ever had two leaders (logs of all hosts);
#  4. restart the killed host -> it catches up; every write that was acknowledged is
#     present on every host (nothing committed was lost); no anomaly counted anywhere.
set -euo pipefail
B=${1:?build dir}
D=$B/agent/drover
N=5
PORT=$((18000 + $$ % 1000))
T=$(mktemp -d /tmp/drover-r5-XXXXXX)
declare -A PID
cleanup() {
  for p in "${PID[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for i in $(seq $N); do echo "--- h$i"; grep -h "raft\|error" "$T/h$i.log" | tail -8; done >&2; exit 1; }
log() { echo "[raft5 $(date +%T.%3N)] $*"; }
now_ms() { date +%s%3N; }

echo "cluster_id = $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" > "$T/roster"
# the operator credential (h1's init writes it, the others use it): kv put signs with it
export DROVER_OPERATOR_KEY=$T/operator.key
for i in $(seq $N); do
  "$D" init --state-dir "$T/h$i" > /dev/null
  "$D" roster line --state-dir "$T/h$i" --name "h$i" --addr "tcp://127.0.0.$i:$PORT" >> "$T/roster"
  [ "$i" != 1 ] || "$D" roster operator >> "$T/roster"
  cat > "$T/h$i.conf" <<CONF
[agent]
name = h$i
state_dir = $T/h$i
control_socket = $T/h$i.sock
[cluster]
bind = 127.0.0.$i:$PORT
roster = $T/roster
[ha]
voters = 5
CONF
done
start() { "$D" agent -c "$T/h$1.conf" 2>> "$T/h$1.log" & PID[$1]=$!; }
leader_seen_by() { "$D" status -c "$T/h$1.conf" --json 2>/dev/null | tr -d '\n ' | grep -o '"leader":"[^"]*"' | cut -d'"' -f4; }
acked=()
put() {  # host key -> 0 when committed
  if "$D" kv put -c "$T/h$1.conf" "$2" "v-$2" > /dev/null 2>> "$T/put.err"; then acked+=("$2"); return 0; fi
  return 1
}

for i in $(seq $N); do start "$i"; done
t0=$SECONDS
until L=$(leader_seen_by 1) && [ -n "$L" ] && [ "$L" != none ]; do
  [ $((SECONDS - t0)) -lt 30 ] || fail "no leader after 30 s"; sleep 0.1
done
log "1. leader $L"
for i in $(seq 1 25); do put $(( (i % N) + 1 )) "a$i" || fail "write a$i through h$(( (i % N) + 1 )) failed"; done
log "1. 25 writes through all hosts committed"

li=${L#h}
kill -KILL "${PID[$li]}"; wait "${PID[$li]}" 2>/dev/null || true; unset "PID[$li]"
killed=$li
t_kill=$(now_ms)
survivor=$(( li % N + 1 ))
n=0
until put "$survivor" "b$n"; do
  n=$((n + 1))
  [ $(( $(now_ms) - t_kill )) -lt 30000 ] || fail "no write committed within 30 s of killing the leader"
done
failover=$(( $(now_ms) - t_kill ))
bound=$(( 4 * 1000 ))   # 4 x the longest election timeout (2 x 500 ms base)
log "2. killed leader h$li; a write through h$survivor committed after $failover ms (bound $bound ms)"
[ "$failover" -le "$bound" ] || fail "failover took $failover ms, over the $bound ms the config implies"

L2=$(leader_seen_by "$survivor"); l2=${L2#h}
[ -n "$l2" ] && [ "$l2" != "$li" ] || fail "no new leader visible"
kill -STOP "${PID[$l2]}"
sleep 2
other=$(( l2 % N + 1 )); [ "$other" = "$killed" ] && other=$(( other % N + 1 ))
put "$other" "c1" || fail "no write committed while h$l2 was paused"
kill -CONT "${PID[$l2]}"
sleep 1.5
put "$l2" "c2" || fail "write through the resumed former leader h$l2 failed"
log "3. paused leader h$l2 for 2 s: writes continued, the resumed host rejoined as $(leader_seen_by "$l2" | sed 's/^/follower of /')"

start "$killed"
sleep 3
for i in $(seq $N); do
  for k in "${acked[@]}"; do
    v=$("$D" kv get -c "$T/h$i.conf" "$k" 2>/dev/null || true)
    [ "$v" = "v-$k" ] || fail "acknowledged write $k missing on h$i (got '$v')"
  done
  a=$("$D" status -c "$T/h$i.conf" --json | tr -d '\n ' | grep -o '"anomalies":[0-9]*' | cut -d: -f2)
  [ "$a" = 0 ] || fail "h$i counted $a Raft anomalies"
  # an honest cluster sends nothing the core's sender rules refuse (issue 12)
  j=$("$D" status -c "$T/h$i.conf" --json | tr -d '\n ')
  for why in not_member not_voter term_bound bad_term; do
    c=$(grep -o "\"$why\":[0-9]*" <<<"$j" | head -1 | cut -d: -f2)
    [ "$c" = 0 ] || fail "h$i refused ${c:-?} honest Raft messages as $why"
  done
done
log "4. all ${#acked[@]} acknowledged writes present on all $N hosts, 0 anomalies, 0 refused"

# election safety across the whole run: one coordinator per term
grep -h "this host coordinates" "$T"/h*.log | sed 's/.*leader is \([^ ]*\) (term \([0-9]*\)).*/\2 \1/' | sort -u > "$T/terms"
dups=$(cut -d' ' -f1 "$T/terms" | uniq -d)
[ -z "$dups" ] || fail "terms with two leaders: $dups ($(cat "$T/terms"))"
log "election safety: $(wc -l < "$T/terms") leader terms, none with two leaders"
# agents built with ASan/UBSan report into their logs; any report fails the test
if grep -l "Sanitizer\|runtime error" "$T"/*.log 2>/dev/null; then
  grep -h -A20 "Sanitizer\|runtime error" "$T"/*.log | head -60 >&2; fail "sanitizer report in an agent log"
fi
echo "raft5: all checks passed; failover_ms=$failover"

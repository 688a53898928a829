#!/bin/bash
# 16 real agents on 127.0.0.1-16 (loopback only) with real zmq + CURVE:
#  1. all 16 see each other alive;
#  2. SIGKILL one -> every other agent marks it dead;
#  3. restart it -> it is alive everywhere again with a higher incarnation;
#  4. SIGSTOP one for 0.5 s -> nobody marks it dead;
#  5. a host that is not in the roster cannot join (ZAP refuses it, nobody lists it);
#  6. forged, replayed and impersonating messages from a member's credentials are rejected
#     and counted by reason; so are lies inside well-sealed gossip (issue 12: a forged
#     status record at UINT64_MAX, a record under another version, DEAD/ALIVE at
#     incarnation 0xFFFFFFFF), and the lied-about member stays alive with its record.
set -euo pipefail
B=${1:?build dir}
D=$B/agent/drover
FORGE=$B/tests/proc/gossip/gossip_forge
N=16
PORT=$((17000 + $$ % 1000))
T=$(mktemp -d /tmp/drover-g16-XXXXXX)
declare -A PID
cleanup() {
  for p in "${PID[@]}"; do kill -CONT "$p" 2>/dev/null || true; kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; for i in $(seq $N); do echo "--- h$i"; tail -5 "$T/h$i.log" 2>/dev/null; done >&2; exit 1; }
log() { echo "[gossip16 $(date +%T.%3N)] $*"; }

cid=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
echo "cluster_id = $cid" > "$T/roster"
export DROVER_OPERATOR_KEY=$T/operator.key   # what `drover init` writes (no admin command here)
for i in $(seq $N) 99; do
  "$D" init --state-dir "$T/h$i" > /dev/null
  cat > "$T/h$i.conf" <<CONF
[agent]
name = h$i
state_dir = $T/h$i
control_socket = $T/h$i.sock
log_level = debug
[cluster]
bind = 127.0.0.$i:$PORT
roster = $T/roster$([ "$i" = 99 ] && echo 99)
[gossip]
status_interval = 1s
CONF
  [ "$i" = 99 ] || "$D" roster line --state-dir "$T/h$i" --name "h$i" --addr "tcp://127.0.0.$i:$PORT" >> "$T/roster"
done
start() { "$D" agent -c "$T/h$1.conf" 2>> "$T/h$1.log" & PID[$1]=$!; }
members_json() { "$D" members -c "$T/h$1.conf" --json 2>/dev/null || true; }
# members --json read with jq: members carry nested objects (status, ha) in any key order
count_state() {  # host, state -> how many members host $1 sees in state $2
  members_json "$1" | jq --arg s "$2" '[.members[]? | select(.state == $s)] | length' 2>/dev/null || echo 0
}
member_field() {  # host, name, field -> that field of name as seen by host
  members_json "$1" | jq -rc --arg n "$2" --arg f "$3" '.members[]? | select(.name == $n) | .[$f]' 2>/dev/null | head -1
}
state_of() { member_field "$1" "$2" state; }
inc_of() { member_field "$1" "$2" incarnation; }
wait_until() {  # seconds, description, command...
  local secs=$1 what=$2; shift 2
  local t0=$SECONDS
  until "$@"; do
    [ $((SECONDS - t0)) -lt "$secs" ] || fail "$what (after ${secs}s)"
    sleep 0.2
  done
  log "$what: after $((SECONDS - t0))s"
}
all_see() {  # state count, excluding host $3
  local want=$1 n=$2 skip=${3:-0} i
  for i in $(seq $N); do
    [ "$i" = "$skip" ] && continue
    [ "$(count_state "$i" "$want")" -ge "$n" ] || return 1
  done
}
all_see_as() {  # name state, excluding host $3
  local name=$1 want=$2 skip=${3:-0} i
  for i in $(seq $N); do
    [ "$i" = "$skip" ] && continue
    [ "$(state_of "$i" "$name")" = "$want" ] || return 1
  done
}

for i in $(seq $N); do start "$i"; done
wait_until 60 "1. all $N agents see $N alive" all_see alive $N

inc_before=$(inc_of 1 h$N)
kill -KILL "${PID[$N]}"; wait "${PID[$N]}" 2>/dev/null || true; unset "PID[$N]"
log "2. SIGKILLed h$N (incarnation $inc_before)"
wait_until 60 "2. every other agent marks h$N dead" all_see_as "h$N" dead $N

start $N
wait_until 60 "3. restarted h$N is alive everywhere" all_see_as "h$N" alive 0
inc_after=$(inc_of 1 h$N)
[ "$inc_after" -gt "$inc_before" ] || fail "incarnation did not grow ($inc_before -> $inc_after)"
log "3. h$N incarnation $inc_before -> $inc_after"

victim=$((N - 1))
kill -STOP "${PID[$victim]}"; sleep 0.5; kill -CONT "${PID[$victim]}"
log "4. paused h$victim for 0.5 s"
sleep 4   # longer than the suspicion timeout at N=16
for i in $(seq $N); do
  grep -q "member h$victim is dead" "$T/h$i.log" && fail "h$i declared the briefly paused h$victim dead"
done
all_see alive $N || fail "not everyone alive after the pause"
log "4. no agent declared h$victim dead"

# h99 believes it is in the cluster (its own roster lists everyone plus itself)
cp "$T/roster" "$T/roster99"
"$D" roster line --state-dir "$T/h99" --name h99 --addr "tcp://127.0.0.99:$PORT" >> "$T/roster99"
start 99
sleep 3
for i in $(seq $N); do
  [ -z "$(state_of "$i" h99)" ] || fail "h$i lists the non-member h99"
done
denied=$("$D" status -c "$T/h1.conf" --json | grep -o '"zap_denied": [0-9]*' | grep -o '[0-9]*$')
[ "${denied:-0}" -gt 0 ] || fail "h1 counted no refused handshake from h99"
[ "$(count_state 99 alive)" = 1 ] || fail "h99 sees others alive"
log "5. non-member h99 refused ($denied handshakes denied at h1), listed by nobody"

# 6. an attacker with h16's credentials (h16 stopped for it) and h15's key as the impersonated one
kill -KILL "${PID[$N]}"; wait "${PID[$N]}" 2>/dev/null || true; unset "PID[$N]"
h1_curve=$(sed -n 's/^curve_pk = //p' "$T/h1/host.pub")
"$FORGE" "$T/h$N" "$T/h$victim" "$cid" "$h1_curve" "tcp://127.0.0.1:$PORT"
st=$("$D" status -c "$T/h1.conf" --json | tr -d '\n ')
# by path, not by name: other sections (raft.admin) have counters of the same names
for reason in decode replay bad_signature sender_mismatch; do
  v=$(jq -r ".rejected.$reason // 0" <<< "$st")
  [ "${v:-0}" -ge 1 ] || fail "h1 did not count a '$reason' rejection ($(jq -c .rejected <<< "$st"))"
done
old=$(jq -r '.rejected.old_epoch // 0' <<< "$st")
[ "${old:-0}" = 0 ] || fail "impersonation moved h$victim's replay window ($old old_epoch rejections)"
log "6. h1 rejected and counted: $(echo "$st" | grep -o '"rejected":{[^}]*}')"
for reason in status_bad_signature status_version_mismatch incarnation_unsigned incarnation_bad_signature; do
  v=$(jq -r ".gossip.refused.$reason // 0" <<< "$st")
  [ "${v:-0}" -ge 1 ] || fail "h1 did not refuse and count a '$reason' gossip update ($(jq -c .gossip.refused <<< "$st"))"
done
log "6. h1 refused and counted: $(jq -c .gossip.refused <<< "$st")"
all_see alive $((N - 2)) "$N" || fail "cluster disturbed by the forgeries"
[ "$(state_of 1 "h$victim")" = alive ] || fail "h1 believes the lie about h$victim"
[ "$(inc_of 1 "h$victim")" != 4294967295 ] || fail "h$victim's incarnation was raised by a lie at h1"
[ "$(member_field 1 "h$victim" status | jq -r '.version // empty' 2>/dev/null)" != "" ] ||
  fail "h1 holds no verified status record of h$victim after the forgeries"
bad=$(members_json 1 | jq '[.members[]? | select(.status_error)] | length')
[ "$bad" = 0 ] || fail "$bad status records at h1 fail verification after the forgeries"
# agents built with ASan/UBSan report into their logs; any report fails the test
if grep -l "Sanitizer\|runtime error" "$T"/*.log 2>/dev/null; then
  grep -h -A20 "Sanitizer\|runtime error" "$T"/*.log | head -60 >&2; fail "sanitizer report in an agent log"
fi
echo "gossip16: all checks passed"

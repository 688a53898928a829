#!/bin/bash
# Issue 12, point 8: one member's keys must not own the cluster. Four real agents on
# loopback (static roster); the member that is no voter is "the compromised host": its
# agent is killed and member_forge, holding its keys, sends every forgery of the issue's
# list to each of the three others over legitimate CURVE connections, in well-signed
# envelopes: Raft AppendEntries at terms UINT64_MAX and 1000 and a vote request at term
# UINT64_MAX, a RUN command at
# term 2^63 (a root shell command), a result for a command it was never sent, forwarded
# writes of member/ and token/ keys without the operator credential, STATUS(victim,
# UINT64_MAX, junk) and DEAD(victim, max incarnation), the victim another live host.
# Each must be refused and counted by reason on every host, and the cluster keep its
# leader and term, its members alive with their records, the protected VM on its owner,
# and its ability to commit. (A restored state dir: tests/proc/restore.)
set -euo pipefail
B=${1:?build dir}
D=$B/agent/drover
FORGE=$B/tests/proc/security/member_forge
CTL=$B/tests/lab/drctl
PORT=$((21400 + ($$ % 300) * 2))
T=$(mktemp -d /tmp/drover-forge-XXXXXX)
# shellcheck source=../testdrv.sh
source "$(dirname "$0")/../testdrv.sh"
cleanup() { testdrv_kill_all; rm -rf "$T"; }
trap cleanup EXIT
log() { echo "[forge $(date +%T.%3N)] $*"; }
fail() { echo "FAIL: $*" >&2; for i in 1 2 3 4; do echo "--- h$i"; tail -6 "$T/h$i.log" 2>/dev/null; done >&2; exit 1; }
st() { "$CTL" "$T/h$1.sock" status '{}' 5000 2>/dev/null || echo '{}'; }
alive() { "$CTL" "$T/h$1.sock" members '{}' 5000 2>/dev/null | jq -r '[.members[]? | select(.state == "alive")] | length'; }
state_of() { "$CTL" "$T/h$1.sock" members '{}' 5000 2>/dev/null | jq -r ".members[]? | select(.name == \"$2\") | .state"; }
vm_test() { "$D" vm list --json -c "$T/h$V.conf" 2>/dev/null | jq -c '.vms[]? | select(.name == "test")'; }
num() { jq -r "$2 // 0" <<< "$1"; }
sum() { jq -r "[$2] | map(. // 0) | add" <<< "$1"; }

testdrv_setup 4
# voters are the first three members by host id: the last one is the learner, the
# attacker; the VM lives on a voter (its owner must not be the host we kill)
L=$(awk '/^member/ {print $4, $3}' "$T/roster" | sort | tail -1 | cut -d' ' -f2)
L=${L#h}
V=1; [ "$L" != 1 ] || V=2
for i in 1 2 3 4; do
  uri=test://$T/empty.xml; [ "$i" != "$V" ] || uri=test:///default
  sed -i "s#^uri = .*#uri = $uri#" "$T/h$i.conf"
done
LIVE=(); for i in 1 2 3 4; do [ "$i" = "$L" ] || LIVE+=("$i"); done
log "attacker h$L (a learner), VM owner h$V, targets h${LIVE[*]}"
for i in 1 2 3 4; do testdrv_start "$i"; done

t0=$SECONDS
until [ "$(num "$(st "$V")" '.raft.leader')" != 0 ] && [ "$(num "$(st "$V")" '.raft.leader')" != null ] &&
      [ "$(alive "$V")" = 4 ]; do
  [ $((SECONDS - t0)) -lt 60 ] || fail "no leader with 4 alive members in 60 s: leader $(num "$(st "$V")" '.raft.leader'), $(alive "$V") alive"
  sleep 0.3
done
# the VM is known to HA once its owner's first report is in: protect it from then on
t0=$SECONDS
until "$D" vm protect test -c "$T/h$V.conf" > "$T/protect.out" 2>&1; do
  [ $((SECONDS - t0)) -lt 30 ] || fail "vm protect test failed for 30 s: $(cat "$T/protect.out")"
  sleep 0.3
done
t0=$SECONDS
until vm_test | jq -e 'select(.ha.protected == true)' > /dev/null; do
  [ $((SECONDS - t0)) -lt 30 ] || fail "test not protected after 30 s: $("$D" vm list -c "$T/h$V.conf" 2>&1 | tail -3)"
  sleep 0.3
done
kill -KILL "${PIDS[$((L - 1))]}"
log "h$L's agent killed; its keys are the attacker's"
sleep 1

declare -A LEADER TERM RAFT_R HA_R ADMIN_R GOSSIP_R
for i in "${LIVE[@]}"; do
  s=$(st "$i")
  LEADER[$i]=$(num "$s" '.raft.leader'); TERM[$i]=$(num "$s" '.raft.term')
  RAFT_R[$i]=$(sum "$s" '.raft.refused.not_member, .raft.refused.not_voter, .raft.refused.term_bound, .raft.refused.bad_term')
  HA_R[$i]=$(sum "$s" '.ha.commands_refused_sender.not_leader, .ha.commands_refused_sender.not_current_term')
  ADMIN_R[$i]=$(sum "$s" '.raft.admin.refused_at_leader[]?')
  GOSSIP_R[$i]=$(sum "$s" '.gossip.refused.status_bad_signature, .gossip.refused.incarnation_unsigned')
done
for i in "${LIVE[@]}"; do
  # the lies are about another live host (a host ignores claims about itself)
  w=${LIVE[0]}; [ "$w" != "$i" ] || w=${LIVE[1]}
  "$FORGE" "$T/h$L" "$T/h$i" "$T/h$i.sock" "tcp://127.0.0.$i:$PORT" "$T/h$w" "$T/ran.h$i" "${TERM[$i]}" ||
    fail "member_forge against h$i failed"
done
log "forgeries sent to h${LIVE[*]}"
sleep 3

# refused and counted, by reason, on every host
for i in "${LIVE[@]}"; do
  s=$(st "$i")
  r=$(sum "$s" '.raft.refused.not_member, .raft.refused.not_voter, .raft.refused.term_bound, .raft.refused.bad_term')
  [ "$r" -ge $((RAFT_R[$i] + 3)) ] || fail "h$i counted $((r - RAFT_R[$i])) refused Raft messages, not 3: $(jq -c .raft.refused <<< "$s")"
  [ "$(num "$s" '.raft.refused.not_voter')" -ge 1 ] || fail "h$i did not refuse the learner's AppendEntries as not_voter: $(jq -c .raft.refused <<< "$s")"
  c=$(sum "$s" '.ha.commands_refused_sender.not_leader, .ha.commands_refused_sender.not_current_term')
  [ "$c" -ge $((HA_R[$i] + 1)) ] || fail "h$i did not count the forged RUN command: $(jq -c .ha.commands_refused_sender <<< "$s")"
  g=$(sum "$s" '.gossip.refused.status_bad_signature, .gossip.refused.incarnation_unsigned')
  [ "$g" -ge $((GOSSIP_R[$i] + 2)) ] || fail "h$i counted $((g - GOSSIP_R[$i])) refused gossip lies, not 2: $(jq -c .gossip.refused <<< "$s")"
  [ ! -e "$T/ran.h$i" ] || fail "h$i ran the forged RUN command"
  log "h$i: raft refused +$((r - RAFT_R[$i])) $(jq -c .raft.refused <<< "$s"), commands refused +$((c - HA_R[$i])), gossip refused +$((g - GOSSIP_R[$i]))"
done
lead=${LEADER[$V]}
li=${lead#h}
s=$(st "$li")
a=$(sum "$s" '.raft.admin.refused_at_leader[]?')
[ "$a" -ge $((ADMIN_R[$li] + 2)) ] || fail "the leader $lead counted $((a - ADMIN_R[$li])) refused admin writes, not 2: $(jq -c .raft.admin <<< "$s")"
log "leader $lead: admin writes refused +$((a - ADMIN_R[$li])) $(jq -c .raft.admin.refused_at_leader <<< "$s")"
# the coordinator (the leader's agent) takes a result only from the host its command went
# to (counted as result_not_target); this one names no command in flight, so it changes
# nothing, which the checks below see (a forged result for a command in flight: unit
# results_only_from_the_command_host, and ha_sim's forging member)
log "coordinator $lead: reports refused $(jq -c .ha.reports_refused_sender <<< "$s") (the forged result named no command in flight)"
for key in member/00112233445566778899aabbccddeeff token/00112233445566778899aabbccddeeff; do
  if "$D" kv get "$key" -c "$T/h$V.conf" > /dev/null 2>&1; then fail "the forged write of $key was applied"; fi
done

# the cluster as it was: leader, term, members and their records, the VM, commits
for i in "${LIVE[@]}"; do
  s=$(st "$i")
  [ "$(num "$s" '.raft.leader')" = "${LEADER[$i]}" ] || fail "h$i follows $(num "$s" '.raft.leader') now, not ${LEADER[$i]}"
  [ "$(num "$s" '.raft.term')" = "${TERM[$i]}" ] || fail "h$i's term moved from ${TERM[$i]} to $(num "$s" '.raft.term')"
  for j in "${LIVE[@]}"; do
    state=$(state_of "$i" "h$j")
    [ "$state" = alive ] || fail "h$i sees h$j as '$state' after the lies"
  done
done
vm_test > "$T/vm.json"
jq -e "select(.state == \"running\" and .ha.protected == true and .ha.owner == \"h$V\")" "$T/vm.json" > /dev/null ||
  fail "vm test is not running, protected, on h$V any more: $(cat "$T/vm.json")"
"$D" kv put forge/after ok -c "$T/h${LIVE[0]}.conf" > /dev/null || fail "the cluster cannot commit after the forgeries"
log "PASS: every forgery refused and counted; leader ${LEADER[$V]} at term ${TERM[$V]} kept, members alive, vm test on h$V"

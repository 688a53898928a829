#!/bin/bash
# bench/gossip/proc_compare.sh BUILD_DIR [N] [TRIALS] — detection with N real drover
# agents on 127.0.0.1..N (zmq + CURVE, loopback only), the "proc" mode of bench/gossip.sh.
# Same setup as tests/proc/gossip/gossip16.sh (static roster).  Per trial one agent (a
# PID this script started) is SIGKILLed; each other agent's log line "member hX is dead"
# gives its detection time.  Prints JSON lines like gossip_bench, "mode":"proc".
set -euo pipefail
B=${1:?usage: proc_compare.sh BUILD_DIR [N] [TRIALS]}
N=${2:-16}
TRIALS=${3:-3}
D=$B/agent/drover
[ -x "$D" ] || { echo "proc_compare: $D not built, skipped" >&2; exit 0; }
PORT=$((18000 + $$ % 1000))
T=$(mktemp -d /tmp/drover-gbench-XXXXXX)
declare -A PID
cleanup() {
  for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT
ms_of_day() { awk -F'[:.]' '{print (($1 * 60 + $2) * 60 + $3) * 1000 + $4}'; }

cid=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
echo "cluster_id = $cid" > "$T/roster"
export DROVER_OPERATOR_KEY=$T/operator.key   # drover init's operator key: ours, not /etc/drover's
for i in $(seq "$N"); do
  "$D" init --state-dir "$T/h$i" > /dev/null
  cat > "$T/h$i.conf" <<CONF
[agent]
name = h$i
state_dir = $T/h$i
control_socket = $T/h$i.sock
log_level = info
[cluster]
bind = 127.0.0.$i:$PORT
roster = $T/roster
CONF
  "$D" roster line --state-dir "$T/h$i" --name "h$i" --addr "tcp://127.0.0.$i:$PORT" >> "$T/roster"
done
for i in $(seq "$N"); do
  "$D" agent -c "$T/h$i.conf" 2>> "$T/h$i.log" &
  PID[$i]=$!
  disown "$!"
done
alive_at() { "$D" members -c "$T/h$1.conf" --json 2>/dev/null | grep -c '"state": "alive"' || true; }
for _ in $(seq 1 300); do                     # bounded: 60 s until h1 and h$N see all
  [ "$(alive_at 1)" -ge "$N" ] && [ "$(alive_at "$N")" -ge "$N" ] && break
  sleep 0.2
done
[ "$(alive_at 1)" -ge "$N" ] || { echo "proc_compare: agents did not converge" >&2; exit 1; }
sleep 3

samples=$T/samples
: > "$samples"
worst=0
killed=""
for t in $(seq 1 "$TRIALS"); do
  victim=$((t + 1))                           # h2, h3, ...
  up=$((N - t))
  t0=$(date +%H:%M:%S.%3N | ms_of_day)
  kill -KILL "${PID[$victim]}"
  unset "PID[$victim]"
  killed="$killed h$victim"
  for _ in $(seq 1 300); do                   # bounded: 30 s
    got=$( (grep -l "member h$victim is dead" "$T"/h*.log 2>/dev/null || true) | wc -l)
    [ "$got" -ge "$up" ] && break
    sleep 0.1
  done
  [ "$got" -ge "$up" ] || echo "proc_compare: only $got of $up agents marked h$victim dead" >&2
  for f in "$T"/h*.log; do
    line=$(grep -m1 "member h$victim is dead" "$f" || true)
    [ -n "$line" ] || continue
    d=$(( $(echo "${line%% *}" | ms_of_day) - t0 ))
    echo "$d" >> "$samples"
    [ "$d" -gt "$worst" ] && worst=$d
  done
  sleep 3
done
fp=0
for f in "$T"/h*.log; do
  while read -r name; do
    case " $killed " in *" $name "*) ;; *) fp=$((fp + 1)) ;; esac
  done < <(grep -o "member h[0-9]* is dead" "$f" | awk '{print $2}' || true)
done
emit() {
  printf '{"bench":"gossip","system":"drover","mode":"proc","n":%d,"hosts":%d,"metric":"%s","value":%s,"unit":"%s","trials":%d}\n' \
    "$N" "$N" "$1" "$2" "$3" "$TRIALS"
}
sort -n "$samples" > "$samples.sorted"
cnt=$(wc -l < "$samples.sorted")
pick() { awk -v p="$1" -v c="$cnt" 'NR == int(p * (c - 1) + 0.5) + 1 {print; exit}' "$samples.sorted"; }
emit detect_p50_ms "$(pick 0.50)" ms
emit detect_p99_ms "$(pick 0.99)" ms
emit detect_all_max_ms "$worst" ms
emit false_positives "$fp" count

#!/bin/bash
# proc_vs_serf.sh BUILD_DIR [N...] — failure detection of real agents on loopback, drover
# and Debian's serf (HashiCorp memberlist: SWIM + Lifeguard, LAN profile) side by side.
# For each N: start N agents on 127.0.0.1..N, wait until all see all, SIGKILL one, and
# time until every other agent has marked it dead/failed (drover: its own log line with
# a ms timestamp; serf: a member-failed event handler that logs a ms timestamp). Also
# drover's steady-state gossip bytes per host per second (encoded gossip payload, before
# the envelope and CURVE framing), over a quiet 5 s window before the kill. Repeats
# DROVER_BENCH_REPS times (default 3). Prints JSON lines.
set -euo pipefail
B=${1:?build dir}; shift
SIZES=("${@:-16}")
REPS=${DROVER_BENCH_REPS:-3}
D=$B/agent/drover
T=$(mktemp -d /tmp/drover-gbench-XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
now_ms() { date +%s%3N; }
pct() {  # percentile P of the numbers on stdin (nearest rank)
  sort -n | awk -v p="$1" '{a[NR]=$1} END {if (NR==0) {print 0; exit} i=int((p/100)*NR+0.999); if (i<1) i=1; if (i>NR) i=NR; print a[i]}'
}
sent_bytes() { "$D" status -c "$1" --json | tr -d '\n ' | grep -o '"bytes_sent":[0-9]*' | cut -d: -f2; }
stop_all() { for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; PIDS=(); }

run_drover() {  # N rep -> prints detection times (ms) of the N-1 observers, one per line
  local n=$1 rep=$2 port=$((21000 + rep * 10)) dir=$T/d$n-$rep i
  mkdir -p "$dir"
  echo "cluster_id = $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" > "$dir/roster"
  for i in $(seq "$n"); do
    "$D" init --join --state-dir "$dir/h$i" > /dev/null
    "$D" roster line --state-dir "$dir/h$i" --name "h$i" --addr "tcp://127.0.0.$i:$port" >> "$dir/roster"
    printf '[agent]\nname = h%s\nstate_dir = %s/h%s\ncontrol_socket = %s/h%s.sock\n[cluster]\nbind = 127.0.0.%s:%s\nroster = %s/roster\n' \
      "$i" "$dir" "$i" "$dir" "$i" "$i" "$port" "$dir" > "$dir/h$i.conf"
  done
  for i in $(seq "$n"); do "$D" agent -c "$dir/h$i.conf" 2> "$dir/h$i.log" & PIDS+=($!); done
  local t0=$SECONDS
  until [ "$("$D" members -c "$dir/h1.conf" --json 2>/dev/null | grep -c '"state": "alive"')" = "$n" ]; do
    [ $((SECONDS - t0)) -lt 60 ] || { echo "drover: cluster of $n did not converge" >&2; return 1; }; sleep 0.2
  done
  sleep 2   # settle: everyone alive everywhere
  # steady-state gossip bandwidth: bytes sent by every host over a quiet 5 s window
  local b0=0 b1=0
  for i in $(seq "$n"); do b0=$((b0 + $(sent_bytes "$dir/h$i.conf"))); done
  sleep 5
  for i in $(seq "$n"); do b1=$((b1 + $(sent_bytes "$dir/h$i.conf"))); done
  echo "$((b1 - b0)) $((5 * n))" > "$dir/bw"
  local victim=$n vpid=${PIDS[$((n - 1))]}
  local t_kill; t_kill=$(now_ms); kill -KILL "$vpid"
  sleep 12
  for i in $(seq $((n - 1))); do
    local line; line=$(grep -m1 "member h$victim is dead" "$dir/h$i.log" || true)
    [ -n "$line" ] || { echo 99999; continue; }
    # "HH:MM:SS.mmm drover info: ..." -> ms since epoch, same day
    local hms=${line%% *}
    local ms; ms=$(date -d "$(date +%F) ${hms%.*}" +%s)${hms##*.}
    echo $((ms - t_kill))
  done
  # false positives: anyone else declared dead during the run
  grep -h "is dead" "$dir"/h*.log | grep -vc "member h$victim is dead" > "$dir/fp" || true
  stop_all
}

run_serf() {  # N rep -> detection times of the N-1 observers
  local n=$1 rep=$2 dir=$T/s$n-$rep i
  mkdir -p "$dir"
  cat > "$dir/handler.sh" <<'H'
#!/bin/sh
# serf event handler: one line per failed member, with a ms timestamp
while read -r name rest; do echo "$(date +%s%3N) $name" >> "$SERF_HANDLER_LOG"; done
H
  chmod +x "$dir/handler.sh"
  for i in $(seq "$n"); do
    SERF_HANDLER_LOG=$dir/failed.$i serf agent -node="s$i" -bind="127.0.0.$i:$((7946 + rep))" \
      -rpc-addr="127.0.0.$i:$((7373 + rep))" -profile=lan -log-level=err \
      -event-handler="member-failed=$dir/handler.sh" > "$dir/s$i.log" 2>&1 & PIDS+=($!)
  done
  sleep 1
  for i in $(seq 2 "$n"); do serf join -rpc-addr="127.0.0.$i:$((7373 + rep))" "127.0.0.1:$((7946 + rep))" > /dev/null; done
  local t0=$SECONDS
  until [ "$(serf members -rpc-addr="127.0.0.1:$((7373 + rep))" -status=alive | wc -l)" = "$n" ]; do
    [ $((SECONDS - t0)) -lt 60 ] || { echo "serf: cluster of $n did not converge" >&2; return 1; }; sleep 0.2
  done
  sleep 2
  local t_kill; t_kill=$(now_ms); kill -KILL "${PIDS[$((n - 1))]}"
  sleep 20   # memberlist LAN: ~7-8 s measured at 16 nodes; leave room
  for i in $(seq $((n - 1))); do
    local t; t=$(grep -m1 " s$n\$" "$dir/failed.$i" 2>/dev/null | cut -d' ' -f1 || true)
    [ -n "$t" ] && echo $((t - t_kill)) || echo 99999
  done
  stop_all
}

for n in "${SIZES[@]}"; do
  : > "$T/drover.$n"; : > "$T/serf.$n"; fp=0; bytes=0; up=0
  for rep in $(seq "$REPS"); do
    run_drover "$n" "$rep" >> "$T/drover.$n"
    fp=$((fp + $(cat "$T/d$n-$rep/fp")))
    read -r b u < "$T/d$n-$rep/bw"; bytes=$((bytes + b)); up=$((up + u))
    run_serf "$n" "$rep" >> "$T/serf.$n"
  done
  for sys in drover serf; do
    p50=$(pct 50 < "$T/$sys.$n"); p99=$(pct 99 < "$T/$sys.$n"); mx=$(pct 100 < "$T/$sys.$n")
    for m in "detect_p50_ms $p50" "detect_p99_ms $p99" "detect_max_ms $mx"; do
      set -- $m
      printf '{"bench":"gossip","metric":"%s","value":%s,"unit":"ms","system":"%s","mode":"proc","n":%s,"reps":%s}\n' \
        "$1" "$2" "$sys" "$n" "$REPS"
    done
  done
  printf '{"bench":"gossip","metric":"false_positives","value":%s,"unit":"count","system":"drover","mode":"proc","n":%s,"reps":%s}\n' "$fp" "$n" "$REPS"
  printf '{"bench":"gossip","metric":"bytes_per_host_per_s","value":%s,"unit":"B/s","system":"drover","mode":"proc","n":%s}\n' \
    "$(( up > 0 ? bytes / up : 0 ))" "$n"
  d50=$(pct 50 < "$T/drover.$n"); s50=$(pct 50 < "$T/serf.$n")
  printf '{"bench":"gossip","metric":"detect_p50_ratio_drover_serf","value":%s,"unit":"ratio","mode":"proc","n":%s}\n' \
    "$(awk -v a="$d50" -v b="$s50" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')" "$n"
done

#!/bin/bash
# bench/gossip/serf_compare.sh [N] [TRIALS] — the same detection metric for HashiCorp's
# memberlist (SWIM + Lifeguard) as Debian's `serf` agent, LAN profile, on loopback.
# Starts N serf agents on 127.0.0.1, joins them, then per trial SIGKILLs one (a PID this
# script started) and waits until every other agent's event handler has logged it as
# failed.  Prints JSON lines like gossip_bench with "system":"serf","mode":"proc".
# Exits 0 with a note on stderr when serf is not installed.
set -euo pipefail
n=${1:-16}
trials=${2:-3}
command -v serf >/dev/null || { echo "serf_compare: serf not installed, skipped" >&2; exit 0; }
work=$(mktemp -d /tmp/drover-serf.XXXXXX)
base=$(( 30000 + ($$ % 200) * 100 ))      # bind ports base..base+n-1, rpc ports +50
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
now_ms() { date +%s%3N; }

cat > "$work/handler.sh" <<'H'
#!/bin/bash
# serf event handler: one line per failed member: "<observer> <failed> <ms>"
t=$(date +%s%3N)
[ "$SERF_EVENT" = member-failed ] || exit 0
while read -r name _; do echo "$SERF_SELF_NAME $name $t" >> "$LOGFILE"; done
H
chmod +x "$work/handler.sh"

for i in $(seq 0 $((n - 1))); do
  join=()
  [ "$i" -gt 0 ] && join=(-join "127.0.0.1:$base")
  LOGFILE=$work/failed.log serf agent -node "s$i" -bind "127.0.0.1:$((base + i))" \
    -rpc-addr "127.0.0.1:$((base + 50 + i))" -profile lan -log-level err \
    -event-handler "$work/handler.sh" "${join[@]}" > "$work/agent$i.log" 2>&1 &
  pids+=($!)
  disown "$!"
  sleep 0.05
done
# wait until the first agent sees all n alive (bounded: 30 s)
for _ in $(seq 1 300); do
  alive=$(serf members -rpc-addr "127.0.0.1:$((base + 50))" -status alive 2>/dev/null | wc -l || true)
  [ "$alive" -ge "$n" ] && break
  sleep 0.1
done
[ "$alive" -ge "$n" ] || { echo "serf_compare: only $alive of $n serf agents joined" >&2; exit 1; }
sleep 2

samples=$work/samples
: > "$samples"
worst=0
for t in $(seq 1 "$trials"); do
  victim=$t                                   # s1, s2, ... (s0 keeps the RPC we poll)
  up=$(( n - t ))                             # agents still running after this kill
  t0=$(now_ms)
  kill -9 "${pids[$victim]}"
  for _ in $(seq 1 600); do                   # bounded: 60 s
    got=$(grep -c " s$victim " "$work/failed.log" 2>/dev/null || true)
    [ "${got:-0}" -ge "$up" ] && break
    sleep 0.1
  done
  grep " s$victim " "$work/failed.log" | awk -v t0="$t0" '{print $3 - t0}' >> "$samples"
  all=$(grep " s$victim " "$work/failed.log" | awk -v t0="$t0" 'BEGIN{m=0}{d=$3-t0; if(d>m)m=d}END{print m}')
  [ "$all" -gt "$worst" ] && worst=$all
  [ "${got:-0}" -ge "$up" ] || echo "serf_compare: only $got of $up agents reported s$victim failed" >&2
done
emit() {
  printf '{"bench":"gossip","system":"serf","mode":"proc","n":%d,"hosts":%d,"metric":"%s","value":%s,"unit":"%s","trials":%d,"profile":"lan"}\n' \
    "$n" "$n" "$1" "$2" "$3" "$trials"
}
sort -n "$samples" > "$samples.sorted"
cnt=$(wc -l < "$samples.sorted")
pick() { awk -v p="$1" -v c="$cnt" 'NR == int(p * (c - 1) + 0.5) + 1 {print; exit}' "$samples.sorted"; }
emit detect_p50_ms "$(pick 0.50)" ms
emit detect_p99_ms "$(pick 0.99)" ms
emit detect_all_max_ms "$worst" ms

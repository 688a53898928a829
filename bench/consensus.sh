#!/bin/bash
# bench/consensus.sh BUILD_DIR — Raft side by side: drover (n = 3 and 5 real agents, default
# timings) and a 3-member etcd (Debian's etcd-server, default timings), all on 127.0.0.x.
# One JSON line per figure (bench, metric, value, unit, system, n, client, ...):
#   commit_p50_ms, commit_p99_ms  sequential puts through the leader, then through a
#                                 follower (forwarded; answered once applied there)
#   entries_per_s                 8 clients, one connection per put, all through the leader,
#                                 then spread over all members, for a fixed duration each
#   failover_ms (stat p50, max)   SIGKILL the leader -> a put through a survivor commits;
#                                 5 trials, the victim restarted and caught up in between;
#                                 drover's and etcd's trials alternate
#   failover_ratio                drover's / etcd's failover_ms (p50 and max), target <= 0.7
#   false_elections               mode idle_loaded: 5 idle agents beside 2 busy loops for
#                                 DROVER_CONS_IDLE_S (default 120) s; leader changes seen
#                                 by any host beyond the first
# Every put is timed in-process by bench/consensus/cons_bench ("client":"inproc": drover
# through the control socket, etcd through its HTTP gateway), so no CLI spawn is counted.
# Knobs: DROVER_CONS_N ("3 5"), DROVER_CONS_TRIALS (5), DROVER_CONS_PUTS (500),
# DROVER_CONS_TP_MS (5000), DROVER_CONS_IDLE_S (120; 0 skips), DROVER_CONS_ETCD (1; 0 skips),
# DROVER_CONS_KEEP=1 keeps the state dirs and logs under /tmp/drover-cons-*.
set -euo pipefail
B=$(cd "${1:?usage: bench/consensus.sh BUILD_DIR}" && pwd)
D=$B/agent/drover
C=$B/bench/consensus/cons_bench
for x in "$D" "$C"; do [ -x "$x" ] || { echo "consensus.sh: $x not built" >&2; exit 1; }; done
NS=${DROVER_CONS_N:-3 5}
TRIALS=${DROVER_CONS_TRIALS:-5}
PUTS=${DROVER_CONS_PUTS:-500}
TP_MS=${DROVER_CONS_TP_MS:-5000}
TP_CLIENTS=${DROVER_CONS_CLIENTS:-8}   # a list gives one entries_per_s per value
IDLE_S=${DROVER_CONS_IDLE_S:-120}
WANT_ETCD=${DROVER_CONS_ETCD:-1}
READY_S=30          # a cluster that has no leader after this is broken, not slow
BASE=$((20000 + ($$ % 400) * 10))   # per-run ports; drover uses BASE, etcd BASE+1/BASE+2

T=$(mktemp -d /tmp/drover-cons-XXXXXX)
declare -A PID      # "sys-n-i" -> pid of a process this script started
BUSY=()
cleanup() {
  for p in "${BUSY[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PID[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  for p in "${PID[@]}"; do gone "$p" || true; done
  wait 2>/dev/null || true
  if [ "${DROVER_CONS_KEEP:-0}" = 1 ]; then log "kept $T (logs)"; else rm -rf "$T"; fi
}
trap cleanup EXIT
log() { echo "[consensus $(date +%T)] $*" >&2; }
die() { log "FAIL: $*"; exit 1; }
# Agents and etcd members are disowned when started, so bash prints no "Killed" notice
# when cons_bench SIGKILLs one; stop() therefore waits on /proc, not with `wait`.
gone() {  # pid: until it has exited (a zombie holds no sockets), at most 5 s
  local p=$1 k
  for k in $(seq 100); do
    [ -e "/proc/$p" ] && [ "$(cut -d' ' -f3 "/proc/$p/stat" 2>/dev/null)" != Z ] || return 0
    sleep 0.05
  done
  return 1
}
stop() {
  local k=$1
  kill -KILL "${PID[$k]}" 2>/dev/null || true
  gone "${PID[$k]}" || die "pid ${PID[$k]} ($k) did not exit"
  unset "PID[$k]"
}

# p50 (nearest rank) and max of the numbers given
p50() { printf '%s\n' "$@" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
maxof() { printf '%s\n' "$@" | sort -g | tail -1; }
emit_failover() {  # system n samples...
  local sys=$1 n=$2; shift 2
  local list; list=$(IFS=,; echo "$*")
  for stat in p50 max; do
    local v; v=$([ $stat = p50 ] && p50 "$@" || maxof "$@")
    printf '{"bench":"consensus","metric":"failover_ms","value":%s,"unit":"ms","system":"%s","n":%d,"stat":"%s","trials":%d,"samples_ms":[%s],"client":"inproc","via":"survivor"}\n' \
      "$v" "$sys" "$n" "$stat" $# "$list"
    eval "FO_${sys}_${n}_${stat}=$v"
  done
}

# ---- drover -----------------------------------------------------------------------------
dhost() { echo "127.0.$1.$((40 + $2))"; }   # n i: host i of the n-host cluster (all up at once)
dsetup() {  # n: state dirs, roster, configs under $T/d$n
  local n=$1 dir=$T/d$1
  mkdir -p "$dir"
  echo "cluster_id = $(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" > "$dir/roster"
  # the operator credential the puts are signed with: this bench's own, never /etc/drover's
  export DROVER_OPERATOR_KEY=$dir/operator.key
  for i in $(seq "$n"); do
    "$D" init --state-dir "$dir/h$i" > /dev/null
    [ "$i" != 1 ] || "$D" roster operator >> "$dir/roster"
    "$D" roster line --state-dir "$dir/h$i" --name "h$i" --addr "tcp://$(dhost "$n" "$i"):$BASE" >> "$dir/roster"
    cat > "$dir/h$i.conf" <<CONF
[agent]
name = h$i
state_dir = $dir/h$i
control_socket = $dir/h$i.sock
[cluster]
bind = $(dhost "$n" "$i"):$BASE
roster = $dir/roster
[ha]
voters = $n
CONF
  done
}
dstart() { "$D" agent -c "$T/d$1/h$2.conf" 2>> "$T/d$1/h$2.log" & PID[d-$1-$2]=$!; disown $!; }
dstatus() { "$D" status -c "$T/d$1/h$2.conf" --json 2>/dev/null | tr -d '\n ' || true; }
dfield() { grep -o "\"$1\":[^,}]*" | head -1 | cut -d: -f2 | tr -d '"'; }
dleader() {  # n -> index of the leader as seen by the first live host that knows one
  local n=$1 i l
  for i in $(seq "$n"); do
    [ -n "${PID[d-$n-$i]:-}" ] || continue
    l=$(dstatus "$n" "$i" | dfield leader)
    if [ -n "$l" ] && [ "$l" != none ]; then echo "${l#h}"; return 0; fi
  done
  return 1
}
dwait_leader() {
  local t0=$SECONDS
  until dleader "$1" > /dev/null; do
    [ $((SECONDS - t0)) -lt $READY_S ] || die "drover n=$1: no leader after $READY_S s"
    sleep 0.1
  done
}
dput_ok() { "$D" kv put -c "$T/d$1/h$2.conf" "$3" v > /dev/null 2>&1; }
dwait_put() {  # n i: until a put through host i commits (it is up and caught up)
  local t0=$SECONDS k=0
  until dput_ok "$1" "$2" "ready-$2-$k"; do
    k=$((k + 1))
    [ $((SECONDS - t0)) -lt $READY_S ] || die "drover n=$1: h$2 cannot write after $READY_S s"
    sleep 0.1
  done
}
dsock() { echo "drover:$T/d$1/h$2.sock"; }

declare -A SAMPLES   # "system-n" -> failover samples (ms), space-separated

drover_up() {  # n: start the cluster, wait until every host can write
  local n=$1 i
  dsetup "$n"
  for i in $(seq "$n"); do dstart "$n" "$i"; done
  dwait_leader "$n"
  for i in $(seq "$n"); do dwait_put "$n" "$i"; done
}
drover_perf() {
  local n=$1 i L
  L=$(dleader "$n") || die "drover n=$n: no leader"
  log "drover n=$n: leader h$L"
  local tag="{\"system\":\"drover\",\"n\":$n,\"client\":\"inproc\""
  "$C" latency --target "$(dsock "$n" "$L")" --count "$PUTS" --tag "$tag,\"via\":\"leader\"}"
  "$C" latency --target "$(dsock "$n" $((L % n + 1)))" --count "$PUTS" --tag "$tag,\"via\":\"follower\"}"
  local all=() ; for i in $(seq "$n"); do all+=("$(dsock "$n" "$i")"); done
  local c
  for c in $TP_CLIENTS; do
    "$C" throughput --target "$(dsock "$n" "$L")" --clients "$c" --duration-ms "$TP_MS" \
      --tag "$tag,\"via\":\"leader\"}"
    "$C" throughput --target "$(IFS=,; echo "${all[*]}")" --clients "$c" --duration-ms "$TP_MS" \
      --tag "$tag,\"via\":\"all\"}"
  done
}
drover_trial() {  # n t: kill the leader, time a put through the next host, restart the victim
  local n=$1 t=$2 L s ms
  L=$(dleader "$n") || die "drover n=$n: no leader before trial $t"
  s=$((L % n + 1))
  ms=$("$C" failover --target "$(dsock "$n" "$s")" --kill "${PID[d-$n-$L]}" 2>>"$T/failover.err") ||
    die "drover n=$n: trial $t: no put committed through h$s after killing h$L"
  SAMPLES[drover-$n]+="$ms "
  log "drover n=$n trial $t: killed leader h$L, put through h$s committed after $ms ms"
  stop "d-$n-$L"
  dstart "$n" "$L"
  dwait_put "$n" "$L"
}
drover_down() { local i; for i in $(seq "$1"); do stop "d-$1-$i"; done; }

# ---- etcd -------------------------------------------------------------------------------
ehost() { echo "127.0.0.$((50 + $1))"; }
ECLUSTER=""
estart() {  # i: start member i (fresh or from its data dir, the same command line)
  local i=$1
  etcd --name "e$i" --data-dir "$T/etcd/e$i" \
    --listen-client-urls "http://$(ehost "$i"):$((BASE + 1))" \
    --advertise-client-urls "http://$(ehost "$i"):$((BASE + 1))" \
    --listen-peer-urls "http://$(ehost "$i"):$((BASE + 2))" \
    --initial-advertise-peer-urls "http://$(ehost "$i"):$((BASE + 2))" \
    --initial-cluster "$ECLUSTER" --initial-cluster-state new \
    --initial-cluster-token "bench-$$" >> "$T/etcd/e$i.log" 2>&1 &
  PID[e-$i]=$!
  disown $!
}
eep() { echo "$(ehost "$1"):$((BASE + 1))"; }
eleader() {  # -> index of the member that reports itself leader
  local i
  for i in 1 2 3; do
    [ -n "${PID[e-$i]:-}" ] || continue
    ETCDCTL_API=3 etcdctl --endpoints="$(eep "$i")" --dial-timeout=1s --command-timeout=2s \
      endpoint status -w simple 2>/dev/null | awk -F', ' '$5 == "true" {found=1} END {exit !found}' &&
      { echo "$i"; return 0; }
  done
  return 1
}
ewait_put() {
  local t0=$SECONDS k=0
  until ETCDCTL_API=3 etcdctl --endpoints="$(eep "$1")" --dial-timeout=1s --command-timeout=2s \
          put "ready-$1-$k" v > /dev/null 2>&1; do
    k=$((k + 1))
    [ $((SECONDS - t0)) -lt $READY_S ] || die "etcd: e$1 cannot write after $READY_S s"
    sleep 0.1
  done
}
etcd_up() {
  local i
  mkdir -p "$T/etcd"
  ECLUSTER=$(for i in 1 2 3; do printf 'e%d=http://%s:%d,' "$i" "$(ehost "$i")" $((BASE + 2)); done)
  ECLUSTER=${ECLUSTER%,}
  for i in 1 2 3; do estart "$i"; done
  for i in 1 2 3; do ewait_put "$i"; done
}
etcd_perf() {
  local L; L=$(eleader) || die "etcd: no leader"
  log "etcd n=3: leader e$L ($(etcd --version | head -1))"
  local tag='{"system":"etcd","n":3,"client":"inproc","timings":"default"'
  "$C" latency --target "etcd:$(eep "$L")" --count "$PUTS" --tag "$tag,\"via\":\"leader\"}"
  "$C" latency --target "etcd:$(eep $((L % 3 + 1)))" --count "$PUTS" --tag "$tag,\"via\":\"follower\"}"
  local c
  for c in $TP_CLIENTS; do
    "$C" throughput --target "etcd:$(eep "$L")" --clients "$c" --duration-ms "$TP_MS" \
      --tag "$tag,\"via\":\"leader\"}"
    "$C" throughput --target "etcd:$(eep 1),etcd:$(eep 2),etcd:$(eep 3)" --clients "$c" \
      --duration-ms "$TP_MS" --tag "$tag,\"via\":\"all\"}"
  done
}
etcd_trial() {
  local t=$1 L s ms
  L=$(eleader) || die "etcd: no leader before trial $t"
  s=$((L % 3 + 1))
  ms=$("$C" failover --target "etcd:$(eep "$s")" --kill "${PID[e-$L]}" 2>>"$T/failover.err") ||
    die "etcd: trial $t: no put committed through e$s after killing e$L"
  SAMPLES[etcd-3]+="$ms "
  log "etcd trial $t: killed leader e$L, put through e$s committed after $ms ms"
  stop "e-$L"
  estart "$L"
  ewait_put "$L"
}
etcd_down() { local i; for i in 1 2 3; do stop "e-$i"; done; }

# ---- idle on a loaded machine -----------------------------------------------------------
bench_idle() {
  local n=5 i
  rm -rf "$T/d$n"   # a fresh cluster: the n=5 one above has been stopped
  dsetup $n
  for i in $(seq $n); do dstart $n "$i"; done
  dwait_leader $n
  for i in $(seq $n); do dwait_put $n "$i"; done
  local term0; term0=$(dstatus $n 1 | dfield term)
  local cores; cores=$(nproc)
  for i in $(seq "$cores"); do   # one busy loop per core, ending on its own
    bash -c "end=\$((SECONDS + $IDLE_S)); while [ \$SECONDS -lt \$end ]; do :; done" &
    BUSY+=($!)
  done
  log "idle_loaded: 5 agents idle for $IDLE_S s beside $cores busy loops (term $term0)"
  sleep "$IDLE_S"
  for p in "${BUSY[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  BUSY=()
  local changes=() worst=0 c term1 s
  for i in $(seq $n); do
    s=$(dstatus $n "$i")
    c=$(echo "$s" | dfield leader_changes)
    [ -n "$c" ] || die "idle_loaded: h$i did not answer status"
    changes+=("$c")
    [ $((c - 1)) -le "$worst" ] || worst=$((c - 1))
  done
  term1=$(dstatus $n 1 | dfield term)
  printf '{"bench":"consensus","metric":"false_elections","value":%d,"unit":"count","system":"drover","n":%d,"mode":"idle_loaded","duration_s":%d,"busy_loops":%d,"leader_changes_per_host":[%s],"term_start":%s,"term_end":%s}\n' \
    "$worst" $n "$IDLE_S" "$cores" "$(IFS=,; echo "${changes[*]}")" "$term0" "$term1"
  for i in $(seq $n); do stop "d-$n-$i"; done
}

HAVE_ETCD=0
if [ "$WANT_ETCD" = 1 ]; then
  if command -v etcd > /dev/null && command -v etcdctl > /dev/null; then HAVE_ETCD=1
  else log "etcd not installed (./deploy/setup.sh bench): no etcd figures"; fi
fi
# All clusters stay up for the whole run (idle ones cost little), and the failover trials
# take turns, so drover and etcd see the same background load on this shared machine.
for n in $NS; do drover_up "$n"; done
[ $HAVE_ETCD = 0 ] || etcd_up
for n in $NS; do drover_perf "$n"; done
[ $HAVE_ETCD = 0 ] || etcd_perf
for t in $(seq "$TRIALS"); do
  for n in $NS; do drover_trial "$n" "$t"; sleep 1; done
  [ $HAVE_ETCD = 0 ] || { etcd_trial "$t"; sleep 1; }
done
[ "$TRIALS" -gt 0 ] || HAVE_FO=0
for n in $NS; do
  # shellcheck disable=SC2086  # the samples are space-separated numbers
  [ "${HAVE_FO:-1}" = 0 ] || emit_failover drover "$n" ${SAMPLES[drover-$n]}
done
[ $HAVE_ETCD = 0 ] || [ "${HAVE_FO:-1}" = 0 ] || emit_failover etcd 3 ${SAMPLES[etcd-3]}
if [ $HAVE_ETCD = 1 ] && [ "${HAVE_FO:-1}" = 1 ]; then
  for n in $NS; do
    for stat in p50 max; do
      d=$(eval echo "\${FO_drover_${n}_${stat}}"); e=$(eval echo "\${FO_etcd_3_${stat}}")
      printf '{"bench":"consensus","metric":"failover_ratio","value":%s,"unit":"x","system":"drover","n":%d,"stat":"%s","vs":"etcd n=3","target":0.7}\n' \
        "$(awk -v d="$d" -v e="$e" 'BEGIN {printf "%.3f", d / e}')" "$n" "$stat"
    done
  done
fi
[ $HAVE_ETCD = 0 ] || etcd_down
for n in $NS; do drover_down "$n"; done
[ "$IDLE_S" -gt 0 ] && bench_idle
exit 0

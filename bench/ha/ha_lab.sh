#!/bin/bash
# bench/ha/ha_lab.sh BUILD_DIR — HA figures in a 3-host lab (deploy/lab.sh) with the
# issue's guests (64 MiB tick guests on shared storage, protected; RAM-filled ones for the
# drain), JSON lines on stdout, progress on stderr. Run through bench/ha.sh (bench/run.sh ha).
#
# The death figures are taken in four configurations, each in a lab of its own (fresh
# agents: their loop figures and their fence settings are the configuration's own):
#   "load": "idle"       nothing else runs (but whatever else the machine does: "loadavg")
#           "saturated"  deploy/lab.sh load_start: stress-ng, one CPU worker a core and an
#                        hdd worker with an fsync after every write, for the whole phase
#   "fence": "lease"     no fence_command: a dead host's guests restart once its lease
#                        (fence_timeout, the lab's 2 s) has run out
#            "command"   [ha] fence_command = the lab's PDU (deploy/lab.sh fence: kills the
#                        named lab host whole, exit 0 once it is gone), same fence_timeout:
#                        a confirmed fence lets the restarts go before the lease runs out
# Every line carries "load", "fence", "loadavg" (1, 5, 15 min, read when the line is
# printed) and "virt" (kvm|qemu: how the lab's guests run).
#
#  link_bandwidth_mib_s  one TCP stream host2 -> host1 through the lab bridge (linkbw),
#                        median of LINK_RUNS streams: the link a drain of host2 uses
#  drain_makespan_ms     `drover host drain host2 --wait` with GUESTS fill guests of
#                        DRAIN_MEM_MIB on host2 (RAM non-zero pages but the top 32 MiB), from the command
#                        to its return (host2 in maintenance); then `undrain --failback
#                        --wait` brings them home for the next trial. Once on the bare lab
#                        bridge ("link": "lab bridge"), once with host2's egress shaped to
#                        DRAIN_RATE ("link": "tbf 1gbit"). Idle, lease only (first lab)
#  drain_vs_ideal        makespan / (sum of guest RAM / link bandwidth), per link
#  restart_after_death_ms  a non-coordinator host with protected guests is SIGKILLed
#                        whole (agent, libvirtd, virtlockd, QEMUs); time until every one
#                        of its protected guests runs exactly once elsewhere; the host is
#                        revived between trials. "victim": "member" (not the coordinator)
#                        or "coordinator" (the Raft leader's host: election included).
#                        "stat": p50, p99, max, and count (the trials that restarted all;
#                        "failed": those that did not within RESTART_LIMIT_S)
#  fence_called_after_death_ms  fence "command" only: from the kill to the coordinator's
#                        call of the fence command for the dead host (p50, p99, max, count)
#  fence_confirmed_after_death_ms  fence "command" only: from the kill to the fence
#                        command's exit 0 ("the host is off": the lab PDU's own time is
#                        confirmed - called)
#  vm_start_ms           each restarted guest's libvirt start on its new host, as the
#                        agent journals it ("ha: start VM: started in N ms"): the part of
#                        restart_after_death_ms that is QEMU's and libvirt's, not drover's
#                        (seconds under TCG, a fraction of one under KVM)
#  collateral_destroys   guests running on the hosts that were not killed, QEMU PIDs taken
#                        before the kill: after the trial (restarts done, dead host back
#                        and in the cluster) each must still run on the same host with the
#                        same QEMU. A guest that does not is one collateral destroy; the
#                        sum over the configuration's trials (must be 0)
#  double_runs           a sampler counts each guest's live QEMUs machine-wide every
#                        SAMPLE_S from the kill to the end of the trial (no migration runs
#                        then): two or more is a guest running twice. Value: guests seen so
#                        (once per trial and guest), "samples": the samples that saw it (must be 0)
#  loop_lateness_us      the agents' event loop: timer lateness since the agent started
#                        (`drover status` loop.since_start), read from every agent at the
#                        end of the configuration and from each victim just before its
#                        kill; "stat": "p99.9" the largest p99.9 of those, "max" the largest max
# Environment: HA_TRIALS=20 (deaths of a member per configuration), HA_LEADER_TRIALS=5
# (of the coordinator's host, idle/lease only unless HA_LEADER_ALL=1), HA_LOADS="idle
# saturated", HA_FENCES="lease command", HA_DRAINS=3, LINK_MIB=1024, LINK_RUNS=3,
# DRAIN_MEM_MIB=256 (0: no drain), DRAIN_RATE=1gbit (off: bare bridge only).
set -euo pipefail
BUILD=$(cd "${1:?usage: bench/ha/ha_lab.sh BUILD_DIR}" && pwd)   # absolute: the agents run in other mount namespaces
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
TRIALS=${HA_TRIALS:-20}
LEADER_TRIALS=${HA_LEADER_TRIALS:-5}
LEADER_ALL=${HA_LEADER_ALL:-0}
LOADS=${HA_LOADS:-idle saturated}
FENCES=${HA_FENCES:-lease command}
DRAINS=${HA_DRAINS:-3}
LINK_MIB=${LINK_MIB:-1024}
LINK_RUNS=${LINK_RUNS:-3}
DRAIN_MEM_MIB=${DRAIN_MEM_MIB:-256}
DRAIN_RATE=${DRAIN_RATE:-1gbit}
GUESTS=4
MEM_MIB=64
KIND=idle
VIRT=
# one trial waits at most this long for the restarts (far above the 4-6 s targets: a miss
# is recorded as a failure, not as a figure)
RESTART_LIMIT_S=60
# in fence "command", the dead host is revived only once its fence command was called (or
# this long after the kill): a fence arriving later would kill the revived host
FENCE_WAIT_S=20
SAMPLE_S=0.2
SAMPLES_MAX=1500   # the sampler's own bound: 5 min, longer than any trial
# the lab's fence_timeout (deploy/lab.sh agent_conf), in both fence modes
export LAB_FENCE_TIMEOUT=2s
FENCE_TIMEOUT_MS=2000
export LAB=/tmp/drover-bench-ha LAB_NAME=bha
# shellcheck source=../../deploy/lab.sh
source "$ROOT/deploy/lab.sh"
rm -rf "$LAB/logs"   # the agent logs of each configuration (kept after the run)
DROVER_BIN=$BUILD/agent/drover
DRCTL=$BUILD/tests/lab/drctl
LINKBW=$BUILD/bench/ha/ha_linkbw
SAMPLER_PID=
sampler_stop() {
  [ -n "$SAMPLER_PID" ] || return 0
  kill "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=
}
# only what this script started: its sampler, its stress-ng (by PID), its lab
trap 'sampler_stop; load_stop; lab_down 2>/dev/null' EXIT
trap 'exit 130' INT TERM
BENCH_T0=$SECONDS
progress() { log "[$(( (SECONDS - BENCH_T0) / 60 ))m$(( (SECONDS - BENCH_T0) % 60 ))s] $*"; }

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
ha_status() { "$DRCTL" "$(sock "$1")" ha.status '{}' 5000 2>/dev/null; }
# nearest-rank percentile of the numbers given, P in permille (500: p50, 990: p99, 1000: max)
pct() { local p=$1; shift; printf '%s\n' "$@" | sort -n | awk -v p="$p" '{v[NR]=$1} END {
  r = int((p * NR + 999) / 1000); if (r < 1) r = 1; if (r > NR) r = NR; print v[r] }'; }
CONF_LOAD=idle CONF_FENCE=lease
emit() {   # metric value unit extra-json
  local a b c _
  read -r a b c _ < /proc/loadavg
  echo "{\"bench\":\"ha\",\"metric\":\"$1\",\"value\":$2,\"unit\":\"$3\",\"load\":\"$CONF_LOAD\",\"fence\":\"$CONF_FENCE\",\"fence_timeout_ms\":$FENCE_TIMEOUT_MS,\"hosts\":3,\"guests\":$GUESTS,\"mem_mib\":$MEM_MIB,\"kind\":\"$KIND\",\"virt\":\"$VIRT\",\"loadavg\":[$a,$b,$c],\"cpus\":$(nproc)$4}"
}
# emit_stats METRIC UNIT EXTRA-JSON VALUE...: p50, p99, max and count lines with the values
emit_stats() {
  local m=$1 u=$2 x=$3 q; shift 3
  x="$x,\"values\":[$(IFS=,; echo "$*")]"
  for q in p50:500 p99:990 max:1000; do emit "$m" "$(pct "${q#*:}" "$@")" "$u" ",\"stat\":\"${q%:*}\"$x"; done
  emit "$m" $# trials ",\"stat\":\"count\"$x"
}
acked_all() {   # every protected VM acknowledged by its owner, per host I's agent
  [ "$(ha_status "$1" | jq '[.vms[] | select(.protected and .prot_acked)] | length' 2>/dev/null)" = "$GUESTS" ]
}
wait_acked() {   # I [SECONDS]: until host I's agent says every guest is acknowledged
  local t0=$SECONDS
  until acked_all "$1"; do
    if [ $((SECONDS - t0)) -ge "${2:-30}" ]; then
      log "protection not acknowledged in ${2:-30} s: $(ha_status "$1" | jq -c '[.vms[] | {name, owner, protected, prot_acked}]' 2>/dev/null)"
      return 1
    fi
    sleep 0.2
  done
}
leader_idx() { local i l; for i in 1 2 3; do l=$(leader_of "$i"); [ -n "$l" ] && { echo "${l#host}"; return; }; done; }

# --- the lab of one configuration. Fence "command": the agents' fence_command is the
# lab's PDU through $LAB/pdu.sh, which records each call in $FENCE_CALLS: a line
# "NS_SINCE_EPOCH call hostK ADDR" when it is called, "NS_SINCE_EPOCH done hostK ADDR rc=N"
# when the host is off (rc 0) or the fence failed.
FENCE_CALLS=$LAB/fence.calls
lab_fresh() {   # FENCE
  local k
  lab_down 2>/dev/null || true
  unset LAB_FENCE_COMMAND
  mkdir -p "$LAB"
  : > "$FENCE_CALLS"
  if [ "$1" = command ]; then
    cat > "$LAB/pdu.sh" <<EOF
#!/bin/bash
# bench/ha's fence_command (sh -c CMD drover-fence HOST ADDR): deploy/lab.sh fence, recorded
echo "\$(date +%s%N) call \$*" >> '$FENCE_CALLS'
LAB='$LAB' LAB_NAME='$LAB_NAME' LAB_NET='$NET' bash '$ROOT/deploy/lab.sh' fence "\$@"
rc=\$?
echo "\$(date +%s%N) done \$* rc=\$rc" >> '$FENCE_CALLS'
exit \$rc
EOF
    chmod +x "$LAB/pdu.sh"
    # shellcheck disable=SC2016   # $1 and $2 are sh -c's, expanded by the agent's shell
    export LAB_FENCE_COMMAND="$LAB/pdu.sh \"\$1\" \"\$2\""
  fi
  # a cluster whose formation failed is formed again, up to 3 times (seen: with the fence
  # command, the coordinator fenced host2 the moment it joined, before gossip knew it);
  # agents_up exits on failure, so it runs in a subshell
  for k in 1 2 3; do
    lab_up 3 >&2
    if (agents_up "$DROVER_BIN") >&2; then break; fi
    FORMATION_FAILS=$((FORMATION_FAILS + 1))
    progress "FORMATION FAILED (attempt $k, load=$CONF_LOAD fence=$1): fence calls [$(tr '\n' ';' < "$FENCE_CALLS")]; coordinator's fence events: $(grep -h 'fence' "$(hdir 1)/drover.log" | tail -4 | tr '\n' ';')"
    mkdir -p "$LAB/logs/formation-$CONF_LOAD-$1-$k"
    cp "$LAB"/hosts/host*/drover.log "$LAB/logs/formation-$CONF_LOAD-$1-$k/" 2>/dev/null || true
    [ "$k" -lt 3 ] || die "no cluster formed in 3 attempts"
    lab_down 2>/dev/null || true
    : > "$FENCE_CALLS"
  done
  if [ "$1" = command ]; then
    grep -q '^fence_command = ' "$(hdir 1)/drover.conf" || die "drover.conf has no fence_command"
  fi
}

# --- drains of host2: makespan against the ideal (guest RAM at the source's link speed).
# Guests of the "fill" kind (deploy/lab/tick.S): their RAM is non-zero pages, so a move has
# to send all of it, as with a real guest (the idle tick guest's RAM is zero pages and its
# moves are all fixed cost). Two links: the lab bridge as it is (a memory copy competing for
# the same 2 cores as the QEMUs), then host2's egress shaped to DRAIN_RATE with tbf, the
# way a dedicated migration network limits a real drain.
linkbw() {   # MIB -> BW (median MiB/s of LINK_RUNS streams host2 -> host1), LINK_VALUES
  local bws=() rp
  for _ in $(seq 1 "$LINK_RUNS"); do
    in_host 1 "$LINKBW" recv "$NET.1" 5201 > "$LAB/linkbw.out" &
    rp=$!
    in_host 2 "$LINKBW" send "$NET.1" 5201 "$1"
    wait "$rp"
    bws+=("$(jq .mib_s "$LAB/linkbw.out")")
  done
  LINK_VALUES=$(IFS=,; echo "${bws[*]}")
  BW=$(pct 500 "${bws[@]}")
}
shape() {   # RATE|off: tbf on host2's egress (the drain's source side)
  if [ "$1" = off ]; then in_host 2 tc qdisc del dev eth0 root 2>/dev/null || true
  else in_host 2 tc qdisc replace dev eth0 root tbf rate "$1" burst 256kb latency 10ms; fi
}
# A drain or failback that fails (seen with the machine loaded by others: host2 judged
# degraded, a guest that cannot go home) is counted in "failed" and reported, not fatal;
# a failback that fails twice ends the drain figures (DRAIN_BROKEN) and the death
# figures go on in their own labs.
drain_phase() {   # LINK_LABEL RATE|off
  local label=$1 rate=$2 bw mib spans=() t t0 ideal span failed=0
  shape "$rate"
  # a shaped link is measured with a stream it needs ~2 s for, not LINK_MIB
  mib=$LINK_MIB; [ "$rate" = off ] || mib=256
  linkbw "$mib"; bw=$BW
  emit link_bandwidth_mib_s "$bw" MiB/s ",\"link\":\"$label\",\"stream_mib\":$mib,\"runs\":$LINK_RUNS,\"values\":[$LINK_VALUES]"
  for t in $(seq 1 "$DRAINS"); do
    t0=$(now_ms)
    if DV_TIMEOUT=300 dv 1 host drain host2 --wait >&2; then
      spans+=($(( $(now_ms) - t0 )))
      progress "drain $t ($label): ${spans[-1]} ms"
    else
      failed=$((failed + 1))
      progress "DRAIN FAILED: drain $t ($label) after $(( $(now_ms) - t0 )) ms ($(loadavg))"
    fi
    if ! DV_TIMEOUT=300 dv 1 host undrain host2 --failback --wait >&2; then
      failed=$((failed + 1))
      progress "FAILBACK FAILED after drain $t ($label) ($(loadavg)); once more"
      DV_TIMEOUT=300 dv 1 host undrain host2 --failback --wait >&2 ||
        { DRAIN_BROKEN=1; progress "the failback failed twice: no more drains"; break; }
    fi
    wait_acked 1 60 || { DRAIN_BROKEN=1; progress "guests not acknowledged after the failback: no more drains"; break; }
  done
  shape off
  [ ${#spans[@]} -gt 0 ] || { progress "no drain ($label) succeeded"; return 0; }
  ideal=$(echo "$GUESTS * $MEM_MIB / $bw * 1000" | bc -l)
  span=$(pct 500 "${spans[@]}")
  emit drain_makespan_ms "$span" ms ",\"link\":\"$label\",\"stat\":\"p50\",\"trials\":${#spans[@]},\"failed\":$failed,\"values\":[$(IFS=,; echo "${spans[*]}")]"
  emit drain_vs_ideal "$(printf '%.2f' "$(echo "$span / $ideal" | bc -l)")" ratio \
    ",\"link\":\"$label\",\"stat\":\"p50\",\"ideal_ms\":$(printf '%.1f' "$ideal"),\"link_mib_s\":$bw,\"ram_mib\":$((GUESTS * MEM_MIB))"
}
# guests K MEM KIND PREFIX: K protected guests on host2, booted and acknowledged
guests() {
  local k vm
  GUESTS=$1 MEM_MIB=$2 KIND=$3 vms=()
  # deploy/lab.sh runs the fill guest under TCG (its unreal mode needs it)
  VIRT=$(cat "$LAB/virt"); [ "$KIND" = idle ] || VIRT=qemu
  for k in $(seq 1 "$GUESTS"); do
    vm=$4$k; vms+=("$vm")
    guest_make "$vm" "$MEM_MIB" "$3" shared >/dev/null
    v 2 define "$LAB/$vm.xml" >/dev/null; v 2 start "$vm" >/dev/null
  done
  for vm in "${vms[@]}"; do
    wait_ticks "$vm" 0 60 || die "$vm does not boot"
    dv 2 vm protect "$vm" >/dev/null
  done
  wait_acked 1 60 || die "the guests' protection was not acknowledged"
}
# drop the current guests: unprotected first, so nothing restarts them
guests_drop() {
  local vm w
  for vm in "${vms[@]}"; do
    dv 1 vm unprotect "$vm" >/dev/null
    for w in $(hosts_running "$vm"); do v "$w" destroy "$vm" >/dev/null 2>&1 || true; done
    for w in 1 2 3; do v "$w" undefine "$vm" >/dev/null 2>&1 || true; done
  done
}

# --- where guests run, without a fork per question (the wait loop asks every 20 ms, and
# under load every fork competes with the agents being measured): deploy/lab.sh's
# qemu_alive in bash alone. live_qemu HOST VM: VM has a live QEMU on lab host HOST per
# libvirt's pidfile; its PID in QPID. A killed host leaves its pidfiles behind: a PID that
# is no longer a QEMU of that guest does not count, nor one dead (zombie) or frozen by the
# kill (stopped: it never runs again).
live_qemu() {
  local f=$LAB/hosts/host$1/run/qemu/$2.pid st _ args=()
  QPID=
  # libvirt writes the PID without a newline: read fails at the end but sets QPID
  [ -f "$f" ] && { read -r QPID 2>/dev/null < "$f" || true; }
  if [[ $QPID =~ ^[0-9]+$ ]] && mapfile -d '' args 2>/dev/null < "/proc/$QPID/cmdline" &&
     [[ " ${args[*]} " == *" -name guest=$2,"* ]] &&
     read -r _ _ st _ 2>/dev/null < "/proc/$QPID/stat" && [ "$st" != Z ] && [ "$st" != T ]; then return 0; fi
  QPID=
  return 1
}
runs_on() {   # VM -> RUNS=(host indices where it has a live QEMU)
  local i
  RUNS=()
  for i in 1 2 3; do if live_qemu "$i" "$1"; then RUNS+=("$i"); fi; done
}

# --- the double-run sampler: one ps pass per sample, each of this lab's guests' QEMUs
# counted machine-wide (a QEMU of this lab names its disk under $SHARED/): live ones, and
# frozen ones (state T: host_kill stops a host's processes first, and SIGKILLs them only
# once it has all of them, seconds later under load; a frozen QEMU never runs again). Two
# or more live is a double run (no migration runs while it samples); one live next to a
# frozen one is the harness's slow kill, counted apart. Lines "TIME VM LIVE FROZEN".
sampler_start() {   # FILE VM...
  local out=$1; shift
  ( for _ in $(seq 1 "$SAMPLES_MAX"); do
      ps -e -o stat=,args= | awk -v vms="$*" -v shared="$SHARED/" -v now="$(date +%T.%3N)" '
        BEGIN { n = split(vms, v, " "); for (i = 1; i <= n; i++) want[v[i]] = 1 }
        $1 ~ /^Z/ || $2 !~ /qemu-system/ || index($0, shared) == 0 { next }
        { for (k = 3; k < NF; k++) if ($k == "-name") {
            nm = $(k + 1); sub(/^guest=/, "", nm); sub(/,.*/, "", nm)
            if (nm in want) { if ($1 ~ /^T/) frozen[nm]++; else live[nm]++ }
            break } }
        END { for (nm in want) if (live[nm] + frozen[nm] > 1) print now, nm, live[nm] + 0, frozen[nm] + 0 }'
      sleep "$SAMPLE_S"
    done >> "$out" ) &
  SAMPLER_PID=$!
}

# --- the agents' loop figures: host I's since_start timer lateness, one line
# "hostI P999 MAX TIMERS WORST_LABEL/RUN_US" appended to $LAB/loop.snaps
loop_snap() {
  DV_TIMEOUT=5 dv "$1" status --json 2>/dev/null | jq -r --arg h "host$1" '.loop.since_start |
    "\($h) \(.lateness_us_p999) \(.lateness_us_max) \(.timers) \(.worst_stall.label // "-")/\(.worst_stall.run_us // 0)"' \
    >> "$LAB/loop.snaps" 2>/dev/null || log "host$1: no loop figures (status did not answer)"
}

# --- deaths. A trial kills VICTIM_KIND "member" (the non-coordinator host running the
# most protected guests) or "coordinator" (the Raft leader, when it runs any: a new
# leader must be elected and rebuild the coordinator before restarting them).
declare -A RS FAILS
# a configuration's figures: restart times (RS, by victim kind), failed trials, kill
# durations, fence call / confirmation times, collateral destroys, double-run samples
counters_reset() {
  RS=() FAILS=() KILL_MS=() FENCE_MS=() FENCED_MS=() START_MS=() COLLATERAL=0 DOUBLE=0 DOUBLE_SAMPLES=0
  FROZEN_SAMPLES=0 SAMPLE_LINES=0 NTRIALS=0 FENCE_MISSING=0 FENCE_OTHER=0 FORMATION_FAILS=0
}
guests_on() {   # I -> N: how many of the guests run on host I (only there)
  local vm; N=0
  for vm in "${vms[@]}"; do runs_on "$vm"; [ "${RUNS[*]}" = "$1" ] && N=$((N + 1)); done
  return 0
}
pick_victim() {   # kind L -> sets victim, best
  local i; best=-1; victim=
  for i in 1 2 3; do
    if [ "$1" = member ]; then [ "$i" = "$2" ] && continue; else [ "$i" = "$2" ] || continue; fi
    guests_on "$i"
    if [ "$N" -gt "$best" ]; then best=$N; victim=$i; fi
  done
}
# fence_wait VICTIM T0_MS CALLS0: fence "command": wait until the fence of host VICTIM is
# done (lines of $FENCE_CALLS past CALLS0), record the time from the kill to its call
fence_wait() {
  local v=$1 t0=$2 from=$(($3 + 1)) call fin ns
  until fin=$(tail -n +"$from" "$FENCE_CALLS" | grep -E "^[0-9]+ done host$v " | head -1) && [ -n "$fin" ]; do
    if [ $(( $(now_ms) - t0 )) -ge $((FENCE_WAIT_S * 1000)) ]; then
      FENCE_MISSING=$((FENCE_MISSING + 1))
      progress "no fence of host$v done ${FENCE_WAIT_S} s after its kill: [$(tail -n +"$from" "$FENCE_CALLS" | tr '\n' ';')]"
      return 0
    fi
    sleep 0.1
  done
  call=$(tail -n +"$from" "$FENCE_CALLS" | grep -E "^[0-9]+ call host$v " | head -1)
  ns=${call%% *}
  FENCE_MS+=($(( ns / 1000000 - t0 )))
  FENCED_MS+=($(( ${fin%% *} / 1000000 - t0 )))
  progress "fence command for host$v called $(( ns / 1000000 - t0 )) ms after the kill, done $(( ${fin%% *} / 1000000 - t0 )) ms: ${fin#* done }"
}
# start_times VM...: the libvirt start durations the surviving hosts journalled for VMs
# since the kill (logn: each host log's length then), into START_MS
start_times() {
  local i vm n
  for i in 1 2 3; do
    [ "$i" = "$victim" ] && continue
    for vm in "$@"; do
      for n in $(tail -n +"$((logn[$i] + 1))" "$(hdir "$i")/drover.log" |
                 sed -n "s/.* ha: start $vm: started in \([0-9]*\) ms.*/\1/p"); do START_MS+=("$n"); done
    done
  done
}
death_trial() {
  local kind=$1 t=$2 L victim best i vm w="" t0 ts ok=1 gone=() full=0 n pid pids kpid ms calls0 calls
  local -A keep=() logn=()
  ts=$SECONDS
  L=$(leader_idx)
  pick_victim "$kind" "$L"
  if [ "$best" -le 0 ]; then
    # the restarts piled the guests elsewhere: drain the fullest host (for a coordinator
    # trial, the fullest other than the coordinator's, whose guests then partly go to it)
    # and make it active again, which spreads them over the other two
    for i in 1 2 3; do
      [ "$kind" = coordinator ] && [ "$i" = "$L" ] && continue
      guests_on "$i"; if [ "$N" -gt "$full" ]; then full=$N; w=$i; fi
    done
    if [ -z "$w" ]; then
      progress "$kind trial $t: skipped, no guest runs anywhere:$(for vm in "${vms[@]}"; do printf ' %s@[%s]' "$vm" "$(hosts_running "$vm")"; done)"
      return 0
    fi
    progress "$kind trial $t: host to kill runs no guest; draining host$w to spread them"
    DV_TIMEOUT=120 dv "$L" host drain "host$w" --wait >/dev/null 2>&1 || progress "spreading drain of host$w failed ($(loadavg))"
    dv "$L" host undrain "host$w" >/dev/null || progress "undrain host$w failed"
    L=$(leader_idx); pick_victim "$kind" "$L"
  fi
  if [ "$best" -le 0 ]; then progress "$kind trial $t: the host to kill runs no guest; skipped"; return 0; fi
  # a guest whose protection is not acknowledged is not restarted: the trial says so
  wait_acked "$L" 60 || progress "$kind trial $t: killing host$victim all the same"
  # the guests the kill must not touch: those on the other hosts, with their QEMU's PID
  # (a guest that runs nowhere, after a failed trial, is in neither)
  for vm in "${vms[@]}"; do
    runs_on "$vm"
    if [ ${#RUNS[@]} != 1 ]; then progress "$kind trial $t: $vm runs on [${RUNS[*]}], left out of this trial"
    elif [ "${RUNS[0]}" = "$victim" ]; then gone+=("$vm")
    else live_qemu "${RUNS[0]}" "$vm"; keep[$vm]="${RUNS[0]} $QPID"; fi
  done
  loop_snap "$victim"
  calls0=$(wc -l < "$FENCE_CALLS")
  for i in 1 2 3; do logn[$i]=$(wc -l < "$(hdir "$i")/drover.log"); done
  sampler_start "$LAB/double.$CONF_LOAD.$CONF_FENCE" "${vms[@]}"
  : > "$LAB/double.trial"
  # the death: every process of the host (its PIDs found before the clock starts) frozen,
  # then killed; host_kill then finds whatever the set missed (a child forked meanwhile)
  # until nothing is left. It runs beside the wait: a round of it is a ps pass and some
  # thirty forks, seconds under load, while the host is dead from here
  pids=$(host_pids "$victim" | tr '\n' ' ')
  progress "$CONF_LOAD/$CONF_FENCE $kind trial $t: killing host$victim (${#gone[@]} guests; set up in $((SECONDS - ts)) s)"
  t0=$(now_ms)
  # shellcheck disable=SC2086
  { kill -STOP $pids; kill -KILL $pids; } 2>/dev/null || true
  host_kill "$victim" >&2 &
  kpid=$!
  for vm in "${gone[@]}"; do
    while runs_on "$vm"; [ ${#RUNS[@]} != 1 ] || [ "${RUNS[0]}" = "$victim" ]; do
      [ $(( $(now_ms) - t0 )) -lt $((RESTART_LIMIT_S * 1000)) ] || { ok=0; break; }
      sleep 0.02
    done
  done
  ms=$(( $(now_ms) - t0 ))
  wait "$kpid" || true
  KILL_MS+=($(( $(now_ms) - t0 )))
  NTRIALS=$((NTRIALS + 1))
  if [ $ok = 1 ]; then
    RS[$kind]="${RS[$kind]:-} $ms"
    progress "$CONF_LOAD/$CONF_FENCE $kind trial $t: host$victim killed (coordinator was host$L), ${#gone[@]} guests restarted in $ms ms (the kill was done after ${KILL_MS[-1]} ms; $(loadavg))"
  else
    FAILS[$kind]=$(( ${FAILS[$kind]:-0} + 1 ))
    progress "$CONF_LOAD/$CONF_FENCE $kind trial $t: FAILED: guests of host$victim not each running once elsewhere within $RESTART_LIMIT_S s:$(for vm in "${gone[@]}"; do printf ' %s@[%s]' "$vm" "$(hosts_running "$vm")"; done)"
  fi
  [ "$CONF_FENCE" = command ] && fence_wait "$victim" "$t0" "$calls0"
  start_times "${gone[@]}"
  i=$SECONDS
  host_restart "$victim" >&2
  if ! cluster_wait 3 60 >&2; then
    progress "host$victim did not rejoin in 60 s ($(cluster_summary)): killed and revived once more"
    host_kill "$victim" >&2; host_restart "$victim" >&2
    cluster_wait 3 60 >&2 || die "host$victim did not rejoin: $(cluster_summary)"
  fi
  wait_acked "$(leader_idx)" 60 || true
  progress "host$victim back in the cluster, guests acknowledged: $((SECONDS - i)) s"
  ts=$SECONDS
  sampler_stop
  # double runs (two live QEMUs), and a live one next to a frozen one, in this trial's
  # samples (the file holds the configuration's)
  tail -n +$((SAMPLE_LINES + 1)) "$LAB/double.$CONF_LOAD.$CONF_FENCE" > "$LAB/double.trial"
  SAMPLE_LINES=$((SAMPLE_LINES + $(wc -l < "$LAB/double.trial")))
  n=$(awk '$3 > 1' "$LAB/double.trial" | wc -l)
  if [ "$n" -gt 0 ]; then
    DOUBLE=$(( DOUBLE + $(awk '$3 > 1 {print $2}' "$LAB/double.trial" | sort -u | wc -l) ))
    DOUBLE_SAMPLES=$((DOUBLE_SAMPLES + n))
    progress "DOUBLE RUN in $kind trial $t (host$victim killed): $(awk '$3 > 1' "$LAB/double.trial" | head -5 | tr '\n' ';')"
  fi
  n=$(awk '$3 == 1' "$LAB/double.trial" | wc -l)
  if [ "$n" -gt 0 ]; then
    FROZEN_SAMPLES=$((FROZEN_SAMPLES + n))
    progress "$kind trial $t: a restarted guest ran while host$victim's QEMU was frozen, not yet killed ($n samples): $(awk '$3 == 1' "$LAB/double.trial" | head -3 | tr '\n' ';')"
  fi
  # collateral: every guest of a host that was not killed still runs there, same QEMU
  for vm in "${!keep[@]}"; do
    read -r w pid <<< "${keep[$vm]}"
    if live_qemu "$w" "$vm" && [ "$QPID" = "$pid" ]; then continue; fi
    COLLATERAL=$((COLLATERAL + 1))
    progress "COLLATERAL in $kind trial $t (host$victim killed): $vm ran on host$w as QEMU $pid before the kill, now on [$(hosts_running "$vm")], on host$w: QEMU ${QPID:-none}; host$w's log:"
    grep -E "$vm|fenced" "$(hdir "$w")/drover.log" | tail -8 >&2 || true
  done
  # fences of a host that was not killed (it was alive), and more than one of the victim
  # (a later one may have hit it revived)
  calls=$(tail -n +$((calls0 + 1)) "$FENCE_CALLS" | grep ' call ' || true)
  n=$(echo "$calls" | grep -cv " call host$victim " || true)
  [ -z "$calls" ] || [ "$n" = 0 ] || progress "FENCE of a host not killed in $kind trial $t (host$victim killed): $(echo "$calls" | tr '\n' ';')"
  [ -z "$calls" ] || [ "$(echo "$calls" | grep -c " call host$victim ")" -le 1 ] ||
    { n=$((n + 1)); progress "host$victim fenced more than once in $kind trial $t: $(echo "$calls" | tr '\n' ';')"; }
  [ -z "$calls" ] || FENCE_OTHER=$((FENCE_OTHER + n))
  [ $((SECONDS - ts)) -lt 5 ] || progress "trial $t: the checks after it took $((SECONDS - ts)) s"
}

# --- one configuration: fresh lab, guests, (load), deaths, figures
config_run() {   # LOAD FENCE
  local t k rs leader=0 load_s
  CONF_LOAD=$1 CONF_FENCE=$2
  counters_reset
  progress "=== configuration load=$1 fence=$2: fresh lab ($(loadavg))"
  lab_fresh "$2"
  : > "$LAB/loop.snaps"
  : > "$LAB/double.$1.$2"
  if [ "$DRAIN_MEM_MIB" -gt 0 ] && [ -z "${DRAINED:-}" ] && [ "$1" = idle ]; then
    DRAINED=1
    guests "$GUESTS" "$DRAIN_MEM_MIB" fill bf
    drain_phase "lab bridge" off
    [ "$DRAIN_RATE" = off ] || [ -n "${DRAIN_BROKEN:-}" ] || drain_phase "tbf $DRAIN_RATE" "$DRAIN_RATE"
    guests_drop
    # a drain phase that ended on a failure may leave host2 in maintenance: a new lab
    [ -z "${DRAIN_BROKEN:-}" ] || lab_fresh "$2"
  fi
  # the restart anchors were measured with 64 MiB idle tick guests: the same here
  guests 4 64 idle bh
  { [ "$1" = idle ] && [ "$2" = lease ]; } || [ "$LEADER_ALL" = 1 ] && leader=$LEADER_TRIALS
  # the load's own bound: ~1.5 min a trial (a trial takes well under one), restarted
  # before a trial if it has ended all the same
  load_s=$(( (TRIALS + leader) * 90 + 120 ))
  LAB_LOAD=$1 load_start "$load_s"
  for t in $(seq 1 "$TRIALS"); do
    [ "$1" = idle ] || load_running || LAB_LOAD=$1 load_start "$load_s"
    death_trial member "$t"
  done
  for t in $(seq 1 "$leader"); do
    [ "$1" = idle ] || load_running || LAB_LOAD=$1 load_start "$load_s"
    death_trial coordinator "$t"
  done
  for k in member coordinator; do
    read -ra rs <<< "${RS[$k]:-}"
    if [ ${#rs[@]} -eq 0 ]; then
      [ "${FAILS[$k]:-0}" = 0 ] || progress "no $k death trial succeeded ($1/$2): ${FAILS[$k]} failed"
      continue
    fi
    emit_stats restart_after_death_ms ms ",\"victim\":\"$k\",\"trials\":${#rs[@]},\"failed\":${FAILS[$k]:-0},\"kill_ms_max\":$(pct 1000 "${KILL_MS[@]}")" "${rs[@]}"
  done
  if [ "$2" = command ]; then
    if [ ${#FENCE_MS[@]} -gt 0 ]; then
      k=",\"missing\":$FENCE_MISSING,\"other_or_repeated\":$FENCE_OTHER"
      emit_stats fence_called_after_death_ms ms "$k" "${FENCE_MS[@]}"
      emit_stats fence_confirmed_after_death_ms ms "$k,\"pdu\":\"deploy/lab.sh fence\"" "${FENCED_MS[@]}"
    else
      progress "no fence command was called in $NTRIALS trials ($1/$2)"
    fi
  fi
  [ ${#START_MS[@]} -eq 0 ] || emit_stats vm_start_ms ms ",\"what\":\"libvirt start of a restarted guest\"" "${START_MS[@]}"
  emit collateral_destroys "$COLLATERAL" vms ",\"trials\":$NTRIALS,\"formation_failures\":$FORMATION_FAILS"
  emit double_runs "$DOUBLE" vms ",\"trials\":$NTRIALS,\"samples\":$DOUBLE_SAMPLES,\"sample_s\":$SAMPLE_S,\"frozen_overlap_samples\":$FROZEN_SAMPLES"
  for k in 1 2 3; do loop_snap "$k"; done
  if [ -s "$LAB/loop.snaps" ]; then
    local p999 max worst vals
    p999=$(awk '{print $2}' "$LAB/loop.snaps" | sort -n | tail -1)
    max=$(awk '{print $3}' "$LAB/loop.snaps" | sort -n | tail -1)
    worst=$(sort -k3,3n "$LAB/loop.snaps" | tail -1 | awk '{print $1 " " $5}')
    vals=$(awk '{printf "%s%s", (NR > 1 ? "," : ""), $2}' "$LAB/loop.snaps")
    k=",\"what\":\"timer lateness since agent start\",\"reads\":$(wc -l < "$LAB/loop.snaps"),\"worst_stall\":\"$worst\",\"values\":[$vals]"
    emit loop_lateness_us "$p999" us ",\"stat\":\"p99.9\"$k"
    emit loop_lateness_us "$max" us ",\"stat\":\"max\"$k"
  fi
  load_stop
  mkdir -p "$LAB/logs/$1-$2"
  for k in 1 2 3; do cp "$(hdir "$k")/drover.log" "$LAB/logs/$1-$2/host$k.log" 2>/dev/null || true; done
  cp "$FENCE_CALLS" "$LAB/double.$1.$2" "$LAB/loop.snaps" "$LAB/logs/$1-$2/" 2>/dev/null || true
  progress "=== configuration load=$1 fence=$2 done: $NTRIALS trials, collateral $COLLATERAL, double runs $DOUBLE (agent logs: $LAB/logs/$1-$2)"
}

for fence in $FENCES; do
  for load in $LOADS; do config_run "$load" "$fence"; done
done
progress "all configurations done"

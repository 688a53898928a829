# shellcheck shell=bash
# lab_ha_lib.sh — shared by the lab_ha_*.sh scenarios (issue 7): a 3-host cluster formed
# the product's way, tick guests protected with `drover vm protect`, a sampler that
# watches for a guest running twice, and the end checks. Sourced after lib.sh.
#
# "Running twice" is judged from the processes, not from what drover says. A sample
# counts, for each guest, the live (not zombie) QEMUs on the whole machine:
#   - two QEMUs both started without -incoming: two fresh starts, a double run;
#   - more than two QEMUs: a double run whatever they are;
#   - exactly two: a live migration has one source and one -incoming destination for a
#     moment; libvirt on the two hosts is asked in both orders, and both orders seeing
#     two "running" is a double run (a correct migration pauses the source first).
# Each violation is one line in $LAB/violations; every scenario fails on any.

DROVER=$BUILD/agent/drover
DROVER_BIN=$DROVER   # used by deploy/lab.sh's dv and agents_up
export DROVER_BIN
DRCTL=$BUILD/tests/lab/drctl
[ -x "$DRCTL" ] || { echo "$TEST: $DRCTL missing (build the drctl target)"; exit 1; }
# One sample every ~200 ms; bounded at 10 min of sampling, longer than any scenario.
SAMPLE_PERIOD_S=0.2
SAMPLES_MAX=3000

# The CLI is being written with the agent part (agent/cli_ha.c): without `drover host`
# this binary cannot run an HA scenario at all, and says so instead of failing oddly.
ha_cli_present() { "$DROVER" help 2>&1 | grep -q '^  host drain\|^  host '; }

# ha.status from host I's agent as one compact JSON line (drctl: the agent's own object).
ha_status() { "$DRCTL" "$(sock "$1")" ha.status '{}' 5000 2>/dev/null; }
# jq expression over host I's ha.status; empty on any failure
ha_q() { ha_status "$1" | jq -r "$2" 2>/dev/null || true; }
admin_of() { ha_q "$1" ".hosts[] | select(.name == \"$2\") | .admin"; }

# One census line per sample: "VM runners incoming" for each VM, from one ps pass.
census() {
  ps -e -o stat=,args= | awk -v vms="$*" '
    BEGIN { n = split(vms, v, " "); for (i = 1; i <= n; i++) { run[v[i]] = 0; inc[v[i]] = 0 } }
    $1 ~ /^Z/ { next }
    $2 ~ /qemu-system/ {
      for (k = 3; k <= NF; k++) if ($k == "-name") {
        nm = $(k + 1); sub(/^guest=/, "", nm); sub(/,.*/, "", nm)
        if (!(nm in run)) next
        if ($0 ~ / -incoming /) inc[nm]++; else run[nm]++
        next
      }
    }
    END { for (i = 1; i <= n; i++) print v[i], run[v[i]], inc[v[i]] }'
}

# How many of the given hosts' libvirt say VM is running, asked in the given order.
libvirt_running() {
  local vm=$1 i n=0; shift
  for i in "$@"; do
    [ "$(timeout 2 virsh -q -c "$(uri "$i")" domstate "$vm" 2>/dev/null | head -1)" = running ] && n=$((n + 1))
  done
  echo $n
}

sample_once() {
  local vm r inc h
  while read -r vm r inc; do
    if [ "$r" -gt 1 ] || [ $((r + inc)) -gt 2 ]; then
      echo "$(date +%T.%3N) $vm: $r QEMUs started fresh, $inc incoming, on hosts [$(hosts_running "$vm")]"
    elif [ $((r + inc)) = 2 ]; then
      # a live migration: the source pauses before the destination resumes. Asked one
      # after the other, source-then-destination can catch both "running" across the
      # switch-over, destination-then-source cannot; so ask in both orders and call it a
      # double run only when both orders see two running
      read -ra h <<< "$(hosts_running "$vm")"
      [ ${#h[@]} = 2 ] || continue
      [ "$(libvirt_running "$vm" "${h[0]}" "${h[1]}")" = 2 ] && [ "$(libvirt_running "$vm" "${h[1]}" "${h[0]}")" = 2 ] &&
        echo "$(date +%T.%3N) $vm: two QEMUs and libvirt on host${h[0]} and host${h[1]} both say running (asked both ways)"
    fi
  done < <(census "$@")
  return 0
}

# sampler_start VM...: sample in the background until sampler_stop (or SAMPLES_MAX).
sampler_start() {
  : > "$LAB/violations"
  ( for _ in $(seq 1 "$SAMPLES_MAX"); do sample_once "$@" >> "$LAB/violations"; sleep "$SAMPLE_PERIOD_S"; done ) &
  SAMPLER_PID=$!
  log "sampler pid $SAMPLER_PID watches $*"
}
sampler_stop() {
  [ -n "${SAMPLER_PID:-}" ] || return 0
  kill "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=
}
# Fail if the sampler saw a double run so far.
sampler_check() {
  if [ -s "$LAB/violations" ]; then
    head -20 "$LAB/violations" >&2
    fail "a guest ran twice ($(wc -l < "$LAB/violations") samples, first above)"
  fi
}

# ha_cluster_up: lab of 3 hosts, agents, one cluster.
ha_cluster_up() {
  ha_cli_present || fail "this drover has no 'host' commands yet (agent/cli_ha.c): no HA scenario can run"
  lab_up 3
  agents_up "$DROVER"
}
# ha_guests PREFIX HOST... : one 64 MiB tick guest (of kind GUEST_KIND, idle unless set)
# per HOST argument (PREFIX1 on the first given host, ...), each protected with `drover vm
# protect` and acknowledged by its owner.
# Sets VMS (names) and HOME_OF (VM -> host index it started on).
declare -gA HOME_OF
ha_guests() {
  local prefix=$1 k=0 h vm t0; shift
  VMS=()
  for h in "$@"; do
    k=$((k + 1)); vm=$prefix$k
    guest_make "$vm" 64 "${GUEST_KIND:-idle}" shared >/dev/null
    hv "$h" define "$LAB/$vm.xml"
    hv "$h" start "$vm"
    VMS+=("$vm"); HOME_OF[$vm]=$h
  done
  # SeaBIOS + the first tick take ~3.7 s: boot them all at once, then wait
  for vm in "${VMS[@]}"; do wait_ticks "$vm" 0 60 || fail "$vm does not tick on host${HOME_OF[$vm]}"; done
  for vm in "${VMS[@]}"; do
    dr_expect 0 "${HOME_OF[$vm]}" vm protect "$vm"
  done
  # every VM protected, owned by the host it runs on, and the owner knows (prot_acked):
  # only then may a failure of that host restart it elsewhere
  t0=$SECONDS
  until protected_all; do
    [ $((SECONDS - t0)) -lt "$LAB_WAIT_S" ] || { ha_status 1 >&2; fail "protection not acknowledged in $LAB_WAIT_S s"; }
    sleep 0.3
  done
  log "${#VMS[@]} guests protected and acknowledged after $((SECONDS - t0)) s: $(placement_line)"
}
# ha_setup PREFIX HOST...: both of the above
ha_setup() { ha_cluster_up; ha_guests "$@"; }
protected_all() {
  local vm st own
  st=$(ha_status 1) || return 1
  for vm in "${VMS[@]}"; do
    own=$(echo "$st" | jq -r --arg v "$vm" \
      '.vms[] | select(.name == $v and .protected == true and .prot_acked == true) | .owner')
    [ "$own" = "host${HOME_OF[$vm]}" ] || return 1
    # and its definition is replicated (another host defines it from there to restart it)
    DV_TIMEOUT=5 dv 1 kv get "vmxml/$vm" 2>/dev/null | grep -q "<name>$vm</name>" || return 1
  done
}
# "ha1@host1(tick 1a) ha2@host2,host3 ..." where each guest's QEMU lives right now
placement_line() {
  local vm out='' w
  for vm in "${VMS[@]}"; do
    w=$(hosts_running "$vm"); w=${w:-none}
    out="$out $vm@host${w// /,host}(tick $(last_tick "$vm"))"
  done
  echo "${out# }"
}

# wait_running_once VM SECONDS [NOT_HOST]: exactly one live QEMU for VM machine-wide, on
# a host other than NOT_HOST. Prints the host index.
wait_running_once() {
  local vm=$1 secs=$2 not=${3:-0} t0=$SECONDS w
  while [ $((SECONDS - t0)) -lt "$secs" ]; do
    w=$(hosts_running "$vm")
    if [ -n "$w" ] && [ "$(echo "$w" | wc -w)" = 1 ] && [ "$w" != "$not" ] &&
       [ "$(qemu_count "$vm")" = 1 ]; then echo "$w"; return 0; fi
    sleep 0.1
  done
  return 1
}

# The end check for every guest: runs exactly once (one live QEMU machine-wide, libvirt
# on that host says running), and its console keeps counting. MOVED guests (live
# migrations only) must also have kept their counter: booted once, counter past BEFORE.
# Usage: final_check [VM:BEFORE_TICK_DEC ...] — guests listed with a tick value are held
# to "continued from there without a reboot"; the others only to "ticking".
final_check() {
  local vm w spec t0 t1 before
  declare -A held=()
  for spec in "$@"; do held[${spec%%:*}]=${spec#*:}; done
  for vm in "${VMS[@]}"; do
    w=$(wait_running_once "$vm" 30) || fail "$vm does not run exactly once: QEMUs on [$(hosts_running "$vm")], $(qemu_count "$vm") machine-wide"
    # a guest started a moment ago may still be "paused" (starting) for libvirt
    t0=$SECONDS
    until [ "$(v "$w" domstate "$vm" 2>/dev/null | head -1)" = running ]; do
      [ $((SECONDS - t0)) -lt 10 ] || fail "$vm: libvirt on host$w says $(v "$w" domstate "$vm")"
      sleep 0.2
    done
    t0=$((16#$(last_tick "$vm")))
    wait_ticks "$vm" "$(console_ticks "$vm")" 10 || fail "$vm console stopped counting"
    t1=$((16#$(last_tick "$vm")))
    if [ -n "${held[$vm]:-}" ]; then
      before=${held[$vm]}
      [ "$(console_boots "$vm")" = 1 ] || fail "$vm was to move live but booted $(console_boots "$vm") times"
      [ "$t1" -gt "$before" ] || fail "$vm counter went back: $before before, $t1 now"
    fi
    log "OK: $vm runs once on host$w, counter $t0 -> $t1, boots $(console_boots "$vm")"
  done
  sampler_check
}
tick_dec() { echo $((16#$(last_tick "$1"))); }

# Ask drover on host I; fail with its output unless it exits WANT.
dr_expect() {
  local want=$1 i=$2 rc; shift 2
  set +e; dv "$i" "$@" > "$LAB/out" 2> "$LAB/err"; rc=$?; set -e
  [ "$rc" = "$want" ] || { cat "$LAB/out" "$LAB/err" >&2; fail "drover $* (host$i) exited $rc, expected $want"; }
}

# On failure, the agents' last words (the caller's trap runs lab_down afterwards), and
# what the hosts that did not fail fenced or destroyed (usually the cause).
ha_dump() {
  local i bad
  for i in $(seq 1 "$(nhosts)"); do
    echo "--- host$i drover.log (last 25)"; tail -25 "$(hdir "$i")/drover.log" 2>/dev/null
  done >&2
  [ -s "$LAB/violations" ] && { echo "--- violations"; head -20 "$LAB/violations"; } >&2
  bad=$(collateral 2>/dev/null) || true
  if [ -n "$bad" ]; then
    { echo "--- collateral on hosts that did not fail (failed: ${FAILED_HOSTS[*]:-none})"; echo "$bad"; } >&2
    # the likely cause of whatever check failed above, said last so it is next to FAIL
    log "collateral: $(echo "$bad" | grep -c ' -> fenced' || true) self-fence(s) and $(echo "$bad" | grep -c 'destroy' || true) destroy(s) on hosts that did not fail ($(echo "$bad" | awk '{print $2}' | sort -u | tr -d : | tr '\n' ' ')): see above"
  fi
  return 0
}

lab_on_exit() {
  sampler_stop
  load_stop
  [ "$1" = 0 ] || ha_dump
}

# ---- load (issue 11, point 5): load_start / load_stop, LAB_LOAD=idle|saturated, live in
# deploy/lab.sh (bench/ha/ha_lab.sh runs the same load); lab_on_exit above stops it.

# ---- collateral damage (issue 11): a failure of one host must not hurt the others ----
# A scenario names the hosts it kills or cuts off (host_failed I...) before doing so;
# no_collateral then reads the fence journal of every other host and fails on
#   - a fence mode change to "fenced" ("fence: active -> fenced (no contact with the
#     coordinator's quorum ...)", agent/ha_fence.c): a host that kept quorum self-fenced;
#   - a destroy of a VM ("destroyed VM X here ..." / "could NOT destroy VM X here",
#     agent/ha_exec.c destroy_done) for any reason but the leftover clean-up, which
#     removes the definition of a VM that is NOT running here and is owned elsewhere
#     (reason "owned by hostK at generation G", agent/ha_fence.c cleanup_definition).
#     Self-fence ("self-fence: no quorum contact ...") and reconcile ("reconcile: owned
#     by host K ...") destroys kill a running guest: both count.
FAILED_HOSTS=()
host_failed() { FAILED_HOSTS+=("$@"); }
# fence_journal I: host I's "fence" events, one "HH:MM:SS.mmm hostI: message" line each,
# from its journal (`drover events`); from its drover.log if the agent does not answer.
fence_journal() {
  local i=$1 out
  if out=$(DV_TIMEOUT=10 dv "$i" events --kind fence --limit 10000 --json 2>/dev/null); then
    echo "$out" | jq -r '"\(.time_ms / 1000 | floor | strflocaltime("%H:%M:%S")).\(.time_ms % 1000 | tostring | ("00" + .)[-3:]) \(.host): \(.message)"'
  else
    sed -n "s/^\(.*\) fence: /\1 host$i (drover.log, agent not answering): fence: /p" "$(hdir "$i")/drover.log" 2>/dev/null
  fi
}
# collateral: the offending lines of every host not in FAILED_HOSTS (nothing: none)
collateral() {
  local i
  for i in $(seq 1 "$(nhosts)"); do
    [[ " ${FAILED_HOSTS[*]} " == *" $i "* ]] && continue
    fence_journal "$i" | awk '
      / -> fenced/ { print; next }
      /destroyed VM |could NOT destroy VM / {
        if ($0 !~ /self-fence:|reconcile:/ && $0 ~ /: owned by [^ ]+ at generation [0-9]+(;|$)/) next
        print }'
  done
}
# no_collateral: fail on any such line; says which hosts were checked
no_collateral() {
  local bad i ok=()
  for i in $(seq 1 "$(nhosts)"); do [[ " ${FAILED_HOSTS[*]} " == *" $i "* ]] || ok+=("host$i"); done
  bad=$(collateral)
  if [ -n "$bad" ]; then
    echo "$bad" >&2
    fail "collateral damage on hosts that did not fail (${ok[*]}): $(echo "$bad" | grep -c ' -> fenced' || true) self-fence(s), $(echo "$bad" | grep -c 'destroy' || true) destroy(s), lines above"
  fi
  log "OK: no self-fence and no destroy of a VM on ${ok[*]} (failed: ${FAILED_HOSTS[*]:-none}; $(loadavg))"
}

# wait_until SECONDS WANT CMD...: poll CMD's output every 0.2 s until it prints WANT
wait_until() {
  local secs=$1 want=$2 t0=$SECONDS; shift 2
  until [ "$("$@")" = "$want" ]; do
    [ $((SECONDS - t0)) -lt "$secs" ] || return 1
    sleep 0.2
  done
}
# wait_admin I HOST STATE SECONDS: host I's agent shows HOST in admin STATE
wait_admin() { wait_until "$4" "$3" admin_of "$1" "$2"; }

#!/bin/bash
# Issue 7 (a): maintenance drain on real libvirt. 3 hosts, one cluster, 4 protected tick
# guests (two on host1). `drover host cordon host1` shows "cordoned"; `drover host drain
# host1 --wait` (asked through host2's agent: a request may enter anywhere) prints a line
# per VM and returns when host1 is in maintenance; host1 never shows "maintenance" while
# a QEMU of a guest still lives on it; the moved guests kept their counters (live moves,
# no reboot); each move ends by its migration result (not by an inventory finding the
# guest elsewhere later); no guest ever ran twice (sampled throughout); `undrain` makes it
# active.
export LAB_NAME=lhd
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lab_ha_lib.sh"
ha_setup hd 1 1 2 3
sampler_start "${VMS[@]}"
declare -A before
for vm in "${VMS[@]}"; do before[$vm]=$(tick_dec "$vm"); done

dr_expect 0 2 host cordon host1
wait_admin 2 host1 cordoned 5 || fail "after cordon host1 is '$(admin_of 2 host1)', not cordoned"
log "cordon: host1 $(admin_of 2 host1), its guests stay: $(placement_line)"

t0=$(date +%s%N)
dv 2 host drain host1 --wait > "$LAB/drain.out" 2> "$LAB/drain.err" &
drain=$!
# while it runs: "maintenance" must never show with a guest QEMU still on host1
early=
while kill -0 "$drain" 2>/dev/null; do
  if [ "$(admin_of 2 host1)" = maintenance ]; then
    for vm in "${VMS[@]}"; do qemu_alive 1 "$vm" && early="$early $vm"; done
  fi
  sleep 0.1
done
set +e; wait "$drain"; rc=$?; set -e
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
cat "$LAB/drain.out" "$LAB/drain.err" >&2
[ "$rc" = 0 ] || fail "drover host drain host1 --wait exited $rc"
[ -z "$early" ] || fail "host1 showed maintenance while QEMUs of$early still ran on it"
for vm in hd1 hd2; do
  grep -q "$vm" "$LAB/drain.out" "$LAB/drain.err" || fail "the drain printed no line for $vm"
done
log "drain host1 --wait returned after $ms ms"
# each move ended by its result ("moved host1 -> hostK"), not found later by an inventory
# ("runs on hostK, owner was host1: adopt"): a result the coordinator drops costs a drain
# 30 s per VM and its failback (seen with a sender check that refused them)
for vm in hd1 hd2; do
  grep -hq "ha: VM $vm now owned by host[23] ([^)]*): vm $vm: moved host1 -> host" "$(hdir 1)/drover.log" "$(hdir 2)/drover.log" "$(hdir 3)/drover.log" ||
    fail "the coordinator did not take $vm's migration result: $(grep -h "VM $vm" "$(hdir 1)/drover.log" "$(hdir 2)/drover.log" "$(hdir 3)/drover.log" | tail -3 | tr '\n' ';')"
done
for i in 1 2 3; do
  wait_admin "$i" host1 maintenance 5 || fail "host$i's agent says host1 is '$(admin_of "$i" host1)', not maintenance"
done
for vm in "${VMS[@]}"; do
  qemu_alive 1 "$vm" && fail "$vm still has a QEMU on host1"
  v 1 domstate "$vm" >/dev/null 2>&1 && fail "$vm is still defined on host1"
done
keep=(); for vm in "${VMS[@]}"; do keep+=("$vm:${before[$vm]}"); done
final_check "${keep[@]}"
log "after the drain: $(placement_line)"

dr_expect 0 3 host undrain host1
wait_admin 3 host1 active 5 || fail "after undrain host1 is '$(admin_of 3 host1)'"
sleep 2
final_check "${keep[@]}"
log "undrain: host1 active again, guests stay where they are: $(placement_line)"

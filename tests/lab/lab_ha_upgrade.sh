#!/bin/bash
# Issue 7 (e): rolling upgrade over 3 hosts with a harmless command. `drover upgrade
# start --command CMD` drains one host at a time, runs CMD on it through its agent (here:
# touch a marker named after the host, inside the host's UTS namespace), waits for it to
# rejoin healthy, undrains, moves on. At the end: state done, every host active, three
# markers, every guest running exactly once with its counter continuing (it only ever
# moved live), no double run sampled throughout.
export LAB_NAME=lhu
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lab_ha_lib.sh"
# Running the upgrade's command is each host's own opt-in ([ha] allow_upgrade_command,
# off by default, issue 12): every host here says yes, after lab.sh wrote its [ha] lines.
eval "lab_agent_conf_$(declare -f agent_conf)"
agent_conf() {
  lab_agent_conf_agent_conf "$@"
  echo "allow_upgrade_command = yes" >> "$(hdir "$1")/drover.conf"
}
ha_setup hu 1 2 3 1
grep -q '^allow_upgrade_command = yes' "$(hdir 1)/drover.conf" || fail "host1's drover.conf does not opt in"
sampler_start "${VMS[@]}"
declare -A before
for vm in "${VMS[@]}"; do before[$vm]=$(tick_dec "$vm"); done
rm -f "$LAB"/upgraded-*

dr_expect 0 1 upgrade start --command "touch $LAB/upgraded-\$(hostname)"
log "upgrade started: $(cat "$LAB/out")"
t0=$SECONDS; last=
while :; do
  st=$(ha_q 1 '"\(.upgrade.state) \(.upgrade.phase) \(.upgrade.current)"')
  [ "$st" != "$last" ] && { log "upgrade: $st | $(placement_line)"; last=$st; }
  case "$st" in done*) break ;; aborted*|paused*) fail "upgrade $st";; esac
  [ $((SECONDS - t0)) -lt 180 ] || fail "upgrade not done after 180 s: $st"
  sleep 0.3
done
log "upgrade done after $((SECONDS - t0)) s"
dr_expect 0 2 upgrade status
log "$(cat "$LAB/out")"
for i in 1 2 3; do
  [ -e "$LAB/upgraded-host$i" ] || fail "no marker from host$i: the command did not run there (have: $(echo "$LAB"/upgraded-*))"
  wait_admin 1 "host$i" active 10 || fail "host$i is '$(admin_of 1 "host$i")' after the upgrade, not active"
done
keep=(); for vm in "${VMS[@]}"; do keep+=("$vm:${before[$vm]}"); done
final_check "${keep[@]}"
log "after the upgrade: $(placement_line)"

#!/bin/bash
# `drover cpu baseline`, `drover check migrate` and `drover place` through real agents in
# two lab hosts that form one cluster (static roster) and gossip libvirt's facts:
#  1. host1's record reaches host2 with libvirt's CPU features, storage and bridges;
#  2. cpu baseline gives libvirt's <cpu> model over both hosts' CPUs;
#  3. a shared-disk guest passes `check migrate` to host2, and then really moves there;
#  4. a guest with a host-local disk is blocked (storage.not_shared, exit 107) and passes
#     with --storage (a warning that its disk will be copied);
#  5. a guest on a libvirt network only host1 has is blocked with network.missing, and
#     `drover vm migrate` refuses it too;
#  6. `place` ranks host2 for the shared guest and rejects it for the local one.
export LAB_NAME=lpl
source "$(dirname "$0")/lib.sh"
DROVER=$BUILD/agent/drover
lab_up 2

# agents in one cluster: lab.sh's agents_up makes each host its own cluster
in_host() { local i=$1; shift; nsenter -t "$(cat "$(hdir "$i")/libvirtd.pid")" -n -m -u -- "$@"; }
cid=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
echo "cluster_id = $cid" > "$LAB/roster"
for i in 1 2; do
  d=$(hdir "$i"); rm -rf "$d/drover"; mkdir -p "$d/drover"
  in_host "$i" "$DROVER" init --state-dir "$d/drover" >> "$d/drover.log" 2>&1
  in_host "$i" "$DROVER" roster line --state-dir "$d/drover" --name "host$i" \
    --addr "tcp://$NET.$i:7370" >> "$LAB/roster"
  cat > "$d/drover.conf" <<CONF
[agent]
name = host$i
state_dir = $d/drover
control_socket = $d/drover.sock
[cluster]
bind = $NET.$i:7370
roster = $LAB/roster
[gossip]
status_interval = 1s
[libvirt]
uri = qemu:///system
CONF
done
for i in 1 2; do
  d=$(hdir "$i")
  # nsenter directly (not the in_host function): $! must be the agent's own PID so that
  # lab_down stops it; a function in the background is a subshell, and the agent outlived it
  nsenter -t "$(cat "$d/libvirtd.pid")" -n -m -u -- setsid "$DROVER" agent -c "$d/drover.conf" \
    >> "$d/drover.log" 2>&1 < /dev/null &
  echo $! > "$d/drover.pid"
done
S1=$(hdir 1)/drover.sock; S2=$(hdir 2)/drover.sock
dr() {   # want-rc socket args...
  local want=$1 s=$2; shift 2
  set +e; "$DROVER" "$@" --socket "$s" > "$LAB/out" 2> "$LAB/err"; local rc=$?; set -e
  [ "$rc" = "$want" ] || { cat "$LAB/out" "$LAB/err" >&2; fail "drover $* exited $rc, expected $want"; }
}
has() { grep -q -- "$1" "$LAB/out" || { cat "$LAB/out" >&2; fail "output of the last command lacks '$1'"; }; }

guest_make pl1 64 idle shared >/dev/null
guest_make pl2 64 idle local 1 >/dev/null
# pl3: shared disk, but a NIC on a libvirt network only host1 has (bridge mode over a
# bridge made here: no dnsmasq, no firewall rules): refused for the network, not the disk
guest_make pl3 64 idle shared >/dev/null
sed -i "s#<memballoon#<interface type='network'><source network='plonly1'/><model type='virtio'/></interface>\n    <memballoon#" "$LAB/pl3.xml"
cat > "$LAB/plonly1.xml" <<NET
<network><name>plonly1</name><forward mode='bridge'/><bridge name='plbr1'/></network>
NET
in_host 1 ip link add plbr1 type bridge
in_host 1 ip link set plbr1 up
v 1 net-define "$LAB/plonly1.xml" > /dev/null
v 1 net-start plonly1 > /dev/null
boot_on 1 pl1
boot_on 1 pl2
boot_on 1 pl3

# 1. both records, with libvirt's facts, on both hosts
both_records() {
  local s n
  for s in "$S1" "$S2"; do
    n=$("$DROVER" members --json --socket "$s" 2>/dev/null | tr -d ' \n' |
        grep -o '"libvirtd_responsive":true' | wc -l) || return 1
    [ "$n" = 2 ] || return 1
  done
  "$DROVER" cpu baseline --json --socket "$S1" 2>/dev/null | tr -d ' \n' |
    grep -q '"hosts":\["host[12]","host[12]"\]'
}
t0=$SECONDS
until both_records; do
  [ $((SECONDS - t0)) -lt 60 ] || fail "records with libvirt facts did not spread in 60 s"
  sleep 0.5
done
log "records with libvirt facts on both hosts after $((SECONDS - t0)) s"

# 2. libvirt's baseline over both CPUs (rebuilt from the records' feature names)
dr 0 "$S2" cpu baseline
log "$(head -4 "$LAB/out")"
has "<model"; has "features  [1-9][0-9]* in common"
dr 0 "$S1" cpu baseline --json
has '"cpu_xml": "<cpu'

# 3. shared disk: can move, and does
dr 0 "$S1" check migrate pl1 host2
log "$(cat "$LAB/out")"
has "check pl1 -> host2: ok"
"$DROVER" vm migrate pl1 "$NET.2" --live --socket "$S1" > /dev/null 2>&1 || fail "pl1 did not move after check said ok"
verify_moved pl1 2 1

# 4. local disk: blocked with the reason and the fix, fine with --storage
dr 107 "$S1" check migrate pl2 host2
log "$(cat "$LAB/out")"
has "BLOCK storage.not_shared"; has "hint:"
dr 0 "$S1" check migrate pl2 host2 --storage --json
has '"blocked": false'; has '"storage.copy_needed"'
# a network the destination lacks: blocked for that reason, and libvirt agrees
dr 107 "$S1" check migrate pl3 host2
log "$(cat "$LAB/out")"
has "BLOCK network.missing"; has "plonly1"
set +e; "$DROVER" vm migrate pl3 "$NET.2" --live --socket "$S1" > /dev/null 2>&1; rc=$?; set -e
[ "$rc" = 107 ] || fail "vm migrate pl3 to host2 (no plonly1 there) exited $rc, expected 107"

# 6. place: the shared guest (now on host2) may go back to host1; the local one nowhere
dr 0 "$S2" place pl1
log "$(cat "$LAB/out")"
has "1. host1 score="
dr 107 "$S1" place pl2
has "rejected host2: storage.not_shared"
dr 105 "$S1" check migrate pl1 host2   # pl1 left host1: no such VM here

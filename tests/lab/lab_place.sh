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
#  6. `place` ranks host2 for the shared guest and rejects it for the local one;
#  7. disk sizes and the destination's local pool free space travel in the records: a
#     local guest whose qcow2 may grow to 16 TiB fits host2 now, with storage.space_low;
#  8. a migration in flight (host1 -> host2) shows in host1's ranking (migrating=1) and
#     goes away when it ends;
#  9. host2's interface at MTU 1400 gives network.mtu_mismatch, a warning, not a block;
# 10. host2's published migration address not resolving on host1: host.name_unresolved.
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
# pl4: local, a boot sector in a qcow2 that may grow to 16 TiB (nothing past it written)
guest_make pl4 64 idle local 1 >/dev/null
qemu-img resize -q "$(hdir 1)/$LOCAL_DIR/pl4.qcow2" 16T
# pl5: shared and busy (rewrites 55 MiB between ticks): a slow move to watch in flight
guest_make pl5 64 busy shared >/dev/null
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
boot_on 1 pl4
boot_on 1 pl5

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

# 7. sizes: KiBs written fit host2's local pool, 16 TiB would not: copy + space_low warnings
dr 0 "$S1" check migrate pl4 host2 --storage
log "$(cat "$LAB/out")"
has "WARN  storage.copy_needed: storage local:host1 is not on host2: [1-9][0-9]* MiB will be copied"
has "WARN  storage.space_low: disks local:host1 may grow to 16777216 MiB but host2 has [0-9]* MiB free"

# 8. in flight: pl5 moves host1 -> host2 at 5 MiB/s (post-copy after 10 s); meanwhile
#    host1 ranks with migrating=1 for pl1 (asked on host2), and without once it is done
"$DROVER" vm migrate pl5 "$NET.2" --live --bandwidth 5 --socket "$S1" > "$LAB/mig5" 2>&1 &
mig=$!
busy_seen() { "$DROVER" place pl1 --socket "$S2" 2>/dev/null | grep -q "host1 score=.* migrating=$1"; }
t0=$SECONDS
until busy_seen 1; do
  kill -0 "$mig" 2>/dev/null || fail "pl5's move ended before host1 showed migrating=1: $(cat "$LAB/mig5")"
  [ $((SECONDS - t0)) -lt 20 ] || fail "host1 never ranked with migrating=1 during pl5's move"
  sleep 0.3
done
log "in flight after $((SECONDS - t0)) s: $("$DROVER" place pl1 --socket "$S2" | grep host1)"
for _ in $(seq 120); do kill -0 "$mig" 2>/dev/null || break; sleep 0.5; done
kill -0 "$mig" 2>/dev/null && fail "pl5's move still running after 60 s"
wait "$mig" || fail "pl5's move failed: $(cat "$LAB/mig5")"
t0=$SECONDS
while "$DROVER" place pl1 --socket "$S2" 2>/dev/null | grep -q "host1 score=.* migrating="; do
  [ $((SECONDS - t0)) -lt 20 ] || fail "host1 still ranked as migrating 20 s after pl5 moved"
  sleep 0.3
done
log "pl5 moved; host1 no longer migrating after $((SECONDS - t0)) s"

# 9. MTU: host2's eth0 at 1400 while host1's is 1500 (the NIC is probed every facts
#    refresh, 10 s): a warning naming both, still no block; then put it back
mtu0=$(ip -n "${LAB_NAME}h2" -o link show eth0 | sed -n 's/.* mtu \([0-9]*\) .*/\1/p')
ip -n "${LAB_NAME}h2" link set eth0 mtu 1400
t0=$SECONDS
until "$DROVER" check migrate pl4 host2 --storage --socket "$S1" > "$LAB/out" 2>&1 &&
      grep -q "network.mtu_mismatch" "$LAB/out"; do
  [ $((SECONDS - t0)) -lt 30 ] || { ip -n "${LAB_NAME}h2" link set eth0 mtu "$mtu0"; cat "$LAB/out" >&2;
                                    fail "no network.mtu_mismatch 30 s after host2's MTU changed"; }
  sleep 0.5
done
ip -n "${LAB_NAME}h2" link set eth0 mtu "$mtu0"
log "$(grep mtu_mismatch "$LAB/out")"
has "WARN  network.mtu_mismatch: migration network MTU is $mtu0 on host1 but 1400 on host2"

# 10. host1 forgets host2's name (its /etc/hosts is a bind-mounted file: rewrite it in
#     place, a new inode would not be seen), so host2's migration address does not resolve
h1hosts=$(hdir 1)/hosts
cp "$h1hosts" "$LAB/hosts1.orig"
grep -v ' host2$' "$LAB/hosts1.orig" > "$LAB/hosts1.new"; cat "$LAB/hosts1.new" > "$h1hosts"
dr 0 "$S1" check migrate pl4 host2 --storage
log "$(grep name_unresolved "$LAB/out")"
has "WARN  host.name_unresolved: host name host2 does not resolve"
dr 0 "$S1" place pl4 --storage   # place resolves every candidate's name too
cat "$LAB/hosts1.orig" > "$h1hosts"
log "$(grep host2 "$LAB/out")"
has "1. host2 score=.*host.name_unresolved"

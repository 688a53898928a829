#!/bin/bash
# A refused migration: the guest uses bridge labbr0 which only host1 has. The move is
# refused with a clear message (by drover's pre-check, and by libvirt itself when drover
# has no connection to the destination), and the guest keeps running on host1. Then with
# host2 partitioned, the move gives up within the adapter's peer timeout.
export LAB_NAME=lrf
source "$(dirname "$0")/lib.sh"
lab_up 2
nsenter -t "$(cat "$(hdir 1)/libvirtd.pid")" -n -- ip link add labbr0 type bridge
nsenter -t "$(cat "$(hdir 1)/libvirtd.pid")" -n -- ip link set labbr0 up
guest_make rf1 64 idle shared >/dev/null
sed -i "s|</devices>|<interface type='bridge'><source bridge='labbr0'/><mac address='52:54:00:77:00:01'/><model type='virtio'/><rom enabled='no'/></interface></devices>|" "$LAB/rf1.xml"
boot_on 1 rf1
for how in precheck libvirt; do
  extra=(--dest "$(uri 2)"); [ $how = libvirt ] && extra=()
  set +e
  msg=$(hv 1 migrate rf1 "$(turi 2)" --live "${extra[@]}" 2>&1); rc=$?
  set -e
  [ $rc = 15 ] || fail "$how: expected exit 15 (bridge missing), got $rc: $msg"
  echo "$msg" | grep -q "labbr0" || fail "$how: message does not name the bridge: $msg"
  log "$how refused: $(echo "$msg" | tail -1)"
  [ "$(hv 1 state rf1)" = running ] || fail "rf1 not running on host1 after the refusal"
  hv 2 state rf1 >/dev/null 2>&1 && fail "rf1 defined on host2 after the refusal"
  [ "$(qemu_count rf1)" = 1 ] || fail "expected 1 QEMU for rf1"
  n=$(console_ticks rf1); wait_ticks rf1 "$n" 10 || fail "rf1 stopped counting"
done
# host2 cut off the lab network: the peer-to-peer connect cannot finish; the adapter's
# peer timeout (4 s here) returns and the guest keeps running on host1
ip -n "${NAME}sw" link set "${NAME}v2" down
t0=$(date +%s)
set +e
msg=$(HV_PEER_TIMEOUT_MS=4000 hv 1 migrate rf1 "$(turi 2)" --live 2>&1); rc=$?
set -e
t=$(( $(date +%s) - t0 ))
# the agent's way: from inside host1, with a connection to the destination for pre-checks;
# opening it is bounded by the same timeout (the time is taken when hvtool prints the error:
# its exit may still wait for libvirt's abandoned connect to give up)
t1=$(date +%s%N)
set +e
msg2=$(nsenter -t "$(cat "$(hdir 1)/libvirtd.pid")" -n -m -u -- env HV_PEER_TIMEOUT_MS=3000 \
       "$HV" -c qemu:///system migrate rf1 "$(turi 2)" --live --dest "$(turi 2)" 2>&1 >/dev/null |
       { read -r line; echo "$(( ($(date +%s%N) - t1) / 1000000 )) $line"; cat >/dev/null; }
       exit "${PIPESTATUS[0]}"); rc2=$?
set -e
ip -n "${NAME}sw" link set "${NAME}v2" up
t2=${msg2%% *}
[ $rc2 = 20 ] || fail "partitioned peer, opening it: expected exit 20 (timeout), got $rc2: $msg2"
[ "$t2" -le 4500 ] || fail "opening a partitioned peer took $t2 ms"
log "partitioned peer, open gave up after $t2 ms: ${msg2#* }"

[ $rc = 20 ] || [ $rc = 12 ] || fail "partitioned peer: expected exit 20 (timeout) or 12 (unreachable), got $rc: $msg"
[ $t -le 12 ] || fail "partitioned peer: took $t s"
log "partitioned peer refused after $t s: $(echo "$msg" | tail -1)"
[ "$(hv 1 state rf1)" = running ] || fail "rf1 not running on host1 after the partition"
n=$(console_ticks rf1); wait_ticks rf1 "$n" 10 || fail "rf1 stopped counting"
[ "$(console_boots rf1)" = 1 ] || fail "rf1 rebooted"
log "OK: rf1 untouched on host1"

#!/bin/bash
# Storage migration (copy-storage-all) of a guest whose disk is on host-local storage; a
# plain live move of it is refused first with words that say what to do. The guest also has
# a data disk on shared storage, which the storage move must leave alone (only host-local
# disks are copied; copying a shared file onto itself would corrupt it).
export LAB_NAME=lst
source "$(dirname "$0")/lib.sh"
lab_up 2
guest_make st1 64 idle local 1 >/dev/null
qemu-img create -q -f qcow2 "$SHARED/st1-data.qcow2" 16M
sed -i "s|</devices>|<disk type='file' device='disk'><driver name='qemu' type='qcow2' cache='none'/><source file='$SHARED/st1-data.qcow2'/><target dev='vdb' bus='virtio'/></disk></devices>|" "$LAB/st1.xml"
boot_on 1 st1
set +e
msg=$(hv 1 migrate st1 "$(turi 2)" --live --dest "$(uri 2)" 2>&1); rc=$?
set -e
[ $rc = 17 ] || fail "live move of a local-disk VM: expected exit 17 (not shared), got $rc: $msg"
echo "$msg" | grep -q -- "--storage" || fail "refusal does not say to use --storage: $msg"
log "refused as expected: $(echo "$msg" | tail -1)"
hv 1 migrate st1 "$(turi 2)" --storage --dest "$(uri 2)"
[ -s "$(hdir 2)/$LOCAL_DIR/st1.qcow2" ] || fail "no copied disk in host2's local storage"
[ -e "$(hdir 2)/$LOCAL_DIR/st1-data.qcow2" ] && fail "the shared data disk was copied"
hv 2 show st1 | grep -q "\"path\":\"$SHARED/st1-data.qcow2\",\"format\":\"qcow2\",\"shared\":true" ||
  fail "st1's data disk on host2 is not the shared file"
qemu-img check -q -U "$SHARED/st1-data.qcow2" || fail "shared data disk damaged"
verify_moved st1 2 1

# shellcheck shell=bash
# lib.sh — shared by the lab_*.sh tests: sourced with the build dir as $1 and a short
# LAB_NAME already exported (namespace and veth names carry it, so labs never collide).
set -euo pipefail
BUILD=${1:?usage: $0 BUILD_DIR}
TEST=$(basename "$0" .sh)
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
if [ "$(id -u)" != 0 ]; then echo "$TEST: skipped: needs root (namespaces, libvirtd)"; exit 77; fi
if ! ip netns add "${LAB_NAME}probe" 2>/dev/null; then
  echo "$TEST: skipped: network namespaces unavailable"; exit 77
fi
ip netns del "${LAB_NAME}probe"
export LAB=/tmp/drover-$TEST
HV=$BUILD/tests/lab/hvtool
[ -x "$HV" ] || { echo "$TEST: $HV missing (build the hvtool target)"; exit 1; }
# shellcheck source=../../deploy/lab.sh
source "$ROOT/deploy/lab.sh"
# lab_on_exit RC runs first on exit (scenarios redefine it: stop their sampler, dump logs)
lab_on_exit() { :; }
trap 'rc=$?; lab_on_exit $rc; lab_down; [ $rc = 0 ] && echo "$TEST: PASS" || echo "$TEST: FAIL (rc $rc)"; exit $rc' EXIT

hv() { local i=$1; shift; "$HV" -c "$(uri "$i")" "$@"; }
fail() { log "FAIL: $*"; exit 1; }

# qemu_alive HOST VM, hosts_running VM: deploy/lab.sh

# Machine-wide count of live QEMU processes for VM $1 (zombies skipped, LAB-NOTES 14).
qemu_count() {
  local n=0 p
  for p in $(pgrep -f "qemu-system-x86_64 -name guest=$1," || true); do
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] || n=$((n + 1))
  done
  echo $n
}

# VM $1 runs on host $2 and is gone from host $3; its console keeps counting; booted once.
verify_moved() {
  local vm=$1 d=$2 s=$3 t0 t1
  [ "$(hv "$d" state "$vm")" = running ] || fail "$vm is not running on host$d"
  hv "$s" state "$vm" >/dev/null 2>&1 && fail "$vm is still defined on host$s"
  qemu_alive "$s" "$vm" && fail "a QEMU for $vm is still alive on host$s"
  qemu_alive "$d" "$vm" || fail "no QEMU for $vm on host$d"
  [ "$(qemu_count "$vm")" = 1 ] || fail "expected exactly 1 QEMU for $vm, found $(qemu_count "$vm")"
  t0=$((16#$(last_tick "$vm")))
  wait_ticks "$vm" "$(console_ticks "$vm")" 10 || fail "$vm console stopped counting"
  t1=$((16#$(last_tick "$vm")))
  [ "$t1" -gt "$t0" ] || fail "$vm counter went from $t0 to $t1"
  [ "$(console_boots "$vm")" = 1 ] || fail "$vm booted $(console_boots "$vm") times"
  log "OK: $vm on host$d (counter $t0 -> $t1), gone from host$s, booted once"
}

boot_on() {   # boot_on HOST VM: define + start, wait for the first tick
  hv "$1" define "$LAB/$2.xml"
  hv "$1" start "$2"
  wait_ticks "$2" 0 60 || fail "$2 does not tick on host$1"
}

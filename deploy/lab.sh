#!/bin/bash
# lab.sh — N libvirt "hosts" on one Debian 12 machine, for drover's lab tests and demo.
#
# Why this shape: drover's promises are about real VMs on real libvirt, so each lab host is a
# real libvirtd + virtlockd pair with its own network, mount and UTS namespaces, a distinct
# host_uuid and a TCP listener on its own lab address only. The hosts share one bridge (it
# lives in a separate "switch" namespace) and one directory presented as shared storage.
# Nothing is configured outside loopback and the lab's own namespaces; the first thing `up`
# does is make the lab range unreachable from the root namespace, so a wrong address fails
# at once instead of leaving the machine by the default route (docs/lab.md, LAB-NOTES 8).
#
# Usage (as root):
#   lab.sh up [N]            bring up N hosts (default 2); idempotent (an up lab is reused)
#   lab.sh down              tear everything down (idempotent)
#   lab.sh status            hosts, their addresses, libvirtd pids and domains
#   lab.sh exec I CMD...     run CMD "on host I" (its namespaces): qemu:///system works as is
#   lab.sh partition I / heal I   cut host I off the lab bridge / put it back
#   lab.sh agent-up DROVER   start `drover agent` inside every host (state in the host dir)
#                            and form one cluster: host1 creates it, the others join
#                            with a token (`drover token create` / `drover join`)
#   lab.sh kill I            kill host I outright: agent, libvirtd, virtlockd, QEMUs
#   lab.sh fence HOST [ADDR] the lab's PDU for `[ha] fence_command`: kill host HOST (hostK,
#                            or found by its address) and exit 0 once it is all gone
#   lab.sh revive DROVER I   restart a killed host I: daemons, then its agent (same state)
#   lab.sh guest NAME [MEM_MIB] [busy] [local]   write NAME's disk + XML, print the XML path
#   lab.sh demo              the HA story: build drover, up 3 hosts, agents form a cluster,
#                            4 protected tick guests, drain host1 (live moves), undrain it,
#                            kill host2 outright, show the restarts and a table, down
# Environment:
#   LAB=/tmp/drover-lab  lab directory;  LAB_NAME=dl  prefix of namespace names (tests use
#   their own, so two labs never collide);  LAB_NET=10.77.0  lab subnet inside the namespaces;
#   LAB_VIRT=auto|kvm|qemu;  LAB_KEEP=1 keeps the demo's lab up;  LAB_LOG_LEVEL=info (agents).
# Clients in the root namespace use the unix socket URI printed by `status`:
#   qemu:///system?socket=$LAB/hosts/host<i>/run/libvirt-sock
set -euo pipefail

LAB=${LAB:-/tmp/drover-lab}
# the lab cluster's operator credential: host1's `drover init` writes it, every admin
# command (token create, host drain, vm protect, ...) of the lab and its tests signs with it
export DROVER_OPERATOR_KEY=$LAB/operator.key
NAME=${LAB_NAME:-dl}
NET=${LAB_NET:-10.77.0}
# All labs live inside 10.77.0.0/16; the route covers every lab subnet at once.
GUARD_RANGE=${LAB_GUARD_RANGE:-10.77.0.0/16}
VIRT=${LAB_VIRT:-auto}
# Upper bound of the lab's setup waits (cluster formed, voters, protection acknowledged):
# a bound, not a figure — a healthy lab takes a few seconds; at load average 40 (two labs
# and sanitizer builds beside it on 2 cores) 30 s were not enough
LAB_WAIT_S=${LAB_WAIT_S:-90}
SHARED=$LAB/shared                 # bindfs view typed fuse.glusterfs: libvirt treats it as shared
SHARED_BACKING=$LAB/shared-backing # the real files
LOCAL_DIR=lib/images               # per-host local storage, relative to the host dir
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
# net.ipv4.tcp_syn_retries inside each host: a connect to a cut-off peer fails in ~7 s, not
# ~127 s (LAB-NOTES 9).
SYN_RETRIES=2

# fork-free (EPOCHREALTIME): the PDU logs on its hot path, and a fork costs tens of ms under load
log() {
  local t=${EPOCHREALTIME/[!0-9]/.} ts; printf -v ts '%(%T)T' "${t%.*}"; t=${t#*.}
  echo "[lab $ts.${t:0:3}] $*" >&2
}
die() { log "ERROR: $*"; exit 1; }
hdir() { echo "$LAB/hosts/host$1"; }
uri() { echo "qemu:///system?socket=$(hdir "$1")/run/libvirt-sock"; }
turi() { echo "qemu+tcp://$NET.$1/system"; }
# bounded: a hung libvirtd (seen: two incoming TCG migrations at load 15) must fail the
# call, not hang the test or bench for good
v() { local h=$1; shift; timeout "${LAB_VIRSH_TIMEOUT:-120}" virsh -q -c "$(uri "$h")" "$@"; }
nhosts() { local n=0 d; for d in "$LAB"/hosts/host*; do [ -d "$d" ] && n=$((n + 1)); done; echo $n; }

install_pkgs() {   # one package list for the whole project: deploy/setup.sh
  bash "$ROOT/deploy/setup.sh" lab
  # the agents answer in JSON; the lab reads it with jq
  command -v jq >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends jq >/dev/null
}

pick_virt() {
  if [ "$VIRT" = auto ]; then
    if [ -e /dev/kvm ] && echo quit | timeout 20 qemu-system-x86_64 -accel kvm -machine none \
         -nodefaults -display none -monitor stdio >/dev/null 2>&1; then VIRT=kvm; else VIRT=qemu; fi
  fi
  echo "$VIRT" > "$LAB/virt"
}

netns_ok() {
  ip netns add "${NAME}probe" 2>/dev/null || return 1
  ip netns del "${NAME}probe"
}

net_up() {
  local n=$1 i
  ip netns add "${NAME}sw"
  ip -n "${NAME}sw" link set lo up
  ip -n "${NAME}sw" link add br0 type bridge
  ip -n "${NAME}sw" link set br0 up
  for i in $(seq 1 "$n"); do
    ip netns add "${NAME}h$i"
    # created in the root namespace and moved out at once; the names carry the lab prefix
    ip link add "${NAME}v$i" type veth peer name eth0 netns "${NAME}h$i"
    ip link set "${NAME}v$i" netns "${NAME}sw"
    ip -n "${NAME}sw" link set "${NAME}v$i" master br0 up
    ip -n "${NAME}h$i" link set lo up
    ip -n "${NAME}h$i" addr add "$NET.$i/24" dev eth0
    ip -n "${NAME}h$i" link set eth0 up
    ip netns exec "${NAME}h$i" sysctl -qw net.ipv4.tcp_syn_retries=$SYN_RETRIES
  done
}

shared_up() {
  mkdir -p "$SHARED" "$SHARED_BACKING"
  if ! mountpoint -q "$SHARED"; then
    [ -z "$(ls -A "$SHARED")" ] || die "$SHARED is not empty (bindfs mounts over it)"
    bindfs -o subtype=glusterfs,fsname=lab-shared "$SHARED_BACKING" "$SHARED"
  fi
  mkdir -p "$SHARED/lockspace"
}

write_host_config() {
  local i=$1 n=$2 d j; d=$(hdir "$i")
  rm -rf "${d:?}"/{etc,run,lib,log}   # keep cache/: QEMU's capability probe takes seconds
  mkdir -p "$d"/{etc,run,lib,cache,log} "$d/$LOCAL_DIR"
  cat > "$d/etc/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 1
listen_addr = "$NET.$i"
tcp_port = "16509"
auth_tcp = "none"
auth_unix_ro = "none"
auth_unix_rw = "none"
unix_sock_rw_perms = "0700"
# must differ per host, or migration says "Attempt to migrate guest to the same host"
host_uuid = "$(printf '6c616200-0000-4000-8000-%012d' "$i")"
log_outputs = "3:file:$d/libvirtd.log"
EOF
  cat > "$d/etc/qemu.conf" <<EOF
# /dev/kvm is 0600 root here
user = "root"
group = "root"
# a privileged libvirtd does not spawn virtlogd itself
stdio_handler = "file"
security_driver = "none"
cgroup_controllers = [ ]
migration_address = "$NET.$i"
migration_host = "$NET.$i"
lock_manager = "lockd"
EOF
  cat > "$d/etc/qemu-lockd.conf" <<EOF
auto_disk_leases = 1
require_lease_for_disks = 1
file_lockspace_dir = "$SHARED/lockspace"
EOF
  echo "log_outputs = \"3:file:$d/virtlockd.log\"" > "$d/etc/virtlockd.conf"
  { echo "127.0.0.1 localhost"; for j in $(seq 1 "$n"); do echo "$NET.$j host$j"; done; } > "$d/hosts"
  : > "$d/resolv.conf"
  cat > "$d/init.sh" <<EOF
#!/bin/sh
set -e
hostname host$i
mount --bind $d/etc   /etc/libvirt
mount --bind $d/run   /run/libvirt
mount --bind $d/lib   /var/lib/libvirt
mount --bind $d/cache /var/cache/libvirt
mount --bind $d/log   /var/log/libvirt
mount --bind $d/hosts /etc/hosts
mount --bind $d/resolv.conf /etc/resolv.conf
virtlockd --config $d/etc/virtlockd.conf --pid-file $d/virtlockd.pid &
# libvirtd's QEMU driver fails to load when virtlockd's socket is not there yet
for _ in \$(seq 1 100); do [ -S /run/libvirt/virtlockd-sock ] && break; sleep 0.05; done
libvirtd --listen --config $d/etc/libvirtd.conf --pid-file $d/libvirtd.pid &
wait
EOF
  chmod +x "$d/init.sh"
}

# Every process of lab host I lives in a freezer cgroup of its own (v1 hierarchy, where
# the machine has one): host_kill freezes and kills the whole host in one step, as a power
# cut would, however busy the machine. Without it host_kill falls back to walking the
# process tree (host_pids), which took 8-12 s at load 12-19: longer than a lease.
#
# The PDU (lab.sh fence, run by a coordinator's fence_command) runs inside a lab host,
# where `ip netns exec` mounted a fresh /sys without the cgroup trees: this lab's part of
# the tree is bind-mounted at $CG_VIEW before any host starts, so every host's mount
# namespace (a copy of ours) sees it there.
CG_BASE=/sys/fs/cgroup/freezer/drover-lab/$NAME
CG_VIEW=$LAB/freezer
host_cg() { echo "$CG_BASE/h$1"; }
cg_view_up() {
  [ -d /sys/fs/cgroup/freezer ] && mkdir -p "$CG_BASE" "$CG_VIEW" 2>/dev/null || return 0
  mountpoint -q "$CG_VIEW" || mount --bind "$CG_BASE" "$CG_VIEW" || log "no cgroup view for the PDU: it walks process trees"
}
cg_view_down() {
  local d
  if mountpoint -q "$CG_VIEW" 2>/dev/null; then umount "$CG_VIEW" 2>/dev/null || umount -l "$CG_VIEW"; fi
  rmdir "$CG_VIEW" 2>/dev/null || true
  for d in "$CG_BASE"/h*; do [ -d "$d" ] && { rmdir "$d" 2>/dev/null || true; }; done
  rmdir "$CG_BASE" /sys/fs/cgroup/freezer/drover-lab 2>/dev/null || true   # other labs may still use the last
}
# in_cg I CMD...: run CMD (exec) inside host I's cgroup, created on first use; CMD runs
# outside any when there is no freezer hierarchy
in_cg() {
  local cg; cg=$(host_cg "$1"); shift
  if [ -d /sys/fs/cgroup/freezer ] && mkdir -p "$cg" 2>/dev/null; then
    # shellcheck disable=SC2016   # $$ and $0 are the inner shell's
    set -- sh -c 'echo $$ > "$0/cgroup.procs" 2>/dev/null; shift; exec "$@"' "$cg" -- "$@"
  fi
  exec "$@"
}

host_up() {
  local i=$1 d; d=$(hdir "$i")
  # ip netns exec gives a fresh mount namespace; unshare --uts a hostname; tini -s reaps
  # QEMU at once (PID 1 here reaps only every 1-2 s, LAB-NOTES 7)
  (in_cg "$i" setsid ip netns exec "${NAME}h$i" unshare --uts -- tini -s -- "$d/init.sh") \
    > "$d/init.out" 2>&1 < /dev/null &
  echo $! > "$d/tini.pid"
  disown $!   # killed on purpose (kill, down): no "Killed" notice from this shell
}

host_wait() {
  local i=$1 _
  for _ in $(seq 1 150); do
    virsh -q -c "$(uri "$i")" version >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  cat "$(hdir "$i")/init.out" >&2 || true
  tail -20 "$(hdir "$i")/libvirtd.log" >&2 || true
  die "host$i: libvirtd did not come up"
}

lab_is_up() { [ -e "/run/netns/${NAME}sw" ]; }

lab_up() {
  local n=${1:-2} i t0
  [[ "$n" =~ ^[1-9]$ ]] || die "up N: N must be 1..9"
  # before anything else: the lab range must never leave the machine
  ip route replace unreachable "$GUARD_RANGE"
  if lab_is_up; then
    [ "$(nhosts)" = "$n" ] || die "lab $NAME is up with $(nhosts) hosts, not $n (run: $0 down)"
    log "lab $NAME already up ($n hosts)"
    return 0
  fi
  netns_ok || { echo "lab: network namespaces unavailable (ip netns add failed)" >&2; exit 77; }
  install_pkgs
  mkdir -p "$LAB" /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt
  pick_virt
  local prev_trap; prev_trap=$(trap -p EXIT)
  trap 'rc=$?; if [ $rc -ne 0 ]; then log "up failed, tearing down"; lab_down; fi' EXIT
  t0=$(date +%s%N)
  rm -rf "${LAB:?}/hosts"
  net_up "$n"
  shared_up
  cg_view_up
  for i in $(seq 1 "$n"); do write_host_config "$i" "$n"; host_up "$i"; done
  for i in $(seq 1 "$n"); do
    host_wait "$i"
    # a pool over host-local storage: libvirt pre-creates copy-storage migration targets in it
    v "$i" pool-define-as local dir --target /var/lib/libvirt/images >/dev/null
    v "$i" pool-start local >/dev/null
  done
  if [ -n "$prev_trap" ]; then eval "$prev_trap"; else trap - EXIT; fi
  log "lab $NAME up: $n hosts, virt=$(cat "$LAB/virt") in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
}

other_labs_up() {
  ip netns list 2>/dev/null | awk '{print $1}' | grep -E 'sw$' | grep -vx "${NAME}sw" | grep -q .
}

# own_pid FILE DIR: the PID in pidfile FILE if that process is still the one the lab
# started (its command line names DIR/, the host's directory). A host killed outright
# leaves its pidfiles behind, and their PIDs may belong to someone else by now.
own_pid() {
  local p; p=$(cat "$1" 2>/dev/null) || return 1
  # { } 2>/dev/null: the process may end between the two reads, and the redirection's
  # "No such file" is the shell's, not tr's
  [ -n "$p" ] && { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$2/" && echo "$p"
}
# stop_pids SECONDS PID...: SIGTERM, then SIGKILL what is still there after SECONDS
stop_pids() {
  local secs=$1 p _; shift
  [ $# -gt 0 ] || return 0
  kill -TERM "$@" 2>/dev/null || true
  for _ in $(seq 1 $((secs * 10))); do
    p=; for p in "$@"; do kill -0 "$p" 2>/dev/null && break; p=; done
    [ -z "$p" ] && break; sleep 0.1
  done
  for p in "$@"; do if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi; done
}

lab_down() {
  local d p n dom pids=() _
  # the agents first: with them running, destroying the guests below would read as
  # failures to them, and the coordinator would start the guests again
  for d in "$LAB"/hosts/host*; do
    if p=$(own_pid "$d/drover.pid" "$d"); then pids+=("$p"); fi
  done
  stop_pids 3 "${pids[@]}"
  pids=()
  for d in "$LAB"/hosts/host*; do
    [ -d "$d" ] || continue
    if [ -S "$d/run/libvirt-sock" ]; then
      for dom in $(timeout 10 virsh -q -c "qemu:///system?socket=$d/run/libvirt-sock" list --name 2>/dev/null); do
        timeout 10 virsh -q -c "qemu:///system?socket=$d/run/libvirt-sock" destroy "$dom" >/dev/null 2>&1 || true
      done
    fi
    for n in libvirtd virtlockd; do
      if p=$(own_pid "$d/$n.pid" "$d"); then pids+=("$p"); fi
    done
  done
  stop_pids 5 "${pids[@]}"
  for d in "$LAB"/hosts/host*; do
    [ -f "$d/tini.pid" ] || continue
    if p=$(own_pid "$d/tini.pid" "$d"); then
      for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$p" 2>/dev/null && { kill -KILL "$p" 2>/dev/null || true; }
    fi
    rm -f "$d"/{tini,libvirtd,virtlockd,drover}.pid
  done
  for p in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${NAME}(sw|h[0-9]+)$"); do
    ip netns del "$p"
  done
  cg_view_down
  mountpoint -q "$SHARED" 2>/dev/null && { fusermount -u "$SHARED" 2>/dev/null || umount -l "$SHARED"; }
  # a lazy unmount (a dying QEMU still held a file) leaves the bindfs daemon running with
  # nothing mounted: ours is the one whose command line names this lab's directories
  for p in $(pgrep -x bindfs 2>/dev/null || true); do
    { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null | grep -qF -- "$SHARED_BACKING $SHARED " &&
      { kill "$p" 2>/dev/null || true; }
  done
  other_labs_up || ip route del unreachable "$GUARD_RANGE" 2>/dev/null || true
  log "lab $NAME down"
}

lab_status() {
  if ! lab_is_up; then echo "lab $NAME: down"; return 0; fi
  local i n; n=$(nhosts)
  echo "lab $NAME: up, $n hosts, virt=$(cat "$LAB/virt" 2>/dev/null), shared=$SHARED"
  for i in $(seq 1 "$n"); do
    printf 'host%d %s.%d libvirtd=%s uri=%s domains=%s\n' "$i" "$NET" "$i" \
      "$(cat "$(hdir "$i")/libvirtd.pid" 2>/dev/null || echo -)" "$(uri "$i")" \
      "$(v "$i" list --all --name 2>/dev/null | tr '\n' ',' | sed 's/,$//')"
  done
}

host_exec() {
  local i=$1; shift
  [ -f "$(hdir "$i")/libvirtd.pid" ] || die "host$i is not up"
  exec nsenter -t "$(cat "$(hdir "$i")/libvirtd.pid")" -n -m -u -- "$@"
}

# The tick guest: a 512-byte boot sector printing "LABVM boot" once, then "tick <hex>" about
# once a second from a RAM-resident counter on COM1: a counter that keeps counting across a
# migration proves the VM moved and did not reboot. With "busy" a second sector is loaded
# that keeps rewriting all guest RAM above 1 MiB between ticks (a write-heavy guest).
guest_sectors() {
  local g=$LAB/guest; mkdir -p "$g"
  # a lab dir kept from an older checkout must not serve images of an older tick.S
  cmp -s "$HERE/lab/tick.S" "$g/tick.S" || rm -f "$g"/*.img "$g"/*.o
  [ -f "$g/tick.img" ] && [ -f "$g/busy.img" ] && return 0
  cp "$HERE/lab/tick.S" "$g/tick.S"
  as --32 -o "$g/tick.o" "$g/tick.S"
  ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$g/tick.img" "$g/tick.o"
  as --32 --defsym BUSY=1 -o "$g/busy.o" "$g/tick.S"
  ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$g/busy.img" "$g/busy.o"
}
# off_sector N: the guest that powers itself off (ACPI) after N ticks; prints the path
off_sector() {
  local g=$LAB/guest n=$1
  if [ ! -f "$g/off-$n.img" ]; then
    as --32 --defsym OFF_AFTER="$n" -o "$g/off-$n.o" "$g/tick.S"
    ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$g/off-$n.img" "$g/off-$n.o"
  fi
  echo "$g/off-$n.img"
}
# fill_sector MEM_MIB: the FILL guest for that RAM size (non-zero pages up to 32 MiB below
# the top, clear of what SeaBIOS keeps there); prints the image path
fill_sector() {
  local g=$LAB/guest mem=$1
  [ "$mem" -ge 64 ] || die "a fill guest needs at least 64 MiB (asked $mem)"
  if [ ! -f "$g/fill-$mem.img" ]; then
    as --32 --defsym FILL=1 --defsym BUSY_END=$(( (mem - 32) << 20 )) -o "$g/fill-$mem.o" "$g/tick.S"
    ld -m elf_i386 -Ttext 0x7c00 --oformat binary -o "$g/fill-$mem.img" "$g/fill-$mem.o"
  fi
  echo "$g/fill-$mem.img"
}

# guest NAME MEM_MIB busy|idle|fill|off shared|local [host] -> writes the disk and $LAB/NAME.xml
# (fill: RAM made non-zero once at boot, then idle; off: powers itself off after
# OFF_AFTER_TICKS (20) ticks, as a guest OS shutting down; see deploy/lab/tick.S)
guest_make() {
  local name=$1 mem=${2:-64} kind=${3:-idle} where=${4:-shared} host=${5:-1} img dir
  guest_sectors
  case $kind in
    idle) img=$LAB/guest/tick.img ;;
    busy) img=$LAB/guest/busy.img ;;
    fill) img=$(fill_sector "$mem") ;;
    off) img=$(off_sector "${OFF_AFTER_TICKS:-20}") ;;
    *) die "guest kind '$kind' unknown: idle, busy, fill or off" ;;
  esac
  if [ "$where" = local ]; then dir=$(hdir "$host")/$LOCAL_DIR; else dir=$SHARED; fi
  rm -f "$dir/$name.qcow2" "$SHARED/$name.console.log"
  cp "$img" "$LAB/guest/$name.raw"; truncate -s 1M "$LAB/guest/$name.raw"
  qemu-img convert -q -f raw -O qcow2 "$LAB/guest/$name.raw" "$dir/$name.qcow2"
  rm -f "$LAB/guest/$name.raw"
  # inside a host, the host dir's local images appear at /var/lib/libvirt/images
  local src=$dir/$name.qcow2
  [ "$where" = local ] && src=/var/lib/libvirt/images/$name.qcow2
  local h virt; h=$(echo -n "$LAB/$name" | md5sum); virt=$(cat "$LAB/virt")
  # the busy and fill guests' unreal-mode FS segment does not survive kvm_pvm here (no
  # VT-x/SVM), so they run under TCG, which tracks dirty pages the same way for migration
  case $kind in busy|fill) virt=qemu ;; esac
  cat > "$LAB/$name.xml" <<EOF
<domain type='$virt'>
  <name>$name</name>
  <uuid>${h:0:8}-${h:8:4}-4${h:13:3}-8${h:17:3}-${h:20:12}</uuid>
  <memory unit='MiB'>$mem</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <features><acpi/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' cache='none'/>
      <source file='$src'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='file'><source path='$SHARED/$name.console.log' append='on'/></serial>
    <memballoon model='none'/>
  </devices>
</domain>
EOF
  echo "$LAB/$name.xml"
}

# Run CMD inside host I's namespaces (network, mount, UTS), from a script that sourced us.
in_host() { local i=$1; shift; nsenter -t "$(cat "$(hdir "$i")/libvirtd.pid")" -n -m -u -- "$@"; }
sock() { echo "$(hdir "$1")/drover.sock"; }
# drover CLI against host I's agent (the CLI only talks to the agent's unix socket)
dv() { local i=$1; shift; timeout "${DV_TIMEOUT:-30}" "$DROVER_BIN" "$@" --socket "$(sock "$i")"; }

# Per-host drover.conf. Agents find each other through the replicated member records
# (the join), not a seed list. fence_timeout is short so the lab's partition tests finish
# in seconds (the default 10 s is for real networks); only written when the binary knows it.
agent_conf() {
  local i=$1 d; d=$(hdir "$i")
  cat > "$d/drover.conf" <<EOF
[agent]
name = host$i
state_dir = $d/drover
control_socket = $d/drover.sock
log_level = ${LAB_LOG_LEVEL:-info}
[cluster]
bind = $NET.$i:7370
[gossip]
status_interval = 1s
[libvirt]
uri = qemu:///system
EOF
  if "$DROVER_BIN" agent --print-config 2>/dev/null | grep -q '^fence_timeout'; then
    printf '[ha]\nfence_timeout = %s\n' "${LAB_FENCE_TIMEOUT:-2s}" >> "$d/drover.conf"
    # LAB_FENCE_COMMAND: the coordinator's [ha] fence_command (sh -c CMD drover-fence HOST
    # ADDR), e.g. the lab's PDU stand-in: lab.sh fence "$1" (lab_ha_fencecmd)
    [ -z "${LAB_FENCE_COMMAND:-}" ] || printf 'fence_command = %s\n' "$LAB_FENCE_COMMAND" >> "$d/drover.conf"
  elif [ -n "${LAB_FENCE_COMMAND:-}" ]; then
    die "LAB_FENCE_COMMAND is set but this drover has no [ha] section"
  fi
}

# Start host I's agent in its namespaces. nsenter is the background job itself (not a
# function or subshell), so $! is the agent's own PID and lab_down / host_kill stop it.
agent_start() {
  local i=$1 d _; d=$(hdir "$i")
  rm -f "$d/drover.sock"
  (in_cg "$i" nsenter -t "$(cat "$d/libvirtd.pid")" -n -m -u -- setsid "$DROVER_BIN" agent -c "$d/drover.conf") \
    >> "$d/drover.log" 2>&1 < /dev/null &
  echo $! > "$d/drover.pid"
  disown $!
  for _ in $(seq 1 100); do [ -S "$d/drover.sock" ] && return 0; sleep 0.05; done
  kill -0 "$(cat "$d/drover.pid")" 2>/dev/null || die "host$i: drover agent exited (see $d/drover.log)"
  die "host$i: drover agent did not open $d/drover.sock in 5 s"
}

# Bring a killed host back: its daemons in its namespaces (a fresh mount namespace, as at
# boot), then its agent with the state it had (it reconciles before anything else).
host_restart() {
  local i=$1 d; d=$(hdir "$i")
  rm -f "$d"/run/*-sock "$d"/{tini,libvirtd,virtlockd,drover}.pid
  host_up "$i"
  host_wait "$i"
  agent_start "$i"
  log "host$i restarted (agent pid $(cat "$d/drover.pid"))"
}

# One cluster, the product's way (docs/consensus.md): host1 runs `drover init` and its
# agent bootstraps a new cluster; every other host runs `drover init --join`, starts its
# agent (which waits for a join) and joins with a single-use token from host1. Agents
# that were initialised before (a restart) come back into the cluster they are in.
agents_up() {
  DROVER_BIN=$1
  local i d n t0 out tok addr fpr; n=$(nhosts)
  [ -x "$DROVER_BIN" ] || die "agent-up: $DROVER_BIN is not an executable drover binary"
  for i in $(seq 1 "$n"); do
    d=$(hdir "$i"); mkdir -p "$d/drover"
    agent_conf "$i"
    if [ ! -f "$d/drover/.initialised" ]; then
      if [ "$i" = 1 ]; then
        in_host "$i" "$DROVER_BIN" init --state-dir "$d/drover" >> "$d/drover.log" 2>&1
      else
        in_host "$i" "$DROVER_BIN" init --join --state-dir "$d/drover" >> "$d/drover.log" 2>&1
      fi || die "host$i: drover init failed (see $d/drover.log)"
    fi
  done
  for i in $(seq 1 "$n"); do agent_start "$i"; done
  # host1 created the cluster when it has a Raft leader (itself) and can issue tokens
  t0=$SECONDS
  until [ -n "$(leader_of 1)" ]; do
    [ $((SECONDS - t0)) -lt "$LAB_WAIT_S" ] || die "host1's agent formed no cluster in $LAB_WAIT_S s (see $(hdir 1)/drover.log)"
    sleep 0.2
  done
  for i in $(seq 2 "$n"); do
    d=$(hdir "$i")
    [ -f "$d/drover/.initialised" ] && continue
    out=$(dv 1 token create --ttl 10m --json) || die "token create on host1 failed"
    read -r tok addr fpr < <(echo "$out" | jq -r '"\(.token) \(.addr) \(.fingerprint)"')
    [ -n "$tok" ] && [ "$tok" != null ] || die "token create printed no token: $out"
    # the token through the environment, never on a command line (/proc shows those)
    DROVER_JOIN_TOKEN=$tok dv "$i" join "$addr" --fingerprint "$fpr" >> "$d/drover.log" 2>&1 ||
      die "host$i: 'drover join $addr --fingerprint $fpr' failed (see $d/drover.log)"
  done
  for i in $(seq 1 "$n"); do touch "$(hdir "$i")/drover/.initialised"; done
  cluster_wait "$n" 60 || die "the cluster did not settle in 60 s: $(cluster_summary)"
  # joined hosts start as Raft learners; the coordinator promotes them (autopilot): the
  # cluster survives the loss of its first host only once min(3, N) of them vote
  t0=$SECONDS
  until [ "$(DV_TIMEOUT=5 dv 1 status --json 2>/dev/null | jq '.raft.voters | length' 2>/dev/null)" = "$(( n < 3 ? n : 3 ))" ]; do
    [ $((SECONDS - t0)) -lt "$LAB_WAIT_S" ] || die "voters did not reach $(( n < 3 ? n : 3 )) in $LAB_WAIT_S s: $(DV_TIMEOUT=5 dv 1 status --json | jq -c .raft)"
    sleep 0.2
  done
  log "cluster formed: $(cluster_summary)voters $(DV_TIMEOUT=5 dv 1 status --json | jq -c .raft.voters)"
}

# "host1:leader=host1,alive=3 host2:..." — what each agent believes right now
cluster_summary() {
  local i s
  for i in $(seq 1 "$(nhosts)"); do
    s=$(DV_TIMEOUT=5 dv "$i" status --json 2>/dev/null |
        jq -r '"leader=\(.raft.leader // "-"),alive=\(.gossip.alive // 0)"' 2>/dev/null) || s=
    printf 'host%s:%s ' "$i" "${s:-down}"
  done
}

# cluster_wait N SECONDS [HOSTS...]: the listed hosts (default all) agree on one leader
# and each sees N members alive in gossip.
cluster_wait() {
  local want=$1 secs=$2 t0=$SECONDS i l lead ok; shift 2
  local hosts=("$@"); [ ${#hosts[@]} -gt 0 ] || mapfile -t hosts < <(seq 1 "$(nhosts)")
  while [ $((SECONDS - t0)) -lt "$secs" ]; do
    ok=1; lead=
    for i in "${hosts[@]}"; do
      l=$(leader_of "$i")
      if [ -z "$l" ] || { [ -n "$lead" ] && [ "$l" != "$lead" ]; }; then ok=0; break; fi
      lead=$l
      [ "$(DV_TIMEOUT=5 dv "$i" members --json 2>/dev/null |
           jq '[.members[] | select(.state == "alive")] | length' 2>/dev/null)" = "$want" ] || { ok=0; break; }
    done
    [ $ok = 1 ] && return 0
    sleep 0.3
  done
  return 1
}

# The Raft leader (the HA coordinator) as host I sees it: "hostK", or nothing.
leader_of() {
  DV_TIMEOUT=5 dv "$1" status --json 2>/dev/null | jq -r '.raft.leader // "" | if . == "none" then "" else . end' 2>/dev/null || true
}

# Every process of host I: its pidfiles (agent, tini, libvirtd, virtlockd, QEMUs) and all
# their descendants (QEMU double-forks and is re-parented to tini, the subreaper).
host_pids() {
  local d f p roots=(); d=$(hdir "$1")
  for f in "$d"/{tini,drover,libvirtd,virtlockd}.pid; do
    if p=$(own_pid "$f" "$d"); then roots+=("$p"); fi
  done
  # QEMU's own pidfiles: only a live QEMU (the PID may be someone else's by now)
  for f in "$d"/run/qemu/*.pid; do
    [ -f "$f" ] || continue
    p=$(cat "$f" 2>/dev/null) || continue
    if [ -n "$p" ] && { tr '\0' ' ' < "/proc/$p/cmdline"; } 2>/dev/null | grep -q qemu-system; then roots+=("$p"); fi
  done
  [ ${#roots[@]} -gt 0 ] || return 0
  ps -e -o pid=,ppid= | awk -v roots="${roots[*]}" '
    BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
    { pp[$1] = $2 }
    END { do { added = 0
               for (p in pp) if (!(p in keep) && (pp[p] in keep)) { keep[p] = 1; added = 1 } } while (added)
          for (p in keep) print p }' | sort -n
}
# Kill host I outright. The set is frozen first (SIGSTOP, re-scanned until it stops
# changing), then SIGKILLed, so nothing of the host reacts or forks in between
# (LAB-NOTES 15). Only this host's PIDs, found from its own pidfiles. With a freezer
# cgroup the cgroup is the set: an empty one is a host already off (killed before), and
# nothing is walked.
host_kill() {
  local i=$1 set prev=x _ cg=$CG_BASE/h$1
  [ -e "$cg/freezer.state" ] || cg=$CG_VIEW/h$1   # inside a lab host (cg_view_up)
  if [ -w "$cg/freezer.state" ]; then
    cg_kill "$i" "$cg"
    return 0
  fi
  for _ in $(seq 1 20); do
    set=$(host_pids "$i" | tr '\n' ' ')
    [ "$set" = "$prev" ] && break
    # shellcheck disable=SC2086
    [ -z "$set" ] || kill -STOP $set 2>/dev/null || true
    prev=$set
  done
  # shellcheck disable=SC2086
  [ -z "$set" ] || kill -KILL $set 2>/dev/null || true
  log "host$i killed outright (SIGKILL to ${set:-nothing})"
  KILLED_PIDS=$set
}

# cg_procs CG: the PIDs in cgroup CG, into CG_PIDS (no fork: this is the PDU's hot path,
# and a fork costs tens of ms at load 10)
cg_procs() {
  local p; CG_PIDS=
  while read -r p; do CG_PIDS="$CG_PIDS $p"; done < "$1/cgroup.procs"
}
# host_kill through the host's freezer cgroup CG: frozen at once (bounded wait: a task in
# uninterruptible sleep, an fsync under load, freezes late), every process SIGKILLed, then
# thawed so the kills land (a frozen task dies only once thawed, and does not run user
# code again). Repeated while anything is left (a fork that raced the freeze). Fork-free.
cg_kill() {
  local i=$1 cg=$2 st all="" n k
  cg_procs "$cg"
  if [ -z "$CG_PIDS" ]; then
    log "host$i killed outright (freezer cgroup: empty, the host was off already)"
    KILLED_PIDS=
    return 0
  fi
  echo FROZEN > "$cg/freezer.state"
  for ((k = 0; k < 200; k++)); do read -r st < "$cg/freezer.state"; [ "$st" = FROZEN ] && break; sleep 0.01; done
  for ((n = 0; n < 10; n++)); do
    cg_procs "$cg"
    [ -n "$CG_PIDS" ] || break
    all="$all$CG_PIDS"
    # shellcheck disable=SC2086
    kill -KILL $CG_PIDS 2>/dev/null || true
    echo THAWED > "$cg/freezer.state"
    for ((k = 0; k < 100; k++)); do cg_procs "$cg"; [ -n "$CG_PIDS" ] || break; sleep 0.01; done
  done
  echo THAWED > "$cg/freezer.state"
  log "host$i killed outright (freezer cgroup: SIGKILL to${all:- nothing})"
  KILLED_PIDS=$all
}

# The lab's PDU: what `[ha] fence_command` runs (lab.sh fence HOST [ADDR], as drover passes
# them: its member name hostK and its address). Host K is killed whole (host_kill), then
# the command exits 0 only once every PID of it is gone or a zombie (dead, not yet
# reaped): "the host is off", as a PDU that confirms the outlet is off. Any doubt: exit 1.
# No fork on the way (a PDU that spends seconds in its own shell is not what is measured).
host_fence() {
  local who=$1 addr=${2:-} i="" p st k left
  case "$who" in host[1-9]) i=${who#host} ;; esac
  # or from the address drover knows it by ("tcp://10.77.0.K:7370", "10.77.0.K:7370")
  if [ -z "$i" ] && [[ "$addr" =~ ${NET//./\\.}\.([1-9])(:|$) ]]; then i=${BASH_REMATCH[1]}; fi
  if [ -z "$i" ] || [ ! -d "$LAB/hosts/host$i" ]; then log "fence: no lab host '$who' ($addr)"; return 1; fi
  log "fence: host$i ($who $addr) asked by ${HOSTNAME:-?}"
  host_kill "$i"
  # the state letter follows the ") " that ends the command name
  for ((k = 0; k < 500; k++)); do
    left=
    for p in $KILLED_PIDS; do
      { read -r st < "/proc/$p/stat"; } 2>/dev/null || continue   # gone: reaped
      st=${st##*) }
      [ "${st%% *}" = Z ] || left="$left $p"
    done
    [ -z "$left" ] && { log "fence: host$i is off"; return 0; }
    sleep 0.01
  done
  log "fence: host$i NOT off, still alive:$left"
  return 1
}

console_ticks() { grep -c '^tick' "$SHARED/$1.console.log" 2>/dev/null || true; }
console_boots() { grep -c 'LABVM boot' "$SHARED/$1.console.log" 2>/dev/null || true; }
# only whole counters: the guest writes one byte at a time, so the line being written may
# read "tick 0000000" (0) for a moment
last_tick() { grep -aE '^tick [0-9A-F]{8}' "$SHARED/$1.console.log" 2>/dev/null | tail -1 | cut -c6-13; }
wait_ticks() {   # NAME N [SECONDS]: wait until the console shows more than N ticks
  local _
  for _ in $(seq 1 $(( ${3:-10} * 10 ))); do [ "$(console_ticks "$1")" -gt "$2" ] && return 0; sleep 0.1; done
  return 1
}

# Live (not zombie) QEMU for VM $2 under host $1's pidfile?
qemu_alive() {
  local f pid st; f="$(hdir "$1")/run/qemu/$2.pid"
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null); [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null); [ -n "$st" ] && [ "$st" != Z ] || return 1
  # a killed host leaves its pidfiles behind, and the PID may be someone else's by now
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q -- "-name guest=$2,"
}
# Host indices whose pidfile names a live QEMU for VM $1 ("2", "1 3", or nothing).
hosts_running() {
  local vm=$1 i out=
  for i in $(seq 1 "$(nhosts)"); do qemu_alive "$i" "$vm" && out="$out $i"; done
  echo "${out# }"
}

# ---- load (issue 11, point 5): the lab_ha_* scenarios (LAB_LOAD) and bench/ha ----------
# LAB_LOAD=saturated: from load_start to load_stop stress-ng runs nproc CPU workers (every
# core busy) and one hdd worker writing a file of at most LAB_LOAD_HDD_BYTES (64M) under
# $LAB/load with an fsync after every write (fsync pressure on the disk the agents' LMDB
# stores live on). It always runs with --timeout (load_start's SECONDS, else
# LAB_LOAD_TIMEOUT_S, else 280 s: below the lab tests' ctest TIMEOUT), so a script killed
# without its trap (ctest's own timeout) still ends its load by itself; the trap stops it
# by PID (load_stop). LAB_LOAD=idle (or unset): nothing. Both print the load average.
LOAD_WARMUP_S=2   # the workers are all running before the fault
LOAD_PID=
loadavg() { local a b c r _; read -r a b c r _ < /proc/loadavg; echo "load average $a $b $c, running/threads $r"; }
# load_start [SECONDS]
load_start() {
  local secs=${1:-${LAB_LOAD_TIMEOUT_S:-280}} bytes=${LAB_LOAD_HDD_BYTES:-64M}
  case "${LAB_LOAD:-idle}" in
    idle) return 0 ;;
    saturated) ;;
    *) die "LAB_LOAD='$LAB_LOAD': use idle or saturated" ;;
  esac
  command -v stress-ng >/dev/null || die "LAB_LOAD=saturated needs stress-ng (deploy/setup.sh lab installs it)"
  mkdir -p "$LAB/load"
  log "load: start, LAB_LOAD=saturated: $(nproc) CPU workers + 1 hdd worker (fsync, $bytes) for at most $secs s ($(loadavg))"
  stress-ng --cpu "$(nproc)" --hdd 1 --hdd-bytes "$bytes" --hdd-write-size 64K \
    --hdd-opts fsync,wr-seq --temp-path "$LAB/load" --timeout "${secs}s" \
    > "$LAB/load.log" 2>&1 < /dev/null &
  LOAD_PID=$!
  sleep "$LOAD_WARMUP_S"
  kill -0 "$LOAD_PID" 2>/dev/null || { cat "$LAB/load.log" >&2; die "stress-ng (pid $LOAD_PID) exited at once"; }
  log "load: stress-ng pid $LOAD_PID running ($(loadavg))"
}
# load_running: the stress-ng of load_start still runs (its PID is still stress-ng's: one
# that ended by its --timeout was reaped, and the PID may be someone else's by now)
load_running() {
  [ -n "${LOAD_PID:-}" ] && [ "$(cat "/proc/$LOAD_PID/comm" 2>/dev/null)" = stress-ng ]
}
# Stop the load by its PID: stress-ng's parent stops its workers on SIGTERM; any worker
# still there after 5 s is killed by its own PID (children of that parent only).
load_stop() {
  [ -n "${LOAD_PID:-}" ] || return 0
  local p _
  log "load: end ($(loadavg))"
  load_running || { LOAD_PID=; rm -rf "${LAB:?}/load"; return 0; }
  kill -TERM "$LOAD_PID" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$LOAD_PID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$LOAD_PID" 2>/dev/null; then
    for p in $(pgrep -P "$LOAD_PID" || true); do kill -KILL "$p" 2>/dev/null || true; done
    kill -KILL "$LOAD_PID" 2>/dev/null || true
  fi
  wait "$LOAD_PID" 2>/dev/null || true
  LOAD_PID=
  rm -rf "${LAB:?}/load"
}

# The HA story (issue 7): 3 hosts form one cluster, 4 protected tick guests; host1 is
# drained for maintenance (live moves, a line per VM) and made active again; then host2
# dies outright and its guests are restarted on the others. Ends with a table.
demo() {
  local build=$ROOT/build/release vm i w t0 ms gone=() keep vms=(demo1 demo2 demo3 demo4)
  local -A home=([demo1]=1 [demo2]=1 [demo3]=2 [demo4]=3) where=()
  [ "$(id -u)" = 0 ] || die "demo must run as root"
  [ -f "$ROOT/deploy/setup.sh" ] && bash "$ROOT/deploy/setup.sh" build lab
  log "building drover into $build"
  cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$build" -j2 --target drover drctl >/dev/null || die "drover does not build (see the errors above)"
  DROVER_BIN=$build/agent/drover
  "$DROVER_BIN" help 2>&1 | grep -q 'host drain' || die "this drover has no 'host drain' command"
  trap 'rc=$?; [ "${LAB_KEEP:-0}" = 1 ] || lab_down; exit $rc' EXIT
  lab_up 3
  agents_up "$DROVER_BIN"
  for vm in "${vms[@]}"; do
    guest_make "$vm" 64 idle shared >/dev/null
    v "${home[$vm]}" define "$LAB/$vm.xml" >/dev/null
    v "${home[$vm]}" start "$vm" >/dev/null
  done
  for vm in "${vms[@]}"; do
    wait_ticks "$vm" 0 60 || die "$vm does not tick on host${home[$vm]}"
    dv "${home[$vm]}" vm protect "$vm" >/dev/null || die "drover vm protect $vm failed"
    log "$vm runs on host${home[$vm]} and is protected"
  done
  # a failure may restart a guest elsewhere only once its owner has acknowledged its
  # protection (it then knows to fence it): wait for that before killing anything
  t0=$SECONDS
  until [ "$("$build/tests/lab/drctl" "$(sock 1)" ha.status '{}' 2>/dev/null |
           jq '[.vms[] | select(.prot_acked)] | length' 2>/dev/null)" = 4 ]; do
    [ $((SECONDS - t0)) -lt "$LAB_WAIT_S" ] || die "the owners did not acknowledge protection in $LAB_WAIT_S s"
    sleep 0.3
  done
  dv 1 vm list || true

  log "--- maintenance: drover host drain host1 --wait"
  t0=$(date +%s%N)
  dv 2 host drain host1 --wait || die "the drain of host1 failed"
  log "host1 drained in $(( ($(date +%s%N) - t0) / 1000000 )) ms; drover host undrain host1"
  dv 2 host undrain host1 >/dev/null || die "undrain host1 failed"

  log "--- host failure: every process of host2 SIGKILLed"
  for vm in "${vms[@]}"; do [ "$(hosts_running "$vm")" = 2 ] && gone+=("$vm"); done
  log "protected guests on host2: ${gone[*]:-none}"
  t0=$(date +%s%N)
  host_kill 2
  for vm in "${gone[@]}"; do
    until w=$(hosts_running "$vm") && [ -n "$w" ] && [ "$w" != 2 ] && [ "$(echo "$w" | wc -w)" = 1 ]; do
      [ $(( ($(date +%s%N) - t0) / 1000000000 )) -lt 60 ] || die "$vm was not restarted within 60 s"
      sleep 0.05
    done
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    log "$vm restarted on host$w, $ms ms after the kill"
  done
  [ ${#gone[@]} = 0 ] || log "all of host2's protected guests run elsewhere ${ms} ms after the kill"
  # a restarted guest boots again: SeaBIOS and its first tick take ~4 s
  for vm in "${gone[@]}"; do
    t0=$SECONDS
    until [ "$(console_boots "$vm")" -ge 2 ] && tail -1 "$SHARED/$vm.console.log" | grep -q '^tick'; do
      [ $((SECONDS - t0)) -lt "$LAB_WAIT_S" ] || die "$vm does not tick $LAB_WAIT_S s after its restart"
      sleep 0.2
    done
  done
  sleep 1
  echo
  printf '%-8s %-7s %-9s %s\n' GUEST HOST COUNTER BOOTS
  keep=0
  for vm in "${vms[@]}"; do
    w=$(hosts_running "$vm")
    printf '%-8s %-7s %-9s %s\n' "$vm" "host${w:-?}" "$((16#$(last_tick "$vm")))" "$(console_boots "$vm")"
    [ "$(echo "$w" | wc -w)" = 1 ] || keep=1
  done
  echo
  [ $keep = 0 ] || die "a guest does not run exactly once"
  log "DEMO PASSED (a guest with 1 boot moved live with its memory; 2 boots: restarted after host2 died)"
}

[ "${BASH_SOURCE[0]}" = "$0" ] || return 0   # sourced by tests: functions only

[ "$(id -u)" = 0 ] || { echo "lab.sh must run as root" >&2; exit 77; }
cmd=${1:-}; shift || true
case "$cmd" in
  up)        lab_up "${1:-2}" ;;
  down)      lab_down ;;
  status)    lab_status ;;
  exec)      i=$1; shift; host_exec "$i" "$@" ;;
  partition) ip -n "${NAME}sw" link set "${NAME}v$1" down ;;
  heal)      ip -n "${NAME}sw" link set "${NAME}v$1" up ;;
  agent-up)  agents_up "$1" ;;
  kill)      host_kill "$1" ;;
  fence)     host_fence "$@" ;;
  revive)    DROVER_BIN=$1; host_restart "$2" ;;
  guest)     guest_make "$@" ;;
  uri)       uri "$1" ;;
  demo)      demo ;;
  *) echo "usage: $0 up [N]|down|status|exec I CMD...|partition I|heal I|agent-up DROVER|kill I|fence hostK [ADDR]|revive DROVER I|guest NAME [MEM] [busy|idle] [shared|local] [HOST]|uri I|demo" >&2
     exit 2 ;;
esac

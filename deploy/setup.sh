#!/bin/bash
# setup.sh [build|lab|bench|all]... — install the Debian 12 packages drover needs, idempotently.
# apt-get update runs only when something is missing. Both README commands call this.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config git
            libzmq3-dev libprotobuf-c-dev protobuf-c-compiler libsodium-dev liblmdb-dev
            libvirt-dev libxml2-dev libcmocka-dev libinih-dev libjansson-dev libsystemd-dev
            clang libclang-rt-14-dev)
# the lab: one libvirtd + virtlockd per namespace "host", tiny KVM/TCG guests (gdb: a
# stuck lab test prints its threads' stacks; stress-ng: the bounded load of the *_loaded
# HA scenarios, LAB_LOAD=saturated)
lab_pkgs=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients qemu-system-x86 qemu-utils
          tini bindfs iproute2 binutils procps psmisc jq bc gdb stress-ng)
# side-by-side anchors for the benchmarks
bench_pkgs=(serf etcd-server etcd-client)

want=()
for g in "${@:-build}"; do
  case "$g" in
    build) want+=("${build_pkgs[@]}") ;;
    lab)   want+=("${lab_pkgs[@]}") ;;
    bench) want+=("${bench_pkgs[@]}") ;;
    all)   want+=("${build_pkgs[@]}" "${lab_pkgs[@]}") ;;
    *) echo "setup.sh: unknown group '$g' (use build, lab, bench or all)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup.sh: missing packages ${missing[*]}; run as root (or install them) and retry" >&2
    exit 4
  fi
  echo "setup.sh: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# libvirtd's QEMU driver resolves the compiled-in user 'libvirt-qemu' even when qemu.conf
# says root; libvirt-daemon-system (not installed: it pulls polkit) normally creates it.
if printf '%s\n' "${want[@]}" | grep -qx libvirt-daemon; then
  getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
  getent passwd libvirt-qemu >/dev/null ||
    useradd --system -g libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
fi
exit 0

#!/bin/bash
# Three real agents on 127.0.0.1-3 (loopback only). h1 and h2 use libvirt's built-in
# test driver: h1 test:///default (network "default", a 100 GiB local pool and a running
# VM "test" whose disk is host-local), h2 the same host without the VM (a node file: two
# hosts running one VM UUID would rightly make HA fence one copy); h3's libvirtd is
# unreachable. Checks that `check migrate`, `place` and
# `cpu baseline` answer from the gossip records: the reasons match what each record
# says (h3: libvirt down -> degraded, its facts unknown — never "lacks network" or
# "libvirt 0.0.0", issue 11 3c), exit codes are the documented ones, and a host without
# libvirt says so plainly.
set -euo pipefail
B=${1:?build dir}
D=$B/agent/drover
PORT=$((18000 + $$ % 1000))
T=$(mktemp -d /tmp/drover-place-XXXXXX)
# shellcheck source=../testdrv.sh
source "$(dirname "$0")/../testdrv.sh"
cleanup() { testdrv_kill_all; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; cat "$T/out" "$T/err" >&2 2>/dev/null || true; exit 1; }
log() { echo "[place3 $(date +%T)] $*"; }
run() {   # want-rc host args...: run drover against host's agent, keep out/err
  local want=$1 h=$2; shift 2
  set +e; "$D" "$@" -c "$T/h$h.conf" > "$T/out" 2> "$T/err"; local rc=$?; set -e
  [ "$rc" = "$want" ] || fail "h$h: drover $* exited $rc, expected $want"
}
has() { grep -q -- "$1" "$T/out" || fail "output lacks '$1'"; }
err_has() { grep -q -- "$1" "$T/err" || fail "stderr lacks '$1'"; }

cat > "$T/h2-node.xml" <<'XML'
<node>
  <cpu><nodes>2</nodes><sockets>2</sockets><cores>2</cores><threads>2</threads>
    <active>16</active><mhz>1400</mhz><model>i686</model></cpu>
  <memory>3145728</memory>
  <network>
    <name>default</name>
    <forward mode='nat'/>
    <bridge name='virbr0' stp='on' delay='0'/>
    <ip address='192.168.122.1' netmask='255.255.255.0'/>
  </network>
  <pool type='dir'>
    <name>default-pool</name>
    <capacity unit='bytes'>107374182400</capacity>
    <allocation unit='bytes'>0</allocation>
    <available unit='bytes'>107374182400</available>
    <source/>
    <target><path>/default-pool</path></target>
  </pool>
</node>
XML
URI[2]="test://$T/h2-node.xml"
URI[3]="qemu+unix:///system?socket=$T/no-libvirtd.sock"
testdrv_setup 3
for i in 1 2 3; do testdrv_start "$i"; done

# every host's record, with libvirt's facts where libvirt answers, seen from h1 and h3
records_in() {
  local h=$1 j
  j=$("$D" members -c "$T/h$h.conf" --json 2>/dev/null | tr -d ' \n') || return 1
  [ "$(grep -o '"libvirtd_responsive":true' <<< "$j" | wc -l)" = 2 ] &&
    [ "$(grep -o '"libvirtd_responsive":false' <<< "$j" | wc -l)" = 1 ] &&
    [ "$(grep -o '"facts_unknown":true' <<< "$j" | wc -l)" = 1 ] &&
    grep -q '"degraded_reason":"libvirtdnotansweringfor[0-9]*s"' <<< "$j" &&   # spaces cut
    [ "$(grep -o '"libvirt_version":"9\.' <<< "$j" | wc -l)" -ge 2 ]
}
t0=$SECONDS
until records_in 1 && records_in 3; do
  [ $((SECONDS - t0)) -lt 60 ] || fail "records with libvirt facts did not reach h1 and h3 in 60 s"
  sleep 0.3
done
log "records complete after $((SECONDS - t0)) s"

# 1. the local disk blocks a plain live migration, with the reason and the hint
run 107 1 check migrate test h2
has "BLOCK storage.not_shared"; has "local:h1"; has "hint:"
# 2. with --storage the disk would be copied, but the test driver's disk (1 TiB written,
#    from virDomainGetBlockInfo) does not fit h2's local pool (100 GiB free, from the pool
#    h2 publishes in its record): sizes and free space travel through gossip
run 107 1 check migrate test h2 --storage --json
has '"blocked": true'; has '"storage.no_space"'; has "1048576 MiB"; has "102400 MiB free on h2"
# 3. h3's record says libvirtd is down and its facts unknown: degraded, and the checks
#    that need its facts are undecided — no "network.missing" or "version.*" built on
#    the empty lists (the HA agent would take those for "can never run there")
run 107 1 check migrate test h3 --storage --json
has '"blocked": true'; has '"health.degraded"'; has '"host.facts_unknown"'
has "h3's facts are unknown (its libvirtd does not answer)"
! grep -q '"network.missing"\|"version.libvirt"\|"version.qemu"\|"cpu\.' "$T/out" ||
  fail "a finding built on h3's unknown facts"
# 4. place rejects h2 and h3 with the same codes (lab_place shows a ranking)
run 107 1 place test --storage
has "candidates: 0"; has "rejected h2: storage.no_space"; has "rejected h3: .*host.facts_unknown"
run 107 1 place test --storage --json
has '"candidates"'; has '"host": "h2"'
run 107 1 place test
# 5. unknown VM and unknown host: 105, with what to check
run 105 1 check migrate no-such-vm h2; err_has "drover vm list"
run 105 1 check migrate test h9; err_has "drover members"
run 64 1 check migrate test
# 6. a host without libvirt says so instead of guessing
run 1 3 check migrate test h2; err_has "libvirt is unreachable on this host"
run 1 3 place test; err_has "systemctl status libvirtd"
# 7. the test driver publishes no CPU model: baseline explains where features come from
run 69 3 cpu baseline; err_has "no live host publishes its CPU features"
run 69 1 cpu baseline --json; err_has "libvirtd_responsive"
echo "place3: all checks passed"

#!/bin/bash
# The HA commands against three real agents on 127.0.0.1-3 (loopback only; libvirt's
# test driver: h1's has its VM "test", h2's and h3's none). Checks the CLI and the agent
# agree on the contract of agent/ha_drv.h: cordon and degraded show in the answer; drain
# --wait of an empty host ends "in maintenance" (0); of test's owner, which cannot move
# it, ends at --deadline (124) naming test and why; a second --wait does not ask again;
# undrain --failback --wait ends; vm protect shows in vm list's HA columns; a rolling
# upgrade with a harmless command reaches "done" in upgrade status on h2, which opted in
# ([ha] allow_upgrade_command = yes), and pauses on h3, which did not, the journal saying
# why; unknown host/VM exit 105 with the hint.
set -euo pipefail
B=${1:?build dir}
D=$B/agent/drover
PORT=$((19000 + $$ % 1000))
T=$(mktemp -d /tmp/drover-cliha-XXXXXX)
cleanup() { testdrv_kill_all; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; echo "--- out"; cat "$T/out" >&2 2>/dev/null; echo "--- err"; cat "$T/err" >&2 2>/dev/null || true; exit 1; }
log() { echo "[cli_ha $(date +%T)] $*"; }
run() {   # want-rc args...: drover against h1's agent, keep out/err
  local want=$1; shift
  set +e; "$D" "$@" -c "$T/h1.conf" > "$T/out" 2> "$T/err"; local rc=$?; set -e
  [ "$rc" = "$want" ] || fail "drover $* exited $rc, expected $want"
}
has() { grep -q -- "$1" "$T/out" || fail "output lacks '$1'"; }
err_has() { grep -q -- "$1" "$T/err" || fail "stderr lacks '$1'"; }

# shellcheck source=../../proc/testdrv.sh
source "$(dirname "$0")/../../proc/testdrv.sh"
testdrv_setup 3
printf '[ha]\nallow_upgrade_command = yes\n' >> "$T/h2.conf"   # h1 and h3 keep the default, no
for i in 1 2 3; do testdrv_start "$i"; done

# the HA state knows the three hosts and who owns "test"
owner=
t0=$SECONDS
while [ -z "$owner" ]; do
  [ $((SECONDS - t0)) -lt 60 ] || { tail -n 20 "$T"/h*.log; fail "no owner for VM test in the HA state after 60 s"; }
  sleep 0.5
  owner=$(testdrv_owner)
done
run 0 host cordon h1
has "h1 is cordoned"
empty=; for i in 1 2 3; do [ "h$i" = "$owner" ] || empty="h$i"; done
log "VM test owned by $owner; $empty owns nothing"

run 0 host degraded h1 on;  has "h1 is cordoned, flagged degraded"
run 0 host degraded h1 off --json; has '"degraded_flag": false'
run 0 host undrain h1; has "h1 is active"

# 1. an empty host drains to maintenance at once
run 0 host drain "$empty" --wait --deadline 30s
has "$empty is in maintenance: 0 VMs moved"
run 0 host undrain "$empty"

# 2. the owner of test cannot move it (the test driver has no migration, and no
# libvirtd listens at the destinations' addresses): at --deadline, 124 naming test
# and why; the drain continues
run 124 host drain "$owner" --wait --deadline 8s
has "$owner is draining"
has "  test  cannot move: "
err_has "gave up waiting after 8s; still on $owner: test (cannot move: "
err_has "The drain continues"
# watching again does not ask again; --json ends with the remaining list
run 124 host drain "$owner" --wait --deadline 1s --json
grep -q '"event":"admin"' "$T/out" && fail "a second --wait sent the drain again"
has '"result":"timeout"'; has '"remaining":\[{"stuck":'
# nothing left this host, so there is nothing to bring back
run 0 host undrain "$owner" --failback --wait --deadline 20s
has "$owner is active, its VMs coming back"
has "every VM drained from it is back (0 moved)"

# 3. protection shows in vm list
run 0 vm protect test --priority 7 --order 3
has "test is protected: priority 7, order 3"
run 0 vm list
has "OWNER"; grep -Eq "^test +[a-z]+ +[0-9]+ +[0-9]+ +[0-9]s/[0-9]l +$owner +yes +7 +3" "$T/out" || fail "vm list row of test"
run 0 vm list --json; has '"ha": {'

# 4. a rolling upgrade with a harmless command runs to done where the host opted in
run 0 upgrade start --command true --order h2
has "upgrade start: now running"
t0=$SECONDS
until run 0 upgrade status && grep -q "^upgrade  done" "$T/out"; do
  [ $((SECONDS - t0)) -lt 90 ] || fail "upgrade not done in 90 s"
  sleep 0.5
done
has "h2                   done       active"
run 107 upgrade pause
# ... and pauses where it did not, once, with the reason in every host's journal
run 0 upgrade start --command true --order h3
t0=$SECONDS
until run 0 upgrade status && grep -q "^upgrade  paused" "$T/out"; do
  [ $((SECONDS - t0)) -lt 90 ] || fail "upgrade on h3 (not opted in) not paused in 90 s"
  sleep 0.5
done
run 0 events
has "does not run remote commands: set \[ha\] allow_upgrade_command = yes"
run 0 upgrade abort

# 5. unknown names: 105 and what to look at
run 105 host drain nosuch; err_has "drover members"
run 105 vm protect nosuch
log "ok"

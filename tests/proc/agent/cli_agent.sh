#!/bin/bash
# The drover binary end to end on one host: init, agent, status (text + JSON), restart
# bumps the epoch, documented exit codes for bad input, clean SIGTERM.
set -euo pipefail
B=${1:?build dir}
D=$B/agent/drover
T=$(mktemp -d /tmp/drover-cli-XXXXXX)
export DROVER_OPERATOR_KEY=$T/operator.key   # what `drover init` writes
AGENT=
cleanup() { [ -n "$AGENT" ] && kill "$AGENT" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
expect_rc() {   # want, command...
  local want=$1; shift
  set +e; "$@" > "$T/out" 2> "$T/err"; local rc=$?; set -e
  [ "$rc" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "'$*' exited $rc, expected $want"; }
}

expect_rc 0 "$D" --version; grep -q '^drover [0-9]' "$T/out" || fail "--version output"
expect_rc 0 "$D" help; grep -q 'status' "$T/out" || fail "help lists status"
expect_rc 0 "$D" status --help; grep -q 'Usage: drover status' "$T/out" || fail "status --help"
expect_rc 64 "$D"
expect_rc 64 "$D" frobnicate; grep -q "unknown command 'frobnicate'" "$T/err" || fail "unknown command message"
expect_rc 64 "$D" status --bogus; grep -q "'--bogus'" "$T/err" || fail "bad option message"
expect_rc 64 "$D" status extra

expect_rc 0 "$D" init --state-dir "$T/state" --json
grep -q '"fingerprint"' "$T/out" || fail "init --json"
[ "$(stat -c %a "$T/state/host.key")" = 600 ] || fail "host.key mode"
expect_rc 108 "$D" init --state-dir "$T/state"; grep -q -- '--force' "$T/err" || fail "init twice message"

cat > "$T/drover.conf" <<CONF
[agent]
name = cli-test
state_dir = $T/state
control_socket = $T/run/drover.sock
CONF
expect_rc 69 "$D" status -c "$T/drover.conf"; grep -q 'is it running' "$T/err" || fail "not running message"

start_agent() {
  "$D" agent -c "$T/drover.conf" 2> "$T/agent.log" &
  AGENT=$!
  for _ in $(seq 100); do [ -S "$T/run/drover.sock" ] && return 0; sleep 0.05; done
  cat "$T/agent.log" >&2; fail "agent did not create its socket"
}
start_agent
[ "$(stat -c %a "$T/run/drover.sock")" = 600 ] || fail "socket mode"
expect_rc 0 "$D" status -c "$T/drover.conf"
grep -q '^host *cli-test' "$T/out" || fail "status text"
grep -q '^epoch *1$' "$T/out" || fail "first epoch is 1"
expect_rc 0 "$D" status --socket "$T/run/drover.sock" --json
for k in host_id name version uptime_s state_dir store epoch rejected ctl refused_peer dropped_idle; do
  grep -q "\"$k\"" "$T/out" || fail "status --json lacks $k"
done
# a second agent on the same state dir is refused before it touches anything
expect_rc 71 "$D" agent -c "$T/drover.conf"; grep -q 'already running' "$T/err" || fail "second agent message"
# and one with its own state dir must not steal the live socket
"$D" init --state-dir "$T/state2" > /dev/null
sed "s#^state_dir = .*#state_dir = $T/state2#" "$T/drover.conf" > "$T/other.conf"
expect_rc 71 "$D" agent -c "$T/other.conf"; grep -q 'already serving' "$T/err" || fail "socket steal message"

kill -TERM "$AGENT"; wait "$AGENT" || fail "agent exit status on SIGTERM"; AGENT=
[ -e "$T/run/drover.sock" ] && fail "socket left behind"
start_agent
expect_rc 0 "$D" status -c "$T/drover.conf"
grep -q '^epoch *2$' "$T/out" || fail "restart bumps the epoch"
kill -TERM "$AGENT"; wait "$AGENT"; AGENT=

printf '[agent]\nstate_dir = %s\nworkers = many\n' "$T/state" > "$T/bad.conf"
expect_rc 78 "$D" agent -c "$T/bad.conf"; grep -q 'bad.conf:3' "$T/err" || fail "config error names file:line"
printf '[agent]\nstate_dir = %s/nostate\ncontrol_socket = %s/x.sock\n' "$T" "$T" > "$T/noid.conf"
expect_rc 66 "$D" agent -c "$T/noid.conf"; grep -q 'drover init' "$T/err" || fail "no identity message"
expect_rc 78 "$D" agent -c "$T/does-not-exist.conf"
echo "cli_agent: all checks passed"

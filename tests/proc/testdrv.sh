# shellcheck shell=bash
# testdrv.sh — N real agents on 127.0.0.1..N forming one cluster through a static roster,
# each with libvirt's test driver: h1's has its VM "test" (test:///default), the others
# none, so "test" has one owner. Sourced by proc scripts after they set D (the drover
# binary), T (a temp dir) and PORT; HOST_CONF, when set, is appended to every host's
# drover.conf; URI[I], when set, is host I's libvirt URI instead. Loopback only.
PIDS=()
declare -ga URI
# testdrv_setup N: state dirs, configs and the roster
testdrv_setup() {
  local n=$1 i uri cid
  cat > "$T/empty.xml" <<'XML'
<node>
  <network>
    <name>default</name>
    <bridge name='virbr0'/>
    <forward/>
    <ip address='192.168.122.1' netmask='255.255.255.0'/>
  </network>
</node>
XML
  cid=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  echo "cluster_id = $cid" > "$T/roster"
  # the operator credential: h1's init writes it, the others use it; admin commands sign with it
  export DROVER_OPERATOR_KEY=$T/operator.key
  for i in $(seq 1 "$n"); do
    "$D" init --state-dir "$T/h$i" > /dev/null
    uri=test:///default
    [ "$i" = 1 ] || uri=test://$T/empty.xml
    uri=${URI[$i]:-$uri}
    cat > "$T/h$i.conf" <<CONF
[agent]
name = h$i
state_dir = $T/h$i
control_socket = $T/h$i.sock
[cluster]
bind = 127.0.0.$i:$PORT
roster = $T/roster
[gossip]
status_interval = 1s
[libvirt]
uri = $uri
${HOST_CONF:-}
CONF
    "$D" roster line --state-dir "$T/h$i" --name "h$i" --addr "tcp://127.0.0.$i:$PORT" >> "$T/roster"
  done
  "$D" roster operator >> "$T/roster"
}
# testdrv_start I: host I's agent in the background (pid in PIDS[I-1]), log in $T/hI.log
testdrv_start() { "$D" agent -c "$T/h$1.conf" 2>> "$T/h$1.log" & PIDS[$1 - 1]=$!; }
testdrv_kill_all() { local p; for p in "${PIDS[@]}"; do kill -KILL "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
# testdrv_owner: the host owning "test" per h1's vm list (empty until known)
testdrv_owner() {
  "$D" vm list --json -c "$T/h1.conf" 2>/dev/null | grep -o '"owner": "h[0-9]*"' | head -1 | cut -d'"' -f4 || true
}

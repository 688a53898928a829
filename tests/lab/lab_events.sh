#!/bin/bash
# Lifecycle events and reconnect: a subscriber sees define/start/stop of a guest; when
# host1's libvirtd is killed and started again, calls fail with "libvirtd not reachable",
# then the adapter reconnects on its own (back-off), says so with a "reconnected" event,
# and events flow again on the renewed subscription.
export LAB_NAME=lev
source "$(dirname "$0")/lib.sh"
lab_up 1
guest_make ev1 64 idle shared >/dev/null
"$HV" -c "$(uri 1)" events 40 > "$LAB/events.out" 2>&1 &
watcher=$!
sleep 1
hv 1 define "$LAB/ev1.xml"; hv 1 start ev1; hv 1 destroy ev1
sleep 1
d=$(hdir 1)
pid=$(cat "$d/libvirtd.pid")
kill -TERM "$pid"
for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
sleep 1
# the same daemon again, inside host1's namespaces
nsenter -t "$(cat "$d/virtlockd.pid")" -n -m -u -- \
  setsid libvirtd --listen --config "$d/etc/libvirtd.conf" --pid-file "$d/libvirtd.pid" \
  > "$d/libvirtd.restart.out" 2>&1 < /dev/null &
host_wait 1
sleep 3
hv 1 start ev1
sleep 1
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
cat "$LAB/events.out" >&2
for want in "event defined ev1" "event started ev1" "event stopped ev1" "poll libvirtd not reachable" \
            "event reconnected" "poll ok"; do
  grep -q "^$want" "$LAB/events.out" || fail "missing '$want'"
done
# after the reconnect the subscription works again: the last start shows up
tail -n +"$(grep -n '^event reconnected' "$LAB/events.out" | head -1 | cut -d: -f1)" "$LAB/events.out" |
  grep -q '^event started ev1' || fail "no event after the reconnect"
log "OK: events, disconnect, reconnect, events again"

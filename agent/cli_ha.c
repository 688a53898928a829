/* cli_ha.c — the operator's HA commands: `drover host cordon|drain|undrain|degraded|unfreeze`,
 * `drover vm protect|unprotect` and `drover upgrade start|status|pause|resume|abort`,
 * clients of the agent's ha.admin, ha.protect, ha.upgrade and ha.status (ha_drv.h).
 *
 * Every request is a replicated decision: the agent answers after the coordinator's
 * quorum committed it, so a drain continues whatever happens to this CLI. `--wait` is
 * therefore only a watcher: it polls ha.status and prints what changed between two
 * answers (cli_watch_*, pure functions of two JSON objects, unit-tested without an
 * agent). Polling a replicated state rather than holding a stream open means a watcher
 * survives a coordinator change in the middle of a drain (the lab's scenario d) and can
 * be started again after Ctrl-C: it sees the same state everyone sees.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "ctl.h"
#include "exitcodes.h"
#include "hac.h"
#include "placement.h"

/* How often --wait asks for ha.status: twice a second shows a migration's progress
 * smoothly and costs the agent one local read each time. --interval overrides it. */
#define CLI_HA_POLL_MS 500
/* One ha.status call; a local read, so a long wait means the agent is hung. */
#define CLI_HA_CALL_MS 30000

/* ---- small JSON helpers --------------------------------------------------------- */

/* A host reference (owner, moving_to, home, from, to): NULL when absent, null or empty. */
static const char *ref(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s && s[0] && strcmp(s, "-") != 0 ? s : NULL;
}

static bool same(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

static json_t *find_named(const json_t *arr, const char *key, const char *name)
{
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) if (same(json_string_value(json_object_get(e, key)), name)) return e;
    return NULL;
}

static long long num(const json_t *o, const char *key, long long dflt)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? (long long)json_number_value(v) : dflt;
}

/* ---- cli_watch: successive ha.status answers -> events (cli.h) --------------------- */

void cli_watch_init(cli_watch *w, cli_watch_mode mode, const char *host)
{
    memset(w, 0, sizeof *w);
    w->mode = mode;
    snprintf(w->host, sizeof w->host, "%s", host);
    w->moved = json_object();
    w->shown = json_object();
    w->stuck = json_object();
}

void cli_watch_free(cli_watch *w)
{
    json_decref(w->prev);
    json_decref(w->moved);
    json_decref(w->shown);
    json_decref(w->stuck);
    memset(w, 0, sizeof *w);
}

/* Does this VM still count as "to be moved" for the watch? */
static bool pending_vm(const cli_watch *w, const json_t *vm)
{
    if (w->mode == CLI_WATCH_DRAIN)
        return same(ref(vm, "owner"), w->host);
    return same(ref(vm, "home"), w->host) && !same(ref(vm, "owner"), w->host);
}

static void emit_moving(cli_watch *w, json_t *evs, const char *vm, const char *from, const char *to,
                        long long percent, long long bps)
{
    char key[160];
    snprintf(key, sizeof key, "%s|%lld", to, percent);
    if (same(json_string_value(json_object_get(w->shown, vm)), key))
        return;
    json_object_set_new(w->shown, vm, json_string(key));
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s, s:I}", "event", "moving", "vm", vm, "from",
                           from ? from : "", "to", to, "percent", (json_int_t)percent);
    if (bps >= 0)
        json_object_set_new(ev, "bytes_per_s", json_integer(bps));
    json_array_append_new(evs, ev);
}

/* The shown key "DEST|PERCENT" of a VM: does it name this destination? */
static bool shown_to(const cli_watch *w, const char *vm, const char *to)
{
    const char *k = json_string_value(json_object_get(w->shown, vm));
    size_t n = strlen(to);
    return k && strncmp(k, to, n) == 0 && k[n] == '|';
}

static void step_moving(cli_watch *w, json_t *status, json_t *evs)
{
    json_t *moves = json_object_get(status, "moves"), *vms = json_object_get(status, "vms"), *m, *v;
    json_t *active = json_object();   /* VMs seen moving in this status */
    size_t i;
    json_array_foreach(moves, i, m) {
        const char *vm = json_string_value(json_object_get(m, "vm"));
        const char *from = ref(m, "from"), *to = ref(m, "to");
        if (!vm || !to)
            continue;
        if (w->mode == CLI_WATCH_DRAIN ? !same(from, w->host) : !same(to, w->host))
            continue;
        /* the report of a finished move can outlive the ownership change by a poll */
        v = find_named(vms, "name", vm);
        if (v && !pending_vm(w, v))
            continue;
        long long pct = num(m, "percent", 0);
        pct = pct < 0 ? 0 : pct > 100 ? 100 : pct;
        json_object_set_new(active, vm, json_true());
        emit_moving(w, evs, vm, from, to, pct, num(m, "bytes_per_s", -1));
    }
    /* decided (moving_to set) but no progress reported yet: "starting", unless this
     * destination's progress was already shown (a progress report skipped a poll) */
    json_array_foreach(vms, i, v) {
        const char *vm = json_string_value(json_object_get(v, "name")), *to = ref(v, "moving_to");
        if (!vm || !to || !pending_vm(w, v) || json_object_get(active, vm))
            continue;
        if (w->mode == CLI_WATCH_FAILBACK && !same(to, w->host))
            continue;
        json_object_set_new(active, vm, json_true());
        if (!shown_to(w, vm, to))
            emit_moving(w, evs, vm, ref(v, "owner"), to, -1, -1);
    }
    /* shown moving, now neither moving nor moved: that attempt ended without the VM
     * (the coordinator retries elsewhere or reports it stuck) */
    const char *vm;
    void *tmp;
    json_object_foreach_safe(w->shown, tmp, vm, m) {
        if (json_object_get(active, vm))
            continue;
        v = find_named(vms, "name", vm);
        if (v && pending_vm(w, v)) {
            const char *k = json_string_value(m);
            json_array_append_new(evs, json_pack("{s:s, s:s, s:s%}", "event", "stopped", "vm", vm, "to", k,
                                                 strcspn(k, "|")));
        }
        json_object_del(w->shown, vm);
    }
    json_decref(active);
}

static void step_moved(cli_watch *w, json_t *status, json_t *evs)
{
    json_t *pvms = json_object_get(w->prev, "vms"), *v;
    size_t i;
    json_array_foreach(json_object_get(status, "vms"), i, v) {
        const char *vm = json_string_value(json_object_get(v, "name")), *owner = ref(v, "owner");
        json_t *pv = vm ? find_named(pvms, "name", vm) : NULL;
        if (!pv || !owner)
            continue;
        const char *powner = ref(pv, "owner");
        bool moved;
        if (w->mode == CLI_WATCH_DRAIN)
            moved = same(powner, w->host) && !same(owner, w->host);
        else
            moved = powner && !same(powner, w->host) && same(owner, w->host) &&
                    (same(ref(pv, "home"), w->host) || same(ref(v, "home"), w->host));
        if (!moved)
            continue;
        json_object_set_new(w->moved, vm, json_string(owner));
        json_object_del(w->shown, vm);
        json_array_append_new(evs, json_pack("{s:s, s:s, s:s, s:s}", "event", "moved", "vm", vm,
                                             "from", powner, "to", owner));
    }
}

static void step_stuck(cli_watch *w, json_t *status, json_t *evs)
{
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(status, "vms"), i, v) {
        const char *vm = json_string_value(json_object_get(v, "name"));
        const char *why = json_string_value(json_object_get(v, "stuck"));
        if (!vm || !why || !why[0] || !pending_vm(w, v))
            continue;
        if (same(json_string_value(json_object_get(w->stuck, vm)), why))
            continue;   /* said once; again only when the reason changes */
        json_object_set_new(w->stuck, vm, json_string(why));
        json_array_append_new(evs, json_pack("{s:s, s:s, s:s}", "event", "stuck", "vm", vm, "reason", why));
    }
}

static void step_final(cli_watch *w, json_t *status, json_t *evs)
{
    json_t *h = find_named(json_object_get(status, "hosts"), "name", w->host), *v;
    const char *admin = h ? json_string_value(json_object_get(h, "admin")) : NULL;
    json_int_t n = (json_int_t)json_object_size(w->moved);
    size_t i;
    if (w->mode == CLI_WATCH_DRAIN) {
        if (same(admin, "draining"))
            w->seen_draining = true;
        if (same(admin, "maintenance")) {
            json_array_append_new(evs, json_pack("{s:s, s:s, s:I}", "event", "maintenance", "host",
                                                 w->host, "moved", n));
            w->done = true;
            w->exit_code = AG_EX_OK;
        } else if (w->seen_draining && admin && !same(admin, "draining")) {
            /* someone undrained (or cordoned) the host while we watched */
            json_array_append_new(evs, json_pack("{s:s, s:s, s:s, s:I}", "event", "cancelled",
                                                 "host", w->host, "admin", admin, "moved", n));
            w->done = true;
            w->exit_code = AG_EX_ERROR;
        }
        return;
    }
    json_array_foreach(json_object_get(status, "vms"), i, v) if (same(ref(v, "home"), w->host)) return;
    json_array_append_new(evs, json_pack("{s:s, s:s, s:I}", "event", "home", "host", w->host, "moved", n));
    w->done = true;
    w->exit_code = AG_EX_OK;
}

json_t *cli_watch_step(cli_watch *w, json_t *status)
{
    json_t *evs = json_array(), *v;
    size_t i;
    if (w->done || !json_is_object(status))
        return evs;
    if (!w->prev && w->mode == CLI_WATCH_DRAIN) {
        /* attached to a drain already under way: what left before still counts */
        json_array_foreach(json_object_get(status, "vms"), i, v) {
            const char *vm = json_string_value(json_object_get(v, "name")), *owner = ref(v, "owner");
            if (vm && owner && same(ref(v, "home"), w->host) && !same(owner, w->host))
                json_object_set_new(w->moved, vm, json_string(owner));
        }
    }
    if (w->prev)
        step_moved(w, status, evs);
    step_moving(w, status, evs);
    step_stuck(w, status, evs);
    step_final(w, status, evs);
    json_decref(w->prev);
    w->prev = json_incref(status);
    return evs;
}

static void mib_s(long long bps, char *buf, size_t len)
{
    if (bps < 0)
        buf[0] = 0;
    else
        snprintf(buf, len, "  %.1f MiB/s", (double)bps / (1024.0 * 1024.0));
}

int cli_watch_line(const json_t *ev, char *buf, size_t len)
{
    const char *e = json_string_value(json_object_get(ev, "event"));
    const char *vm = json_string_value(json_object_get(ev, "vm"));
    const char *host = json_string_value(json_object_get(ev, "host"));
    const char *to = json_string_value(json_object_get(ev, "to"));
    long long n = num(ev, "moved", 0);
    if (same(e, "moving")) {
        long long pct = num(ev, "percent", -1);
        char rate[48];
        mib_s(num(ev, "bytes_per_s", -1), rate, sizeof rate);
        if (pct < 0)
            return snprintf(buf, len, "  %s  -> %s  starting", vm, to);
        return snprintf(buf, len, "  %s  -> %s  %lld%%%s", vm, to, pct, rate);
    }
    if (same(e, "moved"))
        return snprintf(buf, len, "  %s  moved to %s", vm, to);
    if (same(e, "stopped"))
        return snprintf(buf, len, "  %s  move to %s did not complete", vm, to);
    if (same(e, "stuck"))
        return snprintf(buf, len, "  %s  cannot move: %s", vm,
                        json_string_value(json_object_get(ev, "reason")));
    if (same(e, "maintenance"))
        return snprintf(buf, len, "%s is in maintenance: %lld VM%s moved", host, n, n == 1 ? "" : "s");
    if (same(e, "home"))
        return snprintf(buf, len, "%s: every VM drained from it is back (%lld moved)", host, n);
    if (same(e, "cancelled"))
        return snprintf(buf, len, "%s is %s again: the drain was cancelled (%lld VM%s moved)", host,
                        json_string_value(json_object_get(ev, "admin")), n, n == 1 ? "" : "s");
    return snprintf(buf, len, "(event %s)", e ? e : "?");
}

json_t *cli_watch_remaining(const cli_watch *w)
{
    json_t *out = json_array(), *v;
    json_t *moves = json_object_get(w->prev, "moves");
    size_t i;
    json_array_foreach(json_object_get(w->prev, "vms"), i, v) {
        const char *vm = json_string_value(json_object_get(v, "name"));
        if (!vm || !pending_vm(w, v))
            continue;
        json_t *r = json_pack("{s:s}", "vm", vm), *m = find_named(moves, "vm", vm);
        const char *to = m ? ref(m, "to") : ref(v, "moving_to");
        const char *why = json_string_value(json_object_get(v, "stuck"));
        if (to) {
            json_object_set_new(r, "moving_to", json_string(to));
            if (m)
                json_object_set_new(r, "percent", json_integer(num(m, "percent", 0)));
        }
        if (why && why[0])
            json_object_set_new(r, "stuck", json_string(why));
        json_array_append_new(out, r);
    }
    return out;
}

void cli_watch_remaining_text(const json_t *rem, char *buf, size_t len)
{
    size_t off = 0, i;
    json_t *r;
    buf[0] = 0;
    if (json_array_size(rem) == 0) {
        snprintf(buf, len, "nothing");
        return;
    }
    json_array_foreach(rem, i, r) {
        const char *to = json_string_value(json_object_get(r, "moving_to"));
        const char *why = json_string_value(json_object_get(r, "stuck"));
        char what[256];
        if (why)
            snprintf(what, sizeof what, "cannot move: %s", why);
        else if (to && json_object_get(r, "percent"))
            snprintf(what, sizeof what, "-> %s %lld%%", to, num(r, "percent", 0));
        else if (to)
            snprintf(what, sizeof what, "-> %s starting", to);
        else
            snprintf(what, sizeof what, "waiting");
        int k = snprintf(buf + off, len - off, "%s%s (%s)", i ? ", " : "",
                         json_string_value(json_object_get(r, "vm")), what);
        if (k < 0 || (size_t)k >= len - off) {
            /* no half entries: end with what fitted whole, and say there is more */
            buf[off] = 0;
            if (len - off > 5)
                snprintf(buf + off, len - off, ", ...");
            return;
        }
        off += (size_t)k;
    }
}

/* ---- upgrade status and --order (cli.h) ------------------------------------------- */

int cli_ha_split_order(const char *list, json_t **out, char *err, size_t errlen)
{
    json_t *a = json_array();
    const char *p = list;
    *out = NULL;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t n = c ? (size_t)(c - p) : strlen(p);
        char name[PLC_NAME_MAX];
        if (n == 0) {
            snprintf(err, errlen, "--order has an empty host name in '%s'; write it like h1,h2,h3", list);
            goto fail;
        }
        if (n >= sizeof name) {
            snprintf(err, errlen, "--order: '%.*s' is longer than a host name can be (%d characters)",
                     (int)n, p, PLC_NAME_MAX - 1);
            goto fail;
        }
        memcpy(name, p, n);
        name[n] = 0;
        size_t i;
        json_t *v;
        json_array_foreach(a, i, v) if (strcmp(json_string_value(v), name) == 0) {
            snprintf(err, errlen, "--order names %s twice; each host is upgraded once", name);
            goto fail;
        }
        json_array_append_new(a, json_string(name));
        if (!c)
            break;
        p = c + 1;
    }
    *out = a;
    return 0;
fail:
    json_decref(a);
    return -1;
}

/* The index of the host being upgraded: ha.status gives "current_index" (a position in
 * order) and "current" (the host's name). -1 when neither says. */
static long long upgrade_current(const json_t *up)
{
    json_t *c = json_object_get(up, "current_index"), *v;
    size_t i;
    if (json_is_integer(c))
        return (long long)json_integer_value(c);
    c = json_object_get(up, "current");
    if (json_is_integer(c))
        return (long long)json_integer_value(c);
    if (json_is_string(c))
        json_array_foreach(json_object_get(up, "order"), i, v) if (json_equal(v, c)) return (long long)i;
    return -1;
}

json_t *cli_upgrade_rows(json_t *status)
{
    json_t *up = json_object_get(status, "upgrade"), *hosts = json_object_get(status, "hosts");
    const char *state = json_string_value(json_object_get(up, "state"));
    const char *phase = json_string_value(json_object_get(up, "phase"));
    long long cur = upgrade_current(up);
    json_t *rows = json_array(), *v;
    size_t i;
    json_array_foreach(json_object_get(up, "order"), i, v) {
        const char *name = json_string_value(v);
        if (!name)
            continue;
        const char *ph;
        if (same(state, "done") || (cur >= 0 && (long long)i < cur))
            ph = "done";
        else if ((long long)i == cur && !same(state, "idle"))
            ph = phase ? phase : "?";
        else
            ph = "pending";
        json_t *h = find_named(hosts, "name", name);
        json_t *row = json_pack("{s:s, s:s, s:s}", "host", name, "phase", ph, "admin",
                                h && json_string_value(json_object_get(h, "admin"))
                                    ? json_string_value(json_object_get(h, "admin")) : "unknown");
        json_t *live = h ? json_object_get(h, "live") : NULL;
        if (live)
            json_object_set(row, "live", live);
        json_array_append_new(rows, row);
    }
    return rows;
}

void cli_upgrade_print(FILE *f, json_t *status)
{
    json_t *up = json_object_get(status, "upgrade");
    const char *state = json_string_value(json_object_get(up, "state"));
    if (!up || !state || same(state, "idle")) {
        fprintf(f, "no rolling upgrade: start one with `drover upgrade start --command CMD`\n");
        return;
    }
    json_t *rows = cli_upgrade_rows(status), *r;
    long long cur = upgrade_current(up);
    size_t i, n = json_array_size(rows);
    fprintf(f, "upgrade  %s", state);
    if (cur >= 0 && (size_t)cur < n && !same(state, "done"))
        fprintf(f, ", host %lld of %zu", cur + 1, n);
    fprintf(f, "\ncommand  %s\n", json_string_value(json_object_get(up, "command"))
                                      ? json_string_value(json_object_get(up, "command")) : "-");
    fprintf(f, "%-20s %-10s %s\n", "HOST", "PHASE", "STATE");
    json_array_foreach(rows, i, r) {
        json_t *live = json_object_get(r, "live");
        char st[96];
        if (json_is_false(live))
            snprintf(st, sizeof st, "%s, down", json_string_value(json_object_get(r, "admin")));
        else if (json_is_string(live) && !same(json_string_value(live), "alive"))
            snprintf(st, sizeof st, "%s, %s", json_string_value(json_object_get(r, "admin")),
                     json_string_value(live));
        else
            snprintf(st, sizeof st, "%s", json_string_value(json_object_get(r, "admin")));
        fprintf(f, "%-20s %-10s %s\n", json_string_value(json_object_get(r, "host")),
                json_string_value(json_object_get(r, "phase")), st);
    }
    /* a drain that does not finish holds the whole upgrade: say what it waits for */
    json_t *cur_row = cur >= 0 ? json_array_get(rows, (size_t)cur) : NULL;
    if (cur_row && same(json_string_value(json_object_get(cur_row, "phase")), "drain") &&
        (same(state, "running") || same(state, "paused"))) {
        cli_watch w;
        char text[1024];
        cli_watch_init(&w, CLI_WATCH_DRAIN, json_string_value(json_object_get(cur_row, "host")));
        w.prev = json_incref(status);
        json_t *rem = cli_watch_remaining(&w);
        if (json_array_size(rem)) {
            cli_watch_remaining_text(rem, text, sizeof text);
            fprintf(f, "still on %s: %s\n", w.host, text);
        }
        json_decref(rem);
        cli_watch_free(&w);
    }
    json_decref(rows);
}

/* ---- host cordon|drain|undrain|degraded ------------------------------------------- */

static const char cordon_usage[] =
    "Usage: drover host cordon HOST [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Mark HOST cordoned: it keeps its VMs but placement sends it no new ones (no restart,\n"
    "no migration, no drain lands there). `drover host undrain HOST` makes it active again.\n"
    "The decision is replicated: it holds on every host and survives a coordinator loss.\n"
    "\nExit: 0 done, 105 no such host, 106 no quorum, 107 refused (the message says why),\n"
    "69 agent not reachable or not in a cluster, 64 usage.\n";

static const char drain_usage[] =
    "Usage: drover host drain HOST [--wait [--deadline D]] [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Empty HOST for maintenance: its running VMs are live-migrated by the placement plan\n"
    "(with its concurrency limits), stopped VMs' definitions move, a failed move is retried\n"
    "on another host. States: active -> draining -> maintenance; HOST shows \"maintenance\"\n"
    "only once nothing is left on it. VMs that cannot move are reported with the reason.\n"
    "\n"
    "  --wait          follow the drain: one line per VM (-> DEST  %  MiB/s while moving,\n"
    "                  then where it went) until HOST is in maintenance. Ctrl-C detaches;\n"
    "                  the drain continues (run this again to watch it).\n"
    "  --deadline D    with --wait: stop waiting after D (90s, 5m, 1h) and list what is\n"
    "                  still on HOST; the drain itself continues\n"
    "  --interval D    with --wait: how often to look (default 500ms)\n"
    "  --json          one JSON object per line: {\"event\": \"moving\"|\"moved\"|\"stopped\"|\n"
    "                  \"stuck\"|\"maintenance\"|\"cancelled\", ...}, then {\"result\": ...}\n"
    "\nExit: 0 drained (or detached, or without --wait: accepted), 124 deadline passed,\n"
    "1 the drain was cancelled while waiting, 105 no such host, 106 no quorum, 107 refused,\n"
    "69 agent not reachable or not in a cluster, 2 bad --deadline, 64 usage.\n";

static const char undrain_usage[] =
    "Usage: drover host undrain HOST [--failback [--wait [--deadline D]]] [--json]\n"
    "                          [--socket PATH | -c FILE]\n"
    "\n"
    "Make HOST active again (from cordoned, draining or maintenance): it takes VMs again.\n"
    "The VMs drained from it stay where they are unless --failback is given.\n"
    "\n"
    "  --failback      also move the VMs drained from HOST back to it\n"
    "  --wait          with --failback: follow them until every one is back (Ctrl-C\n"
    "                  detaches; the failback continues)\n"
    "  --deadline D    with --wait: stop waiting after D (90s, 5m)\n"
    "  --interval D    with --wait: how often to look (default 500ms)\n"
    "\nExit: 0 done, 124 deadline passed, 105 no such host, 106 no quorum, 107 refused,\n"
    "69 agent not reachable or not in a cluster, 2 bad --deadline, 64 usage.\n";

static const char degraded_usage[] =
    "Usage: drover host degraded HOST on|off [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Set or clear the operator's degraded flag of HOST. A degraded host (this flag, or its\n"
    "own health signals: libvirtd unresponsive, storage errors or latency, migration link\n"
    "down or MTU changed) is evacuated like a drain while it can still migrate, and gets\n"
    "no new VMs. Clearing the flag does not bring the VMs back.\n"
    "\nExit: 0 done, 105 no such host, 106 no quorum, 107 refused, 69 agent not reachable,\n"
    "64 usage.\n";

static const char unfreeze_usage[] =
    "Usage: drover host unfreeze HOST --confirm-off [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "A host is frozen while its agent is stopped cleanly (systemctl stop or restart, a\n"
    "package upgrade): its VMs run on without the agent and the cluster leaves them alone,\n"
    "however long that takes. The agent unfreezes the host itself once it is back. If HOST\n"
    "is off for good instead (powered off, or its VMs are surely gone), say so: the freeze\n"
    "ends and counts as a confirmed fence, so its protected VMs restart elsewhere at once.\n"
    "Never use it on a host that may still run its VMs: they would run twice.\n"
    "\n"
    "  --confirm-off   required: HOST is off (refused while gossip hears HOST)\n"
    "\nExit: 0 done, 105 no such host, 106 no quorum, 107 refused (HOST is alive or not\n"
    "frozen; the message says which), 69 agent not reachable, 64 usage.\n";

typedef struct host_opts {
    const char *cmd;
    bool wait, failback, interval_set, confirm_off;
    const char *deadline_text;
    int64_t deadline_ms;   /* -1: none */
    int64_t interval_ms;
} host_opts;

static int host_opt(int o, void *ud)
{
    host_opts *h = ud;
    switch (o) {
    case 'w': h->wait = true; break;
    case 'F': h->failback = true; break;
    case 'O': h->confirm_off = true; break;
    case 'D':
        if (ag_parse_duration_ms(optarg, &h->deadline_ms) != 0 || h->deadline_ms <= 0) {
            cli_usage_error(h->cmd, "--deadline '%s' is not a duration; write it with a unit: 90s, 5m, 1h",
                            optarg);
            return -1;
        }
        h->deadline_text = optarg;
        break;
    case 'I':
        if (ag_parse_duration_ms(optarg, &h->interval_ms) != 0 || h->interval_ms < 10 ||
            h->interval_ms > 60000) {
            cli_usage_error(h->cmd, "--interval '%s' is not a duration from 10ms to 60s (e.g. 500ms, 2s)",
                            optarg);
            return -1;
        }
        h->interval_set = true;
        break;
    }
    return 0;
}

static const struct option host_extra[] = {
    {"wait", no_argument, 0, 'w'},         {"failback", no_argument, 0, 'F'},
    {"deadline", required_argument, 0, 'D'}, {"interval", required_argument, 0, 'I'},
    {"confirm-off", no_argument, 0, 'O'}, {0, 0, 0, 0}};

/* Parse a host command's arguments; npos positional words (HOST [on|off]).
 * Returns 0 to go on, -1 after --help, or an exit code. */
static int host_parse(int argc, char **argv, const char *cmd, const char *usage, int npos,
                      cli_common *cc, host_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cmd = cmd;
    o->deadline_ms = -1;
    o->interval_ms = CLI_HA_POLL_MS;
    int rc = cli_parse(argc, argv, cmd, usage, cc, "wFD:I:O", host_extra, host_opt, o);
    if (rc)
        return rc;
    if (argc - optind < npos)
        return cli_usage_error(cmd, "%s", npos == 1 ? "needs HOST (a member name, see `drover members`)"
                                                    : "needs HOST and on or off");
    if (argc - optind > npos)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + npos]);
    const char *host = argv[optind];
    if (!host[0] || strlen(host) >= PLC_NAME_MAX)
        return cli_usage_error(cmd, "'%s' is not a host name (1 to %d characters; see `drover members`)",
                               host, PLC_NAME_MAX - 1);
    bool drain = strcmp(cmd, "host drain") == 0, undrain = strcmp(cmd, "host undrain") == 0;
    if (o->failback && !undrain)
        return cli_usage_error(cmd, "--failback belongs to `drover host undrain`");
    bool unfreeze = strcmp(cmd, "host unfreeze") == 0;
    if (o->confirm_off != unfreeze)
        return cli_usage_error(cmd, "%s", unfreeze
            ? "needs --confirm-off: a frozen host is unfrozen by its own agent once it is back; if HOST "
              "is off for good (powered off, its VMs surely gone), say so with --confirm-off and its "
              "protected VMs restart elsewhere"
            : "--confirm-off belongs to `drover host unfreeze`");
    if (o->wait && !drain && !undrain)
        return cli_usage_error(cmd, "--wait belongs to `host drain` and `host undrain --failback`; "
                                    "this command takes effect at once");
    if (o->wait && undrain && !o->failback)
        return cli_usage_error(cmd, "--wait needs --failback: without it the VMs stay where they "
                                    "are and there is nothing to wait for");
    if ((o->deadline_ms >= 0 || o->interval_set) && !o->wait)
        return cli_usage_error(cmd, "--%s only makes sense with --wait",
                               o->deadline_ms >= 0 ? "deadline" : "interval");
    return 0;
}

static volatile sig_atomic_t g_interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    g_interrupted = 1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void print_json_line(json_t *v)
{
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
    if (s)
        puts(s);
    free(s);
    fflush(stdout);
}

/* Text output of the watch. In a log or pipe every change is its own line. On a
 * terminal the VMs moving right now keep one line each at the bottom, redrawn in place
 * after every poll (like `docker pull`); what is final (moved, cannot move, the end)
 * is printed above that block and stays. */
typedef struct out_state {
    bool json, tty;
    json_t *live;   /* tty: {vm: progress line} in arrival order */
    int drawn;      /* tty: lines of the block currently on screen */
} out_state;

static void out_erase_block(out_state *o)
{
    if (o->drawn > 0)
        printf("\033[%dA\r\033[J", o->drawn);   /* up to the block's first line, clear below */
    o->drawn = 0;
}

static void out_draw_block(out_state *o)
{
    const char *k;
    json_t *v;
    json_object_foreach(o->live, k, v) {
        puts(json_string_value(v));
        o->drawn++;
    }
}

/* Print one poll's events (borrowed array). */
static void out_events(out_state *o, json_t *evs)
{
    size_t i;
    json_t *ev;
    if (o->json) {
        json_array_foreach(evs, i, ev) print_json_line(ev);
        return;
    }
    if (o->tty && json_array_size(evs))
        out_erase_block(o);
    json_array_foreach(evs, i, ev) {
        char line[512];
        cli_watch_line(ev, line, sizeof line);
        const char *e = json_string_value(json_object_get(ev, "event"));
        const char *vm = json_string_value(json_object_get(ev, "vm"));
        if (o->tty && vm && same(e, "moving")) {
            json_object_set_new(o->live, vm, json_string(line));
            continue;
        }
        if (o->tty && vm && (same(e, "moved") || same(e, "stopped")))
            json_object_del(o->live, vm);
        puts(line);
    }
    if (o->tty && json_array_size(evs))
        out_draw_block(o);
    fflush(stdout);
}

/* Before a final message: the progress block is history now, leave it on screen. */
static void out_close_line(out_state *o)
{
    o->drawn = 0;
    json_object_clear(o->live);
}

/* Poll ha.status until the watch ends, the deadline passes or Ctrl-C. */
static int watch(const cli_common *cc, const char *cmd, cli_watch_mode mode, const char *host,
                 const host_opts *ho)
{
    cli_watch w;
    out_state o = {.json = cc->json, .tty = !cc->json && isatty(STDOUT_FILENO), .live = json_object()};
    struct sigaction sa = {.sa_handler = on_sigint}, old_int, old_term;
    sigemptyset(&sa.sa_mask);   /* no SA_RESTART: Ctrl-C cuts the sleep short */
    g_interrupted = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    cli_watch_init(&w, mode, host);
    const char *what = mode == CLI_WATCH_DRAIN ? "drain" : "failback";
    int64_t start = mono_ms();
    int rc = AG_EX_OK, last_err = 0;
    json_t *fin = NULL;
    for (;;) {
        json_t *st = NULL;
        char err[1024];
        int crc = ag_ctl_call(cc->socket, "ha.status", NULL, NULL, NULL, CLI_HA_CALL_MS, &st, err, sizeof err);
        if (g_interrupted) {
            json_decref(st);
            break;
        }
        if (crc == 0) {
            json_t *evs = cli_watch_step(&w, st);
            out_events(&o, evs);
            json_decref(evs);
            json_decref(st);
            last_err = 0;
        } else if (crc == AG_EX_QUORUM || crc == AG_EX_TIMEOUT || crc == AG_EX_TEMPFAIL) {
            /* a coordinator change or a slow agent: the drain is replicated, keep looking */
            if (crc != last_err) {
                fflush(stdout);
                if (o.tty)
                    out_erase_block(&o);
                fflush(stdout);
                fprintf(stderr, "drover %s: %s (still watching)\n", cmd, err);
                fflush(stderr);
                if (o.tty)
                    out_draw_block(&o);
                fflush(stdout);
            }
            last_err = crc;
        } else {
            out_close_line(&o);
            fprintf(stderr, "drover %s: %s\n", cmd, err[0] ? err : "ha.status failed");
            json_decref(o.live);
            cli_watch_free(&w);
            sigaction(SIGINT, &old_int, NULL);
            sigaction(SIGTERM, &old_term, NULL);
            return crc;
        }
        if (w.done) {
            rc = w.exit_code;
            fin = json_pack("{s:s, s:s, s:O}", "host", host, "result",
                            mode == CLI_WATCH_FAILBACK ? "home" : rc == 0 ? "maintenance" : "cancelled",
                            "moved", w.moved);
            break;
        }
        if (ho->deadline_ms >= 0 && mono_ms() - start >= ho->deadline_ms) {
            json_t *rem = cli_watch_remaining(&w);
            char text[2048];
            cli_watch_remaining_text(rem, text, sizeof text);
            out_close_line(&o);
            if (!o.json)
                fprintf(stderr, "drover %s: gave up waiting after %s; still %s %s: %s. The %s continues.\n",
                        cmd, ho->deadline_text, mode == CLI_WATCH_DRAIN ? "on" : "away from", host,
                        text, what);
            fin = json_pack("{s:s, s:s, s:o, s:O}", "host", host, "result", "timeout", "remaining", rem,
                            "moved", w.moved);
            rc = AG_EX_TIMEOUT;
            break;
        }
        struct timespec ts = {.tv_sec = ho->interval_ms / 1000,
                              .tv_nsec = (long)(ho->interval_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (g_interrupted)
            break;
    }
    if (!fin) {   /* Ctrl-C */
        out_close_line(&o);
        if (!o.json)
            printf("detached: the %s continues; watch with drover host %s %s%s --wait\n", what,
                   mode == CLI_WATCH_DRAIN ? "drain" : "undrain", host,
                   mode == CLI_WATCH_DRAIN ? "" : " --failback");
        fin = json_pack("{s:s, s:s, s:O}", "host", host, "result", "detached", "moved", w.moved);
        rc = AG_EX_OK;
    }
    out_close_line(&o);
    if (o.json)
        print_json_line(fin);
    fflush(stdout);
    json_decref(fin);
    json_decref(o.live);
    cli_watch_free(&w);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    return rc;
}

/* Is the drain (or failback) already asked for? Then --wait only watches: running
 * `host drain HOST --wait` again after Ctrl-C must not need a second request. */
static bool already_asked(const cli_common *cc, const char *host, bool failback)
{
    json_t *st = NULL;
    char err[512];
    if (ag_ctl_call(cc->socket, "ha.status", NULL, NULL, NULL, CLI_HA_CALL_MS, &st, err, sizeof err) != 0) {
        json_decref(st);
        return false;   /* the request itself will say what is wrong */
    }
    json_t *h = find_named(json_object_get(st, "hosts"), "name", host);
    const char *admin = json_string_value(json_object_get(h, "admin"));
    bool yes = failback ? same(admin, "active") && json_is_true(json_object_get(h, "failback"))
                        : same(admin, "draining") || same(admin, "maintenance");
    json_decref(st);
    return yes;
}

static void print_admin(const cli_common *cc, json_t *r, bool wait)
{
    if (cc->json) {
        if (wait) {
            json_t *ev = json_deep_copy(r);
            json_object_set_new(ev, "event", json_string("admin"));
            print_json_line(ev);
            json_decref(ev);
        } else {
            cli_print_json(r);
        }
        return;
    }
    const char *host = json_string_value(json_object_get(r, "host"));
    printf("%s is %s%s%s (decision %lld)\n", host ? host : "?",
           json_string_value(json_object_get(r, "admin")) ? json_string_value(json_object_get(r, "admin")) : "?",
           json_is_true(json_object_get(r, "degraded_flag")) ? ", flagged degraded" : "",
           json_is_true(json_object_get(r, "failback")) ? ", its VMs coming back" : "",
           num(r, "index", 0));
    fflush(stdout);
}

static int host_admin(int argc, char **argv, const char *cmd, const char *usage)
{
    cli_common cc;
    host_opts o;
    int rc = host_parse(argc, argv, cmd, usage, 1, &cc, &o);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    const char *host = argv[optind];
    const char *req = strcmp(cmd, "host cordon") == 0 ? "cordon"
                      : strcmp(cmd, "host drain") == 0 ? "drain"
                      : o.failback                     ? "failback"
                                                       : "undrain";
    bool drain = strcmp(req, "drain") == 0;
    if (!o.wait || !already_asked(&cc, host, !drain)) {
        json_t *r;
        if ((rc = cli_admin_call(&cc, "ha.admin", json_pack("{s:s, s:s}", "host", host, "req", req), &r)) != 0)
            return rc;
        print_admin(&cc, r, o.wait);
        json_decref(r);
        if (!o.wait && drain && !cc.json)
            printf("follow it with: drover host drain %s --wait\n", host);
    } else if (!cc.json) {
        printf("%s: the %s is already under way; watching it\n", host, drain ? "drain" : "failback");
    }
    if (!o.wait)
        return AG_EX_OK;
    return watch(&cc, cmd, drain ? CLI_WATCH_DRAIN : CLI_WATCH_FAILBACK, host, &o);
}

static int cmd_cordon(int argc, char **argv) { return host_admin(argc, argv, "host cordon", cordon_usage); }
static int cmd_drain(int argc, char **argv) { return host_admin(argc, argv, "host drain", drain_usage); }
static int cmd_undrain(int argc, char **argv) { return host_admin(argc, argv, "host undrain", undrain_usage); }

/* One ha.admin request about HOST; *r is the agent's answer (caller decrefs). */
static int admin_req(cli_common *cc, const char *host, const char *req, json_t **r)
{
    return cli_admin_call(cc, "ha.admin", json_pack("{s:s, s:s}", "host", host, "req", req), r);
}

static int cmd_degraded(int argc, char **argv)
{
    cli_common cc;
    host_opts o;
    int rc = host_parse(argc, argv, "host degraded", degraded_usage, 2, &cc, &o);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    const char *host = argv[optind], *onoff = argv[optind + 1];
    if (strcmp(onoff, "on") != 0 && strcmp(onoff, "off") != 0) {
        cli_usage_error("host degraded", "the flag is 'on' or 'off', not '%s'", onoff);
        return AG_EX_INVALID;
    }
    json_t *r;
    rc = admin_req(&cc, host, onoff[1] == 'n' ? "degraded-on" : "degraded-off", &r);
    if (rc)
        return rc;
    print_admin(&cc, r, false);
    json_decref(r);
    return AG_EX_OK;
}

static int cmd_unfreeze(int argc, char **argv)
{
    cli_common cc;
    host_opts o;
    int rc = host_parse(argc, argv, "host unfreeze", unfreeze_usage, 1, &cc, &o);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    const char *host = argv[optind];
    json_t *r;
    rc = admin_req(&cc, host, "confirm-off", &r);
    if (rc)
        return rc;
    if (cc.json)
        cli_print_json(r);
    else
        printf("%s confirmed off and unfrozen: its protected VMs restart elsewhere (decision %lld)\n", host,
               num(r, "index", 0));
    json_decref(r);
    return AG_EX_OK;
}

/* ---- vm protect|unprotect ---------------------------------------------------------- */

static const char protect_usage[] =
    "Usage: drover vm protect VM [--priority P] [--order N] [--max-restarts N]\n"
    "                            [--anti-affinity GROUP] [--affinity GROUP] [--force] [--json]\n"
    "                            [--socket PATH | -c FILE]\n"
    "\n"
    "Put VM under HA: when its host dies or isolates itself, the coordinator restarts it\n"
    "on another host (after the dead host's lease has surely expired), and a host cut off\n"
    "from the coordinator's quorum destroys its protected VMs (self-fencing) so that VM\n"
    "never runs twice. Options not given keep the VM's current values (0 at first).\n"
    "\n"
    "  --priority P       restart higher priorities first (integer, may be negative)\n"
    "  --order N          among equal priorities, restart lower orders first\n"
    "  --max-restarts N   give up after N restarts (0 = no limit)\n"
    "  --anti-affinity G  never on the same host as another VM of group G (\"\" clears)\n"
    "  --affinity G       on the same host as the other VMs of group G (\"\" clears)\n"
    "  --force            protect even if admission control refuses\n"
    "Admission control first checks that every protected VM could still be restarted if a\n"
    "host failed: if this VM would break that, it is refused (107) unless --force; other\n"
    "warnings are printed on stderr.\n"
    "\nExit: 0 done, 105 no such VM, 106 no quorum, 107 refused, 69 agent not reachable\n"
    "or not in a cluster, 2 bad value, 64 usage.\n";

static const char unprotect_usage[] =
    "Usage: drover vm unprotect VM [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "Take VM out of HA: it is no longer restarted elsewhere or fenced. It keeps running.\n"
    "\nExit: 0 done, 105 no such VM, 106 no quorum, 69 agent not reachable, 64 usage.\n";

typedef struct protect_opts {
    const char *cmd;
    bool has_prio, has_order, has_max, force;
    long long prio, order, max;
    const char *anti, *affinity;
} protect_opts;

static int parse_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi,
                     long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) {
        cli_usage_error(cmd, "%s takes a whole number from %lld to %lld, not '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

/* int32 in the replicated state (hac_rvm priority, restart_order); max_restarts uint32 */
#define CLI_HA_INT_MAX 2147483647LL

static int protect_opt(int o, void *ud)
{
    protect_opts *p = ud;
    switch (o) {
    case 'p': p->has_prio = true;
        return parse_int(p->cmd, "--priority", optarg, -CLI_HA_INT_MAX, CLI_HA_INT_MAX, &p->prio);
    case 'o': p->has_order = true;
        return parse_int(p->cmd, "--order", optarg, -CLI_HA_INT_MAX, CLI_HA_INT_MAX, &p->order);
    case 'm': p->has_max = true;
        return parse_int(p->cmd, "--max-restarts", optarg, 0, CLI_HA_INT_MAX, &p->max);
    case 'A': p->anti = optarg; return 0;
    case 'F': p->affinity = optarg; return 0;
    case 'f': p->force = true; return 0;
    }
    return 0;
}

static int protect_common(int argc, char **argv, bool protect)
{
    static const struct option extra[] = {
        {"priority", required_argument, 0, 'p'}, {"order", required_argument, 0, 'o'},
        {"max-restarts", required_argument, 0, 'm'}, {"anti-affinity", required_argument, 0, 'A'},
        {"affinity", required_argument, 0, 'F'}, {"force", no_argument, 0, 'f'}, {0, 0, 0, 0}};
    const char *cmd = protect ? "vm protect" : "vm unprotect";
    cli_common cc;
    protect_opts p = {.cmd = cmd};
    int rc = cli_parse(argc, argv, cmd, protect ? protect_usage : unprotect_usage, &cc,
                       protect ? "p:o:m:" : "", protect ? extra : NULL, protect_opt, &p);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (argc == optind)
        return cli_usage_error(cmd, "needs VM (a name from `drover vm list`)");
    if (argc - optind > 1)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + 1]);
    const char *vm = argv[optind];
    if (!vm[0] || strlen(vm) >= PLC_NAME_MAX)
        return cli_usage_error(cmd, "'%s' is not a VM name (1 to %d characters)", vm, PLC_NAME_MAX - 1);
    json_t *args = json_pack("{s:s, s:b}", "vm", vm, "protect", protect), *r, *w;
    if (p.has_prio)
        json_object_set_new(args, "priority", json_integer(p.prio));
    if (p.has_order)
        json_object_set_new(args, "order", json_integer(p.order));
    if (p.has_max)
        json_object_set_new(args, "max_restarts", json_integer(p.max));
    if (p.anti)
        json_object_set_new(args, "anti_affinity", json_string(p.anti));
    if (p.affinity)
        json_object_set_new(args, "affinity", json_string(p.affinity));
    if (p.force)
        json_object_set_new(args, "force", json_true());
    if ((rc = cli_admin_call(&cc, "ha.protect", args, &r)) != 0)
        return rc;
    size_t i;
    json_array_foreach(json_object_get(r, "warnings"), i, w)
        fprintf(stderr, "drover %s: warning: %s\n", cmd, json_string_value(w) ? json_string_value(w) : "?");
    if (cc.json) {
        cli_print_json(r);
    } else if (json_is_true(json_object_get(r, "protected"))) {
        long long max = num(r, "max_restarts", 0);
        char maxs[32];
        snprintf(maxs, sizeof maxs, "%lld", max);
        const char *anti = json_string_value(json_object_get(r, "anti_affinity"));
        const char *aff = json_string_value(json_object_get(r, "affinity"));
        printf("%s is protected: priority %lld, order %lld, max restarts %s%s%s%s%s (decision %lld)\n", vm,
               num(r, "priority", 0), num(r, "order", 0), max ? maxs : "unlimited",
               anti && anti[0] ? ", apart from group " : "", anti && anti[0] ? anti : "",
               aff && aff[0] ? ", together with group " : "", aff && aff[0] ? aff : "", num(r, "index", 0));
    } else {
        printf("%s is not protected (decision %lld)\n", vm, num(r, "index", 0));
    }
    json_decref(r);
    return AG_EX_OK;
}

static int cmd_protect(int argc, char **argv) { return protect_common(argc, argv, true); }
static int cmd_unprotect(int argc, char **argv) { return protect_common(argc, argv, false); }

/* ---- upgrade ------------------------------------------------------------------------ */

static const char upstart_usage[] =
    "Usage: drover upgrade start --command CMD [--order H1,H2,...] [--json]\n"
    "                            [--socket PATH | -c FILE]\n"
    "\n"
    "Rolling pool upgrade, one host at a time: drain it, run CMD on it through its agent\n"
    "(/bin/sh -c CMD, as the agent's user), wait until it rejoins healthy with an agent\n"
    "version at least the one it had, undrain it, go on with the next. VMs only move to\n"
    "hosts at the same or a newer version. The plan is replicated and continues after a\n"
    "coordinator loss; so CMD may run twice on a host (re-sent after a timeout or by a\n"
    "new coordinator): make it idempotent. A host that does not rejoin in time pauses\n"
    "the upgrade.\n"
    "\n"
    "  --command CMD   what to run on each host: one quoted line (a longer job belongs\n"
    "                  in a script on every host), e.g. 'apt-get -y install drover'\n"
    "  --order LIST    only these hosts, in this order, comma-separated (default: every\n"
    "                  host, by name)\n"
    "Follow it with `drover upgrade status`; `drover upgrade pause|resume|abort`.\n"
    "\nExit: 0 started, 105 no such host, 106 no quorum, 107 refused (one is running), 2 bad\n"
    "value, 69 agent not reachable or not in a cluster, 64 usage.\n";

static const char upstatus_usage[] =
    "Usage: drover upgrade status [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "The rolling upgrade: its state (running, paused, done, aborted), the command, and per\n"
    "host its phase (done; drain, run, rejoin or undrain for the current host; pending)\n"
    "and admin state. While the current host drains, what is still on it and why.\n"
    "\nExit: 0 ok, 69 agent not reachable or not in a cluster.\n";

static const char upop_usage[] =
    "Usage: drover upgrade pause|resume|abort [--json] [--socket PATH | -c FILE]\n"
    "\n"
    "pause: take no further step (a host already draining keeps draining, but its command\n"
    "does not run until resume). resume: go on from the same host and phase. abort: end\n"
    "the plan; a host it drained stays as it is (draining or maintenance) until\n"
    "`drover host undrain HOST`.\n"
    "\nExit: 0 done, 107 refused (no upgrade in that state), 106 no quorum, 69 agent not\n"
    "reachable or not in a cluster, 64 usage.\n";

typedef struct upgrade_opts {
    const char *command, *order;
} upgrade_opts;

static int upgrade_opt(int o, void *ud)
{
    upgrade_opts *u = ud;
    if (o == 'C')
        u->command = optarg;
    else if (o == 'O')
        u->order = optarg;
    return 0;
}

static void print_upgrade(const cli_common *cc, json_t *r, const char *what)
{
    if (cc->json)
        cli_print_json(r);
    else
        printf("upgrade %s: now %s (decision %lld)\n", what,
               json_string_value(json_object_get(r, "state")) ? json_string_value(json_object_get(r, "state")) : "?",
               num(r, "index", 0));
}

static int cmd_upstart(int argc, char **argv)
{
    static const struct option extra[] = {
        {"command", required_argument, 0, 'C'}, {"order", required_argument, 0, 'O'}, {0, 0, 0, 0}};
    cli_common cc;
    upgrade_opts u = {0};
    int rc = cli_parse(argc, argv, "upgrade start", upstart_usage, &cc, "C:O:", extra, upgrade_opt, &u);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (optind != argc)
        return cli_usage_error("upgrade start", "unexpected argument '%s' (quote the command: --command 'a b')",
                               argv[optind]);
    if (!u.command)
        return cli_usage_error("upgrade start", "needs --command CMD: what to run on each host");
    if (!u.command[0] || strspn(u.command, " \t") == strlen(u.command)) {
        cli_usage_error("upgrade start", "--command is empty; give the command each host runs");
        return AG_EX_INVALID;
    }
    if (strlen(u.command) >= HAC_TEXT_MAX) {   /* the replicated plan keeps this much */
        cli_usage_error("upgrade start", "--command is %zu characters; the plan keeps at most %d "
                        "(put a longer one in a script on every host and run that)",
                        strlen(u.command), HAC_TEXT_MAX - 1);
        return AG_EX_INVALID;
    }
    json_t *args = json_pack("{s:s, s:s}", "op", "start", "command", u.command), *order, *r;
    if (u.order) {
        char err[256];
        if (cli_ha_split_order(u.order, &order, err, sizeof err) != 0) {
            json_decref(args);
            cli_usage_error("upgrade start", "%s", err);
            return AG_EX_INVALID;
        }
        json_object_set_new(args, "order", order);
    }
    if ((rc = cli_admin_call(&cc, "ha.upgrade", args, &r)) != 0)
        return rc;
    print_upgrade(&cc, r, "start");
    if (!cc.json)
        printf("follow it with: drover upgrade status\n");
    json_decref(r);
    return AG_EX_OK;
}

static int no_opts(int o, void *ud) { (void)o; (void)ud; return 0; }

static int cmd_upstatus(int argc, char **argv)
{
    cli_common cc;
    int rc = cli_parse(argc, argv, "upgrade status", upstatus_usage, &cc, "", NULL, no_opts, NULL);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (optind != argc)
        return cli_usage_error("upgrade status", "unexpected argument '%s'", argv[optind]);
    json_t *r;
    if ((rc = cli_call(&cc, "ha.status", NULL, &r)) != 0)
        return rc;
    if (cc.json) {
        json_t *up = json_object_get(r, "upgrade");
        json_t *o = up ? json_deep_copy(up) : json_object();
        json_object_set_new(o, "hosts", cli_upgrade_rows(r));
        cli_print_json(o);
        json_decref(o);
    } else {
        cli_upgrade_print(stdout, r);
    }
    json_decref(r);
    return AG_EX_OK;
}

static int upgrade_op(int argc, char **argv, const char *op)
{
    char cmd[32];
    snprintf(cmd, sizeof cmd, "upgrade %s", op);
    cli_common cc;
    int rc = cli_parse(argc, argv, cmd, upop_usage, &cc, "", NULL, no_opts, NULL);
    if (rc)
        return rc < 0 ? AG_EX_OK : rc;
    if (optind != argc)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    json_t *r;
    if ((rc = cli_admin_call(&cc, "ha.upgrade", json_pack("{s:s}", "op", op), &r)) != 0)
        return rc;
    print_upgrade(&cc, r, op);
    json_decref(r);
    return AG_EX_OK;
}

static int cmd_uppause(int argc, char **argv) { return upgrade_op(argc, argv, "pause"); }
static int cmd_upresume(int argc, char **argv) { return upgrade_op(argc, argv, "resume"); }
static int cmd_upabort(int argc, char **argv) { return upgrade_op(argc, argv, "abort"); }

const ag_cmd ag_cmds_ha[] = {
    {"host cordon", cmd_cordon, "take no new VMs on a host (it keeps its own)", cordon_usage},
    {"host drain", cmd_drain, "move every VM off a host for maintenance", drain_usage},
    {"host undrain", cmd_undrain, "make a host active again (--failback: VMs come back)", undrain_usage},
    {"host degraded", cmd_degraded, "set or clear a host's operator degraded flag", degraded_usage},
    {"host unfreeze", cmd_unfreeze, "end the freeze of a host that is off (--confirm-off)", unfreeze_usage},
    {"vm protect", cmd_protect, "restart a VM elsewhere when its host fails", protect_usage},
    {"vm unprotect", cmd_unprotect, "take a VM out of HA", unprotect_usage},
    {"upgrade start", cmd_upstart, "rolling upgrade: one host at a time", upstart_usage},
    {"upgrade status", cmd_upstatus, "show the rolling upgrade", upstatus_usage},
    {"upgrade pause", cmd_uppause, "pause the rolling upgrade", upop_usage},
    {"upgrade resume", cmd_upresume, "resume a paused rolling upgrade", upop_usage},
    {"upgrade abort", cmd_upabort, "stop the rolling upgrade", upop_usage},
    {NULL, NULL, NULL, NULL},
};

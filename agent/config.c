/* config.c — table-driven INI parsing; see config.h. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum kind { K_STR, K_INT, K_DUR, K_ENUM };

struct key {
    const char *section, *name;
    enum kind kind;
    size_t off, size;        /* field offset and size (strings) */
    int64_t min, max;        /* ints and durations */
    const char *choices;     /* enums: "a|b|c" */
    const char *def;         /* default, as text */
    const char *help;
};

#define STR(sec, k, field, def, help) \
    {sec, k, K_STR, offsetof(ag_config, field), sizeof(((ag_config *)0)->field), 0, 0, NULL, def, help}
#define INT(sec, k, field, lo, hi, def, help) \
    {sec, k, K_INT, offsetof(ag_config, field), 0, lo, hi, NULL, def, help}
#define DUR(sec, k, field, lo, hi, def, help) \
    {sec, k, K_DUR, offsetof(ag_config, field), 0, lo, hi, NULL, def, help}
#define ENUM(sec, k, field, choices, def, help) \
    {sec, k, K_ENUM, offsetof(ag_config, field), sizeof(((ag_config *)0)->field), 0, 0, choices, def, help}

static const struct key keys[] = {
    STR("agent", "name", name, "", "host name shown to operators (default: the system hostname)"),
    STR("agent", "state_dir", state_dir, "/var/lib/drover", "identity keys and the LMDB store"),
    STR("agent", "control_socket", control_socket, "/run/drover/drover.sock",
        "unix socket the drover CLI talks to (created 0600)"),
    ENUM("agent", "log_level", log_level, "error|warn|info|debug", "info", "log verbosity"),
    INT("agent", "workers", workers, 1, 64, "4", "threads for blocking calls such as libvirt"),
    /* corosync runs SCHED_RR + mlockall by default because token loss under CPU and
     * memory pressure caused false failovers; the lease path here has the same need
     * (docs/ha.md "Stalls"). Workers (libvirt, fence and upgrade commands) stay normal. */
    INT("agent", "rt_priority", rt_priority, 0, 99, "10",
        "SCHED_RR priority of the agent's event loop and network threads; 0: normal scheduling"),
    ENUM("agent", "lock_memory", lock_memory, "yes|no", "yes",
         "lock the agent's memory (mlockall) so paging never stalls the lease path"),
    STR("cluster", "bind", bind, "127.0.0.1:7370", "address:port for cluster traffic"),
    STR("cluster", "advertise", advertise, "", "address:port peers use (default: bind)"),
    STR("cluster", "seeds", seeds, "", "comma-separated address:port of members to join through"),
    STR("cluster", "failure_domain", failure_domain, "", "rack/room label; voters are spread across them"),
    STR("cluster", "roster", roster, "",
        "static member roster (lines from `drover roster line`); empty: run alone"),
    /* 0 keeps the gossip core's own default, justified in gossip/config.c */
    DUR("gossip", "probe_interval", probe_interval_ms, 0, 60000, "0ms",
        "SWIM protocol period, one member probed per interval (0: core default, 200ms)"),
    DUR("gossip", "probe_timeout", probe_timeout_ms, 0, 30000, "0ms",
        "wait for a direct ack before indirect probes (0: core default, 100ms)"),
    DUR("gossip", "gossip_interval", gossip_interval_ms, 0, 60000, "0ms",
        "extra dissemination rounds between probes (0: core default, 100ms)"),
    INT("gossip", "suspicion_mult", suspicion_mult, 0, 32, "0",
        "Lifeguard alpha: suspicion min = alpha * max(1, log10 N) * probe interval (0: core default, 4)"),
    DUR("gossip", "status_interval", status_interval_ms, 100, 600000, "5s",
        "how often this host checks its status; the record is re-spread only when something "
        "placement uses changed, or every 5 minutes"),
    STR("libvirt", "uri", libvirt_uri, "qemu:///system", "libvirt connection URI"),
    DUR("ha", "fence_timeout", fence_timeout_ms, 1000, 600000, "2s",
        "an isolated host destroys its protected VMs after this long without quorum contact"),
    /* 2 s: a write+fdatasync of 4 KiB on healthy shared storage takes a few ms; seconds
     * mean the array or the path to it is failing, which hangs guests' I/O too */
    DUR("ha", "storage_latency_max", storage_latency_max_ms, 10, 600000, "2s",
        "a host whose shared-storage probe takes longer is degraded and evacuated"),
    /* never: a VM with host-local disks stays put and the drain says why; drain: copying
     * its disks is slow and needs room on the destination, so the operator opts in */
    ENUM("ha", "storage_migration", storage_migration, "never|drain", "never",
         "whether a drain may move VMs with host-local disks by copying them (storage migration)"),
    STR("ha", "fence_command", fence_command, "",
        "run by the coordinator when a host has failed (sh -c CMD drover-fence HOST ADDR; "
        "exit 0 = the host is off, e.g. via IPMI): its VMs restart without waiting out the lease"),
    /* no: a root shell command that arrives over the network runs only where the host's
     * own administrator said so (issue 12; Consul's disable_remote_exec is on by default
     * for the same reason). fence_command needs no such switch: it is this file's own. */
    ENUM("ha", "allow_upgrade_command", allow_upgrade_command, "no|yes", "no",
         "yes: run the rolling upgrade's command (`drover upgrade start --command`, as root "
         "through sh -c) on this host when its turn comes; no: refuse it, and the upgrade pauses"),
    /* 1 s: four lease reports missed (one every 250 ms) and gossip's probes failing too;
     * the agent's loop stalls for tens of ms under full load (docs/ha.md "Stalls"), so a
     * live host is never this silent on both channels at once */
    DUR("ha", "fence_after", fence_after_ms, 500, 600000, "1s",
        "with fence_command: a host that gossip suspects and that sent no lease report for "
        "this long has failed and is fenced (without suspicion: once gossip declares it dead)"),
    STR("ha", "watchdog", watchdog, "",
        "watchdog device (e.g. /dev/watchdog) that resets this host if the agent hangs while "
        "it runs protected VMs; empty: none. Needs fence_timeout >= watchdog_timeout + "
        "2 x election_timeout + 750ms"),
    /* 5 s: the agent's loop never blocks that long (libvirt and fsync run off it), and
     * every second here is a second more before a dead host's VMs restart */
    DUR("ha", "watchdog_timeout", watchdog_timeout_ms, 1000, 600000, "5s",
        "the watchdog resets the host this long after the agent's last keep-alive (whole seconds)"),
    INT("ha", "voters", voters, 1, 7, "3",
        "Raft voters chosen among the hosts (3 or 5; every other host is a learner)"),
    /* 500 ms: a dead coordinator is replaced in ~0.5-1.1 s (target <= 1 s, etcd 1.3-1.6 s)
     * while a loaded host still answers heartbeats (every 50 ms) well within it */
    DUR("ha", "election_timeout", election_timeout_ms, 50, 60000, "500ms",
        "Raft election timeout base (actual: random in [base, 2*base))"),
    DUR("ha", "heartbeat", heartbeat_ms, 10, 10000, "50ms", "Raft leader heartbeat period"),
    INT("ha", "snapshot_every", snapshot_every, 16, 10000000, "4096",
        "Raft: snapshot the replicated state every this many entries (a new host catches up from it)"),
};
#define NKEYS (sizeof keys / sizeof keys[0])

int ag_parse_duration_ms(const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return -1;
    double mul;
    if (strcmp(end, "ms") == 0)
        mul = 1;
    else if (strcmp(end, "s") == 0)
        mul = 1000;
    else if (strcmp(end, "m") == 0)
        mul = 60000;
    else if (strcmp(end, "h") == 0)
        mul = 3600000;
    else
        return -1;
    double ms = v * mul;
    if (ms > 9e15)
        return -1;
    *out = (int64_t)ms;
    return 0;
}

static int set_value(ag_config *c, const struct key *k, const char *val, char *why, size_t whylen)
{
    char *field = (char *)c + k->off;
    switch (k->kind) {
    case K_STR:
        if (strlen(val) >= k->size) {
            snprintf(why, whylen, "value too long (at most %zu characters)", k->size - 1);
            return -1;
        }
        snprintf(field, k->size, "%s", val);
        return 0;
    case K_ENUM: {
        size_t n = strlen(val);
        for (const char *p = k->choices; *p;) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            if (len == n && strncmp(p, val, n) == 0) {
                snprintf(field, k->size, "%s", val);
                return 0;
            }
            p += len + (bar ? 1 : 0);
        }
        snprintf(why, whylen, "'%s' is not one of %s", val, k->choices);
        return -1;
    }
    case K_INT: {
        char *end;
        errno = 0;
        long long v = strtoll(val, &end, 10);
        if (end == val || *end || errno || v < k->min || v > k->max) {
            snprintf(why, whylen, "'%s' is not a whole number from %lld to %lld", val,
                     (long long)k->min, (long long)k->max);
            return -1;
        }
        *(int64_t *)(void *)field = v;
        return 0;
    }
    case K_DUR: {
        int64_t ms;
        if (ag_parse_duration_ms(val, &ms) != 0 || ms < k->min || ms > k->max) {
            snprintf(why, whylen, "'%s' is not a duration from %lldms to %llds "
                     "(write it with a unit: 500ms, 2s, 1m)", val,
                     (long long)k->min, (long long)(k->max / 1000));
            return -1;
        }
        *(int64_t *)(void *)field = ms;
        return 0;
    }
    }
    return -1;
}

void ag_config_defaults(ag_config *c)
{
    memset(c, 0, sizeof *c);
    char why[128];
    for (size_t i = 0; i < NKEYS; i++)
        set_value(c, &keys[i], keys[i].def, why, sizeof why);
    if (gethostname(c->name, sizeof c->name - 1) != 0)
        snprintf(c->name, sizeof c->name, "host");
}

struct parse {
    ag_config *c;
    FILE *f;
    int line;
    int failed;
    char *err;
    size_t errlen;
};

/* inih hands lines to us through this reader, so we know which line a callback is on
 * (Debian's libinih is built without INI_HANDLER_LINENO). */
static char *reader(char *str, int num, void *stream)
{
    struct parse *p = stream;
    char *r = fgets(str, num, p->f);
    if (r)
        p->line++;
    return r;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    struct parse *p = user;
    if (p->failed)
        return 0;
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].section, section) != 0 || strcmp(keys[i].name, name) != 0)
            continue;
        char why[256];
        if (set_value(p->c, &keys[i], value, why, sizeof why) != 0) {
            snprintf(p->err, p->errlen, "%s:%d: [%s] %s: %s", p->c->path, p->line, section, name, why);
            p->failed = 1;
            return 0;
        }
        return 1;
    }
    /* help the operator: known section with an unknown key, or an unknown section */
    int section_known = 0;
    for (size_t i = 0; i < NKEYS; i++)
        section_known |= strcmp(keys[i].section, section) == 0;
    if (section_known)
        snprintf(p->err, p->errlen, "%s:%d: unknown key '%s' in [%s] (see `drover agent --print-config` "
                 "for every key)", p->c->path, p->line, name, section);
    else
        snprintf(p->err, p->errlen, "%s:%d: unknown section [%s] (known: agent, cluster, gossip, libvirt, ha)",
                 p->c->path, p->line, section);
    p->failed = 1;
    return 0;
}

int ag_config_load(ag_config *c, const char *path, char *err, size_t errlen)
{
    snprintf(c->path, sizeof c->path, "%s", path);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open config %s: %s", path, strerror(errno));
        return -2;
    }
    struct parse p = {.c = c, .f = f, .err = err, .errlen = errlen};
    int rc = ini_parse_stream(reader, &p, handler, &p);
    fclose(f);
    if (p.failed)
        return -1;
    if (rc != 0) {
        snprintf(err, errlen, "%s:%d: not valid INI (expected `[section]` or `key = value`)",
                 path, rc > 0 ? rc : p.line);
        return -1;
    }
    if (!c->advertise[0])
        snprintf(c->advertise, sizeof c->advertise, "%s", c->bind);
    return 0;
}

void ag_config_print_defaults(void *stream)
{
    FILE *f = stream;
    const char *sec = "";
    fprintf(f, "# drover.conf — every key with its default. Durations need a unit (ms, s, m, h).\n");
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(sec, keys[i].section) != 0) {
            sec = keys[i].section;
            fprintf(f, "\n[%s]\n", sec);
        }
        fprintf(f, "# %s%s%s\n%s%s = %s\n", keys[i].help, keys[i].choices ? ": " : "",
                keys[i].choices ? keys[i].choices : "", keys[i].def[0] ? "" : "# ",
                keys[i].name, keys[i].def);
    }
}

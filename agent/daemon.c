/* daemon.c — `drover agent`: load config and identity, open the store, bump the epoch,
 * serve the control socket, and run the loop until SIGTERM/SIGINT. */
#include "agent.h"
#include "cli.h"
#include "exitcodes.h"
#include "gossip_drv.h"
#include "ha_drv.h"
#include "ctl_place.h"
#include "log.h"
#include "ctl_vm.h"
#include "events.h"
#include "join.h"
#include "net.h"
#include "raft_drv.h"
#include "restore.h"
#include "rtsched.h"

#include <fcntl.h>
#include <getopt.h>
#include <sys/file.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

static const char agent_usage[] =
    "Usage: drover agent [-c FILE] [--print-config]\n"
    "\n"
    "Run the drover agent (the daemon) in the foreground. It needs an identity created by\n"
    "`drover init --state-dir DIR` with DIR = [agent] state_dir of the config.\n"
    "\n"
    "  -c, --config FILE  configuration (default /etc/drover/drover.conf; when that file\n"
    "                     does not exist, built-in defaults are used)\n"
    "  --print-config     print every configuration key with its default, and exit\n"
    "\nSIGTERM or SIGINT stop it cleanly: the cluster first freezes this host (its VMs run on\n"
    "and are left alone until the agent is back; up to 2 s), then the agent leaves.\n"
    "Exit: 0 clean stop, 78 bad config, 66 no identity, 71 cannot open store or socket,\n"
    "103 the state directory is older than what the cluster has seen from this host\n"
    "(restored from a backup or copied: re-join), 64 usage.\n";

static void on_leave_sent(ag_loop *l, ag_id id, void *ud)
{
    (void)id; (void)ud;
    ag_loop_stop(l);
}

/* A graceful stop first has the cluster freeze this host (ag_ha_stop_request: its VMs
 * run on and are left alone until the agent is back), then announces LEFT, so peers do
 * not spend a suspicion timeout on us. The grace period lets the announcement go out; a
 * second signal stops at once. */
#define LEAVE_GRACE_MS 300
/* How long a stopping agent waits for blocking work (deploy/drover.service gives the
 * whole stop TimeoutStopSec=45s; a live migration normally ends well within this). */
#define LOOP_QUIESCE_MS 30000

static void leave(ag_agent *a)
{
    ag_gossip_leave(a);
    ag_loop_timer(a->loop, LEAVE_GRACE_MS, 0, on_leave_sent, a);
}

static void on_stop(ag_loop *l, int signo, void *ud)
{
    ag_agent *a = ud;
    static int stopping;
    ag_info("signal %d: stopping", signo);
    sd_notify(0, "STOPPING=1");
    if (stopping++ || !a->gossip) {
        ag_loop_stop(l);
        return;
    }
    ag_ha_stop_request(a, leave);
}

/* "<what>_us_p50", _p99, _p999, _max: quantiles are bucket tops (latency.h) */
static void put_quantiles(json_t *o, const char *what, const ag_hist *h)
{
    static const struct { const char *name; uint32_t ppm; } q[] = {
        {"p50", 500000}, {"p99", 990000}, {"p999", 999000}, {"max", 1000000}};
    char key[64];
    for (size_t i = 0; i < sizeof q / sizeof q[0]; i++) {
        snprintf(key, sizeof key, "%s_us_%s", what, q[i].name);
        json_object_set_new(o, key, json_integer((json_int_t)ag_hist_quantile(h, q[i].ppm)));
    }
}

static json_t *lat_json(const ag_lat_set *s, uint64_t now_us)
{
    ag_hist run;   /* every kind together */
    ag_hist_reset(&run);
    json_t *by = json_object();
    for (int k = 0; k < AG_LAT_KINDS; k++) {
        ag_hist_merge(&run, &s->run[k]);
        json_t *o = json_pack("{s:I}", "callbacks", (json_int_t)ag_hist_count(&s->run[k]));
        put_quantiles(o, "run", &s->run[k]);
        json_object_set_new(by, ag_lat_kind_name((ag_lat_kind)k), o);
    }
    json_t *r = json_pack("{s:I,s:I,s:I,s:I}", "span_s", (json_int_t)(s->span_us / 1000000),
        "timers", (json_int_t)ag_hist_count(&s->lateness), "callbacks", (json_int_t)ag_hist_count(&run),
        "completions", (json_int_t)ag_hist_count(&s->done_wait));
    put_quantiles(r, "lateness", &s->lateness);
    put_quantiles(r, "run", &run);
    put_quantiles(r, "done_wait", &s->done_wait);
    json_object_set_new(r, "by_kind", by);
    const ag_lat_stall *w = &s->worst;
    json_object_set_new(r, "worst_stall", !w->run_us ? json_null() :
        json_pack("{s:I,s:s,s:s,s:I}", "run_us", (json_int_t)w->run_us, "kind", ag_lat_kind_name(w->kind),
                  "label", w->name, "ago_s", (json_int_t)((now_us - w->end_us) / 1000000)));
    return r;
}

/* The loop's latency figures (loop.h): since the start and over the last minute or two. */
static json_t *loop_json(const ag_loop *l)
{
    ag_loop_stats *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    ag_loop_latency(l, s);
    uint64_t now = ag_now_us();
    json_t *r = json_pack("{s:o,s:o}", "since_start", lat_json(&s->since_start, now),
                          "recent", lat_json(&s->recent, now));
    free(s);
    return r;
}

static void ctl_status(ag_ctl_req *req, json_t *args, void *ud)
{
    (void)args;
    ag_agent *a = ud;
    st_stats s;
    st_stat(a->store, &s);
    char hid[AG_HOST_ID_HEXLEN], fpr[AG_FPR_STRLEN];
    ag_hex(a->id.host_id, AG_HOST_ID_LEN, hid);
    ag_fingerprint(a->id.sign_pk, fpr);
    json_t *entries = json_object();
    for (int i = 0; i < ST_DB_COUNT; i++)
        json_object_set_new(entries, st_db_name((st_db)i), json_integer((json_int_t)s.entries[i]));
    json_t *rej = json_object();
    for (int i = 1; i < AG_ENV_ERR_COUNT; i++)
        json_object_set_new(rej, ag_env_errname(-i), json_integer((json_int_t)a->rejected[i]));
    json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:I,s:{s:s,s:I,s:I,s:I,s:I,s:o},s:o}",
        "name", a->cfg.name, "host_id", hid, "fingerprint", fpr, "version", DROVER_VERSION,
        "pid", (json_int_t)getpid(),
        "uptime_s", (json_int_t)((ag_now_ms() - a->started_ms) / 1000),
        "state_dir", a->cfg.state_dir, "control_socket", a->cfg.control_socket,
        "epoch", (json_int_t)a->epoch,
        "store", "path", st_path(a->store), "map_bytes", (json_int_t)s.map_bytes,
        "used_bytes", (json_int_t)s.used_bytes, "last_txnid", (json_int_t)s.last_txnid,
        "grows", (json_int_t)s.grows, "entries", entries,
        "rejected", rej);
    json_object_set_new(rej, "bad_payload", json_integer((json_int_t)a->rejected_payload));
    const ag_sealer *se = &a->sealer;   /* restore.h: notices sent and received, by verdict */
    json_object_set_new(r, "epoch_notices", json_pack("{s:I,s:I,s:I,s:I,s:I}",
        "sent", (json_int_t)a->peers.notices_sent, "held", (json_int_t)a->peers.notices_held,
        "received_stale", (json_int_t)se->notices_stale, "received_benign",
        (json_int_t)se->notices_benign, "received_bad", (json_int_t)se->notices_bad));
    json_t *g = ag_gossip_status_json(a);
    if (g)
        json_object_set_new(r, "gossip", g);
    json_t *rs = ag_raft_status_json(a);
    if (rs)
        json_object_set_new(r, "raft", rs);
    json_t *hs = ag_ha_status_json(a);
    if (hs)
        json_object_set_new(r, "ha", hs);
    json_t *jj = ag_join_status_json(a);   /* the join port's refusals, by reason */
    if (jj)
        json_object_set_new(r, "join", jj);
    json_t *lj = loop_json(a->loop);
    if (lj)
        json_object_set_new(r, "loop", lj);
    if (a->ctl) {   /* the control socket's own refusals (none is silent) */
        const ag_ctl_stats *cs = ag_ctl_get_stats(a->ctl);
        json_object_set_new(r, "ctl", json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "accepted",
                            (json_int_t)cs->accepted, "refused_peer", (json_int_t)cs->refused_peer,
                            "refused_full", (json_int_t)cs->refused_full, "refused_oversize",
                            (json_int_t)cs->refused_oversize, "refused_malformed",
                            (json_int_t)cs->refused_malformed, "dropped_idle", (json_int_t)cs->dropped_idle,
                            "frames_dropped", (json_int_t)cs->frames_dropped));
    }
    ag_ctl_finish(req, AG_EX_OK, r, NULL);
}

/* Before anything is sent: a state dir a peer has proven older than what the cluster
 * saw stays refused (restore.h); otherwise the epoch is bumped, within its bound. */
static int refuse_old_state(ag_agent *a)
{
    char msg[2048];
    size_t len = 0;
    int rc = st_get(a->store, ST_DB_META, AG_RESTORE_MARK, strlen(AG_RESTORE_MARK), msg,
                    sizeof msg - 1, &len);
    if (rc == 0) {
        msg[len < sizeof msg ? len : sizeof msg - 1] = 0;
        ag_err("refusing to start: %s", msg);
        return AG_EX_OLD_STATE;
    }
    if ((rc = st_bump_u64(a->store, "epoch", &a->epoch)) != 0) {
        ag_err("cannot persist the new epoch in %s: %s", st_path(a->store), mdb_strerror(rc));
        return AG_EX_OSERR;
    }
    if (a->epoch > AG_EPOCH_MAX) {   /* 2^32 starts: never in practice, but never wrap */
        ag_err("refusing to start: the epoch in %s passed 2^32 - 1 (request ids would wrap); "
               "move the state dir away and join again", st_path(a->store));
        return AG_EX_OLD_STATE;
    }
    return AG_EX_OK;
}

int ag_daemon_main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, 0, 'c'}, {"print-config", no_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *path = NULL;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        switch (o) {
        case 'c': path = optarg; break;
        case 'p': ag_config_print_defaults(stdout); return AG_EX_OK;
        case 'h': fputs(agent_usage, stdout); return AG_EX_OK;
        default: return cli_bad_option("agent", argv);
        }
    }
    if (optind != argc)
        return cli_usage_error("agent", "unexpected argument '%s'", argv[optind]);

    static ag_agent a;   /* one per process; static keeps its address stable for callbacks */
    char err[1024];
    ag_config_defaults(&a.cfg);
    const char *cfgpath = path ? path : "/etc/drover/drover.conf";
    int rc = ag_config_load(&a.cfg, cfgpath, err, sizeof err);
    if (rc == -1 || (rc == -2 && path)) {
        fprintf(stderr, "drover agent: %s\n", err);
        return AG_EX_CONFIG;
    }
    if (rc == -2)
        snprintf(a.cfg.advertise, sizeof a.cfg.advertise, "%s", a.cfg.bind);
    ag_log_set_level(ag_log_parse_level(a.cfg.log_level));

    /* One agent per state directory: two would interleave epochs and Raft writes. */
    char lockpath[AG_CFG_STR + 16];
    snprintf(lockpath, sizeof lockpath, "%s/agent.lock", a.cfg.state_dir);
    int lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lockfd >= 0 && flock(lockfd, LOCK_EX | LOCK_NB) != 0) {
        fprintf(stderr, "drover agent: another agent is already running with state directory %s "
                "(stop it first; one agent per host)\n", a.cfg.state_dir);
        close(lockfd);
        return AG_EX_OSERR;
    }
    if (ag_identity_load(a.cfg.state_dir, &a.id, err, sizeof err) != 0) {
        fprintf(stderr, "drover agent: %s\n", err);
        if (lockfd >= 0)
            close(lockfd);
        return AG_EX_NOINPUT;
    }
    int ex = AG_EX_OSERR;
    if (st_open(a.cfg.state_dir, &a.store, err, sizeof err) != 0) {
        ag_err("%s", err);
        goto err_after_identity;
    }
    if ((ex = refuse_old_state(&a)) != AG_EX_OK)
        goto err_after_store;
    ex = AG_EX_OSERR;
    a.loop = ag_loop_new((int)a.cfg.workers);
    if (!a.loop) {
        ag_err("cannot create the event loop (out of memory or threads)");
        goto err_after_store;
    }
    /* after the workers exist (they stay at normal priority), before the network
     * threads are created (they inherit the loop's) */
    ag_sched_apply(a.cfg.rt_priority, strcmp(a.cfg.lock_memory, "yes") == 0);
    if (ag_ctl_listen(a.loop, a.cfg.control_socket, &a.ctl, err, sizeof err) != 0) {
        ag_err("%s", err);
        goto err_after_loop;
    }
    ag_ctl_register(a.ctl, "status", ctl_status, &a);
    ag_events_start(&a);
    if (ag_vm_ctl_init(a.loop, a.ctl, a.cfg.libvirt_uri, &a.vm) != 0 ||
        ag_place_init(&a, &a.place) != 0) {
        ag_err("out of memory");
        goto err_after_ctl;
    }
    int nrc = ag_net_start(&a, err, sizeof err);
    if (nrc == 0)
        nrc = ag_join_start(&a, err, sizeof err);
    if (nrc) {
        ag_err("%s", err);
        ex = nrc;
        goto err_after_ctl;
    }
    ag_loop_on_signal(a.loop, SIGTERM, on_stop, &a);
    ag_loop_on_signal(a.loop, SIGINT, on_stop, &a);
    a.started_ms = ag_now_ms();

    char hid[AG_HOST_ID_HEXLEN];
    ag_hex(a.id.host_id, AG_HOST_ID_LEN, hid);
    ag_info("agent %s (host id %s) epoch %llu, control socket %s", a.cfg.name, hid,
            (unsigned long long)a.epoch, a.cfg.control_socket);
    ag_event(&a, "agent", json_pack("{s:I}", "epoch", (json_int_t)a.epoch), "agent %s started (version %s, epoch %llu)",
             a.cfg.name, DROVER_VERSION, (unsigned long long)a.epoch);
    sd_notifyf(0, "READY=1\nSTATUS=serving %s", a.cfg.control_socket);

    rc = ag_loop_run(a.loop);
    ex = rc == 0 ? AG_EX_OK : AG_EX_OSERR;
    if (a.sealer.stale)
        ex = AG_EX_OLD_STATE;   /* net.c said why; systemd must not restart us */
    if (rc)
        ag_err("event loop failed: %s", strerror(-rc));
    ag_event(&a, "agent", NULL, "agent %s stopping", a.cfg.name);
    /* Blocking work (libvirt calls, a migration) may still run on workers; nothing they
     * use may be freed under them. Past the bound we leave it to the process exit. */
    if (ag_loop_quiesce(a.loop, LOOP_QUIESCE_MS) != 0) {
        ag_warn("work still running on workers after %d s; exiting without tearing down",
                LOOP_QUIESCE_MS / 1000);
        sd_notify(0, "STATUS=exiting with work in flight");
        return ex;
    }
    ag_join_stop(&a);
    ag_net_stop(&a);
err_after_ctl:
    ag_events_stop(&a);
    ag_vm_ctl_free(a.vm);
    ag_place_free(a.place);
    ag_ctl_close(a.ctl);
err_after_loop:
    ag_loop_free(a.loop);
err_after_store:
    st_close(a.store);
err_after_identity:
    ag_identity_wipe(&a.id);
    if (lockfd >= 0)
        close(lockfd);
    ag_info("agent stopped");
    return ex;
}

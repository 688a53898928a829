/* ha_sim — deterministic simulation of the HA cores: one hac_coord (the Raft leader's),
 * one hac_fence per host, a fake hypervisor per host, a virtual clock and a virtual
 * network with delay, loss, late duplicates of commands, and partitions.
 *
 * Consensus is modelled, not run (tests/sim/raft proves the Raft core): proposals from a
 * coordinator that sits in the majority commit after a short delay into one global log;
 * every host applies that log when it can hear the majority; when the coordinator's host
 * dies or is cut off, a new coordinator is built from the committed state one election
 * later, with a higher term. A proposal in flight at that moment may commit or be lost.
 * "Quorum contact" for an agent is an answered ping while it is on the majority side.
 * Liveness fed to the coordinator is what gossip would say: alive until 500 ms without a
 * ping, suspect until 1000 ms, then dead.
 *
 * An agent back in contact after a fence or a reboot reconciles for 50-300 ms, refusing
 * commands meanwhile, as a real one does while its log catches up.
 *
 * Invariants checked after every 10 ms step:
 *   I1 no VM runs on two hosts at once;
 *   I2 no migration target and no restart destination is dead, suspect, cordoned,
 *      draining, in maintenance or degraded in the coordinator's view when decided;
 *   I3 at the end of a scenario every protected VM runs exactly once, on its owner (none
 *      at all once its guest powered it off and nobody started it again);
 *   I4 no START of a VM whose guest powered it off, once the cluster knows;
 *   I5 no protected VM that should run stays stopped longer than a bound derived from
 *      the configuration (leases, backoff, timeouts: setup) while a host could run it.
 *      (A frozen host's VMs wait for it, by design.)
 *   I6 no VM that ran on a host when its agent stopped cleanly (the host frozen) is
 *      destroyed while the host is frozen, and each still runs there once its agent is
 *      back and has unfrozen it (started elsewhere meanwhile, I1 fails first).
 * Forger (issue 12): before a third of the real results and inventories reach the
 * coordinator, another member sends a forged one: the result with the opposite outcome,
 * constraints barring a VM it does not own from every host. Each must be refused (-EPERM)
 * and change nothing; the forger draws from its own generator, so a seed's run is the
 * same with or without it.
 * Scenarios (seed % 6): drain, host death, isolation + heal, coordinator loss mid-drain,
 * rolling upgrade over 3 hosts, chaos (a random sequence of all of these plus reboots,
 * deaf hosts that self-fence while the coordinator still hears them and so refuse STARTs,
 * guests powering themselves off, VMs started by hand, and clean agent stops: the host
 * frozen, the agent away 3-20 s while its QEMUs run on, then back with its old lease). Seeds: argument or DROVER_SIM_SEEDS (default 1000);
 * DROVER_SIM_SEED=N replays one with its event trace. Prints JSON figures at the end.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hac.h"

#define HOSTS_MAX 6
#define VMS_MAX 16
#define MSGS_MAX 8192
#define LOG_MAX 8192
#define PENDING_MAX 512
#define STEP_MS 10u
#define PING_MS 100u
#define INV_MS 200u
#define SUSPECT_MS 500u
#define DEAD_MS 1000u
#define ELECTION_MS 1000u
#define SCENARIO_MS 120000u
#define RATE_MIN_PM 850u

typedef enum { M_CMD, M_RESULT, M_PING, M_PONG, M_INV } mkind;

typedef struct msg {
    mkind kind;
    uint32_t from, to; /* hosts; the coordinator's messages leave from its host */
    uint64_t at_ms;
    uint64_t term;     /* coordinator that sent / should receive it */
    hac_cmd cmd;
    bool ok;
    char text[64];
    uint64_t sent_ms;
    uint32_t vms[VMS_MAX], n_vms;
    hac_gen gens[VMS_MAX];
    uint32_t busy[VMS_MAX], n_busy;
    uint32_t down[VMS_MAX], n_down;
} msg;

typedef struct mig {
    bool on;
    uint32_t vm, to;
    uint64_t done_ms;
    uint64_t cmd_id, term;
    bool fail;
    bool cold; /* not running when asked: only the definition moves */
} mig;

typedef struct host {
    bool up;
    bool cut; /* isolated from everyone */
    bool running[VMS_MAX];
    bool off[VMS_MAX];          /* shut off by its guest here, not started since */
    uint64_t start_at[VMS_MAX]; /* pending start completes then (0 = none) */
    uint64_t start_cmd[VMS_MAX], start_term[VMS_MAX];
    mig migs[VMS_MAX];
    hac_fence fence;
    hac_rstate st;
    uint32_t applied; /* log entries applied */
    plc_version version;
    uint64_t back_at_ms; /* rebooting until then (0 = not) */
    bool deaf;           /* its requests reach the quorum, the answers do not */
    uint64_t sync_at_ms; /* back in contact: its log has caught up then (0 = not back) */
    uint64_t last_rx_ms; /* coordinator side: last ping received */
    uint32_t rate_pm;    /* agent clock rate, per mille of true time */
    /* Its agent stopped cleanly after the cluster froze the host (HAC_P_FREEZE): its QEMUs
     * run on, it answers nothing, and it is back at agent_back_ms with its saved lease
     * and its persisted copy of the state (same boot). */
    bool stopping;           /* asked for the freeze of its stop: no unfreeze now */
    bool stopped;
    uint64_t agent_back_ms;
    uint64_t saved_contact_ms;
    uint64_t epoch;          /* bumped at every agent start */
    uint64_t unfreeze_ms;    /* last unfreeze request (retried every second) */
    uint32_t req_n;          /* requests of this agent process (the stamp's low half) */
    bool kept[VMS_MAX];      /* I6: ran here when the agent stopped */
} host;

typedef struct pending {
    hac_prop p;
    uint64_t at_ms;
    uint64_t term;
} pending;

typedef struct sim {
    uint64_t seed, rng;
    uint64_t now;
    uint32_t n_hosts, n_vms;
    host h[HOSTS_MAX];
    hac_rstate truth;
    hac_prop *log;
    uint32_t log_n;
    pending pend[PENDING_MAX];
    uint32_t n_pend;
    msg *q;
    uint32_t n_q;
    hac_coord *coord;
    uint32_t coord_h;
    uint64_t term;
    uint64_t leaderless_since; /* 0 = a coordinator exists */
    hac_config cfg;
    hac_out *out;
    uint32_t loss_ppm;
    uint32_t mig_fail_pct;
    uint32_t dup_pct;
    bool trace;
    char fail[256];
    char events[64][256]; /* ring of the last events, printed on failure */
    uint32_t n_events;
    /* figures */
    uint64_t restart_ms;
    uint32_t guest_offs, hand_starts; /* chaos: how often each happened */
    uint32_t mig_failed[VMS_MAX]; /* injected failures so far per VM (at most one) */
    hac_live fed[HOSTS_MAX];  /* liveness last fed to the coordinator */
    bool degraded[HOSTS_MAX]; /* health signal bad */
    uint64_t deg_since[HOSTS_MAX];
    uint64_t down_since[VMS_MAX]; /* I5: stopped while a host could run it, since (0 = not) */
    uint64_t down_max_ms;         /* I5: the longest such stretch seen */
    uint64_t i5_ms;               /* I5: the bound, from the configuration (setup) */
    uint32_t deafs, refusals;     /* chaos: how often each happened */
    uint64_t forge_rng;           /* the forger's own generator */
    uint32_t forged, forged_refused;
    uint32_t agent_stops, stops_unconfirmed;
} sim;

static uint64_t rnd(sim *s)
{
    uint64_t x = s->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return s->rng = x;
}

static uint32_t rbelow(sim *s, uint32_t n)
{
    return n ? (uint32_t)(rnd(s) % n) : 0;
}

static void failf(sim *s, const char *what)
{
    if (!s->fail[0])
        snprintf(s->fail, sizeof s->fail, "t=%" PRIu64 " ms: %s", s->now, what);
}

static void note(sim *s, const char *who, const char *text)
{
    char *e = s->events[s->n_events++ % 64];
    snprintf(e, 256, "%7" PRIu64 " %.16s %.200s", s->now, who, text);
    if (s->trace)
        printf("%s\n", e);
}

/* Majority side: up, not cut, and the up-and-connected hosts are a majority of all. */
static bool quorum_side(const sim *s, uint32_t h)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_hosts; i++)
        n += s->h[i].up && !s->h[i].cut && !s->h[i].back_at_ms && !s->h[i].stopped;
    return s->h[h].up && !s->h[h].cut && !s->h[h].back_at_ms && !s->h[h].stopped && n * 2 > s->n_hosts;
}

/* The agent's clock: runs at rate_pm / 1000 of true time (the coordinator's clock is
 * true time). drift_pct 125 covers agents up to 20% slow; the sim draws 85%..115%. */
static uint64_t local_ms(const sim *s, uint32_t h)
{
    return s->now * s->h[h].rate_pm / 1000;
}

static bool can_talk(const sim *s, uint32_t a, uint32_t b)
{
    if (!s->h[a].up || !s->h[b].up || s->h[a].back_at_ms || s->h[b].back_at_ms ||
        s->h[a].stopped || s->h[b].stopped)
        return false;
    return a == b || (!s->h[a].cut && !s->h[b].cut);
}

static void send(sim *s, msg *m)
{
    if (!can_talk(s, m->from, m->to))
        return;
    if (m->from != m->to && rbelow(s, 1000000) < s->loss_ppm)
        return;
    if (s->n_q >= MSGS_MAX) {
        failf(s, "message queue full");
        return;
    }
    m->at_ms = s->now + 1 + rbelow(s, 30);
    s->q[s->n_q++] = *m;
    /* Duplicate nemesis: a command delivered again seconds later (a retransmission
     * stuck in a queue) must be refused by the fencing tokens when it is stale. */
    if (m->kind == M_CMD && s->n_q < MSGS_MAX && rbelow(s, 100) < s->dup_pct) {
        s->q[s->n_q] = *m;
        s->q[s->n_q++].at_ms = s->now + 1000 + rbelow(s, 4000);
    }
}

/* ---- coordinator side ---------------------------------------------------------- */

static hac_live live_of(const sim *s, uint32_t h)
{
    uint64_t quiet = s->now - s->h[h].last_rx_ms;
    return quiet < SUSPECT_MS ? HAC_ALIVE : quiet < DEAD_MS ? HAC_SUSPECT : HAC_DEAD;
}

static void check_target(sim *s, uint32_t to, const char *what, uint32_t vm)
{
    const hac_rstate *cs = hac_coord_state(s->coord);
    plc_admin a = cs->hosts[to].admin;
    char b[160];
    /* A bad health signal counts once a feed (every PING_MS) carried it. */
    bool deg = s->degraded[to] && s->now >= s->deg_since[to] + 2 * PING_MS;
    if (s->fed[to] != HAC_ALIVE || a != PLC_ADMIN_ACTIVE || cs->hosts[to].degraded_flag ||
        deg) {
        snprintf(b, sizeof b, "I2: %s of vm%u onto host %u (%s, %s%s)", what, vm, to,
                 hac_admin_name(a), s->fed[to] == HAC_ALIVE ? "alive" : "not alive",
                 deg ? ", degraded" : "");
        failf(s, b);
    }
}

static void coord_outputs(sim *s)
{
    hac_out *o = s->out;
    for (uint32_t i = 0; i < o->n; i++) {
        hac_out_item *it = &o->items[i];
        if (it->kind == HAC_O_EVENT) {
            note(s, "coord", it->text);
            /* A restart decision is an OWNER proposal with this event (a re-placement
             * after a refused START counts no extra restart, so the count cannot tell);
             * adopting a VM where it was reported and finishing a move are not
             * placements. */
            if (strstr(it->text, ": restart on ") && it->host >= 0 && it->vm >= 0)
                check_target(s, (uint32_t)it->host, "restart", (uint32_t)it->vm);
        } else if (it->kind == HAC_O_PROPOSE) {
            if (it->prop.kind == HAC_P_MOVING && it->prop.owner >= 0)
                check_target(s, (uint32_t)it->prop.owner, "migration", it->prop.index);
            if (quorum_side(s, s->coord_h) && s->n_pend < PENDING_MAX)
                s->pend[s->n_pend++] = (pending){it->prop, s->now + 5 + rbelow(s, 40), s->term};
        } else if (it->kind == HAC_O_CMD) {
            msg m = {.kind = M_CMD, .from = s->coord_h, .term = s->term, .cmd = it->cmd};
            m.to = it->cmd.kind == HAC_CMD_MIGRATE ? it->cmd.from : it->cmd.to;
            send(s, &m);
        }
    }
    if (o->n_dropped)
        failf(s, "coordinator outputs dropped");
    o->n = o->n_dropped = 0;
}

/* The forger's draw in [0, n), from its own generator. */
static uint32_t fbelow(sim *s, uint32_t n)
{
    uint64_t x = s->forge_rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s->forge_rng = x;
    return n ? (uint32_t)(x % n) : 0;
}

/* A member other than the true sender says IN (issue 12): refused whole, or (a result for
 * no command in flight) without effect; anything it emits is a failure. */
static void forged_step(sim *s, const hac_input *in)
{
    if (s->coord == NULL)
        return;
    hac_event ev = {.now_ms = s->now, .in = in};
    uint32_t before = s->out->n;
    int rc = hac_coord_step(s->coord, &ev, s->out);
    s->forged++;
    if (rc == -EPERM)
        s->forged_refused++;
    else if (in->kind == HAC_IN_CONSTRAINTS || rc != 0)
        failf(s, "a forged input was not refused");
    if (rc == -EPERM && s->out->n != before)
        failf(s, "a refused forged input emitted outputs");
}

/* Before a third of the real reports from FROM: a forged copy from another member. */
static void forge(sim *s, const hac_input *real, uint32_t from)
{
    if (s->n_hosts < 2 || fbelow(s, 3) != 0)
        return;
    uint32_t liar = (from + 1 + fbelow(s, s->n_hosts - 1)) % s->n_hosts;
    hac_input f = *real;
    f.host = liar;
    if (real->kind == HAC_IN_RESULT) {
        f.ok = !real->ok;
        snprintf(f.text, sizeof f.text, "forged by %u", liar);
        forged_step(s, &f);
        return;
    }
    uint32_t v = fbelow(s, s->n_vms);
    if (s->truth.vms[v].owner == (int32_t)liar || v >= hac_coord_state(s->coord)->n_vms)
        return;
    hac_input k = {.kind = HAC_IN_CONSTRAINTS, .host = liar, .vm = v, .must_not = ~0ull};
    forged_step(s, &k);
}

static void coord_step(sim *s, const hac_input *in)
{
    if (s->coord == NULL)
        return;
    hac_event ev = {.now_ms = s->now, .in = in};
    if (hac_coord_step(s->coord, &ev, s->out) < 0)
        failf(s, "hac_coord_step failed");
    coord_outputs(s);
}

static void new_coordinator(sim *s)
{
    uint32_t pick = UINT32_MAX;
    for (uint32_t k = 0; k < s->n_hosts && pick == UINT32_MAX; k++) {
        uint32_t h = (s->coord_h + 1 + k) % s->n_hosts;
        if (quorum_side(s, h))
            pick = h;
    }
    if (pick == UINT32_MAX)
        return;
    s->coord_h = pick;
    s->term++;
    s->coord = hac_coord_new(&s->cfg, &s->truth, s->term);
    s->leaderless_since = 0;
    /* It has heard nobody yet: count every host as heard now (conservative: a lease
     * can only end later than it really does). */
    for (uint32_t h = 0; h < s->n_hosts; h++)
        s->h[h].last_rx_ms = s->now;
    char b[64];
    snprintf(b, sizeof b, "new coordinator on host %u, term %" PRIu64, pick, s->term);
    note(s, "sim", b);
}

static void drop_coordinator(sim *s)
{
    hac_coord_free(s->coord);
    s->coord = NULL;
    s->leaderless_since = s->now ? s->now : 1;
    /* An uncommitted entry of the old leader survives or not. */
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n_pend; i++)
        if (rbelow(s, 2))
            s->pend[k++] = s->pend[i];
    s->n_pend = k;
}

static void commit_due(sim *s)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < s->n_pend; i++) {
        pending *p = &s->pend[i];
        if (p->at_ms > s->now) {
            s->pend[k++] = *p;
            continue;
        }
        if (s->log_n >= LOG_MAX) {
            failf(s, "log full");
            continue;
        }
        int rc = hac_apply(&s->truth, &p->p);
        s->log[s->log_n++] = p->p;
        hac_input in = {.kind = HAC_IN_COMMIT, .prop = &p->p, .commit_rc = rc};
        coord_step(s, &in);
    }
    s->n_pend = k;
}

/* ---- agent side ------------------------------------------------------------------ */

static void reply(sim *s, uint32_t h, const hac_cmd *cmd, bool ok, const char *text)
{
    msg m = {.kind = M_RESULT, .from = h, .to = s->coord_h, .term = cmd->term, .cmd = *cmd,
             .ok = ok};
    snprintf(m.text, sizeof m.text, "%s", text ? text : "");
    send(s, &m);
}

static void fence_outputs(sim *s, uint32_t h)
{
    hac_out *o = s->out;
    host *x = &s->h[h];
    for (uint32_t i = 0; i < o->n; i++) {
        hac_out_item *it = &o->items[i];
        char who[16], b[HAC_TEXT_MAX + 32];
        snprintf(who, sizeof who, "host%u", h);
        if (it->kind == HAC_O_DESTROY) {
            if (x->kept[it->vm] && s->truth.hosts[h].frozen) {
                char f[HAC_TEXT_MAX + 64];
                snprintf(f, sizeof f, "I6: vm%d of frozen host%u destroyed: %s", it->vm, h, it->text);
                failf(s, f);
            }
            x->running[it->vm] = false;
            x->start_at[it->vm] = 0;
            snprintf(b, sizeof b, "destroy vm%d: %s", it->vm, it->text);
            note(s, who, b);
        } else if (it->kind == HAC_O_REFUSE) {
            s->refusals += it->cmd.kind == HAC_CMD_START;
            snprintf(b, sizeof b, "refuse cmd %" PRIu64 ": %s", it->cmd.id, it->text);
            note(s, who, b);
            reply(s, h, &it->cmd, false, it->text);
        } else if (it->kind == HAC_O_EXEC) {
            const hac_cmd *c = &it->cmd;
            snprintf(b, sizeof b, "exec cmd %" PRIu64 " kind %d vm%u %u->%u gen %" PRIu64,
                     c->id, (int)c->kind, c->vm, c->from, c->to, c->generation);
            note(s, who, b);
            if (c->kind == HAC_CMD_START) {
                if (!s->truth.vms[c->vm].want_running) {
                    char f[96];
                    snprintf(f, sizeof f, "I4: START of vm%u on host%u after its guest shut it down", c->vm, h);
                    failf(s, f);
                }
                x->off[c->vm] = false;
                if (x->running[c->vm]) {
                    reply(s, h, c, true, NULL);
                } else if (!x->start_at[c->vm]) {
                    x->start_at[c->vm] = s->now + 20 + rbelow(s, 80);
                    x->start_cmd[c->vm] = c->id;
                    x->start_term[c->vm] = c->term;
                }
            } else if (c->kind == HAC_CMD_MIGRATE) {
                mig *g = &x->migs[c->vm];
                if (g->on) {
                    reply(s, h, c, false, "migration already running");
                } else {
                    *g = (mig){.on = true, .vm = c->vm, .to = c->to,
                               .done_ms = s->now + 100 + rbelow(s, 300), .cmd_id = c->id,
                               .term = c->term,
                               .fail = !s->mig_failed[c->vm] && rbelow(s, 100) < s->mig_fail_pct,
                               .cold = !x->running[c->vm]};
                }
            } else if (c->kind == HAC_CMD_RUN) {
                /* The harmless upgrade: answer, then reboot into a newer version. */
                reply(s, h, c, true, NULL);
                x->version++;
                x->back_at_ms = s->now + 300 + rbelow(s, 400);
            }
        }
    }
    o->n = o->n_dropped = 0;
}

static void fence_in(sim *s, uint32_t h, const hac_fence_input *in)
{
    if (s->h[h].stopped)
        return;   /* its agent is not running: nothing to feed (a hand start, a migration
                   * that lands here: it sees them when it is back) */
    if (hac_fence_step(&s->h[h].fence, local_ms(s, h), in, s->out) < 0)
        failf(s, "hac_fence_step failed");
    fence_outputs(s, h);
}

static void local_report(sim *s, uint32_t h)
{
    uint32_t vms[VMS_MAX], n = 0;
    for (uint32_t v = 0; v < s->n_vms; v++)
        if (s->h[h].running[v])
            vms[n++] = v;
    hac_fence_input in = {.kind = HAC_FIN_LOCAL, .vms = vms, .n_vms = n, .state = &s->h[h].st};
    fence_in(s, h, &in);
}

static void catch_up(sim *s, uint32_t h)
{
    host *x = &s->h[h];
    while (x->applied < s->log_n)
        (void)hac_apply(&x->st, &s->log[x->applied++]);
}

static void host_boot(sim *s, uint32_t h)
{
    host *x = &s->h[h];
    hac_fence_init(&x->fence, h, s->cfg.fence_timeout_ms);
    x->back_at_ms = 0;
    x->sync_at_ms = 0;
    local_report(s, h);
}

static void kill_host(sim *s, uint32_t h)
{
    host *x = &s->h[h];
    x->up = false;
    memset(x->running, 0, sizeof x->running);
    memset(x->off, 0, sizeof x->off);   /* after a reboot libvirt no longer says why they stopped */
    memset(x->start_at, 0, sizeof x->start_at);
    memset(x->migs, 0, sizeof x->migs);
    char b[32];
    snprintf(b, sizeof b, "kill host %u", h);
    note(s, "sim", b);
}

static void agent_back(sim *s, uint32_t h);
static void ask_unfreeze(sim *s, uint32_t h);
static void kept_check(sim *s, uint32_t h);

static void agent_tick(sim *s, uint32_t h)
{
    host *x = &s->h[h];
    if (!x->up)
        return;
    if (x->stopped) {
        if (s->now < x->agent_back_ms)
            return;
        agent_back(s, h);
    }
    ask_unfreeze(s, h);
    kept_check(s, h);
    if (x->back_at_ms) {
        if (s->now < x->back_at_ms)
            return;
        host_boot(s, h);
    }
    bool changed = false;
    for (uint32_t v = 0; v < s->n_vms; v++) {
        if (x->start_at[v] && s->now >= x->start_at[v]) {
            x->start_at[v] = 0;
            x->running[v] = true;
            changed = true;
            hac_cmd c = {.kind = HAC_CMD_START, .id = x->start_cmd[v], .term = x->start_term[v],
                         .vm = v, .to = h};
            reply(s, h, &c, true, NULL);
        }
        mig *g = &x->migs[v];
        if (g->on && s->now >= g->done_ms) {
            g->on = false;
            hac_cmd c = {.kind = HAC_CMD_MIGRATE, .id = g->cmd_id, .term = g->term, .vm = v,
                         .from = h, .to = g->to};
            host *d = &s->h[g->to];
            const char *why = !g->cold && !x->running[v]   ? "vm gone on source"
                            : !can_talk(s, h, g->to)       ? "destination unreachable"
                            : d->fence.mode != HAC_FM_ACTIVE ? "destination not active"
                            : g->fail                       ? "simulated migration failure"
                                                            : NULL;
            if (g->fail)
                s->mig_failed[v]++;
            char nb[96];
            snprintf(nb, sizeof nb, "migration of vm%u to host%u: %s%s", v, g->to,
                     why ? why : "done", g->cold ? " (cold)" : "");
            note(s, "sim", nb);
            if (why == NULL && !g->cold) {
                x->running[v] = false; /* switch-over: source stops as target resumes */
                d->running[v] = true;
                changed = true;
                local_report(s, g->to);
            }
            reply(s, h, &c, why == NULL, why);
        }
    }
    if (changed)
        local_report(s, h);
    if (s->now % PING_MS == (h * STEP_MS) % PING_MS) {
        if (s->coord) {
            msg m = {.kind = M_PING, .from = h, .to = s->coord_h, .sent_ms = local_ms(s, h)};
            send(s, &m);
        } else if (quorum_side(s, h)) {
            /* Between coordinators the quorum still answers; the next coordinator
             * counts every host as heard at its start, which is later. */
            msg p = {.kind = M_PONG, .from = h, .to = h, .sent_ms = local_ms(s, h)};
            send(s, &p);
        }
    }
    if (s->now % INV_MS == (h * 3 * STEP_MS) % INV_MS && s->coord) {
        msg m = {.kind = M_INV, .from = h, .to = s->coord_h, .term = s->term};
        for (uint32_t v = 0; v < s->n_vms; v++) {
            if (x->running[v]) {
                m.gens[m.n_vms] = x->st.vms[v].generation;
                m.vms[m.n_vms++] = v;
            } else if (x->off[v] && x->st.vms[v].generation == s->truth.vms[v].generation) {
                m.down[m.n_down++] = v;
            }
            if (x->migs[v].on)
                m.busy[m.n_busy++] = v;
        }
        send(s, &m);
    }
    hac_fence_input t = {.kind = HAC_FIN_TICK};
    fence_in(s, h, &t);
}

static void deliver(sim *s, msg *m)
{
    /* What was sent before the sender died still arrives; a cut drops it. */
    const host *f = &s->h[m->from], *t = &s->h[m->to];
    if (!t->up || t->back_at_ms || t->stopped || (m->from != m->to && (f->cut || t->cut)))
        return;
    host *x = &s->h[m->to];
    switch (m->kind) {
    case M_CMD: {
        catch_up(s, m->to);
        hac_fence_input in = {.kind = HAC_FIN_COMMAND, .cmd = m->cmd, .state = &x->st};
        fence_in(s, m->to, &in);
        break;
    }
    case M_PONG: {
        if (!quorum_side(s, m->to) || x->deaf)
            break;
        catch_up(s, m->to);
        hac_fence_input c = {.kind = HAC_FIN_CONTACT, .sent_ms = m->sent_ms};
        fence_in(s, m->to, &c);
        /* An agent back in contact (after a fence or a reboot) catches up with the log
         * before it says so: 50-300 ms in which it refuses commands as reconciling. */
        if (x->fence.mode == HAC_FM_RECONCILE) {
            if (!x->sync_at_ms)
                x->sync_at_ms = s->now + 50 + rbelow(s, 250);
            if (s->now < x->sync_at_ms)
                break;
        }
        x->sync_at_ms = 0;
        hac_fence_input y = {.kind = HAC_FIN_SYNCED, .state = &x->st};
        fence_in(s, m->to, &y);
        break;
    }
    case M_PING:
        if (s->coord && m->to == s->coord_h && quorum_side(s, s->coord_h)) {
            /* Recorded before answering: the answer's sent_ms <= this time. */
            s->h[m->from].last_rx_ms = s->now;
            msg p = {.kind = M_PONG, .from = s->coord_h, .to = m->from, .sent_ms = m->sent_ms};
            send(s, &p);
        }
        break;
    case M_INV:
        if (s->coord && m->to == s->coord_h && m->term == s->term) {
            hac_input in = {.kind = HAC_IN_INVENTORY, .host = m->from, .vms = m->vms,
                            .gens = m->gens, .n_vms = m->n_vms, .busy = m->busy,
                            .n_busy = m->n_busy, .down = m->down, .n_down = m->n_down};
            forge(s, &in, m->from);
            coord_step(s, &in);
        }
        break;
    case M_RESULT:
        if (s->coord && m->to == s->coord_h && m->term == s->term) {
            hac_input in = {.kind = HAC_IN_RESULT, .host = m->from, .cmd_id = m->cmd.id, .ok = m->ok};
            snprintf(in.text, sizeof in.text, "%s", m->text);
            forge(s, &in, m->from);
            coord_step(s, &in);
        }
        break;
    }
}

/* ---- agent stop and restart (issue 11, point 3b) ----------------------------------- */

/* A FREEZE request of host H's agent, committed through the coordinator like any
 * proposal; its stamp grows with every request (epoch << 32 | count). */
static uint64_t ask_freeze(sim *s, uint32_t h, bool frozen)
{
    host *x = &s->h[h];
    if (!s->coord || s->n_pend >= PENDING_MAX)
        return 0;
    hac_prop p = {.kind = HAC_P_FREEZE, .index = h, .frozen = frozen, .stamp = x->epoch << 32 | ++x->req_n,
                  .at_ms = s->now};
    s->pend[s->n_pend++] = (pending){p, s->now + 5 + rbelow(s, 40), s->term};
    return p.stamp;
}

/* Back in contact and reconciled, the agent unfreezes its host (every second until its
 * copy of the state shows it). */
static void ask_unfreeze(sim *s, uint32_t h)
{
    host *x = &s->h[h];
    if (!x->st.hosts[h].frozen || x->stopping || x->fence.mode != HAC_FM_ACTIVE || !s->coord ||
        !can_talk(s, h, s->coord_h) || s->now < x->unfreeze_ms + 1000)
        return;
    x->unfreeze_ms = s->now;
    if (ask_freeze(s, h, false))
        note(s, "sim", "agent asks to unfreeze");
}

/* I6: once its host is unfrozen, every guest that ran when the agent stopped still runs
 * there (or its guest powered it off): nothing was destroyed or restarted meanwhile. */
static void kept_check(sim *s, uint32_t h)
{
    host *x = &s->h[h];
    if (x->stopped || s->truth.hosts[h].frozen)
        return;
    for (uint32_t v = 0; v < s->n_vms; v++) {
        if (x->kept[v] && !x->running[v] && !x->off[v]) {
            char b[96];
            snprintf(b, sizeof b, "I6: vm%u ran on host%u when its agent stopped and is gone after the unfreeze", v, h);
            failf(s, b);
        }
        x->kept[v] = false;
    }
}

/* The agent starts again in the same boot: its lease as saved at the stop (long over by
 * now), its persisted copy of the state, a new epoch. */
static void agent_back(sim *s, uint32_t h)
{
    host *x = &s->h[h];
    x->stopped = false;
    x->epoch++;
    x->req_n = 0;
    x->unfreeze_ms = 0;
    hac_fence_init(&x->fence, h, s->cfg.fence_timeout_ms);
    hac_fence_same_boot(&x->fence);
    hac_fence_input c = {.kind = HAC_FIN_CONTACT, .sent_ms = x->saved_contact_ms, .state = &x->st};
    fence_in(s, h, &c);
    local_report(s, h);
    note(s, "sim", "agent back");
}

/* ---- the loop --------------------------------------------------------------------- */

/* Host H could run VM V now, as the truth has it: up, in contact and active (not fenced,
 * not reconciling, not deaf), admin active, health good for longer than the coordinator's
 * recovery hysteresis, and with room for V counting every VM that runs there, is owned
 * there or is moving there (more than placement counts: never a false alarm). */
static bool able_for(const sim *s, uint32_t h, uint32_t v)
{
    const host *x = &s->h[h];
    if (!x->up || x->cut || x->deaf || x->back_at_ms || x->stopped || x->fence.mode != HAC_FM_ACTIVE)
        return false;
    if (s->truth.hosts[h].admin != PLC_ADMIN_ACTIVE || s->truth.hosts[h].degraded_flag ||
        s->degraded[h] || s->now < s->deg_since[h] + s->cfg.recover_after_ms + 2 * PING_MS)
        return false;
    uint64_t used = 0;
    for (uint32_t u = 0; u < s->n_vms; u++) {
        const hac_rvm *m = &s->truth.vms[u];
        if (u != v && (x->running[u] || x->start_at[u] || m->owner == (int32_t)h ||
                       m->moving_to == (int32_t)h))
            used += m->mem_mib;
    }
    return used + s->truth.vms[v].mem_mib <= 4096;
}

/* I5: a protected VM that should run is stopped — running nowhere, no start or
 * migration of it under way — while some host could run it, for no longer than i5_ms.
 * A VM protected while its owner was away may run only there until the owner has
 * acknowledged it (hac.h): for it, only the owner counts. */
static void check_i5(sim *s)
{
    for (uint32_t v = 0; v < s->n_vms; v++) {
        const hac_rvm *m = &s->truth.vms[v];
        /* a frozen host's VMs wait for it (or an operator), by design */
        bool stopped = m->protected_ && m->want_running &&
                       !(m->owner >= 0 && s->truth.hosts[m->owner].frozen);
        for (uint32_t h = 0; h < s->n_hosts && stopped; h++)
            stopped = !s->h[h].running[v] && !s->h[h].start_at[v] && !s->h[h].migs[v].on;
        bool could = false;
        if (stopped && !m->prot_acked)
            could = m->owner >= 0 && able_for(s, (uint32_t)m->owner, v);
        for (uint32_t h = 0; h < s->n_hosts && stopped && m->prot_acked && !could; h++)
            could = able_for(s, h, v);
        if (!stopped || !could) {
            s->down_since[v] = 0;
            continue;
        }
        if (!s->down_since[v])
            s->down_since[v] = s->now;
        uint64_t d = s->now - s->down_since[v];
        if (d > s->down_max_ms)
            s->down_max_ms = d;
        if (d > s->i5_ms) {
            char b[128];
            snprintf(b, sizeof b, "I5: vm%u stopped for %" PRIu64 " ms while a host could run it",
                     v, d);
            failf(s, b);
        }
    }
}

static void invariants(sim *s)
{
    for (uint32_t v = 0; v < s->n_vms; v++) {
        uint32_t n = 0;
        for (uint32_t h = 0; h < s->n_hosts; h++)
            n += s->h[h].running[v];
        if (n > 1) {
            char b[64];
            snprintf(b, sizeof b, "I1: vm%u runs on %u hosts", v, n);
            failf(s, b);
        }
    }
    check_i5(s);
}

static void step(sim *s)
{
    s->now += STEP_MS;
    /* deliver due messages in arrival order (stable: ties keep send order) */
    for (;;) {
        uint32_t best = UINT32_MAX;
        for (uint32_t i = 0; i < s->n_q; i++)
            if (s->q[i].at_ms <= s->now && (best == UINT32_MAX || s->q[i].at_ms < s->q[best].at_ms))
                best = i;
        if (best == UINT32_MAX)
            break;
        msg m = s->q[best];
        memmove(&s->q[best], &s->q[best + 1], (s->n_q - best - 1) * sizeof *s->q);
        s->n_q--;
        deliver(s, &m);
    }
    commit_due(s);
    if (s->coord && !quorum_side(s, s->coord_h))
        drop_coordinator(s);
    if (!s->coord && s->leaderless_since && s->now >= s->leaderless_since + ELECTION_MS)
        new_coordinator(s);
    if (s->coord && s->now % PING_MS == 0) {
        for (uint32_t h = 0; h < s->n_hosts; h++) {
            s->fed[h] = live_of(s, h);
            hac_input in = {.kind = HAC_IN_HOST, .host = h, .live = s->fed[h],
                            .last_ack_ms = s->h[h].last_rx_ms, .version = s->h[h].version,
                            .mem_mib = 4096, .cpus = 8, .degraded = s->degraded[h]};
            coord_step(s, &in);
        }
    }
    for (uint32_t h = 0; h < s->n_hosts; h++)
        agent_tick(s, h);
    invariants(s);
}

static void run_until(sim *s, uint64_t ms)
{
    while (s->now < ms && !s->fail[0])
        step(s);
}

/* Steps until every protected VM runs exactly once on its committed owner and nothing
 * is in flight, or the deadline passes. */
static bool settled(sim *s)
{
    for (uint32_t v = 0; v < s->n_vms; v++) {
        const hac_rvm *m = &s->truth.vms[v];
        uint32_t n = 0;
        for (uint32_t h = 0; h < s->n_hosts; h++)
            n += s->h[h].running[v];
        if (m->protected_ && m->want_running && (n != 1 || m->owner < 0 || !s->h[m->owner].running[v]))
            return false;
        if (m->protected_ && !m->want_running && n != 0)
            return false;
        if (m->moving_to >= 0)
            return false;
    }
    for (uint32_t h = 0; h < s->n_hosts; h++)
        if (s->truth.hosts[h].frozen)
            return false;   /* an agent back from a stop unfreezes its host */
    return s->n_pend == 0;
}

static void settle(sim *s, uint64_t deadline_ms, const char *what)
{
    while (!s->fail[0] && !settled(s) && s->now < deadline_ms)
        step(s);
    if (!s->fail[0] && !settled(s)) {
        char b[200];
        snprintf(b, sizeof b, "I3: %s: not settled by %" PRIu64 " ms", what, deadline_ms);
        failf(s, b);
    }
}

/* A clean stop (systemctl stop or restart, a package upgrade): the agent finishes its
 * jobs, asks the cluster to freeze its host and waits up to 2 s for its copy of the state
 * to show its own freeze; then it stops for ABSENCE_MS while its QEMUs run on. Not
 * confirmed, the real agent stops all the same and the lease decides (the path from
 * before the freeze: without a watchdog or lock manager a VM may then run twice); the
 * simulator does not model that one and lets the agent go on. */
static bool agent_stop(sim *s, uint32_t h, uint64_t absence_ms)
{
    host *x = &s->h[h];
    bool busy = !x->up || x->back_at_ms || x->stopped || x->cut || x->deaf || x->fence.mode != HAC_FM_ACTIVE;
    for (uint32_t v = 0; v < s->n_vms && !busy; v++)
        busy = x->migs[v].on || x->start_at[v];
    if (busy)
        return false;
    s->agent_stops++;
    uint64_t stamp = ask_freeze(s, h, true), until = s->now + 2000;
    x->stopping = true;
    while (stamp && !s->fail[0] && s->now < until &&
           !(x->st.hosts[h].frozen && x->st.hosts[h].agent_stamp == stamp))
        step(s);
    x->stopping = false;
    if (!stamp || !x->st.hosts[h].frozen || x->st.hosts[h].agent_stamp != stamp) {
        s->stops_unconfirmed++;
        note(s, "sim", "agent stop: freeze not confirmed in 2 s, the agent goes on");
        return false;
    }
    x->stopped = true;
    x->agent_back_ms = s->now + absence_ms;
    x->saved_contact_ms = x->fence.last_contact_ms;
    memcpy(x->kept, x->running, sizeof x->kept);
    char b[80];
    snprintf(b, sizeof b, "agent of host%u stops for %" PRIu64 " ms (host frozen)", h, absence_ms);
    note(s, "sim", b);
    return true;
}

static void admin(sim *s, hac_admin_req req, uint32_t h)
{
    hac_input in = {.kind = HAC_IN_ADMIN, .req = req, .host = h};
    coord_step(s, &in);
}

static void setup(sim *s, uint64_t seed)
{
    memset(s->h, 0, sizeof s->h);
    memset(s->degraded, 0, sizeof s->degraded);
    memset(s->mig_failed, 0, sizeof s->mig_failed);
    memset(s->fed, 0, sizeof s->fed);
    s->guest_offs = s->hand_starts = 0;
    s->deafs = s->refusals = 0;
    s->forged = s->forged_refused = 0;
    s->forge_rng = seed * 0xD1B54A32D192ED03ull + 7;
    s->agent_stops = s->stops_unconfirmed = 0;
    s->down_max_ms = 0;
    s->seed = seed;
    s->rng = seed * 0x9E3779B97F4A7C15ull + 1;
    s->now = 0;
    s->n_hosts = 4 + rbelow(s, 2);
    s->n_vms = 6 + rbelow(s, 7);
    s->loss_ppm = 10000; /* 1% */
    s->mig_fail_pct = 5;
    s->dup_pct = 5;
    s->log_n = s->n_pend = s->n_q = 0;
    s->fail[0] = '\0';
    s->n_events = 0;
    s->restart_ms = 0;
    hac_config_default(&s->cfg);
    s->cfg.cmd_timeout_ms = 3000;
    s->cfg.degrade_after_ms = 300;
    s->cfg.recover_after_ms = 1000;
    s->cfg.plc.reserve_pct = 0;
    s->cfg.restart_backoff_ms = 500;
    s->cfg.restart_backoff_max_ms = 4000;
    /* I5's bound, the waits a stopped VM may meet in a row while some host could run it:
     * its owner's lease (F x drift, + one ping period for gossip to notice), once more
     * for a new coordinator (which counts every host as acked at its start) after an
     * election; its backoff and the hold on a host that refused it (each at most
     * restart_backoff_max_ms); a lost START, its resend and a lost result
     * (start_timeout_ms each); a lost MIGRATE of a stopped VM (cmd_timeout_ms, then the
     * orphan rule's report); a proposal lost with its coordinator (propose_timeout_ms);
     * and one report period to learn of it. */
    uint64_t lease = s->cfg.fence_timeout_ms * s->cfg.drift_pct / 100 + PING_MS;
    s->i5_ms = 2 * lease + ELECTION_MS + 2 * s->cfg.restart_backoff_max_ms +
               3 * s->cfg.start_timeout_ms + s->cfg.cmd_timeout_ms + INV_MS +
               s->cfg.propose_timeout_ms + INV_MS;
    memset(s->down_since, 0, sizeof s->down_since);
    hac_rstate_init(&s->truth);
    /* Bootstrap entries: the log every host starts from. */
    for (uint32_t h = 0; h < s->n_hosts; h++) {
        hac_prop p = {.kind = HAC_P_HOST_ADD};
        snprintf(p.host.name, sizeof p.host.name, "host%u", h);
        p.host.mem_mib = 4096;
        p.host.cpus = 8;
        hac_apply(&s->truth, &p);
        s->log[s->log_n++] = p;
    }
    for (uint32_t v = 0; v < s->n_vms; v++) {
        hac_prop p = {.kind = HAC_P_VM_ADD};
        snprintf(p.vm.name, sizeof p.vm.name, "vm%u", v);
        p.vm.mem_mib = 256u << rbelow(s, 2);
        p.vm.vcpus = 1;
        p.vm.protected_ = rbelow(s, 5) != 0;
        p.vm.priority = (int32_t)rbelow(s, 3);
        p.vm.restart_order = (int32_t)rbelow(s, 2);
        p.vm.want_running = true;
        p.vm.owner = (int32_t)rbelow(s, s->n_hosts);
        hac_apply(&s->truth, &p);
        s->log[s->log_n++] = p;
    }
    /* Agents first meet the quorum, then their guests start. */
    for (uint32_t h = 0; h < s->n_hosts; h++) {
        host *x = &s->h[h];
        x->up = true;
        x->version = 1000;
        x->rate_pm = RATE_MIN_PM + rbelow(s, 2 * (1000 - RATE_MIN_PM) + 1);
        hac_rstate_init(&x->st);
        catch_up(s, h);
        host_boot(s, h);
        hac_fence_input c = {.kind = HAC_FIN_CONTACT, .sent_ms = 0};
        fence_in(s, h, &c);
        hac_fence_input y = {.kind = HAC_FIN_SYNCED, .state = &x->st};
        fence_in(s, h, &y);
    }
    for (uint32_t v = 0; v < s->n_vms; v++)
        s->h[s->truth.vms[v].owner].running[v] = true;
    for (uint32_t h = 0; h < s->n_hosts; h++)
        local_report(s, h);
    s->term = 0;
    s->coord_h = s->n_hosts - 1;
    s->coord = NULL;
    new_coordinator(s); /* host 0 */
    run_until(s, 1500);
}

static uint32_t pick_host(sim *s, bool not_coord)
{
    for (;;) {
        uint32_t h = rbelow(s, s->n_hosts);
        if (!not_coord || h != s->coord_h)
            return h;
    }
}

/* A host whose health signal goes bad is emptied like a drain but stays active. */
static void sc_degrade(sim *s, uint32_t h)
{
    s->degraded[h] = true;
    s->deg_since[h] = s->now;
    note(s, "sim", "health signal bad");
    uint64_t deadline = s->now + 60000;
    for (;;) {
        bool empty = true;
        for (uint32_t v = 0; v < s->n_vms; v++)
            empty &= !s->h[h].running[v] && s->truth.vms[v].owner != (int32_t)h;
        if (empty && settled(s))
            break;
        if (s->fail[0] || s->now >= deadline) {
            failf(s, "degrade: host not emptied");
            return;
        }
        step(s);
    }
    s->degraded[h] = false;
    s->deg_since[h] = s->now;
    run_until(s, s->now + 2000); /* recovers after recover_after_ms, takes VMs again */
}

static void sc_drain(sim *s)
{
    uint32_t h = pick_host(s, false);
    if (rbelow(s, 3) == 0) {
        sc_degrade(s, h);
        return;
    }
    admin(s, HAC_REQ_DRAIN, h);
    uint64_t deadline = s->now + 60000;
    while (!s->fail[0] && s->now < deadline &&
           !(s->truth.hosts[h].admin == PLC_ADMIN_MAINTENANCE && settled(s)))
        step(s);
    if (!s->fail[0] && s->truth.hosts[h].admin != PLC_ADMIN_MAINTENANCE)
        failf(s, "drain: host not in maintenance");
    for (uint32_t v = 0; v < s->n_vms && !s->fail[0]; v++)
        if (s->h[h].running[v])
            failf(s, "drain: a VM still runs on the drained host");
    settle(s, s->now + 10000, "drain");
    if (!s->fail[0] && rbelow(s, 2)) { /* failback */
        admin(s, HAC_REQ_UNDRAIN_FAILBACK, h);
        run_until(s, s->now + 500); /* the intent commits */
        uint64_t fb_deadline = s->now + 30000;
        while (!s->fail[0] && s->now < fb_deadline && s->truth.hosts[h].failback)
            step(s);
        for (uint32_t v = 0; v < s->n_vms && !s->fail[0]; v++)
            if (s->truth.vms[v].home == (int32_t)h)
                failf(s, "failback: a drained VM did not go home");
        settle(s, s->now + 20000, "failback");
    }
}

static void sc_death(sim *s)
{
    uint32_t h = pick_host(s, true);
    bool victims[VMS_MAX] = {false};
    for (uint32_t v = 0; v < s->n_vms; v++)
        victims[v] = s->h[h].running[v] && s->truth.vms[v].protected_;
    uint64_t t0 = s->now;
    bool any = false;
    for (uint32_t v = 0; v < s->n_vms; v++)
        any |= victims[v];
    kill_host(s, h);
    uint64_t deadline = s->now + 30000;
    for (;;) {
        bool all = true;
        for (uint32_t v = 0; v < s->n_vms; v++)
            if (victims[v]) {
                bool on = false;
                for (uint32_t k = 0; k < s->n_hosts; k++)
                    on |= s->h[k].running[v];
                all &= on;
            }
        if (all || s->fail[0] || s->now >= deadline)
            break;
        step(s);
    }
    s->restart_ms = any ? s->now - t0 : 0;
    settle(s, s->now + 20000, "death");
}

static void sc_isolate(sim *s)
{
    uint32_t h = pick_host(s, true);
    bool had[VMS_MAX];
    memcpy(had, s->h[h].running, sizeof had);
    s->h[h].cut = true;
    note(s, "sim", "isolate");
    uint64_t heal = s->now + 6000 + rbelow(s, 6000);
    /* Past fence_timeout on its own clock (+ one ping period for the last answered
     * ping) it has fenced. */
    run_until(s, s->now + s->cfg.fence_timeout_ms * 1000 / s->h[h].rate_pm + PING_MS);
    for (uint32_t v = 0; v < s->n_vms && !s->fail[0]; v++)
        if (had[v] && s->truth.vms[v].protected_ && s->h[h].running[v])
            failf(s, "isolate: protected VM still runs on the isolated host past its lease");
    settle(s, heal, "isolated");
    run_until(s, heal);
    s->h[h].cut = false;
    note(s, "sim", "heal");
    run_until(s, s->now + 3000);
    settle(s, s->now + 20000, "healed");
}

static void sc_coord_loss(sim *s)
{
    uint32_t d = UINT32_MAX, most = 0;
    for (uint32_t h = 0; h < s->n_hosts; h++) {
        uint32_t n = 0;
        for (uint32_t v = 0; v < s->n_vms; v++)
            n += s->h[h].running[v];
        if (h != s->coord_h && (d == UINT32_MAX || n > most))
            d = h, most = n;
    }
    admin(s, HAC_REQ_DRAIN, d);
    run_until(s, s->now + 100 + rbelow(s, 600));
    uint32_t old = s->coord_h;
    kill_host(s, old); /* its VMs need restarts too */
    uint64_t deadline = s->now + 60000;
    while (!s->fail[0] && s->now < deadline &&
           !(s->truth.hosts[d].admin == PLC_ADMIN_MAINTENANCE && settled(s) && s->coord &&
             s->coord_h != old))
        step(s);
    if (!s->fail[0] && s->truth.hosts[d].admin != PLC_ADMIN_MAINTENANCE)
        failf(s, "coordinator loss: drain not finished by the new coordinator");
    if (!s->fail[0] && s->coord_h == old)
        failf(s, "coordinator loss: no new coordinator");
}

static void sc_upgrade(sim *s)
{
    uint32_t order[3], n = 0;
    for (uint32_t h = 0; h < s->n_hosts && n < 3; h++)
        if (h != s->coord_h)
            order[n++] = h;
    plc_version before[HOSTS_MAX];
    for (uint32_t h = 0; h < s->n_hosts; h++)
        before[h] = s->h[h].version;
    hac_input in = {.kind = HAC_IN_ADMIN, .req = HAC_REQ_UPGRADE_START, .order = order,
                    .n_order = n};
    snprintf(in.text, sizeof in.text, "apt-get -y upgrade drover");
    coord_step(s, &in);
    uint64_t deadline = s->now + 100000;
    while (!s->fail[0] && s->now < deadline && s->truth.upgrade.state != HAC_UPG_DONE)
        step(s);
    if (!s->fail[0] && s->truth.upgrade.state != HAC_UPG_DONE)
        failf(s, "upgrade: plan not done");
    for (uint32_t i = 0; i < n && !s->fail[0]; i++) {
        if (s->h[order[i]].version <= before[order[i]])
            failf(s, "upgrade: a host was not upgraded");
        if (s->truth.hosts[order[i]].admin != PLC_ADMIN_ACTIVE)
            failf(s, "upgrade: a host was left out of service");
    }
    settle(s, s->now + 20000, "upgrade");
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Chaos: for 30 s, every 0.5-3 s one random fault or admin action, keeping at most one
 * host dead or cut at a time (the majority stays); then everything heals, dead hosts
 * reboot (with their persisted state copy), every host is undrained, and it must settle.
 * Reboots exercise reconcile-after-restart, overlapping faults the orphan rules. */
static void sc_chaos(sim *s)
{
    uint64_t end = s->now + 30000;
    int32_t down = -1; /* host dead, cut, deaf or with its agent stopped */
    while (!s->fail[0] && s->now < end) {
        run_until(s, s->now + 500 + rbelow(s, 2500));
        uint32_t h = rbelow(s, s->n_hosts);
        switch (rbelow(s, 11)) {
        case 0: /* kill */
            if (down < 0) {
                kill_host(s, h);
                down = (int32_t)h;
            }
            break;
        case 1: /* cut */
            if (down < 0) {
                s->h[h].cut = true;
                note(s, "sim", "isolate");
                down = (int32_t)h;
            }
            break;
        case 2: /* heal or reboot the one that is down (a stopped agent comes back on
                 * its own, 3-20 s after it stopped) */
            if (down >= 0 && !s->h[down].stopped) {
                host *x = &s->h[down];
                if (!x->up) {
                    x->up = true;
                    host_boot(s, (uint32_t)down);
                    note(s, "sim", "reboot");
                }
                x->cut = false;
                x->deaf = false;
                note(s, "sim", "heal");
                down = -1;
            }
            break;
        case 3:
            admin(s, HAC_REQ_DRAIN, h);
            break;
        case 4:
            admin(s, rbelow(s, 2) ? HAC_REQ_UNDRAIN : HAC_REQ_UNDRAIN_FAILBACK, h);
            break;
        case 5: { /* `drover vm protect|unprotect`, committed through the leader */
            uint32_t v = rbelow(s, s->n_vms);
            hac_prop p = {.kind = HAC_P_PROTECT, .index = v, .vm = s->truth.vms[v]};
            p.vm.protected_ = !p.vm.protected_;
            if (s->coord && s->n_pend < PENDING_MAX)
                s->pend[s->n_pend++] = (pending){p, s->now + 5 + rbelow(s, 40), s->term};
            break;
        }
        case 6: { /* a guest powers itself off (OS shutdown): one of those running on h */
            host *x = &s->h[h];
            uint32_t v = rbelow(s, s->n_vms);
            for (uint32_t k = 0; k < s->n_vms && !x->running[v]; k++)
                v = (v + 1) % s->n_vms;
            if (x->up && !x->back_at_ms && x->running[v] && !x->migs[v].on) {
                x->running[v] = false;
                x->off[v] = true;
                s->guest_offs++;
                char b[64];
                snprintf(b, sizeof b, "guest of vm%u on host%u powers off", v, h);
                note(s, "sim", b);
            }
            break;
        }
        case 7: { /* the operator starts a VM by hand (virsh start) where it is defined */
            host *x = &s->h[h];
            uint32_t v = rbelow(s, s->n_vms);
            for (uint32_t k = 0; k < s->n_vms && !x->off[v]; k++)
                v = (v + 1) % s->n_vms;
            bool anywhere = false;
            for (uint32_t k = 0; k < s->n_hosts; k++)
                anywhere |= s->h[k].running[v] || s->h[k].start_at[v] || s->h[k].migs[v].on;
            if (x->up && !x->back_at_ms && x->off[v] && !anywhere) {
                x->off[v] = false;
                x->running[v] = true;
                local_report(s, h); /* the agent's next inventory lists it */
                s->hand_starts++;
                char b[64];
                snprintf(b, sizeof b, "vm%u started by hand on host%u", v, h);
                note(s, "sim", b);
            }
            break;
        }
        case 8: /* deaf: its requests reach the quorum, the answers do not (a one-way
                 * link, or a stalled loop): it self-fences while the coordinator still
                 * hears it well, and refuses STARTs as fenced, then as reconciling */
            if (down < 0) {
                s->h[h].deaf = true;
                s->deafs++;
                note(s, "sim", "deaf");
                down = (int32_t)h;
            }
            break;
        case 9: /* the agent stops cleanly (any host's, the coordinator's too) and is
                 * away much longer than a lease while its QEMUs run on */
            if (down < 0 && agent_stop(s, h, 3000 + rbelow(s, 17000)))
                down = (int32_t)h;
            break;
        default:
            s->degraded[h] = !s->degraded[h];
            s->deg_since[h] = s->now;
            break;
        }
    }
    for (uint32_t h = 0; h < s->n_hosts; h++) {
        host *x = &s->h[h];
        if (!x->up) {
            x->up = true;
            host_boot(s, h);
        }
        x->cut = false;
        x->deaf = false;
        if (s->degraded[h])
            s->deg_since[h] = s->now;
        s->degraded[h] = false;
    }
    note(s, "sim", "all healed");
    for (uint32_t h = 0; h < s->n_hosts; h++)   /* a stopped agent is back at its time */
        while (!s->fail[0] && s->h[h].stopped)
            step(s);
    run_until(s, s->now + 3000);
    for (uint32_t h = 0; h < s->n_hosts; h++)
        admin(s, HAC_REQ_UNDRAIN, h);
    run_until(s, s->now + 1000);
    settle(s, s->now + 30000, "chaos");
}

static const char *const names[] = {"drain",   "death",   "isolate",
                                    "coord_loss", "upgrade", "chaos"};

static bool run_seed(sim *s, uint64_t seed, uint32_t *scenario)
{
    setup(s, seed);
    settle(s, s->now + 10000, "bootstrap");
    *scenario = (uint32_t)(seed % 6);
    switch (*scenario) {
    case 0: sc_drain(s); break;
    case 1: sc_death(s); break;
    case 2: sc_isolate(s); break;
    case 3: sc_coord_loss(s); break;
    case 4: sc_upgrade(s); break;
    default: sc_chaos(s); break;
    }
    if (!s->fail[0])
        settle(s, s->now + 20000, "end");
    if (s->fail[0] && s->trace) {
        for (uint32_t v = 0; v < s->n_vms; v++) {
            const hac_rvm *m = &s->truth.vms[v];
            printf("vm%u owner %d gen %llu moving %d prot %d mem %llu on:", v, m->owner,
                   (unsigned long long)m->generation, m->moving_to, m->protected_,
                   (unsigned long long)m->mem_mib);
            for (uint32_t h = 0; h < s->n_hosts; h++)
                if (s->h[h].running[v])
                    printf(" %u", h);
            printf("\n");
        }
        for (uint32_t h = 0; h < s->n_hosts; h++)
            printf("host%u up %d admin %s fence %d\n", h, s->h[h].up,
                   hac_admin_name(s->truth.hosts[h].admin), s->h[h].fence.mode);
    }
    if (s->coord)
        hac_coord_free(s->coord);
    s->coord = NULL;
    return s->fail[0] == '\0';
}

int main(int argc, char **argv)
{
    static sim s;
    s.log = calloc(LOG_MAX, sizeof *s.log);
    s.q = calloc(MSGS_MAX, sizeof *s.q);
    s.out = calloc(1, sizeof *s.out);
    if (s.log == NULL || s.q == NULL || s.out == NULL)
        return 1;
    const char *one = getenv("DROVER_SIM_SEED");
    const char *many = getenv("DROVER_SIM_SEEDS");
    uint64_t first = 1, n = 1000;
    if (argc > 1)
        n = strtoull(argv[1], NULL, 10);
    else if (many)
        n = strtoull(many, NULL, 10);
    if (one) {
        first = strtoull(one, NULL, 10);
        n = 1;
        s.trace = true;
    }
    uint32_t fails = 0, per[6] = {0};
    uint64_t restart_max = 0, restart_sum = 0, restart_n = 0, vt = 0, guest_offs = 0, hand_starts = 0;
    uint64_t deafs = 0, refusals = 0, down_max = 0, agent_stops = 0, stops_unconfirmed = 0;
    uint64_t forged = 0, forged_refused = 0;
    uint64_t *restarts = calloc(n ? n : 1, sizeof *restarts);
    if (restarts == NULL)
        return 1;
    for (uint64_t seed = first; seed < first + n; seed++) {
        uint32_t sc = 0;
        if (!run_seed(&s, seed, &sc)) {
            fails++;
            printf("FAIL seed %" PRIu64 " (%s, %u hosts, %u vms): %s\n"
                   "  replay: DROVER_SIM_SEED=%" PRIu64 " %s\n",
                   seed, names[sc], s.n_hosts, s.n_vms, s.fail, seed, argv[0]);
            if (!s.trace) {
                uint32_t k = s.n_events > 64 ? s.n_events - 64 : 0;
                for (; k < s.n_events; k++)
                    printf("  | %s\n", s.events[k % 64]);
            }
            if (fails >= 3)
                break;
        }
        per[sc]++;
        vt += s.now;
        guest_offs += s.guest_offs;
        hand_starts += s.hand_starts;
        deafs += s.deafs;
        refusals += s.refusals;
        forged += s.forged;
        forged_refused += s.forged_refused;
        agent_stops += s.agent_stops;
        stops_unconfirmed += s.stops_unconfirmed;
        if (s.down_max_ms > down_max)
            down_max = s.down_max_ms;
        if (sc == 1 && s.restart_ms) {
            restarts[restart_n++] = s.restart_ms;
            restart_sum += s.restart_ms;
            if (s.restart_ms > restart_max)
                restart_max = s.restart_ms;
        }
    }
    printf("{\"bench\":\"ha_sim\",\"metric\":\"seeds\",\"value\":%" PRIu64
           ",\"unit\":\"count\",\"failed\":%u,\"drain\":%u,\"death\":%u,\"isolate\":%u,"
           "\"coord_loss\":%u,\"upgrade\":%u,\"chaos\":%u,\"virtual_s\":%" PRIu64
           ",\"guest_offs\":%" PRIu64 ",\"hand_starts\":%" PRIu64 ",\"deafs\":%" PRIu64
           ",\"start_refusals\":%" PRIu64 ",\"agent_stops\":%" PRIu64 ",\"stops_unconfirmed\":%" PRIu64 "}\n",
           n, fails, per[0], per[1], per[2], per[3], per[4], per[5], vt / 1000, guest_offs, hand_starts,
           deafs, refusals, agent_stops, stops_unconfirmed);
    printf("{\"bench\":\"ha_sim\",\"metric\":\"forged_inputs\",\"value\":%" PRIu64
           ",\"unit\":\"count\",\"refused\":%" PRIu64 "}\n", forged, forged_refused);
    printf("{\"bench\":\"ha_sim\",\"metric\":\"stopped_while_able_ms\",\"value\":%" PRIu64
           ",\"unit\":\"ms\",\"stat\":\"max\",\"bound_ms\":%" PRIu64 ",\"clock\":\"virtual\"}\n",
           down_max, s.i5_ms);
    if (restart_n) {
        qsort(restarts, restart_n, sizeof *restarts, cmp_u64);
        printf("{\"bench\":\"ha_sim\",\"metric\":\"restart_after_death_ms\",\"value\":%" PRIu64
               ",\"unit\":\"ms\",\"stat\":\"p99\",\"p50\":%" PRIu64 ",\"max\":%" PRIu64
               ",\"mean\":%" PRIu64 ",\"n\":%" PRIu64 ",\"fence_timeout_ms\":%" PRIu64
               ",\"drift_pct\":%u,\"clock\":\"virtual\"}\n",
               restarts[(restart_n * 99) / 100], restarts[restart_n / 2], restart_max,
               restart_sum / restart_n, restart_n, s.cfg.fence_timeout_ms, s.cfg.drift_pct);
    }
    free(restarts);
    free(s.log);
    free(s.q);
    free(s.out);
    return fails ? 1 : 0;
}

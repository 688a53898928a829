/* hac: replicated-state rules, coordinator decisions and the fence core, one event at a
 * time with hand-checked outputs. The whole-cluster behaviour is in tests/sim/ha. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hac.h"

static hac_out out;

static void add_host(hac_rstate *s, const char *name)
{
    hac_prop p = {.kind = HAC_P_HOST_ADD};
    snprintf(p.host.name, sizeof p.host.name, "%s", name);
    p.host.mem_mib = 4096;
    p.host.cpus = 8;
    assert_int_equal(hac_apply(s, &p), 0);
}

static void add_vm(hac_rstate *s, const char *name, int32_t owner, bool prot, int32_t order)
{
    hac_prop p = {.kind = HAC_P_VM_ADD};
    snprintf(p.vm.name, sizeof p.vm.name, "%s", name);
    p.vm.mem_mib = 512;
    p.vm.vcpus = 1;
    p.vm.protected_ = prot;
    p.vm.restart_order = order;
    p.vm.want_running = true;
    p.vm.owner = owner;
    assert_int_equal(hac_apply(s, &p), 0);
}

/* 3 hosts, vm0..vm3 on host 0, vm4 on host 1. */
static void cluster(hac_rstate *s)
{
    hac_rstate_init(s);
    add_host(s, "h0");
    add_host(s, "h1");
    add_host(s, "h2");
    for (int i = 0; i < 4; i++) {
        char n[8];
        snprintf(n, sizeof n, "vm%d", i);
        add_vm(s, n, 0, true, i % 2);
    }
    add_vm(s, "vm4", 1, false, 0);
}

static void step(hac_coord *c, uint64_t now, const hac_input *in)
{
    hac_event ev = {.now_ms = now, .in = in};
    assert_int_equal(hac_coord_step(c, &ev, &out), 0);
}

static void host_in(hac_coord *c, uint64_t now, uint32_t h, hac_live live, uint64_t ack)
{
    hac_input in = {.kind = HAC_IN_HOST, .host = h, .live = live, .last_ack_ms = ack,
                    .mem_mib = 4096, .cpus = 8};
    step(c, now, &in);
}

static void inventory(hac_coord *c, uint64_t now, uint32_t h, const uint32_t *vms, uint32_t n)
{
    hac_input in = {.kind = HAC_IN_INVENTORY, .host = h, .vms = vms, .n_vms = n};
    step(c, now, &in);
}

/* The host a command goes to, the only one whose result the coordinator believes. */
static uint32_t dest_of(const hac_cmd *cmd)
{
    return cmd->kind == HAC_CMD_MIGRATE ? cmd->from : cmd->to;
}

static uint32_t count(hac_out_kind kind, int sub)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == kind &&
            (sub < 0 || (kind == HAC_O_PROPOSE ? (int)out.items[i].prop.kind
                                               : (int)out.items[i].cmd.kind) == sub))
            n++;
    return n;
}

/* Commit every proposal in OUT (clearing it first), in order, into S and the coordinator. */
static void commit_all(hac_coord *c, hac_rstate *s, uint64_t now)
{
    hac_out copy = out;
    out.n = 0;
    for (uint32_t i = 0; i < copy.n; i++) {
        if (copy.items[i].kind != HAC_O_PROPOSE)
            continue;
        int rc = hac_apply(s, &copy.items[i].prop);
        hac_input in = {.kind = HAC_IN_COMMIT, .prop = &copy.items[i].prop, .commit_rc = rc};
        step(c, now, &in);
    }
}

static void apply_rules(void **st)
{
    (void)st;
    hac_rstate s;
    cluster(&s);
    assert_int_equal(s.vms[0].generation, 1);
    hac_prop p = {.kind = HAC_P_OWNER, .index = 0, .owner = 2, .generation = 3, .home = -1};
    assert_int_equal(hac_apply(&s, &p), -ESTALE); /* skips a generation */
    p.generation = 2;
    assert_int_equal(hac_apply(&s, &p), 0);
    assert_int_equal(hac_apply(&s, &p), -ESTALE); /* replayed: stale now */
    assert_int_equal(s.vms[0].owner, 2);
    /* maintenance only when empty */
    hac_prop a = {.kind = HAC_P_ADMIN, .index = 0, .admin = PLC_ADMIN_MAINTENANCE};
    assert_int_equal(hac_apply(&s, &a), -ESTALE);
    a.index = 2;
    assert_int_equal(hac_apply(&s, &a), -ESTALE);
    hac_prop m = {.kind = HAC_P_MOVING, .index = 1, .owner = 2, .generation = 1};
    assert_int_equal(hac_apply(&s, &m), -ESTALE); /* must bump the generation */
    m.generation = 2;
    assert_int_equal(hac_apply(&s, &m), 0);
    assert_int_equal(s.vms[1].generation, 2);
    m.generation = 3;
    assert_int_equal(hac_apply(&s, &m), -ESTALE); /* one move at a time */
    m.owner = -1;
    assert_int_equal(hac_apply(&s, &m), 0); /* clearing bumps it too */
    assert_int_equal(s.vms[1].moving_to, -1);
    hac_prop u = {.kind = HAC_P_UPGRADE};
    u.upgrade.seq = 2;
    assert_int_equal(hac_apply(&s, &u), -ESTALE);
    u.upgrade.seq = 1;
    assert_int_equal(hac_apply(&s, &u), 0);
}

/* The MOVING proposal for VM in out: its target, or -1 when there is none. */
static int32_t moving_to(uint32_t vm)
{
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_PROPOSE && out.items[i].prop.kind == HAC_P_MOVING &&
            out.items[i].prop.index == vm)
            return out.items[i].prop.owner;
    return -1;
}

/* A coordinator of term 5 over S (as the caller shaped it, cfg as given): every host
 * alive and acked at 100 ms, and reporting the VMs its state gives it. */
static hac_coord *start(hac_rstate *s, const hac_config *cfg)
{
    hac_coord *c = hac_coord_new(cfg, s, 5);
    assert_non_null(c);
    out.n = 0;
    uint32_t on0[] = {0, 1, 2, 3}, on1[] = {4};
    for (uint32_t h = 0; h < 3; h++)
        host_in(c, 100, h, HAC_ALIVE, 100);
    inventory(c, 100, 0, on0, 4);
    inventory(c, 100, 1, on1, 1);
    inventory(c, 100, 2, NULL, 0);
    return c;
}

static hac_coord *ready(hac_rstate *s, hac_config *cfg)
{
    cluster(s);
    hac_config_default(cfg);
    hac_coord *c = start(s, cfg);
    assert_int_equal(out.n, 0); /* steady: nothing to do */
    return c;
}

/* ready(), then h0 dies (last ack at 100 ms) and its lease ends (2600 ms): OUT holds
 * the restart proposals. */
static hac_coord *h0_dies(hac_rstate *s, hac_config *cfg)
{
    hac_coord *c = ready(s, cfg);
    host_in(c, 1000, 0, HAC_DEAD, 100);
    hac_input tick = {.kind = HAC_IN_TICK};
    out.n = 0;
    step(c, 2600, &tick);
    return c;
}

static void restart_waits_for_lease(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    /* last ack at 100 ms; lease ends at 100 + 2000 * 1.25 = 2600 ms */
    host_in(c, 1000, 0, HAC_DEAD, 100);
    assert_int_equal(count(HAC_O_PROPOSE, -1), 0);
    out.n = 0;
    hac_input tick = {.kind = HAC_IN_TICK};
    step(c, 2599, &tick);
    assert_int_equal(count(HAC_O_PROPOSE, -1), 0);
    step(c, 2600, &tick);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 4);
    assert_int_equal(count(HAC_O_CMD, -1), 0); /* no START before the commit */
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_PROPOSE) {
            assert_int_equal(out.items[i].prop.generation, 2);
            assert_int_not_equal(out.items[i].prop.owner, 0);
        }
    commit_all(c, &s, 2610);
    assert_int_equal(count(HAC_O_CMD, HAC_CMD_START), 4);
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_CMD) {
            assert_int_equal(out.items[i].cmd.term, 5);
            assert_int_equal(out.items[i].cmd.generation, 2);
        }
    hac_coord_free(c);
}

/* Events in OUT whose text contains NEEDLE. */
static uint32_t events_with(const char *needle)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_EVENT && strstr(out.items[i].text, needle))
            n++;
    return n;
}

/* A cold start can take seconds (QEMU under TCG on a loaded host: 2-8 s measured). While
 * the target's reports (with an inventory or lease-only) list the START job, the command is under way, not lost: no
 * "lost" event and no re-send every start_timeout_ms; it times out after cmd_timeout_ms
 * like any other command. A START its target does not report is lost as before. */
static void slow_start_is_not_lost(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = h0_dies(&s, &cfg);
    commit_all(c, &s, 2610);
    assert_int_equal(count(HAC_O_CMD, HAC_CMD_START), 4);
    uint32_t vm = 0, t = (uint32_t)s.vms[0].owner;   /* vm0's START went to host t */
    assert_int_not_equal(t, 0);
    hac_input tick = {.kind = HAC_IN_TICK};
    for (uint64_t now = 2700; now < 2610 + cfg.cmd_timeout_ms; now += 500) {
        out.n = 0;
        /* inventory reports and lease-only reports (STARTING) both say so */
        hac_input in = {.kind = (now / 500) % 2 ? HAC_IN_STARTING : HAC_IN_INVENTORY, .host = t,
                        .starting = &vm, .n_starting = 1};
        step(c, now, &in);
        step(c, now, &tick);
        assert_int_equal(events_with("vm0: command"), 0);
        for (uint32_t i = 0; i < out.n; i++)
            assert_false(out.items[i].kind == HAC_O_CMD && out.items[i].cmd.vm == 0);
    }
    out.n = 0;
    step(c, 2610 + cfg.cmd_timeout_ms, &tick);
    assert_int_equal(events_with("vm0: command"), 1);   /* bounded: a hung start is lost */
    hac_coord_free(c);
}

/* ---- refused STARTs: a driven world ------------------------------------------------ */

/* Host 0 died at 1000 ms (last ack 100 ms, lease over at 2600 ms) with vm0, the only
 * protected VM. Every 100 ms each live host is fed alive and acked now, reports what it
 * runs, and a tick follows; proposals commit at once and each START of vm0 is answered
 * at once: refused with refuse[host] when set, else carried out. */
typedef struct drive {
    hac_coord *c;
    hac_rstate s;
    hac_config cfg;
    uint64_t now;
    bool alive[3];
    const char *refuse[3];
    int32_t runs;              /* host vm0 runs on, -1 = none */
    uint64_t start_ms[64];
    uint32_t start_to[64];
    hac_cmd starts[64];
    uint32_t n_starts;
    bool said_anti, said_cannot, said_wait;
    char last_wait[HAC_TEXT_MAX];
} drive;

static void drive_init(drive *d, bool h2_alive)
{
    memset(d, 0, sizeof *d);
    cluster(&d->s);
    for (uint32_t v = 1; v < 4; v++)
        d->s.vms[v].protected_ = false;
    hac_config_default(&d->cfg);
    d->c = start(&d->s, &d->cfg);
    assert_int_equal(out.n, 0);
    d->alive[1] = true;
    d->alive[2] = h2_alive;
    d->runs = -1;
    d->now = 1000;
}

static void drive_outputs(drive *d)
{
    for (int round = 0; round < 16; round++) {
        hac_out copy = out;
        out.n = 0;
        bool any = false;
        for (uint32_t i = 0; i < copy.n; i++) {
            const hac_out_item *it = &copy.items[i];
            if (it->kind == HAC_O_EVENT) {
                d->said_anti |= strstr(it->text, "anti_affinity") != NULL;
                d->said_cannot |= strstr(it->text, "cannot") != NULL;
                if (strstr(it->text, "waits")) {
                    d->said_wait = true;
                    snprintf(d->last_wait, sizeof d->last_wait, "%s", it->text);
                }
            } else if (it->kind == HAC_O_PROPOSE) {
                int rc = hac_apply(&d->s, &it->prop);
                hac_input in = {.kind = HAC_IN_COMMIT, .prop = &it->prop, .commit_rc = rc};
                step(d->c, d->now, &in);
                any = true;
            } else if (it->kind == HAC_O_CMD && it->cmd.kind == HAC_CMD_START && it->cmd.vm == 0) {
                assert_true(d->n_starts < 64);
                d->start_ms[d->n_starts] = d->now;
                d->starts[d->n_starts] = it->cmd;
                d->start_to[d->n_starts++] = it->cmd.to;
                const char *no = d->refuse[it->cmd.to];
                hac_input r = {.kind = HAC_IN_RESULT, .host = dest_of(&it->cmd), .cmd_id = it->cmd.id,
                               .ok = no == NULL};
                snprintf(r.text, sizeof r.text, "%s", no ? no : "");
                if (!no)
                    d->runs = (int32_t)it->cmd.to;
                step(d->c, d->now, &r);
                any = true;
            }
        }
        if (!any && out.n == 0)
            return;
    }
}

static void drive_step(drive *d)
{
    d->now += 100;
    host_in(d->c, d->now, 0, HAC_DEAD, 100);
    for (uint32_t h = 1; h < 3; h++)
        host_in(d->c, d->now, h, d->alive[h] ? HAC_ALIVE : HAC_DEAD, d->alive[h] ? d->now : 100);
    drive_outputs(d);
    for (uint32_t h = 1; h < 3; h++) {
        if (!d->alive[h])
            continue;
        uint32_t on[2], n = 0;
        if (h == 1)
            on[n++] = 4;
        if (d->runs == (int32_t)h)
            on[n++] = 0;
        inventory(d->c, d->now, h, on, n);
    }
    hac_input tick = {.kind = HAC_IN_TICK};
    step(d->c, d->now, &tick);
    drive_outputs(d);
}

static void drive_until(drive *d, uint64_t ms)
{
    while (d->now < ms)
        drive_step(d);
}

/* The restart backoff with the default configuration: the wait before START k + 1
 * (k counted from 1) after k failed STARTs in a row. */
static uint64_t backoff_ms(uint32_t k)
{
    if (k <= 1)
        return 0;
    uint64_t w = 1000;
    for (uint32_t i = 2; i < k && w < 30000; i++)
        w *= 2;
    return w < 30000 ? w : 30000;
}

/* A VM no host can start (its definition is missing, say) backs off: the next host at
 * once, then 1 s, 2 s, 4 s ... up to 30 s between tries, never more often (the lab saw
 * ~10,000 OWNER proposals a minute without a bound) and never given up. */
static void failed_starts_back_off(void **st)
{
    (void)st;
    drive d;
    drive_init(&d, true);
    d.refuse[1] = d.refuse[2] = "no such VM on this host";
    drive_until(&d, 300000);
    assert_int_equal(d.runs, -1);
    assert_true(d.n_starts >= 8);
    assert_true(d.n_starts <= 20);
    for (uint32_t k = 1; k < d.n_starts; k++)
        assert_true(d.start_ms[k] - d.start_ms[k - 1] >= backoff_ms(k));
    assert_true(d.start_ms[d.n_starts - 1] + 31000 >= d.now); /* still trying */
    assert_false(d.said_anti);
    assert_false(d.said_cannot);
    /* once a host can, it runs */
    d.refuse[1] = d.refuse[2] = NULL;
    drive_until(&d, d.now + 31000);
    assert_true(d.runs == 1 || d.runs == 2);
    hac_coord_free(d.c);
}

/* Issue 11, point 3: a START refused by a fenced host is no rule about where the VM may
 * run. Host 1, the only live host, refuses while fenced; vm0 waits (an event says why,
 * never "anti_affinity") and is started on host 1 as soon as host 1 is able again. The
 * refusal used to exclude host 1 for good (`cannot be restarted: anti_affinity.host`). */
static void refused_start_is_no_exclusion(void **st)
{
    (void)st;
    drive d;
    drive_init(&d, false);
    d.refuse[1] = "fenced: no quorum contact";
    drive_until(&d, 2700);
    assert_int_equal(d.n_starts, 1);
    assert_int_equal(d.start_to[0], 1);
    drive_until(&d, 6000);
    assert_int_equal(d.runs, -1);
    for (uint32_t k = 1; k < d.n_starts; k++)
        assert_true(d.start_ms[k] - d.start_ms[k - 1] >= 1000);
    uint64_t last = d.start_ms[d.n_starts - 1];
    d.refuse[1] = NULL; /* host 1 is back in contact and active */
    drive_until(&d, last + 2 * backoff_ms(d.n_starts) + 1000);
    assert_int_equal(d.runs, 1);
    assert_false(d.said_anti);
    assert_false(d.said_cannot);
    assert_true(d.said_wait);
    assert_non_null(strstr(d.last_wait, "fenced: no quorum contact"));
    hac_coord_free(d.c);
}

/* A refused START never runs later: its generation is passed at once (same owner), so a
 * copy of it that arrives once the host is able again (a resend stuck in a queue) is
 * refused as stale, and the VM cannot end up started there and elsewhere. */
static void refused_start_copy_is_stale(void **st)
{
    (void)st;
    drive d;
    drive_init(&d, true);
    d.refuse[1] = d.refuse[2] = "fenced: no quorum contact";
    while (d.n_starts < 1)
        drive_step(&d);
    hac_cmd first = d.starts[0];
    assert_int_equal(d.s.vms[0].owner, (int32_t)first.to);
    assert_int_equal(d.s.vms[0].generation, first.generation + 1);
    /* the host returns: it reconciles with the log (the bump included), then the copy */
    hac_fence f;
    hac_fence_init(&f, first.to, 2000);
    static hac_out fo;
    fo.n = 0;
    hac_fence_input con = {.kind = HAC_FIN_CONTACT, .sent_ms = 10};
    assert_int_equal(hac_fence_step(&f, 20, &con, &fo), 0);
    hac_fence_input syn = {.kind = HAC_FIN_SYNCED, .state = &d.s};
    assert_int_equal(hac_fence_step(&f, 30, &syn, &fo), 0);
    assert_int_equal(f.mode, HAC_FM_ACTIVE);
    fo.n = 0;
    hac_fence_input copy = {.kind = HAC_FIN_COMMAND, .cmd = first, .state = &d.s};
    assert_int_equal(hac_fence_step(&f, 40, &copy, &fo), 0);
    assert_int_equal(fo.n, 1);
    assert_int_equal(fo.items[0].kind, HAC_O_REFUSE);
    assert_string_equal(fo.items[0].text, "stale generation");
    hac_coord_free(d.c);
}

/* Nor is a failed migration a rule for restarts: a drain of host 0 whose migrations to
 * host 1 all failed (host 2 cordoned), then host 0 dies: vm0 restarts on host 1. The
 * drain's exclusion used to reach the restart plan as a host rule: "cannot be
 * restarted: anti_affinity.host: VM vm0 must not run on hosts in h1". */
static void failed_migration_is_no_restart_rule(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    cluster(&s);
    for (uint32_t v = 1; v < 4; v++)
        s.vms[v].protected_ = false;
    hac_prop cordon = {.kind = HAC_P_ADMIN, .index = 2, .admin = PLC_ADMIN_CORDONED};
    assert_int_equal(hac_apply(&s, &cordon), 0);
    hac_config_default(&cfg);
    hac_coord *c = start(&s, &cfg);
    hac_input d = {.kind = HAC_IN_ADMIN, .req = HAC_REQ_DRAIN, .host = 0};
    step(c, 200, &d);
    uint64_t now = 210;
    uint32_t failed = 0;
    for (int round = 0; round < 40; round++, now += 10) {
        commit_all(c, &s, now);
        hac_out cmds = out;
        out.n = 0;
        for (uint32_t i = 0; i < cmds.n; i++)
            if (cmds.items[i].kind == HAC_O_CMD && cmds.items[i].cmd.kind == HAC_CMD_MIGRATE) {
                hac_input r = {.kind = HAC_IN_RESULT, .host = dest_of(&cmds.items[i].cmd),
                               .cmd_id = cmds.items[i].cmd.id, .ok = false};
                snprintf(r.text, sizeof r.text, "destination not active");
                failed += cmds.items[i].cmd.vm == 0;
                step(c, now + 1, &r);
            } else if (cmds.items[i].kind == HAC_O_PROPOSE) {
                hac_out_push(&out, &cmds.items[i]);
            }
    }
    assert_int_equal(failed, cfg.migrate_attempts_max); /* the drain gave up on vm0 */
    assert_int_equal(s.vms[0].owner, 0);
    out.n = 0;
    host_in(c, 1000, 0, HAC_DEAD, 100);
    hac_input tick = {.kind = HAC_IN_TICK};
    step(c, 2600, &tick);
    bool restarted = false;
    for (uint32_t i = 0; i < out.n; i++) {
        if (out.items[i].kind == HAC_O_EVENT)
            assert_null(strstr(out.items[i].text, "anti_affinity"));
        if (out.items[i].kind == HAC_O_PROPOSE && out.items[i].prop.kind == HAC_P_OWNER &&
            out.items[i].prop.index == 0) {
            assert_int_equal(out.items[i].prop.owner, 1);
            restarted = true;
        }
    }
    assert_true(restarted);
    hac_coord_free(c);
}

/* Two hosts that refuse in turn (one fenced, one reconciling) do not bounce the VM
 * between them at every step: from the second START on, each waits the backoff. When
 * they are able again the VM runs. */
static void refusals_do_not_ping_pong(void **st)
{
    (void)st;
    drive d;
    drive_init(&d, true);
    d.refuse[1] = "fenced: no quorum contact";
    d.refuse[2] = "reconciling: not caught up yet";
    drive_until(&d, 60000);
    assert_true(d.n_starts >= 4);
    assert_true(d.n_starts <= 8);
    for (uint32_t k = 1; k < d.n_starts; k++)
        assert_true(d.start_ms[k] - d.start_ms[k - 1] >= backoff_ms(k));
    bool both = false;
    for (uint32_t k = 1; k < d.n_starts; k++)
        both |= d.start_to[k] != d.start_to[0];
    assert_true(both); /* each try goes where the last one was not refused, if it can */
    d.refuse[1] = d.refuse[2] = NULL;
    drive_until(&d, 60000 + 30000 + 1000);
    assert_true(d.runs == 1 || d.runs == 2);
    assert_false(d.said_anti);
    assert_false(d.said_cannot);
    hac_coord_free(d.c);
}

/* Every candidate refused once, and then the only host left is the last one that
 * refused: the VM is started there once it is able (within its hold), not given up. */
static void every_refuser_is_tried_again(void **st)
{
    (void)st;
    drive d;
    drive_init(&d, true);
    d.refuse[1] = "fenced: no quorum contact";
    d.refuse[2] = "fenced: no quorum contact";
    while (d.n_starts < 2)
        drive_step(&d);
    assert_int_not_equal(d.start_to[0], d.start_to[1]);
    uint32_t last = d.start_to[1];
    d.alive[3 - last] = false; /* the other host dies */
    d.refuse[last] = NULL;     /* the last refuser is able again */
    drive_until(&d, d.start_ms[1] + 2 * backoff_ms(2) + 500);
    assert_int_equal(d.runs, (int32_t)last);
    assert_false(d.said_cannot);
    assert_false(d.said_anti);
    hac_coord_free(d.c);
}

/* A START answered with a failure by a live host may have started the VM all the same:
 * no other host starts it until that host reports after the failure, and a report that
 * lists it keeps it there. */
static void failed_start_needs_proof(void **st)
{
    (void)st;
    for (int listed = 0; listed < 2; listed++) {
        hac_rstate s;
        hac_config cfg;
        hac_coord *c = h0_dies(&s, &cfg);
        hac_input tick = {.kind = HAC_IN_TICK};
        commit_all(c, &s, 2610); /* vm0..vm3 owned elsewhere; STARTs out */
        hac_cmd start0 = {0};
        for (uint32_t i = 0; i < out.n; i++)
            if (out.items[i].kind == HAC_O_CMD && out.items[i].cmd.vm == 0)
                start0 = out.items[i].cmd;
        assert_int_equal(start0.kind, HAC_CMD_START);
        out.n = 0;
        hac_input r = {.kind = HAC_IN_RESULT, .host = dest_of(&start0), .cmd_id = start0.id, .ok = false};
        snprintf(r.text, sizeof r.text, "libvirt: domain is already running");
        step(c, 2620, &r);
        step(c, 2630, &tick);
        /* the one proposal: the same owner at the next generation, so that a late copy
         * of the refused START is stale wherever it arrives */
        uint32_t bumps = 0;
        for (uint32_t i = 0; i < out.n; i++)
            if (out.items[i].kind == HAC_O_PROPOSE && out.items[i].prop.index == 0) {
                assert_int_equal(out.items[i].prop.kind, HAC_P_OWNER);
                assert_int_equal(out.items[i].prop.owner, (int32_t)start0.to);
                assert_int_equal(out.items[i].prop.generation, start0.generation + 1);
                bumps++;
            }
        assert_int_equal(bumps, 1);
        commit_all(c, &s, 2635);
        assert_int_equal(count(HAC_O_CMD, -1), 0);
        uint32_t on[] = {0};
        if (listed) {
            /* its report lists vm0: it runs there, nothing moves, now or later */
            inventory(c, 2640, start0.to, on, 1);
            step(c, 2650, &tick);
            step(c, 9000, &tick);
            for (uint32_t i = 0; i < out.n; i++)
                assert_false(out.items[i].kind == HAC_O_PROPOSE && out.items[i].prop.index == 0 &&
                             out.items[i].prop.kind == HAC_P_OWNER);
        } else {
            /* it lists nothing: the next host is tried at once (first failure) */
            inventory(c, 2640, start0.to, NULL, 0);
            step(c, 2650, &tick);
            bool moved = false;
            for (uint32_t i = 0; i < out.n; i++)
                if (out.items[i].kind == HAC_O_PROPOSE && out.items[i].prop.index == 0 &&
                    out.items[i].prop.kind == HAC_P_OWNER) {
                    assert_int_not_equal(out.items[i].prop.owner, (int32_t)start0.to);
                    /* a refused START restarted nothing: the count stays */
                    assert_int_equal(out.items[i].prop.restarts, s.vms[0].restarts);
                    moved = true;
                }
            assert_true(moved);
        }
        hac_coord_free(c);
    }
}

/* A guest that powers itself off on its owner is not started again (as vSphere HA), not
 * even when the owner then dies; started again by hand, it is kept running again. A VM
 * reported shut down without having run there (protected while stopped) is started. */
static void guest_shutdown_is_respected(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    uint32_t on0[] = {1, 2, 3}, down0[] = {0};
    hac_input inv = {.kind = HAC_IN_INVENTORY, .host = 0, .vms = on0, .n_vms = 3, .down = down0, .n_down = 1};
    step(c, 200, &inv);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_WANT), 1);
    assert_int_equal(count(HAC_O_CMD, HAC_CMD_START), 0);
    commit_all(c, &s, 210);
    assert_false(s.vms[0].want_running);
    assert_int_equal(s.vms[0].generation, 1);
    hac_input tick = {.kind = HAC_IN_TICK};
    step(c, 220, &tick);
    step(c, 230, &inv);
    assert_int_equal(out.n, 0);   /* no START, no second WANT */
    /* h0 dies: vm1..vm3 restart elsewhere, vm0 stays down */
    host_in(c, 1000, 0, HAC_DEAD, 230);
    out.n = 0;
    step(c, 230 + 2500, &tick);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 3);
    for (uint32_t i = 0; i < out.n; i++)
        assert_false(out.items[i].kind == HAC_O_PROPOSE && out.items[i].prop.index == 0);
    hac_coord_free(c);

    /* started again by hand on its owner: kept running again */
    c = ready(&s, &cfg);
    step(c, 200, &inv);
    commit_all(c, &s, 210);
    uint32_t all0[] = {0, 1, 2, 3};
    inventory(c, 300, 0, all0, 4);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_WANT), 1);
    commit_all(c, &s, 310);
    assert_true(s.vms[0].want_running);
    hac_coord_free(c);

    /* vm4 on h1 was never seen running there by this coordinator: a shut-down report
     * does not turn it off (protecting a stopped VM starts it) */
    cluster(&s);
    s.vms[4].protected_ = true;
    c = hac_coord_new(&cfg, &s, 5);
    out.n = 0;
    for (uint32_t h = 0; h < 3; h++)
        host_in(c, 100, h, HAC_ALIVE, 100);
    inventory(c, 100, 0, all0, 4);
    inventory(c, 100, 2, NULL, 0);
    uint32_t down1[] = {4};
    hac_input inv1 = {.kind = HAC_IN_INVENTORY, .host = 1, .down = down1, .n_down = 1};
    step(c, 200, &inv1);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_WANT), 0);
    assert_int_equal(count(HAC_O_CMD, HAC_CMD_START), 1);
    hac_coord_free(c);
}

/* A VM that shows up on a host in maintenance (started there by hand, then adopted)
 * is moved off again: maintenance means empty. */
static void maintenance_host_is_emptied_again(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    cluster(&s);
    s.hosts[1].admin = PLC_ADMIN_MAINTENANCE;   /* vm4 lives there */
    hac_config_default(&cfg);
    hac_coord *c = start(&s, &cfg);
    int32_t to = moving_to(4);
    assert_true(to >= 0);
    assert_int_not_equal(to, 1);
    hac_coord_free(c);
}

/* Anti-affinity from the replicated policy: two VMs of group "db" drained off h0 never
 * land together. Both are barred from h2, so without the rule both would go to h1; with
 * it one goes to h1 and the other has nowhere to go and stays. */
static void anti_affinity_keeps_apart(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    cluster(&s);
    for (uint32_t v = 0; v < 2; v++) {
        hac_prop p = {.kind = HAC_P_PROTECT, .index = v, .vm = s.vms[v]};
        snprintf(p.vm.anti_group, sizeof p.vm.anti_group, "db");
        assert_int_equal(hac_apply(&s, &p), 0);
        assert_string_equal(s.vms[v].anti_group, "db");
        s.vms[v].prot_acked = true;
    }
    hac_config_default(&cfg);
    cfg.plc.max_out_per_host = 4;
    hac_coord *c = start(&s, &cfg);
    for (uint32_t v = 0; v < 2; v++) {
        hac_input k = {.kind = HAC_IN_CONSTRAINTS, .host = 0, .vm = v, .must_not = 1u << 2};
        step(c, 150, &k);
    }
    out.n = 0;
    hac_input d = {.kind = HAC_IN_ADMIN, .req = HAC_REQ_DRAIN, .host = 0};
    step(c, 200, &d);
    commit_all(c, &s, 210);
    int32_t to[2] = {moving_to(0), moving_to(1)};
    assert_true((to[0] == 1) != (to[1] == 1));   /* exactly one of them on h1 */
    assert_true(to[0] == -1 || to[1] == -1);     /* the other stays */
    hac_coord_free(c);
}

static void fence_confirmed_restarts_at_once(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    host_in(c, 1000, 0, HAC_DEAD, 100);
    hac_input f = {.kind = HAC_IN_FENCED, .host = 0};
    out.n = 0;
    step(c, 1001, &f);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 4);
    hac_coord_free(c);
}

static void max_restarts_honoured(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    cluster(&s);
    hac_prop p = {.kind = HAC_P_PROTECT, .index = 0};
    p.vm.protected_ = true;
    p.vm.want_running = true;
    p.vm.max_restarts = 1;
    assert_int_equal(hac_apply(&s, &p), 0);
    s.vms[0].restarts = 1;
    s.vms[0].prot_acked = true; /* as if host 0 had reported it since */
    hac_config_default(&cfg);
    hac_coord *c = hac_coord_new(&cfg, &s, 1);
    uint32_t on0[] = {0, 1, 2, 3};
    for (uint32_t h = 0; h < 3; h++)
        host_in(c, 100, h, HAC_ALIVE, 100);
    inventory(c, 100, 0, on0, 4);
    inventory(c, 100, 1, NULL, 0);
    inventory(c, 100, 2, NULL, 0);
    out.n = 0;
    host_in(c, 5000, 0, HAC_DEAD, 100);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 3);
    bool said = false;
    for (uint32_t i = 0; i < out.n; i++)
        said |= out.items[i].kind == HAC_O_EVENT && strstr(out.items[i].text, "max_restarts");
    assert_true(said);
    hac_coord_free(c);
}

/* A coordinator taking over a drain decides nothing while it has heard of only some
 * hosts (it would find "no live host" for the draining one's VMs), and moves nothing off
 * the draining host before that host has said what it runs (a running VM would be
 * planned as a stopped one). */
static void new_coordinator_waits_to_hear(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    cluster(&s);
    hac_config_default(&cfg);
    hac_prop d = {.kind = HAC_P_ADMIN, .index = 0, .admin = PLC_ADMIN_DRAINING};
    assert_int_equal(hac_apply(&s, &d), 0);
    hac_coord *c = hac_coord_new(&cfg, &s, 7);
    assert_non_null(c);
    out.n = 0;
    host_in(c, 100, 0, HAC_ALIVE, 100);
    host_in(c, 100, 1, HAC_ALIVE, 100);
    assert_int_equal(out.n, 0);
    host_in(c, 100, 2, HAC_ALIVE, 100);
    uint32_t on1[] = {4};
    inventory(c, 110, 1, on1, 1);
    inventory(c, 110, 2, NULL, 0);
    assert_int_equal(count(HAC_O_PROPOSE, -1), 0);
    assert_int_equal(count(HAC_O_EVENT, -1), 0); /* nor "cannot leave" */
    uint32_t on0[] = {0, 1, 2, 3};
    inventory(c, 120, 0, on0, 4);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_MOVING), 2);
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_EVENT)
            assert_non_null(strstr(out.items[i].text, ": migrate h0 -> "));
    hac_coord_free(c);
}

static void drain_to_maintenance(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    hac_input d = {.kind = HAC_IN_ADMIN, .req = HAC_REQ_DRAIN, .host = 0};
    step(c, 200, &d);
    commit_all(c, &s, 210); /* admin -> draining; plans moves */
    assert_int_equal(s.hosts[0].admin, PLC_ADMIN_DRAINING);
    /* default limits: 2 out per host -> 2 MOVING proposals */
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_MOVING), 2);
    commit_all(c, &s, 220);
    assert_int_equal(count(HAC_O_CMD, HAC_CMD_MIGRATE), 2);
    for (int round = 0; round < 10 && s.hosts[0].admin != PLC_ADMIN_MAINTENANCE; round++) {
        hac_out cmds = out;
        out.n = 0;
        for (uint32_t i = 0; i < cmds.n; i++)
            if (cmds.items[i].kind == HAC_O_CMD) {
                hac_input r = {.kind = HAC_IN_RESULT, .host = dest_of(&cmds.items[i].cmd),
                               .cmd_id = cmds.items[i].cmd.id, .ok = true};
                step(c, 300 + (uint64_t)round * 10, &r);
            } else if (cmds.items[i].kind == HAC_O_PROPOSE) {
                hac_out_push(&out, &cmds.items[i]);
            }
        /* commit the new owners, then agents report where VMs are now */
        commit_all(c, &s, 301 + (uint64_t)round * 10);
        hac_out keep = out;
        out.n = 0;
        for (uint32_t h = 0; h < 3; h++) {
            uint32_t at[8], n = 0;
            for (uint32_t v = 0; v < s.n_vms; v++)
                if (s.vms[v].owner == (int32_t)h)
                    at[n++] = v;
            inventory(c, 302 + (uint64_t)round * 10, h, at, n);
        }
        for (uint32_t i = 0; i < keep.n; i++)
            hac_out_push(&out, &keep.items[i]);
        commit_all(c, &s, 303 + (uint64_t)round * 10);
    }
    assert_int_equal(s.hosts[0].admin, PLC_ADMIN_MAINTENANCE);
    for (uint32_t v = 0; v < s.n_vms; v++) {
        assert_int_not_equal(s.vms[v].owner, 0);
        if (v < 4)
            assert_int_equal(s.vms[v].home, 0);
    }
    hac_coord_free(c);
}

/* What only the agent's full view knows (storage, CPU, networks) reaches the plan: a VM
 * that may never run on h1 is drained to h2, and one barred from both others stays and
 * is reported as unable to leave. */
static void constraints_steer_the_plan(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    hac_input k = {.kind = HAC_IN_CONSTRAINTS, .vm = 0, .must_not = 1u << 1};
    step(c, 150, &k);
    hac_input k2 = {.kind = HAC_IN_CONSTRAINTS, .vm = 1, .must_not = (1u << 1) | (1u << 2)};
    step(c, 151, &k2);
    hac_input bad = {.kind = HAC_IN_CONSTRAINTS, .vm = 99};
    hac_event ev = {.now_ms = 152, .in = &bad};
    assert_int_equal(hac_coord_step(c, &ev, &out), -EINVAL);
    hac_input d = {.kind = HAC_IN_ADMIN, .req = HAC_REQ_DRAIN, .host = 0};
    step(c, 200, &d);
    commit_all(c, &s, 210);
    bool vm0_moves = false, stuck = false;
    for (uint32_t i = 0; i < out.n; i++) {
        const hac_out_item *it = &out.items[i];
        if (it->kind == HAC_O_PROPOSE && it->prop.kind == HAC_P_MOVING) {
            assert_int_not_equal(it->prop.index, 1);
            if (it->prop.index == 0) {
                assert_int_equal(it->prop.owner, 2);
                vm0_moves = true;
            }
        }
        if (it->kind == HAC_O_EVENT && it->vm == 1 && strstr(it->text, "cannot leave"))
            stuck = true;
    }
    assert_true(vm0_moves);
    assert_true(stuck);
    hac_coord_free(c);
}

/* Drain h0 of a ready() cluster: the first MIGRATE the coordinator sends. */
static hac_cmd drain_h0_first_move(hac_coord *c, hac_rstate *s)
{
    hac_input d = {.kind = HAC_IN_ADMIN, .req = HAC_REQ_DRAIN, .host = 0};
    step(c, 200, &d);
    commit_all(c, s, 210);
    commit_all(c, s, 220);
    hac_cmd first = {0};
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_CMD) {
            first = out.items[i].cmd;
            break;
        }
    assert_int_equal(first.kind, HAC_CMD_MIGRATE);
    return first;
}

static void failed_migration_tries_elsewhere(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    hac_cmd first = drain_h0_first_move(c, &s);
    out.n = 0;
    hac_input r = {.kind = HAC_IN_RESULT, .host = dest_of(&first), .cmd_id = first.id, .ok = false};
    snprintf(r.text, sizeof r.text, "cpu incompatible");
    step(c, 300, &r);
    commit_all(c, &s, 310); /* MOVING cleared -> replanned, excluding the failed target */
    int32_t again = moving_to(first.vm);
    assert_true(again >= 0);
    assert_int_not_equal(again, (int32_t)first.to);
    hac_coord_free(c);
}

/* During a live move both ends list the VM: no "reported on" event each time (it came
 * several times a second per move in the lab's journal). */
static void a_move_in_flight_is_no_double_report(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    hac_cmd first = drain_h0_first_move(c, &s);
    out.n = 0;
    uint32_t both[] = {first.vm};
    inventory(c, 300, first.to, both, 1);
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_EVENT)
            assert_null(strstr(out.items[i].text, "reported on"));
    hac_coord_free(c);
}

/* The source refuses a MIGRATE as not able now (its libvirtd silent): no attempt spent,
 * no destination excluded; the source's moves wait out a hold, then go as planned.
 * Seen in the bench: three attempts spent in 60 ms and the VM given up ("cannot leave"). */
static void source_refusal_holds_the_move(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    hac_cmd first = drain_h0_first_move(c, &s);
    uint64_t now = 300;
    for (int k = 0; k < 5; k++) {   /* more refusals than migrate_attempts_max */
        out.n = 0;
        hac_input r = {.kind = HAC_IN_RESULT, .host = dest_of(&first), .cmd_id = first.id, .ok = false};
        snprintf(r.text, sizeof r.text, "cannot queue the job: libvirtd here has not answered for 8471 ms");
        step(c, now, &r);
        for (uint32_t i = 0; i < out.n; i++)
            if (out.items[i].kind == HAC_O_EVENT) {
                assert_null(strstr(out.items[i].text, "cannot leave"));
                assert_null(strstr(out.items[i].text, "failed ("));
            }
        commit_all(c, &s, now + 10);   /* MOVING cleared; held: nothing replanned yet */
        for (uint32_t v = 0; v < s.n_vms; v++)
            assert_int_equal(moving_to(v), -1);
        now += 60000;   /* past the longest hold (restart_backoff_max_ms, 30 s by default) */
        for (uint32_t h = 0; h < s.n_hosts; h++) {
            host_in(c, now, h, HAC_ALIVE, now);
            uint32_t mine[HAC_VMS_MAX], n = 0;
            for (uint32_t v = 0; v < s.n_vms; v++)
                if (s.vms[v].owner == (int32_t)h)
                    mine[n++] = v;
            inventory(c, now, h, mine, n);
        }
        hac_input tick = {.kind = HAC_IN_TICK};
        step(c, now, &tick);
        commit_all(c, &s, now + 10);
        /* after the hold the drain goes on (the planner's first wave, maybe another VM) */
        first.kind = 0;
        for (uint32_t i = 0; i < out.n; i++)
            if (out.items[i].kind == HAC_O_CMD && out.items[i].cmd.kind == HAC_CMD_MIGRATE)
                first = out.items[i].cmd;
        assert_int_equal(first.kind, HAC_CMD_MIGRATE);
        assert_true(s.vms[first.vm].moving_to >= 0);
        now += 100;
    }
    hac_coord_free(c);
}

/* With a 1000 ms watchdog and a 2000 ms lease: the agent self-fences at 750 ms (while it
 * still pets), pets again once its protected VMs are gone, and stops petting when a
 * destroy did not take, so that the watchdog resets the host by the lease's end. */
static void fence_watchdog_pets_only_while_safe(void **st)
{
    (void)st;
    hac_rstate s;
    cluster(&s);
    hac_fence f;
    hac_fence_init(&f, 0, 2000);
    assert_int_equal(hac_fence_set_watchdog(&f, 1750), -EINVAL); /* no lease left */
    assert_int_equal(hac_fence_set_watchdog(&f, 1000), 0);
    uint32_t mine[] = {0, 1};
    hac_fence_input loc = {.kind = HAC_FIN_LOCAL, .vms = mine, .n_vms = 2, .state = &s};
    out.n = 0;
    hac_fence_input con = {.kind = HAC_FIN_CONTACT, .sent_ms = 10};
    hac_fence_step(&f, 20, &con, &out);
    hac_fence_input syn = {.kind = HAC_FIN_SYNCED, .state = &s};
    hac_fence_step(&f, 20, &syn, &out);
    hac_fence_step(&f, 30, &loc, &out);
    assert_int_equal(f.mode, HAC_FM_ACTIVE);
    assert_true(hac_fence_may_pet(&f, 30));
    hac_fence_input tick = {.kind = HAC_FIN_TICK};
    out.n = 0;
    hac_fence_step(&f, 759, &tick, &out);
    assert_int_equal(out.n, 0);
    assert_true(hac_fence_may_pet(&f, 759));
    hac_fence_step(&f, 760, &tick, &out); /* 10 + 2000 - 1000 - 250 */
    assert_int_equal(f.mode, HAC_FM_FENCED);
    assert_int_equal(count(HAC_O_DESTROY, -1), 2);
    /* destroys asked for are not VMs gone: until the hypervisor stops listing them,
     * petting goes on only while the lease has more than the watchdog's time left */
    assert_true(hac_fence_may_pet(&f, 1009));
    assert_false(hac_fence_may_pet(&f, 1010));
    hac_fence_input none = {.kind = HAC_FIN_LOCAL, .state = &s};
    hac_fence_step(&f, 800, &none, &out);
    assert_true(hac_fence_may_pet(&f, 1500)); /* nothing protected runs here */
    /* the hypervisor lists vm0 again: the destroy did not take */
    uint32_t left[] = {0};
    loc.vms = left;
    loc.n_vms = 1;
    hac_fence_step(&f, 1000, &loc, &out);
    assert_true(hac_fence_may_pet(&f, 1009));
    assert_false(hac_fence_may_pet(&f, 1010)); /* 1000 + 1000 = the lease's end */
    /* an unprotected VM alone never stops the petting */
    f.prot[0] = false;
    assert_true(hac_fence_may_pet(&f, 1900));
}

static int step_rc(hac_coord *c, uint64_t now, const hac_input *in)
{
    hac_event ev = {.now_ms = now, .in = in};
    return hac_coord_step(c, &ev, &out);
}

/* The first command of KIND in OUT. */
static hac_cmd first_cmd(hac_cmd_kind kind)
{
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_CMD && out.items[i].cmd.kind == kind)
            return out.items[i].cmd;
    fail_msg("no command of kind %d", kind);
    return (hac_cmd){0};
}

/* ready(), then an upgrade of h2 alone up to its run phase: OUT holds the RUN command. */
static hac_coord *upgrade_h2_to_run(hac_rstate *s, hac_config *cfg)
{
    hac_coord *c = ready(s, cfg);
    uint32_t order[] = {2};
    hac_input u = {.kind = HAC_IN_ADMIN, .req = HAC_REQ_UPGRADE_START, .order = order, .n_order = 1};
    snprintf(u.text, sizeof u.text, "true");
    step(c, 200, &u);
    commit_all(c, s, 210); /* running; h2 draining */
    commit_all(c, s, 220); /* maintenance */
    commit_all(c, s, 230);
    commit_all(c, s, 235); /* phase RUN, and the command goes out */
    assert_int_equal(s->upgrade.phase, HAC_UPH_RUN);
    return c;
}

/* Issue 12: only the host a command went to answers it. A member that is not that host
 * (the migration's target, a bystander) cannot settle a move with a forged "done", fail
 * a START, or move the upgrade on; each is refused whole (-EPERM, nothing emitted), and
 * the real answer still counts afterwards. */
static void results_only_from_the_command_host(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    hac_input d = {.kind = HAC_IN_ADMIN, .req = HAC_REQ_DRAIN, .host = 0};
    step(c, 200, &d);
    commit_all(c, &s, 210);
    commit_all(c, &s, 220);
    hac_cmd mig = first_cmd(HAC_CMD_MIGRATE);
    assert_int_equal(mig.from, 0);
    out.n = 0;
    for (uint32_t liar = 1; liar < 3; liar++) { /* the target, and the third host */
        hac_input r = {.kind = HAC_IN_RESULT, .host = liar, .cmd_id = mig.id, .ok = true};
        assert_int_equal(step_rc(c, 300, &r), -EPERM);
        assert_int_equal(out.n, 0);
    }
    hac_input never = {.kind = HAC_IN_RESULT, .host = 0, .cmd_id = mig.id + 1000, .ok = true};
    assert_int_equal(step_rc(c, 300, &never), -EPERM); /* an id never issued */
    never.cmd_id = 0;
    assert_int_equal(step_rc(c, 300, &never), -EPERM);
    hac_input r = {.kind = HAC_IN_RESULT, .host = 0, .cmd_id = mig.id, .ok = true};
    step(c, 301, &r);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 1);
    hac_input late = {.kind = HAC_IN_RESULT, .host = 2, .cmd_id = mig.id, .ok = false};
    assert_int_equal(step_rc(c, 302, &late), -EPERM); /* answered, and not by h2 */
    late.host = 0;
    step(c, 302, &late);                               /* its own late copy: nothing */
    hac_coord_free(c);

    c = h0_dies(&s, &cfg);
    commit_all(c, &s, 2610);
    hac_cmd start0 = first_cmd(HAC_CMD_START);
    uint32_t other = (start0.to + 1) % 3;
    hac_input f = {.kind = HAC_IN_RESULT, .host = other, .cmd_id = start0.id, .ok = false};
    snprintf(f.text, sizeof f.text, "libvirt: image is locked");
    out.n = 0;
    assert_int_equal(step_rc(c, 2620, &f), -EPERM);
    f.host = 7; /* no such host */
    assert_int_equal(step_rc(c, 2620, &f), -EINVAL);
    assert_int_equal(out.n, 0);
    hac_coord_free(c);

    c = upgrade_h2_to_run(&s, &cfg);
    hac_cmd run = first_cmd(HAC_CMD_RUN);
    hac_input ok = {.kind = HAC_IN_RESULT, .host = 1, .cmd_id = run.id, .ok = true};
    out.n = 0;
    assert_int_equal(step_rc(c, 300, &ok), -EPERM);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_UPGRADE), 0);
    ok.host = 2;
    step(c, 301, &ok);
    commit_all(c, &s, 310);
    assert_int_equal(s.upgrade.phase, HAC_UPH_REJOIN);
    hac_coord_free(c);
}

/* Issue 12: a VM's constraints come from its owner's placement view. Another member
 * barring it from every host (so it could be restarted nowhere) is refused and changes
 * nothing; the owner's own constraints still steer the plan. */
static void constraints_only_from_the_owner(void **st)
{
    (void)st;
    for (int from_owner = 0; from_owner < 2; from_owner++) {
        hac_rstate s;
        hac_config cfg;
        hac_coord *c = ready(&s, &cfg);
        hac_input k = {.kind = HAC_IN_CONSTRAINTS, .host = from_owner ? 0 : 1, .vm = 0,
                       .must_not = (1u << 1) | (1u << 2)};
        if (from_owner) {
            step(c, 150, &k);
        } else {
            assert_int_equal(step_rc(c, 150, &k), -EPERM);
            k.host = 9;
            assert_int_equal(step_rc(c, 150, &k), -EINVAL);
        }
        assert_int_equal(out.n, 0);
        /* h0 dies: vm0 is restarted on h1 or h2 unless its owner barred both */
        host_in(c, 1000, 0, HAC_DEAD, 100);
        hac_input tick = {.kind = HAC_IN_TICK};
        out.n = 0;
        step(c, 2600, &tick);
        bool vm0_placed = false;
        for (uint32_t i = 0; i < out.n; i++)
            vm0_placed |= out.items[i].kind == HAC_O_PROPOSE && out.items[i].prop.kind == HAC_P_OWNER &&
                          out.items[i].prop.index == 0;
        assert_int_equal(vm0_placed, !from_owner);
        hac_coord_free(c);
    }
}

/* Issue 12: a host reports what runs on itself, and a VM listed there that another live
 * host owns and runs is not taken on that word (any member could steal any VM so): the
 * double report is an event, and the VM is adopted only once its owner no longer lists
 * it (a move the owner finished without a result, an operator's virsh migrate). */
static void inventory_does_not_take_a_vm(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    uint32_t claim[] = {4, 0}, rest[] = {1, 2, 3};
    inventory(c, 200, 1, claim, 2);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 0);
    bool said = false;
    for (uint32_t i = 0; i < out.n; i++)
        said |= out.items[i].kind == HAC_O_EVENT && strstr(out.items[i].text, "vm0 reported on h0 and h1");
    assert_true(said);
    out.n = 0;
    inventory(c, 300, 0, rest, 3); /* h0: vm0 is gone from here */
    inventory(c, 301, 1, claim, 2);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 1);
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_PROPOSE)
            assert_int_equal(out.items[i].prop.owner, 1);
    hac_coord_free(c);
}

/* RUN is a root shell command (issue 12): an active agent runs only the replicated
 * upgrade's command, in its run phase, on its own turn. A forged RUN — no upgrade, the
 * wrong phase, another host's turn, another text — is refused and runs nothing. */
static void run_only_on_upgrade_turn(void **st)
{
    (void)st;
    hac_rstate s;
    cluster(&s);
    hac_fence f;
    hac_fence_init(&f, 1, 2000);
    hac_fence_input con = {.kind = HAC_FIN_CONTACT, .sent_ms = 10};
    hac_fence_input syn = {.kind = HAC_FIN_SYNCED, .state = &s};
    out.n = 0;
    hac_fence_step(&f, 20, &con, &out);
    hac_fence_step(&f, 20, &syn, &out);
    assert_int_equal(f.mode, HAC_FM_ACTIVE);
    hac_fence_input run = {.kind = HAC_FIN_COMMAND, .state = &s,
                           .cmd = {.kind = HAC_CMD_RUN, .id = 1, .term = 3, .from = 1, .to = 1}};
    snprintf(run.cmd.text, sizeof run.cmd.text, "apt-get -y install drover");
    uint64_t id = 1;
    struct { hac_upg_state state; hac_upg_phase phase; uint32_t turn; const char *text; bool runs; } cases[] = {
        {HAC_UPG_IDLE, HAC_UPH_RUN, 1, "apt-get -y install drover", false},     /* no upgrade */
        {HAC_UPG_RUNNING, HAC_UPH_DRAIN, 1, "apt-get -y install drover", false}, /* not yet */
        {HAC_UPG_RUNNING, HAC_UPH_RUN, 2, "apt-get -y install drover", false},  /* not our turn */
        {HAC_UPG_RUNNING, HAC_UPH_RUN, 1, "id > /tmp/owned", false},            /* not its text */
        {HAC_UPG_PAUSED, HAC_UPH_RUN, 1, "apt-get -y install drover", false},   /* paused */
        {HAC_UPG_RUNNING, HAC_UPH_RUN, 1, "apt-get -y install drover", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s.upgrade.state = cases[i].state;
        s.upgrade.phase = cases[i].phase;
        s.upgrade.order[0] = 0;
        s.upgrade.order[1] = cases[i].turn;
        s.upgrade.n = 3;
        s.upgrade.cur = 1;
        snprintf(s.upgrade.command, sizeof s.upgrade.command, "%s", "apt-get -y install drover");
        snprintf(run.cmd.text, sizeof run.cmd.text, "%s", cases[i].text);
        run.cmd.id = ++id;
        out.n = 0;
        hac_fence_step(&f, 30, &run, &out);
        assert_int_equal(count(HAC_O_EXEC, -1), cases[i].runs ? 1 : 0);
        assert_int_equal(count(HAC_O_REFUSE, -1), cases[i].runs ? 0 : 1);
    }
}

static void fence_self_fences_and_reconciles(void **st)
{
    (void)st;
    hac_rstate s;
    cluster(&s);
    hac_fence f;
    hac_fence_init(&f, 0, 2000);
    uint32_t mine[] = {0, 1, 4};
    hac_fence_input loc = {.kind = HAC_FIN_LOCAL, .vms = mine, .n_vms = 3};
    out.n = 0;
    assert_int_equal(hac_fence_step(&f, 0, &loc, &out), 0);
    hac_fence_input con = {.kind = HAC_FIN_CONTACT, .sent_ms = 10};
    hac_fence_step(&f, 20, &con, &out);
    hac_fence_input syn = {.kind = HAC_FIN_SYNCED, .state = &s};
    hac_fence_step(&f, 20, &syn, &out);
    /* vm4 is owned by host 1: destroyed on reconcile; vm0/vm1 are ours */
    assert_int_equal(count(HAC_O_DESTROY, -1), 1);
    assert_int_equal(out.items[0].vm, 4);
    assert_int_equal(f.mode, HAC_FM_ACTIVE);
    out.n = 0;
    hac_fence_input tick = {.kind = HAC_FIN_TICK};
    hac_fence_step(&f, 2009, &tick, &out);
    assert_int_equal(out.n, 0);
    hac_fence_step(&f, 2010, &tick, &out); /* 10 + 2000: lease over */
    assert_int_equal(f.mode, HAC_FM_FENCED);
    assert_int_equal(count(HAC_O_DESTROY, -1), 2);
    /* commands refused while fenced */
    out.n = 0;
    hac_fence_input cmd = {.kind = HAC_FIN_COMMAND, .state = &s,
                           .cmd = {.kind = HAC_CMD_START, .id = 1, .term = 3, .generation = 1,
                                   .vm = 0, .to = 0}};
    hac_fence_step(&f, 2100, &cmd, &out);
    assert_int_equal(count(HAC_O_REFUSE, -1), 1);
    /* back: vm0 was restarted elsewhere meanwhile; the hypervisor still lists it */
    s.vms[0].owner = 2;
    s.vms[0].generation = 2;
    uint32_t left[] = {0};
    loc.vms = left;
    loc.n_vms = 1;
    out.n = 0;
    hac_fence_step(&f, 5000, &loc, &out); /* still fenced: it goes at once */
    assert_int_equal(count(HAC_O_DESTROY, -1), 1);
    /* the unprotected vm1 lingers here, and meanwhile became host 1's */
    s.vms[1].protected_ = false;
    s.vms[1].owner = 1;
    s.vms[1].generation = 2;
    f.prot[1] = false;
    uint32_t other[] = {1};
    loc.vms = other;
    hac_fence_step(&f, 5000, &loc, &out);
    con.sent_ms = 5000;
    out.n = 0;
    hac_fence_step(&f, 5001, &con, &out);
    assert_int_equal(f.mode, HAC_FM_RECONCILE);
    hac_fence_step(&f, 5001, &cmd, &out);
    assert_int_equal(count(HAC_O_REFUSE, -1), 1); /* not before reconcile */
    hac_fence_step(&f, 5002, &syn, &out);
    assert_int_equal(count(HAC_O_DESTROY, -1), 1);
    assert_int_equal(out.items[out.n - 1].vm, 1);
    assert_int_equal(f.mode, HAC_FM_ACTIVE);
    /* stale generation refused, current accepted, older term refused */
    out.n = 0;
    cmd.cmd.generation = 1;
    hac_fence_step(&f, 5003, &cmd, &out);
    assert_int_equal(count(HAC_O_REFUSE, -1), 1);
    cmd.cmd.generation = 3;
    hac_fence_step(&f, 5004, &cmd, &out);
    assert_int_equal(count(HAC_O_EXEC, -1), 1);
    cmd.cmd.term = 2;
    cmd.cmd.generation = 4;
    hac_fence_step(&f, 5005, &cmd, &out);
    assert_int_equal(count(HAC_O_REFUSE, -1), 2);
}

static void upgrade_walks_hosts(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    uint32_t order[] = {2, 1};
    hac_input u = {.kind = HAC_IN_ADMIN, .req = HAC_REQ_UPGRADE_START, .order = order,
                   .n_order = 2};
    snprintf(u.text, sizeof u.text, "true");
    step(c, 200, &u);
    commit_all(c, &s, 210); /* plan running; host 2 (empty) -> draining */
    assert_int_equal(s.upgrade.state, HAC_UPG_RUNNING);
    commit_all(c, &s, 220); /* draining -> maintenance (empty) */
    commit_all(c, &s, 230); /* maintenance */
    assert_int_equal(s.hosts[2].admin, PLC_ADMIN_MAINTENANCE);
    commit_all(c, &s, 235); /* phase RUN, and the command goes out */
    assert_int_equal(s.upgrade.phase, HAC_UPH_RUN);
    assert_int_equal(count(HAC_O_CMD, HAC_CMD_RUN), 1);
    hac_input r = {.kind = HAC_IN_RESULT, .host = 2, .cmd_id = out.items[0].cmd.id, .ok = true};
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_CMD)
            r.cmd_id = out.items[i].cmd.id;
    out.n = 0;
    step(c, 300, &r);
    commit_all(c, &s, 310);
    assert_int_equal(s.upgrade.phase, HAC_UPH_REJOIN);
    host_in(c, 400, 2, HAC_ALIVE, 400);
    inventory(c, 401, 2, NULL, 0);
    commit_all(c, &s, 410);
    assert_int_equal(s.upgrade.phase, HAC_UPH_UNDRAIN);
    commit_all(c, &s, 420);
    commit_all(c, &s, 430);
    assert_int_equal(s.hosts[2].admin, PLC_ADMIN_ACTIVE);
    assert_int_equal(s.upgrade.cur, 1);
    hac_input p = {.kind = HAC_IN_ADMIN, .req = HAC_REQ_UPGRADE_PAUSE};
    step(c, 500, &p);
    commit_all(c, &s, 510);
    assert_int_equal(s.upgrade.state, HAC_UPG_PAUSED);
    hac_coord_free(c);
}

/* The upgrade command refused by a host that is reconciling (its agent restarted, and a
 * new coordinator sent the command again) did not run: it is sent again after a short
 * hold, the plan is not paused. A command that ran and failed still pauses it. */
static void upgrade_refused_run_is_sent_again(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = upgrade_h2_to_run(&s, &cfg);
    hac_input r = {.kind = HAC_IN_RESULT, .host = 2, .ok = false};
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_CMD && out.items[i].cmd.kind == HAC_CMD_RUN)
            r.cmd_id = out.items[i].cmd.id;
    assert_int_not_equal(r.cmd_id, 0);
    snprintf(r.text, sizeof r.text, "reconciling: not caught up yet");
    out.n = 0;
    step(c, 300, &r);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_UPGRADE), 0); /* not paused */
    assert_int_equal(count(HAC_O_CMD, HAC_CMD_RUN), 0);       /* not at once */
    hac_input tick = {.kind = HAC_IN_TICK};
    out.n = 0;
    step(c, 1300, &tick);
    assert_int_equal(count(HAC_O_CMD, HAC_CMD_RUN), 1);       /* after the hold */
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_CMD && out.items[i].cmd.kind == HAC_CMD_RUN)
            r.cmd_id = out.items[i].cmd.id;
    snprintf(r.text, sizeof r.text, "upgrade command exited with 1");
    out.n = 0;
    step(c, 1400, &r);
    commit_all(c, &s, 1410);
    assert_int_equal(s.upgrade.state, HAC_UPG_PAUSED);
    hac_coord_free(c);
}

static void degrade_hysteresis(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg); /* degrade_after 2000 ms, recover_after 10000 ms */
    hac_input bad = {.kind = HAC_IN_HOST, .host = 0, .live = HAC_ALIVE, .last_ack_ms = 200,
                     .mem_mib = 4096, .cpus = 8, .degraded = true};
    out.n = 0;
    step(c, 200, &bad);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_MOVING), 0); /* not yet: hysteresis */
    bad.last_ack_ms = 2199;
    step(c, 2199, &bad);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_MOVING), 0);
    bad.last_ack_ms = 2200;
    step(c, 2200, &bad);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_MOVING), 2); /* evacuating, 2 at a time */
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_PROPOSE)
            assert_int_not_equal(out.items[i].prop.owner, 0);
    /* admin state untouched: degraded is not maintenance */
    assert_int_equal(hac_coord_state(c)->hosts[0].admin, PLC_ADMIN_ACTIVE);
    hac_coord_free(c);
}

static void bad_signal_gets_no_new_vms(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    /* host 2 reports a bad signal (not yet degraded), host 0 dies: nothing may restart
     * on host 2, so everything goes to host 1 */
    hac_input bad = {.kind = HAC_IN_HOST, .host = 2, .live = HAC_ALIVE, .last_ack_ms = 900,
                     .mem_mib = 4096, .cpus = 8, .degraded = true};
    step(c, 900, &bad);
    out.n = 0;
    host_in(c, 5000, 0, HAC_DEAD, 100);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 4);
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_PROPOSE)
            assert_int_equal(out.items[i].prop.owner, 1);
    hac_coord_free(c);
}

/* A move recorded by a dead coordinator: nothing happens until the source reports that
 * no job runs; then the VM's whereabouts decide between clearing and finishing it. */
static void orphan_move_needs_source_proof(void **st)
{
    (void)st;
    for (int finished = 0; finished < 2; finished++) {
        hac_rstate s;
        hac_config cfg;
        cluster(&s);
        hac_prop m = {.kind = HAC_P_MOVING, .index = 0, .owner = 2, .generation = 2};
        assert_int_equal(hac_apply(&s, &m), 0);
        hac_config_default(&cfg);
        hac_coord *c = hac_coord_new(&cfg, &s, 7);
        for (uint32_t h = 0; h < 3; h++)
            host_in(c, 100, h, HAC_ALIVE, 100);
        uint32_t busy[] = {0}, src_run[] = {0, 1, 2, 3}, src_gone[] = {1, 2, 3};
        hac_gen g4[] = {2, 2, 2, 2};
        hac_input inv = {.kind = HAC_IN_INVENTORY, .host = 0, .vms = src_run, .gens = g4,
                         .n_vms = 4, .busy = busy, .n_busy = 1};
        out.n = 0;
        step(c, 200, &inv); /* the job still runs: wait */
        step(c, 300, &inv);
        assert_int_equal(count(HAC_O_PROPOSE, -1), 0);
        inv.n_busy = 0;
        if (finished) {
            inv.vms = src_gone;
            inv.n_vms = 3;
        }
        step(c, 400, &inv);
        assert_int_equal(count(HAC_O_PROPOSE, -1), 1);
        const hac_prop *p = &out.items[0].prop;
        for (uint32_t i = 0; i < out.n; i++)
            if (out.items[i].kind == HAC_O_PROPOSE)
                p = &out.items[i].prop;
        assert_int_equal(p->generation, 3);
        if (finished) {
            assert_int_equal(p->kind, HAC_P_OWNER); /* not on the source: target owns it */
            assert_int_equal(p->owner, 2);
        } else {
            assert_int_equal(p->kind, HAC_P_MOVING); /* still on the source: cleared */
            assert_int_equal(p->owner, -1);
        }
        hac_coord_free(c);
    }
}

static void late_duplicate_dropped(void **st)
{
    (void)st;
    hac_rstate s;
    cluster(&s);
    hac_fence f;
    hac_fence_init(&f, 0, 2000);
    hac_fence_input con = {.kind = HAC_FIN_CONTACT, .sent_ms = 0};
    hac_fence_input syn = {.kind = HAC_FIN_SYNCED, .state = &s};
    out.n = 0;
    hac_fence_step(&f, 1, &con, &out);
    hac_fence_step(&f, 1, &syn, &out);
    hac_fence_input cmd = {.kind = HAC_FIN_COMMAND, .state = &s,
                           .cmd = {.kind = HAC_CMD_START, .id = 9, .term = 1, .generation = 1,
                                   .vm = 0, .to = 0}};
    hac_fence_step(&f, 2, &cmd, &out);
    hac_fence_step(&f, 3, &cmd, &out);
    assert_int_equal(out.n, 1);
    assert_int_equal(out.items[0].kind, HAC_O_EXEC);
}

/* Protected while its owner was cut off: the owner cannot know to fence it, so no
 * restart until a fence is confirmed. */
static void protected_while_cut_off_waits(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    hac_prop p = {.kind = HAC_P_PROTECT, .index = 0, .vm = s.vms[0]};
    p.vm.protected_ = true;
    out.n = 0;
    assert_int_equal(hac_apply(&s, &p), 0);
    hac_input in = {.kind = HAC_IN_COMMIT, .prop = &p};
    step(c, 150, &in);
    host_in(c, 5000, 0, HAC_DEAD, 100); /* host 0 never reported vm0 since */
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 3); /* vm1..vm3, not vm0 */
    for (uint32_t i = 0; i < out.n; i++)
        if (out.items[i].kind == HAC_O_PROPOSE)
            assert_int_not_equal(out.items[i].prop.index, 0);
    out.n = 0;
    hac_input f = {.kind = HAC_IN_FENCED, .host = 0};
    step(c, 5001, &f);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 1);
    hac_coord_free(c);
}


/* ---- issue 11, point 3b: a clean agent stop freezes its host ------------------------- */

static hac_prop freeze_prop(uint32_t host, bool frozen, uint64_t stamp)
{
    return (hac_prop){.kind = HAC_P_FREEZE, .index = host, .frozen = frozen, .stamp = stamp,
                      .at_ms = frozen ? 1700000000000ull : 0};
}

#define STAMP(epoch, n) ((uint64_t)(epoch) << 32 | (n))

/* Stamps make the agent's requests compare-and-set: a late freeze of an older agent
 * process is stale, and so is an unfreeze resent after the freeze of the same process's
 * stop; confirm-off applies to a frozen host only and voids what came before it. */
static void freeze_apply_rules(void **st)
{
    (void)st;
    hac_rstate s;
    cluster(&s);
    hac_prop p = freeze_prop(0, true, STAMP(7, 1));
    assert_int_equal(hac_apply(&s, &p), 0);
    assert_true(s.hosts[0].frozen);
    assert_int_equal(s.hosts[0].frozen_at_ms, 1700000000000ull);
    assert_int_equal(hac_apply(&s, &p), 0); /* the same request again */
    hac_prop back = freeze_prop(0, false, STAMP(8, 1));
    assert_int_equal(hac_apply(&s, &back), 0);
    assert_false(s.hosts[0].frozen);
    assert_int_equal(hac_apply(&s, &p), -ESTALE); /* epoch 7's freeze commits late */
    assert_false(s.hosts[0].frozen);
    hac_prop off = {.kind = HAC_P_FREEZE, .index = 0, .confirm_off = true};
    assert_int_equal(hac_apply(&s, &off), -ESTALE); /* not frozen: no fence to count */
    p = freeze_prop(0, true, STAMP(8, 2)); /* epoch 8 stops: its unfreeze comes again late */
    assert_int_equal(hac_apply(&s, &p), 0);
    assert_int_equal(hac_apply(&s, &back), -ESTALE);
    assert_true(s.hosts[0].frozen);
    assert_int_equal(hac_apply(&s, &off), 0);
    assert_false(s.hosts[0].frozen);
    assert_int_equal(hac_apply(&s, &p), -ESTALE); /* epoch 8 is void after confirm-off */
    p = freeze_prop(0, true, STAMP(9, 1));
    assert_int_equal(hac_apply(&s, &p), 0); /* the next agent process may */
    hac_prop bad = freeze_prop(3, true, STAMP(9, 2));
    assert_int_equal(hac_apply(&s, &bad), -EINVAL);
}

static void commit_one(hac_coord *c, hac_rstate *s, uint64_t now, const hac_prop *p)
{
    int rc = hac_apply(s, p);
    hac_input in = {.kind = HAC_IN_COMMIT, .prop = p, .commit_rc = rc};
    step(c, now, &in);
}

/* h0's agent froze it and stopped: gossip says dead, its lease ended long ago, and
 * nothing of h0 is restarted, moved or started; one event says why. The operator's
 * confirm-off counts as a confirmed fence: the restarts follow at once. */
static void frozen_host_is_left_alone(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    /* the operator's way out is refused for a host that is not frozen */
    hac_input req = {.kind = HAC_IN_ADMIN, .req = HAC_REQ_CONFIRM_OFF, .host = 0};
    hac_prop off;
    char why[HAC_TEXT_MAX];
    assert_int_equal(hac_admin_prop(&s, &req, 0, &off, why, sizeof why), 1);
    assert_non_null(strstr(why, "not frozen"));
    hac_prop p = freeze_prop(0, true, 3);
    commit_one(c, &s, 150, &p);
    out.n = 0;
    host_in(c, 1000, 0, HAC_DEAD, 100);
    assert_int_equal(events_with("declared dead while frozen"), 1);
    hac_input tick = {.kind = HAC_IN_TICK};
    for (uint64_t t = 1100; t <= 600000; t += 100)
        step(c, t, &tick);
    assert_int_equal(count(HAC_O_PROPOSE, -1), 0);
    assert_int_equal(count(HAC_O_CMD, -1), 0);
    assert_int_equal(events_with("frozen for"), 1);
    assert_int_equal(events_with("lease expired"), 0);
    out.n = 0;
    assert_int_equal(hac_admin_prop(&s, &req, 0, &off, why, sizeof why), 0);
    assert_int_equal(off.kind, HAC_P_FREEZE);
    assert_true(off.confirm_off);
    commit_one(c, &s, 600100, &off);
    assert_int_equal(events_with("confirmed off by the operator"), 1);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 4);
    hac_coord_free(c);
}

/* h0's agent is back and unfreezes h0 while gossip still says dead (it learns of the
 * restart a moment later) and h0's last ack is from before the stop: the unfreeze is a
 * sign of life, so the lease does not count as expired at the commit, and nothing of h0
 * restarts elsewhere (lab_ha_agentstop saw "lease expired" the instant the flag cleared). */
static void unfreeze_is_a_sign_of_life(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    hac_coord *c = ready(&s, &cfg);
    hac_prop p = freeze_prop(0, true, 3);
    commit_one(c, &s, 150, &p);
    host_in(c, 1000, 0, HAC_DEAD, 100);
    hac_input tick = {.kind = HAC_IN_TICK};
    for (uint64_t t = 1100; t <= 20000; t += 100)
        step(c, t, &tick);
    out.n = 0;
    hac_prop back = freeze_prop(0, false, 4);
    commit_one(c, &s, 20050, &back);
    step(c, 20100, &tick);
    host_in(c, 20200, 0, HAC_DEAD, 100);   /* gossip not caught up yet */
    step(c, 20300, &tick);
    assert_int_equal(events_with("lease expired"), 0);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 0);
    host_in(c, 21000, 0, HAC_ALIVE, 21000);   /* gossip sees it again; reports flow */
    step(c, 21100, &tick);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 0);
    hac_coord_free(c);
}

/* The flag is replicated: a coordinator built later (h0's freeze in its state) never
 * restarts h0's VMs; and a frozen host that is back gets no command until it unfroze. */
static void new_coordinator_honours_freeze(void **st)
{
    (void)st;
    hac_rstate s;
    hac_config cfg;
    cluster(&s);
    hac_config_default(&cfg);
    hac_prop p = freeze_prop(0, true, 3);
    assert_int_equal(hac_apply(&s, &p), 0);
    hac_coord *c = hac_coord_new(&cfg, &s, 9);
    out.n = 0;
    uint32_t on1[] = {4};
    host_in(c, 100, 0, HAC_DEAD, 100);
    host_in(c, 100, 1, HAC_ALIVE, 100);
    host_in(c, 100, 2, HAC_ALIVE, 100);
    inventory(c, 100, 1, on1, 1);
    inventory(c, 100, 2, NULL, 0);
    hac_input tick = {.kind = HAC_IN_TICK};
    for (uint64_t t = 200; t <= 60000; t += 100) {
        host_in(c, t, 1, HAC_ALIVE, t);
        host_in(c, t, 2, HAC_ALIVE, t);
        step(c, t, &tick);
    }
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 0);
    assert_int_equal(events_with("frozen for"), 1);
    /* h0's agent is back and reports nothing running (its guests crashed meanwhile, say):
     * no START in place while frozen, one as soon as it unfroze */
    out.n = 0;
    host_in(c, 60100, 0, HAC_ALIVE, 60100);
    inventory(c, 60100, 0, NULL, 0);
    assert_int_equal(count(HAC_O_CMD, -1), 0);
    assert_int_equal(count(HAC_O_PROPOSE, HAC_P_OWNER), 0);
    hac_prop back = freeze_prop(0, false, 4);
    commit_one(c, &s, 60200, &back);
    assert_int_equal(count(HAC_O_CMD, HAC_CMD_START), 4);
    hac_coord_free(c);
}

/* The restarted agent (same boot) finds its host frozen and its lease long over: it
 * destroys nothing, reconciles once in contact (a VM owned elsewhere still goes), and
 * self-fences again once the unfreeze is applied and contact is lost. After a reboot the
 * freeze is not honoured: the old rule holds (destroy without a lease). */
static void fence_honours_freeze_after_restart(void **st)
{
    (void)st;
    hac_rstate s;
    cluster(&s);
    hac_prop p = freeze_prop(0, true, 3);
    assert_int_equal(hac_apply(&s, &p), 0);
    uint32_t mine[] = {0, 1, 4};
    hac_fence_input old = {.kind = HAC_FIN_CONTACT, .sent_ms = 100, .state = &s};
    hac_fence_input loc = {.kind = HAC_FIN_LOCAL, .vms = mine, .n_vms = 3, .state = &s};
    hac_fence_input tick = {.kind = HAC_FIN_TICK};
    for (int boot = 0; boot < 2; boot++) {
        hac_fence f;
        hac_fence_init(&f, 0, 2000);
        if (boot == 0)
            hac_fence_same_boot(&f);
        out.n = 0;
        hac_fence_step(&f, 90000, &old, &out);
        hac_fence_step(&f, 90000, &loc, &out);
        hac_fence_step(&f, 95000, &tick, &out);
        if (boot == 1) {   /* rebooted: whatever runs here now must go */
            assert_int_equal(f.mode, HAC_FM_FENCED);
            assert_int_equal(count(HAC_O_DESTROY, -1), 2);
            continue;
        }
        assert_int_equal(count(HAC_O_DESTROY, -1), 0);
        assert_int_equal(f.mode, HAC_FM_RECONCILE);
        assert_true(hac_fence_may_pet(&f, 95000));
        hac_fence_input con = {.kind = HAC_FIN_CONTACT, .sent_ms = 95100};
        hac_fence_input syn = {.kind = HAC_FIN_SYNCED, .state = &s};
        hac_fence_step(&f, 95200, &con, &out);
        hac_fence_step(&f, 95200, &syn, &out);
        assert_int_equal(f.mode, HAC_FM_ACTIVE);
        assert_int_equal(count(HAC_O_DESTROY, -1), 1); /* vm4 is host 1's */
        assert_int_equal(out.items[0].vm, 4);
        /* unfrozen: the lease rules again */
        hac_prop back = freeze_prop(0, false, 4);
        assert_int_equal(hac_apply(&s, &back), 0);
        hac_fence_input now = {.kind = HAC_FIN_TICK, .state = &s};
        out.n = 0;
        hac_fence_step(&f, 95300, &now, &out);
        assert_int_equal(out.n, 0);
        hac_fence_step(&f, 97100, &tick, &out);
        assert_int_equal(f.mode, HAC_FM_FENCED);
        assert_int_equal(count(HAC_O_DESTROY, -1), 2);
        assert_int_equal(hac_apply(&s, &p), -ESTALE); /* stamp 3 is over */
        p = freeze_prop(0, true, 5);
        assert_int_equal(hac_apply(&s, &p), 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(apply_rules),
        cmocka_unit_test(restart_waits_for_lease),
        cmocka_unit_test(slow_start_is_not_lost),
        cmocka_unit_test(run_only_on_upgrade_turn),
        cmocka_unit_test(results_only_from_the_command_host),
        cmocka_unit_test(constraints_only_from_the_owner),
        cmocka_unit_test(inventory_does_not_take_a_vm),
        cmocka_unit_test(unfreeze_is_a_sign_of_life),
        cmocka_unit_test(fence_confirmed_restarts_at_once),
        cmocka_unit_test(max_restarts_honoured),
        cmocka_unit_test(drain_to_maintenance),
        cmocka_unit_test(new_coordinator_waits_to_hear),
        cmocka_unit_test(anti_affinity_keeps_apart),
        cmocka_unit_test(maintenance_host_is_emptied_again),
        cmocka_unit_test(failed_starts_back_off),
        cmocka_unit_test(failed_start_needs_proof),
        cmocka_unit_test(refused_start_is_no_exclusion),
        cmocka_unit_test(refusals_do_not_ping_pong),
        cmocka_unit_test(every_refuser_is_tried_again),
        cmocka_unit_test(failed_migration_is_no_restart_rule),
        cmocka_unit_test(refused_start_copy_is_stale),
        cmocka_unit_test(guest_shutdown_is_respected),
        cmocka_unit_test(constraints_steer_the_plan),
        cmocka_unit_test(failed_migration_tries_elsewhere),
        cmocka_unit_test(source_refusal_holds_the_move),
        cmocka_unit_test(a_move_in_flight_is_no_double_report),
        cmocka_unit_test(fence_self_fences_and_reconciles),
        cmocka_unit_test(fence_watchdog_pets_only_while_safe),
        cmocka_unit_test(upgrade_walks_hosts),
        cmocka_unit_test(upgrade_refused_run_is_sent_again),
        cmocka_unit_test(degrade_hysteresis),
        cmocka_unit_test(bad_signal_gets_no_new_vms),
        cmocka_unit_test(orphan_move_needs_source_proof),
        cmocka_unit_test(late_duplicate_dropped),
        cmocka_unit_test(protected_while_cut_off_waits),
        cmocka_unit_test(freeze_apply_rules),
        cmocka_unit_test(frozen_host_is_left_alone),
        cmocka_unit_test(new_coordinator_honours_freeze),
        cmocka_unit_test(fence_honours_freeze_after_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

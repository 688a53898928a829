/* libFuzzer: an HA message (proto/ha.proto HaMsg, MSG_COMMAND) as an agent receives it
 * from another member: agent/ha_drv.c decodes it and hands each part to ha_fence.c
 * (command, ack) or ha_coord.c (report, result), which check it and feed the HA cores.
 * Those handlers need a whole agent, so this harness repeats their decode-to-core
 * mapping on a fixed three-host state and drives the real cores (ha/hac_fence.c,
 * hac_coord.c) with it: a change to what the handlers read must be mirrored here (kept
 * short on purpose). The sender is authenticated by the transport: here host h2 (index
 * 1), which follows leader h1 in term TERM and is also the coordinator's reporter.
 * Must never crash or leak; the cores refuse what they do not believe. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ha.pb-c.h"
#include "hac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TERM    7u
#define SELF    1u          /* h2 */
#define NOW_MS  100000u
#define APPLIED 50u         /* this host's applied index */

static hac_rstate state;
static hac_config cfg;
static hac_fence fence0;    /* ACTIVE, in contact, synced with state */
static hac_out out;

static void prop(const hac_prop *p)
{
    if (hac_apply(&state, p) != 0)
        abort();
}

static void setup(void)
{
    hac_rstate_init(&state);
    hac_config_default(&cfg);
    const char *hosts[] = {"h1", "h2", "h3"}, *vms[] = {"vm1", "vm2", "vm3"};
    for (int i = 0; i < 3; i++) {
        hac_prop p = {.kind = HAC_P_HOST_ADD};
        strcpy(p.host.name, hosts[i]);
        p.host.mem_mib = 8192;
        p.host.cpus = 4;
        prop(&p);
    }
    for (int i = 0; i < 3; i++) {
        hac_prop p = {.kind = HAC_P_VM_ADD};
        strcpy(p.vm.name, vms[i]);
        p.vm.mem_mib = 512;
        p.vm.vcpus = 1;
        p.vm.want_running = true;
        p.vm.owner = i;
        p.vm.moving_to = p.vm.home = -1;
        prop(&p);
    }
    hac_prop p = {.kind = HAC_P_PROTECT};
    p.index = 1;
    p.vm = state.vms[1];
    p.vm.protected_ = true;
    prop(&p);
    hac_fence_init(&fence0, SELF, cfg.fence_timeout_ms);
    hac_fence_input in = {.kind = HAC_FIN_CONTACT, .sent_ms = NOW_MS, .state = &state};
    out.n = 0;
    hac_fence_step(&fence0, NOW_MS, &in, &out);
    in = (hac_fence_input){.kind = HAC_FIN_SYNCED, .state = &state};
    out.n = 0;
    hac_fence_step(&fence0, NOW_MS, &in, &out);
}

static void coord_feed(hac_coord *c, const hac_input *in)
{
    hac_event ev = {.now_ms = NOW_MS, .in = in};
    out.n = 0;
    (void)hac_coord_step(c, &ev, &out);
}

/* agent/ha_fence.c ag_ha__on_command (sender is the leader it follows) */
static void on_command(hac_fence *f, const Drover__HaCommand *c)
{
    if (c->kind < HAC_CMD_MIGRATE || c->kind > HAC_CMD_RUN || c->vm >= HAC_VMS_MAX || c->from >= HAC_HOSTS_MAX ||
        c->to >= HAC_HOSTS_MAX || (c->text && strlen(c->text) >= HAC_TEXT_MAX))
        return;
    if (c->term != TERM || c->commit > APPLIED)
        return;   /* refused, or parked until the log catches up */
    hac_cmd cmd = {.kind = (hac_cmd_kind)c->kind, .id = c->id, .term = c->term, .generation = c->generation,
                   .vm = c->vm, .from = c->from, .to = c->to};
    memcpy(cmd.text, c->text ? c->text : "", c->text ? strlen(c->text) + 1 : 1);
    hac_fence_input in = {.kind = HAC_FIN_COMMAND, .state = &state, .cmd = cmd};
    out.n = 0;
    (void)hac_fence_step(f, NOW_MS, &in, &out);
}

/* agent/ha_fence.c ag_ha__on_ack (from the leader) */
static void on_ack(hac_fence *f, const Drover__HaAck *k)
{
    if (k->term < f->max_term)
        return;
    if (k->held_ms < k->sent_ms) {
        hac_fence_input in = {.kind = HAC_FIN_CONTACT, .sent_ms = k->sent_ms - k->held_ms};
        out.n = 0;
        (void)hac_fence_step(f, NOW_MS, &in, &out);
    }
    size_t len = 0;
    for (size_t i = 0; i < k->n_moves; i++)
        len += strlen(k->moves[i]->vm ? k->moves[i]->vm : "") + strlen(k->moves[i]->to ? k->moves[i]->to : "");
    for (size_t i = 0; i < k->n_stuck; i++)
        len += strlen(k->stuck[i] ? k->stuck[i] : "");
    (void)len;
}

static int vm_of(const char *name)
{
    return name ? hac_find_vm(&state, name) : -1;
}

/* agent/ha_coord.c ag_ha__on_report (the coordinator's term is TERM) */
static void on_report(hac_coord *c, const Drover__HaReport *r)
{
    uint32_t hi = SELF;
    if (!r->inventory_ok) {
        uint32_t idx[64], n = 0;
        for (size_t i = 0; i < r->n_starting && n < 64; i++) {
            int vi = vm_of(r->starting[i]);
            if (vi >= 0)
                idx[n++] = (uint32_t)vi;
        }
        hac_input in = {.kind = HAC_IN_STARTING, .host = hi, .starting = idx, .n_starting = n};
        coord_feed(c, &in);
        return;
    }
    uint32_t *vms = calloc(r->n_vms + 1, sizeof *vms), *down = calloc(r->n_vms + 1, sizeof *down);
    uint32_t *busy = calloc(r->n_busy + 1, sizeof *busy), *starting = calloc(r->n_starting + 1, sizeof *starting);
    hac_gen *gens = calloc(r->n_vms + 1, sizeof *gens);
    uint32_t nv = 0, nd = 0, nb = 0, ns = 0;
    for (size_t i = 0; vms && gens && down && i < r->n_vms; i++) {
        const Drover__HaInvVm *v = r->vms[i];
        int vi = vm_of(v->name);
        if (vi < 0) {
            if (v->name && strlen(v->name) < HAC_NAME_MAX) {   /* registered where it is */
                hac_prop p = {.kind = HAC_P_VM_ADD};
                memcpy(p.vm.name, v->name, strlen(v->name) + 1);
                p.vm.mem_mib = v->mem_mib;
                p.vm.vcpus = v->vcpus;
                p.vm.want_running = v->running;
                p.vm.owner = (int32_t)hi;
                p.vm.moving_to = p.vm.home = -1;
                hac_rstate *scratch = malloc(sizeof *scratch);
                if (scratch) {
                    *scratch = state;
                    (void)hac_apply(scratch, &p);
                    free(scratch);
                }
            }
            continue;
        }
        if (state.vms[vi].uuid[0] && v->uuid && strcmp(v->uuid, state.vms[vi].uuid) != 0)
            continue;
        if (v->n_cannot_run_on || state.vms[vi].owner == (int32_t)hi) {
            uint64_t mask = 0;
            for (size_t k = 0; k < v->n_cannot_run_on; k++) {
                int h = v->cannot_run_on[k] ? hac_find_host(&state, v->cannot_run_on[k]) : -1;
                if (h >= 0)
                    mask |= 1ull << h;
            }
            hac_input in = {.kind = HAC_IN_CONSTRAINTS, .host = hi, .vm = (uint32_t)vi, .must_not = mask};
            coord_feed(c, &in);
        }
        if (v->running) {
            vms[nv] = (uint32_t)vi;
            gens[nv++] = v->generation;
        }
        if (!v->running && v->shut_down && v->generation == state.vms[vi].generation)
            down[nd++] = (uint32_t)vi;
    }
    for (size_t i = 0; busy && i < r->n_busy; i++)
        if (vm_of(r->busy[i]) >= 0)
            busy[nb++] = (uint32_t)vm_of(r->busy[i]);
    for (size_t i = 0; starting && i < r->n_starting; i++)
        if (vm_of(r->starting[i]) >= 0)
            starting[ns++] = (uint32_t)vm_of(r->starting[i]);
    if (vms && gens && busy && down && starting) {
        hac_input in = {.kind = HAC_IN_INVENTORY, .host = hi, .vms = vms, .gens = gens, .n_vms = nv,
                        .busy = busy, .n_busy = nb, .down = down, .n_down = nd,
                        .starting = starting, .n_starting = ns};
        coord_feed(c, &in);
    }
    free(vms), free(down), free(busy), free(starting), free(gens);
}

/* agent/ha_coord.c ag_ha__on_result */
static void on_result(hac_coord *c, const Drover__HaResult *r)
{
    if (r->term != TERM)
        return;
    hac_input in = {.kind = HAC_IN_RESULT, .host = SELF, .cmd_id = r->id, .ok = r->ok};
    const char *t = r->text ? r->text : "";
    size_t n = strlen(t);
    if (n >= sizeof in.text)
        n = sizeof in.text - 1;
    memcpy(in.text, t, n);
    coord_feed(c, &in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!state.n_hosts)
        setup();
    Drover__HaMsg *m = drover__ha_msg__unpack(NULL, size, data);
    if (!m)
        return 0;
    hac_fence f = fence0;
    if (m->ack)
        on_ack(&f, m->ack);
    if (m->command)
        on_command(&f, m->command);
    if (m->report || m->result) {
        hac_coord *c = hac_coord_new(&cfg, &state, TERM);
        if (!c)
            abort();
        for (uint32_t h = 0; h < state.n_hosts; h++) {
            hac_input in = {.kind = HAC_IN_HOST, .host = h, .live = HAC_ALIVE, .last_ack_ms = NOW_MS,
                            .mem_mib = 8192, .cpus = 4};
            coord_feed(c, &in);
        }
        if (m->report)
            on_report(c, m->report);
        if (m->result)
            on_result(c, m->result);
        hac_coord_free(c);
    }
    drover__ha_msg__free_unpacked(m, NULL);
    return 0;
}

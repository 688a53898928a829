/* ha_fence.c — this host's side of HA: hac_fence fed with ticks, answered reports
 * (contact, counted from the report's send time), the log catching up (SYNCED), the
 * libvirt inventory and commands (applied to their commit index first); the lease saved
 * for a restarting agent; the report itself, with the constraints this host's full
 * placement view puts on its VMs. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "drover.pb-c.h"
#include "events.h"
#include "exitcodes.h"
#include "gossip.h"
#include "gossip.pb-c.h"
#include "gossip_drv.h"
#include "ha.pb-c.h"
#include "ha_drv.h"
#include "ha_int.h"
#include "hac_codec.h"
#include "hoststatus.h"
#include "log.h"
#include "net.h"
#include "raft_drv.h"
#include "state.pb-c.h"
#include "view.h"

/* ---- fence --------------------------------------------------------------------------- */

/* The kernel's id of this boot: a lease saved under another boot id is void. */
static const char *boot_id(void)
{
    static char id[48];
    if (!id[0]) {
        FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
        if (!f || !fgets(id, sizeof id, f))
            snprintf(id, sizeof id, "unknown");
        if (f)
            fclose(f);
        id[strcspn(id, "\n")] = 0;
    }
    return id;
}

/* The lease lives in a plain file written without fsync: it only means something within
 * this boot, and the page cache outlives the agent's process, so nothing on the lease
 * path waits for the disk (an fsync under I/O pressure takes seconds). */
static int lease_fd(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    if (h->lease_fd < 0) {
        char path[sizeof a->cfg.state_dir + 16];
        snprintf(path, sizeof path, "%s/ha_lease", a->cfg.state_dir);
        h->lease_fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    }
    return h->lease_fd;
}

void ag_ha__save_lease(ag_agent *a, bool force)
{
    struct ag_ha *h = a->ha;
    uint64_t now = ag_now_ms();
    if (!h->fence.contact_ever || (!force && now < h->lease_saved_ms + HA_LEASE_SAVE_MS))
        return;
    h->lease_saved_ms = now;
    char v[HA_LEASE_REC];
    memset(v, ' ', sizeof v);
    int n = snprintf(v, sizeof v, "%s %llu", boot_id(), (unsigned long long)h->fence.last_contact_ms);
    if (n > 0 && (size_t)n < sizeof v)
        v[n] = ' ';   /* one fixed-size record: a shorter one never leaves a tail behind */
    int fd = lease_fd(a);
    if (fd < 0 || pwrite(fd, v, sizeof v, 0) != (ssize_t)sizeof v)
        ag_debug("ha: cannot save the lease in %s/ha_lease", a->cfg.state_dir);
}

/* The saved lease: the file, else the store, where earlier agents kept it (an upgrade
 * restarts the agent and must find it). */
static bool read_lease(ag_agent *a, char *v, size_t cap)
{
    int fd = lease_fd(a);
    ssize_t n = fd >= 0 ? pread(fd, v, cap - 1, 0) : -1;
    if (n > 0) {
        v[n] = 0;
        return true;
    }
    size_t len;
    if (st_get(a->store, ST_DB_META, "ha_lease", 8, v, cap - 1, &len) != 0)
        return false;
    v[len < cap ? len : cap - 1] = 0;
    return true;
}

/* True when the saved lease is of this boot: the agent restarted, the host did not, so
 * the QEMUs here may have run on since it stopped (a freeze of this host then holds,
 * hac_fence_same_boot). The persisted state goes with the old contact, so the fence core
 * knows of a freeze before it judges that contact. */
bool ag_ha__restore_lease(ag_agent *a)
{
    char v[HA_LEASE_REC + 1], boot[48];
    unsigned long long sent;
    if (!read_lease(a, v, sizeof v))
        return false;
    if (sscanf(v, "%47s %llu", boot, &sent) != 2 || strcmp(boot, boot_id()) != 0)
        return false;   /* another boot: the VMs of before are gone or must be fenced */
    hac_fence_same_boot(&a->ha->fence);
    hac_fence_input in = {.kind = HAC_FIN_CONTACT, .sent_ms = sent, .state = a->ha->st};
    ag_ha__fence_feed(a, &in);
    ag_info("ha: lease carried over from before this agent restarted (%llu ms old)",
            (unsigned long long)(ag_now_ms() - sent));
    return true;
}

void ag_ha__maybe_synced(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    if (h->fence.mode != HAC_FM_RECONCILE || !h->leader_commit ||
        ag_raft_applied(a) < h->leader_commit)
        return;
    hac_fence_input in = {.kind = HAC_FIN_SYNCED, .state = h->st};
    ag_ha__fence_feed(a, &in);
}

static void fence_recheck(ag_loop *l, ag_id id, void *ud)
{
    (void)l;
    (void)id;
    ag_agent *a = ud;
    struct ag_ha *h = a->ha;
    if (!h)
        return;
    h->recheck = 0;
    h->rechecked = true;
    hac_fence_input t = {.kind = HAC_FIN_TICK};
    ag_ha__fence_feed(a, &t);
    h->rechecked = false;
}

/* The clock the fence core is fed. A lease found ended is judged again after one more
 * pass over the sockets: a stall of this loop (a long callback, the host descheduling
 * the agent) can leave the very answers that renewed it unread, and a fence decided a
 * few ms later is still inside the coordinator's drift margin (docs/ha.md). */
static uint64_t fence_now_ms(ag_agent *a, const hac_fence_input *in)
{
    struct ag_ha *h = a->ha;
    uint64_t now = ag_now_ms(), end = hac_fence_deadline_ms(&h->fence);
    if (h->rechecked || in->kind == HAC_FIN_CONTACT || h->fence.mode == HAC_FM_FENCED || !end || now < end)
        return now;
    if (!h->recheck) {
        h->recheck = ag_loop_timer(a->loop, 1, 0, fence_recheck, a);
        ag_loop_set_label(a->loop, h->recheck, "ha.lease_recheck");
        h->rechecks++;
    }
    return end - 1;
}

void ag_ha__fence_feed(ag_agent *a, hac_fence_input *in)
{
    struct ag_ha *h = a->ha;
    hac_out *out = calloc(1, sizeof *out);
    if (!out)
        return;
    hac_fence_step(&h->fence, fence_now_ms(a, in), in, out);
    for (uint32_t i = 0; i < out->n; i++) {
        const hac_out_item *it = &out->items[i];
        const char *vm = it->vm >= 0 && (uint32_t)it->vm < h->st->n_vms ? h->st->vms[it->vm].name : NULL;
        switch (it->kind) {
        case HAC_O_DESTROY:
            if (vm) {
                /* owned elsewhere: its definition lives on with its owner */
                int32_t owner = h->st->vms[it->vm].owner;
                ag_ha__exec_destroy(a, vm, h->st->vms[it->vm].uuid, owner >= 0 && owner != h->self, it->text);
            }
            break;
        case HAC_O_EXEC:
            ag_ha__exec_cmd(a, &it->cmd);
            break;
        case HAC_O_REFUSE:
            h->cmds_refused++;
            ag_ha__send_result(a, &it->cmd, false, it->text);
            break;
        default:
            break;
        }
    }
    free(out);
    if (h->fence.mode != h->last_mode) {
        static const char *names[] = {"reconcile", "active", "fenced"};
        ag_event(a, "fence", json_pack("{s:s}", "mode", names[h->fence.mode]),
                 "fence: %s -> %s%s", names[h->last_mode], names[h->fence.mode],
                 h->fence.mode == HAC_FM_FENCED ? " (no contact with the coordinator's quorum: "
                                                  "protected VMs here are destroyed)"
                 : h->fence.mode == HAC_FM_ACTIVE ? " (caught up with the cluster; commands accepted)" : "");
        h->last_mode = h->fence.mode;
    }
    if (in->kind == HAC_FIN_CONTACT)
        ag_ha__save_lease(a, false);
}

void ag_ha__on_ack(ag_agent *a, const uint8_t sender[AG_HOST_ID_LEN], const Drover__HaAck *k)
{
    struct ag_ha *h = a->ha;
    const ag_member *leader = ag_raft_leader_member(a);
    /* an answer from anyone but the host we believe leads, or from an older term than
     * any command we accepted, extends nothing */
    if (!leader || memcmp(leader->id, sender, AG_HOST_ID_LEN) != 0 || k->term < h->fence.max_term)
        return;
    h->acks++;
    h->leader_commit = k->commit;
    if (k->held_ms)
        h->acks_held++;
    if (k->held_ms < k->sent_ms) {
        hac_fence_input in = {.kind = HAC_FIN_CONTACT, .sent_ms = k->sent_ms - k->held_ms};
        ag_ha__fence_feed(a, &in);
    }
    ag_ha__maybe_synced(a);
    if (!h->coord) {
        h->n_moves = 0;
        for (size_t i = 0; i < k->n_moves && i < HA_MOVES_MAX; i++) {
            struct ha_move *x = &h->moves[h->n_moves++];
            const Drover__HaMove *mv = k->moves[i];
            snprintf(x->vm, sizeof x->vm, "%s", mv->vm ? mv->vm : "");
            snprintf(x->from, sizeof x->from, "%s", mv->from ? mv->from : "");
            snprintf(x->to, sizeof x->to, "%s", mv->to ? mv->to : "");
            x->percent = mv->percent;
            x->bytes_per_s = mv->bytes_per_s;
        }
        h->n_stuck = 0;
        for (size_t i = 0; i < k->n_stuck && i < HA_STUCK_MAX; i++)
            snprintf(h->stuck[h->n_stuck++], HAC_TEXT_MAX, "%s", k->stuck[i] ? k->stuck[i] : "");
    }
}

/* Who may command this host: the leader it follows, in the term it follows it in. Any
 * other member's keys, or a term from nowhere, are refused and counted here, before the
 * fence core would take the term as its newest (and then ignore the real leader's acks
 * and self-fence). A real new leader's command that arrives before this host has heard
 * of its term is refused too; the coordinator sends it again. Refused without an
 * answer: an answer would go to a sender that is not the coordinator. */
static bool command_authorized(ag_agent *a, const uint8_t sender[AG_HOST_ID_LEN], const Drover__HaCommand *c)
{
    struct ag_ha *h = a->ha;
    const ag_member *leader = ag_raft_leader_member(a);
    if (!leader || memcmp(leader->id, sender, AG_HOST_ID_LEN) != 0) {
        if (h->cmds_not_leader++ == 0)
            ag_warn("ha: refused a command from a host that is not the leader this host follows "
                    "(counted in ha.status commands_refused_sender)");
        return false;
    }
    if (c->term != ag_raft_term(a)) {
        h->cmds_not_term++;
        return false;
    }
    return true;
}

void ag_ha__on_command(ag_agent *a, const uint8_t sender[AG_HOST_ID_LEN], const Drover__HaCommand *c)
{
    struct ag_ha *h = a->ha;
    if (c->kind < HAC_CMD_MIGRATE || c->kind > HAC_CMD_RUN || c->vm >= HAC_VMS_MAX ||
        c->from >= HAC_HOSTS_MAX || c->to >= HAC_HOSTS_MAX || (c->text && strlen(c->text) >= HAC_TEXT_MAX)) {
        a->rejected_payload++;
        return;
    }
    if (!command_authorized(a, sender, c))
        return;
    h->cmds_in++;
    hac_cmd cmd = {.kind = (hac_cmd_kind)c->kind, .id = c->id, .term = c->term, .generation = c->generation,
                   .vm = c->vm, .from = c->from, .to = c->to};
    snprintf(cmd.text, sizeof cmd.text, "%s", c->text ? c->text : "");
    if (ag_raft_applied(a) < c->commit) {
        /* judge it against the state it was decided on: wait for the log */
        if (h->n_parked == HA_PARKED_CMDS) {
            ag_ha__send_result(a, &cmd, false, "too many commands waiting for the log here");
            return;
        }
        uint32_t i = h->n_parked++;
        h->parked[i] = cmd;
        h->parked_commit[i] = c->commit;
        h->parked_ms[i] = ag_now_ms();
        memcpy(h->parked_from[i], sender, 16);
        return;
    }
    hac_fence_input in = {.kind = HAC_FIN_COMMAND, .state = h->st, .cmd = cmd};
    ag_ha__fence_feed(a, &in);
}

/* ---- constraints from the full placement view ----------------------------------------- */

/* Findings that no amount of waiting fixes: the VM can never go to that host. Capacity,
 * admin state and health change, and the core judges those itself. */
static bool static_block(const char *code, bool copy_allowed)
{
    /* with storage migration allowed, local disks travel with a drained VM; that they
     * cannot be restarted elsewhere is then the START's failure to report, not a bar
     * on every host (one mask serves drains and restarts) */
    if (copy_allowed && (strcmp(code, "storage.copy_needed") == 0 || strcmp(code, "storage.not_shared") == 0))
        return false;
    static const char *const codes[] = {"cpu.", "device.", "network.missing", "storage.not_shared",
                                        "storage.copy_needed", "host.migration_disabled",
                                        "vm.migration_disabled", "version.libvirt", "version.qemu"};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (strncmp(code, codes[i], strlen(codes[i])) == 0)
            return true;
    return false;
}

static void compute_constraints(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    uint64_t now = ag_now_ms();
    if (now < h->cons_ms + HA_CONS_MS || !h->inv_ok)
        return;
    h->cons_ms = now;
    if (!h->cons && !(h->cons = calloc(HA_CONS_MAX, sizeof *h->cons)))
        return;
    ag_view *v = malloc(sizeof *v);
    plc_report *rep = malloc(sizeof *rep);
    h->n_cons = 0;
    if (!v || !rep || ag_view_from_gossip(v, a) != 0 || v->self < 0)
        goto out;
    for (size_t i = 0; i < h->n_inv && h->n_cons < HA_CONS_MAX; i++) {
        const hv_vm *vm = &h->inv[i];
        char err[160];
        if (ag_ha__vm_index(h, vm) < 0 || ag_view_add_vm(v, vm, v->self, err, sizeof err) != 0)
            continue;
        struct ha_cons *c = &h->cons[h->n_cons];
        memset(c, 0, sizeof *c);
        snprintf(c->vm, sizeof c->vm, "%.*s", HAC_NAME_MAX - 1, vm->name);
        for (uint32_t k = 0; k < v->pv.n_hosts && c->n < HAC_HOSTS_MAX; k++) {
            if ((int32_t)k == v->self)
                continue;
            bool blocked = false;
            for (int kind = 0; kind < 2 && !blocked; kind++) {
                if (plc_check_kind(&v->pv, kind ? PLC_KIND_RESTART : PLC_KIND_MIGRATE, 0, k, rep) != 0)
                    continue;
                for (uint32_t f = 0; f < rep->n && !blocked; f++)
                    if (rep->items[f].blocking &&
                        static_block(rep->items[f].code, strcmp(a->cfg.storage_migration, "drain") == 0)) {
                        blocked = true;
                        if (!c->why[0])
                            snprintf(c->why, sizeof c->why, "%.40s: %.110s", rep->items[f].code,
                                     rep->items[f].reason);
                    }
            }
            if (blocked)
                snprintf(c->hosts[c->n++], HAC_NAME_MAX, "%.*s", HAC_NAME_MAX - 1, v->hosts[k].name);
        }
        h->n_cons++;
    }
out:
    free(v);
    free(rep);
}

/* ---- the agent's own report ---------------------------------------------------------- */

/* The state's index for a local VM: -1 unknown, -2 same name but another UUID. */
int ag_ha__vm_index(const struct ag_ha *h, const hv_vm *v)
{
    int vi = hac_find_vm(h->st, v->name);
    if (vi >= 0 && h->st->vms[vi].uuid[0] && v->uuid[0] && strcmp(h->st->vms[vi].uuid, v->uuid) != 0)
        return -2;
    return vi;
}

/* A stopped VM whose owner is another host is a leftover (this host was fenced, or died
 * and came back after a restart elsewhere): its definition goes, the disks stay. Seen
 * twice, a report period apart, so a definition in transit is left alone. */
static void cleanup_definition(ag_agent *a, int vi, const hv_vm *v)
{
    struct ag_ha *h = a->ha;
    const hac_rvm *m = &h->st->vms[vi];
    if (m->owner < 0 || m->owner == h->self || m->moving_to >= 0 || ag_ha__job_busy(a, v->name)) {
        h->leftover[vi] = 0;
        return;
    }
    if (h->leftover[vi] != m->generation) {
        h->leftover[vi] = m->generation;
        return;
    }
    h->leftover[vi] = 0;
    char why[HAC_TEXT_MAX];
    snprintf(why, sizeof why, "owned by %s at generation %llu", h->st->hosts[m->owner].name,
             (unsigned long long)m->generation);
    ag_ha__exec_destroy(a, v->name, m->uuid, true, why);
}

/* The lease request, with the inventory when one is new (each inventory goes once).
 * BUSY has room for HA_JOBS_MAX names. */
static void send_report(ag_agent *a, Drover__HaInvVm **ivp, size_t nr, char **busy, bool inventory)
{
    struct ha_move mv[HA_JOBS_MAX];
    uint32_t nm = 0;
    ag_ha__local_moves(a, mv, &nm, HA_JOBS_MAX);
    Drover__HaMove pm[HA_JOBS_MAX], *pmp[HA_JOBS_MAX];
    for (uint32_t i = 0; i < nm; i++) {
        drover__ha_move__init(&pm[i]);
        pm[i].vm = mv[i].vm;
        pm[i].to = mv[i].to;
        pm[i].percent = mv[i].percent;
        pm[i].bytes_per_s = mv[i].bytes_per_s;
        pmp[i] = &pm[i];
        busy[i] = mv[i].vm;
    }
    Drover__HaReport r = DROVER__HA_REPORT__INIT;
    r.vms = ivp;
    r.n_vms = nr;
    r.busy = busy;
    r.n_busy = nm;
    r.moves = pmp;
    r.n_moves = nm;
    char *starting[HA_JOBS_MAX];
    r.starting = starting;
    r.n_starting = ag_ha__local_starts(a, starting, HA_JOBS_MAX);
    r.applied = ag_raft_applied(a);
    r.inventory_ok = inventory;
    r.sent_ms = ag_now_ms();   /* the lease counts from here */
    a->ha->report_sent_ms = r.sent_ms;
    Drover__HaMsg m = DROVER__HA_MSG__INIT;
    m.report = &r;
    ag_ha__send_msg(a, ag_raft_leader_member(a), &m);
}

void ag_ha__inventory_done(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    uint32_t *local = calloc(h->n_inv + 1, sizeof *local);
    uint32_t nl = 0;
    Drover__HaInvVm *iv = calloc(h->n_inv + 1, sizeof *iv);
    Drover__HaInvVm **ivp = calloc(h->n_inv + 1, sizeof *ivp);
    char **busy = calloc(HA_JOBS_MAX + 1, sizeof *busy);
    if (!local || !iv || !ivp || !busy)
        goto out;
    size_t nr = 0, nconsp = 0;
    char *consp[HAC_HOSTS_MAX * 4];   /* every local VM's barred hosts, at most this many in all */
    compute_constraints(a);
    for (size_t i = 0; i < h->n_inv; i++) {
        const hv_vm *v = &h->inv[i];
        int vi = ag_ha__vm_index(h, v);
        bool running = v->state == HV_VM_RUNNING || v->state == HV_VM_PAUSED;
        if (vi == -2) {
            if (!h->warned_same_name) {
                h->warned_same_name = true;
                ag_event(a, "ha", json_pack("{s:s,s:s}", "vm", v->name, "uuid", v->uuid),
                         "VM %s here is not the cluster's VM of that name (other UUID): drover leaves it "
                         "alone; give it a unique name to manage it", v->name);
            }
            continue;
        }
        if (vi >= 0 && running)
            local[nl++] = (uint32_t)vi;
        /* the paused receiving end of a move to here is not a second copy */
        if (vi >= 0 && v->state == HV_VM_PAUSED && h->st->vms[vi].moving_to == h->self && h->self >= 0)
            running = false;
        if (vi >= 0 && !running && h->fence.mode == HAC_FM_ACTIVE && h->self >= 0)
            cleanup_definition(a, vi, v);
        drover__ha_inv_vm__init(&iv[nr]);
        /* constraints only for the VMs this host owns: the coordinator takes a VM's
         * from its owner alone (issue 12) */
        bool own = vi >= 0 && h->self >= 0 && h->st->vms[vi].owner == h->self;
        for (uint32_t c = 0; own && c < h->n_cons; c++)
            if (strcmp(h->cons[c].vm, v->name) == 0) {
                iv[nr].cannot_run_on = consp + nconsp;
                for (uint32_t k = 0; k < h->cons[c].n && nconsp < HAC_HOSTS_MAX * 4; k++)
                    consp[nconsp++] = h->cons[c].hosts[k];
                iv[nr].n_cannot_run_on = (size_t)(consp + nconsp - iv[nr].cannot_run_on);
                iv[nr].cannot_why = h->cons[c].why;
            }
        iv[nr].name = (char *)v->name;
        iv[nr].uuid = (char *)v->uuid;
        iv[nr].shut_down = !running && v->shut_down;
        iv[nr].generation = vi >= 0 ? h->st->vms[vi].generation : 0;
        /* A protected VM's owner acknowledges the protection (reports the current
         * generation) only once the definition another host needs to restart it is in
         * the replicated state: until then a restart elsewhere could only fail. */
        if (vi >= 0 && h->st->vms[vi].protected_ && h->st->vms[vi].owner == h->self &&
            !h->st->vms[vi].prot_acked && iv[nr].generation && !ag_ha__xml_stored(a, v->name))
            iv[nr].generation--;
        iv[nr].mem_mib = v->mem_kib / 1024;
        iv[nr].vcpus = v->vcpus;
        iv[nr].running = running;
        ivp[nr] = &iv[nr];
        nr++;
    }
    if (h->inv_ok) {
        hac_fence_input in = {.kind = HAC_FIN_LOCAL, .state = h->st, .vms = local, .n_vms = nl};
        ag_ha__fence_feed(a, &in);
    }
    send_report(a, ivp, h->inv_ok ? nr : 0, busy, h->inv_ok);
out:
    free(local);
    free(iv);
    free(ivp);
    free(busy);
}

/* Between inventories: the lease must not wait for libvirt (a start or a hung libvirtd
 * can hold the workers for seconds), so the tick asks for it on its own. */
void ag_ha__send_lease(ag_agent *a)
{
    char *busy[HA_JOBS_MAX + 1];
    send_report(a, NULL, 0, busy, false);
}


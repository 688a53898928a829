/* ha_ctl.c — the control-socket side of HA: ha.admin, ha.protect, ha.upgrade, ha.status
 * (contract in ha_drv.h). A request is turned into its proposal here, against this
 * host's applied copy of the state (hac_admin_prop, the coordinator's own rules), and
 * committed through the log; the client hears back once it is applied here, with the
 * proposal's own verdict (a stale upgrade plan is refused on every host alike).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "ctl_place.h"
#include "exitcodes.h"
#include "ha_drv.h"
#include "ha_int.h"
#include "hac_codec.h"
#include "loop.h"
#include "raft_drv.h"
#include "state.pb-c.h"

int ag_ha__apply_rc(ag_agent *a, uint64_t index)
{
    struct ag_ha *h = a->ha;
    uint32_t r = (uint32_t)(index % HA_APPLY_RING);
    return h && h->ring_index[r] == index ? h->ring_rc[r] : 1;
}

struct req {
    ag_ctl_req *req;
    ag_admin *ad;
    bool closed;
    hac_prop prop;
    json_t *warnings;
    char why[HAC_TEXT_MAX];
};

static void req_closed(ag_ctl_req *r, void *ud)
{
    (void)r;
    ((struct req *)ud)->closed = true;   /* it still commits: nobody to tell */
}

static json_t *host_json(const hac_rstate *s, uint32_t i)
{
    const hac_rhost *h = &s->hosts[i];
    json_t *r = json_pack("{s:s,s:s,s:b,s:b,s:b}", "host", h->name, "admin", hac_admin_name(h->admin),
                          "degraded_flag", h->degraded_flag, "failback", h->failback, "frozen", h->frozen);
    if (h->frozen) {
        uint64_t now = ag_wall_ms();
        json_object_set_new(r, "frozen_at_ms", json_integer((json_int_t)h->frozen_at_ms));
        json_object_set_new(r, "frozen_for_s", json_integer(now > h->frozen_at_ms && h->frozen_at_ms
                                                                ? (json_int_t)((now - h->frozen_at_ms) / 1000) : 0));
    }
    return r;
}

static void done(ag_agent *a, void *ud, int code, uint64_t index, const char *error)
{
    struct req *q = ud;
    int rc = code ? 0 : ag_ha__apply_rc(a, index);
    ag_admin_end(a, q->ad, code ? code : rc < 0 ? AG_EX_UNSAFE : 0, index, q->why,
                 code ? error : rc < 0 ? strerror(-rc) : NULL);
    if (!q->closed) {
        const hac_rstate *s = a->ha ? a->ha->st : NULL;
        if (code)
            ag_ctl_finish(q->req, code, NULL, "%s", error ? error : "not committed");
        else if (rc == -ESTALE)
            ag_ctl_finish(q->req, AG_EX_TEMPFAIL, NULL,
                          "the cluster's HA state changed while this request was on its way; run it again");
        else if (rc < 0)
            ag_ctl_finish(q->req, AG_EX_UNSAFE, NULL, "the cluster refused the change (%s)", strerror(-rc));
        else {
            json_t *r = NULL;
            if ((q->prop.kind == HAC_P_ADMIN || q->prop.kind == HAC_P_FREEZE) && s && q->prop.index < s->n_hosts)
                r = host_json(s, q->prop.index);
            else if (q->prop.kind == HAC_P_PROTECT && s && q->prop.index < s->n_vms) {
                const hac_rvm *v = &s->vms[q->prop.index];
                r = json_pack("{s:s,s:b,s:i,s:i,s:i,s:s,s:s,s:O}", "vm", v->name, "protected", v->protected_,
                              "priority", v->priority, "order", v->restart_order, "max_restarts",
                              (int)v->max_restarts, "anti_affinity", v->anti_group, "affinity",
                              v->affinity_group, "warnings", q->warnings ? q->warnings : json_array());
            } else if (q->prop.kind == HAC_P_UPGRADE && s) {
                static const char *st[] = {"idle", "running", "paused", "done", "aborted"};
                r = json_pack("{s:s}", "state", st[s->upgrade.state]);
            } else
                r = json_object();
            json_object_set_new(r, "index", json_integer((json_int_t)index));
            ag_ctl_finish(q->req, AG_EX_OK, r, NULL);
        }
    }
    json_decref(q->warnings);
    free(q);
}

/* Propose p for the operator whose grant (args.auth) asked it: the Raft command carries
 * the grant, which the leader and every host check against p (operator.h). */
static void submit(ag_agent *a, ag_ctl_req *req, const char *method, json_t *args, const hac_prop *p,
                   const char *reason, json_t *warnings)
{
    ag_admin *ad;
    if (ag_admin_begin(a, req, method, args, &ad) != 0) {
        json_decref(warnings);
        return;
    }
    char full[HAC_TEXT_MAX];
    snprintf(full, sizeof full, "%s (operator %.11s, via %s)", reason, ad->fpr, a->cfg.name);
    struct req *q = calloc(1, sizeof *q);
    uint8_t *buf = NULL;
    size_t n;
    if (!q || hac_prop_encode(p, full, &buf, &n) != 0) {
        json_decref(warnings);
        ag_admin_end(a, ad, AG_EX_OSERR, 0, NULL, "out of memory");
        ag_ctl_finish(req, AG_EX_OSERR, NULL, "out of memory");
        free(q);
        return;
    }
    q->req = req;
    q->ad = ad;
    q->prop = *p;
    q->warnings = warnings;
    snprintf(q->why, sizeof q->why, "%s", reason);
    ag_ctl_on_close(req, req_closed, q);
    Drover__Command c = DROVER__COMMAND__INIT;
    Drover__AdminAuth auth;
    c.op = DROVER__COMMAND_OP__CMD_HA;
    c.key = (char *)"ha/state";
    c.ha.data = buf;
    c.ha.len = n;
    ag_admin_attach(ad, &c, &auth);
    ag_raft_submit_cmd(a, &c, done, q);
    free(buf);
}

static bool ready(ag_agent *a, ag_ctl_req *req)
{
    if (a->ha && a->raft)
        return true;
    ag_ctl_finish(req, AG_EX_UNAVAILABLE, NULL, "this agent is not part of a cluster yet "
                  "(`drover init` bootstraps one, `drover join` joins one)");
    return false;
}

static void ctl_admin(ag_ctl_req *req, json_t *args, void *ud)
{
    ag_agent *a = ud;
    if (!ready(a, req))
        return;
    const char *host = json_string_value(json_object_get(args, "host"));
    const char *what = json_string_value(json_object_get(args, "req"));
    static const struct { const char *word; hac_admin_req req; } words[] = {
        {"cordon", HAC_REQ_CORDON}, {"drain", HAC_REQ_DRAIN}, {"undrain", HAC_REQ_UNDRAIN},
        {"failback", HAC_REQ_UNDRAIN_FAILBACK}, {"degraded-on", HAC_REQ_DEGRADED_SET},
        {"degraded-off", HAC_REQ_DEGRADED_CLEAR}, {"confirm-off", HAC_REQ_CONFIRM_OFF}};
    hac_input in = {.kind = HAC_IN_ADMIN};
    for (size_t i = 0; what && i < sizeof words / sizeof *words; i++)
        if (strcmp(what, words[i].word) == 0)
            in.req = words[i].req;
    if (!host || !in.req) {
        ag_ctl_finish(req, AG_EX_INVALID, NULL, "ha.admin needs host and req "
                      "(cordon|drain|undrain|failback|degraded-on|degraded-off|confirm-off)");
        return;
    }
    int hi = hac_find_host(a->ha->st, host);
    if (hi < 0) {
        ag_ctl_finish(req, AG_EX_NOSUCH, NULL, "no host '%s' in the cluster's HA state "
                      "(see `drover members`; a host joins the HA state a few seconds after it joins)", host);
        return;
    }
    in.host = (uint32_t)hi;
    /* an operator's "it is off" about a host gossip hears is a mistake, and would run its
     * VMs twice: its agent is back and unfreezes it itself */
    if (in.req == HAC_REQ_CONFIRM_OFF && ag_ha__gossip_live(a, host) == HAC_ALIVE) {
        ag_ctl_finish(req, AG_EX_UNSAFE, NULL, "host %s is alive (gossip hears it): it is not off; its agent "
                      "unfreezes it once caught up with the cluster. --confirm-off is only for a host that is "
                      "powered off or whose VMs are surely gone", host);
        return;
    }
    hac_prop p;
    char why[HAC_TEXT_MAX];
    int rc = hac_admin_prop(a->ha->st, &in, ag_now_ms(), &p, why, sizeof why);
    if (rc != 0) {
        ag_ctl_finish(req, rc < 0 ? AG_EX_INVALID : AG_EX_UNSAFE, NULL, "%s", rc < 0 ? "bad request" : why);
        return;
    }
    submit(a, req, "ha.admin", args, &p, why, NULL);
}

static void ctl_protect(ag_ctl_req *req, json_t *args, void *ud)
{
    ag_agent *a = ud;
    if (!ready(a, req))
        return;
    const char *vm = json_string_value(json_object_get(args, "vm"));
    json_t *pr = json_object_get(args, "protect");
    if (!vm || !json_is_boolean(pr)) {
        ag_ctl_finish(req, AG_EX_INVALID, NULL, "ha.protect needs vm and protect (true|false)");
        return;
    }
    const hac_rstate *s = a->ha->st;
    int vi = hac_find_vm(s, vm);
    if (vi < 0) {
        ag_ctl_finish(req, AG_EX_NOSUCH, NULL, "VM '%s' is not known to the cluster: define it on a host "
                      "that runs drover and wait a second for that agent's report", vm);
        return;
    }
    hac_prop p = {.kind = HAC_P_PROTECT, .index = (uint32_t)vi, .vm = s->vms[vi]};
    p.vm.protected_ = json_is_true(pr);
    if (p.vm.protected_)
        p.vm.want_running = true;   /* protected = kept running, a stopped one is started */
    json_t *j;
    if ((j = json_object_get(args, "priority")) && json_is_integer(j))
        p.vm.priority = (int32_t)json_integer_value(j);
    if ((j = json_object_get(args, "order")) && json_is_integer(j))
        p.vm.restart_order = (int32_t)json_integer_value(j);
    if ((j = json_object_get(args, "max_restarts")) && json_is_integer(j)) {
        if (json_integer_value(j) < 0) {
            ag_ctl_finish(req, AG_EX_INVALID, NULL, "max_restarts must be 0 (unlimited) or more");
            return;
        }
        p.vm.max_restarts = (uint32_t)json_integer_value(j);
    }
    static const char *const gkeys[2] = {"anti_affinity", "affinity"};
    char *gdst[2] = {p.vm.anti_group, p.vm.affinity_group};
    for (int k = 0; k < 2; k++) {
        json_t *g = json_object_get(args, gkeys[k]);
        if (!g)
            continue;
        const char *gs = json_string_value(g);
        if (!gs || strlen(gs) >= HAC_GROUP_MAX || strpbrk(gs, " \t\n,")) {
            ag_ctl_finish(req, AG_EX_INVALID, NULL, "%s must be a group name of at most %d characters "
                          "without spaces or commas (\"\" clears it)", gkeys[k], HAC_GROUP_MAX - 1);
            return;
        }
        snprintf(gdst[k], HAC_GROUP_MAX, "%s", gs);
    }
    json_t *warnings = json_array();
    if (p.vm.protected_ && !s->vms[vi].protected_) {
        /* admission control: can every protected VM still restart after a host failure? */
        ag_place_prot *prot = calloc(s->n_vms + 1, sizeof *prot);
        size_t np = 0;
        for (uint32_t v = 0; prot && v < s->n_vms; v++) {
            if (!s->vms[v].protected_)
                continue;
            prot[np].name = s->vms[v].name;
            prot[np].host = s->vms[v].owner >= 0 ? s->hosts[s->vms[v].owner].name : "";
            prot[np].mem_mib = s->vms[v].mem_mib;
            prot[np].vcpus = s->vms[v].vcpus;
            prot[np].priority = s->vms[v].priority;
            np++;
        }
        json_t *w = NULL;
        const char *owner = s->vms[vi].owner >= 0 ? s->hosts[s->vms[vi].owner].name : NULL;
        int ac = prot ? ag_place_admission(a, vm, p.vm.mem_mib, p.vm.vcpus, p.vm.priority, owner, prot, np, &w)
                      : 0;
        free(prot);
        if (w) {
            json_array_extend(warnings, w);
            json_decref(w);
        }
        if (ac == AG_EX_UNSAFE && !json_is_true(json_object_get(args, "force"))) {
            json_t *first = json_array_get(warnings, 0);
            ag_ctl_finish(req, AG_EX_UNSAFE, NULL, "protecting %s would break the failover capacity: %s "
                          "(add capacity, lower other VMs' protection, or use --force)", vm,
                          first ? json_string_value(first) : "not enough room after a host failure");
            json_decref(warnings);
            return;
        }
    }
    char why[HAC_TEXT_MAX];
    snprintf(why, sizeof why, "%s %s", p.vm.protected_ ? "protect" : "unprotect", vm);
    submit(a, req, "ha.protect", args, &p, why, warnings);
}

static int cmp_name(const void *x, const void *y)
{
    return strcmp(((const hac_rhost *)x)->name, ((const hac_rhost *)y)->name);
}

static void ctl_upgrade(ag_ctl_req *req, json_t *args, void *ud)
{
    ag_agent *a = ud;
    if (!ready(a, req))
        return;
    const hac_rstate *s = a->ha->st;
    const char *op = json_string_value(json_object_get(args, "op"));
    hac_input in = {.kind = HAC_IN_ADMIN};
    uint32_t order[HAC_HOSTS_MAX];
    if (op && strcmp(op, "start") == 0) {
        const char *cmd = json_string_value(json_object_get(args, "command"));
        if (!cmd || !cmd[0] || strlen(cmd) >= HAC_TEXT_MAX) {
            ag_ctl_finish(req, AG_EX_INVALID, NULL, "upgrade start needs a command of 1 to %d bytes", HAC_TEXT_MAX - 1);
            return;
        }
        in.req = HAC_REQ_UPGRADE_START;
        snprintf(in.text, sizeof in.text, "%s", cmd);
        json_t *o = json_object_get(args, "order");
        if (json_is_array(o) && json_array_size(o) > 0) {
            size_t i;
            json_t *e;
            if (json_array_size(o) > HAC_HOSTS_MAX) {
                ag_ctl_finish(req, AG_EX_INVALID, NULL, "at most %d hosts in an upgrade order", HAC_HOSTS_MAX);
                return;
            }
            json_array_foreach(o, i, e) {
                int hi = json_is_string(e) ? hac_find_host(s, json_string_value(e)) : -1;
                if (hi < 0) {
                    ag_ctl_finish(req, AG_EX_NOSUCH, NULL, "no host '%s' in the cluster (see `drover members`)",
                                  json_is_string(e) ? json_string_value(e) : "?");
                    return;
                }
                for (size_t k = 0; k < i; k++)
                    if (order[k] == (uint32_t)hi) {
                        ag_ctl_finish(req, AG_EX_INVALID, NULL, "host '%s' is twice in the order",
                                      json_string_value(e));
                        return;
                    }
                order[i] = (uint32_t)hi;
            }
            in.n_order = (uint32_t)json_array_size(o);
        } else {
            /* every host, in name order */
            hac_rhost *sorted = malloc(s->n_hosts * sizeof *sorted + 1);
            if (!sorted) {
                ag_ctl_finish(req, AG_EX_OSERR, NULL, "out of memory");
                return;
            }
            memcpy(sorted, s->hosts, s->n_hosts * sizeof *sorted);
            qsort(sorted, s->n_hosts, sizeof *sorted, cmp_name);
            for (uint32_t i = 0; i < s->n_hosts; i++)
                order[i] = (uint32_t)hac_find_host(s, sorted[i].name);
            in.n_order = s->n_hosts;
            free(sorted);
        }
        in.order = order;
    } else if (op && strcmp(op, "pause") == 0)
        in.req = HAC_REQ_UPGRADE_PAUSE;
    else if (op && strcmp(op, "resume") == 0)
        in.req = HAC_REQ_UPGRADE_RESUME;
    else if (op && strcmp(op, "abort") == 0)
        in.req = HAC_REQ_UPGRADE_ABORT;
    else {
        ag_ctl_finish(req, AG_EX_INVALID, NULL, "ha.upgrade needs op start|pause|resume|abort");
        return;
    }
    hac_prop p;
    char why[HAC_TEXT_MAX];
    int rc = hac_admin_prop(s, &in, ag_now_ms(), &p, why, sizeof why);
    if (rc != 0) {
        ag_ctl_finish(req, rc < 0 ? AG_EX_INVALID : AG_EX_UNSAFE, NULL, "%s",
                      rc < 0 ? "the cluster has no hosts to upgrade yet" : why);
        return;
    }
    submit(a, req, "ha.upgrade", args, &p, why, NULL);
}

static const char *upg_state[] = {"idle", "running", "paused", "done", "aborted"};
static const char *upg_phase[] = {"drain", "run", "rejoin", "undrain"};

static void ctl_status(ag_ctl_req *req, json_t *args, void *ud)
{
    (void)args;
    ag_agent *a = ud;
    if (!ready(a, req))
        return;
    struct ag_ha *h = a->ha;
    const hac_rstate *s = h->st;
    const ag_member *leader = ag_raft_leader_member(a);
    static const char *modes[] = {"reconcile", "active", "fenced"};
    uint64_t now = ag_now_ms();
    json_t *hosts = json_array(), *vms = json_array(), *moves = json_array(), *order = json_array();
    for (uint32_t i = 0; i < s->n_hosts; i++) {
        int owned = 0;
        for (uint32_t v = 0; v < s->n_vms; v++)
            owned += s->vms[v].owner == (int32_t)i;
        json_t *hj = host_json(s, i);
        json_object_set_new(hj, "name", json_string(s->hosts[i].name));
        json_object_del(hj, "host");
        json_object_set_new(hj, "owned", json_integer(owned));
        if (h->coord) {
            static const char *lv[] = {"alive", "suspect", "dead"};
            json_object_set_new(hj, "live", json_string(lv[h->hv[i].live]));
            if (h->hv[i].degraded_now)
                json_object_set_new(hj, "health", json_string(h->hv[i].why));
        }
        json_array_append_new(hosts, hj);
    }
    for (uint32_t v = 0; v < s->n_vms; v++) {
        const hac_rvm *m = &s->vms[v];
        const char *running_on = NULL;
        if (h->inv_ok)
            for (size_t i = 0; i < h->n_inv; i++)
                if (strcmp(h->inv[i].name, m->name) == 0 && h->inv[i].state == HV_VM_RUNNING)
                    running_on = a->cfg.name;
        json_t *vj = json_pack("{s:s,s:s,s:I,s:b,s:i,s:i,s:i,s:i,s:s,s:s,s:b,s:b}", "name", m->name, "owner",
                               m->owner >= 0 ? s->hosts[m->owner].name : "-", "generation",
                               (json_int_t)m->generation, "protected", m->protected_, "priority", m->priority,
                               "order", m->restart_order, "max_restarts", (int)m->max_restarts, "restarts",
                               (int)m->restarts, "moving_to", m->moving_to >= 0 ? s->hosts[m->moving_to].name : "",
                               "home", m->home >= 0 ? s->hosts[m->home].name : "", "want_running",
                               m->want_running, "prot_acked", m->prot_acked);
        json_object_set_new(vj, "mem_mib", json_integer((json_int_t)m->mem_mib));
        if (m->anti_group[0])
            json_object_set_new(vj, "anti_affinity", json_string(m->anti_group));
        if (m->affinity_group[0])
            json_object_set_new(vj, "affinity", json_string(m->affinity_group));
        if (running_on)
            json_object_set_new(vj, "running_on", json_string(running_on));
        for (uint32_t k = 0; k < h->n_stuck; k++) {
            size_t nl = strcspn(h->stuck[k], "\t");
            if (strlen(m->name) == nl && strncmp(h->stuck[k], m->name, nl) == 0 && h->stuck[k][nl])
                json_object_set_new(vj, "stuck", json_string(h->stuck[k] + nl + 1));
        }
        json_array_append_new(vms, vj);
    }
    for (uint32_t i = 0; i < h->n_moves; i++) {
        int vi = hac_find_vm(s, h->moves[i].vm);
        if (vi < 0 || s->vms[vi].moving_to < 0)
            continue;   /* ended: the progress entry outlives the move by a report or two */
        json_array_append_new(moves, json_pack("{s:s,s:s,s:s,s:i,s:I}", "vm", h->moves[i].vm, "from",
                                               h->moves[i].from, "to", h->moves[i].to, "percent",
                                               (int)h->moves[i].percent, "bytes_per_s",
                                               (json_int_t)h->moves[i].bytes_per_s));
    }
    for (uint32_t i = 0; i < s->upgrade.n; i++)
        json_array_append_new(order, json_string(s->upgrade.order[i] < s->n_hosts
                                                     ? s->hosts[s->upgrade.order[i]].name : "?"));
    const hac_upgrade *u = &s->upgrade;
    json_t *upg = json_pack("{s:s,s:s,s:s,s:i,s:o,s:s}", "state", upg_state[u->state], "phase",
                            upg_phase[u->phase], "current",
                            u->cur < u->n && u->order[u->cur] < s->n_hosts ? s->hosts[u->order[u->cur]].name : "",
                            "current_index", (int)u->cur, "order", order, "command", u->command);
    json_t *r = json_pack("{s:s,s:I,s:s,s:{s:s,s:I},s:o,s:o,s:o,s:o}", "coordinator",
                          leader ? leader->name : "", "term", (json_int_t)h->coord_term, "self", a->cfg.name,
                          "fence", "mode", modes[h->fence.mode], "contact_age_ms",
                          h->fence.contact_ever ? (json_int_t)(now - h->fence.last_contact_ms) : (json_int_t)-1,
                          "hosts", hosts, "vms", vms, "moves", moves, "upgrade", upg);
    if (h->wd.fd >= 0)
        json_object_set_new(json_object_get(r, "fence"), "watchdog",
                            json_pack("{s:s,s:b,s:I,s:b,s:I}", "path", a->cfg.watchdog, "device",
                                      h->wd.device, "timeout_ms", (json_int_t)h->wd.timeout_ms, "fed",
                                      !h->wd_held, "keepalives", (json_int_t)h->wd.pets));
    ag_ctl_finish(req, AG_EX_OK, r, NULL);
}

void ag_ha__ctl_register(ag_agent *a)
{
    ag_ctl_register(a->ctl, "ha.admin", ctl_admin, a);
    ag_ctl_register(a->ctl, "ha.protect", ctl_protect, a);
    ag_ctl_register(a->ctl, "ha.upgrade", ctl_upgrade, a);
    ag_ctl_register(a->ctl, "ha.status", ctl_status, a);
}

/* hac_codec.c — hac.h records <-> proto/ha.proto. The decoder is the trust boundary:
 * HaProp arrives in log entries any voter could have written and HaState in snapshots,
 * so every string, count, enum and index is checked against the fixed tables in hac.h
 * before it is copied into one.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ha.pb-c.h"
#include "hac_codec.h"

static int bad(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t whylen, const char *fmt, ...)
{
    if (why && whylen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, whylen, fmt, ap);
        va_end(ap);
    }
    return -EINVAL;
}

static bool name_ok(const char *s)
{
    return s && strlen(s) < HAC_NAME_MAX;
}

static bool idx_ok(int32_t i, uint32_t max)
{
    return i >= -1 && i < (int32_t)max;
}

/* ---- encode ----------------------------------------------------------------------- */

static void host_to_pb(const hac_rhost *h, Drover__HaHost *pb)
{
    drover__ha_host__init(pb);
    pb->name = (char *)h->name;
    pb->admin = (uint32_t)h->admin;
    pb->degraded_flag = h->degraded_flag;
    pb->failback = h->failback;
    pb->mem_mib = h->mem_mib;
    pb->cpus = h->cpus;
    pb->frozen = h->frozen;
    pb->frozen_at_ms = h->frozen_at_ms;
    pb->agent_stamp = h->agent_stamp;
}

static void vm_to_pb(const hac_rvm *v, Drover__HaVm *pb)
{
    drover__ha_vm__init(pb);
    pb->name = (char *)v->name;
    pb->mem_mib = v->mem_mib;
    pb->vcpus = v->vcpus;
    pb->protected_ = v->protected_;
    pb->priority = v->priority;
    pb->restart_order = v->restart_order;
    pb->max_restarts = v->max_restarts;
    pb->restarts = v->restarts;
    pb->want_running = v->want_running;
    pb->owner = v->owner;
    pb->generation = v->generation;
    pb->moving_to = v->moving_to;
    pb->home = v->home;
    pb->prot_acked = v->prot_acked;
    pb->uuid = (char *)v->uuid;
    pb->anti_group = (char *)v->anti_group;
    pb->affinity_group = (char *)v->affinity_group;
}

static void upg_to_pb(const hac_upgrade *u, Drover__HaUpgrade *pb, uint32_t *order)
{
    drover__ha_upgrade__init(pb);
    pb->seq = u->seq;
    pb->state = (uint32_t)u->state;
    pb->phase = (uint32_t)u->phase;
    if (u->n)
        memcpy(order, u->order, u->n * sizeof *order);
    pb->order = order;
    pb->n_order = u->n;
    pb->cur = u->cur;
    pb->version_before = u->version_before;
    pb->phase_since_ms = u->phase_since_ms;
    pb->command = (char *)u->command;
}

static int pack_out(const ProtobufCMessage *m, uint8_t **buf, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    *buf = malloc(n ? n : 1);
    if (!*buf)
        return -ENOMEM;
    *len = protobuf_c_message_pack(m, *buf);
    return 0;
}

int hac_prop_encode(const hac_prop *p, const char *reason, uint8_t **buf, size_t *len)
{
    if (!p || !buf || !len)
        return -EINVAL;
    Drover__HaProp pb = DROVER__HA_PROP__INIT;
    Drover__HaHost h;
    Drover__HaVm v;
    Drover__HaUpgrade u;
    uint32_t order[HAC_HOSTS_MAX];
    pb.kind = (uint32_t)p->kind;
    pb.index = p->index;
    pb.admin = (uint32_t)p->admin;
    pb.degraded_flag = p->degraded_flag;
    pb.failback = p->failback;
    pb.owner = p->owner;
    pb.generation = p->generation;
    pb.restarts = p->restarts;
    pb.home = p->home;
    pb.want_running = p->want_running;
    pb.frozen = p->frozen;
    pb.confirm_off = p->confirm_off;
    pb.stamp = p->stamp;
    pb.at_ms = p->at_ms;
    pb.reason = (char *)(reason ? reason : "");
    if (p->kind == HAC_P_HOST_ADD) {
        host_to_pb(&p->host, &h);
        pb.host = &h;
    }
    if (p->kind == HAC_P_VM_ADD || p->kind == HAC_P_PROTECT) {
        vm_to_pb(&p->vm, &v);
        pb.vm = &v;
    }
    if (p->kind == HAC_P_UPGRADE) {
        if (p->upgrade.n > HAC_HOSTS_MAX)
            return -EINVAL;
        upg_to_pb(&p->upgrade, &u, order);
        pb.upgrade = &u;
    }
    return pack_out(&pb.base, buf, len);
}

int hac_state_encode(const hac_rstate *s, uint8_t **buf, size_t *len)
{
    if (!s || !buf || !len || s->n_hosts > HAC_HOSTS_MAX || s->n_vms > HAC_VMS_MAX ||
        s->upgrade.n > HAC_HOSTS_MAX)
        return -EINVAL;
    Drover__HaState pb = DROVER__HA_STATE__INIT;
    Drover__HaHost *h = calloc(s->n_hosts + 1, sizeof *h);
    Drover__HaHost **hp = calloc(s->n_hosts + 1, sizeof *hp);
    Drover__HaVm *v = calloc(s->n_vms + 1, sizeof *v);
    Drover__HaVm **vp = calloc(s->n_vms + 1, sizeof *vp);
    Drover__HaUpgrade u;
    uint32_t order[HAC_HOSTS_MAX];
    int rc = -ENOMEM;
    if (h && hp && v && vp) {
        for (uint32_t i = 0; i < s->n_hosts; i++)
            host_to_pb(&s->hosts[i], &h[i]), hp[i] = &h[i];
        for (uint32_t i = 0; i < s->n_vms; i++)
            vm_to_pb(&s->vms[i], &v[i]), vp[i] = &v[i];
        pb.hosts = hp;
        pb.n_hosts = s->n_hosts;
        pb.vms = vp;
        pb.n_vms = s->n_vms;
        upg_to_pb(&s->upgrade, &u, order);
        pb.upgrade = &u;
        rc = pack_out(&pb.base, buf, len);
    }
    free(h);
    free(hp);
    free(v);
    free(vp);
    return rc;
}

/* ---- decode ----------------------------------------------------------------------- */

static int host_from_pb(const Drover__HaHost *pb, hac_rhost *h, char *why, size_t whylen)
{
    if (!pb || !name_ok(pb->name) || !pb->name[0])
        return bad(why, whylen, "host record without a valid name");
    if (pb->admin > PLC_ADMIN_MAINTENANCE)
        return bad(why, whylen, "host %s: unknown admin state %u", pb->name, pb->admin);
    memset(h, 0, sizeof *h);
    snprintf(h->name, sizeof h->name, "%s", pb->name);
    h->admin = (plc_admin)pb->admin;
    h->degraded_flag = pb->degraded_flag;
    h->failback = pb->failback;
    h->mem_mib = pb->mem_mib;
    h->cpus = pb->cpus;
    h->frozen = pb->frozen;
    h->frozen_at_ms = pb->frozen_at_ms;
    h->agent_stamp = pb->agent_stamp;
    return 0;
}

static int vm_from_pb(const Drover__HaVm *pb, hac_rvm *v, char *why, size_t whylen)
{
    if (!pb || !name_ok(pb->name) || !pb->name[0])
        return bad(why, whylen, "VM record without a valid name");
    if (!idx_ok(pb->owner, HAC_HOSTS_MAX) || !idx_ok(pb->moving_to, HAC_HOSTS_MAX) ||
        !idx_ok(pb->home, HAC_HOSTS_MAX))
        return bad(why, whylen, "VM %s: host index out of range", pb->name);
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", pb->name);
    v->mem_mib = pb->mem_mib;
    v->vcpus = pb->vcpus;
    v->protected_ = pb->protected_;
    v->priority = pb->priority;
    v->restart_order = pb->restart_order;
    v->max_restarts = pb->max_restarts;
    v->restarts = pb->restarts;
    v->want_running = pb->want_running;
    v->owner = pb->owner;
    v->generation = pb->generation;
    v->moving_to = pb->moving_to;
    v->home = pb->home;
    v->prot_acked = pb->prot_acked;
    if (pb->uuid && strlen(pb->uuid) >= sizeof v->uuid)
        return bad(why, whylen, "VM %s: UUID too long", pb->name);
    snprintf(v->uuid, sizeof v->uuid, "%s", pb->uuid ? pb->uuid : "");
    if ((pb->anti_group && strlen(pb->anti_group) >= HAC_GROUP_MAX) ||
        (pb->affinity_group && strlen(pb->affinity_group) >= HAC_GROUP_MAX))
        return bad(why, whylen, "VM %s: affinity group name longer than %d bytes", pb->name, HAC_GROUP_MAX - 1);
    snprintf(v->anti_group, sizeof v->anti_group, "%s", pb->anti_group ? pb->anti_group : "");
    snprintf(v->affinity_group, sizeof v->affinity_group, "%s", pb->affinity_group ? pb->affinity_group : "");
    return 0;
}

static int upg_from_pb(const Drover__HaUpgrade *pb, hac_upgrade *u, char *why, size_t whylen)
{
    memset(u, 0, sizeof *u);
    if (!pb)
        return 0;
    if (pb->state > HAC_UPG_ABORTED || pb->phase > HAC_UPH_UNDRAIN)
        return bad(why, whylen, "upgrade plan: unknown state %u or phase %u", pb->state, pb->phase);
    if (pb->n_order > HAC_HOSTS_MAX || pb->cur > pb->n_order)
        return bad(why, whylen, "upgrade plan: %zu hosts, current %u", pb->n_order, pb->cur);
    if (pb->command && strlen(pb->command) >= HAC_TEXT_MAX)
        return bad(why, whylen, "upgrade command longer than %d bytes", HAC_TEXT_MAX - 1);
    for (size_t i = 0; i < pb->n_order; i++)
        if (pb->order[i] >= HAC_HOSTS_MAX)
            return bad(why, whylen, "upgrade plan: host index %u out of range", pb->order[i]);
    u->seq = pb->seq;
    u->state = (hac_upg_state)pb->state;
    u->phase = (hac_upg_phase)pb->phase;
    if (pb->n_order)
        memcpy(u->order, pb->order, pb->n_order * sizeof *pb->order);
    u->n = (uint32_t)pb->n_order;
    u->cur = pb->cur;
    u->version_before = pb->version_before;
    u->phase_since_ms = pb->phase_since_ms;
    snprintf(u->command, sizeof u->command, "%s", pb->command ? pb->command : "");
    return 0;
}

int hac_prop_decode(const uint8_t *buf, size_t len, hac_prop *p, char *reason, size_t reasonlen,
                    char *why, size_t whylen)
{
    if (!buf || !p)
        return bad(why, whylen, "no proposal");
    Drover__HaProp *pb = drover__ha_prop__unpack(NULL, len, buf);
    if (!pb)
        return bad(why, whylen, "undecodable HA proposal (%zu bytes)", len);
    int rc = 0;
    memset(p, 0, sizeof *p);
    if (pb->kind < HAC_P_HOST_ADD || pb->kind > HAC_P_FREEZE)
        rc = bad(why, whylen, "unknown HA proposal kind %u", pb->kind);
    else if (pb->admin > PLC_ADMIN_MAINTENANCE)
        rc = bad(why, whylen, "unknown admin state %u", pb->admin);
    else if (!idx_ok(pb->owner, HAC_HOSTS_MAX) || !idx_ok(pb->home, HAC_HOSTS_MAX) ||
             pb->index >= HAC_VMS_MAX)
        rc = bad(why, whylen, "index out of range in HA proposal");
    else {
        p->kind = (hac_prop_kind)pb->kind;
        p->index = pb->index;
        p->admin = (plc_admin)pb->admin;
        p->degraded_flag = pb->degraded_flag;
        p->failback = pb->failback;
        p->owner = pb->owner;
        p->generation = pb->generation;
        p->restarts = pb->restarts;
        p->home = pb->home;
        p->want_running = pb->want_running;
        p->frozen = pb->frozen;
        p->confirm_off = pb->confirm_off;
        p->stamp = pb->stamp;
        p->at_ms = pb->at_ms;
        if (p->kind == HAC_P_HOST_ADD)
            rc = host_from_pb(pb->host, &p->host, why, whylen);
        else if (p->kind == HAC_P_VM_ADD || p->kind == HAC_P_PROTECT)
            rc = vm_from_pb(pb->vm, &p->vm, why, whylen);
        else if (p->kind == HAC_P_UPGRADE)
            rc = pb->upgrade ? upg_from_pb(pb->upgrade, &p->upgrade, why, whylen)
                             : bad(why, whylen, "upgrade proposal without a plan");
    }
    if (rc == 0 && reason && reasonlen)
        snprintf(reason, reasonlen, "%s", pb->reason ? pb->reason : "");
    drover__ha_prop__free_unpacked(pb, NULL);
    return rc;
}

int hac_state_decode(const uint8_t *buf, size_t len, hac_rstate *s, char *why, size_t whylen)
{
    if (!buf || !s)
        return bad(why, whylen, "no state");
    hac_rstate_init(s);
    Drover__HaState *pb = drover__ha_state__unpack(NULL, len, buf);
    if (!pb)
        return bad(why, whylen, "undecodable HA state (%zu bytes)", len);
    int rc = 0;
    if (pb->n_hosts > HAC_HOSTS_MAX || pb->n_vms > HAC_VMS_MAX)
        rc = bad(why, whylen, "HA state with %zu hosts and %zu VMs exceeds %d/%d", pb->n_hosts,
                 pb->n_vms, HAC_HOSTS_MAX, HAC_VMS_MAX);
    for (size_t i = 0; rc == 0 && i < pb->n_hosts; i++)
        rc = host_from_pb(pb->hosts[i], &s->hosts[i], why, whylen);
    for (size_t i = 0; rc == 0 && i < pb->n_vms; i++) {
        rc = vm_from_pb(pb->vms[i], &s->vms[i], why, whylen);
        const hac_rvm *v = &s->vms[i];
        if (rc == 0 && (v->owner >= (int32_t)pb->n_hosts || v->moving_to >= (int32_t)pb->n_hosts ||
                        v->home >= (int32_t)pb->n_hosts))
            rc = bad(why, whylen, "VM %s names a host that is not in the state", v->name);
    }
    if (rc == 0)
        rc = upg_from_pb(pb->upgrade, &s->upgrade, why, whylen);
    for (uint32_t i = 0; rc == 0 && i < s->upgrade.n; i++)
        if (s->upgrade.order[i] >= pb->n_hosts)
            rc = bad(why, whylen, "upgrade plan names host index %u of %zu", s->upgrade.order[i], pb->n_hosts);
    if (rc == 0) {
        s->n_hosts = (uint32_t)pb->n_hosts;
        s->n_vms = (uint32_t)pb->n_vms;
    } else
        hac_rstate_init(s);
    drover__ha_state__free_unpacked(pb, NULL);
    return rc;
}

/* view.c — a placement view of the real cluster; see view.h.
 *
 * The placement core reasons over interned names and fixed-size structs; gossip records
 * carry free-form strings of any length. This file is the one place where the two meet,
 * so it is where names are made to fit (a name too long for PLC_NAME_MAX becomes a
 * digest of itself, the same on every host, so equal ids still compare equal) and where
 * the two spellings of a CPU vendor (/proc "GenuineIntel", libvirt "Intel") are made one:
 * a host without libvirt still publishes a vendor from /proc, and comparing the two
 * spellings would block every live migration for the wrong reason.
 */
#include "view.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip.h"
#include "gossip_drv.h"
#include "hoststatus.h"

#define MIB (1024u * 1024u)

static const char *vendor_norm(const char *v)
{
    if (strcmp(v, "GenuineIntel") == 0)
        return "Intel";
    if (strcmp(v, "AuthenticAMD") == 0)
        return "AMD";
    return v;
}

/* Intern a name of any length: too long ones become "#" + 32 hex digits of BLAKE2b-128. */
static int intern(plc_view *pv, plc_table_kind k, const char *name)
{
    char buf[PLC_NAME_MAX];
    if (!name || !name[0])
        return -EINVAL;
    if (strlen(name) >= PLC_NAME_MAX) {
        uint8_t d[16];
        crypto_generichash(d, sizeof d, (const uint8_t *)name, strlen(name), NULL, 0);
        buf[0] = '#';
        for (int i = 0; i < 16; i++)
            snprintf(buf + 1 + 2 * i, 3, "%02x", d[i]);
        name = buf;
    }
    return plc_view_intern(pv, k, name);
}

static void add_all(plc_view *pv, plc_table_kind k, plc_set *s, char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int b = intern(pv, k, names[i]);
        if (b >= 0)
            plc_set_add(s, (uint32_t)b);
    }
}

static void fill_host(ag_view *v, uint32_t i, const Drover__HostStatus *st)
{
    plc_host *h = &v->hosts[i];
    ag_view_host *x = &v->aux[i];
    /* Unknown facts stay out of the sets and versions: what the record carries then is
     * the last reading (or nothing), for display, and placement must see "unknown" —
     * never "no CPU features" or "libvirt 0.0.0", which would read as reasons the host
     * can never run a VM (ha_fence.c turns those into standing constraints). */
    bool unknown = ag_status_facts_unknown(st);
    x->has_status = true;
    x->libvirt = st->health && st->health->libvirtd_responsive;
    snprintf(x->arch, sizeof x->arch, "%s", st->cpu_arch ? st->cpu_arch : "");
    snprintf(x->migration_addr, sizeof x->migration_addr, "%s",
             st->migration_addr ? st->migration_addr : "");
    size_t off = 0;
    for (size_t k = 0; !unknown && k < st->n_cpu_features && off < sizeof x->features; k++)
        off += (size_t)snprintf(x->features + off, sizeof x->features - off, "%s%s",
                                k ? "," : "", st->cpu_features[k]);
    h->facts_unknown = unknown;
    h->cpu_features_unknown = st->cpu_features_cut;
    h->mem_mib = st->memory_total_kib / 1024;
    h->mem_reserved_mib = st->memory_total_kib > st->memory_free_kib
                              ? (st->memory_total_kib - st->memory_free_kib) / 1024 : 0;
    h->cpus = st->vcpus;
    snprintf(h->cpu_vendor, sizeof h->cpu_vendor, "%s", vendor_norm(st->cpu_vendor));
    snprintf(h->cpu_model, sizeof h->cpu_model, "%s", st->cpu_model);
    /* unparsable versions stay 0, which only ever blocks moves *from* such a host */
    (void)plc_version_parse(st->agent_version, &h->agent_version);
    if (!unknown) {
        add_all(&v->pv, PLC_T_FEATURE, &h->cpu_features, st->cpu_features, st->n_cpu_features);
        add_all(&v->pv, PLC_T_STORAGE, &h->storage, st->storage_ids, st->n_storage_ids);
        add_all(&v->pv, PLC_T_NETWORK, &h->networks, st->bridges, st->n_bridges);
        add_all(&v->pv, PLC_T_NETWORK, &h->networks, st->networks, st->n_networks);
        (void)plc_version_parse(st->libvirt_version, &h->libvirt_version);
        (void)plc_version_parse(st->qemu_version, &h->qemu_version);
    }
    switch (st->admin_state) {
    case DROVER__ADMIN_STATE__ADMIN_CORDONED: h->admin = PLC_ADMIN_CORDONED; break;
    case DROVER__ADMIN_STATE__ADMIN_DRAINING: h->admin = PLC_ADMIN_DRAINING; break;
    case DROVER__ADMIN_STATE__ADMIN_MAINTENANCE: h->admin = PLC_ADMIN_MAINTENANCE; break;
    default: h->admin = PLC_ADMIN_ACTIVE; break;
    }
    if (!x->libvirt && h->health == PLC_HEALTH_OK)
        h->health = PLC_HEALTH_DEGRADED;   /* nothing can be started there now */
    h->migration_mtu = st->health ? st->health->migration_mtu : 0;
    h->bandwidth_mbps = st->migration_link_mbps;
    h->local_free_mib = st->local_free_mib;
    h->local_free_unknown = unknown || !st->local_free_known;
    h->migrations_out = st->migrations_out;
    snprintf(h->migration_addr, sizeof h->migration_addr, "%.*s", PLC_NAME_MAX - 1,
             st->migration_addr ? st->migration_addr : "");
    x->vcpus_used = st->vcpus_used;
    off = 0;
    for (size_t k = 0; k < st->n_migration_dests && off < sizeof x->migration_dests; k++)
        off += (size_t)snprintf(x->migration_dests + off, sizeof x->migration_dests - off,
                                "%s%s", k ? "," : "", st->migration_dests[k]);
}

/* The host part of a destination: "qemu+tcp://root@10.0.0.2:16509/system" -> 10.0.0.2,
 * "tcp://10.0.0.2:7370" -> 10.0.0.2, "[fe80::1]:7370" -> fe80::1, "h2" -> h2. */
static void dest_host(const char *dest, char *out, size_t cap)
{
    const char *p = strstr(dest, "://");
    p = p ? p + 3 : dest;
    const char *at = strchr(p, '@'), *slash = strchr(p, '/');
    if (at && (!slash || at < slash))
        p = at + 1;
    size_t n = strcspn(p, "/?");
    if (p[0] == '[') {   /* IPv6 literal */
        const char *close = memchr(p, ']', n);
        n = close ? (size_t)(close - p - 1) : n;
        p++;
    } else {
        const char *colon = memchr(p, ':', n);
        /* one colon = a port; more = a bare IPv6 address */
        if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - p)))
            n = (size_t)(colon - p);
    }
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
}

int32_t ag_view_host_of_dest(const ag_view *v, const char *dest)
{
    char want[128], have[128];
    dest_host(dest, want, sizeof want);
    if (!want[0])
        return -1;
    for (uint32_t i = 0; i < v->pv.n_hosts; i++) {
        if (!strcmp(v->hosts[i].name, want))
            return (int32_t)i;
        dest_host(v->aux[i].migration_addr, have, sizeof have);
        if (have[0] && !strcmp(have, want))
            return (int32_t)i;
        dest_host(v->aux[i].cluster_addr, have, sizeof have);
        if (have[0] && !strcmp(have, want))
            return (int32_t)i;
    }
    return -1;
}

void ag_view_count_incoming(ag_view *v)
{
    for (uint32_t i = 0; i < v->pv.n_hosts; i++)
        v->hosts[i].migrations_in = 0;
    for (uint32_t i = 0; i < v->pv.n_hosts; i++) {
        char list[sizeof v->aux[i].migration_dests];
        snprintf(list, sizeof list, "%s", v->aux[i].migration_dests);
        for (char *save = NULL, *t = strtok_r(list, ",", &save); t;
             t = strtok_r(NULL, ",", &save)) {
            int32_t d = ag_view_host_of_dest(v, t);
            if (d >= 0 && (uint32_t)d != i)
                v->hosts[d].migrations_in++;
        }
    }
}

int ag_view_add_record(ag_view *v, const char *name, const char *cluster_addr, const char *domain,
                       plc_health health, const Drover__HostStatus *st)
{
    if (v->pv.n_hosts == AG_VIEW_HOSTS_MAX)
        return -ENOSPC;
    uint32_t k = v->pv.n_hosts++;
    plc_host *h = &v->hosts[k];
    plc_host_init(h);
    memset(&v->aux[k], 0, sizeof v->aux[k]);
    snprintf(h->name, sizeof h->name, "%.*s", PLC_NAME_MAX - 1, name);
    snprintf(v->aux[k].cluster_addr, sizeof v->aux[k].cluster_addr, "%s",
             cluster_addr ? cluster_addr : "");
    h->health = health;
    if (domain && domain[0]) {
        int d = intern(&v->pv, PLC_T_DOMAIN, domain);
        if (d >= 0)
            h->domain = (uint32_t)d;
    }
    fill_host(v, k, st);
    return (int)k;
}

int ag_view_from_gossip(ag_view *v, ag_agent *a)
{
    struct gsp *g = ag_gossip_core(a);
    if (!g)
        return -ENODEV;
    memset(v, 0, sizeof *v);
    plc_view_init(&v->pv);
    v->pv.hosts = v->hosts;
    v->self = -1;
    size_t n = gsp_member_count(g);
    for (size_t i = 0; i < n; i++) {
        struct gsp_member_info mi;
        Drover__HostStatus *st;
        if (gsp_member_get(g, i, &mi) != 0)
            continue;
        const ag_member *mb = ag_members_find(&a->members, mi.id.b);
        if (!mb || v->pv.n_hosts == AG_VIEW_HOSTS_MAX || !mi.status_len ||
            ag_status_open(&a->members, mi.id.b, mi.status, mi.status_len, &st) != 0) {
            v->n_skipped++;
            continue;
        }
        plc_health health = mi.state == GSP_ALIVE ? PLC_HEALTH_OK
                            : mi.state == GSP_SUSPECT ? PLC_HEALTH_DEGRADED : PLC_HEALTH_DOWN;
        int k = ag_view_add_record(v, mb->name, mb->addr, mb->domain, health, st);
        if (k >= 0 && memcmp(mi.id.b, a->id.host_id, AG_HOST_ID_LEN) == 0)
            v->self = k;
        drover__host_status__free_unpacked(st, NULL);
    }
    ag_view_count_incoming(v);
    return 0;
}

static uint32_t device_bits(const char *list)
{
    uint32_t m = 0;
    if (strstr(list, "hostdev"))
        m |= PLC_DEV_PCI;
    if (strstr(list, "sriov"))
        m |= PLC_DEV_SRIOV;
    if (strstr(list, "mdev"))
        m |= PLC_DEV_MDEV;
    if (strstr(list, "usb"))
        m |= PLC_DEV_USB;
    return m;
}

int ag_view_add_vm(ag_view *v, const hv_vm *src, int32_t host, char *err, size_t errlen)
{
    plc_vm *vm = &v->vms[0];
    plc_vm_init(vm);
    snprintf(vm->name, sizeof vm->name, "%.*s", PLC_NAME_MAX - 1, src->name);
    vm->host = host;
    vm->mem_mib = src->mem_kib / 1024;
    vm->vcpus = src->vcpus;
    vm->cpu_mode = !strcmp(src->cpu_mode, "host-passthrough") ? PLC_CPU_PASSTHROUGH
                   : !strcmp(src->cpu_mode, "host-model") ? PLC_CPU_HOST_MODEL : PLC_CPU_CUSTOM;
    if (host >= 0) {
        snprintf(vm->cpu_vendor, sizeof vm->cpu_vendor, "%s", v->hosts[host].cpu_vendor);
        /* host-model expands to the source's CPU: the guest needs what the source has */
        if (vm->cpu_mode == PLC_CPU_HOST_MODEL)
            vm->cpu_features = v->hosts[host].cpu_features;
    }
    snprintf(vm->cpu_model, sizeof vm->cpu_model, "%.*s", PLC_NAME_MAX - 1, src->cpu_model);
    char feats[HV_LIST_LEN];
    snprintf(feats, sizeof feats, "%s", src->cpu_features);
    for (char *save = NULL, *t = strtok_r(feats, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (t[0] == '-' || !t[0])
            continue;   /* disabled: the destination need not have it */
        int b = intern(&v->pv, PLC_T_FEATURE, t);
        if (b < 0)
            goto full;
        plc_set_add(&vm->cpu_features, (uint32_t)b);
    }
    for (unsigned i = 0; i < src->n_disks && vm->n_disks < PLC_DISKS_MAX; i++) {
        const hv_disk *d = &src->disks[i];
        char local[HV_NAME_LEN + 8];
        const char *id = d->storage_id;
        if (!d->shared || !id[0]) {
            snprintf(local, sizeof local, "local:%s",
                     host >= 0 ? v->hosts[host].name : "this-host");
            id = local;
        }
        int b = intern(&v->pv, PLC_T_STORAGE, id);
        if (b < 0)
            goto full;
        uint32_t k;   /* disks on one storage fold into one entry (placement.h) */
        for (k = 0; k < vm->n_disks && vm->disks[k].storage != (uint32_t)b; k++)
            ;
        if (k == vm->n_disks)
            vm->disks[vm->n_disks++].storage = (uint32_t)b;
        /* sizes from hv_vm_disk_sizes, rounded up; a sized disk with nothing written
         * yet counts 1 MiB, because placement reads used 0 as "unknown: assume full" */
        if (d->capacity_bytes) {
            uint64_t used = (d->allocation_bytes + MIB - 1) / MIB;
            vm->disks[k].size_mib += (d->capacity_bytes + MIB - 1) / MIB;
            vm->disks[k].used_mib += used ? used : 1;
        }
    }
    for (unsigned i = 0; i < src->n_nics; i++) {
        const char *net = src->nics[i].bridge[0] ? src->nics[i].bridge : src->nics[i].network;
        if (!net[0])
            continue;   /* user-mode networking needs nothing on the host */
        int b = intern(&v->pv, PLC_T_NETWORK, net);
        if (b < 0)
            goto full;
        plc_set_add(&vm->networks, (uint32_t)b);
    }
    vm->devices = device_bits(src->unmigratable);
    return ag_view_set_vms(v, v->vms, 1, (uint32_t)(sizeof v->vms / sizeof v->vms[0]));
full:
    snprintf(err, errlen, "too many distinct names in the cluster view (limit %d per kind) "
             "while adding VM %s", PLC_SET_BITS, src->name);
    return -ENOSPC;
}

int ag_view_set_vms(ag_view *v, plc_vm *vms, uint32_t n_known, uint32_t cap)
{
    if (cap < n_known || cap - n_known < v->pv.n_hosts)
        return -ENOSPC;
    uint32_t n = n_known;
    for (uint32_t i = 0; i < v->pv.n_hosts; i++) {
        uint64_t mem = 0, cpus = 0;
        for (uint32_t k = 0; k < n_known; k++)
            if (vms[k].host == (int32_t)i) {
                mem += vms[k].mem_mib;
                cpus += vms[k].vcpus;
            }
        /* the record's total - free and vcpus_used count the listed VMs already */
        plc_host *h = &v->hosts[i];
        h->mem_reserved_mib = h->mem_reserved_mib > mem ? h->mem_reserved_mib - mem : 0;
        uint64_t others = v->aux[i].vcpus_used > cpus ? v->aux[i].vcpus_used - cpus : 0;
        if (others == 0)
            continue;
        plc_vm *o = &vms[n++];
        plc_vm_init(o);
        snprintf(o->name, sizeof o->name, "~others@%.*s", PLC_NAME_MAX - 9, h->name);
        o->host = (int32_t)i;
        o->vcpus = (uint32_t)others;
        o->migratable = false;
    }
    v->pv.vms = vms;
    v->pv.n_vms = n;
    return 0;
}

char *ag_view_cpu_xml(const ag_view *v, uint32_t i)
{
    if (i >= v->pv.n_hosts || !v->aux[i].features[0] || !v->hosts[i].cpu_model[0])
        return NULL;
    const ag_view_host *x = &v->aux[i];
    const plc_host *h = &v->hosts[i];
    size_t cap = 256 + strlen(x->features) * 4 + 64 * AG_STATUS_FEATURES_MAX;
    char *out = malloc(cap), feats[sizeof x->features];
    if (!out)
        return NULL;
    size_t off = (size_t)snprintf(out, cap, "<cpu>\n  <arch>%s</arch>\n  <model>%s</model>\n"
                                  "  <vendor>%s</vendor>\n", x->arch[0] ? x->arch : "x86_64",
                                  h->cpu_model, h->cpu_vendor);
    snprintf(feats, sizeof feats, "%s", x->features);
    for (char *save = NULL, *t = strtok_r(feats, ",", &save); t && off < cap;
         t = strtok_r(NULL, ",", &save))
        off += (size_t)snprintf(out + off, cap - off, "  <feature name='%s'/>\n", t);
    if (off < cap)
        snprintf(out + off, cap - off, "</cpu>\n");
    return out;
}

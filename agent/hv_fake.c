/* hv_fake.c — the adapter's contract over an in-memory world of hosts, for the simulator
 * and unit tests.
 *
 * The fake answers like libvirt where drover's decisions depend on it: moves are refused
 * by the same pre-checks (hv__precheck, shared with the libvirt implementation), a VM is
 * never on two hosts, a down host answers HV_ENOCONN, and events fire for every change.
 * What it leaves out is time: a move completes within the call, with one progress report
 * at 100 %, so simulations stay deterministic. CPU compatibility is a subset test of
 * the VM's required features against the host's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv_int.h"

/* A simulated cluster is small; a fixed table keeps the fake allocation-free per call. */
#define FK_HOSTS_MAX 64
#define FK_VMS_MAX 256

typedef struct fk_host {
    hv_host facts;
    bool down;
    hv_vm vms[FK_VMS_MAX];
    size_t n_vms;
} fk_host;

typedef struct fk_conn fk_conn;

struct hv_fake_world {
    pthread_mutex_t mu;
    fk_host hosts[FK_HOSTS_MAX];
    size_t n_hosts;
    fk_conn *conns;   /* open connections, for events */
};

struct fk_conn {
    hv_conn base;
    hv_fake_world *w;
    size_t host;
    hv_event_fn fn;
    void *ctx;
    fk_conn *next;
};

/* Events collected under the world lock, delivered after it is released (a callback may
 * call back into the fake). */
#define FK_EVENTS_MAX 8
typedef struct fk_evq {
    struct {
        hv_event_fn fn;
        void *ctx;
        hv_event_kind kind;
        char name[HV_NAME_LEN];
        char uuid[37];
    } ev[FK_EVENTS_MAX];
    size_t n;
} fk_evq;

static void fk_emit(hv_fake_world *w, size_t host, hv_event_kind kind, const hv_vm *vm,
                    fk_evq *q)
{
    for (fk_conn *c = w->conns; c; c = c->next) {
        if (c->host != host || c->fn == NULL || q->n >= FK_EVENTS_MAX)
            continue;
        q->ev[q->n].fn = c->fn;
        q->ev[q->n].ctx = c->ctx;
        q->ev[q->n].kind = kind;
        hv__copy(q->ev[q->n].name, HV_NAME_LEN, vm->name);
        hv__copy(q->ev[q->n].uuid, 37, vm->uuid);
        q->n++;
    }
}

static void fk_flush(fk_evq *q)
{
    for (size_t i = 0; i < q->n; i++)
        q->ev[i].fn(q->ev[i].ctx, q->ev[i].kind, q->ev[i].name, q->ev[i].uuid, 0);
}

static fk_host *fk_host_of(fk_conn *c, hv_err *err, int *rc)
{
    fk_host *h = &c->w->hosts[c->host];
    if (h->down) {
        *rc = hv__fail(err, HV_ENOCONN, "libvirtd on %s is unreachable (fake: host down)",
                       h->facts.hostname);
        return NULL;
    }
    *rc = HV_OK;
    return h;
}

static hv_vm *fk_find(fk_host *h, const char *name)
{
    for (size_t i = 0; i < h->n_vms; i++)
        if (!strcmp(h->vms[i].name, name))
            return &h->vms[i];
    return NULL;
}

static void fk_remove(fk_host *h, hv_vm *vm)
{
    size_t i = (size_t)(vm - h->vms);
    memmove(&h->vms[i], &h->vms[i + 1], (h->n_vms - i - 1) * sizeof h->vms[0]);
    h->n_vms--;
}

static void fk_close(hv_conn *base)
{
    fk_conn *c = (fk_conn *)base;
    pthread_mutex_lock(&c->w->mu);
    for (fk_conn **pp = &c->w->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    pthread_mutex_unlock(&c->w->mu);
    free(c);
}

static int fk_events(hv_conn *base, hv_event_fn fn, void *ctx, hv_err *err)
{
    fk_conn *c = (fk_conn *)base;
    (void)err;
    pthread_mutex_lock(&c->w->mu);
    c->fn = fn;
    c->ctx = ctx;
    pthread_mutex_unlock(&c->w->mu);
    return HV_OK;
}

static int fk_vm_list(hv_conn *base, hv_vm *vms, size_t max, size_t *n, hv_err *err)
{
    fk_conn *c = (fk_conn *)base;
    int rc;
    pthread_mutex_lock(&c->w->mu);
    fk_host *h = fk_host_of(c, err, &rc);
    if (h) {
        size_t k = h->n_vms < max ? h->n_vms : max;
        memcpy(vms, h->vms, k * sizeof *vms);
        *n = k;
    }
    pthread_mutex_unlock(&c->w->mu);
    return rc;
}

static int fk_vm_get(hv_conn *base, const char *name, hv_vm *out, hv_err *err)
{
    fk_conn *c = (fk_conn *)base;
    int rc;
    pthread_mutex_lock(&c->w->mu);
    fk_host *h = fk_host_of(c, err, &rc);
    if (h) {
        hv_vm *vm = fk_find(h, name);
        if (vm)
            *out = *vm;
        else
            rc = hv__fail(err, HV_ENOTFOUND, "VM %s: no such VM on %s", name, h->facts.hostname);
    }
    pthread_mutex_unlock(&c->w->mu);
    return rc;
}

static int fk_host_facts(hv_conn *base, hv_host *out, hv_err *err)
{
    fk_conn *c = (fk_conn *)base;
    int rc;
    pthread_mutex_lock(&c->w->mu);
    fk_host *h = fk_host_of(c, err, &rc);
    if (h)
        *out = h->facts;
    pthread_mutex_unlock(&c->w->mu);
    return rc;
}

static int fk_put_locked(hv_fake_world *w, size_t host, const hv_vm *vm, hv_err *err, fk_evq *q)
{
    fk_host *h = &w->hosts[host];
    hv_vm *old = fk_find(h, vm->name);
    if (old && strcmp(old->uuid, vm->uuid) != 0)
        return hv__fail(err, HV_EEXIST, "a VM named %s with another UUID exists on %s",
                        vm->name, h->facts.hostname);
    if (old) {
        hv_vm_state st = old->state;
        *old = *vm;
        old->state = st;
    } else {
        if (h->n_vms >= FK_VMS_MAX)
            return hv__fail(err, HV_ENOMEM, "fake host %s is full (%d VMs)", h->facts.hostname,
                            FK_VMS_MAX);
        h->vms[h->n_vms++] = *vm;
    }
    if (q)
        fk_emit(w, host, HV_EV_DEFINED, vm, q);
    return HV_OK;
}

static int fk_vm_define(hv_conn *base, const char *xml, hv_err *err)
{
    fk_conn *c = (fk_conn *)base;
    hv_vm vm;
    fk_evq q = {.n = 0};
    int rc = hv__parse_domain(xml, &vm, err);
    if (rc != HV_OK)
        return rc;
    vm.state = HV_VM_SHUTOFF;
    vm.persistent = true;
    pthread_mutex_lock(&c->w->mu);
    if (fk_host_of(c, err, &rc))
        rc = fk_put_locked(c->w, c->host, &vm, err, &q);
    pthread_mutex_unlock(&c->w->mu);
    fk_flush(&q);
    return rc;
}

static int fk_vm_op(hv_conn *base, const char *name, int op, hv_err *err)
{
    fk_conn *c = (fk_conn *)base;
    fk_evq q = {.n = 0};
    int rc;
    pthread_mutex_lock(&c->w->mu);
    fk_host *h = fk_host_of(c, err, &rc);
    hv_vm *vm = h ? fk_find(h, name) : NULL;
    if (h && vm == NULL)
        rc = hv__fail(err, HV_ENOTFOUND, "VM %s: no such VM on %s", name, h->facts.hostname);
    if (vm) {
        bool active = vm->state == HV_VM_RUNNING || vm->state == HV_VM_PAUSED;
        switch (op) {
        case HV__OP_START:
            if (active) {
                rc = hv__fail(err, HV_ESTATE, "VM %s is already running", name);
                break;
            }
            for (unsigned i = 0; i < vm->n_nics; i++)
                if (vm->nics[i].bridge[0] && !hv__list_has(h->facts.bridges, vm->nics[i].bridge))
                    rc = hv__fail(err, HV_EBRIDGE, "starting VM %s: host %s has no bridge '%s'",
                                  name, h->facts.hostname, vm->nics[i].bridge);
            if (rc != HV_OK)
                break;
            vm->state = HV_VM_RUNNING;
            vm->shut_down = false;
            fk_emit(c->w, c->host, HV_EV_STARTED, vm, &q);
            break;
        case HV__OP_SHUTDOWN:
        case HV__OP_DESTROY:
            if (!active) {
                rc = hv__fail(err, HV_ESTATE, "VM %s is not running", name);
                break;
            }
            vm->state = HV_VM_SHUTOFF;
            vm->shut_down = op == HV__OP_SHUTDOWN;   /* as libvirt's shutoff reason */
            fk_emit(c->w, c->host, HV_EV_STOPPED, vm, &q);
            break;
        case HV__OP_SAVE:
            if (!active) {
                rc = hv__fail(err, HV_ESTATE, "VM %s is not running", name);
                break;
            }
            vm->state = HV_VM_SAVED;
            fk_emit(c->w, c->host, HV_EV_STOPPED, vm, &q);
            break;
        default:
            if (active) {
                rc = hv__fail(err, HV_ESTATE, "VM %s is running; stop it before undefining", name);
                break;
            }
            fk_emit(c->w, c->host, HV_EV_UNDEFINED, vm, &q);
            fk_remove(h, vm);
            break;
        }
    }
    pthread_mutex_unlock(&c->w->mu);
    fk_flush(&q);
    return rc;
}

static bool fk_features_ok(const char *need, const char *have)
{
    const char *p = need;
    char item[HV_NAME_LEN];
    while (*p) {
        size_t len = strcspn(p, ",");
        if (len < sizeof item && p[0] != '-') {
            memcpy(item, p, len);
            item[len] = '\0';
            if (!hv__list_has(have, item))
                return false;
        }
        p += len + (p[len] == ',');
    }
    return true;
}

static int fk_cpu_compatible(hv_conn *base, const hv_vm *vm, bool *ok, hv_err *err)
{
    hv_host h;
    int rc = fk_host_facts(base, &h, err);
    if (rc != HV_OK)
        return rc;
    *ok = fk_features_ok(vm->cpu_features, h.cpu_features);
    if (!*ok)
        hv__fail(err, HV_ECPU, "host %s's CPU lacks features VM %s requires (%s)", h.hostname,
                 vm->name, vm->cpu_features);
    return HV_OK;
}

static size_t fk_host_by_uri(hv_fake_world *w, const char *uri)
{
    const char *name = strncmp(uri, "fake://", 7) == 0 ? uri + 7 : uri;
    for (size_t i = 0; i < w->n_hosts; i++)
        if (!strcmp(w->hosts[i].facts.hostname, name))
            return i;
    return SIZE_MAX;
}

static int fk_migrate(hv_conn *base, const char *name, const char *dest_uri, hv_conn *dest,
                      const hv_migrate_opts *o, hv_migrate_result *res, hv_err *err)
{
    fk_conn *c = (fk_conn *)base;
    fk_evq q = {.n = 0};
    int rc;
    (void)dest;
    pthread_mutex_lock(&c->w->mu);
    fk_host *src = fk_host_of(c, err, &rc);
    size_t di = fk_host_by_uri(c->w, dest_uri);
    hv_vm *vm = src ? fk_find(src, name) : NULL;
    hv_vm moved;
    if (src == NULL)
        goto out;
    if (vm == NULL) {
        rc = hv__fail(err, HV_ENOTFOUND, "VM %s: no such VM on %s", name, src->facts.hostname);
        goto out;
    }
    if (di == SIZE_MAX || c->w->hosts[di].down) {
        rc = hv__fail(err, HV_ENOCONN, "destination %s is unreachable; VM %s stays here",
                      dest_uri, name);
        goto out;
    }
    fk_host *dst = &c->w->hosts[di];
    bool live = o->mode != HV_MOVE_COLD;
    if (live != (vm->state == HV_VM_RUNNING || (live && vm->state == HV_VM_PAUSED))) {
        rc = hv__fail(err, HV_ESTATE, "VM %s is %s; use %s", name, hv_state_name(vm->state),
                      live ? "--cold" : "--live");
        goto out;
    }
    if (fk_find(dst, name)) {
        rc = hv__fail(err, HV_EEXIST, "a VM named %s is already defined on %s", name,
                      dst->facts.hostname);
        goto out;
    }
    if ((rc = hv__precheck(vm, &dst->facts, o->mode, err)) != HV_OK)
        goto out;
    if (!fk_features_ok(vm->cpu_features, dst->facts.cpu_features)) {
        rc = hv__fail(err, HV_ECPU, "destination %s's CPU lacks features VM %s requires (%s)",
                      dst->facts.hostname, name, vm->cpu_features);
        goto out;
    }
    if (dst->n_vms >= FK_VMS_MAX) {
        rc = hv__fail(err, HV_ENOMEM, "fake host %s is full", dst->facts.hostname);
        goto out;
    }
    moved = *vm;
    if (vm->state == HV_VM_SAVED)
        moved.state = HV_VM_PAUSED;   /* restored paused from the shared image, as libvirt */
    fk_emit(c->w, c->host, HV_EV_UNDEFINED, vm, &q);
    fk_remove(src, vm);
    dst->vms[dst->n_vms++] = moved;
    fk_emit(c->w, di, live ? HV_EV_STARTED : HV_EV_DEFINED, &moved, &q);
    res->bytes = live ? moved.mem_kib * 1024u : 0;
out:
    pthread_mutex_unlock(&c->w->mu);
    if (rc == HV_OK && o->progress) {
        hv_progress p = {.percent = 100, .processed_bytes = res->bytes};
        o->progress(o->progress_ctx, &p);
    }
    fk_flush(&q);
    return rc;
}

static int fk_migrate_cancel(hv_conn *base, const char *name, hv_err *err)
{
    (void)base;
    /* fake moves finish inside hv_migrate: there is never one to cancel */
    return hv__fail(err, HV_ENOTFOUND, "no migration of VM %s is running", name);
}

static int fk_cpu_baseline(hv_conn *base, const char **xmls, size_t n, char **out, hv_err *err)
{
    (void)base;
    (void)xmls;
    (void)n;
    *out = strdup("<cpu mode='custom' match='exact'><model>qemu64</model></cpu>");
    return *out ? HV_OK : hv__fail(err, HV_ENOMEM, "out of memory");
}

static int fk_host_cpu_xml(hv_conn *base, char **out, hv_err *err)
{
    hv_host h;
    int rc = fk_host_facts(base, &h, err);
    if (rc != HV_OK)
        return rc;
    size_t cap = strlen(h.cpu_model) + 64;
    *out = malloc(cap);
    if (*out == NULL)
        return hv__fail(err, HV_ENOMEM, "out of memory");
    snprintf(*out, cap, "<cpu><model>%s</model></cpu>", h.cpu_model);
    return HV_OK;
}

static const hv_backend fk_backend = {
    .close = fk_close,
    .events = fk_events,
    .vm_list = fk_vm_list,
    .vm_get = fk_vm_get,
    .host_facts = fk_host_facts,
    .vm_define = fk_vm_define,
    .vm_op = fk_vm_op,
    .migrate = fk_migrate,
    .migrate_cancel = fk_migrate_cancel,
    .cpu_compatible = fk_cpu_compatible,
    .cpu_baseline = fk_cpu_baseline,
    .host_cpu_xml = fk_host_cpu_xml,
};

hv_fake_world *hv_fake_world_new(void)
{
    hv_fake_world *w = calloc(1, sizeof *w);
    if (w)
        pthread_mutex_init(&w->mu, NULL);
    return w;
}

void hv_fake_world_free(hv_fake_world *w)
{
    if (w == NULL)
        return;
    pthread_mutex_destroy(&w->mu);
    free(w);
}

int hv_fake_add_host(hv_fake_world *w, const hv_host *facts)
{
    if (w == NULL || facts == NULL || facts->hostname[0] == '\0')
        return HV_EINVAL;
    pthread_mutex_lock(&w->mu);
    int rc = HV_OK;
    if (w->n_hosts >= FK_HOSTS_MAX || fk_host_by_uri(w, facts->hostname) != SIZE_MAX)
        rc = HV_EEXIST;
    else
        w->hosts[w->n_hosts++].facts = *facts;
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int hv_fake_set_down(hv_fake_world *w, const char *hostname, bool down)
{
    if (w == NULL || hostname == NULL)
        return HV_EINVAL;
    pthread_mutex_lock(&w->mu);
    size_t i = fk_host_by_uri(w, hostname);
    if (i != SIZE_MAX)
        w->hosts[i].down = down;
    pthread_mutex_unlock(&w->mu);
    return i == SIZE_MAX ? HV_ENOTFOUND : HV_OK;
}

int hv_fake_put_vm(hv_fake_world *w, const char *hostname, const hv_vm *vm)
{
    if (w == NULL || hostname == NULL || vm == NULL || vm->name[0] == '\0')
        return HV_EINVAL;
    pthread_mutex_lock(&w->mu);
    size_t i = fk_host_by_uri(w, hostname);
    int rc = i == SIZE_MAX ? HV_ENOTFOUND : fk_put_locked(w, i, vm, NULL, NULL);
    if (rc == HV_OK) {
        hv_vm *v = fk_find(&w->hosts[i], vm->name);
        v->state = vm->state;
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int hv_open_fake(hv_fake_world *w, const char *hostname, hv_conn **out, hv_err *err)
{
    if (w == NULL || hostname == NULL || out == NULL)
        return hv__fail(err, HV_EINVAL, "hv_open_fake: missing world, host or output");
    fk_conn *c = calloc(1, sizeof *c);
    if (c == NULL)
        return hv__fail(err, HV_ENOMEM, "out of memory");
    c->base.be = &fk_backend;
    c->base.libvirt = false;
    c->w = w;
    pthread_mutex_lock(&w->mu);
    c->host = fk_host_by_uri(w, hostname);
    if (c->host == SIZE_MAX) {
        pthread_mutex_unlock(&w->mu);
        free(c);
        return hv__fail(err, HV_ENOTFOUND, "fake world has no host %s", hostname);
    }
    c->next = w->conns;
    w->conns = c;
    pthread_mutex_unlock(&w->mu);
    *out = &c->base;
    return HV_OK;
}

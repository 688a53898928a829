/* hv_libvirt.c — the adapter over a real libvirtd: connection life, events, inventory and
 * VM lifecycle. Migration is in hv_lvmigrate.c, host facts and CPU checks in hv_lvhost.c.
 *
 * Connection life. One virConnectPtr per hv_conn, shared by every thread that calls in
 * (libvirt connections are thread-safe); each call takes its own reference so a reconnect
 * on one thread never frees a connection another thread is using. libvirt tells us a
 * connection died through its close callback (fed by keepalive on the event thread); the
 * next call then reconnects, but not before the back-off deadline, so a dead libvirtd costs
 * one failed connect per back-off period instead of one per call. After a reconnect the
 * lifecycle subscription is renewed and an HV_EV_RECONNECTED event asks the caller to
 * re-read the inventory, because events during the gap are lost.
 *
 * Events. libvirt delivers events only while someone runs its event loop; the adapter runs
 * the default implementation on one process-wide thread started on first open (libvirt
 * allows one event implementation per process, so this is not per connection).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libvirt/virterror.h>

#include "hv_lv.h"

/* keepalive: a probe every 5 s, 3 unanswered = dead, so a vanished libvirtd is noticed
 * within ~20 s even when no call is running; calls notice at once */
#define LV_KEEPALIVE_INTERVAL_S 5
#define LV_KEEPALIVE_COUNT 3u

static pthread_once_t lv_once = PTHREAD_ONCE_INIT;
static int lv_init_rc;

static void *lv_event_thread(void *arg)
{
    (void)arg;
    for (;;)
        if (virEventRunDefaultImpl() < 0)
            break;
    return NULL;
}

static void lv_silent(void *ud, virErrorPtr e) { (void)ud; (void)e; }

static void lv_init_once(void)
{
    pthread_t t;
    virSetErrorFunc(NULL, lv_silent);   /* errors are reported through hv_err, not stderr */
    if (virInitialize() < 0 || virEventRegisterDefaultImpl() < 0) {
        lv_init_rc = -1;
        return;
    }
    if (pthread_create(&t, NULL, lv_event_thread, NULL) != 0) {
        lv_init_rc = -1;
        return;
    }
    pthread_detach(t);
}

uint64_t hv__lv_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static hv_event_kind lv_kind(int event)
{
    switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED: return HV_EV_DEFINED;
    case VIR_DOMAIN_EVENT_UNDEFINED: return HV_EV_UNDEFINED;
    case VIR_DOMAIN_EVENT_STARTED: return HV_EV_STARTED;
    case VIR_DOMAIN_EVENT_SUSPENDED: return HV_EV_SUSPENDED;
    case VIR_DOMAIN_EVENT_RESUMED: return HV_EV_RESUMED;
    case VIR_DOMAIN_EVENT_SHUTDOWN: return HV_EV_SHUTDOWN;
    case VIR_DOMAIN_EVENT_PMSUSPENDED: return HV_EV_PMSUSPENDED;
    case VIR_DOMAIN_EVENT_CRASHED: return HV_EV_CRASHED;
    default: return HV_EV_STOPPED;
    }
}

static int lv_lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event, int detail,
                           void *opaque)
{
    lv_conn *lc = opaque;
    char uuid[VIR_UUID_STRING_BUFLEN] = "";
    (void)conn;
    virDomainGetUUIDString(dom, uuid);
    /* no lc->mu here either (as in lv_close_cb): libvirt's event thread calls us with its
     * own locks held, and lv_drop_locked calls into libvirt while holding lc->mu — taking
     * lc->mu here deadlocked both threads when libvirtd went away (lab_events hung) */
    hv_event_fn fn = __atomic_load_n(&lc->ev_fn, __ATOMIC_SEQ_CST);
    void *ctx = __atomic_load_n(&lc->ev_ctx, __ATOMIC_SEQ_CST);
    if (fn)
        fn(ctx, lv_kind(event), virDomainGetName(dom), uuid, detail);
    return 0;
}

static void lv_close_cb(virConnectPtr conn, int reason, void *opaque)
{
    lv_conn *lc = opaque;
    (void)conn;
    /* no lc->mu here: libvirt holds its close-callback lock while calling us, and
     * lv_drop_locked takes that lock while holding lc->mu */
    __atomic_store_n(&lc->lost, true, __ATOMIC_SEQ_CST);
    hv_event_fn fn = __atomic_load_n(&lc->ev_fn, __ATOMIC_SEQ_CST);
    void *ctx = __atomic_load_n(&lc->ev_ctx, __ATOMIC_SEQ_CST);
    if (fn)
        fn(ctx, HV_EV_DISCONNECTED, "", "", reason);
}

/* Called with lc->mu held: (re)subscribe lifecycle events on lc->conn. */
static void lv_subscribe_locked(lv_conn *lc)
{
    if (lc->conn == NULL || lc->ev_fn == NULL || lc->lifecycle_id >= 0)
        return;
    lc->lifecycle_id = virConnectDomainEventRegisterAny(
        lc->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(lv_lifecycle_cb), lc, NULL);
}

/* Called with lc->mu held. */
static void lv_drop_locked(lv_conn *lc)
{
    if (lc->conn == NULL)
        return;
    if (lc->lifecycle_id >= 0)
        virConnectDomainEventDeregisterAny(lc->conn, lc->lifecycle_id);
    lc->lifecycle_id = -1;
    virConnectUnregisterCloseCallback(lc->conn, lv_close_cb);
    virConnectClose(lc->conn);
    lc->conn = NULL;
}

/* Opening a connection to another host can hang as long as TCP retries a SYN (LAB-NOTES
 * 9), and libvirt has no connect timeout: the open runs on a helper thread and the caller
 * waits at most peer_timeout_ms. An abandoned helper closes what it opened itself. */
typedef struct lv_opener {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    bool done, abandoned;
    virConnectPtr conn;
    int code;
    char msg[HV_ERR_LEN];
    char uri[HV_PATH_LEN];
} lv_opener;

static void opener_unref(lv_opener *o)
{
    pthread_mutex_lock(&o->mu);
    int left = --o->refs;
    pthread_mutex_unlock(&o->mu);
    if (left == 0) {
        pthread_cond_destroy(&o->cv);
        pthread_mutex_destroy(&o->mu);
        free(o);
    }
}

static void *opener_run(void *arg)
{
    lv_opener *o = arg;
    virConnectPtr c = virConnectOpen(o->uri);
    virErrorPtr e = c ? NULL : virGetLastError();
    pthread_mutex_lock(&o->mu);
    if (o->abandoned) {
        pthread_mutex_unlock(&o->mu);
        if (c)
            virConnectClose(c);
    } else {
        o->conn = c;
        o->code = e ? e->code : 0;
        hv__copy(o->msg, sizeof o->msg, e && e->message ? e->message : NULL);
        o->done = true;
        pthread_cond_signal(&o->cv);
        pthread_mutex_unlock(&o->mu);
    }
    opener_unref(o);
    return NULL;
}

/* A URI with a host part talks to another machine (qemu+tcp://h/system); local ones
 * (qemu:///system, unix sockets) answer or fail at once. */
static bool lv_uri_remote(const char *uri)
{
    const char *p = strstr(uri, "://");
    return p && p[3] != '/' && p[3] != '\0';
}

static virConnectPtr lv_open_bounded(const char *uri, uint32_t timeout_ms, hv_err *err)
{
    if (!lv_uri_remote(uri)) {
        virConnectPtr c = virConnectOpen(uri);
        if (c == NULL)
            hv__lv_fail(err, uri);
        return c;
    }
    lv_opener *o = calloc(1, sizeof *o);
    pthread_t t;
    if (o == NULL) {
        hv__fail(err, HV_ENOMEM, "out of memory connecting to %s", uri);
        return NULL;
    }
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    o->refs = 2;
    hv__copy(o->uri, sizeof o->uri, uri);
    if (pthread_create(&t, NULL, opener_run, o) != 0) {
        o->refs = 1;
        opener_unref(o);
        hv__fail(err, HV_ENOMEM, "cannot start a thread to connect to %s", uri);
        return NULL;
    }
    pthread_detach(t);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)timeout_ms * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    virConnectPtr c = NULL;
    pthread_mutex_lock(&o->mu);
    while (!o->done)
        if (pthread_cond_timedwait(&o->cv, &o->mu, &ts) != 0)
            break;
    if (o->done) {
        c = o->conn;
        if (c == NULL)
            hv__lv_fail_with(err, uri, o->code, o->msg);
    } else {
        o->abandoned = true;
        hv__fail(err, HV_ETIMEDOUT, "%s did not answer within %u ms; check the host is up "
                 "and reachable", uri, timeout_ms);
    }
    pthread_mutex_unlock(&o->mu);
    opener_unref(o);
    return c;
}

/* Called with lc->mu held. */
static int lv_connect_locked(lv_conn *lc, hv_err *err)
{
    hv_err e = {0};
    virConnectPtr conn = lv_open_bounded(lc->uri, lc->cfg.peer_timeout_ms, &e);
    uint64_t now = hv__lv_now_ms();
    if (conn == NULL) {
        lc->backoff_ms = lc->backoff_ms == 0 ? lc->cfg.reconnect_min_ms
                         : lc->backoff_ms >= lc->cfg.reconnect_max_ms / 2 ? lc->cfg.reconnect_max_ms
                                                                           : lc->backoff_ms * 2;
        lc->next_try_ms = now + lc->backoff_ms;
        /* unreachable or silent, the caller can only wait for the back-off */
        int rc = e.code == HV_ETIMEDOUT ? HV_ETIMEDOUT : HV_ENOCONN;
        if (err) {
            *err = e;
            err->code = rc;
        }
        return rc;
    }
    virConnectSetKeepAlive(conn, LV_KEEPALIVE_INTERVAL_S, LV_KEEPALIVE_COUNT);
    virConnectRegisterCloseCallback(conn, lv_close_cb, lc, NULL);
    lc->conn = conn;
    __atomic_store_n(&lc->lost, false, __ATOMIC_SEQ_CST);
    lc->backoff_ms = 0;
    lc->next_try_ms = 0;
    lv_subscribe_locked(lc);
    return HV_OK;
}

int hv__lv_get(lv_conn *lc, virConnectPtr *out, hv_err *err)
{
    bool reconnected = false;
    int rc = HV_OK;
    pthread_mutex_lock(&lc->mu);
    if (lc->conn && (__atomic_load_n(&lc->lost, __ATOMIC_SEQ_CST) || virConnectIsAlive(lc->conn) != 1)) {
        lv_drop_locked(lc);
        lc->was_lost = true;
    }
    if (lc->conn == NULL) {
        if (hv__lv_now_ms() < lc->next_try_ms) {
            rc = hv__fail(err, HV_ENOCONN, "libvirtd at %s is unreachable; retrying in %llu ms "
                          "(check that libvirtd runs)", lc->uri,
                          (unsigned long long)(lc->next_try_ms - hv__lv_now_ms()));
        } else if ((rc = lv_connect_locked(lc, err)) == HV_OK && lc->was_lost) {
            lc->was_lost = false;
            reconnected = true;
        } else if (rc != HV_OK) {
            lc->was_lost = true;
        }
    }
    if (rc == HV_OK) {
        virConnectRef(lc->conn);
        *out = lc->conn;
    }
    hv_event_fn fn = lc->ev_fn;
    void *ctx = lc->ev_ctx;
    pthread_mutex_unlock(&lc->mu);
    if (reconnected && fn)
        fn(ctx, HV_EV_RECONNECTED, "", "", 0);
    return rc;
}

int hv__lv_dom(virConnectPtr conn, const char *name, virDomainPtr *out, hv_err *err)
{
    virDomainPtr d = virDomainLookupByName(conn, name);
    if (d == NULL) {
        char what[HV_NAME_LEN + 16];
        snprintf(what, sizeof what, "VM %s", name);
        return hv__lv_fail(err, what);
    }
    *out = d;
    return HV_OK;
}

static hv_vm_state lv_state(int s)
{
    switch (s) {
    case VIR_DOMAIN_RUNNING: return HV_VM_RUNNING;
    case VIR_DOMAIN_BLOCKED: return HV_VM_RUNNING;
    case VIR_DOMAIN_PAUSED: return HV_VM_PAUSED;
    case VIR_DOMAIN_SHUTOFF: return HV_VM_SHUTOFF;
    case VIR_DOMAIN_CRASHED: return HV_VM_CRASHED;
    case VIR_DOMAIN_PMSUSPENDED: return HV_VM_PAUSED;
    default: return HV_VM_OTHER;
    }
}

int hv__lv_vm(virDomainPtr dom, hv_vm *vm, hv_err *err)
{
    int state = 0, reason = 0;
    /* a running VM's CPU is the expanded one QEMU runs (check='full'): that is what a
     * destination must provide; a stopped VM's is its definition */
    bool active = virDomainIsActive(dom) == 1;
    char *xml = virDomainGetXMLDesc(dom, active ? VIR_DOMAIN_XML_MIGRATABLE : VIR_DOMAIN_XML_INACTIVE);
    if (xml == NULL)
        return hv__lv_fail(err, "reading VM definition");
    int rc = hv__parse_domain(xml, vm, err);
    free(xml);
    if (rc != HV_OK)
        return rc;
    if (virDomainGetState(dom, &state, &reason, 0) < 0)
        return hv__lv_fail(err, "reading VM state");
    vm->state = lv_state(state);
    vm->shut_down = state == VIR_DOMAIN_SHUTOFF && reason == VIR_DOMAIN_SHUTOFF_SHUTDOWN;
    if (vm->state == HV_VM_SHUTOFF && virDomainHasManagedSaveImage(dom, 0) == 1)
        vm->state = HV_VM_SAVED;
    vm->persistent = virDomainIsPersistent(dom) == 1;
    /* the live vCPU count and memory may differ from the definition after hotplug */
    virDomainInfo info;
    if (state != VIR_DOMAIN_SHUTOFF && virDomainGetInfo(dom, &info) == 0) {
        vm->vcpus = info.nrVirtCpu;
        vm->mem_kib = info.maxMem;
    }
    return HV_OK;
}

static void lv_close(hv_conn *c)
{
    lv_conn *lc = (lv_conn *)c;
    pthread_mutex_lock(&lc->mu);
    __atomic_store_n(&lc->ev_fn, NULL, __ATOMIC_SEQ_CST);
    lv_drop_locked(lc);
    pthread_mutex_unlock(&lc->mu);
    pthread_mutex_destroy(&lc->mu);
    free(lc);
}

static int lv_events(hv_conn *c, hv_event_fn fn, void *ctx, hv_err *err)
{
    lv_conn *lc = (lv_conn *)c;
    int rc = HV_OK;
    pthread_mutex_lock(&lc->mu);
    if (lc->conn && lc->lifecycle_id >= 0) {
        virConnectDomainEventDeregisterAny(lc->conn, lc->lifecycle_id);
        lc->lifecycle_id = -1;
    }
    __atomic_store_n(&lc->ev_ctx, ctx, __ATOMIC_SEQ_CST);
    __atomic_store_n(&lc->ev_fn, fn, __ATOMIC_SEQ_CST);
    lv_subscribe_locked(lc);
    if (fn && lc->conn && lc->lifecycle_id < 0)
        rc = hv__lv_fail(err, "subscribing to VM lifecycle events");
    pthread_mutex_unlock(&lc->mu);
    return rc;
}

static int lv_vm_list(hv_conn *c, hv_vm *vms, size_t max, size_t *n, hv_err *err)
{
    virConnectPtr conn;
    virDomainPtr *doms = NULL;
    int rc = hv__lv_get((lv_conn *)c, &conn, err);
    if (rc != HV_OK)
        return rc;
    int count = virConnectListAllDomains(conn, &doms, 0);
    if (count < 0) {
        rc = hv__lv_fail(err, "listing VMs");
        goto out;
    }
    size_t got = 0;
    for (int i = 0; i < count; i++) {
        /* a VM that vanished between list and read is skipped, not an error */
        if (got < max && hv__lv_vm(doms[i], &vms[got], NULL) == HV_OK)
            got++;
        virDomainFree(doms[i]);
    }
    free(doms);
    *n = got;
out:
    virConnectClose(conn);
    return rc;
}

static int lv_vm_get(hv_conn *c, const char *name, hv_vm *vm, hv_err *err)
{
    virConnectPtr conn;
    virDomainPtr dom = NULL;
    int rc = hv__lv_get((lv_conn *)c, &conn, err);
    if (rc != HV_OK)
        return rc;
    if ((rc = hv__lv_dom(conn, name, &dom, err)) == HV_OK) {
        rc = hv__lv_vm(dom, vm, err);
        virDomainFree(dom);
    }
    virConnectClose(conn);
    return rc;
}

static int lv_vm_xml(hv_conn *c, const char *name, char **out, hv_err *err)
{
    virConnectPtr conn;
    virDomainPtr dom = NULL;
    int rc = hv__lv_get((lv_conn *)c, &conn, err);
    if (rc != HV_OK)
        return rc;
    if ((rc = hv__lv_dom(conn, name, &dom, err)) == HV_OK) {
        /* the definition as stored, with secrets: it is replicated only among members */
        *out = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
        if (*out == NULL)
            rc = hv__lv_fail(err, "reading the VM definition");
        virDomainFree(dom);
    }
    virConnectClose(conn);
    return rc;
}

static int lv_vm_define(hv_conn *c, const char *xml, hv_err *err)
{
    virConnectPtr conn;
    hv_vm vm;
    int rc = hv__parse_domain(xml, &vm, err);
    if (rc != HV_OK)
        return rc;
    if ((rc = hv__lv_get((lv_conn *)c, &conn, err)) != HV_OK)
        return rc;
    virDomainPtr dom = virDomainDefineXML(conn, xml);
    if (dom == NULL)
        rc = hv__lv_fail(err, "defining the VM");
    else
        virDomainFree(dom);
    virConnectClose(conn);
    return rc;
}

static int lv_vm_op(hv_conn *c, const char *name, int op, hv_err *err)
{
    virConnectPtr conn;
    virDomainPtr dom = NULL;
    int rc = hv__lv_get((lv_conn *)c, &conn, err);
    if (rc != HV_OK)
        return rc;
    if ((rc = hv__lv_dom(conn, name, &dom, err)) != HV_OK) {
        virConnectClose(conn);
        return rc;
    }
    int r;
    const char *what;
    switch (op) {
    case HV__OP_START:
        r = virDomainCreate(dom), what = "starting the VM (check bridges, disks and memory)";
        break;
    case HV__OP_SHUTDOWN:
        r = virDomainShutdown(dom), what = "asking the VM to shut down";
        break;
    case HV__OP_DESTROY:
        r = virDomainDestroy(dom), what = "stopping the VM";
        break;
    case HV__OP_SAVE:
        r = virDomainManagedSave(dom, 0), what = "saving the VM's memory (managed save)";
        break;
    default:
        r = virDomainUndefineFlags(dom, VIR_DOMAIN_UNDEFINE_MANAGED_SAVE |
                                            VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                                            VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA);
        what = "removing the VM definition";
        break;
    }
    if (r < 0)
        rc = hv__lv_fail(err, what);
    virDomainFree(dom);
    virConnectClose(conn);
    return rc;
}

static int lv_cpu_baseline(hv_conn *c, const char **xmls, size_t n, char **out, hv_err *err)
{
    virConnectPtr conn;
    int rc = hv__lv_get((lv_conn *)c, &conn, err);
    if (rc != HV_OK)
        return rc;
    char *x = virConnectBaselineHypervisorCPU(conn, NULL, NULL, NULL, NULL, xmls,
                                              (unsigned)n, VIR_CONNECT_BASELINE_CPU_MIGRATABLE);
    if (x == NULL)
        rc = hv__lv_fail(err, "computing a CPU model all hosts can run");
    else
        *out = x;
    virConnectClose(conn);
    return rc;
}

static int lv_host_cpu_xml(hv_conn *c, char **out, hv_err *err)
{
    virConnectPtr conn;
    int rc = hv__lv_get((lv_conn *)c, &conn, err);
    if (rc != HV_OK)
        return rc;
    char *caps = virConnectGetCapabilities(conn);
    char *cpu = caps ? hv__caps_cpu_xml(caps) : NULL;
    if (caps == NULL)
        rc = hv__lv_fail(err, "reading host capabilities");
    else if (cpu == NULL)
        rc = hv__fail(err, HV_EFAIL, "host capabilities have no <cpu> element");
    else
        *out = cpu;
    free(caps);
    virConnectClose(conn);
    return rc;
}

static const hv_backend lv_backend = {
    .close = lv_close,
    .events = lv_events,
    .vm_list = lv_vm_list,
    .vm_get = lv_vm_get,
    .vm_xml = lv_vm_xml,
    .host_facts = hv__lv_host_facts,
    .vm_define = lv_vm_define,
    .vm_op = lv_vm_op,
    .migrate = hv__lv_migrate,
    .migrate_cancel = hv__lv_migrate_cancel,
    .cpu_compatible = hv__lv_cpu_compatible,
    .cpu_baseline = lv_cpu_baseline,
    .host_cpu_xml = lv_host_cpu_xml,
};

int hv_open_libvirt(const char *uri, const hv_config *cfg, hv_conn **out, hv_err *err)
{
    if (uri == NULL || uri[0] == '\0' || strlen(uri) >= HV_PATH_LEN || out == NULL)
        return hv__fail(err, HV_EINVAL, "libvirt URI missing or longer than %d bytes",
                        HV_PATH_LEN - 1);
    pthread_once(&lv_once, lv_init_once);
    if (lv_init_rc != 0)
        return hv__fail(err, HV_EFAIL, "libvirt client library failed to initialise");
    lv_conn *lc = calloc(1, sizeof *lc);
    if (lc == NULL)
        return hv__fail(err, HV_ENOMEM, "out of memory opening %s", uri);
    lc->base.be = &lv_backend;
    lc->base.libvirt = true;
    hv__copy(lc->uri, sizeof lc->uri, uri);
    if (cfg)
        lc->cfg = *cfg;
    else
        hv_config_default(&lc->cfg);
    lc->lifecycle_id = -1;
    pthread_mutex_init(&lc->mu, NULL);
    pthread_mutex_lock(&lc->mu);
    int rc = lv_connect_locked(lc, err);
    pthread_mutex_unlock(&lc->mu);
    if (rc != HV_OK) {
        pthread_mutex_destroy(&lc->mu);
        free(lc);
        return rc;
    }
    *out = &lc->base;
    return HV_OK;
}

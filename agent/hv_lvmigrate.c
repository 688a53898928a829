/* hv_lvmigrate.c — moving a VM between two libvirtd hosts.
 *
 * Shape of a move. virDomainMigrateToURI3 is one blocking call that lasts the whole
 * migration, and libvirt offers no timeout for its first phase (connecting to the peer):
 * with a cut-off peer it hangs until TCP gives up, and virDomainAbortJob cannot interrupt
 * that phase (LAB-NOTES 9). So the call runs on a helper thread, and the calling thread
 * watches it: every progress interval it reads the job statistics (progress for the
 * caller), switches to post-copy when pre-copy has run past its budget, passes on a
 * cancel, and gives up when the peer has not answered within peer_timeout_ms. If the
 * helper is still stuck in libvirt by then, it is left to finish on its own (it owns
 * references to everything it touches) and the caller gets HV_ETIMEDOUT at once.
 *
 * Never stopping a VM that does not converge: auto-converge throttles the vCPUs, and
 * VIR_MIGRATE_POSTCOPY is requested up front so that virDomainMigrateStartPostCopy can
 * switch over later; after the switch the destination runs the VM and pulls the pages
 * still missing, so the move completes whatever the dirty rate.
 *
 * Cold moves. A shut-off VM moves as a definition (VIR_MIGRATE_OFFLINE). A paused or
 * managed-saved VM is first saved to an image in the caller's shared save_dir, its
 * definition moves, and the destination restores the image (paused, as it was): the memory
 * travels through shared storage instead of the network.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "hv_lv.h"

/* After an abort, how long the helper thread gets to return before the caller stops
 * waiting for it: an abort during transfer returns within ~100 ms in the lab. */
#define LV_ABORT_GRACE_MS 3000u
/* Completed-job statistics arrive as an event shortly after the call returns. */
#define LV_STATS_WAIT_MS 1000u

struct lv_move {
    lv_move *next;
    char name[HV_NAME_LEN];
    bool cancel;   /* atomic */
};

typedef struct lv_job {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;                  /* caller + helper thread */
    virDomainPtr dom;
    char uri[HV_PATH_LEN];
    virTypedParameterPtr params;
    int nparams;
    unsigned flags;
    bool done;
    int rc;
    hv_err err;
    /* completed-job statistics (from the JOB_COMPLETED event) */
    bool have_stats;
    uint64_t downtime_ms, job_ms, bytes;
} lv_job;

static void job_unref(lv_job *j)
{
    pthread_mutex_lock(&j->mu);
    int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left > 0)
        return;
    virTypedParamsFree(j->params, j->nparams);
    virDomainFree(j->dom);
    pthread_cond_destroy(&j->cv);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

static void *job_run(void *arg)
{
    lv_job *j = arg;
    hv_err e = {0};
    int rc = HV_OK;
    if (virDomainMigrateToURI3(j->dom, j->uri, j->params, (unsigned)j->nparams, j->flags) < 0)
        rc = hv__lv_fail(&e, "migration");
    pthread_mutex_lock(&j->mu);
    j->done = true;
    j->rc = rc;
    j->err = e;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
    return NULL;
}

static uint64_t tp_u64(virTypedParameterPtr p, int n, const char *name)
{
    unsigned long long v = 0;
    if (virTypedParamsGetULLong(p, n, name, &v) == 1)
        return v;
    return 0;
}

static void job_completed_cb(virConnectPtr conn, virDomainPtr dom, virTypedParameterPtr p,
                             int n, void *opaque)
{
    lv_job *j = opaque;
    (void)conn;
    (void)dom;
    pthread_mutex_lock(&j->mu);
    j->have_stats = true;
    j->downtime_ms = tp_u64(p, n, VIR_DOMAIN_JOB_DOWNTIME);
    j->job_ms = tp_u64(p, n, VIR_DOMAIN_JOB_TIME_ELAPSED);
    j->bytes = tp_u64(p, n, VIR_DOMAIN_JOB_DATA_PROCESSED);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void job_wait(lv_job *j, uint32_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)ms * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_cond_timedwait(&j->cv, &j->mu, &ts);
}

/* Progress from the running job; *started once data has moved. */
static void read_progress(virDomainPtr dom, hv_progress *pr, bool *started)
{
    int type = 0, n = 0;
    virTypedParameterPtr p = NULL;
    if (virDomainGetJobStats(dom, &type, &p, &n, 0) < 0) {
        virResetLastError();
        return;
    }
    if (type != VIR_DOMAIN_JOB_NONE) {
        uint64_t total = tp_u64(p, n, VIR_DOMAIN_JOB_DATA_TOTAL);
        pr->processed_bytes = tp_u64(p, n, VIR_DOMAIN_JOB_DATA_PROCESSED);
        pr->remaining_bytes = tp_u64(p, n, VIR_DOMAIN_JOB_DATA_REMAINING);
        pr->bytes_per_s = tp_u64(p, n, VIR_DOMAIN_JOB_MEMORY_BPS) +
                          tp_u64(p, n, VIR_DOMAIN_JOB_DISK_BPS);
        if (total > 0) {
            uint64_t done = total > pr->remaining_bytes ? total - pr->remaining_bytes : 0;
            pr->percent = (unsigned)(done * 100u / total);
        }
        if (pr->processed_bytes > 0)
            *started = true;
    }
    virTypedParamsFree(p, n);
}

static int add_params(const hv_migrate_opts *o, const hv_vm *vm, virTypedParameterPtr *p, int *n,
                      unsigned *flags)
{
    int max = 0;
    *flags = VIR_MIGRATE_PEER2PEER | VIR_MIGRATE_PERSIST_DEST | VIR_MIGRATE_UNDEFINE_SOURCE;
    if (o->mode == HV_MOVE_COLD) {
        *flags |= VIR_MIGRATE_OFFLINE;
        return 0;
    }
    *flags |= VIR_MIGRATE_LIVE;
    if (o->mode == HV_MOVE_STORAGE) {
        /* Name the disks to copy: without a list libvirt copies every writable disk,
         * including ones on shared storage, which would mirror a file onto itself. */
        bool any = false;
        for (unsigned i = 0; vm && i < vm->n_disks; i++) {
            const hv_disk *d = &vm->disks[i];
            if (d->shared || !d->path[0] || d->readonly_cdrom)
                continue;
            if (virTypedParamsAddString(p, n, &max, VIR_MIGRATE_PARAM_MIGRATE_DISKS, d->target) < 0)
                return -1;
            any = true;
        }
        if (any)
            *flags |= VIR_MIGRATE_NON_SHARED_DISK;
    }
    if (o->auto_converge)
        *flags |= VIR_MIGRATE_AUTO_CONVERGE;
    if (o->postcopy_after_ms > 0)
        *flags |= VIR_MIGRATE_POSTCOPY;
    if (o->bandwidth_mibps > 0) {
        if (virTypedParamsAddULLong(p, n, &max, VIR_MIGRATE_PARAM_BANDWIDTH, o->bandwidth_mibps) < 0 ||
            virTypedParamsAddULLong(p, n, &max, VIR_MIGRATE_PARAM_BANDWIDTH_POSTCOPY,
                                    o->bandwidth_mibps) < 0)
            return -1;
    }
    if (o->parallel_connections > 1) {
        *flags |= VIR_MIGRATE_PARALLEL;
        if (virTypedParamsAddInt(p, n, &max, VIR_MIGRATE_PARAM_PARALLEL_CONNECTIONS,
                                 (int)o->parallel_connections) < 0)
            return -1;
    }
    if (o->compress) {
        *flags |= VIR_MIGRATE_COMPRESSED;
        /* XBZRLE page deltas; libvirt 9.0 accepts no compression method for multifd
         * streams, so hv__lv_migrate refuses compress together with parallel */
        const char *method = "xbzrle";
        if (virTypedParamsAddString(p, n, &max, VIR_MIGRATE_PARAM_COMPRESSION, method) < 0)
            return -1;
    }
    return 0;
}

static void moves_add(lv_conn *lc, lv_move *m)
{
    pthread_mutex_lock(&lc->mu);
    m->next = lc->moves;
    lc->moves = m;
    pthread_mutex_unlock(&lc->mu);
}

static void moves_del(lv_conn *lc, lv_move *m)
{
    pthread_mutex_lock(&lc->mu);
    for (lv_move **pp = &lc->moves; *pp; pp = &(*pp)->next)
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    pthread_mutex_unlock(&lc->mu);
}

int hv__lv_migrate_cancel(hv_conn *c, const char *name, hv_err *err)
{
    lv_conn *lc = (lv_conn *)c;
    bool found = false;
    pthread_mutex_lock(&lc->mu);
    for (lv_move *m = lc->moves; m; m = m->next)
        if (!strcmp(m->name, name)) {
            __atomic_store_n(&m->cancel, true, __ATOMIC_SEQ_CST);
            found = true;
        }
    pthread_mutex_unlock(&lc->mu);
    return found ? HV_OK : hv__fail(err, HV_ENOTFOUND, "no migration of VM %s is running", name);
}

/* Run one MigrateToURI3 under watch. */
static int run_watched(lv_conn *lc, virConnectPtr conn, virDomainPtr dom, const char *name,
                       const char *dest_uri, const hv_migrate_opts *o, virTypedParameterPtr params,
                       int nparams, unsigned flags, hv_migrate_result *res, hv_conn *dest,
                       hv_err *err)
{
    lv_job *j = calloc(1, sizeof *j);
    if (j == NULL) {
        virTypedParamsFree(params, nparams);
        return hv__fail(err, HV_ENOMEM, "out of memory starting the migration");
    }
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->refs = 2;
    virDomainRef(dom);
    j->dom = dom;
    hv__copy(j->uri, sizeof j->uri, dest_uri);
    j->params = params;
    j->nparams = nparams;
    j->flags = flags;
    int cb = virConnectDomainEventRegisterAny(conn, dom, VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                                              VIR_DOMAIN_EVENT_CALLBACK(job_completed_cb), j, NULL);
    lv_move mv = {.next = NULL, .cancel = false};
    hv__copy(mv.name, sizeof mv.name, name);
    moves_add(lc, &mv);

    uint64_t t0 = hv__lv_now_ms();
    pthread_t t;
    if (pthread_create(&t, NULL, job_run, j) != 0) {
        moves_del(lc, &mv);
        if (cb >= 0)
            virConnectDomainEventDeregisterAny(conn, cb);
        j->refs = 1;
        job_unref(j);
        return hv__fail(err, HV_ENOMEM, "cannot start a migration thread");
    }
    pthread_detach(t);

    uint32_t interval = o->progress_interval_ms ? o->progress_interval_ms : 200;
    hv_progress pr = {0};
    bool started = false, aborted = false, canceled = false, timed_out = false;
    uint64_t abort_at = 0;
    int rc;
    pthread_mutex_lock(&j->mu);
    while (!j->done) {
        job_wait(j, interval);
        if (j->done)
            break;
        pthread_mutex_unlock(&j->mu);
        uint64_t now = hv__lv_now_ms();
        pr.elapsed_ms = now - t0;
        if (!aborted && __atomic_load_n(&mv.cancel, __ATOMIC_SEQ_CST))
            canceled = aborted = true;
        /* a cold move never "starts" moving data: its whole run is bounded instead */
        if (!aborted && !started && pr.elapsed_ms > lc->cfg.peer_timeout_ms)
            timed_out = aborted = true;
        if (aborted && abort_at == 0) {
            abort_at = now;
            virDomainAbortJob(dom);
            virResetLastError();
        }
        if (abort_at && now - abort_at > LV_ABORT_GRACE_MS) {
            pthread_mutex_lock(&j->mu);
            break;   /* the helper is stuck in libvirt; it finishes on its own */
        }
        if (!aborted && (flags & VIR_MIGRATE_LIVE)) {
            read_progress(dom, &pr, &started);
            if (started && !pr.postcopy && o->postcopy_after_ms > 0 &&
                pr.elapsed_ms >= o->postcopy_after_ms) {
                if (virDomainMigrateStartPostCopy(dom, 0) == 0)
                    pr.postcopy = true;
                else
                    virResetLastError();   /* too early in the job; next interval */
            }
            if (o->progress)
                o->progress(o->progress_ctx, &pr);
        }
        pthread_mutex_lock(&j->mu);
    }
    bool done = j->done;
    rc = done ? j->rc : HV_ETIMEDOUT;
    if (done && rc != HV_OK && err)
        *err = j->err;
    if (rc == HV_OK && !j->have_stats && !dest)
        job_wait(j, LV_STATS_WAIT_MS);
    res->downtime_ms = j->downtime_ms;
    res->job_ms = j->job_ms;
    res->bytes = j->bytes;
    pthread_mutex_unlock(&j->mu);
    moves_del(lc, &mv);
    if (cb >= 0)
        virConnectDomainEventDeregisterAny(conn, cb);
    res->postcopy = pr.postcopy;
    res->wall_ms = hv__lv_now_ms() - t0;
    if (canceled && rc != HV_OK)
        rc = hv__fail(err, HV_ECANCELED, "migration of VM %s canceled; it stays on this host",
                      name);
    else if (timed_out && rc != HV_OK)
        rc = hv__fail(err, HV_ETIMEDOUT, "destination %s did not answer within %u ms; VM %s "
                      "stays on this host (check the destination is up and reachable)",
                      dest_uri, lc->cfg.peer_timeout_ms, name);
    job_unref(j);
    return rc;
}

/* Destination-side statistics of the completed incoming job (downtime is known there). */
static void dest_stats(hv_conn *dest, const char *name, hv_migrate_result *res)
{
    virConnectPtr conn;
    virDomainPtr dom;
    if (dest == NULL || hv__lv_get((lv_conn *)dest, &conn, NULL) != HV_OK)
        return;
    if (hv__lv_dom(conn, name, &dom, NULL) == HV_OK) {
        int type = 0, n = 0;
        virTypedParameterPtr p = NULL;
        if (virDomainGetJobStats(dom, &type, &p, &n, VIR_DOMAIN_JOB_STATS_COMPLETED) == 0) {
            if (tp_u64(p, n, VIR_DOMAIN_JOB_DOWNTIME))
                res->downtime_ms = tp_u64(p, n, VIR_DOMAIN_JOB_DOWNTIME);
            if (!res->job_ms)
                res->job_ms = tp_u64(p, n, VIR_DOMAIN_JOB_TIME_ELAPSED);
            if (!res->bytes)
                res->bytes = tp_u64(p, n, VIR_DOMAIN_JOB_DATA_PROCESSED);
            virTypedParamsFree(p, n);
        }
        virResetLastError();
        virDomainFree(dom);
    }
    virConnectClose(conn);
}

static int prechecks(hv_conn *dest, const hv_vm *vm, hv_move_mode mode, hv_err *err)
{
    hv_host facts;
    hv_vm there;
    bool ok = true;
    int rc;
    if (dest == NULL)
        return HV_OK;
    if ((rc = hv_vm_get(dest, vm->name, &there, NULL)) == HV_OK)
        return hv__fail(err, HV_EEXIST, "a VM named %s is already defined on the destination; "
                        "remove the stale copy there first", vm->name);
    if ((rc = hv_host_facts(dest, &facts, err)) != HV_OK)
        return rc;
    if ((rc = hv__precheck(vm, &facts, mode, err)) != HV_OK)
        return rc;
    if ((rc = hv_cpu_compatible(dest, vm, &ok, err)) != HV_OK)
        return rc;
    return ok ? HV_OK : HV_ECPU;
}

static int cold_suspended(lv_conn *lc, virConnectPtr conn, virDomainPtr dom, const hv_vm *vm,
                          const char *dest_uri, hv_conn *dest, const hv_migrate_opts *o,
                          hv_migrate_result *res, hv_err *err)
{
    char path[HV_PATH_LEN + HV_NAME_LEN + 8];
    if (dest == NULL || o->save_dir == NULL || o->save_dir[0] == '\0')
        return hv__fail(err, HV_EINVAL, "moving the suspended VM %s needs a shared save "
                        "directory and a connection to the destination", vm->name);
    snprintf(path, sizeof path, "%s/%s.save", o->save_dir, vm->name);
    uint64_t t0 = hv__lv_now_ms();
    if (vm->state == HV_VM_SAVED) {
        /* the managed-save image is host-local: bring the VM back paused, save it again to
         * shared storage */
        if (virDomainCreateWithFlags(dom, VIR_DOMAIN_START_PAUSED) < 0)
            return hv__lv_fail(err, "restoring the managed-save image before the move");
    }
    if (virDomainSaveFlags(dom, path, NULL, VIR_DOMAIN_SAVE_PAUSED) < 0)
        return hv__lv_fail(err, "saving the VM's memory to shared storage (check save_dir is "
                           "shared and writable)");
    hv_migrate_opts cold = *o;
    cold.mode = HV_MOVE_COLD;
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned flags = 0;
    add_params(&cold, vm, &params, &nparams, &flags);
    int rc = run_watched(lc, conn, dom, vm->name, dest_uri, &cold, params, nparams, flags, res,
                         dest, err);
    if (rc != HV_OK) {
        /* the definition stayed here: bring the VM back from its image, paused */
        virDomainRestoreFlags(conn, path, NULL, VIR_DOMAIN_SAVE_PAUSED);
        unlink(path);
        return rc;
    }
    virConnectPtr dconn;
    if ((rc = hv__lv_get((lv_conn *)dest, &dconn, err)) != HV_OK)
        return rc;
    if (virDomainRestoreFlags(dconn, path, NULL, VIR_DOMAIN_SAVE_PAUSED) < 0)
        rc = hv__lv_fail(err, "restoring the VM's memory on the destination (the image stays "
                         "in save_dir)");
    else
        unlink(path);
    virConnectClose(dconn);
    res->wall_ms = hv__lv_now_ms() - t0;
    return rc;
}

int hv__lv_migrate(hv_conn *c, const char *name, const char *dest_uri, hv_conn *dest,
                   const hv_migrate_opts *o, hv_migrate_result *res, hv_err *err)
{
    lv_conn *lc = (lv_conn *)c;
    virConnectPtr conn;
    virDomainPtr dom;
    hv_vm vm;
    int rc = hv__lv_get(lc, &conn, err);
    if (rc != HV_OK)
        return rc;
    if ((rc = hv__lv_dom(conn, name, &dom, err)) != HV_OK)
        goto out_conn;
    if ((rc = hv__lv_vm(dom, &vm, err)) != HV_OK)
        goto out_dom;
    bool live = o->mode != HV_MOVE_COLD;
    if (live && vm.state != HV_VM_RUNNING && vm.state != HV_VM_PAUSED) {
        rc = hv__fail(err, HV_ESTATE, "VM %s is %s; a live move needs it running (use --cold)",
                      name, hv_state_name(vm.state));
        goto out_dom;
    }
    if (!live && vm.state == HV_VM_RUNNING) {
        rc = hv__fail(err, HV_ESTATE, "VM %s is running; a cold move needs it stopped, paused "
                      "or saved (use --live)", name);
        goto out_dom;
    }
    if (!vm.persistent && !live) {
        rc = hv__fail(err, HV_ESTATE, "VM %s is not persistent; nothing to move cold", name);
        goto out_dom;
    }
    if ((rc = prechecks(dest, &vm, o->mode, err)) != HV_OK)
        goto out_dom;
    if (!live && (vm.state == HV_VM_PAUSED || vm.state == HV_VM_SAVED)) {
        rc = cold_suspended(lc, conn, dom, &vm, dest_uri, dest, o, res, err);
        goto out_dom;
    }
    if (live && o->compress && o->parallel_connections > 1) {
        rc = hv__fail(err, HV_EINVAL, "compression and parallel connections cannot be combined "
                      "with this libvirt (no multifd compression method); pick one");
        goto out_dom;
    }
    if (live && o->max_downtime_ms > 0 &&
        virDomainMigrateSetMaxDowntime(dom, o->max_downtime_ms, 0) < 0) {
        rc = hv__lv_fail(err, "setting the maximum downtime");
        goto out_dom;
    }
    virTypedParameterPtr params = NULL;
    int nparams = 0;
    unsigned flags = 0;
    if (add_params(o, &vm, &params, &nparams, &flags) < 0) {
        virTypedParamsFree(params, nparams);
        rc = hv__fail(err, HV_ENOMEM, "out of memory preparing migration parameters");
        goto out_dom;
    }
    rc = run_watched(lc, conn, dom, name, dest_uri, o, params, nparams, flags, res, dest, err);
    if (rc == HV_OK && live)
        dest_stats(dest, name, res);
out_dom:
    virDomainFree(dom);
out_conn:
    virConnectClose(conn);
    return rc;
}

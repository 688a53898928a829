/* ctl_vm.c — the agent side of `drover vm list` / `drover vm migrate`.
 *
 * A request becomes one job: the handler (loop thread) parses the arguments and submits
 * the job; the work function (worker thread) makes the blocking adapter calls; the done
 * function (loop thread) turns the outcome into the final frame. Migration progress
 * crosses from the worker to the loop through a non-blocking pipe of fixed-size records
 * watched by the loop: when the pipe is full a report is dropped (the next one supersedes
 * it), so a slow client can never stall a migration. If the client goes away, the job
 * still runs to its end (a half-cancelled migration helps nobody) and its result is
 * dropped; `drover vm list` then shows where the VM is.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zmq.h>

#include "ctl_place.h"   /* ag_vm_ctl_migrations */
#include "ctl_vm.h"
#include "exitcodes.h"
#include "hv.h"

/* Inventory replies are bounded: beyond this many VMs on one host the list is cut and
 * says so ("truncated": true). 1024 VMs is far past what one KVM host runs. */
#define VM_LIST_MAX 1024

struct ag_vm_ctl {
    ag_loop *loop;
    char uri[256];
    pthread_mutex_t mu;   /* guards conn: opened by whichever worker gets there first */
    hv_conn *conn;
    struct vm_job *moving;   /* migrate jobs submitted and not done (loop thread) */
};

typedef struct vm_job {
    ag_vm_ctl *v;
    struct vm_job *next_moving;
    ag_ctl_req *req;      /* NULL once the client went away */
    /* migrate */
    char vm[HV_NAME_LEN];
    char dest_uri[256];
    char dest_label[256];
    hv_migrate_opts opts;
    char save_dir[256];
    int pipe_rd, pipe_wr;
    ag_id pipe_id;
    hv_migrate_result res;
    /* list */
    hv_vm *vms;
    size_t n;
    /* outcome */
    int rc;
    hv_err err;
} vm_job;

static int exit_code(int rc)
{
    switch (rc) {
    case HV_OK: return AG_EX_OK;
    case HV_EINVAL: return AG_EX_INVALID;
    case HV_ENOTFOUND: return AG_EX_NOSUCH;
    case HV_EEXIST: return AG_EX_EXISTS;
    case HV_ETIMEDOUT: return AG_EX_TIMEOUT;
    case HV_EBRIDGE: case HV_ECPU: case HV_ENOTSHARED: case HV_EHOSTMEM:
    case HV_EUNMIGRATABLE: case HV_ESTATE:
        return AG_EX_UNSAFE;
    default: return AG_EX_ERROR;
    }
}

static int get_conn(ag_vm_ctl *v, hv_conn **out, hv_err *err)
{
    int rc = HV_OK;
    pthread_mutex_lock(&v->mu);
    if (v->conn == NULL)
        rc = hv_open_libvirt(v->uri, NULL, &v->conn, err);
    *out = v->conn;
    pthread_mutex_unlock(&v->mu);
    return rc;
}

static void job_closed(ag_ctl_req *req, void *ud)
{
    (void)req;
    ((vm_job *)ud)->req = NULL;
}

static void job_free(vm_job *j)
{
    if (j->pipe_id)
        ag_loop_remove(j->v->loop, j->pipe_id);
    if (j->pipe_rd >= 0)
        close(j->pipe_rd);
    if (j->pipe_wr >= 0)
        close(j->pipe_wr);
    free(j->vms);
    free(j);
}

static vm_job *job_new(ag_vm_ctl *v, ag_ctl_req *req)
{
    vm_job *j = calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    j->v = v;
    j->req = req;
    j->pipe_rd = j->pipe_wr = -1;
    ag_ctl_on_close(req, job_closed, j);
    return j;
}

static void finish_error(vm_job *j)
{
    if (j->req)
        ag_ctl_finish(j->req, exit_code(j->rc), NULL, "%s", j->err.msg);
}

/* ---- vm.list ---- */

static void list_work(void *ud)
{
    vm_job *j = ud;
    hv_conn *c;
    j->rc = get_conn(j->v, &c, &j->err);
    if (j->rc != HV_OK)
        return;
    j->vms = calloc(VM_LIST_MAX, sizeof *j->vms);
    if (j->vms == NULL) {
        j->rc = HV_ENOMEM;
        snprintf(j->err.msg, sizeof j->err.msg, "out of memory listing VMs");
        return;
    }
    j->rc = hv_vm_list(c, j->vms, VM_LIST_MAX, &j->n, &j->err);
}

static json_t *vm_json(const hv_vm *vm)
{
    json_t *disks = json_array(), *nics = json_array();
    for (unsigned i = 0; i < vm->n_disks; i++)
        json_array_append_new(disks, json_pack("{s:s, s:s, s:s, s:b, s:s}", "target",
                                               vm->disks[i].target, "path", vm->disks[i].path,
                                               "format", vm->disks[i].format, "shared",
                                               vm->disks[i].shared, "storage_id",
                                               vm->disks[i].storage_id));
    for (unsigned i = 0; i < vm->n_nics; i++)
        json_array_append_new(nics, json_pack("{s:s, s:s, s:s}", "bridge", vm->nics[i].bridge,
                                              "network", vm->nics[i].network, "mac",
                                              vm->nics[i].mac));
    return json_pack("{s:s, s:s, s:s, s:b, s:I, s:i, s:s, s:s, s:s, s:o, s:o, s:s}", "name",
                     vm->name, "uuid", vm->uuid, "state", hv_state_name(vm->state),
                     "persistent", vm->persistent, "mem_kib", (json_int_t)vm->mem_kib, "vcpus",
                     (int)vm->vcpus, "cpu_mode", vm->cpu_mode, "cpu_model", vm->cpu_model,
                     "cpu_features", vm->cpu_features, "disks", disks, "nics", nics,
                     "unmigratable", vm->unmigratable);
}

static void list_done(ag_loop *l, void *ud)
{
    vm_job *j = ud;
    (void)l;
    if (j->rc != HV_OK) {
        finish_error(j);
    } else if (j->req) {
        json_t *arr = json_array();
        for (size_t i = 0; i < j->n; i++)
            json_array_append_new(arr, vm_json(&j->vms[i]));
        ag_ctl_finish(j->req, AG_EX_OK,
                      json_pack("{s:o, s:b}", "vms", arr, "truncated", j->n == VM_LIST_MAX), NULL);
    }
    job_free(j);
}

static void on_list(ag_ctl_req *req, json_t *args, void *ud)
{
    (void)args;
    vm_job *j = job_new(ud, req);
    if (j == NULL) {
        ag_ctl_finish(req, AG_EX_OSERR, NULL, "out of memory");
        return;
    }
    if (ag_loop_submit(j->v->loop, list_work, list_done, j) != 0) {
        ag_ctl_finish(req, AG_EX_TEMPFAIL, NULL, "agent busy: too many requests queued; retry");
        job_free(j);
    }
}

/* ---- vm.migrate ---- */

static void progress_to_pipe(void *ctx, const hv_progress *p)
{
    vm_job *j = ctx;
    /* a full pipe drops this report: the next one carries newer numbers */
    ssize_t w = write(j->pipe_wr, p, sizeof *p);
    (void)w;
}

static void pipe_readable(ag_loop *l, ag_id id, short revents, void *ud)
{
    vm_job *j = ud;
    hv_progress p;
    (void)l;
    (void)id;
    (void)revents;
    while (read(j->pipe_rd, &p, sizeof p) == (ssize_t)sizeof p) {
        if (j->req)
            ag_ctl_send(j->req, json_pack("{s:i, s:I, s:I, s:I, s:I, s:b}", "percent",
                                          (int)p.percent, "bytes_per_s", (json_int_t)p.bytes_per_s,
                                          "remaining_bytes", (json_int_t)p.remaining_bytes,
                                          "processed_bytes", (json_int_t)p.processed_bytes,
                                          "elapsed_ms", (json_int_t)p.elapsed_ms, "postcopy",
                                          p.postcopy));
    }
}

static void migrate_work(void *ud)
{
    vm_job *j = ud;
    hv_conn *c, *dest = NULL;
    j->rc = get_conn(j->v, &c, &j->err);
    if (j->rc != HV_OK)
        return;
    /* the destination's own view drives the pre-checks (bridges, CPU, memory); if it
     * cannot be reached, the move cannot happen either */
    if ((j->rc = hv_open_libvirt(j->dest_uri, NULL, &dest, &j->err)) != HV_OK)
        return;
    j->rc = hv_migrate(c, j->vm, j->dest_uri, dest, &j->opts, &j->res, &j->err);
    hv_close(dest);
}

static void moving_remove(vm_job *j)
{
    for (vm_job **p = &j->v->moving; *p; p = &(*p)->next_moving)
        if (*p == j) {
            *p = j->next_moving;
            return;
        }
}

uint32_t ag_vm_ctl_migrations(const ag_vm_ctl *v, char *dests, size_t cap)
{
    uint32_t n = 0;
    size_t off = 0;
    if (dests && cap)
        dests[0] = '\0';
    for (const vm_job *j = v ? v->moving : NULL; j; j = j->next_moving) {
        n++;
        int w = dests ? snprintf(dests + off, cap - off, "%s%s", off ? "," : "", j->dest_label)
                      : 0;
        if (w > 0 && (size_t)w < cap - off)
            off += (size_t)w;
        else if (dests && off < cap)
            dests[off] = '\0';   /* a destination that does not fit is left out whole */
    }
    return n;
}

static void migrate_done(ag_loop *l, void *ud)
{
    vm_job *j = ud;
    moving_remove(j);
    pipe_readable(l, j->pipe_id, 0, j);   /* the last reports before the result */
    if (j->rc != HV_OK) {
        finish_error(j);
    } else if (j->req) {
        ag_ctl_finish(j->req, AG_EX_OK,
                      json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:b}", "vm", j->vm, "dest",
                                j->dest_label, "wall_ms", (json_int_t)j->res.wall_ms, "job_ms",
                                (json_int_t)j->res.job_ms, "downtime_ms",
                                (json_int_t)j->res.downtime_ms, "bytes",
                                (json_int_t)j->res.bytes, "postcopy", j->res.postcopy),
                      NULL);
    }
    job_free(j);
}

static int parse_migrate(vm_job *j, json_t *args)
{
    const char *vm = json_string_value(json_object_get(args, "vm"));
    const char *dest = json_string_value(json_object_get(args, "dest"));
    const char *mode = json_string_value(json_object_get(args, "mode"));
    const char *save_dir = json_string_value(json_object_get(args, "save_dir"));
    json_t *dt = json_object_get(args, "max_downtime_ms");
    json_t *bw = json_object_get(args, "bandwidth_mibps");
    if (!vm || !vm[0] || strlen(vm) >= sizeof j->vm || !dest || !dest[0] ||
        strlen(dest) >= 200)
        return -1;
    snprintf(j->vm, sizeof j->vm, "%s", vm);
    snprintf(j->dest_label, sizeof j->dest_label, "%s", dest);
    /* an address means that host's libvirtd over TCP, as the lab hosts listen */
    if (strstr(dest, "://"))
        snprintf(j->dest_uri, sizeof j->dest_uri, "%s", dest);
    else
        snprintf(j->dest_uri, sizeof j->dest_uri, "qemu+tcp://%s/system", dest);
    hv_migrate_opts_default(&j->opts);
    if (mode && !strcmp(mode, "storage"))
        j->opts.mode = HV_MOVE_STORAGE;
    else if (mode && !strcmp(mode, "cold"))
        j->opts.mode = HV_MOVE_COLD;
    else if (mode && strcmp(mode, "live") != 0)
        return -1;
    if (json_is_integer(dt) && json_integer_value(dt) >= 0 && json_integer_value(dt) < 600000)
        j->opts.max_downtime_ms = (uint32_t)json_integer_value(dt);
    if (json_is_integer(bw) && json_integer_value(bw) >= 0 && json_integer_value(bw) < 1000000)
        j->opts.bandwidth_mibps = (uint32_t)json_integer_value(bw);
    if (save_dir && strlen(save_dir) < sizeof j->save_dir) {
        snprintf(j->save_dir, sizeof j->save_dir, "%s", save_dir);
        j->opts.save_dir = j->save_dir;
    }
    j->opts.progress = progress_to_pipe;
    j->opts.progress_ctx = j;
    /* one report per second is what a terminal progress line needs */
    j->opts.progress_interval_ms = 500;
    return 0;
}

static void on_migrate(ag_ctl_req *req, json_t *args, void *ud)
{
    vm_job *j = job_new(ud, req);
    int fds[2];
    if (j == NULL) {
        ag_ctl_finish(req, AG_EX_OSERR, NULL, "out of memory");
        return;
    }
    if (parse_migrate(j, args) != 0) {
        ag_ctl_finish(req, AG_EX_INVALID, NULL, "vm.migrate needs \"vm\", \"dest\" and a mode "
                      "of live, storage or cold");
        job_free(j);
        return;
    }
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) {
        ag_ctl_finish(req, AG_EX_OSERR, NULL, "pipe: %s", strerror(errno));
        job_free(j);
        return;
    }
    j->pipe_rd = fds[0];
    j->pipe_wr = fds[1];
    j->pipe_id = ag_loop_add_fd(j->v->loop, j->pipe_rd, ZMQ_POLLIN, pipe_readable, j);
    if (ag_loop_submit(j->v->loop, migrate_work, migrate_done, j) != 0) {
        ag_ctl_finish(req, AG_EX_TEMPFAIL, NULL, "agent busy: too many requests queued; retry");
        job_free(j);
        return;
    }
    /* counted from submission: the status record tells placement this host is busy */
    j->next_moving = j->v->moving;
    j->v->moving = j;
}

int ag_vm_ctl_init(ag_loop *l, ag_ctl *ctl, const char *libvirt_uri, ag_vm_ctl **out)
{
    ag_vm_ctl *v = calloc(1, sizeof *v);
    if (v == NULL)
        return -ENOMEM;
    v->loop = l;
    snprintf(v->uri, sizeof v->uri, "%s", libvirt_uri && libvirt_uri[0] ? libvirt_uri
                                                                        : "qemu:///system");
    pthread_mutex_init(&v->mu, NULL);
    ag_ctl_register(ctl, "vm.list", on_list, v);
    ag_ctl_register(ctl, "vm.migrate", on_migrate, v);
    *out = v;
    return 0;
}

void ag_vm_ctl_free(ag_vm_ctl *v)
{
    if (v == NULL)
        return;
    hv_close(v->conn);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

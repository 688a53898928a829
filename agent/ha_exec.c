/* ha_exec.c — what the HA cores ask of this host's libvirt, carried out on loop workers:
 * the inventory behind every report, fence destroys, and the commands that passed the
 * fence (start, migrate, run the upgrade command). Results come back on the loop thread
 * and go to the coordinator as HaResult.
 *
 * A restart elsewhere needs the VM's definition there, so the owner of every protected
 * VM keeps its definition in the replicated state ("vmxml/<name>", checked every
 * XML_SYNC_MS and put only when it changed); START defines the VM from it when this
 * host does not know it yet.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ctl_place.h"
#include "events.h"
#include "gossip.h"
#include "gossip_drv.h"
#include "ha_int.h"
#include "hoststatus.h"
#include "log.h"
#include "raft_drv.h"
#include "state.pb-c.h"

extern char **environ;

/* 1024 VMs per host is far past what one KVM host runs; more are cut from reports. */
#define INV_MAX 1024
#define XML_SYNC_MS 5000
#define XML_MAX (256 * 1024)

enum job_kind { JOB_INV, JOB_DESTROY, JOB_CMD, JOB_XML, JOB_FENCE };
/* A coordinator re-sends a command it counted lost about once per cmd_timeout: a few
 * joins cover a job that outlives several. */
#define HA_JOINED_MAX 4

struct ha_job {
    ag_agent *a;
    enum job_kind kind;
    hac_cmd cmd;
    char vm[HAC_NAME_MAX];
    char uuid[37];
    char *script;              /* JOB_FENCE: the command line */
    char dest_uri[160];
    char dest_name[HAC_NAME_MAX];
    bool undefine;
    char why[HAC_TEXT_MAX];
    char *xml;                 /* START: definition from the replicated state */
    pthread_mutex_t mu;        /* guards prog: written by the migrating worker */
    hv_progress prog;
    bool has_prog;
    hv_vm *vms;                /* JOB_INV */
    size_t n;
    char **xmls;               /* JOB_XML: per name in names */
    char (*names)[HAC_NAME_MAX];
    size_t n_names;
    int rc;
    hv_err err;
    char text[HAC_TEXT_MAX];
    int slot;
    /* JOB_CMD: the same command sent again while this job runs (main thread only) */
    hac_cmd joined[HA_JOINED_MAX];
    uint32_t n_joined;
};

static int get_conn(struct ag_ha *h, hv_conn **out, hv_err *err)
{
    int rc = HV_OK;
    pthread_mutex_lock(&h->conn_mu);
    if (!h->conn)
        rc = hv_open_libvirt(h->a->cfg.libvirt_uri, NULL, &h->conn, err);
    *out = h->conn;
    pthread_mutex_unlock(&h->conn_mu);
    return rc;
}

static ha_job *job_new(ag_agent *a, enum job_kind k)
{
    struct ag_ha *h = a->ha;
    int slot = -1;
    for (int i = 0; i < HA_JOBS_MAX && slot < 0; i++)
        if (!h->jobs[i])
            slot = i;
    if (slot < 0 && k != JOB_INV)
        return NULL;
    ha_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->a = a;
    j->kind = k;
    j->slot = k == JOB_INV ? -1 : slot;   /* the inventory is tracked by inv_busy */
    pthread_mutex_init(&j->mu, NULL);
    if (j->slot >= 0)
        h->jobs[slot] = j;
    return j;
}

static void job_free(ha_job *j)
{
    struct ag_ha *h = j->a->ha;
    if (h && j->slot >= 0 && h->jobs[j->slot] == j)
        h->jobs[j->slot] = NULL;
    pthread_mutex_destroy(&j->mu);
    free(j->xml);
    free(j->vms);
    for (size_t i = 0; j->xmls && i < j->n_names; i++)
        free(j->xmls[i]);
    free(j->xmls);
    free(j->names);
    free(j);
}

/* ---- inventory ----------------------------------------------------------------------- */

static void inv_work(void *ud)
{
    ha_job *j = ud;
    hv_conn *c;
    j->vms = calloc(INV_MAX, sizeof *j->vms);
    if (!j->vms) {
        j->rc = HV_ENOMEM;
        return;
    }
    j->rc = get_conn(j->a->ha, &c, &j->err);
    if (j->rc == HV_OK)
        j->rc = hv_vm_list(c, j->vms, INV_MAX, &j->n, &j->err);
}

static void xml_sync(ag_agent *a);

static void inv_done(ag_loop *l, void *ud)
{
    (void)l;
    ha_job *j = ud;
    struct ag_ha *h = j->a->ha;
    if (h) {
        h->inv_busy = false;
        h->inv_ok = j->rc == HV_OK;
        if (h->inv_ok) {
            free(h->inv);
            h->inv = j->vms;
            h->n_inv = j->n;
            j->vms = NULL;
            h->inv_ms = ag_now_ms();
        } else
            ag_debug("ha: inventory failed: %s", j->err.msg);
        ag_ha__inventory_done(j->a);
        if (h->inv_ok)
            xml_sync(j->a);
    }
    job_free(j);
}

void ag_ha__exec_inventory(ag_agent *a)
{
    ha_job *j = job_new(a, JOB_INV);
    if (!j)
        return;
    a->ha->inv_busy = true;
    if (ag_loop_submit(a->loop, inv_work, inv_done, j) != 0) {
        a->ha->inv_busy = false;
        job_free(j);
    }
}

/* ---- definitions of protected VMs in the replicated state ---------------------------- */

static void xml_work(void *ud)
{
    ha_job *j = ud;
    hv_conn *c;
    if (get_conn(j->a->ha, &c, &j->err) != HV_OK)
        return;
    for (size_t i = 0; i < j->n_names; i++)
        if (hv_vm_xml(c, j->names[i], &j->xmls[i], &j->err) != HV_OK)
            j->xmls[i] = NULL;
}

static void xml_put_done(ag_agent *a, void *ud, int code, uint64_t index, const char *error)
{
    (void)a;
    (void)index;
    if (code)
        ag_debug("ha: definition of %s not stored (%s); retried later", (char *)ud, error ? error : "");
    free(ud);
}

static void xml_done(ag_loop *l, void *ud)
{
    (void)l;
    ha_job *j = ud;
    ag_agent *a = j->a;
    for (size_t i = 0; a->ha && i < j->n_names; i++) {
        if (!j->xmls[i])
            continue;
        char key[8 + HAC_NAME_MAX];
        snprintf(key, sizeof key, "vmxml/%s", j->names[i]);
        size_t len = 0, xl = strlen(j->xmls[i]);
        char *cur = malloc(XML_MAX);
        int same = cur && st_get(a->store, ST_DB_STATE, key, strlen(key), cur, XML_MAX, &len) == 0 &&
                   len == xl && memcmp(cur, j->xmls[i], xl) == 0;
        free(cur);
        if (same || xl >= XML_MAX)
            continue;
        ag_raft_submit(a, DROVER__COMMAND_OP__CMD_PUT, key, j->xmls[i], xl, xml_put_done, strdup(j->names[i]));
    }
    job_free(j);
}

bool ag_ha__xml_stored(ag_agent *a, const char *vm)
{
    char key[8 + HAC_NAME_MAX];
    size_t len;
    snprintf(key, sizeof key, "vmxml/%s", vm);
    return st_get(a->store, ST_DB_STATE, key, strlen(key), NULL, 0, &len) == 0;
}

static void xml_sync(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    uint64_t now = ag_now_ms();
    if (h->self < 0 || h->fence.mode != HAC_FM_ACTIVE)
        return;
    size_t n = 0, missing = 0;
    for (uint32_t v = 0; v < h->st->n_vms; v++)
        if (h->st->vms[v].owner == h->self && h->st->vms[v].protected_ && h->st->vms[v].moving_to < 0) {
            n++;
            missing += !ag_ha__xml_stored(a, h->st->vms[v].name);
        }
    /* a newly protected VM must be restartable elsewhere at once: no waiting for the
     * periodic check when its definition is not stored yet */
    if (!n || (!missing && now < h->xml_sync_ms + XML_SYNC_MS))
        return;
    h->xml_sync_ms = now;
    ha_job *j = job_new(a, JOB_XML);
    if (!j)
        return;
    j->names = calloc(n, sizeof *j->names);
    j->xmls = calloc(n, sizeof *j->xmls);
    if (!j->names || !j->xmls) {
        job_free(j);
        return;
    }
    for (uint32_t v = 0; v < h->st->n_vms; v++)
        if (h->st->vms[v].owner == h->self && h->st->vms[v].protected_ && h->st->vms[v].moving_to < 0)
            snprintf(j->names[j->n_names++], HAC_NAME_MAX, "%s", h->st->vms[v].name);
    if (ag_loop_submit(a->loop, xml_work, xml_done, j) != 0)
        job_free(j);
}

/* ---- fence destroy ------------------------------------------------------------------- */

static void destroy_work(void *ud)
{
    ha_job *j = ud;
    hv_conn *c;
    if ((j->rc = get_conn(j->a->ha, &c, &j->err)) != HV_OK)
        return;
    hv_vm cur;
    if (j->uuid[0] && (j->rc = hv_vm_get(c, j->vm, &cur, &j->err)) != HV_OK) {
        if (j->rc == HV_ENOTFOUND)
            j->rc = HV_OK;
        return;
    }
    if (j->uuid[0] && strcmp(cur.uuid, j->uuid) != 0) {
        snprintf(j->why, sizeof j->why, "not done: the VM of that name here has another UUID");
        return;
    }
    j->rc = hv_vm_destroy(c, j->vm, &j->err);
    if (j->rc == HV_ESTATE || j->rc == HV_ENOTFOUND)
        j->rc = HV_OK;   /* already off: the goal holds */
    if (j->rc == HV_OK && j->undefine) {
        int u = hv_vm_undefine(c, j->vm, &j->err);
        if (u != HV_OK && u != HV_ENOTFOUND)
            j->rc = u;
    }
}

static void destroy_done(ag_loop *l, void *ud)
{
    (void)l;
    ha_job *j = ud;
    if (j->rc == HV_OK)
        ag_event(j->a, "fence", json_pack("{s:s,s:b}", "vm", j->vm, "undefined", j->undefine),
                 "destroyed VM %s here%s: %s", j->vm, j->undefine ? " and removed its definition" : "", j->why);
    else
        ag_event(j->a, "fence", json_pack("{s:s}", "vm", j->vm),
                 "could NOT destroy VM %s here (%s): %s; retrying while the fence holds", j->vm,
                 j->err.msg, j->why);
    job_free(j);
}

void ag_ha__exec_destroy(ag_agent *a, const char *vm, const char *uuid, bool undefine, const char *why)
{
    for (int i = 0; i < HA_JOBS_MAX; i++) {
        const ha_job *o = a->ha->jobs[i];
        if (o && o->kind == JOB_DESTROY && strcmp(o->vm, vm) == 0)
            return;   /* one at a time per VM: the fence asks again if it is still there */
    }
    ha_job *j = job_new(a, JOB_DESTROY);
    if (!j) {
        ag_err("ha: cannot destroy %s now: %d libvirt jobs already running", vm, HA_JOBS_MAX);
        return;
    }
    snprintf(j->vm, sizeof j->vm, "%s", vm);
    snprintf(j->why, sizeof j->why, "%s", why);
    snprintf(j->uuid, sizeof j->uuid, "%s", uuid ? uuid : "");
    j->undefine = undefine;
    if (ag_loop_submit(a->loop, destroy_work, destroy_done, j) != 0)
        job_free(j);
}

/* ---- commands ------------------------------------------------------------------------ */

static void progress(void *ctx, const hv_progress *p)
{
    ha_job *j = ctx;
    pthread_mutex_lock(&j->mu);
    j->prog = *p;
    j->has_prog = true;
    pthread_mutex_unlock(&j->mu);
}

static void start_work(ha_job *j, hv_conn *c)
{
    hv_vm vm;
    j->rc = hv_vm_get(c, j->vm, &vm, &j->err);
    if (j->rc == HV_ENOTFOUND && j->xml) {
        if ((j->rc = hv_vm_define(c, j->xml, &j->err)) != HV_OK)
            return;
        j->rc = hv_vm_get(c, j->vm, &vm, &j->err);
    }
    if (j->rc != HV_OK)
        return;
    if (vm.state == HV_VM_RUNNING) {
        snprintf(j->text, sizeof j->text, "already running");
        return;   /* starting is idempotent on the owner */
    }
    uint64_t t0 = ag_now_ms();
    j->rc = hv_vm_start(c, j->vm, &j->err);
    if (j->rc == HV_OK)
        snprintf(j->text, sizeof j->text, "started in %llu ms", (unsigned long long)(ag_now_ms() - t0));
    /* A failure is read as "this host does not run it" and the VM is started elsewhere:
     * say so only if it really does not run here now. */
    hv_err e2;
    if (j->rc != HV_OK && hv_vm_get(c, j->vm, &vm, &e2) == HV_OK && vm.state == HV_VM_RUNNING) {
        snprintf(j->text, sizeof j->text, "running (libvirt reported a failure: %.80s)", j->err.msg);
        j->rc = HV_OK;
    }
}

static void migrate_work(ha_job *j, hv_conn *c)
{
    hv_vm vm;
    if ((j->rc = hv_vm_get(c, j->vm, &vm, &j->err)) != HV_OK)
        return;
    hv_migrate_opts o;
    hv_migrate_opts_default(&o);
    o.mode = vm.state == HV_VM_RUNNING || vm.state == HV_VM_PAUSED ? HV_MOVE_LIVE : HV_MOVE_COLD;
    bool local = false;
    for (unsigned i = 0; i < vm.n_disks; i++)
        local |= !vm.disks[i].shared && !vm.disks[i].readonly_cdrom;
    /* [ha] storage_migration = drain: a running VM with host-local disks moves with them */
    if (local && o.mode == HV_MOVE_LIVE && strcmp(j->a->cfg.storage_migration, "drain") == 0)
        o.mode = HV_MOVE_STORAGE;
    o.progress = progress;
    o.progress_ctx = j;
    /* No second connection to the destination for pre-checks: placement already ruled
     * on bridges, CPU and memory from the records (HAC_IN_CONSTRAINTS), and a drain
     * pays that connection per VM; libvirt's own refusal still comes back in words. */
    hv_migrate_result res;
    j->rc = hv_migrate(c, j->vm, j->dest_uri, NULL, &o, &res, &j->err);
    if (j->rc == HV_OK)
        snprintf(j->text, sizeof j->text, "%s to %s in %llu ms, downtime %llu ms",
                 o.mode == HV_MOVE_LIVE ? "live" : o.mode == HV_MOVE_STORAGE ? "live with disks" : "cold", j->dest_name,
                 (unsigned long long)res.wall_ms, (unsigned long long)res.downtime_ms);
}

static void run_work(ha_job *j)
{
    char *argv[] = {"/bin/sh", "-c", j->script ? j->script : j->cmd.text, "drover-fence", j->vm, j->dest_uri, NULL};
    if (j->kind != JOB_FENCE)
        argv[3] = NULL;   /* the upgrade command gets no arguments */
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
    if (rc != 0) {
        j->rc = HV_EFAIL;
        snprintf(j->err.msg, sizeof j->err.msg, "cannot run /bin/sh: %s", strerror(rc));
        return;
    }
    int status = 0;
    struct timespec step = {0, 50 * 1000 * 1000};
    for (uint64_t waited = 0;; waited += 50) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0) {
            status = -1;
            break;
        }
        if (waited >= (j->kind == JOB_FENCE ? HA_FENCE_TIMEOUT_MS : HA_RUN_TIMEOUT_MS)) {
            kill(pid, SIGKILL);   /* our own child, by its PID */
            waitpid(pid, &status, 0);
            j->rc = HV_ETIMEDOUT;
            snprintf(j->err.msg, sizeof j->err.msg, "%s still running after %d s; killed",
                     j->kind == JOB_FENCE ? "fence_command" : "upgrade command",
                     (j->kind == JOB_FENCE ? HA_FENCE_TIMEOUT_MS : HA_RUN_TIMEOUT_MS) / 1000);
            return;
        }
        nanosleep(&step, NULL);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        snprintf(j->text, sizeof j->text, "command exited 0");
        return;
    }
    j->rc = HV_EFAIL;
    snprintf(j->err.msg, sizeof j->err.msg, "%s %s %d", j->kind == JOB_FENCE ? "fence_command" : "upgrade command",
             WIFEXITED(status) ? "exited with" : "killed by signal",
             WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

static void cmd_work(void *ud)
{
    ha_job *j = ud;
    if (j->cmd.kind == HAC_CMD_RUN) {
        run_work(j);
        return;
    }
    hv_conn *c;
    if ((j->rc = get_conn(j->a->ha, &c, &j->err)) != HV_OK)
        return;
    if (j->cmd.kind == HAC_CMD_START)
        start_work(j, c);
    else
        migrate_work(j, c);
}

static void cmd_done(ag_loop *l, void *ud)
{
    (void)l;
    ha_job *j = ud;
    ag_agent *a = j->a;
    static const char *kinds[] = {"", "migrate", "start", "run"};
    const char *k = kinds[j->cmd.kind <= HAC_CMD_RUN ? j->cmd.kind : 0];
    if (a->ha) {
        bool ok = j->rc == HV_OK;
        const char *text = ok ? j->text : j->err.msg;
        ag_event(a, "ha", json_pack("{s:s,s:s,s:b}", "command", k, "vm", j->vm, "ok", ok),
                 "%s %s%s%s: %s", k, j->vm, j->dest_name[0] ? " -> " : "", j->dest_name,
                 ok ? text : text[0] ? text : hv_strerror(j->rc));
        const char *why = ok ? text : text[0] ? text : hv_strerror(j->rc);
        ag_ha__send_result(a, &j->cmd, ok, why);
        for (uint32_t i = 0; i < j->n_joined; i++)
            ag_ha__send_result(a, &j->joined[i], ok, why);
    }
    job_free(j);
}

/* The job already carrying out this command for this VM (a coordinator that gave the
 * first copy up as lost sends it again): a second libvirt start next to the first would
 * fail with "already running", which reads as this host refusing the VM. */
static ha_job *same_job(struct ag_ha *h, const hac_cmd *cmd)
{
    if (cmd->kind == HAC_CMD_RUN)
        return NULL;
    for (int i = 0; i < HA_JOBS_MAX; i++) {
        ha_job *j = h->jobs[i];
        if (j && j->kind == JOB_CMD && j->cmd.kind == cmd->kind && j->cmd.vm == cmd->vm &&
            j->cmd.to == cmd->to && j->cmd.from == cmd->from)
            return j;
    }
    return NULL;
}

/* Where other libvirtds reach host `name`: its record's migration address, else the
 * IP of its cluster address. */
static void dest_addr(ag_agent *a, const char *name, char *out, size_t outlen)
{
    out[0] = 0;
    const ag_member *m = ag_ha__member(a, name);
    if (!m)
        return;
    struct gsp *g = ag_gossip_core(a);
    size_t n = g ? gsp_member_count(g) : 0;
    for (size_t i = 0; i < n; i++) {
        struct gsp_member_info mi;
        Drover__HostStatus *st;
        if (gsp_member_get(g, i, &mi) != 0 || memcmp(mi.id.b, m->id, AG_HOST_ID_LEN) != 0 ||
            !mi.status_len || ag_status_open(&a->members, mi.id.b, mi.status, mi.status_len, &st) != 0)
            continue;
        if (st->migration_addr && st->migration_addr[0])
            snprintf(out, outlen, "%s", st->migration_addr);
        drover__host_status__free_unpacked(st, NULL);
    }
    if (out[0])
        return;
    const char *p = strstr(m->addr, "://");
    p = p ? p + 3 : m->addr;
    size_t len = strcspn(p, ":");
    snprintf(out, outlen, "%.*s", (int)len, p);
}

/* [ha] allow_upgrade_command: a root shell command from the network runs only where this
 * host's administrator opted in (issue 12). The refusal reads, to the coordinator, as the
 * command failing (not as a busy host: hac_common.c host_refusals), so the upgrade pauses
 * instead of sending it again; it names the switch. True when refused. */
static bool run_refused(ag_agent *a, const hac_cmd *cmd)
{
    if (cmd->kind != HAC_CMD_RUN || strcmp(a->cfg.allow_upgrade_command, "yes") == 0)
        return false;
    char why[HAC_TEXT_MAX];
    snprintf(why, sizeof why, "this host does not run remote commands: set [ha] allow_upgrade_command "
             "= yes in %.60s to allow it", a->cfg.path[0] ? a->cfg.path : "/etc/drover/drover.conf");
    ag_event(a, "ha", json_pack("{s:s,s:s,s:b}", "command", "run", "vm", "(upgrade)", "ok", 0),
             "run (upgrade) refused: %s", why);
    ag_ha__send_result(a, cmd, false, why);
    return true;
}

void ag_ha__exec_cmd(ag_agent *a, const hac_cmd *cmd)
{
    struct ag_ha *h = a->ha;
    const hac_rstate *s = h->st;
    if (run_refused(a, cmd))
        return;
    ha_job *j = same_job(h, cmd);
    if (j && j->n_joined < HA_JOINED_MAX) {
        j->joined[j->n_joined++] = *cmd;
        ag_debug("ha: %s %s: joins the job already under way", cmd->kind == HAC_CMD_START ? "start" : "migrate",
                 j->vm);
        return;
    }
    /* A hung libvirtd would hold the job for its whole timeout and the VM with it: refuse
     * at once, with a refusal the coordinator reads as "this host, not this VM"
     * (ha/hac_common.c host_refusals), so it starts the VM elsewhere. */
    uint32_t silent_ms = 0;
    if (cmd->kind != HAC_CMD_RUN && !ag_place_libvirtd(a->place, ag_now_ms(), &silent_ms, NULL)) {
        char why[96];
        snprintf(why, sizeof why, "cannot queue the job: libvirtd here has not answered for %u ms", silent_ms);
        ag_ha__send_result(a, cmd, false, why);
        return;
    }
    j = job_new(a, JOB_CMD);
    if (!j) {
        ag_ha__send_result(a, cmd, false, "too many libvirt jobs running on this host");
        return;
    }
    j->cmd = *cmd;
    if (cmd->kind != HAC_CMD_RUN) {
        if (cmd->vm >= s->n_vms) {
            job_free(j);
            ag_ha__send_result(a, cmd, false, "VM unknown here: this host's log is behind");
            return;
        }
        snprintf(j->vm, sizeof j->vm, "%s", s->vms[cmd->vm].name);
    } else
        snprintf(j->vm, sizeof j->vm, "(upgrade)");
    if (cmd->kind == HAC_CMD_START) {
        char key[8 + HAC_NAME_MAX];
        snprintf(key, sizeof key, "vmxml/%s", j->vm);
        size_t len = 0;
        j->xml = malloc(XML_MAX);
        if (j->xml && st_get(a->store, ST_DB_STATE, key, strlen(key), j->xml, XML_MAX - 1, &len) == 0 &&
            len < XML_MAX)
            j->xml[len] = 0;
        else {
            free(j->xml);
            j->xml = NULL;
        }
    }
    if (cmd->kind == HAC_CMD_MIGRATE) {
        if (cmd->to >= s->n_hosts) {
            job_free(j);
            ag_ha__send_result(a, cmd, false, "destination unknown here: this host's log is behind");
            return;
        }
        snprintf(j->dest_name, sizeof j->dest_name, "%s", s->hosts[cmd->to].name);
        char addr[80];
        dest_addr(a, j->dest_name, addr, sizeof addr);
        if (!addr[0]) {
            job_free(j);
            ag_ha__send_result(a, cmd, false, "no address known for the destination host");
            return;
        }
        snprintf(j->dest_uri, sizeof j->dest_uri, "qemu+tcp://%s/system", addr);
    }
    if (ag_loop_submit(a->loop, cmd_work, cmd_done, j) != 0) {
        job_free(j);
        ag_ha__send_result(a, cmd, false, "cannot queue the job on this agent");
    }
}

static void fence_work(void *ud)
{
    run_work(ud);
}

static void fence_done(ag_loop *l, void *ud)
{
    (void)l;
    ha_job *j = ud;
    ag_ha__fenced(j->a, j->cmd.to, j->rc == HV_OK, j->rc == HV_OK ? "exit 0" : j->err.msg);
    job_free(j);
}

void ag_ha__exec_fence(ag_agent *a, uint32_t host, const char *name, const char *addr)
{
    ha_job *j = job_new(a, JOB_FENCE);
    if (!j) {
        ag_ha__fenced(a, host, false, "too many jobs running on the coordinator");
        return;
    }
    j->cmd.to = host;
    j->script = a->cfg.fence_command;   /* lives as long as the agent */
    snprintf(j->vm, sizeof j->vm, "%s", name);
    snprintf(j->dest_uri, sizeof j->dest_uri, "%s", addr);
    if (ag_loop_submit(a->loop, fence_work, fence_done, j) != 0) {
        job_free(j);
        ag_ha__fenced(a, host, false, "cannot queue the job");
    }
}

bool ag_ha__job_busy(ag_agent *a, const char *vm)
{
    for (int i = 0; i < HA_JOBS_MAX; i++) {
        const ha_job *j = a->ha->jobs[i];
        if (j && j->kind == JOB_CMD && j->cmd.kind == HAC_CMD_MIGRATE && strcmp(j->vm, vm) == 0)
            return true;
    }
    return false;
}

uint32_t ag_ha__local_starts(ag_agent *a, char **out, uint32_t max)
{
    uint32_t n = 0;
    for (int i = 0; i < HA_JOBS_MAX && n < max; i++) {
        ha_job *j = a->ha->jobs[i];
        if (j && j->kind == JOB_CMD && j->cmd.kind == HAC_CMD_START)
            out[n++] = j->vm;
    }
    return n;
}

void ag_ha__local_moves(ag_agent *a, struct ha_move *out, uint32_t *n, uint32_t max)
{
    *n = 0;
    for (int i = 0; i < HA_JOBS_MAX && *n < max; i++) {
        ha_job *j = a->ha->jobs[i];
        if (!j || j->kind != JOB_CMD || j->cmd.kind != HAC_CMD_MIGRATE)
            continue;
        struct ha_move *m = &out[(*n)++];
        memset(m, 0, sizeof *m);
        snprintf(m->vm, sizeof m->vm, "%s", j->vm);
        snprintf(m->to, sizeof m->to, "%s", j->dest_name);
        pthread_mutex_lock(&j->mu);
        if (j->has_prog) {
            m->percent = j->prog.percent;
            m->bytes_per_s = j->prog.bytes_per_s;
        }
        pthread_mutex_unlock(&j->mu);
    }
}

void ag_ha__exec_free(ag_agent *a)
{
    struct ag_ha *h = a->ha;
    /* the loop is quiesced: no job runs; done callbacks that never ran free nothing */
    free(h->inv);
    h->inv = NULL;
    hv_close(h->conn);
    h->conn = NULL;
}

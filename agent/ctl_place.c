/* ctl_place.c — `drover cpu baseline`, `drover check migrate VM HOST`, `drover place VM`
 * on a real agent, and the libvirt facts this host gossips for them.
 *
 * Every answer comes from the placement core (placement/) over a view of the cluster
 * (view.h): the other hosts as their signed gossip records describe them, the VM as this
 * host's libvirtd defines it. The view is taken on the loop thread (it reads the gossip
 * core), the libvirt calls and the placement run on a worker, the reply is made on the
 * loop again — the shape of ctl_vm.c. So the answer is what the coordinator would decide
 * from the same records, not a second opinion computed differently.
 *
 * A host without a reachable libvirtd still answers what gossip alone can: `cpu
 * baseline` the intersection of the published feature sets; `check`/`place` need the
 * VM's definition and say plainly that libvirt is unreachable and what to check.
 *
 * Facts for gossip (hv_host_facts + the VM count) are refreshed on a worker every
 * AG_PLACE_FACTS_MS and cached here; gossip_drv.c copies the cache into each record, so
 * publishing never waits on libvirt. The same probe tells whether libvirtd answers
 * (hoststatus.h ag_lvwatch): the worker notes when each libvirt question goes out and
 * comes back, the loop judges from those times at each record, so a hung libvirtd reads
 * as "not answering" after AG_LIBVIRTD_TIMEOUT_MS while the probe is still stuck, and no
 * second probe is queued behind it. Facts not read, or read while libvirtd has stopped
 * answering since, are published as unknown with their last values.
 */
#include "ctl_place.h"
#include "log.h"

#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "exitcodes.h"
#include "hv.h"
#include "view.h"

/* 10 s: a host's capacity and bridges change on the scale of minutes; a VM started a
 * moment ago shows up in the next record. Each refresh is two libvirt RPC rounds. */
#define AG_PLACE_FACTS_MS 10000
/* How often the loop looks whether a probe is due (ag_lvwatch_due): the retry after a
 * failure (AG_LIBVIRTD_RETRY_MS) must not wait for a 10 s tick. */
#define AG_PLACE_TICK_MS 1000
/* Bound on the VMs counted per refresh (the same bound `vm list` uses). */
#define PLACE_VMS_MAX 1024
/* Time `drover place` may spend resolving hosts' migration addresses: with a working
 * resolver 256 lookups take milliseconds; a dead DNS server costs ~5 s per name, so
 * without a budget one ranking could take minutes. */
#define AG_PLACE_RESOLVE_BUDGET_MS 2000
/* Rendered text/JSON of one answer; 256 hosts of ranking fit with room. */
#define PLACE_OUT_MAX (256u * 1024u)

struct ag_place {
    ag_agent *a;
    char uri[256];
    pthread_mutex_t mu;   /* guards conn, opened by whichever worker gets there first */
    hv_conn *conn;
    ag_id timer;
    bool refreshing;      /* one facts job at a time */
    uint64_t probe_ms;    /* when the last facts job was submitted, 0 never */
    uint32_t in_flight;   /* jobs submitted whose done has not run: they use conn */
    bool closing;         /* ag_place_free ran while jobs were out: the last one frees */
    bool have_facts;
    bool facts_ok;        /* the last facts job read them (loop thread) */
    int answering;        /* the last verdict on libvirtd logged, -1 none yet */
    ag_host_facts facts;  /* loop thread only */
    ag_lvwatch lv;        /* the facts worker writes, the loop reads (atomics) */
};

enum job_kind { JOB_FACTS, JOB_BASELINE, JOB_CHECK, JOB_PLACE };

typedef struct place_job {
    ag_place *p;
    ag_ctl_req *req;      /* NULL once the client went away */
    enum job_kind kind;
    char vm[HV_NAME_LEN];
    int32_t host;         /* check: destination index */
    ag_view *view;
    /* outcome */
    int code;             /* AG_EX_* */
    char err[HV_ERR_LEN + 256];
    char libvirt_note[HV_ERR_LEN + 128];
    bool blocked;
    char *text, *json;
    ag_host_facts facts;
    char nic_fallback[64];   /* facts: the cluster address, for the NIC probe */
    bool facts_read;         /* facts: hv_host_facts answered */
    uint32_t lv_silent_ms;   /* baseline: libvirtd not answering for this long, 0 = ask it */
} place_job;

static int get_conn(ag_place *p, hv_conn **out, hv_err *err)
{
    int rc = HV_OK;
    pthread_mutex_lock(&p->mu);
    if (p->conn == NULL)
        rc = hv_open_libvirt(p->uri, NULL, &p->conn, err);
    *out = p->conn;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static void job_closed(ag_ctl_req *req, void *ud)
{
    (void)req;
    ((place_job *)ud)->req = NULL;
}

static void place_destroy(ag_place *p)
{
    hv_close(p->conn);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/* Called by every done function: the job no longer touches p. */
static void job_finished(ag_place *p)
{
    if (--p->in_flight == 0 && p->closing)
        place_destroy(p);
}

static void job_free(place_job *j)
{
    free(j->view);
    free(j->text);
    free(j->json);
    free(j);
}

static void fail(place_job *j, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fail(place_job *j, int code, const char *fmt, ...)
{
    va_list ap;
    j->code = code;
    va_start(ap, fmt);
    vsnprintf(j->err, sizeof j->err, fmt, ap);
    va_end(ap);
}

/* ---- facts for this host's gossip record ---- */

static void list_append(char *dst, size_t cap, const char *src)
{
    if (!src[0])
        return;
    size_t l = strlen(dst);
    snprintf(dst + l, cap - l, "%s%s", l ? "," : "", src);
}

static int cmp_uuid(const void *a, const void *b)
{
    return strcmp(((const hv_vm *)a)->uuid, ((const hv_vm *)b)->uuid);
}

/* The NIC of the migration address (else the cluster address): link, MTU and speed for
 * the record. Here, on the worker, because a migration address may be a name to resolve. */
static void probe_nic(place_job *j)
{
    ag_host_facts *f = &j->facts;
    snprintf(f->nic_addr, sizeof f->nic_addr, "%s",
             f->migration_addr[0] ? f->migration_addr : j->nic_fallback);
    ag_status_nic(f->nic_addr, &f->nic_up, &f->nic_mtu, &f->nic_speed_mbps);
    f->nic_probed = 1;
}

static void facts_work(void *ud)
{
    place_job *j = ud;
    ag_host_facts *f = &j->facts;
    ag_lvwatch *lv = &j->p->lv;
    hv_conn *c;
    hv_err err = {0};
    hv_host h;
    /* only the libvirt calls are timed: a slow storage probe or resolver below is not
     * libvirtd's silence */
    ag_lvwatch_ask(lv, ag_now_ms());
    if (get_conn(j->p, &c, &err) != HV_OK || hv_host_facts(c, &h, &err) != HV_OK) {
        ag_lvwatch_done(lv, false, ag_now_ms());
        ag_debug("facts: libvirt did not give them: %s", err.msg);
        probe_nic(j);   /* with the last known migration address */
        return;
    }
    ag_lvwatch_done(lv, true, ag_now_ms());
    j->facts_read = true;
    f->facts_read_wall_ms = ag_wall_ms();
    snprintf(f->libvirt_version, sizeof f->libvirt_version, "%lu.%lu.%lu",
             h.libvirt_version / 1000000, h.libvirt_version / 1000 % 1000,
             h.libvirt_version % 1000);
    snprintf(f->qemu_version, sizeof f->qemu_version, "%lu.%lu.%lu", h.qemu_version / 1000000,
             h.qemu_version / 1000 % 1000, h.qemu_version % 1000);
    snprintf(f->cpu_vendor, sizeof f->cpu_vendor, "%s", h.cpu_vendor);
    /* the host-model CPU is what a guest can be given here, so it is what we compare */
    snprintf(f->cpu_model, sizeof f->cpu_model, "%s",
             h.cpu_host_model[0] ? h.cpu_host_model : h.cpu_model);
    snprintf(f->cpu_arch, sizeof f->cpu_arch, "%s", h.cpu_arch);
    const char *feats = h.cpu_host_model[0] ? h.cpu_host_features : h.cpu_features;
    char tmp[HV_LIST_LEN];
    snprintf(tmp, sizeof tmp, "%s", feats);
    for (char *save = NULL, *t = strtok_r(tmp, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (t[0] != '-')   /* disabled in host-model: not offered here */
            list_append(f->cpu_features, sizeof f->cpu_features, t);
    snprintf(f->storage_ids, sizeof f->storage_ids, "%s", h.storage_ids);
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    ag_status_probe_storage(h.storage_ids, host, &f->storage_latency_ms, &f->storage_errors);
    ag_debug("facts: shared storage [%s] probed: worst %u ms, %u errors; migration address %s",
             h.storage_ids, f->storage_latency_ms, f->storage_errors, h.migration_addr);
    snprintf(f->bridges, sizeof f->bridges, "%s", h.bridges);
    snprintf(f->networks, sizeof f->networks, "%s", h.networks);
    snprintf(f->migration_addr, sizeof f->migration_addr, "%s", h.migration_addr);
    f->local_free_mib = h.local_free_mib;
    f->local_free_known = h.local_free_known;
    probe_nic(j);
    hv_vm *vms = calloc(PLACE_VMS_MAX, sizeof *vms);
    size_t n = 0;
    int rc = HV_ENOMEM;
    if (vms) {
        ag_lvwatch_ask(lv, ag_now_ms());
        rc = hv_vm_list(c, vms, PLACE_VMS_MAX, &n, &err);
        ag_lvwatch_done(lv, rc == HV_OK, ag_now_ms());
    }
    if (rc == HV_OK) {
        f->vm_count = (uint32_t)n;
        for (size_t i = 0; i < n; i++)
            if (vms[i].state == HV_VM_RUNNING || vms[i].state == HV_VM_PAUSED)
                f->vcpus_used += vms[i].vcpus;
        /* digest of the sorted running UUIDs: hosts compare inventories cheaply */
        qsort(vms, n, sizeof *vms, cmp_uuid);
        crypto_generichash_state gs;
        crypto_generichash_init(&gs, NULL, 0, sizeof f->vm_digest);
        for (size_t i = 0; i < n; i++)
            if (vms[i].state == HV_VM_RUNNING || vms[i].state == HV_VM_PAUSED)
                crypto_generichash_update(&gs, (const uint8_t *)vms[i].uuid, strlen(vms[i].uuid) + 1);
        crypto_generichash_final(&gs, f->vm_digest, sizeof f->vm_digest);
        f->have_vm_digest = 1;
    }
    free(vms);
}

static void facts_done(ag_loop *l, void *ud)
{
    place_job *j = ud;
    (void)l;
    ag_place *p = j->p;
    p->refreshing = false;
    p->facts_ok = j->facts_read;
    if (j->facts_read) {
        p->facts = j->facts;
    } else {
        /* keep the last facts read, published as unknown (ag_place_facts): they say
         * what the host was, never what it is now */
        p->facts.nic_probed = j->facts.nic_probed;
        p->facts.nic_up = j->facts.nic_up;
        p->facts.nic_mtu = j->facts.nic_mtu;
        p->facts.nic_speed_mbps = j->facts.nic_speed_mbps;
    }
    p->have_facts = true;
    job_free(j);
    job_finished(p);
}

/* Log libvirtd's verdict when it changes (loop thread): the record says it to the
 * cluster, this says it to whoever reads this host's log. */
static void note_answering(ag_place *p, uint64_t now)
{
    uint32_t silent;
    int ok = ag_lvwatch_judge(&p->lv, now, AG_LIBVIRTD_TIMEOUT_MS, &silent);
    if (ok == p->answering)
        return;
    if (!ok)
        ag_warn("libvirtd at %s not answering for %u s (a probe is %s); this host's record "
                "says so and publishes its facts as unknown", p->uri, (silent + 500) / 1000,
                p->refreshing ? "still waiting, none is stacked behind it" : "failing");
    else if (p->answering == 0)
        ag_info("libvirtd at %s answers again", p->uri);
    p->answering = ok;
}

static void on_facts_timer(ag_loop *l, ag_id id, void *ud)
{
    ag_place *p = ud;
    (void)id;
    uint64_t now = ag_now_ms();
    note_answering(p, now);
    if (!ag_lvwatch_due(&p->lv, p->refreshing, p->probe_ms, now, AG_PLACE_FACTS_MS,
                        AG_LIBVIRTD_RETRY_MS))
        return;
    place_job *j = calloc(1, sizeof *j);
    if (!j)
        return;
    j->p = p;
    j->kind = JOB_FACTS;
    snprintf(j->facts.migration_addr, sizeof j->facts.migration_addr, "%s",
             p->facts.migration_addr);
    snprintf(j->nic_fallback, sizeof j->nic_fallback, "%.*s", (int)sizeof j->nic_fallback - 1,
             p->a->cfg.advertise);
    p->refreshing = true;
    p->probe_ms = now;
    p->in_flight++;
    if (ag_loop_submit(l, facts_work, facts_done, j) != 0) {
        p->refreshing = false;
        p->in_flight--;
        free(j);
    }
}

void ag_place_facts(const ag_place *p, ag_host_facts *f)
{
    if (!p)
        return;
    if (p->have_facts) {
        int admin = f->admin_state;
        *f = p->facts;
        f->admin_state = admin;
    }
    /* judged now, not at the last refresh: a stuck probe never refreshes anything */
    f->libvirtd_responsive = ag_lvwatch_judge(&p->lv, ag_now_ms(), AG_LIBVIRTD_TIMEOUT_MS,
                                              &f->libvirtd_silent_ms);
    f->facts_known = p->have_facts && p->facts_ok && f->libvirtd_responsive;
    /* now, not at the last refresh: a migration lasts seconds, a refresh is 10 s apart */
    f->migrations_out = ag_vm_ctl_migrations(p->a->vm, f->migration_dests,
                                             sizeof f->migration_dests);
}

int ag_place_libvirtd(const ag_place *p, uint64_t now_ms, uint32_t *silent_ms, uint64_t *waiting_ms)
{
    if (waiting_ms)
        *waiting_ms = p ? ag_lvwatch_waiting_ms(&p->lv, now_ms) : 0;
    if (!p) {
        if (silent_ms)
            *silent_ms = 0;
        return 1;
    }
    return ag_lvwatch_judge(&p->lv, now_ms, AG_LIBVIRTD_TIMEOUT_MS, silent_ms);
}

/* ---- the three commands ---- */

static void read_vm(place_job *j, hv_conn **c, hv_vm *vm)
{
    hv_err err = {0};
    if (get_conn(j->p, c, &err) != HV_OK) {
        fail(j, AG_EX_ERROR, "libvirt is unreachable on this host (%s): %s; this command "
             "reads the VM's definition from the local libvirtd: check that it runs "
             "(systemctl status libvirtd) and that [libvirt] uri is right", j->p->uri, err.msg);
        return;
    }
    int rc = hv_vm_get(*c, j->vm, vm, &err);
    /* disk sizes only matter for the space a copy needs; without them the checks that
     * use them stay silent, so a failure here is not the command's failure */
    if (rc == HV_OK && hv_vm_disk_sizes(*c, vm, &err) != HV_OK)
        ag_debug("place: sizes of VM %s's disks unknown: %s", j->vm, err.msg);
    if (rc == HV_ENOTFOUND)
        fail(j, AG_EX_NOSUCH, "no VM named '%s' is defined on this host (see drover vm list); "
             "run the command on the host that runs it", j->vm);
    else if (rc != HV_OK)
        fail(j, AG_EX_ERROR, "reading VM '%s' from libvirt failed: %s", j->vm, err.msg);
}

static char *render(size_t (*fn)(const plc_view *, uint32_t, uint32_t, const plc_report *,
                                 char *, size_t),
                    const plc_view *v, uint32_t vm, uint32_t host, const plc_report *r)
{
    char *buf = malloc(PLACE_OUT_MAX);
    if (buf)
        fn(v, vm, host, r, buf, PLACE_OUT_MAX);
    return buf;
}

/* Read the VM this job is about from libvirt and add it to the job's view (placed on this
 * host when it runs here). NULL with j->code/j->err set on failure. */
static ag_view *view_with_vm(place_job *j)
{
    hv_conn *c;
    hv_vm vm;
    read_vm(j, &c, &vm);
    if (j->code)
        return NULL;
    ag_view *v = j->view;
    bool here = vm.state == HV_VM_RUNNING || vm.state == HV_VM_PAUSED;
    if (ag_view_add_vm(v, &vm, here ? v->self : -1, j->err, sizeof j->err) != 0) {
        j->code = AG_EX_ERROR;
        return NULL;
    }
    return v;
}

/* The migration URI names the destination by its published migration address: a name
 * that does not resolve here is found before libvirt fails mid-migration with a less
 * helpful message. Blocking (DNS): workers only. */
static void resolve_host(ag_view *v, uint32_t i)
{
    const char *addr = v->aux[i].migration_addr;
    struct addrinfo *ai = NULL;
    if (addr[0] && getaddrinfo(addr, NULL, NULL, &ai) != 0)
        v->hosts[i].name_resolves = false;
    if (ai)
        freeaddrinfo(ai);
}

static void check_work(void *ud)
{
    place_job *j = ud;
    ag_view *v = view_with_vm(j);
    if (!v)
        return;
    resolve_host(v, (uint32_t)j->host);
    plc_report rep;
    if (plc_check(&v->pv, 0, (uint32_t)j->host, &rep) != 0) {
        fail(j, AG_EX_SOFTWARE, "placement refused the view of VM '%s' (a bug)", j->vm);
        return;
    }
    j->blocked = rep.n_blocking > 0;
    j->text = render(plc_format_report, &v->pv, 0, (uint32_t)j->host, &rep);
    j->json = render(plc_format_report_json, &v->pv, 0, (uint32_t)j->host, &rep);
}

static void place_work(void *ud)
{
    place_job *j = ud;
    ag_view *v = view_with_vm(j);
    if (!v)
        return;
    /* every other host's name, until the budget is spent: a broken resolver must not
     * make a ranking take minutes (hosts not tried are taken as resolving) */
    uint64_t t0 = ag_now_ms();
    for (uint32_t i = 0; i < v->pv.n_hosts && ag_now_ms() - t0 < AG_PLACE_RESOLVE_BUDGET_MS; i++)
        if ((int32_t)i != v->self)
            resolve_host(v, i);
    plc_ranking rk;
    if (plc_rank(&v->pv, 0, &rk) != 0) {
        fail(j, AG_EX_OSERR, "ranking hosts for VM '%s' failed (out of memory)", j->vm);
        return;
    }
    j->blocked = rk.n_candidates == 0;
    j->text = malloc(PLACE_OUT_MAX);
    j->json = malloc(PLACE_OUT_MAX);
    if (j->text)
        plc_format_ranking(&v->pv, &rk, j->text, PLACE_OUT_MAX);
    if (j->json)
        plc_format_ranking_json(&v->pv, &rk, j->json, PLACE_OUT_MAX);
    plc_ranking_free(&rk);
}

static void baseline_work(void *ud)
{
    place_job *j = ud;
    ag_view *v = j->view;
    uint32_t idx[AG_VIEW_HOSTS_MAX], n = 0;
    const char *xmls[AG_VIEW_HOSTS_MAX];
    for (uint32_t i = 0; i < v->pv.n_hosts; i++)
        if (v->aux[i].features[0] && v->hosts[i].health != PLC_HEALTH_DOWN)
            idx[n++] = i;
    if (n == 0) {
        fail(j, AG_EX_UNAVAILABLE, "no live host publishes its CPU features yet: libvirt is "
             "unreachable on every host or their records are not here yet (drover members "
             "shows libvirtd_responsive)");
        return;
    }
    plc_baseline b;
    int rc = plc_cpu_baseline(&v->pv, idx, n, NULL, 0, &b);
    if (rc == -EDOM) {
        fail(j, AG_EX_UNSAFE, "the hosts mix CPU vendors, so no CPU runs on all of them and "
             "live migration between vendors is impossible; baseline each vendor's hosts "
             "separately");
        return;
    } else if (rc != 0) {
        fail(j, AG_EX_SOFTWARE, "CPU baseline failed (a bug)");
        return;
    }
    /* JSON by hand: names come from gossip records and are plain identifiers, but quote
     * them through json_dumps-safe characters only */
    size_t cap = PLACE_OUT_MAX, off = 0;
    j->json = malloc(cap);
    if (!j->json)
        return;
    off += (size_t)snprintf(j->json + off, cap - off, "{\"vendor\":\"%s\",\"hosts\":[", b.vendor);
    for (uint32_t k = 0; k < n; k++)
        off += (size_t)snprintf(j->json + off, cap - off, "%s\"%s\"", k ? "," : "",
                                v->hosts[idx[k]].name);
    off += (size_t)snprintf(j->json + off, cap - off, "],\"skipped\":[");
    bool first = true;
    for (uint32_t i = 0; i < v->pv.n_hosts; i++)
        if (!v->aux[i].features[0] || v->hosts[i].health == PLC_HEALTH_DOWN) {
            off += (size_t)snprintf(j->json + off, cap - off, "%s\"%s\"", first ? "" : ",",
                                    v->hosts[i].name);
            first = false;
        }
    off += (size_t)snprintf(j->json + off, cap - off, "],\"features\":[");
    first = true;
    const plc_table *ft = &v->pv.tables[PLC_T_FEATURE];
    for (uint32_t f = 0; f < ft->n; f++)
        if (plc_set_has(&b.features, f)) {
            off += (size_t)snprintf(j->json + off, cap - off, "%s\"%s\"", first ? "" : ",",
                                    ft->name[f]);
            first = false;
        }
    if (off < cap)
        snprintf(j->json + off, cap - off, "]}");
    /* libvirt's own baseline picks the named model; without it we still have the set */
    hv_conn *c;
    hv_err err = {0};
    char *xml = NULL;
    uint32_t nx = 0;
    if (j->lv_silent_ms) {   /* asking would hold this worker for as long as it hangs */
        snprintf(j->libvirt_note, sizeof j->libvirt_note, "libvirtd at %s has not answered "
                 "for %u s; no named model without it", j->p->uri, (j->lv_silent_ms + 500) / 1000);
        return;
    }
    for (uint32_t k = 0; k < n; k++)
        if ((xmls[nx] = ag_view_cpu_xml(v, idx[k])) != NULL)
            nx++;
    if (get_conn(j->p, &c, &err) != HV_OK || hv_cpu_baseline(c, xmls, nx, &xml, &err) != HV_OK)
        snprintf(j->libvirt_note, sizeof j->libvirt_note, "%.400s", err.msg);
    else
        j->text = xml;
    for (uint32_t k = 0; k < nx; k++)
        free((void *)xmls[k]);
}

static void reply(place_job *j);

static void job_done(ag_loop *l, void *ud)
{
    place_job *j = ud;
    ag_place *p = j->p;
    (void)l;
    if (j->req)
        reply(j);
    job_free(j);
    job_finished(p);
}

static void reply(place_job *j)
{
    if (j->code) {
        ag_ctl_finish(j->req, j->code, NULL, "%s", j->err);
        return;
    }
    json_error_t je;
    json_t *body = j->json ? json_loads(j->json, 0, &je) : NULL;
    if (!body) {
        ag_ctl_finish(j->req, AG_EX_SOFTWARE, NULL, "could not render the answer (%s)",
                      j->json ? je.text : "out of memory");
        return;
    }
    json_t *r = json_pack("{s:o, s:b, s:i}", "result", body, "blocked", j->blocked,
                          "hosts_without_record", (int)j->view->n_skipped);
    if (j->kind == JOB_BASELINE) {
        json_object_set_new(r, "cpu_xml", j->text ? json_string(j->text) : json_null());
        if (j->libvirt_note[0])
            json_object_set_new(r, "libvirt_error", json_string(j->libvirt_note));
    } else {
        json_object_set_new(r, "text", json_string(j->text ? j->text : ""));
    }
    ag_ctl_finish(j->req, AG_EX_OK, r, NULL);
}

static void start(ag_ctl_req *req, json_t *args, ag_place *p, enum job_kind kind)
{
    place_job *j = calloc(1, sizeof *j);
    if (j)
        j->view = malloc(sizeof *j->view);
    if (!j || !j->view) {
        free(j);
        ag_ctl_finish(req, AG_EX_OSERR, NULL, "out of memory");
        return;
    }
    j->p = p;
    j->req = req;
    j->kind = kind;
    if (ag_view_from_gossip(j->view, p->a) != 0) {
        ag_ctl_finish(req, AG_EX_UNAVAILABLE, NULL, "this agent runs without a cluster (no "
                      "[cluster] roster configured), so it has no hosts to place on");
        job_free(j);
        return;
    }
    const char *vm = json_string_value(json_object_get(args, "vm"));
    const char *host = json_string_value(json_object_get(args, "host"));
    if (kind != JOB_BASELINE) {
        if (!vm || !vm[0] || strlen(vm) >= sizeof j->vm) {
            ag_ctl_finish(req, AG_EX_INVALID, NULL, "a VM name is needed (at most %d bytes)",
                          (int)sizeof j->vm - 1);
            job_free(j);
            return;
        }
        snprintf(j->vm, sizeof j->vm, "%s", vm);
    }
    /* copying local disks is slow and needs space: considered only when asked, as
     * `drover vm migrate --storage` must be asked for */
    j->view->pv.cfg.allow_storage_migration = json_is_true(json_object_get(args, "storage"));
    if (kind == JOB_CHECK) {
        j->host = host ? plc_view_find_host(&j->view->pv, host) : -1;
        if (j->host < 0) {
            ag_ctl_finish(req, AG_EX_NOSUCH, NULL, "no host named '%s' has a status record "
                          "here (drover members lists the hosts and their records)",
                          host ? host : "");
            job_free(j);
            return;
        }
    }
    /* A hung libvirtd (the facts probe's question out past the timeout) would hold the
     * worker for as long as it hangs, and each retry of the command another one: say so
     * now instead. One that refuses connections answers that at once: ask it. */
    uint64_t waiting = ag_lvwatch_waiting_ms(&p->lv, ag_now_ms());
    if (waiting >= AG_LIBVIRTD_TIMEOUT_MS) {
        uint32_t s = waiting > UINT32_MAX ? UINT32_MAX : (uint32_t)waiting;
        if (kind != JOB_BASELINE) {
            ag_ctl_finish(req, AG_EX_ERROR, NULL, "libvirtd at %s has not answered for %u s; "
                          "this command reads the VM's definition from it: check that it "
                          "runs and answers (systemctl status libvirtd, virsh version)",
                          p->uri, (s + 500) / 1000);
            job_free(j);
            return;
        }
        j->lv_silent_ms = s;
    }
    ag_work_fn work = kind == JOB_CHECK ? check_work : kind == JOB_PLACE ? place_work
                                                                         : baseline_work;
    ag_ctl_on_close(req, job_closed, j);
    p->in_flight++;
    if (ag_loop_submit(p->a->loop, work, job_done, j) != 0) {
        p->in_flight--;
        ag_ctl_finish(req, AG_EX_TEMPFAIL, NULL, "agent busy: too many requests queued; retry");
        job_free(j);
    }
}

/* ---- admission control ---- */

static void warn(json_t *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(json_t *w, const char *fmt, ...)
{
    char buf[PLC_REASON_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    json_array_append_new(w, json_string(buf));
}

static void prot_vm(plc_vm *o, const char *name, uint64_t mem_mib, uint32_t vcpus,
                    int32_t priority, int32_t host)
{
    plc_vm_init(o);
    snprintf(o->name, sizeof o->name, "%.*s", PLC_NAME_MAX - 1, name);
    o->host = host;
    o->mem_mib = mem_mib;
    o->vcpus = vcpus;
    o->priority = priority;
    o->protected_ = true;
}

int ag_place_admission_in(ag_view *v, const char *vm, uint64_t mem_mib, uint32_t vcpus,
                          int32_t priority, const char *host, const ag_place_prot *prot,
                          size_t n_prot, json_t *w)
{
    if (!vm || !vm[0]) {
        warn(w, "no VM name given");
        return AG_EX_INVALID;
    }
    if (n_prot > UINT32_MAX - 1 - AG_VIEW_HOSTS_MAX)
        return AG_EX_OSERR;
    uint32_t cap = (uint32_t)n_prot + 1 + v->pv.n_hosts, n = 0;
    plc_vm *vms = calloc(cap, sizeof *vms);
    if (!vms)
        return AG_EX_OSERR;
    int rc = AG_EX_OK;
    for (size_t i = 0; i < n_prot; i++) {
        if (!prot[i].name || !strcmp(prot[i].name, vm))
            continue;   /* VM itself comes last, with the figures asked about */
        int32_t h = prot[i].host && prot[i].host[0] ? plc_view_find_host(&v->pv, prot[i].host)
                                                    : -1;
        if (h < 0 && prot[i].host && prot[i].host[0])
            warn(w, "protected VM %s runs on %s, which has no status record here: its "
                 "restart is not part of this check", prot[i].name, prot[i].host);
        prot_vm(&vms[n++], prot[i].name, prot[i].mem_mib, prot[i].vcpus, prot[i].priority, h);
    }
    int32_t h = host && host[0] ? plc_view_find_host(&v->pv, host) : v->self;
    if (h < 0) {
        warn(w, "%s runs on %s, which has no status record here: nothing to check yet",
             vm, host && host[0] ? host : "this host");
        goto out;
    }
    uint32_t idx = n;
    prot_vm(&vms[n++], vm, mem_mib, vcpus, priority, h);
    vms[idx].protected_ = false;   /* plc_admit_protect compares without and with it */
    if (ag_view_set_vms(v, vms, n, cap) != 0) {
        rc = AG_EX_SOFTWARE;
        goto out;
    }
    if (v->n_skipped)
        warn(w, "%u member(s) have no status record here: their capacity is not counted",
             v->n_skipped);
    uint32_t k = v->pv.cfg.host_failures_to_tolerate;
    plc_verdict verdict;
    char reason[PLC_REASON_MAX * 2];
    if (plc_admit_protect(&v->pv, idx, &verdict, reason, sizeof reason) != 0) {
        rc = AG_EX_OSERR;
        goto out;
    }
    /* The refusal goes first: a caller quoting one warning quotes the reason. Its text
     * is placement's without the "protecting VM would break failover: " lead-in, which
     * the caller's own message already says. */
    const char *why = strstr(reason, "failover: ");
    switch (verdict) {
    case PLC_ADMIT_OK:
        break;
    case PLC_ADMIT_WARN:
    case PLC_ADMIT_UNKNOWN:
        warn(w, "%s (host failures to tolerate: %u)", reason, k);
        break;
    case PLC_ADMIT_REFUSE:
        warn(w, "%s (host failures to tolerate: %u)", why ? why + 10 : reason, k);
        json_array_insert(w, 0, json_array_get(w, json_array_size(w) - 1));
        json_array_remove(w, json_array_size(w) - 1);
        rc = AG_EX_UNSAFE;
        break;
    }
out:
    /* the view must not keep pointing at memory freed here */
    v->pv.vms = NULL;
    v->pv.n_vms = 0;
    free(vms);
    return rc;
}

int ag_place_admission(ag_agent *a, const char *vm, uint64_t mem_mib, uint32_t vcpus,
                       int32_t priority, const char *host, const ag_place_prot *prot,
                       size_t n_prot, json_t **warnings)
{
    json_t *w = json_array();
    if (warnings)
        *warnings = w;
    if (!w)
        return AG_EX_OSERR;
    int rc;
    ag_view *v = malloc(sizeof *v);
    if (!v) {
        rc = AG_EX_OSERR;
    } else if (ag_view_from_gossip(v, a) != 0) {
        warn(w, "this agent runs without a cluster, so no host could restart %s",
             vm ? vm : "it");
        rc = AG_EX_UNAVAILABLE;
    } else {
        v->pv.cfg.host_failures_to_tolerate = AG_PLACE_TOLERATE_DEFAULT;
        rc = ag_place_admission_in(v, vm, mem_mib, vcpus, priority, host, prot, n_prot, w);
    }
    free(v);
    if (!warnings)
        json_decref(w);
    return rc;
}

static void on_baseline(ag_ctl_req *req, json_t *args, void *ud) { start(req, args, ud, JOB_BASELINE); }
static void on_check(ag_ctl_req *req, json_t *args, void *ud) { start(req, args, ud, JOB_CHECK); }
static void on_place(ag_ctl_req *req, json_t *args, void *ud) { start(req, args, ud, JOB_PLACE); }

int ag_place_init(ag_agent *a, ag_place **out)
{
    ag_place *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -ENOMEM;
    p->a = a;
    snprintf(p->uri, sizeof p->uri, "%s",
             a->cfg.libvirt_uri[0] ? a->cfg.libvirt_uri : "qemu:///system");
    pthread_mutex_init(&p->mu, NULL);
    ag_ctl_register(a->ctl, "cpu.baseline", on_baseline, p);
    ag_ctl_register(a->ctl, "check.migrate", on_check, p);
    ag_ctl_register(a->ctl, "place", on_place, p);
    p->answering = -1;
    on_facts_timer(a->loop, 0, p);   /* the first record should carry them soon */
    p->timer = ag_loop_timer(a->loop, AG_PLACE_TICK_MS, AG_PLACE_TICK_MS, on_facts_timer, p);
    *out = p;
    return 0;
}

void ag_place_free(ag_place *p)
{
    if (p == NULL)
        return;
    if (p->timer)
        ag_loop_cancel(p->a->loop, p->timer);
    /* a worker may still be inside libvirt with our connection: the last job's done
     * function frees us (if the loop stops first, p is left to process exit) */
    if (p->in_flight)
        p->closing = true;
    else
        place_destroy(p);
}

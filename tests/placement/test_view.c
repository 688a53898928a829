/* The agent's placement view (agent/view.c) and admission control over it
 * (agent/ctl_place.c ag_place_admission_in), on views built by hand: which host a
 * migration destination names, incoming migrations counted from the others' records,
 * memory and vCPUs of listed VMs not counted twice, and the admission verdicts with the
 * warnings an operator sees; records whose facts are unknown (a hung libvirtd) give no
 * finding the HA agent would take for "this VM can never run there". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ctl_place.h"
#include "exitcodes.h"
#include "hoststatus.h"
#include "view.h"

/* n hosts h1..hn of 64 GiB / 16 threads, alive and active. */
static ag_view *view_new(uint32_t n)
{
    ag_view *v = calloc(1, sizeof *v);
    assert_non_null(v);
    plc_view_init(&v->pv);
    v->pv.hosts = v->hosts;
    v->pv.n_hosts = n;
    v->self = -1;
    for (uint32_t i = 0; i < n; i++) {
        plc_host_init(&v->hosts[i]);
        snprintf(v->hosts[i].name, sizeof v->hosts[i].name, "h%u", i + 1);
        v->hosts[i].mem_mib = 65536;
        v->hosts[i].cpus = 16;
        v->aux[i].has_status = true;
    }
    return v;
}

static void dest_names_a_host(void **state)
{
    (void)state;
    ag_view *v = view_new(3);
    snprintf(v->aux[1].migration_addr, sizeof v->aux[1].migration_addr, "h2.lab");
    snprintf(v->aux[2].cluster_addr, sizeof v->aux[2].cluster_addr, "tcp://10.0.0.3:7370");
    snprintf(v->aux[0].cluster_addr, sizeof v->aux[0].cluster_addr, "tcp://[fd00::1]:7370");
    assert_int_equal(ag_view_host_of_dest(v, "h1"), 0);
    assert_int_equal(ag_view_host_of_dest(v, "qemu+tcp://h2.lab/system"), 1);
    assert_int_equal(ag_view_host_of_dest(v, "h2.lab:16509"), 1);
    assert_int_equal(ag_view_host_of_dest(v, "10.0.0.3"), 2);
    assert_int_equal(ag_view_host_of_dest(v, "qemu+ssh://root@10.0.0.3:22/system"), 2);
    assert_int_equal(ag_view_host_of_dest(v, "qemu+tcp://[fd00::1]/system"), 0);
    assert_int_equal(ag_view_host_of_dest(v, "fd00::1"), 0);
    assert_int_equal(ag_view_host_of_dest(v, "10.0.0.33"), -1);
    assert_int_equal(ag_view_host_of_dest(v, "qemu:///system"), -1);
    assert_int_equal(ag_view_host_of_dest(v, ""), -1);
    free(v);
}

static void incoming_counted_from_senders(void **state)
{
    (void)state;
    ag_view *v = view_new(3);
    snprintf(v->aux[1].migration_addr, sizeof v->aux[1].migration_addr, "h2.lab");
    snprintf(v->aux[2].cluster_addr, sizeof v->aux[2].cluster_addr, "tcp://10.0.0.3:7370");
    v->hosts[0].migrations_out = 3;
    snprintf(v->aux[0].migration_dests, sizeof v->aux[0].migration_dests,
             "10.0.0.3,qemu+tcp://h2.lab/system,nowhere.example");
    v->hosts[1].migrations_out = 2;
    snprintf(v->aux[1].migration_dests, sizeof v->aux[1].migration_dests, "h1,h2");
    v->hosts[2].migrations_in = 7;   /* stale: recounted from scratch */
    ag_view_count_incoming(v);
    assert_int_equal(v->hosts[0].migrations_in, 1);
    assert_int_equal(v->hosts[1].migrations_in, 1);   /* h2 -> h2 is no migration */
    assert_int_equal(v->hosts[2].migrations_in, 1);
    free(v);
}

static void listed_vms_not_counted_twice(void **state)
{
    (void)state;
    ag_view *v = view_new(3);
    v->hosts[0].mem_reserved_mib = 40000;   /* total - free: the VMs below and more */
    v->aux[0].vcpus_used = 10;
    v->hosts[1].mem_reserved_mib = 1000;    /* less than its VM (not yet faulted in) */
    v->hosts[2].mem_reserved_mib = 500;
    v->aux[2].vcpus_used = 3;
    plc_vm vms[3 + 3];
    for (int i = 0; i < 3; i++) {
        plc_vm_init(&vms[i]);
        snprintf(vms[i].name, sizeof vms[i].name, "vm%d", i);
        vms[i].mem_mib = i < 2 ? 8192 : 4096;
        vms[i].vcpus = 4;
        vms[i].host = i < 2 ? 0 : 1;
    }
    assert_int_equal(ag_view_set_vms(v, vms, 3, 5), -ENOSPC);
    assert_int_equal(ag_view_set_vms(v, vms, 3, 6), 0);
    assert_int_equal(v->hosts[0].mem_reserved_mib, 40000 - 16384);
    assert_int_equal(v->hosts[1].mem_reserved_mib, 0);
    assert_int_equal(v->hosts[2].mem_reserved_mib, 500);
    /* stand-ins carry the vCPUs of what is not listed: h1 10 - 8, h3 all 3, h2 none */
    assert_int_equal(v->pv.n_vms, 5);
    assert_string_equal(vms[3].name, "~others@h1");
    assert_int_equal(vms[3].vcpus, 2);
    assert_int_equal(vms[3].mem_mib, 0);
    assert_false(vms[3].migratable);
    assert_string_equal(vms[4].name, "~others@h3");
    assert_int_equal(vms[4].vcpus, 3);
    assert_int_equal(plc_view_check(&v->pv, NULL, 0), 0);
    free(v);
}

static const char *warning(json_t *w, size_t i)
{
    return json_string_value(json_array_get(w, i));
}

/* Three hosts, each running one 32 GiB protected VM (the records count its memory). */
static ag_view *cluster_of_three(void)
{
    ag_view *v = view_new(3);
    for (int i = 0; i < 3; i++)
        v->hosts[i].mem_reserved_mib = 32768;
    v->pv.cfg.host_failures_to_tolerate = 1;
    v->self = 2;
    return v;
}

static const ag_place_prot three[] = {
    {.name = "a", .mem_mib = 32768, .vcpus = 4, .host = "h1", .priority = 0},
    {.name = "b", .mem_mib = 32768, .vcpus = 4, .host = "h2", .priority = 0},
    {.name = "c", .mem_mib = 32768, .vcpus = 4, .host = "h3", .priority = 0},
};

static void admission_ok_and_refused(void **state)
{
    (void)state;
    /* c joins a and b: after any one failure, its 32 GiB VM fits one survivor's 32 GiB */
    ag_view *v = cluster_of_three();
    json_t *w = json_array();
    assert_int_equal(ag_place_admission_in(v, "c", 32768, 4, 0, "h3", three, 2, w), AG_EX_OK);
    assert_int_equal(json_array_size(w), 0);
    assert_null(v->pv.vms);   /* the view does not point at freed VMs */
    free(v);
    json_decref(w);
    /* d, 40 GiB on h3 (this host: host NULL), fits no survivor's 32 GiB if h3 fails */
    v = cluster_of_three();
    v->hosts[2].mem_reserved_mib = 40960;
    w = json_array();
    assert_int_equal(ag_place_admission_in(v, "d", 40960, 2, 0, NULL, three, 2, w),
                     AG_EX_UNSAFE);
    assert_int_equal(json_array_size(w), 1);
    assert_string_equal(warning(w, 0), "if h3 fails, VM d cannot restart (capacity.memory) "
                                       "(host failures to tolerate: 1)");
    free(v);
    json_decref(w);
}

static void admission_warns(void **state)
{
    (void)state;
    /* already broken before (a 48 GiB VM fits nowhere else): a warning, not a refusal;
     * re-protecting c replaces its entry; a VM on an unknown host is named */
    ag_view *v = cluster_of_three();
    v->hosts[0].mem_reserved_mib = 49152;
    ag_place_prot list[] = {
        {.name = "a", .mem_mib = 49152, .vcpus = 4, .host = "h1"},
        {.name = "c", .mem_mib = 99999, .vcpus = 4, .host = "h3"},
        {.name = "z", .mem_mib = 1024, .vcpus = 1, .host = "h9"},
    };
    json_t *w = json_array();
    assert_int_equal(ag_place_admission_in(v, "c", 4096, 1, 5, "h3", list, 3, w), AG_EX_OK);
    assert_int_equal(json_array_size(w), 2);
    assert_non_null(strstr(warning(w, 0), "protected VM z runs on h9"));
    assert_string_equal(warning(w, 1), "already not guaranteed before protecting c: if h1 "
                                       "fails, VM a cannot restart (capacity.memory) (host "
                                       "failures to tolerate: 1)");
    json_decref(w);
    free(v);
    /* a refusal is listed first even when other warnings came before it */
    v = cluster_of_three();
    v->hosts[2].mem_reserved_mib = 40960;
    v->n_skipped = 1;
    w = json_array();
    assert_int_equal(ag_place_admission_in(v, "d", 40960, 2, 0, "h3", list + 2, 1, w),
                     AG_EX_UNSAFE);
    assert_int_equal(json_array_size(w), 3);
    assert_non_null(strstr(warning(w, 0), "if h3 fails, VM d cannot restart"));
    assert_non_null(strstr(warning(w, 1), "protected VM z runs on h9"));
    assert_non_null(strstr(warning(w, 2), "1 member(s) have no status record"));
    free(v);
    json_decref(w);
    /* no record for this host yet, members without records, no name */
    v = cluster_of_three();
    v->self = -1;
    w = json_array();
    assert_int_equal(ag_place_admission_in(v, "c", 4096, 1, 0, NULL, NULL, 0, w), AG_EX_OK);
    assert_non_null(strstr(warning(w, 0), "nothing to check yet"));
    v->self = 0;
    v->n_skipped = 2;
    assert_int_equal(ag_place_admission_in(v, "c", 4096, 1, 0, NULL, NULL, 0, w), AG_EX_OK);
    assert_non_null(strstr(warning(w, 1), "2 member(s) have no status record"));
    assert_int_equal(ag_place_admission_in(v, "", 4096, 1, 0, NULL, NULL, 0, w),
                     AG_EX_INVALID);
    free(v);
    json_decref(w);
}

/* ---- records whose facts are unknown (issue 11, 3c) ---- */

/* A signed-then-decoded record of f, as a peer would read it. */
static Drover__HostStatus *record_of(const ag_host_facts *f)
{
    static ag_identity id;
    if (id.host_id[0] == 0 && id.host_id[1] == 0) {
        crypto_sign_keypair(id.sign_pk, id.sign_sk);
        memcpy(id.host_id, id.sign_pk, AG_HOST_ID_LEN);
    }
    uint8_t *rec;
    size_t len;
    assert_int_equal(ag_status_make(&id, 1, 0, f, &rec, &len, NULL), 0);
    Drover__SignedHostStatus *sg = drover__signed_host_status__unpack(NULL, len, rec);
    assert_non_null(sg);
    Drover__HostStatus *st = drover__host_status__unpack(NULL, sg->body.len, sg->body.data);
    assert_non_null(st);
    drover__signed_host_status__free_unpacked(sg, NULL);
    free(rec);
    return st;
}

/* A host whose libvirtd answered: Intel, two features, shared pool "nfs", network br0. */
static void facts_known(ag_host_facts *f)
{
    memset(f, 0, sizeof *f);
    f->nic_probed = 1;
    f->facts_known = 1;
    f->libvirtd_responsive = 1;
    snprintf(f->libvirt_version, sizeof f->libvirt_version, "9.0.0");
    snprintf(f->qemu_version, sizeof f->qemu_version, "7.2.0");
    snprintf(f->cpu_vendor, sizeof f->cpu_vendor, "Intel");
    snprintf(f->cpu_model, sizeof f->cpu_model, "Skylake-Client");
    snprintf(f->cpu_features, sizeof f->cpu_features, "avx2,aes");
    snprintf(f->storage_ids, sizeof f->storage_ids, "nfs");
    snprintf(f->networks, sizeof f->networks, "br0");
}

/* Codes agent/ha_fence.c (static_block) turns into "VM can never run on HOST". */
static bool standing(const char *code)
{
    static const char *const codes[] = {"cpu.", "device.", "network.missing",
                                        "storage.not_shared", "storage.copy_needed",
                                        "version.libvirt", "version.qemu"};
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
        if (strncmp(code, codes[i], strlen(codes[i])) == 0)
            return true;
    return false;
}

/* h1 runs web1 (host-model, a disk on nfs, a NIC on br0); h2 is as h1; h3 publishes
 * the record in *f3. Every check of web1 against h3, live and as a restart, the way
 * ha_fence.c's compute_constraints makes them. */
static ag_view *view_with_h3(const ag_host_facts *f3)
{
    ag_view *v = calloc(1, sizeof *v);
    assert_non_null(v);
    plc_view_init(&v->pv);
    v->pv.hosts = v->hosts;
    v->self = -1;
    static ag_host_facts f;
    facts_known(&f);
    const ag_host_facts *facts[3] = {&f, &f, f3};
    for (int i = 0; i < 3; i++) {
        char name[8];
        snprintf(name, sizeof name, "h%d", i + 1);
        Drover__HostStatus *st = record_of(facts[i]);
        assert_int_equal(ag_view_add_record(v, name, NULL, NULL, PLC_HEALTH_OK, st), i);
        drover__host_status__free_unpacked(st, NULL);
    }
    v->self = 0;
    static hv_vm vm;
    memset(&vm, 0, sizeof vm);
    snprintf(vm.name, sizeof vm.name, "web1");
    vm.state = HV_VM_RUNNING;
    vm.mem_kib = 1024 * 1024;
    vm.vcpus = 1;
    snprintf(vm.cpu_mode, sizeof vm.cpu_mode, "host-model");
    vm.n_disks = 1;
    vm.disks[0].shared = true;
    snprintf(vm.disks[0].storage_id, sizeof vm.disks[0].storage_id, "nfs");
    vm.n_nics = 1;
    snprintf(vm.nics[0].bridge, sizeof vm.nics[0].bridge, "br0");
    char err[160];
    assert_int_equal(ag_view_add_vm(v, &vm, 0, err, sizeof err), 0);
    return v;
}

/* The findings of web1 -> h3 for kind; *unknown gets the facts_unknown reason or "". */
static uint32_t standing_findings(const ag_view *v, plc_kind kind, char *unknown, size_t cap)
{
    plc_report rep;
    assert_int_equal(plc_check_kind(&v->pv, kind, 0, 2, &rep), 0);
    uint32_t n = 0;
    unknown[0] = 0;
    for (uint32_t i = 0; i < rep.n; i++) {
        if (rep.items[i].blocking && standing(rep.items[i].code)) {
            printf("  standing: %s: %s\n", rep.items[i].code, rep.items[i].reason);
            n++;
        }
        if (!strcmp(rep.items[i].code, "host.facts_unknown"))
            snprintf(unknown, cap, "%s", rep.items[i].reason);
    }
    return n;
}

static void unknown_facts_make_no_standing_constraint(void **state)
{
    (void)state;
    char why[PLC_REASON_MAX];
    /* libvirtd on h3 hung: the record keeps its last reading, marked unknown */
    static ag_host_facts f;
    facts_known(&f);
    f.facts_known = 0;
    f.libvirtd_responsive = 0;
    f.libvirtd_silent_ms = 12000;
    ag_view *v = view_with_h3(&f);
    assert_true(v->hosts[2].facts_unknown);
    assert_int_equal(v->hosts[2].health, PLC_HEALTH_DEGRADED);   /* not a destination now */
    assert_int_equal(v->aux[2].features[0], 0);   /* baseline skips it */
    for (int kind = 0; kind < 2; kind++) {
        plc_kind k = kind ? PLC_KIND_RESTART : PLC_KIND_MIGRATE;
        assert_int_equal(standing_findings(v, k, why, sizeof why), 0);
        assert_non_null(strstr(why, "host h3's facts are unknown"));
        assert_non_null(strstr(why, "its libvirtd does not answer"));
    }
    free(v);
    /* never read since h3's agent started: empty facts, still unknown, not "libvirt
     * 0.0.0" and "lacks CPU features" */
    memset(&f, 0, sizeof f);
    f.nic_probed = 1;
    f.libvirtd_responsive = 0;
    f.libvirtd_silent_ms = 6000;
    /* what /proc/cpuinfo says on an Intel host (the vendor is always known) */
    snprintf(f.cpu_vendor, sizeof f.cpu_vendor, "GenuineIntel");
    v = view_with_h3(&f);
    assert_int_equal(standing_findings(v, PLC_KIND_MIGRATE, why, sizeof why), 0);
    assert_non_null(strstr(why, "cannot check CPU, storage, networks, libvirt/QEMU versions"));
    assert_int_equal(standing_findings(v, PLC_KIND_RESTART, why, sizeof why), 0);
    assert_non_null(strstr(why, "cannot check storage, networks"));
    free(v);
    /* an agent from before the flag: empty facts with libvirtd not responsive read the
     * same way */
    Drover__HostStatus *st = record_of(&f);
    st->facts_unknown = false;
    assert_true(ag_status_facts_unknown(st));
    st->health->libvirtd_responsive = true;
    assert_false(ag_status_facts_unknown(st));
    drover__host_status__free_unpacked(st, NULL);
    /* and facts that are known still count: h3 really lacks aes, br0 and libvirt 9 */
    facts_known(&f);
    snprintf(f.cpu_features, sizeof f.cpu_features, "avx2");
    snprintf(f.networks, sizeof f.networks, "br1");
    snprintf(f.libvirt_version, sizeof f.libvirt_version, "8.0.0");
    v = view_with_h3(&f);
    assert_false(v->hosts[2].facts_unknown);
    assert_int_equal(standing_findings(v, PLC_KIND_MIGRATE, why, sizeof why), 3);
    assert_string_equal(why, "");
    free(v);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest t[] = {
        cmocka_unit_test(unknown_facts_make_no_standing_constraint),
        cmocka_unit_test(dest_names_a_host),
        cmocka_unit_test(incoming_counted_from_senders),
        cmocka_unit_test(listed_vms_not_counted_twice),
        cmocka_unit_test(admission_ok_and_refused),
        cmocka_unit_test(admission_warns),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}

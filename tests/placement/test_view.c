/* The agent's placement view (agent/view.c) and admission control over it
 * (agent/ctl_place.c ag_place_admission_in), on views built by hand: which host a
 * migration destination names, incoming migrations counted from the others' records,
 * memory and vCPUs of listed VMs not counted twice, and the admission verdicts with the
 * warnings an operator sees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl_place.h"
#include "exitcodes.h"
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

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(dest_names_a_host),
        cmocka_unit_test(incoming_counted_from_senders),
        cmocka_unit_test(listed_vms_not_counted_twice),
        cmocka_unit_test(admission_ok_and_refused),
        cmocka_unit_test(admission_warns),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}

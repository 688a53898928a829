/* hv_fake_test — the fake adapter keeps the contract: moves obey the same refusals as
 * the libvirt implementation, a VM is never on two hosts, events fire. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "hv.h"

static const char *xml_bridge =
    "<domain type='kvm'><name>vm1</name><uuid>11111111-2222-4333-8444-555555555555</uuid>"
    "<memory unit='MiB'>64</memory><vcpu>1</vcpu><devices>"
    "<disk type='file' device='disk'><driver type='qcow2'/><source file='/nonexistent/vm1.qcow2'/>"
    "<target dev='vda'/></disk>"
    "<interface type='bridge'><source bridge='br7'/><mac address='52:54:00:00:00:01'/></interface>"
    "</devices></domain>";

typedef struct world {
    hv_fake_world *w;
    hv_conn *a, *b;
    int events;
} world;

static void add_host(hv_fake_world *w, const char *name, const char *bridges)
{
    hv_host h;
    memset(&h, 0, sizeof h);
    snprintf(h.hostname, sizeof h.hostname, "%s", name);
    snprintf(h.bridges, sizeof h.bridges, "%s", bridges);
    snprintf(h.cpu_features, sizeof h.cpu_features, "sse2,avx");
    h.mem_total_kib = h.mem_free_kib = 4u << 20;
    assert_int_equal(hv_fake_add_host(w, &h), HV_OK);
}

static void on_event(void *ctx, hv_event_kind kind, const char *vm, const char *uuid, int d)
{
    (void)kind, (void)vm, (void)uuid, (void)d;
    ((world *)ctx)->events++;
}

static int setup(void **state)
{
    static world wd;
    memset(&wd, 0, sizeof wd);
    wd.w = hv_fake_world_new();
    add_host(wd.w, "a", "br7");
    add_host(wd.w, "b", "br0");
    add_host(wd.w, "c", "br7");
    assert_int_equal(hv_open_fake(wd.w, "a", &wd.a, NULL), HV_OK);
    assert_int_equal(hv_open_fake(wd.w, "c", &wd.b, NULL), HV_OK);
    assert_int_equal(hv_events(wd.b, on_event, &wd, NULL), HV_OK);
    *state = &wd;
    return 0;
}

static int teardown(void **state)
{
    world *wd = *state;
    hv_close(wd->a);
    hv_close(wd->b);
    hv_fake_world_free(wd->w);
    return 0;
}

static void define_start(world *wd)
{
    hv_err e = {0};
    assert_int_equal(hv_vm_define(wd->a, xml_bridge, &e), HV_OK);
    assert_int_equal(hv_vm_start(wd->a, "vm1", &e), HV_OK);
}

static void test_refuse_missing_bridge(void **state)
{
    world *wd = *state;
    hv_err e = {0};
    hv_migrate_opts o;
    hv_vm vm;
    define_start(wd);
    hv_migrate_opts_default(&o);
    o.mode = HV_MOVE_STORAGE;   /* the disk is local: only the bridge can refuse */
    int rc = hv_migrate(wd->a, "vm1", "fake://b", NULL, &o, NULL, &e);
    assert_int_equal(rc, HV_EBRIDGE);
    assert_non_null(strstr(e.msg, "no bridge 'br7'"));
    assert_int_equal(hv_vm_get(wd->a, "vm1", &vm, NULL), HV_OK);
    assert_int_equal(vm.state, HV_VM_RUNNING);
}

static void test_refuse_local_disk_live(void **state)
{
    world *wd = *state;
    hv_err e = {0};
    define_start(wd);
    int rc = hv_migrate(wd->a, "vm1", "fake://c", NULL, NULL, NULL, &e);
    assert_int_equal(rc, HV_ENOTSHARED);
    assert_non_null(strstr(e.msg, "--storage"));
}

static void test_storage_move(void **state)
{
    world *wd = *state;
    hv_err e = {0};
    hv_migrate_opts o;
    hv_migrate_result r;
    hv_vm vm;
    define_start(wd);
    hv_migrate_opts_default(&o);
    o.mode = HV_MOVE_STORAGE;
    assert_int_equal(hv_migrate(wd->a, "vm1", "fake://c", NULL, &o, &r, &e), HV_OK);
    assert_int_equal(hv_vm_get(wd->a, "vm1", &vm, NULL), HV_ENOTFOUND);
    assert_int_equal(hv_vm_get(wd->b, "vm1", &vm, NULL), HV_OK);
    assert_int_equal(vm.state, HV_VM_RUNNING);
    assert_true(wd->events >= 1);
    /* a second move to a host that already has it is refused */
    assert_int_equal(hv_migrate(wd->b, "vm1", "fake://c", NULL, &o, &r, &e), HV_EEXIST);
}

static void test_down_host(void **state)
{
    world *wd = *state;
    hv_err e = {0};
    hv_migrate_opts o;
    define_start(wd);
    hv_migrate_opts_default(&o);
    o.mode = HV_MOVE_STORAGE;
    assert_int_equal(hv_fake_set_down(wd->w, "c", true), HV_OK);
    assert_int_equal(hv_migrate(wd->a, "vm1", "fake://c", NULL, &o, NULL, &e), HV_ENOCONN);
    hv_vm vm;
    assert_int_equal(hv_vm_get(wd->b, "vm1", &vm, &e), HV_ENOCONN);
    assert_int_equal(hv_vm_get(wd->a, "vm1", &vm, &e), HV_OK);
}

static void test_cold_needs_stopped(void **state)
{
    world *wd = *state;
    hv_err e = {0};
    hv_migrate_opts o;
    define_start(wd);
    hv_migrate_opts_default(&o);
    o.mode = HV_MOVE_COLD;
    assert_int_equal(hv_migrate(wd->a, "vm1", "fake://c", NULL, &o, NULL, &e), HV_ESTATE);
    assert_int_equal(hv_vm_destroy(wd->a, "vm1", &e), HV_OK);
    /* stopped, local disk: still refused for cold (disks must be shared) */
    assert_int_equal(hv_migrate(wd->a, "vm1", "fake://c", NULL, &o, NULL, &e), HV_ENOTSHARED);
}

static void test_parse_unmigratable(void **state)
{
    world *wd = *state;
    hv_err e = {0};
    hv_vm vm;
    const char *xml =
        "<domain><name>pt</name><uuid>21111111-2222-4333-8444-555555555555</uuid>"
        "<memory>65536</memory><cpu mode='custom'><model>Haswell</model>"
        "<feature policy='require' name='avx512f'/></cpu><devices>"
        "<hostdev mode='subsystem' type='pci'/><hostdev mode='subsystem' type='usb'/>"
        "<disk type='block' device='cdrom'><source dev='/dev/sr0'/><target dev='hdc'/></disk>"
        "<interface type='hostdev'/></devices></domain>";
    assert_int_equal(hv_vm_define(wd->a, xml, &e), HV_OK);
    assert_int_equal(hv_vm_get(wd->a, "pt", &vm, &e), HV_OK);
    assert_string_equal(vm.unmigratable, "cdrom,sriov,hostdev,usb");
    assert_int_equal(vm.mem_kib, 65536);
    assert_string_equal(vm.cpu_model, "Haswell");
    assert_string_equal(vm.cpu_features, "avx512f");
    bool ok = true;
    assert_int_equal(hv_cpu_compatible(wd->b, &vm, &ok, &e), HV_OK);
    assert_false(ok);
    assert_int_equal(hv_migrate(wd->a, "pt", "fake://c", NULL, NULL, NULL, &e), HV_ESTATE);
    assert_int_equal(hv_vm_start(wd->a, "pt", &e), HV_OK);
    assert_int_equal(hv_migrate(wd->a, "pt", "fake://c", NULL, NULL, NULL, &e), HV_EUNMIGRATABLE);
    assert_non_null(strstr(e.msg, "hostdev"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_refuse_missing_bridge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_local_disk_live, setup, teardown),
        cmocka_unit_test_setup_teardown(test_storage_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_down_host, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cold_needs_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_unmigratable, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

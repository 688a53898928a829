/* hv_parse_test — the adapter's pure helpers: domain XML -> hv_vm, comma lists, mount-table
 * storage lookup, and the pre-checks' order and words (no libvirtd needed). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "hv_int.h"
#include "hv_storage.h"

static void test_lists(void **state)
{
    char buf[16] = "";
    (void)state;
    assert_true(hv__list_add(buf, sizeof buf, "br0"));
    assert_true(hv__list_add(buf, sizeof buf, "br10"));
    assert_true(hv__list_add(buf, sizeof buf, "br0"));   /* duplicate: no-op */
    assert_string_equal(buf, "br0,br10");
    assert_true(hv__list_has(buf, "br10"));
    assert_false(hv__list_has(buf, "br1"));              /* prefix of an item is no match */
    assert_false(hv__list_has(buf, ""));
    assert_false(hv__list_add(buf, sizeof buf, "a-very-long-name"));
    assert_string_equal(buf, "br0,br10");
}

static void test_parse_full(void **state)
{
    hv_vm vm;
    hv_err e = {0};
    (void)state;
    const char *xml =
        "<domain type='kvm'><name>web1</name><uuid>31111111-2222-4333-8444-555555555555</uuid>"
        "<memory unit='GiB'>2</memory><vcpu placement='static'>4</vcpu>"
        "<cpu mode='host-model'/><devices>"
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/>"
        "<source file='/'/><target dev='vda' bus='virtio'/></disk>"
        "<disk type='network' device='disk'><driver type='raw'/><source protocol='rbd' name='p/x'/>"
        "<target dev='vdb'/></disk>"
        "<disk type='file' device='cdrom'><target dev='hdc'/></disk>"
        "<interface type='network'><source network='default'/><mac address='52:54:00:aa:bb:cc'/></interface>"
        "<redirdev bus='usb' type='spicevmc'/><hostdev mode='subsystem' type='mdev'/>"
        "</devices></domain>";
    assert_int_equal(hv__parse_domain(xml, &vm, &e), HV_OK);
    assert_string_equal(vm.name, "web1");
    assert_int_equal(vm.mem_kib, 2u * 1024 * 1024);
    assert_int_equal(vm.vcpus, 4);
    assert_string_equal(vm.cpu_mode, "host-model");
    assert_int_equal(vm.n_disks, 2);            /* the empty CD-ROM tray is not carried */
    assert_string_equal(vm.disks[0].format, "raw");
    assert_string_equal(vm.disks[1].path, "");  /* network disk: reachable anywhere */
    assert_int_equal(vm.n_nics, 1);
    assert_string_equal(vm.nics[0].network, "default");
    assert_string_equal(vm.unmigratable, "mdev,usb");
}

static void test_parse_errors(void **state)
{
    hv_vm vm;
    hv_err e = {0};
    (void)state;
    assert_int_equal(hv__parse_domain("<domain><name>x", &vm, &e), HV_EINVAL);
    assert_int_equal(hv__parse_domain("<network><name>x</name></network>", &vm, &e), HV_EINVAL);
    assert_non_null(strstr(e.msg, "<domain>"));
    assert_int_equal(hv__parse_domain("<domain/>", &vm, &e), HV_EINVAL);
    assert_non_null(strstr(e.msg, "<name>"));
}

static void test_storage(void **state)
{
    bool shared = true;
    char id[64] = "x";
    char ids[256];
    (void)state;
    /* the root filesystem of a test machine is local */
    hv__storage_of("/", &shared, id, sizeof id);
    assert_false(shared);
    assert_string_equal(id, "");
    hv__storage_of("relative/path", &shared, id, sizeof id);
    assert_false(shared);
    hv__storage_shared_ids(ids, sizeof ids);   /* whatever is mounted: must terminate */
    assert_true(strlen(ids) < sizeof ids);
}

static void test_precheck_order(void **state)
{
    hv_vm vm;
    hv_host h;
    hv_err e = {0};
    (void)state;
    memset(&vm, 0, sizeof vm);
    memset(&h, 0, sizeof h);
    strcpy(vm.name, "db");
    vm.state = HV_VM_RUNNING;
    vm.mem_kib = 8u << 20;
    vm.n_nics = 1;
    strcpy(vm.nics[0].bridge, "br-db");
    vm.n_disks = 1;
    strcpy(vm.disks[0].target, "vda");
    strcpy(vm.disks[0].path, "/var/lib/libvirt/images/db.qcow2");
    strcpy(h.hostname, "h2");
    h.mem_free_kib = 1u << 20;
    /* bridge before disk before memory: the order an operator fixes them in */
    assert_int_equal(hv__precheck(&vm, &h, HV_MOVE_LIVE, &e), HV_EBRIDGE);
    strcpy(h.bridges, "br0,br-db");
    assert_int_equal(hv__precheck(&vm, &h, HV_MOVE_LIVE, &e), HV_ENOTSHARED);
    assert_int_equal(hv__precheck(&vm, &h, HV_MOVE_STORAGE, &e), HV_EHOSTMEM);
    assert_non_null(strstr(e.msg, "1024 MiB free"));
    h.mem_free_kib = 16u << 20;
    assert_int_equal(hv__precheck(&vm, &h, HV_MOVE_STORAGE, &e), HV_OK);
    vm.state = HV_VM_SHUTOFF;   /* a stopped VM needs no memory there */
    h.mem_free_kib = 0;
    vm.disks[0].shared = true;
    strcpy(vm.disks[0].storage_id, "nfs:filer:/vol1");
    strcpy(h.storage_ids, "nfs:filer:/vol2");
    assert_int_equal(hv__precheck(&vm, &h, HV_MOVE_COLD, &e), HV_ENOTSHARED);
    assert_non_null(strstr(e.msg, "does not see storage nfs:filer:/vol1"));
    strcpy(vm.unmigratable, "hostdev");
    assert_int_equal(hv__precheck(&vm, &h, HV_MOVE_COLD, &e), HV_EUNMIGRATABLE);
}

static void test_front_door(void **state)
{
    hv_err e = {0};
    hv_conn *c = NULL;
    (void)state;
    assert_int_equal(hv_vm_start(NULL, "x", &e), HV_EINVAL);
    assert_int_equal(hv_open_libvirt("", NULL, &c, &e), HV_EINVAL);
    assert_string_equal(hv_strerror(HV_EBRIDGE), "bridge or network missing");
    assert_string_equal(hv_state_name(HV_VM_SAVED), "saved");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lists),        cmocka_unit_test(test_parse_full),
        cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_storage),
        cmocka_unit_test(test_precheck_order), cmocka_unit_test(test_front_door),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

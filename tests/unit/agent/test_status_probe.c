/* The host-health probes of the status record: shared storage (write+fdatasync+unlink)
 * counts failures and measures time; the NIC lookup finds loopback's link and MTU; link
 * speed comes from the interface or, for a bridge, its fastest port (a fake sysfs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hoststatus.h"

static void storage_probe(void **state)
{
    (void)state;
    char dir[] = "/tmp/drover-probe-XXXXXX", ids[256];
    assert_non_null(mkdtemp(dir));
    uint32_t worst, errors;
    snprintf(ids, sizeof ids, "fs:1234:%s", dir);
    ag_status_probe_storage(ids, "h1", &worst, &errors);
    assert_int_equal(errors, 0);
    assert_true(worst < 60000);
    snprintf(ids, sizeof ids, "fs:1234:%s,fs:99:/nonexistent/drover-probe,fs:7:relative", dir);
    ag_status_probe_storage(ids, "h1", &worst, &errors);
    assert_int_equal(errors, 1);   /* the missing mount; the malformed id is skipped */
    char probe[300];
    snprintf(probe, sizeof probe, "%s/.drover-probe-h1", dir);
    assert_int_equal(access(probe, F_OK), -1);   /* nothing left behind */
    rmdir(dir);
    ag_status_probe_storage(NULL, "h1", &worst, &errors);
    assert_int_equal(errors, 0);
}

static void nic_lookup(void **state)
{
    (void)state;
    int up;
    uint32_t mtu, speed;
    ag_status_nic("127.0.0.1:7370", &up, &mtu, &speed);
    assert_int_equal(up, 1);
    assert_true(mtu >= 1500);
    assert_int_equal(speed, 0);   /* loopback has no link speed: unknown, never a warning */
    ag_status_nic("localhost", &up, &mtu, &speed);   /* names are resolved first */
    assert_int_equal(up, 1);
    ag_status_nic("192.0.2.99", &up, &mtu, &speed);  /* an address no interface has */
    assert_int_equal(up, -1);
    assert_int_equal(mtu, 0);
    assert_int_equal(speed, 0);
}

static void put(const char *dir, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void sub(const char *dir, const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    assert_int_equal(mkdir(path, 0700), 0);
}

static void link_speed(void **state)
{
    (void)state;
    char dir[] = "/tmp/drover-sysnet-XXXXXX", cmd[600];
    assert_non_null(mkdtemp(dir));
    sub(dir, "eth0");
    put(dir, "eth0/speed", "1000\n");
    sub(dir, "eth1");
    put(dir, "eth1/speed", "25000\n");
    sub(dir, "tap3");
    put(dir, "tap3/speed", "10\n");
    sub(dir, "veth9");
    put(dir, "veth9/speed", "-1\n");   /* "unknown" as some drivers say it */
    sub(dir, "br0");                    /* a bridge: no speed file, three ports */
    sub(dir, "br0/lower_eth0");
    sub(dir, "br0/lower_tap3");
    sub(dir, "br0/lower_veth9");
    sub(dir, "br1");
    sub(dir, "br1/lower_tap3");
    sub(dir, "bond0");
    sub(dir, "bond0/lower_eth0");
    sub(dir, "bond0/lower_eth1");
    sub(dir, "lo");
    assert_int_equal(ag_status_link_speed(dir, "eth0"), 1000);
    assert_int_equal(ag_status_link_speed(dir, "br0"), 1000);
    assert_int_equal(ag_status_link_speed(dir, "br1"), 10);
    assert_int_equal(ag_status_link_speed(dir, "bond0"), 25000);
    assert_int_equal(ag_status_link_speed(dir, "veth9"), 0);
    assert_int_equal(ag_status_link_speed(dir, "lo"), 0);
    assert_int_equal(ag_status_link_speed(dir, "missing"), 0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest t[] = {cmocka_unit_test(storage_probe), cmocka_unit_test(nic_lookup),
                                   cmocka_unit_test(link_speed)};
    return cmocka_run_group_tests(t, NULL, NULL);
}

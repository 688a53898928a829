/* The host-health probes of the status record: shared storage (write+fdatasync+unlink)
 * counts failures and measures time; the NIC lookup finds loopback's link and MTU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
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
    uint32_t mtu;
    ag_status_nic("127.0.0.1:7370", &up, &mtu);
    assert_int_equal(up, 1);
    assert_true(mtu >= 1500);
    ag_status_nic("localhost", &up, &mtu);   /* names are resolved first */
    assert_int_equal(up, 1);
    ag_status_nic("192.0.2.99", &up, &mtu);  /* an address no interface has */
    assert_int_equal(up, -1);
    assert_int_equal(mtu, 0);
}

int main(void)
{
    const struct CMUnitTest t[] = {cmocka_unit_test(storage_probe), cmocka_unit_test(nic_lookup)};
    return cmocka_run_group_tests(t, NULL, NULL);
}

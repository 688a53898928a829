/* The host-health probes of the status record: shared storage (write+fdatasync+unlink)
 * counts failures and measures time; the NIC lookup finds loopback's link and MTU; link
 * speed comes from the interface or, for a bridge, its fastest port (a fake sysfs). The
 * record carries what the worker probed (no lookup while building it), the local pool's
 * free space and the migrations in flight; only changes that matter re-publish it.
 * Facts that could not be read are published as unknown, and whether libvirtd answers is
 * judged from when its questions went out (issue 11, 3c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
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

/* Build, sign and decode a record of f; material digest into m. */
static Drover__HostStatus *record(const ag_host_facts *f, uint8_t m[16])
{
    static ag_identity id;
    if (id.host_id[0] == 0 && id.host_id[1] == 0) {
        crypto_sign_keypair(id.sign_pk, id.sign_sk);
        memcpy(id.host_id, id.sign_pk, AG_HOST_ID_LEN);
    }
    uint8_t *rec;
    size_t len;
    assert_int_equal(ag_status_make(&id, 7, 0, f, &rec, &len, m), 0);
    Drover__SignedHostStatus *s = drover__signed_host_status__unpack(NULL, len, rec);
    assert_non_null(s);
    Drover__HostStatus *st = drover__host_status__unpack(NULL, s->body.len, s->body.data);
    assert_non_null(st);
    drover__signed_host_status__free_unpacked(s, NULL);
    free(rec);
    return st;
}

static void record_carries_placement_inputs(void **state)
{
    (void)state;
    static ag_host_facts f;
    memset(&f, 0, sizeof f);
    /* probed on the worker: the builder takes these as they are, even for an address
     * no interface has (it would find nothing if it looked itself) */
    snprintf(f.nic_addr, sizeof f.nic_addr, "192.0.2.99");
    f.nic_probed = 1;
    f.nic_up = 1;
    f.nic_mtu = 9000;
    f.nic_speed_mbps = 25000;
    f.local_free_mib = 80000;
    f.local_free_known = 1;
    f.migrations_out = 2;
    snprintf(f.migration_dests, sizeof f.migration_dests,
             "10.0.0.2,qemu+tcp://h3.lab/system");
    uint8_t m1[16], m2[16];
    Drover__HostStatus *st = record(&f, m1);
    assert_true(st->health->nic_link_up);
    assert_int_equal(st->health->migration_mtu, 9000);
    assert_int_equal(st->migration_link_mbps, 25000);
    assert_int_equal(st->local_free_mib, 80000);
    assert_true(st->local_free_known);
    assert_int_equal(st->migrations_out, 2);
    assert_int_equal(st->n_migration_dests, 2);
    assert_string_equal(st->migration_dests[1], "qemu+tcp://h3.lab/system");
    drover__host_status__free_unpacked(st, NULL);
    /* guests write all the time: 100 MiB less free is not news, a migration ending is */
    f.local_free_mib = 79900;
    drover__host_status__free_unpacked(record(&f, m2), NULL);
    assert_memory_equal(m1, m2, 16);
    f.migrations_out = 1;
    f.migration_dests[8] = '\0';
    drover__host_status__free_unpacked(record(&f, m2), NULL);
    assert_memory_not_equal(m1, m2, 16);
    /* more destinations than a record lists: the first AG_STATUS_MIGRATIONS_MAX */
    f.migration_dests[0] = '\0';
    for (int i = 0; i < AG_STATUS_MIGRATIONS_MAX + 3; i++)
        snprintf(f.migration_dests + strlen(f.migration_dests),
                 sizeof f.migration_dests - strlen(f.migration_dests), "%s10.0.0.%d",
                 i ? "," : "", i + 1);
    st = record(&f, NULL);
    assert_int_equal(st->n_migration_dests, AG_STATUS_MIGRATIONS_MAX);
    assert_string_equal(st->migration_dests[0], "10.0.0.1");
    drover__host_status__free_unpacked(st, NULL);
}

/* Issue 11 (3c): the probe failed (or libvirtd stopped answering). The record keeps the
 * last facts read but says they are unknown, and says how long libvirtd has been silent. */
static void record_with_probe_failing_says_unknown(void **state)
{
    (void)state;
    static ag_host_facts f;
    memset(&f, 0, sizeof f);
    f.nic_probed = 1;
    /* the last reading, from before libvirtd hung */
    snprintf(f.libvirt_version, sizeof f.libvirt_version, "9.0.0");
    snprintf(f.cpu_features, sizeof f.cpu_features, "avx2,aes");
    snprintf(f.networks, sizeof f.networks, "default");
    f.facts_read_wall_ms = 1700000000000ull;
    f.facts_known = 0;
    f.libvirtd_responsive = 0;
    f.libvirtd_silent_ms = 7400;
    uint8_t m1[16], m2[16];
    Drover__HostStatus *st = record(&f, m1);
    assert_true(st->facts_unknown);
    assert_int_equal(st->facts_read_at_ms, 1700000000000ull);
    assert_string_equal(st->libvirt_version, "9.0.0");   /* for display, marked unknown */
    assert_false(st->health->libvirtd_responsive);
    assert_int_equal(st->health->libvirtd_silent_ms, 7400);
    assert_string_equal(st->health->degraded_reason, "libvirtd not answering for 7 s");
    drover__host_status__free_unpacked(st, NULL);
    /* silent a little longer, read at another time: not news; a minute more is */
    f.libvirtd_silent_ms = 9900;
    f.facts_read_wall_ms = 1700000005000ull;
    drover__host_status__free_unpacked(record(&f, m2), NULL);
    assert_memory_equal(m1, m2, 16);
    f.libvirtd_silent_ms = 67000;
    drover__host_status__free_unpacked(record(&f, m2), NULL);
    assert_memory_not_equal(m1, m2, 16);
    /* never read since the agent started: empty, and unknown — not "libvirt 0.0.0" */
    memset(&f, 0, sizeof f);
    f.nic_probed = 1;
    f.libvirtd_responsive = 1;   /* the first probe is still within its timeout */
    st = record(&f, m1);
    assert_true(st->facts_unknown);
    assert_int_equal(st->facts_read_at_ms, 0);
    assert_true(st->health->libvirtd_responsive);
    assert_int_equal(st->health->libvirtd_silent_ms, 0);
    assert_string_equal(st->health->degraded_reason, "");
    drover__host_status__free_unpacked(st, NULL);
    /* read and answering: known, and knowing is news */
    f.facts_known = 1;
    snprintf(f.libvirt_version, sizeof f.libvirt_version, "9.0.0");
    st = record(&f, m2);
    assert_false(st->facts_unknown);
    assert_memory_not_equal(m1, m2, 16);
    drover__host_status__free_unpacked(st, NULL);
}

/* The responsiveness verdict from times alone: a probe stuck inside libvirt makes it bad
 * after the timeout while the probe is still out, and no second probe is started behind
 * it; failures in a row count from the first; an answer makes it good at once. */
static void libvirtd_judged_while_probe_stuck(void **state)
{
    (void)state;
    const uint32_t T = AG_LIBVIRTD_TIMEOUT_MS;
    ag_lvwatch w;
    memset(&w, 0, sizeof w);
    uint32_t silent = 99;
    assert_true(ag_lvwatch_judge(&w, 1000, T, &silent));   /* nothing asked yet */
    assert_int_equal(silent, 0);
    assert_true(ag_lvwatch_due(&w, false, 0, 1000, 10000, 2000));   /* first probe: at once */
    ag_lvwatch_ask(&w, 1000);   /* ... and libvirtd hangs: no done ever comes */
    assert_true(ag_lvwatch_judge(&w, 1000 + T - 1, T, &silent));
    assert_int_equal(silent, 0);
    assert_false(ag_lvwatch_judge(&w, 1000 + T, T, &silent));
    assert_int_equal(silent, T);
    assert_false(ag_lvwatch_judge(&w, 61000, T, &silent));
    assert_int_equal(silent, 60000);
    assert_int_equal(ag_lvwatch_waiting_ms(&w, 61000), 60000);   /* commands fail fast */
    /* never a second probe behind the stuck one, however long it takes */
    assert_false(ag_lvwatch_due(&w, true, 1000, 11000, 10000, 2000));
    assert_false(ag_lvwatch_due(&w, true, 1000, 1000000, 10000, 2000));
    /* it comes back: good at once, the next probe on the normal cadence */
    ag_lvwatch_done(&w, true, 62000);
    assert_true(ag_lvwatch_judge(&w, 62000, T, &silent));
    assert_int_equal(silent, 0);
    assert_int_equal(ag_lvwatch_waiting_ms(&w, 62000), 0);
    assert_false(ag_lvwatch_due(&w, false, 62000, 63000, 10000, 2000));
    assert_true(ag_lvwatch_due(&w, false, 62000, 72000, 10000, 2000));
    /* a restart of libvirtd: refused at 72000, retried sooner, back before the timeout */
    ag_lvwatch_ask(&w, 72000);
    ag_lvwatch_done(&w, false, 72001);
    assert_true(ag_lvwatch_judge(&w, 74000, T, NULL));
    assert_false(ag_lvwatch_due(&w, false, 72000, 73999, 10000, 2000));
    assert_true(ag_lvwatch_due(&w, false, 72000, 74000, 10000, 2000));
    ag_lvwatch_ask(&w, 74000);
    ag_lvwatch_done(&w, true, 74003);
    assert_true(ag_lvwatch_judge(&w, 80000, T, NULL));
    /* libvirtd gone for good: failures in a row count from the first question, also
     * while a retry is out */
    ag_lvwatch_ask(&w, 90000);
    ag_lvwatch_done(&w, false, 90001);
    ag_lvwatch_ask(&w, 92000);
    ag_lvwatch_done(&w, false, 92001);
    ag_lvwatch_ask(&w, 94000);
    assert_true(ag_lvwatch_judge(&w, 90000 + T - 1, T, NULL));
    assert_false(ag_lvwatch_judge(&w, 90000 + T, T, &silent));
    assert_int_equal(silent, T);
    assert_int_equal(ag_lvwatch_waiting_ms(&w, 90000 + T), T - 4000);   /* refused, not hung */
    ag_lvwatch_done(&w, true, 96000);
    assert_true(ag_lvwatch_judge(&w, 96000, T, &silent));
    assert_int_equal(silent, 0);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest t[] = {cmocka_unit_test(storage_probe), cmocka_unit_test(nic_lookup),
                                   cmocka_unit_test(link_speed),
                                   cmocka_unit_test(record_carries_placement_inputs),
                                   cmocka_unit_test(record_with_probe_failing_says_unknown),
                                   cmocka_unit_test(libvirtd_judged_while_probe_stuck)};
    return cmocka_run_group_tests(t, NULL, NULL);
}

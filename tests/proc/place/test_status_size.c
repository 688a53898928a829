/* The host status record carries placement's lists (cpu features, storage, bridges,
 * networks) and must still fit one gossip update (GSP_STATUS_MAX). A typical libvirt
 * host keeps every list whole; an absurd one loses the feature names first, then list
 * tails, and is still published rather than dropped. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gossip.h"
#include "hoststatus.h"

static void fill(char *dst, size_t cap, unsigned n, const char *fmt)
{
    size_t off = 0;
    dst[0] = 0;
    for (unsigned i = 0; i < n && off < cap; i++)
        off += (size_t)snprintf(dst + off, cap - off, i ? ",%s%u" : "%s%u", fmt, i);
}

static Drover__HostStatus *make(const ag_host_facts *f, size_t *len)
{
    ag_identity id;
    memset(&id, 0, sizeof id);
    crypto_sign_keypair(id.sign_pk, id.sign_sk);
    memcpy(id.host_id, id.sign_pk, AG_HOST_ID_LEN);
    uint8_t *rec;
    assert_int_equal(ag_status_make(&id, 7, 0, f, &rec, len, NULL), 0);
    Drover__SignedHostStatus *s = drover__signed_host_status__unpack(NULL, *len, rec);
    assert_non_null(s);
    Drover__HostStatus *st = drover__host_status__unpack(NULL, s->body.len, s->body.data);
    assert_non_null(st);
    drover__signed_host_status__free_unpacked(s, NULL);
    free(rec);
    return st;
}

static void typical_host_keeps_everything(void **state)
{
    (void)state;
    static ag_host_facts f;
    memset(&f, 0, sizeof f);
    fill(f.cpu_features, sizeof f.cpu_features, 60, "avx512f-");   /* ~660 bytes */
    fill(f.storage_ids, sizeof f.storage_ids, 3, "fs:0123456789abcdef:/srv/pool");
    fill(f.bridges, sizeof f.bridges, 3, "br");
    fill(f.networks, sizeof f.networks, 2, "net");
    snprintf(f.cpu_arch, sizeof f.cpu_arch, "x86_64");
    size_t len;
    Drover__HostStatus *st = make(&f, &len);
    printf("typical record: %zu bytes (limit %d)\n", len, GSP_STATUS_MAX);
    assert_true(len <= GSP_STATUS_MAX);
    assert_int_equal(st->n_cpu_features, 60);
    assert_false(st->cpu_features_cut);
    assert_int_equal(st->n_storage_ids, 3);
    assert_int_equal(st->n_bridges, 3);
    assert_int_equal(st->n_networks, 2);
    assert_string_equal(st->cpu_arch, "x86_64");
    drover__host_status__free_unpacked(st, NULL);
}

static void huge_lists_are_cut_not_dropped(void **state)
{
    (void)state;
    static ag_host_facts f;
    memset(&f, 0, sizeof f);
    fill(f.cpu_features, sizeof f.cpu_features, 200, "feature-name-");
    fill(f.storage_ids, sizeof f.storage_ids, 40, "fs:0123456789abcdef:/srv/");
    fill(f.bridges, sizeof f.bridges, 40, "bridge-with-long-name-");
    fill(f.networks, sizeof f.networks, 40, "network-with-long-name-");
    size_t len;
    Drover__HostStatus *st = make(&f, &len);
    printf("huge record: %zu bytes, %zu features, %zu storage, %zu bridges, %zu networks\n",
           len, st->n_cpu_features, st->n_storage_ids, st->n_bridges, st->n_networks);
    assert_true(len <= GSP_STATUS_MAX);
    assert_int_equal(st->n_cpu_features, 0);   /* names first */
    assert_true(st->cpu_features_cut);         /* unknown, not absent */
    assert_int_equal(st->cpu_features_digest.len, 16);   /* the digest stays */
    assert_true(st->n_storage_ids > 0 && st->n_storage_ids <= AG_STATUS_LIST_MAX);
    drover__host_status__free_unpacked(st, NULL);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(typical_host_keeps_everything),
        cmocka_unit_test(huge_lists_are_cut_not_dropped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

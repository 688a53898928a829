/* The map grows by itself on MDB_MAP_FULL: write well past the initial 64 MiB in
 * 1 MiB values and read everything back; the epoch counter persists across reopen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static void grows_and_keeps(void **state)
{
    (void)state;
    char dir[] = "/tmp/drover-grow-XXXXXX";
    assert_non_null(mkdtemp(dir));
    st_store *s;
    char err[256];
    assert_int_equal(st_open(dir, &s, err, sizeof err), 0);
    size_t sz = 1u << 20;
    char *val = malloc(sz), *back = malloc(sz);
    int n = (int)(AG_STORE_MAP_INITIAL / sz) + 16;
    for (int i = 0; i < n; i++) {
        memset(val, 'a' + i % 26, sz);
        assert_int_equal(st_put(s, ST_DB_TEST, &i, sizeof i, val, sz), 0);
    }
    st_stats stats;
    assert_int_equal(st_stat(s, &stats), 0);
    assert_true(stats.grows >= 1);
    assert_true(stats.map_bytes > AG_STORE_MAP_INITIAL);
    assert_int_equal(stats.entries[ST_DB_TEST], (uint64_t)n);
    uint64_t e1, e2;
    assert_int_equal(st_bump_u64(s, "epoch", &e1), 0);
    st_close(s);

    assert_int_equal(st_open(dir, &s, err, sizeof err), 0);
    for (int i = 0; i < n; i++) {
        size_t len;
        assert_int_equal(st_get(s, ST_DB_TEST, &i, sizeof i, back, sz, &len), 0);
        assert_int_equal(len, sz);
        assert_int_equal(back[0], 'a' + i % 26);
        assert_int_equal(back[sz - 1], 'a' + i % 26);
    }
    int missing = -1;
    size_t len;
    assert_int_equal(st_get(s, ST_DB_TEST, &missing, sizeof missing, back, sz, &len), MDB_NOTFOUND);
    assert_int_equal(st_bump_u64(s, "epoch", &e2), 0);
    assert_int_equal(e2, e1 + 1);
    assert_int_equal(st_del(s, ST_DB_TEST, &n, sizeof n), MDB_NOTFOUND);
    int zero = 0;
    assert_int_equal(st_del(s, ST_DB_TEST, &zero, sizeof zero), 0);
    st_close(s);
    free(val);
    free(back);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

static void open_errors(void **state)
{
    (void)state;
    st_store *s;
    char err[256];
    assert_true(st_open("/proc/self/nonexistent-dir", &s, err, sizeof err) != 0);
    assert_non_null(strstr(err, "/proc/self/nonexistent-dir"));
}

int main(void)
{
    const struct CMUnitTest t[] = {cmocka_unit_test(grows_and_keeps), cmocka_unit_test(open_errors)};
    return cmocka_run_group_tests(t, NULL, NULL);
}

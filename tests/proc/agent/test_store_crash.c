/* The store survives SIGKILL at any instant: a child writes numbered entries, each
 * commit acknowledged through a pipe; the parent kills it at a random moment, then
 * checks that every acknowledged entry is present, that entries are contiguous (no
 * commit half-applied), that each two-database transaction is all-or-nothing, and
 * that the env opens cleanly. Repeated AG_CRASH_ROUNDS times (default 200). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <endian.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

static char dir[] = "/tmp/drover-crash-XXXXXX";

struct entry {
    uint64_t n;
};

static int write_pair(MDB_txn *txn, const MDB_dbi *dbi, void *ctx)
{
    struct entry *e = ctx;
    uint64_t k = htobe64(e->n);
    char val[256];
    int len = snprintf(val, sizeof val, "entry %llu %0200llu", (unsigned long long)e->n,
                       (unsigned long long)e->n);
    MDB_val key = {8, &k}, v = {(size_t)len, val};
    int rc = mdb_put(txn, dbi[ST_DB_TEST], &key, &v, 0);
    if (rc)
        return rc;
    /* the same transaction also writes a second database: both or neither survive */
    return mdb_put(txn, dbi[ST_DB_EVENTS], &key, &v, 0);
}

static void child(uint64_t from, int ackfd)
{
    st_store *s;
    char err[256];
    if (st_open(dir, &s, err, sizeof err) != 0)
        _exit(2);
    for (uint64_t n = from;; n++) {
        struct entry e = {n};
        if (st_write(s, write_pair, &e) != 0)
            _exit(3);
        if (write(ackfd, &n, sizeof n) != (ssize_t)sizeof n)
            _exit(4);
    }
}

struct check {
    uint64_t acked, count_test, count_events, max_key;
    int bad;
};

static int verify(MDB_txn *txn, const MDB_dbi *dbi, void *ctx)
{
    struct check *c = ctx;
    MDB_cursor *cur;
    MDB_val k, v;
    uint64_t expect = 1;
    mdb_cursor_open(txn, dbi[ST_DB_TEST], &cur);
    for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
        uint64_t n;
        memcpy(&n, k.mv_data, 8);
        n = be64toh(n);
        char want[256];
        int len = snprintf(want, sizeof want, "entry %llu %0200llu", (unsigned long long)n,
                           (unsigned long long)n);
        if (n != expect || v.mv_size != (size_t)len || memcmp(v.mv_data, want, (size_t)len) != 0)
            c->bad = 1;   /* a gap or a torn value */
        MDB_val k2 = k, v2;
        if (mdb_get(txn, dbi[ST_DB_EVENTS], &k2, &v2) != 0)
            c->bad = 2;   /* half a transaction */
        expect = n + 1;
        c->count_test++;
    }
    mdb_cursor_close(cur);
    MDB_stat st;
    mdb_stat(txn, dbi[ST_DB_EVENTS], &st);
    c->count_events = st.ms_entries;
    c->max_key = expect - 1;
    return 0;
}

static void crash_rounds(void **state)
{
    (void)state;
    const char *env = getenv("AG_CRASH_ROUNDS");
    int rounds = env ? atoi(env) : 200;
    uint64_t next = 1, acked_total = 0;
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    unsigned seed = (unsigned)rand();
    printf("crash test: %d rounds, seed %u\n", rounds, seed);
    srand(seed);
    for (int r = 0; r < rounds; r++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child(next, p[1]);
        }
        close(p[1]);
        /* wait for a first ack so the kill lands while commits stream, then kill after a
         * random 0-15 ms: anywhere inside a transaction, its commit or its fsync */
        uint64_t n = 0, last = next - 1;
        struct pollfd pf = {.fd = p[0], .events = POLLIN};
        if (poll(&pf, 1, 10000) == 1 && read(p[0], &n, sizeof n) == (ssize_t)sizeof n)
            last = n;
        usleep((useconds_t)(rand() % 15000));
        kill(pid, SIGKILL);
        int st;
        waitpid(pid, &st, 0);
        while (read(p[0], &n, sizeof n) == (ssize_t)sizeof n)
            last = n;
        close(p[0]);
        if (WIFEXITED(st))
            fail_msg("round %d: writer exited with %d before the kill", r, WEXITSTATUS(st));

        st_store *s;
        char err[256];
        if (st_open(dir, &s, err, sizeof err) != 0)
            fail_msg("round %d (seed %u): store does not reopen after SIGKILL: %s", r, seed, err);
        struct check c = {.acked = last};
        assert_int_equal(st_read(s, verify, &c), 0);
        st_close(s);
        if (c.bad)
            fail_msg("round %d (seed %u): %s", r, seed, c.bad == 1 ? "gap or torn value" : "half-applied transaction");
        if (c.max_key < last)
            fail_msg("round %d (seed %u): acknowledged entry %llu lost (store has up to %llu)", r, seed,
                     (unsigned long long)last, (unsigned long long)c.max_key);
        if (c.count_events != c.count_test)
            fail_msg("round %d: databases disagree (%llu vs %llu)", r, (unsigned long long)c.count_test,
                     (unsigned long long)c.count_events);
        acked_total += last - (next - 1);
        next = c.max_key + 1;   /* an unacknowledged but committed entry is fine */
    }
    printf("crash test: %d SIGKILLs, %llu acknowledged commits, all present\n", rounds,
           (unsigned long long)acked_total);
}

int main(void)
{
    assert_non_null(mkdtemp(dir));
    const struct CMUnitTest t[] = {cmocka_unit_test(crash_rounds)};
    int rc = cmocka_run_group_tests(t, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return rc;
}

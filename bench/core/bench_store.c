/* LMDB committed (durable, fsync'd) writes per second: one entry per transaction, and
 * batches of 64 entries per transaction (how Raft appends a burst). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "store.h"

struct batch {
    uint64_t first;
    int n;
    size_t vlen;
    const char *val;
};

static int put_batch(MDB_txn *txn, const MDB_dbi *dbi, void *ctx)
{
    struct batch *b = ctx;
    for (int i = 0; i < b->n; i++) {
        uint64_t k = b->first + (uint64_t)i;
        MDB_val key = {8, &k}, v = {b->vlen, (void *)b->val};
        int rc = mdb_put(txn, dbi[ST_DB_TEST], &key, &v, 0);
        if (rc)
            return rc;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp/drover-bench-store";
    double secs = argc > 2 ? atof(argv[2]) : 2.0;
    st_store *s;
    char err[256];
    if (st_open(dir, &s, err, sizeof err) != 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    char val[512];
    memset(val, 'v', sizeof val);
    int batches[] = {1, 64};
    uint64_t key = 0;
    for (int k = 0; k < 2; k++) {
        uint64_t t0 = ag_now_ms(), txns = 0;
        while (ag_now_ms() - t0 < (uint64_t)(secs * 1000)) {
            struct batch b = {key, batches[k], sizeof val, val};
            if (st_write(s, put_batch, &b) != 0)
                return 1;
            key += (uint64_t)batches[k];
            txns++;
        }
        double dt = (double)(ag_now_ms() - t0) / 1000.0;
        printf("{\"bench\":\"store\",\"metric\":\"committed_writes_per_s\",\"value\":%.0f,\"unit\":\"1/s\","
               "\"entries_per_txn\":%d,\"value_bytes\":%zu,\"durable\":true}\n",
               (double)(txns * (uint64_t)batches[k]) / dt, batches[k], sizeof val);
        printf("{\"bench\":\"store\",\"metric\":\"commits_per_s\",\"value\":%.0f,\"unit\":\"1/s\","
               "\"entries_per_txn\":%d,\"value_bytes\":%zu,\"durable\":true}\n",
               (double)txns / dt, batches[k], sizeof val);
    }
    st_close(s);
    return 0;
}

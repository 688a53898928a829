/* store.h — the agent's LMDB environment: one env in the state directory, named
 * databases, every write inside one transaction.
 *
 * Durability: the env is opened without MDB_NOSYNC / MDB_NOMETASYNC, so a committed
 * transaction is on disk when st_write returns (Raft's term/vote/log rely on this: a
 * reply may only leave after what it depends on is durable). LMDB's copy-on-write B+tree
 * never overwrites live pages, so a crash at any instant leaves the last committed
 * state; tests/proc/store_crash verifies that with repeated SIGKILLs.
 *
 * Growth: LMDB needs a fixed map size; when a write fails with MDB_MAP_FULL we abort,
 * double the map (up to AG_STORE_MAP_MAX) and run the write function again from the
 * start in a fresh transaction. Write functions must therefore be re-runnable: compute
 * from the transaction, not from state they mutated on a previous attempt.
 *
 * Threads: st_write from one thread at a time (the event loop); st_read from any.
 */
#ifndef DROVER_STORE_H
#define DROVER_STORE_H

#include <lmdb.h>
#include <stddef.h>
#include <stdint.h>

/* 64 MiB holds a few hundred hosts' log and state with room; growth doubles it. */
#define AG_STORE_MAP_INITIAL  (64ull << 20)
#define AG_STORE_MAP_MAX      (64ull << 30)
/* Named databases. Modules add theirs here so the whole schema is visible in one place. */
#define AG_STORE_MAX_DBS      32

typedef enum st_db {
    ST_DB_META = 0,   /* "meta": schema version, epoch, cluster id, ... */
    ST_DB_PEERS,      /* "peers": host id -> persisted replay high-water marks */
    ST_DB_RAFT,       /* "raft": term, vote, snapshot meta */
    ST_DB_LOG,        /* "log": index (u64 BE) -> entry */
    ST_DB_STATE,      /* "state": replicated state machine (members, VMs, ...) */
    ST_DB_EVENTS,     /* "events": seq -> event */
    ST_DB_TEST,       /* "test": used by tests and benchmarks only */
    ST_DB_COUNT
} st_db;

typedef struct st_store st_store;

typedef struct st_stats {
    uint64_t map_bytes;      /* current map size */
    uint64_t used_bytes;     /* pages in use * page size */
    uint64_t entries[ST_DB_COUNT];
    uint64_t grows;          /* times the map was enlarged since open */
    uint64_t last_txnid;
} st_stats;

/* Open (creating if needed) the env in dir/store. 0 or -errno / LMDB error; err says. */
int  st_open(const char *dir, st_store **out, char *err, size_t errlen);
void st_close(st_store *s);

typedef int (*st_write_fn)(MDB_txn *txn, const MDB_dbi *dbi, void *ctx);
typedef int (*st_read_fn)(MDB_txn *txn, const MDB_dbi *dbi, void *ctx);

/* Run fn in one write transaction and commit (durably) if it returns 0; abort if not
 * and return its value. MDB_MAP_FULL from fn or commit grows the map and re-runs fn. */
int st_write(st_store *s, st_write_fn fn, void *ctx);
/* Run fn in a read-only snapshot transaction. */
int st_read(st_store *s, st_read_fn fn, void *ctx);

/* Conveniences, each one transaction. st_get returns MDB_NOTFOUND when absent and
 * copies at most cap bytes (*len gets the full length; cap 0 asks for the length only). */
int st_put(st_store *s, st_db db, const void *k, size_t klen, const void *v, size_t vlen);
int st_get(st_store *s, st_db db, const void *k, size_t klen, void *v, size_t cap, size_t *len);
int st_del(st_store *s, st_db db, const void *k, size_t klen);

/* Atomically add 1 to a u64 counter in ST_DB_META and return the new value (the epoch). */
int st_bump_u64(st_store *s, const char *key, uint64_t *out);

int st_stat(st_store *s, st_stats *out);
const char *st_db_name(st_db db);
const char *st_path(const st_store *s);

#endif

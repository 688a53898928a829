/* store.c — see store.h for durability and growth rules. */
#include "store.h"
#include "fsutil.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct st_store {
    MDB_env *env;
    MDB_dbi  dbi[ST_DB_COUNT];
    uint64_t map_bytes;
    uint64_t grows;
    char     path[4096];
};

static const char *const db_names[ST_DB_COUNT] = {
    "meta", "peers", "raft", "log", "state", "events", "test",
};

const char *st_db_name(st_db db)
{
    return (unsigned)db < ST_DB_COUNT ? db_names[db] : "?";
}

const char *st_path(const st_store *s)
{
    return s->path;
}

int st_open(const char *dir, st_store **out, char *err, size_t errlen)
{
    st_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    snprintf(s->path, sizeof s->path, "%s/store", dir);
    int rc = ag_mkdir_p(s->path, 0700);
    if (rc) {
        snprintf(err, errlen, "cannot create %s: %s", s->path, strerror(-rc));
        goto err_after_alloc;
    }
    if ((rc = mdb_env_create(&s->env)) != 0)
        goto err_lmdb;
    if ((rc = mdb_env_set_maxdbs(s->env, AG_STORE_MAX_DBS)) != 0)
        goto err_after_env;
    /* an existing env may already be larger; mdb_env_info tells after open */
    if ((rc = mdb_env_set_mapsize(s->env, (size_t)AG_STORE_MAP_INITIAL)) != 0)
        goto err_after_env;
    /* MDB_NOTLS: read txns may be used by worker threads other than the opener */
    if ((rc = mdb_env_open(s->env, s->path, MDB_NOTLS, 0600)) != 0)
        goto err_after_env;
    MDB_envinfo info;
    mdb_env_info(s->env, &info);
    s->map_bytes = info.me_mapsize;

    MDB_txn *txn;
    if ((rc = mdb_txn_begin(s->env, NULL, 0, &txn)) != 0)
        goto err_after_env;
    for (int i = 0; i < ST_DB_COUNT; i++) {
        if ((rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbi[i])) != 0) {
            mdb_txn_abort(txn);
            goto err_after_env;
        }
    }
    if ((rc = mdb_txn_commit(txn)) != 0)
        goto err_after_env;
    *out = s;
    return 0;

err_after_env:
    mdb_env_close(s->env);
err_lmdb:
    snprintf(err, errlen, "cannot open LMDB store %s: %s", s->path, mdb_strerror(rc));
    rc = rc > 0 ? -EIO : rc;
err_after_alloc:
    free(s);
    return rc;
}

void st_close(st_store *s)
{
    if (!s)
        return;
    mdb_env_close(s->env);
    free(s);
}

static int grow(st_store *s)
{
    if (s->map_bytes * 2 > AG_STORE_MAP_MAX)
        return MDB_MAP_FULL;
    /* legal here: no write txn is open and this process holds no read txn we own */
    int rc = mdb_env_set_mapsize(s->env, (size_t)(s->map_bytes * 2));
    if (rc == 0) {
        s->map_bytes *= 2;
        s->grows++;
    }
    return rc;
}

int st_write(st_store *s, st_write_fn fn, void *ctx)
{
    for (;;) {
        MDB_txn *txn;
        int rc = mdb_txn_begin(s->env, NULL, 0, &txn);
        if (rc == MDB_MAP_RESIZED) {   /* another process grew it: adopt the new size */
            mdb_env_set_mapsize(s->env, 0);
            MDB_envinfo info;
            mdb_env_info(s->env, &info);
            s->map_bytes = info.me_mapsize;
            continue;
        }
        if (rc)
            return rc;
        rc = fn(txn, s->dbi, ctx);
        if (rc == 0) {
            rc = mdb_txn_commit(txn);   /* frees txn whatever the outcome */
        } else {
            mdb_txn_abort(txn);
        }
        if (rc == MDB_MAP_FULL) {
            int g = grow(s);
            if (g)
                return g;
            continue;
        }
        return rc;
    }
}

int st_read(st_store *s, st_read_fn fn, void *ctx)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
    if (rc)
        return rc;
    rc = fn(txn, s->dbi, ctx);
    mdb_txn_abort(txn);
    return rc;
}

struct kv {
    st_db db;
    const void *k;
    size_t klen;
    const void *v;
    size_t vlen;
    void *out;
    size_t cap;
    size_t *len;
};

static int put_fn(MDB_txn *txn, const MDB_dbi *dbi, void *ctx)
{
    struct kv *a = ctx;
    MDB_val k = {a->klen, (void *)a->k}, v = {a->vlen, (void *)a->v};
    return mdb_put(txn, dbi[a->db], &k, &v, 0);
}

static int get_fn(MDB_txn *txn, const MDB_dbi *dbi, void *ctx)
{
    struct kv *a = ctx;
    MDB_val k = {a->klen, (void *)a->k}, v;
    int rc = mdb_get(txn, dbi[a->db], &k, &v);
    if (rc)
        return rc;
    if (a->len)
        *a->len = v.mv_size;
    if (a->cap)   /* cap 0: the caller only asks for the length */
        memcpy(a->out, v.mv_data, v.mv_size < a->cap ? v.mv_size : a->cap);
    return 0;
}

static int del_fn(MDB_txn *txn, const MDB_dbi *dbi, void *ctx)
{
    struct kv *a = ctx;
    MDB_val k = {a->klen, (void *)a->k};
    return mdb_del(txn, dbi[a->db], &k, NULL);
}

int st_put(st_store *s, st_db db, const void *k, size_t klen, const void *v, size_t vlen)
{
    struct kv a = {.db = db, .k = k, .klen = klen, .v = v, .vlen = vlen};
    return st_write(s, put_fn, &a);
}

int st_get(st_store *s, st_db db, const void *k, size_t klen, void *v, size_t cap, size_t *len)
{
    struct kv a = {.db = db, .k = k, .klen = klen, .out = v, .cap = cap, .len = len};
    return st_read(s, get_fn, &a);
}

int st_del(st_store *s, st_db db, const void *k, size_t klen)
{
    struct kv a = {.db = db, .k = k, .klen = klen};
    return st_write(s, del_fn, &a);
}

struct bump {
    const char *key;
    uint64_t value;
};

static int bump_fn(MDB_txn *txn, const MDB_dbi *dbi, void *ctx)
{
    struct bump *b = ctx;
    MDB_val k = {strlen(b->key), (void *)b->key}, v;
    uint64_t cur = 0;
    int rc = mdb_get(txn, dbi[ST_DB_META], &k, &v);
    if (rc == 0 && v.mv_size == 8) {
        memcpy(&cur, v.mv_data, 8);
        cur = be64toh(cur);
    } else if (rc != MDB_NOTFOUND && rc != 0) {
        return rc;
    }
    b->value = cur + 1;
    uint64_t be = htobe64(b->value);
    v.mv_size = 8;
    v.mv_data = &be;
    return mdb_put(txn, dbi[ST_DB_META], &k, &v, 0);
}

int st_bump_u64(st_store *s, const char *key, uint64_t *out)
{
    struct bump b = {.key = key};
    int rc = st_write(s, bump_fn, &b);
    if (rc == 0)
        *out = b.value;
    return rc;
}

struct statctx {
    st_stats *out;
    st_store *s;
};

static int stat_fn(MDB_txn *txn, const MDB_dbi *dbi, void *ctx)
{
    struct statctx *c = ctx;
    for (int i = 0; i < ST_DB_COUNT; i++) {
        MDB_stat ms;
        int rc = mdb_stat(txn, dbi[i], &ms);
        if (rc)
            return rc;
        c->out->entries[i] = ms.ms_entries;
    }
    return 0;
}

int st_stat(st_store *s, st_stats *out)
{
    memset(out, 0, sizeof *out);
    MDB_envinfo info;
    MDB_stat est;
    mdb_env_info(s->env, &info);
    mdb_env_stat(s->env, &est);
    out->map_bytes = info.me_mapsize;
    out->used_bytes = (uint64_t)(info.me_last_pgno + 1) * est.ms_psize;
    out->last_txnid = info.me_last_txnid;
    out->grows = s->grows;
    struct statctx c = {out, s};
    return st_read(s, stat_fn, &c);
}

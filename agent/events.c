/* events.c — see events.h. */
#include "events.h"
#include "exitcodes.h"
#include "log.h"

#include <endian.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct follower {
    ag_ctl_req *req;
    char kind[32];   /* "" = all */
};

struct ag_events {
    uint64_t next_seq;
    struct follower f[AG_EVENTS_FOLLOWERS];
    int nf;
};

struct append_ctx {
    uint64_t seq;
    const char *text;
};

static int append_fn(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    struct append_ctx *c = ctx;
    uint64_t k = htobe64(c->seq);
    MDB_val key = {8, &k}, val = {strlen(c->text), (void *)c->text};
    int rc = mdb_put(t, dbi[ST_DB_EVENTS], &key, &val, 0);
    if (rc || c->seq <= AG_EVENTS_KEEP)
        return rc;
    uint64_t old = htobe64(c->seq - AG_EVENTS_KEEP);
    MDB_val ok = {8, &old};
    rc = mdb_del(t, dbi[ST_DB_EVENTS], &ok, NULL);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static const char *host_name(ag_agent *a)
{
    return a->cfg.name;
}

void ag_event(ag_agent *a, const char *kind, json_t *fields, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* caused by a control-socket request: who asked (ctl.h, ag_ctl_current), unless the
     * event names its caller itself (a "uid" field, as admin.c's do) */
    const ag_ctl_req *req = ag_ctl_current(a->ctl);
    if (fields && json_is_object(fields) && json_object_get(fields, "uid"))
        req = NULL;
    uint32_t uid = 0, pid = 0;
    if (req) {
        ag_ctl_caller(req, &uid, &pid);
        if (n >= 0 && (size_t)n < sizeof msg)
            snprintf(msg + n, sizeof msg - (size_t)n, " (uid %u)", uid);
    }
    ag_info("%s: %s", kind, msg);
    struct ag_events *E = a->events;
    if (!E) {
        json_decref(fields);
        return;
    }
    json_t *ev = fields && json_is_object(fields) ? fields : json_object();
    if (fields && !json_is_object(fields))
        json_decref(fields);
    if (req) {
        json_object_set_new(ev, "uid", json_integer(uid));
        json_object_set_new(ev, "pid", json_integer(pid));
    }
    uint64_t seq = E->next_seq++;
    json_object_set_new(ev, "seq", json_integer((json_int_t)seq));
    json_object_set_new(ev, "time_ms", json_integer((json_int_t)ag_wall_ms()));
    json_object_set_new(ev, "kind", json_string(kind));
    json_object_set_new(ev, "host", json_string(host_name(a)));
    json_object_set_new(ev, "message", json_string(msg));
    char *text = json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS);
    if (text) {
        struct append_ctx c = {seq, text};
        int rc = st_write(a->store, append_fn, &c);
        if (rc)
            ag_warn("events: cannot journal event %llu: %s", (unsigned long long)seq, mdb_strerror(rc));
        free(text);
    }
    for (int i = 0; i < E->nf; i++)
        if (!E->f[i].kind[0] || !strcmp(E->f[i].kind, kind))
            ag_ctl_send(E->f[i].req, json_incref(ev));
    json_decref(ev);
}

struct list_ctx {
    json_t *out;
    uint64_t since;
    size_t limit;
    const char *kind;
};

static int list_fn(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    struct list_ctx *c = ctx;
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t, dbi[ST_DB_EVENTS], &cur);
    if (rc)
        return rc;
    /* walk backwards to take the newest `limit`, then reverse into time order */
    MDB_val k, v;
    json_t *rev = json_array();
    for (rc = mdb_cursor_get(cur, &k, &v, MDB_LAST); rc == 0 && json_array_size(rev) < c->limit;
         rc = mdb_cursor_get(cur, &k, &v, MDB_PREV)) {
        uint64_t seq;
        memcpy(&seq, k.mv_data, 8);
        if (be64toh(seq) < c->since)
            break;
        json_t *e = json_loadb(v.mv_data, v.mv_size, 0, NULL);
        if (!e)
            continue;
        if (c->kind && strcmp(json_string_value(json_object_get(e, "kind")) ?: "", c->kind)) {
            json_decref(e);
            continue;
        }
        json_array_append_new(rev, e);
    }
    mdb_cursor_close(cur);
    for (size_t i = json_array_size(rev); i-- > 0;)
        json_array_append(c->out, json_array_get(rev, i));
    json_decref(rev);
    return 0;
}

static void follower_gone(ag_ctl_req *req, void *ud)
{
    ag_agent *a = ud;
    struct ag_events *E = a->events;
    for (int i = 0; E && i < E->nf; i++)
        if (E->f[i].req == req) {
            E->f[i] = E->f[--E->nf];
            return;
        }
}

static void ctl_events(ag_ctl_req *req, json_t *args, void *ud)
{
    ag_agent *a = ud;
    struct ag_events *E = a->events;
    json_int_t limit = json_integer_value(json_object_get(args, "limit"));
    const char *kind = json_string_value(json_object_get(args, "kind"));
    int follow = json_is_true(json_object_get(args, "follow"));
    struct list_ctx c = {json_array(), (uint64_t)json_integer_value(json_object_get(args, "since")),
                         limit > 0 ? (size_t)limit : 100, kind};
    int rc = st_read(a->store, list_fn, &c);
    if (rc) {
        json_decref(c.out);
        ag_ctl_finish(req, AG_EX_IOERR, NULL, "cannot read the event journal: %s", mdb_strerror(rc));
        return;
    }
    if (!follow) {
        ag_ctl_finish(req, AG_EX_OK, json_pack("{s:o}", "events", c.out), NULL);
        return;
    }
    if (E->nf == AG_EVENTS_FOLLOWERS) {
        json_decref(c.out);
        ag_ctl_finish(req, AG_EX_TEMPFAIL, NULL, "too many `drover events --follow` clients (%d)", AG_EVENTS_FOLLOWERS);
        return;
    }
    /* history first, then live events, until the client hangs up (Ctrl-C) */
    size_t i;
    json_t *e;
    json_array_foreach(c.out, i, e) ag_ctl_send(req, json_incref(e));
    json_decref(c.out);
    E->f[E->nf].req = req;
    snprintf(E->f[E->nf].kind, sizeof E->f[E->nf].kind, "%s", kind ? kind : "");
    E->nf++;
    ag_ctl_on_close(req, follower_gone, a);
}

static int last_seq_fn(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(t, dbi[ST_DB_EVENTS], &cur);
    if (rc)
        return rc;
    MDB_val k, v;
    if (mdb_cursor_get(cur, &k, &v, MDB_LAST) == 0 && k.mv_size == 8) {
        uint64_t s;
        memcpy(&s, k.mv_data, 8);
        *(uint64_t *)ctx = be64toh(s);
    }
    mdb_cursor_close(cur);
    return 0;
}

int ag_events_start(ag_agent *a)
{
    struct ag_events *E = calloc(1, sizeof *E);
    if (!E)
        return -1;
    uint64_t last = 0;
    st_read(a->store, last_seq_fn, &last);
    E->next_seq = last + 1;
    a->events = E;
    ag_ctl_register(a->ctl, "events", ctl_events, a);
    return 0;
}

void ag_events_stop(ag_agent *a)
{
    free(a->events);
    a->events = NULL;
}

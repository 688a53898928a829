/* hv_lv.h — shared between the libvirt implementation's files. */
#ifndef DROVER_HV_LV_H
#define DROVER_HV_LV_H

#include <pthread.h>

#include <libvirt/libvirt.h>

#include "hv_int.h"

typedef struct lv_move lv_move;

typedef struct lv_conn {
    hv_conn base;
    char uri[HV_PATH_LEN];
    hv_config cfg;
    pthread_mutex_t mu;        /* guards everything below */
    virConnectPtr conn;        /* NULL while libvirtd is unreachable */
    bool lost;                 /* set by the close callback (atomically); conn is stale */
    bool was_lost;             /* a RECONNECTED event is owed */
    uint64_t next_try_ms;      /* back-off: no reconnect before this (monotonic) */
    uint32_t backoff_ms;
    int lifecycle_id;          /* -1 when not subscribed */
    hv_event_fn ev_fn;
    void *ev_ctx;
    lv_move *moves;            /* migrations running on this connection (for cancel) */
} lv_conn;

/* A referenced connection, reconnecting if due; virConnectClose() it after use.
 * Errors: HV_ENOCONN. */
int hv__lv_get(lv_conn *lc, virConnectPtr *out, hv_err *err);
/* Domain by name on a referenced connection; virDomainFree() it. */
int hv__lv_dom(virConnectPtr conn, const char *name, virDomainPtr *out, hv_err *err);
/* hv_vm record of a domain (XML + state). */
int hv__lv_vm(virDomainPtr dom, hv_vm *vm, hv_err *err);
/* Map virGetLastError() to an HV_E code and a sentence starting with `what`. */
int hv__lv_fail(hv_err *err, const char *what);
/* The same for an error captured on another thread (virErrorPtr is per thread). */
int hv__lv_fail_with(hv_err *err, const char *what, int code, const char *msg);
uint64_t hv__lv_now_ms(void);

int hv__lv_migrate(hv_conn *c, const char *name, const char *dest_uri, hv_conn *dest,
                   const hv_migrate_opts *o, hv_migrate_result *res, hv_err *err);
int hv__lv_migrate_cancel(hv_conn *c, const char *name, hv_err *err);
int hv__lv_host_facts(hv_conn *c, hv_host *h, hv_err *err);
int hv__lv_cpu_compatible(hv_conn *c, const hv_vm *vm, bool *ok, hv_err *err);

#endif

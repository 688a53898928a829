/* cons_client.h — one "put" against either system, blocking, thread-safe.
 *
 * A target is a drover control socket path ("drover:/path/h1.sock") or an etcd client
 * endpoint ("etcd:127.0.0.1:2379"). A put returns 0 once the system says the write is
 * committed (drover: committed and applied on the host the socket belongs to; etcd: the
 * gRPC gateway's 200 answer, which etcd sends after commit and apply on that member), or
 * -1 with err filled. Each put opens its own connection: drover's CLI does the same, and
 * giving etcd the same handicap keeps the comparison about consensus, not connection reuse.
 */
#ifndef CONS_CLIENT_H
#define CONS_CLIENT_H

#include <stddef.h>

enum cons_system { CONS_DROVER, CONS_ETCD };

struct cons_target {
    enum cons_system sys;
    char addr[256];   /* socket path, or host:port */
};

/* Parses "drover:PATH" or "etcd:HOST:PORT"; -1 on anything else. */
int cons_target_parse(const char *s, struct cons_target *t);

int cons_drover_put(const char *sock, const char *key, const char *val, int timeout_ms,
                    char *err, size_t errlen);
int cons_etcd_put(const char *hostport, const char *key, const char *val, int timeout_ms,
                  char *err, size_t errlen);

static inline int cons_put(const struct cons_target *t, const char *key, const char *val,
                           int timeout_ms, char *err, size_t errlen)
{
    return t->sys == CONS_DROVER ? cons_drover_put(t->addr, key, val, timeout_ms, err, errlen)
                                 : cons_etcd_put(t->addr, key, val, timeout_ms, err, errlen);
}

#endif

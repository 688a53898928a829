/* transport.h — authenticated, encrypted message passing between agents over libzmq.
 *
 * Shape: each agent binds one ROUTER socket (CURVE server) on its cluster address and
 * receives everything there; it sends through one DEALER per peer (CURVE client, pinned
 * to that peer's X25519 key). Replies travel on the replier's own DEALER, so every
 * message has one shape: [envelope bytes], and the receive side sees who sent it.
 *
 * Admission: libzmq CURVE accepts ANY client key unless a ZAP handler answers, so ours
 * is bound on inproc://zeromq.zap.01 before the ROUTER binds, the ROUTER sets a ZAP
 * domain with ZAP_ENFORCE_DOMAIN, and the handler admits only keys in the allow set
 * (members). Its reply names the host ID as User-Id, which the receive callback gets for
 * every message, so the layer above can insist that an envelope's sender is the host
 * that authenticated the connection. Revoking a key refuses its next handshake; existing
 * connections from it are dropped by the layer above, which stops accepting its sender.
 *
 * Sending never blocks the loop: each DEALER queues at most TP_SNDHWM messages while its
 * connection (and CURVE handshake) is being set up, and sends are non-blocking and drop
 * when that queue is full. (ZMQ_IMMEDIATE would drop the first message to every peer —
 * the join itself; late delivery is harmless: SWIM matches acks by sequence number and
 * Raft discards stale terms.)
 */
#ifndef DROVER_TRANSPORT_H
#define DROVER_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "loop.h"

#define TP_ADDR_MAX       64
#define TP_MAX_PEERS      4096   /* outgoing DEALERs; least recently used is closed past it */
#define TP_SNDHWM         256    /* messages queued per peer before sends drop */
#define TP_ZAP_DOMAIN     "drover"

typedef struct tp tp;

/* A message arrived: sender_id is the host ID of the CURVE key that authenticated the
 * connection (from ZAP's User-Id); bytes valid during the call only. */
typedef void (*tp_recv_fn)(void *ud, const uint8_t sender_id[AG_HOST_ID_LEN],
                           const uint8_t *bytes, size_t len);

struct tp_stats {
    uint64_t sent, send_dropped, received, zap_allowed, zap_denied, oversize_dropped;
};

/* Create the transport on loop l with our identity; bind_addr "tcp://IP:PORT".
 * Returns 0 or -errno with err set (address in use, bad address). */
int  tp_new(ag_loop *l, const ag_identity *self, const char *bind_addr, size_t max_msg,
            tp_recv_fn cb, void *ud, tp **out, char *err, size_t errlen);
void tp_free(tp *t);

/* Admit / stop admitting a member's CURVE key (host_id is what User-Id will say). */
int  tp_allow(tp *t, const uint8_t host_id[AG_HOST_ID_LEN], const uint8_t curve_pk[32]);
void tp_revoke(tp *t, const uint8_t host_id[AG_HOST_ID_LEN]);

/* Send bytes to the agent at addr whose CURVE key is curve_pk. Returns 0 when handed
 * to libzmq, -EAGAIN when dropped (not connected yet, or queue full), -EINVAL. */
int  tp_send(tp *t, const char *addr, const uint8_t curve_pk[32], const void *bytes, size_t len);

void tp_stats_get(const tp *t, struct tp_stats *st);

#endif

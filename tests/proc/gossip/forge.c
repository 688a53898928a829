/* gossip_forge STATE_DIR OTHER_STATE_DIR CLUSTER_ID_HEX CURVE_PK_HEX ADDR
 *
 * An attacker holding one member's credentials (STATE_DIR) talks to the agent at ADDR
 * over a legitimate CURVE connection and tries, in order: garbage bytes, a valid
 * envelope followed by its exact replay, an envelope with a broken signature, and an
 * envelope signed by another member (OTHER_STATE_DIR) sent over this member's
 * connection. The test then reads the target's rejection counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "envelope.h"
#include "identity.h"
#include "drover.pb-c.h"

static void send_bytes(void *s, const void *b, size_t n)
{
    if (zmq_send(s, b, n, 0) < 0)
        fprintf(stderr, "forge: send failed: %s\n", zmq_strerror(zmq_errno()));
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: gossip_forge STATE_DIR OTHER_STATE_DIR CLUSTER_ID_HEX CURVE_PK_HEX ADDR\n");
        return 2;
    }
    ag_identity me, other;
    char err[512];
    uint8_t cluster[AG_CLUSTER_ID_LEN], server_pk[32];
    if (ag_identity_load(argv[1], &me, err, sizeof err) || ag_identity_load(argv[2], &other, err, sizeof err)) {
        fprintf(stderr, "forge: %s\n", err);
        return 1;
    }
    if (ag_unhex(argv[3], cluster, sizeof cluster) || ag_unhex(argv[4], server_pk, 32))
        return 2;
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(s, ZMQ_CURVE_SERVERKEY, server_pk, 32);
    zmq_setsockopt(s, ZMQ_CURVE_PUBLICKEY, me.curve_pk, 32);
    zmq_setsockopt(s, ZMQ_CURVE_SECRETKEY, me.curve_sk, 32);
    if (zmq_connect(s, argv[5]) != 0)
        return 1;
    /* a fresh, high epoch so the first envelope is accepted; the member is dead by now */
    ag_sealer sm = {.id = &me, .epoch = 1u << 30};
    ag_sealer so = {.id = &other, .epoch = 1u << 30};
    memcpy(sm.cluster_id, cluster, sizeof cluster);
    memcpy(so.cluster_id, cluster, sizeof cluster);
    uint8_t *b;
    size_t n;

    send_bytes(s, "garbage, not an envelope", 24);                         /* -> decode */
    ag_env_seal(&sm, DROVER__MSG_TYPE__MSG_SNAPSHOT, "x", 1, 0, &b, &n);    /* accepted (no handler) */
    send_bytes(s, b, n);
    send_bytes(s, b, n);                                                     /* -> replay */
    free(b);
    ag_env_seal(&sm, DROVER__MSG_TYPE__MSG_GOSSIP, "y", 1, 0, &b, &n);
    b[n - 5] ^= 0x10;                                                        /* -> bad_signature */
    send_bytes(s, b, n);
    free(b);
    ag_env_seal(&so, DROVER__MSG_TYPE__MSG_GOSSIP, "z", 1, 0, &b, &n);      /* -> sender_mismatch */
    send_bytes(s, b, n);
    free(b);
    sleep(1);   /* let the queue drain before closing (LINGER default waits anyway) */
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

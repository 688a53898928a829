/* gossip_forge STATE_DIR OTHER_STATE_DIR CLUSTER_ID_HEX CURVE_PK_HEX ADDR
 *
 * An attacker holding one member's credentials (STATE_DIR) talks to the agent at ADDR
 * over a legitimate CURVE connection and tries, in order: garbage bytes, a valid
 * envelope followed by its exact replay, an envelope with a broken signature, and an
 * envelope signed by another member (OTHER_STATE_DIR) sent over this member's
 * connection. Then, in well-sealed gossip messages of its own, lies about the other
 * member (issue 12): its status record as garbage at version UINT64_MAX, a real record
 * (the attacker's own) under another version, DEAD at incarnation 0xFFFFFFFF unsigned,
 * ALIVE at 0xFFFFFFFF with a broken signature. The test then reads the target's
 * rejection counters and checks the other member is still alive with its real record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "codec.h"
#include "envelope.h"
#include "gossip.h"
#include "hoststatus.h"
#include "identity.h"
#include "drover.pb-c.h"

static void send_bytes(void *s, const void *b, size_t n)
{
    if (zmq_send(s, b, n, 0) < 0)
        fprintf(stderr, "forge: send failed: %s\n", zmq_strerror(zmq_errno()));
}

/* One gossip message from `me` carrying one update, sealed by sm. */
static void send_update(void *s, ag_sealer *sm, const ag_identity *me, const struct gsp_update *u)
{
    struct gsp_msg m = {.type = GSP_MSG_GOSSIP, .n_updates = 1, .updates = u};
    memcpy(m.from.b, me->host_id, GSP_ID_LEN);
    uint8_t buf[4096], *b;
    size_t len, n;
    if (gsp_codec_encode(&m, buf, sizeof buf, &len) != 0) {
        fprintf(stderr, "forge: cannot encode a gossip update\n");
        return;
    }
    if (ag_env_seal(sm, DROVER__MSG_TYPE__MSG_GOSSIP, buf, len, 0, &b, &n) == 0) {
        send_bytes(s, b, n);
        free(b);
    }
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

    /* issue 12: lies about `other` inside well-sealed gossip, one per message */
    struct gsp_update u;
    uint8_t junk[64];
    memset(junk, 0xee, sizeof junk);
    memset(&u, 0, sizeof u);
    u.kind = GSP_UPD_STATUS;                                                 /* -> status_bad_signature */
    memcpy(u.subject.b, other.host_id, GSP_ID_LEN);
    memcpy(u.from.b, me.host_id, GSP_ID_LEN);
    u.status_version = UINT64_MAX;
    u.status = junk;
    u.status_len = sizeof junk;
    send_update(s, &sm, &me, &u);
    uint8_t *rec, material[16];
    size_t rlen;
    if (ag_status_make(&me, 1, 0, NULL, &rec, &rlen, material) == 0) {       /* -> status_version_mismatch */
        memcpy(u.subject.b, me.host_id, GSP_ID_LEN);   /* our own real record, version 1 */
        u.status = rec;
        u.status_len = (uint32_t)rlen;
        send_update(s, &sm, &me, &u);
        free(rec);
    }
    memset(&u, 0, sizeof u);
    u.kind = GSP_UPD_DEAD;                                                   /* -> incarnation_unsigned */
    memcpy(u.subject.b, other.host_id, GSP_ID_LEN);
    memcpy(u.from.b, me.host_id, GSP_ID_LEN);
    u.incarnation = GSP_INC_MAX;
    send_update(s, &sm, &me, &u);
    u.kind = GSP_UPD_ALIVE;                                                  /* -> incarnation_bad_signature */
    snprintf(u.addr, sizeof u.addr, "tcp://127.0.0.200:1");
    u.has_sig = 1;
    memset(u.sig, 0x42, sizeof u.sig);
    send_update(s, &sm, &me, &u);
    sleep(1);   /* let the queue drain before closing (LINGER default waits anyway) */
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

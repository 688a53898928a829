/* envelope.h — sealing and opening the signed Envelope that wraps every message that
 * crosses a host boundary (proto/drover.proto).
 *
 * Why our own signatures when libzmq CURVE already authenticates the connection: CURVE
 * proves who is on the other end of *this* connection, and its nonces stop replay within
 * that connection only. Messages are also relayed (gossip piggybacks, forwarded admin
 * requests) and connections come and go, so each message carries its sender, an epoch
 * and a sequence number under an Ed25519 signature, checked against a per-sender sliding
 * window (IPsec RFC 4303 §3.4.3 style). The sender's epoch is bumped and persisted on
 * every agent start, so seq may restart at 1 without reopening old windows.
 *
 * Order of checks in ag_env_open (cheap first, state updated only after the signature):
 *   size -> decode -> version -> cluster -> sender known -> sender is the authenticated
 *   peer -> signature -> epoch -> window.
 * The authenticated-peer check must come before the window is touched: otherwise one
 * member could push another member's window forward and silence it.
 *
 * Proofs (restore.h): for each sender the receiver keeps the newest small envelope it
 * accepted, whole. When that sender's epoch goes back (its state dir was restored), the
 * receiver shows it this envelope: the sender's own signature over an (epoch, seq) its
 * state does not know is proof no other member can forge.
 */
#ifndef DROVER_ENVELOPE_H
#define DROVER_ENVELOPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "identity.h"

#define AG_ENV_VERSION        1
#define AG_CLUSTER_ID_LEN     16
/* One envelope carries at most one Raft batch or snapshot chunk; 4 MiB bounds the memory
 * a single hostile datagram can make us allocate while decoding. */
#define AG_ENV_MAX_BYTES      (4u * 1024u * 1024u)
/* Window of sequence numbers accepted out of order. Gossip fans out over UDP-like paths
 * and zmq reconnects can reorder a little; 1024 is far beyond what we see and costs 128 B
 * per peer. */
#define AG_ENV_WINDOW         1024u
/* Largest envelope kept as a proof (gossip probes and acks are a few hundred bytes; a
 * sender always sends some). Costs this much per member, bounded by the member table. */
#define AG_ENV_PROOF_MAX      1024u

enum ag_env_err {
    AG_ENV_OK             = 0,
    AG_ENV_E_OVERSIZE     = -1,  /* larger than AG_ENV_MAX_BYTES */
    AG_ENV_E_DECODE       = -2,  /* not a protobuf Envelope (truncated, garbage) */
    AG_ENV_E_VERSION      = -3,  /* unknown wire version */
    AG_ENV_E_CLUSTER      = -4,  /* cluster_id is not ours */
    AG_ENV_E_SENDER       = -5,  /* sender id unknown (not a member) or malformed */
    AG_ENV_E_SIGNATURE    = -6,  /* signature does not verify */
    AG_ENV_E_OLD_EPOCH    = -7,  /* epoch older than the newest seen from that sender */
    AG_ENV_E_REPLAY       = -8,  /* (epoch, seq) already seen */
    AG_ENV_E_TOO_OLD      = -9,  /* seq fell behind the window */
    AG_ENV_E_FIELD        = -10, /* a field has a wrong length or value (seq 0, ...) */
    AG_ENV_E_NOMEM        = -11,
    AG_ENV_E_MISMATCH     = -12, /* signed by a member other than the authenticated peer */
    AG_ENV_ERR_COUNT      = 13,  /* number of codes incl. OK, for counters */
};

/* Human text for an ag_env_err: what was wrong, for logs and `drover status`. */
const char *ag_env_strerror(int code);
/* Short stable name ("bad_signature") for metrics. */
const char *ag_env_errname(int code);

/* Receiver-side state about one sender. */
typedef struct ag_replay {
    uint64_t epoch;                     /* newest epoch seen (0: none yet) */
    uint64_t top;                       /* highest seq accepted in that epoch */
    uint64_t bits[AG_ENV_WINDOW / 64];  /* bit i: seq (top - i) seen */
} ag_replay;

typedef struct ag_peer {
    uint8_t   id[AG_HOST_ID_LEN];
    uint8_t   sign_pk[32];
    ag_replay replay;
    /* newest accepted envelope of at most AG_ENV_PROOF_MAX bytes (proof_len 0: none) */
    uint64_t  proof_epoch, proof_seq;
    uint64_t  saved_epoch;   /* proof epoch last persisted (net.c), 0: none */
    uint64_t  notice_ms;     /* when we last sent this peer a notice (rate limit) */
    uint32_t  proof_len;
    uint8_t   proof[AG_ENV_PROOF_MAX];
} ag_peer;

/* Known senders, sorted by id. Membership (and later revocation) edits this table. */
typedef struct ag_peers {
    ag_peer *v;
    size_t   n, cap;
    /* epoch notices (restore.h) sent to members whose epoch went back, and those held
     * back by the per-member rate limit */
    uint64_t notices_sent, notices_held;
    /* a proof of a new epoch waits to be persisted (net.c: one write a second at most) */
    bool     proofs_dirty;
    uint64_t proofs_saved_ms;
} ag_peers;

/* Add or update a peer's key (keeps the replay state when the key is unchanged).
 * Returns 0, -EINVAL when sign_pk does not hash to id, -ENOMEM. */
int  ag_peers_put(ag_peers *t, const uint8_t id[AG_HOST_ID_LEN], const uint8_t sign_pk[32]);
ag_peer *ag_peers_find(ag_peers *t, const uint8_t id[AG_HOST_ID_LEN]);
/* Remove a peer: its messages fail with AG_ENV_E_SENDER from then on. */
void ag_peers_del(ag_peers *t, const uint8_t id[AG_HOST_ID_LEN]);
void ag_peers_free(ag_peers *t);

/* Sender side: this host's identity and its current (epoch, seq). */
typedef struct ag_sealer {
    const ag_identity *id;
    uint8_t  cluster_id[AG_CLUSTER_ID_LEN];
    uint64_t epoch;   /* from the store, bumped at start */
    uint64_t seq;     /* last used; next message gets seq + 1 */
    /* Set once a peer proved this host's state went back (restore.h): nothing is sealed
     * or delivered any more. The counters are the notices about us, by verdict. */
    bool     stale;
    uint64_t notices_stale, notices_benign, notices_bad;
} ag_sealer;

/* Seal payload into a signed, encoded Envelope in a malloc'd buffer.
 * Returns 0 or AG_ENV_E_OVERSIZE / AG_ENV_E_NOMEM. */
int ag_env_seal(ag_sealer *s, uint32_t type, const void *payload, size_t len,
                uint64_t sent_at_ms, uint8_t **out, size_t *outlen);

/* An opened envelope: fields checked, payload points into the decoded message. */
typedef struct ag_opened {
    uint32_t       type;
    uint64_t       epoch, seq, sent_at_ms;
    uint8_t        sender[AG_HOST_ID_LEN];
    const uint8_t *payload;
    size_t         payload_len;
    void          *msg_;    /* owned decoded message; release with ag_env_release */
} ag_opened;

/* Verify and decode. via, when not NULL, is the host the transport authenticated; the
 * envelope must be signed by that same host. On success (0) the sender's window records
 * (epoch, seq) and *out must be released; on error nothing is recorded and nothing needs
 * releasing. */
int ag_env_open(ag_peers *peers, const uint8_t cluster_id[AG_CLUSTER_ID_LEN],
                const uint8_t *via, const uint8_t *buf, size_t len, ag_opened *out);
void ag_env_release(ag_opened *o);

/* Check that buf is an envelope of our cluster signed by `self` (an envelope of ours a
 * peer sent back as proof) and give its (epoch, seq). No window is involved.
 * Returns 0 or an ag_env_err (AG_ENV_E_SENDER: signed by someone else). */
int ag_env_verify_own(const ag_identity *self, const uint8_t cluster_id[AG_CLUSTER_ID_LEN],
                      const uint8_t *buf, size_t len, uint64_t *epoch, uint64_t *seq);

/* Start p's state from a proof kept before a restart of this agent (net.c persists
 * them): the window resumes at the proof's (epoch, seq) with everything up to it seen,
 * so the sender's older self stays refused. buf must be p's own envelope of our cluster;
 * 0 or an ag_env_err, p unchanged on error. */
int ag_peer_load_proof(ag_peer *p, const uint8_t cluster_id[AG_CLUSTER_ID_LEN],
                       const uint8_t *buf, size_t len);

/* The window alone (exposed for tests and for persisting high-water marks).
 * Returns AG_ENV_OK after recording, or OLD_EPOCH / REPLAY / TOO_OLD without recording. */
int ag_replay_check(ag_replay *r, uint64_t epoch, uint64_t seq, bool record);

#endif

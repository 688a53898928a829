/* join.h — admitting new hosts, kubeadm/pvecm style.
 *
 *   host A: drover token create [--ttl 1h]
 *           -> prints: drover join tcp://A:PORT --token ID.SECRET --fingerprint FPR
 *   host B: drover init --join; drover agent ...; then the printed command.
 *
 * The token (8-byte id + 32-byte secret) is a replicated record, single use, with an
 * expiry. The join endpoint is a separate plaintext zmq socket (a new host has no
 * CURVE identity the cluster knows yet), rate-limited, whose every message is
 * authenticated: the request by crypto_auth with the token secret (which never travels),
 * the reply by the answering member's Ed25519 key, which the joiner pins by fingerprint.
 * Admission itself is one Raft command (CMD_ADMIT) that consumes the token and adds the
 * member atomically on every host; the leader then adds the host as a Raft learner and
 * it catches up from the log or a snapshot.
 */
#ifndef DROVER_JOIN_H
#define DROVER_JOIN_H

#include "agent.h"

/* Join endpoint port = cluster port + 1 (documented; one less thing to configure). */
#define AG_JOIN_PORT_OFFSET 1
/* Requests per second the endpoint answers in all (bucket of 20): enough for a rack
 * being added at once, too few for guessing tokens (2^256 secrets anyway). */
#define AG_JOIN_RATE_PER_S  10
#define AG_JOIN_BURST       20
/* Per source (peer IP): a joiner sends one request per `drover join`, so 1/s with a
 * burst of 5 never slows an operator, while one flooding source keeps at most that
 * share of the global bucket and everyone else still gets answers. */
#define AG_JOIN_SRC_RATE_PER_S 1
#define AG_JOIN_SRC_BURST      5
/* Sources remembered: a rack of joiners is tens; past this the least recently seen is
 * forgotten (it starts again with a full bucket, which the global bucket still caps). */
#define AG_JOIN_SOURCES_MAX 1024
#define AG_JOIN_SRC_KEY_MAX 48
/* Refusals are counted, and journalled as one summary event per this period at most:
 * a flood must not turn the journal over. */
#define AG_JOIN_SUMMARY_MS  60000
#define AG_JOIN_MSG_MAX     (16u << 10)

/* Why a join request was not admitted (counted per reason in `drover status`). */
typedef enum {
    AG_JOIN_R_OK,            /* not a refusal: functions return it for "go on" */
    AG_JOIN_R_RATE_SOURCE,   /* dropped unanswered: its source is over its rate */
    AG_JOIN_R_RATE_GLOBAL,   /* dropped unanswered: the endpoint is over its rate */
    AG_JOIN_R_MALFORMED,     /* not a join request */
    AG_JOIN_R_KEYS,          /* the joiner's host id or CURVE signature do not check */
    AG_JOIN_R_FINGERPRINT,   /* the joiner pinned another host */
    AG_JOIN_R_TOKEN,         /* unknown, used or revoked token */
    AG_JOIN_R_MAC,           /* wrong secret */
    AG_JOIN_R_EXPIRED,
    AG_JOIN_R_DUPLICATE,     /* a member has that name or address */
    AG_JOIN_R__N
} ag_join_reason;

const char *ag_join_reason_name(ag_join_reason r);

/* ---- per-source rate limit (pure; tests drive it with their own clock) ---- */
typedef struct {
    uint8_t key[AG_JOIN_SRC_KEY_MAX];
    uint8_t keylen;
    double tokens;
    uint64_t at_ms;   /* last refill, and so last seen */
} ag_join_src;

typedef struct {
    ag_join_src v[AG_JOIN_SOURCES_MAX];
    size_t n;
    uint64_t evicted;
    double tokens;    /* the global bucket */
    uint64_t at_ms;
} ag_join_limiter;

void ag_join_limiter_init(ag_join_limiter *l, uint64_t now_ms);
/* May source SRC (LEN bytes, longer keys are cut) send one request now? 0 (and the
 * request is charged to both buckets), AG_JOIN_R_RATE_SOURCE or AG_JOIN_R_RATE_GLOBAL. */
int ag_join_limiter_take(ag_join_limiter *l, const void *src, size_t len, uint64_t now_ms);

/* ---- wire parsing (pure: no secret, no state; the fuzz target drives these) ---- */
struct Drover__JoinRequest;
struct Drover__JoinRequestBody;
struct Drover__JoinReply;
struct Drover__JoinReplyBody;

typedef struct {
    struct Drover__JoinRequest *rq;
    struct Drover__JoinRequestBody *b;
    ag_member m;
} ag_join_req;

/* Decode and shape-check a join request. 0, or a reason with *why set; r is to be
 * freed with ag_join_req_free() either way. */
int  ag_join_req_parse(const uint8_t *buf, size_t len, ag_join_req *r, const char **why);
void ag_join_req_free(ag_join_req *r);

typedef struct {
    struct Drover__JoinReply *r;
    struct Drover__JoinReplyBody *b;
} ag_join_rep;

/* Decode a join reply and check it is from the host whose fingerprint is FPR, signed,
 * and answers NONCE. 0, or an ag_exit code with msg set; free with ag_join_rep_free(). */
int  ag_join_rep_parse(const uint8_t *buf, size_t len, const char *fpr, const uint8_t nonce[16],
                       ag_join_rep *r, char *msg, size_t msglen);
void ag_join_rep_free(ag_join_rep *r);

/* The endpoint's counters for `drover status` (NULL when not started). */
json_t *ag_join_status_json(ag_agent *a);

/* Register token.create / join / members.remove and, when in a cluster, bind the join
 * endpoint. 0 or an ag_exit code with err. */
int  ag_join_start(ag_agent *a, char *err, size_t errlen);
void ag_join_stop(ag_agent *a);

#endif

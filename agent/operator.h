/* operator.h — the operator credential: who may administer a cluster (issue 12, point 2).
 *
 * Host keys give host rights only (report, answer commands, define the VMs a host owns,
 * freeze itself); a join token gives a new host those rights and nothing more. Cluster
 * administration — admitting and evicting hosts, minting tokens, arbitrary replicated
 * keys, drains, protection, upgrade plans — needs an operator key: an Ed25519 key pair
 * that `drover init` creates with the cluster and that the operator keeps like a
 * kubeconfig (default /etc/drover/operator.key, 0600), usable from any host.
 *
 * The CLI signs every admin request; the signed bytes (the "grant") travel inside the
 * Raft Command (proto/state.proto AdminAuth) and are checked twice:
 *  - by the leader before it proposes: signature, an operator key of this cluster, the
 *    grant permits this exact command, issued_ms within AG_OP_FRESH_MS of its clock,
 *    nonce never seen (bounded table);
 *  - on apply, on every host, from replicated inputs only (deterministic): signature,
 *    key in the replicated state (key "operator/<fingerprint>") or in the static roster,
 *    the grant permits the command, nonce not in the replicated ring of recent grants.
 * So a member, even the leader, cannot forge an operator's change (docs/security.md,
 * "Operator credential").
 *
 * Grant bytes:  "drover-admin-v1\0" || cluster_id (16) || canonical JSON ||
 *               issued_ms (8, big-endian) || nonce (16)
 * canonical JSON = json_dumps({"cmd": METHOD, "args": ARGS}, JSON_SORT_KEYS|JSON_COMPACT),
 * ARGS being the control request's args without "auth". The signature is Ed25519 over
 * the grant bytes by the operator key.
 *
 * Key file (text, 0600, written O_EXCL|O_NOFOLLOW through ag_write_file_atomic):
 *   drover-operator-key-v1
 *   seed <64 hex>
 *   public <64 hex>
 *   fingerprint <8 groups of 5 base32, as host fingerprints>
 *
 * Errors: functions returning int give 0 or a negative errno, with err saying what was
 * wrong and what to do; the checks give an ag_op_reason.
 */
#ifndef DROVER_OPERATOR_H
#define DROVER_OPERATOR_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "identity.h"

struct hac_prop;
struct hac_rstate;

#define AG_OP_DOMAIN       "drover-admin-v1"   /* signed with its NUL */
#define AG_OP_DOMAIN_LEN   16
#define AG_OP_NONCE_LEN    16
#define AG_OP_GRANT_MAX    (64u << 10)        /* an upgrade order of 1,024 hosts fits */
#define AG_OP_DEFAULT_PATH "/etc/drover/operator.key"
#define AG_OP_ENV          "DROVER_OPERATOR_KEY"
/* A grant is good this long either side of the leader's clock: long enough for a CLI
 * waiting on an election, short enough that a leaked grant soon expires. */
#define AG_OP_FRESH_MS     (5 * 60 * 1000)
/* Grants the leader remembers (issued within AG_OP_FRESH_MS); an operator issues a few a
 * minute, 4,096 in five minutes is a runaway script. */
#define AG_OP_NONCES_MAX   4096
/* Grants every host remembers in the replicated state (key AG_OP_RING_KEY). */
#define AG_OP_RING_MAX     256
#define AG_OP_RING_KEY     "admin/nonces"
#define AG_OP_STATE_PREFIX "operator/"

/* Why an admin write was refused. Counted per reason in `drover status` (admin). */
typedef enum ag_op_reason {
    AG_OPR_OK = 0,
    AG_OPR_NO_GRANT,      /* an admin write without the operator credential */
    AG_OPR_MALFORMED,     /* the grant does not parse */
    AG_OPR_BAD_SIG,       /* the signature does not verify */
    AG_OPR_UNKNOWN_KEY,   /* a valid signature by a key that is no operator of this cluster */
    AG_OPR_OTHER_CLUSTER, /* a grant for another cluster */
    AG_OPR_MISMATCH,      /* the grant is for another command or other arguments */
    AG_OPR_STALE,         /* issued_ms too far from the leader's clock */
    AG_OPR_REPLAY,        /* the grant was used before */
    AG_OPR_NOT_OWNER,     /* a host right asked for someone else (another host's VM, freeze) */
    AG_OPR_FULL,          /* the leader's nonce table is full */
    AG_OPR__N
} ag_op_reason;
const char *ag_op_reason_name(ag_op_reason r);   /* "bad_signature", ... */

typedef struct ag_opkey {
    uint8_t pk[32];
    uint8_t sk[64];
    char fpr[AG_FPR_STRLEN];
} ag_opkey;

/* ---- the key file (CLI) ----------------------------------------------------------- */

/* Create a new key at path (parent made 0700 if absent). -EEXIST when path exists. */
int  ag_op_create(const char *path, ag_opkey *out, char *err, size_t errlen);
/* Load path. -ENOENT missing, -EACCES unreadable, -EINVAL malformed or mode wider than
 * 0600. err says what to do. */
int  ag_op_load(const char *path, ag_opkey *out, char *err, size_t errlen);
/* The file the CLI uses: opt (--operator-key), else $DROVER_OPERATOR_KEY, else default. */
const char *ag_op_path(const char *opt);
void ag_op_wipe(ag_opkey *k);

/* ---- grants ------------------------------------------------------------------------- */

/* Sign {cmd, args} for cluster_id: returns the "auth" object the CLI adds to args
 * ({"request": hex, "signature": hex, "operator": hex}) or NULL (out of memory). */
json_t *ag_op_sign(const ag_opkey *k, const uint8_t cluster_id[AG_CLUSTER_ID_LEN], const char *cmd,
                   json_t *args, uint64_t issued_ms, const uint8_t nonce[AG_OP_NONCE_LEN]);

/* An opened grant. req is {"cmd": ..., "args": {...}}; cmd and args point into it. */
typedef struct ag_grant {
    uint8_t cluster_id[AG_CLUSTER_ID_LEN];
    uint8_t pk[32];
    char fpr[AG_FPR_STRLEN];
    uint64_t issued_ms;
    uint8_t nonce[AG_OP_NONCE_LEN];
    json_t *req;
    const char *cmd;
    json_t *args;
} ag_grant;

/* Parse and verify the signature of a grant (bytes as carried in AdminAuth). On success
 * g->req must be released with ag_grant_free. MALFORMED, BAD_SIG, OTHER_CLUSTER. */
ag_op_reason ag_grant_open(const uint8_t *request, size_t rlen, const uint8_t *sig, size_t siglen,
                           const uint8_t *pk, size_t pklen, const uint8_t cluster_id[AG_CLUSTER_ID_LEN],
                           ag_grant *g);
void ag_grant_free(ag_grant *g);
/* The auth object of a control request -> grant bytes, signature and key (malloc'd, the
 * caller frees *request and *sig). -EINVAL when absent or not hex. */
int  ag_op_auth_bytes(json_t *auth, uint8_t **request, size_t *rlen, uint8_t **sig, size_t *siglen,
                      uint8_t pk[32]);
/* The grant was made for exactly this control request (method and args, "auth" aside). */
bool ag_grant_is_for(const ag_grant *g, const char *method, json_t *args);

/* What a Raft command does, as far as a grant must permit it. */
typedef struct ag_op_act {
    int op;                        /* Drover__CommandOp */
    const char *key;
    const uint8_t *val;
    size_t vlen;
    const struct hac_prop *prop;   /* CMD_HA, decoded */
    const char *member_name;       /* DEL member/<id>: that member's name (NULL unknown) */
    const struct hac_rstate *st;   /* CMD_HA: the HA state it applies to (names of indices) */
} ag_op_act;

/* Does grant g permit act? state.put -> PUT of the same key and value (DEL with
 * "delete"); members.remove -> DEL of that member's record; token.create -> one PUT
 * under token/; token.revoke -> DEL of token/<args.id>; ha.admin -> ADMIN of that host
 * (or the confirm-off unfreeze); ha.protect -> PROTECT of that VM with the same
 * settings; ha.upgrade -> an UPGRADE plan in the asked state with the asked command.
 * MISMATCH otherwise (why says what). */
ag_op_reason ag_op_permits(const ag_grant *g, const ag_op_act *act, char *why, size_t whylen);

/* Is issued_ms within AG_OP_FRESH_MS of now_ms (either side)? */
bool ag_op_fresh(uint64_t issued_ms, uint64_t now_ms);

/* The leader's table of grants used within AG_OP_FRESH_MS. */
typedef struct ag_op_nonces {
    struct { uint8_t nonce[AG_OP_NONCE_LEN]; uint64_t issued_ms; } v[AG_OP_NONCES_MAX];
    uint32_t n;
} ag_op_nonces;
/* REPLAY if seen, FULL if no room (after dropping entries no longer fresh), else OK;
 * record only when record is true (after the proposal was taken). */
ag_op_reason ag_op_nonce_check(ag_op_nonces *t, const uint8_t nonce[AG_OP_NONCE_LEN], uint64_t issued_ms,
                               uint64_t now_ms, bool record);

/* Replicated ring (value of AG_OP_RING_KEY, n * 16 bytes): REPLAY if nonce is in it,
 * else OK and *out (malloc'd, *outlen) is the ring with nonce added, oldest dropped past
 * AG_OP_RING_MAX. -ENOMEM as AG_OPR__N. */
ag_op_reason ag_op_ring_add(const uint8_t *ring, size_t len, const uint8_t nonce[AG_OP_NONCE_LEN],
                            uint8_t **out, size_t *outlen);

/* Is key one only an operator may write (everything but vmxml/<name>)? */
bool ag_op_key_is_admin(const char *key);

#endif

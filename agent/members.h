/* members.h — the agent's table of cluster members and their keys.
 *
 * Every authenticated path reads this one table: the envelope layer (signing keys), the
 * transport's ZAP handler (CURVE keys) and the drivers (addresses). Until Raft-based
 * admission lands (`drover join`), it is filled from a static roster file that the
 * operator assembles from each host's `drover roster line`; afterwards from the
 * replicated state. Either way each entry is checked on the way in: the host ID must be
 * the hash of the signing key, and the CURVE key must carry that signing key's signature.
 *
 * Roster file (text; '#' comments):
 *   cluster_id = <32 hex>
 *   member = <name> <host_id hex> <sign_pk hex> <curve_pk hex> <curve_sig hex> <tcp://addr:port>
 *   operator = <Ed25519 public key hex>   (operator.h; `drover roster operator` prints it)
 */
#ifndef DROVER_MEMBERS_H
#define DROVER_MEMBERS_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "identity.h"

#define AG_MEMBER_ADDR_MAX 64
#define AG_MEMBER_NAME_MAX 64
#define AG_MEMBERS_MAX     4096   /* matches the gossip core's table limit */
#define AG_ROSTER_OPERATORS_MAX 8   /* a few people, or a key being rotated */

typedef struct ag_member {
    char    name[AG_MEMBER_NAME_MAX];
    uint8_t id[AG_HOST_ID_LEN];
    uint8_t sign_pk[32];
    uint8_t curve_pk[32];
    uint8_t curve_sig[64];
    char    addr[AG_MEMBER_ADDR_MAX];
    char    domain[AG_MEMBER_NAME_MAX];   /* failure domain label, "" = none */
} ag_member;

typedef struct ag_members {
    uint8_t    cluster_id[AG_CLUSTER_ID_LEN];
    ag_member *v;
    size_t     n;
    /* operator keys listed in a static roster (no bootstrap entry can name them: every
     * host derives its first entries from the roster alone) */
    uint8_t    operators[AG_ROSTER_OPERATORS_MAX][32];
    size_t     n_operators;
} ag_members;

/* Parse a roster. 0, or -1 with err = "FILE:LINE: what is wrong". */
int  ag_members_load(const char *path, ag_members *out, char *err, size_t errlen);
void ag_members_free(ag_members *m);
const ag_member *ag_members_find(const ag_members *m, const uint8_t id[AG_HOST_ID_LEN]);
const ag_member *ag_members_by_addr(const ag_members *m, const char *addr);

struct Drover__Member;
/* Checked conversion from a replicated or received member record (same checks as the
 * roster: id = hash of signing key, CURVE key signed by it, address form). 0 or -EINVAL. */
int  ag_member_from_pb(const struct Drover__Member *pb, ag_member *out);
/* Fill pb (pointing into id/buffers the caller keeps alive) for this host. */
void ag_member_self_pb(const ag_identity *id, const char *name, const char *addr,
                       const char *domain, struct Drover__Member *pb);
/* Add or replace one member (by id). -ENOSPC past AG_MEMBERS_MAX, -ENOMEM. */
int  ag_members_put(ag_members *m, const ag_member *mb);

/* The roster line that describes this host. */
int  ag_members_line(const ag_identity *id, const char *name, const char *addr,
                     char *out, size_t outlen);

#endif

/* admin.h — admin requests on the control socket: the agent side of the operator
 * credential (operator.h has the grant format and the checks).
 *
 * A handler that changes the cluster (state.put, token.create, members.remove,
 * ha.admin, ha.protect, ha.upgrade) calls ag_admin_begin first: it opens the grant in
 * args.auth, checks it was made for this very request, for this cluster, by one of its
 * operator keys — so a wrong or missing key is told at once, "what was wrong and what to
 * do" — and keeps the caller's uid for the journal. The handler attaches the grant to its
 * Raft command (ag_admin_attach), where the leader and every host check it again; and
 * when the request ends, ag_admin_end journals who asked and what came of it.
 *
 * `admin.info` answers {cluster_id, operators: [fingerprint...]} so the CLI can sign for
 * this cluster and say "this key is not this cluster's operator" before asking.
 */
#ifndef DROVER_ADMIN_H
#define DROVER_ADMIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "ctl.h"
#include "operator.h"
#include "store.h"

struct Drover__Command;

typedef struct ag_admin {
    char method[32];
    char fpr[AG_FPR_STRLEN];
    uint32_t uid, pid;
    uint8_t pk[32];
    uint8_t *request, *sig;
    size_t rlen, siglen;
} ag_admin;

/* Check req's grant for method/args. On success *out (free with ag_admin_end). On
 * refusal req is finished with AG_EX_NOPERM (or AG_EX_UNAVAILABLE outside a cluster) and
 * a non-zero exit code is returned. */
int  ag_admin_begin(ag_agent *a, ag_ctl_req *req, const char *method, json_t *args, ag_admin **out);
struct Drover__AdminAuth;
/* Point c->auth at auth, filled from ad (both must outlive the command's encoding). */
void ag_admin_attach(const ag_admin *ad, struct Drover__Command *c, struct Drover__AdminAuth *auth);
/* Journal the outcome (what: a short description, e.g. "token created") and free ad. */
void ag_admin_end(ag_agent *a, ag_admin *ad, int code, uint64_t index, const char *what, const char *error);

/* Is pk an operator key of this cluster: under operator/<fingerprint> in the replicated
 * state (read in txn, the state's dbi; txn NULL reads the store), or listed in the
 * static roster? */
bool ag_admin_known(ag_agent *a, MDB_txn *txn, MDB_dbi state, const uint8_t pk[32]);

/* Register admin.info. */
void ag_admin_register(ag_agent *a);

#endif

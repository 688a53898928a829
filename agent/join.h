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
/* Requests per second the endpoint answers (bucket of 20): enough for a rack being
 * added at once, too few for guessing tokens (2^256 secrets anyway). */
#define AG_JOIN_RATE_PER_S  10
#define AG_JOIN_BURST       20
#define AG_JOIN_MSG_MAX     (16u << 10)

/* Register token.create / join / members.remove and, when in a cluster, bind the join
 * endpoint. 0 or an ag_exit code with err. */
int  ag_join_start(ag_agent *a, char *err, size_t errlen);
void ag_join_stop(ag_agent *a);

#endif

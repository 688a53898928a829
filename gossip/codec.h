/* codec.h — gossip messages <-> protobuf-c (proto/gossip.proto, message GossipMsg).
 *
 * Not part of the pure core: it links libprotobuf-c.  Transports (agent/) and the
 * simulator use it to put the core's gsp_msg on a wire.  The decoder treats its input as
 * hostile: sizes are bounded before and after parsing, every id must be 16 bytes, every
 * enum must be known, every string must fit the core's fixed buffers.
 */
#ifndef DROVER_GOSSIP_CODEC_H
#define DROVER_GOSSIP_CODEC_H

#include "gossip.h"

/* A push-pull digest of members_max (4096) members is ~350 KiB; 1 MiB leaves room for a
 * few status records on top and still stops an attacker from making us parse more. */
#define GSP_CODEC_MSG_MAX (1u << 20)
/* Two entries per member (digest + status) at members_max 4096. */
#define GSP_CODEC_UPDATES_MAX 8192u

/* Size of the encoding of m, or 0 if m cannot be encoded (see gsp_codec_encode). */
size_t gsp_codec_size(const struct gsp_msg *m);

/* Encode m into buf[0..cap).  Errors: -EINVAL (unknown type/kind, string not
 * terminated, too many updates, status too large), -EMSGSIZE (encoding larger than cap
 * or than GSP_CODEC_MSG_MAX), -ENOMEM. */
int gsp_codec_encode(const struct gsp_msg *m, uint8_t *buf, size_t cap, size_t *len);

/* A decoded message: `msg` and everything it points to live until gsp_codec_free(). */
struct gsp_codec_msg {
	struct gsp_msg msg;
};

/* Decode buf[0..len).  On error *why (if not NULL) names the problem in a few words.
 * Errors: -EMSGSIZE (len > GSP_CODEC_MSG_MAX or too many updates), -EBADMSG (not a
 * GossipMsg, or a field out of range), -ENOMEM. */
int gsp_codec_decode(const uint8_t *buf, size_t len, struct gsp_codec_msg **out,
                     const char **why);
void gsp_codec_free(struct gsp_codec_msg *m);

#endif

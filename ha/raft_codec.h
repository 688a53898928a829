/* raft_codec.h — struct raft_message <-> wire bytes (proto/raft.proto, protobuf-c).
 *
 * Kept out of raft.h so the core stays libc-only; this library (drover_raft_codec)
 * links drover_proto. The decoder is the trust boundary for Raft traffic: a decoded
 * message is structurally valid (known type, non-zero ids, entry types known, sizes
 * bounded, snapshot chunk inside its snapshot, configuration well-formed) so the
 * core can rely on it. It does not authenticate: the envelope layer (agent/) has
 * verified the sender's signature and must check that m.from is that sender.
 */
#ifndef DROVER_RAFT_CODEC_H
#define DROVER_RAFT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "raft.h"

/* Bounds enforced on decode (and encode), each named so the agent can log them:
 *  - entries per message: opts.batch_entries_max is far below; 4096 bounds memory of
 *    one decoded message even from a misbehaving peer.
 *  - bytes per entry / snapshot chunk: 16 MiB, larger than any drover command or
 *    chunk, smaller than anything that could exhaust a host. */
#define RAFT_CODEC_ENTRIES_MAX 4096u
#define RAFT_CODEC_ENTRY_BYTES_MAX (16u << 20)
#define RAFT_CODEC_CHUNK_BYTES_MAX (16u << 20)

/* A decoded message and the storage its pointers refer to. */
struct raft_wire {
    struct raft_message m;
    struct raft_entry *entries;
    struct raft_configuration config;
    void *pb; /* the unpacked protobuf message owning entry and chunk bytes */
};

/* Encode m into a malloc'd buffer (*out, *len; free() it). An INSTALL_SNAPSHOT must
 * have its chunk data filled in. Errors: RAFT_EINVAL (m violates the bounds above or
 * lacks chunk data/config), RAFT_ENOMEM. */
int raft_codec_encode(const struct raft_message *m, uint8_t **out, size_t *len);

/* Decode len bytes into w. On success w->m is ready for RAFT_EV_RECEIVE and stays
 * valid until raft_wire_free(w). On error w needs no freeing, and err (if not NULL)
 * holds a one-line reason such as "entry 3: unknown type 9". Errors: RAFT_ECORRUPT
 * (not protobuf, or fails validation), RAFT_ENOMEM. */
int raft_codec_decode(const uint8_t *buf, size_t len, struct raft_wire *w, char *err,
                      size_t errlen);
void raft_wire_free(struct raft_wire *w);

#endif

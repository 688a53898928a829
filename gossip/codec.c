/* codec.c — mapping between the core's gsp_msg and proto/gossip.proto.
 *
 * The core stays codec-free so the simulator can skip encoding when it wants to; this
 * file is the one place that knows the wire.  Encoding borrows the caller's memory (no
 * copies of status bodies): protobuf-c structs are filled with pointers into the gsp_msg
 * and packed into the caller's buffer.  Decoding keeps the unpacked protobuf alive
 * alongside the gsp_msg, and status pointers borrow from it, so a decode is one unpack
 * plus one array of updates.  Input is untrusted (it crossed a host boundary, even if the
 * envelope was signed by a member, a member may be buggy): every length is checked
 * before it is copied into a fixed-size buffer, and protobuf-c's own parser runs only on
 * inputs no longer than GSP_CODEC_MSG_MAX.
 */
#include "codec.h"

#include "gossip.pb-c.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct codec_holder {
	struct gsp_codec_msg pub;
	Drover__GossipMsg *pb;
	struct gsp_update *updates;
};

static bool str_ok(const char *s)
{
	return memchr(s, 0, GSP_ADDR_MAX) != NULL;
}

static ProtobufCBinaryData id_bin(const gsp_id *id)
{
	ProtobufCBinaryData b = {GSP_ID_LEN, (uint8_t *)id->b};
	return b;
}

/* Builds the protobuf view of m; *ups and *ptrs are allocated here. */
static int to_pb(const struct gsp_msg *m, Drover__GossipMsg *pb, Drover__GossipUpdate **ups,
                 Drover__GossipUpdate ***ptrs)
{
	if (m->type < GSP_MSG_PING || m->type > GSP_MSG_STATUS_PULL || !str_ok(m->target_addr) ||
	    m->n_updates > GSP_CODEC_UPDATES_MAX || (m->n_updates && !m->updates))
		return -EINVAL;
	drover__gossip_msg__init(pb);
	pb->type = (Drover__GossipMsgType)m->type;
	pb->from = id_bin(&m->from);
	if (!gsp_id_is_zero(m->to))
		pb->to = id_bin(&m->to);
	pb->seq = m->seq;
	if (!gsp_id_is_zero(m->target))
		pb->target = id_bin(&m->target);
	pb->target_addr = (char *)m->target_addr;
	pb->join = m->join != 0;
	*ups = NULL;
	*ptrs = NULL;
	if (m->n_updates == 0)
		return 0;
	*ups = calloc(m->n_updates, sizeof(**ups));
	*ptrs = calloc(m->n_updates, sizeof(**ptrs));
	if (!*ups || !*ptrs)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_updates; i++) {
		const struct gsp_update *u = &m->updates[i];
		Drover__GossipUpdate *p = &(*ups)[i];
		if (u->kind > GSP_UPD_STATUS_HAVE || !str_ok(u->addr) || u->status_len > GSP_STATUS_MAX ||
		    (u->status_len && !u->status))
			return -EINVAL;
		drover__gossip_update__init(p);
		p->kind = (Drover__GossipUpdateKind)u->kind;
		p->subject = id_bin(&u->subject);
		if (!gsp_id_is_zero(u->from) && (u->kind == GSP_UPD_SUSPECT || u->kind == GSP_UPD_DEAD))
			p->from = id_bin(&u->from);
		p->incarnation = u->incarnation;
		p->addr = (char *)u->addr;
		p->status_version = u->status_version;
		if (u->kind == GSP_UPD_STATUS) {
			p->status.len = u->status_len;
			p->status.data = (uint8_t *)u->status;
		}
		if (u->has_sig) {
			p->signature.len = GSP_SIG_LEN;
			p->signature.data = (uint8_t *)u->sig;
		}
		(*ptrs)[i] = p;
	}
	pb->n_updates = m->n_updates;
	pb->updates = *ptrs;
	return 0;
}

size_t gsp_codec_size(const struct gsp_msg *m)
{
	Drover__GossipMsg pb;
	Drover__GossipUpdate *ups, **ptrs;
	size_t n = 0;
	if (to_pb(m, &pb, &ups, &ptrs) == 0)
		n = drover__gossip_msg__get_packed_size(&pb);
	free(ups);
	free(ptrs);
	return n;
}

int gsp_codec_encode(const struct gsp_msg *m, uint8_t *buf, size_t cap, size_t *len)
{
	if (!m || !buf || !len)
		return -EINVAL;
	Drover__GossipMsg pb;
	Drover__GossipUpdate *ups, **ptrs;
	int rc = to_pb(m, &pb, &ups, &ptrs);
	if (rc == 0) {
		size_t need = drover__gossip_msg__get_packed_size(&pb);
		if (need > cap || need > GSP_CODEC_MSG_MAX)
			rc = -EMSGSIZE;
		else
			*len = drover__gossip_msg__pack(&pb, buf);
	}
	free(ups);
	free(ptrs);
	return rc;
}

static int copy_id(const ProtobufCBinaryData *b, gsp_id *id, bool optional)
{
	if (b->len == 0 && optional) {
		memset(id, 0, sizeof(*id));
		return 0;
	}
	if (b->len != GSP_ID_LEN)
		return -1;
	memcpy(id->b, b->data, GSP_ID_LEN);
	return 0;
}

static int copy_str(const char *s, char *dst)
{
	size_t n = s ? strlen(s) : 0;
	if (n >= GSP_ADDR_MAX)
		return -1;
	memset(dst, 0, GSP_ADDR_MAX);
	if (n)
		memcpy(dst, s, n);
	return 0;
}

#define BAD(reason) do { if (why) *why = (reason); rc = -EBADMSG; goto err_after_unpack; } while (0)

int gsp_codec_decode(const uint8_t *buf, size_t len, struct gsp_codec_msg **out,
                     const char **why)
{
	int rc;
	if (why)
		*why = NULL;
	if (!out || (!buf && len))
		return -EINVAL;
	if (len > GSP_CODEC_MSG_MAX) {
		if (why)
			*why = "message larger than GSP_CODEC_MSG_MAX";
		return -EMSGSIZE;
	}
	struct codec_holder *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->pb = drover__gossip_msg__unpack(NULL, len, buf);
	if (!h->pb) {
		free(h);
		if (why)
			*why = "not a GossipMsg encoding";
		return -EBADMSG;
	}
	Drover__GossipMsg *pb = h->pb;
	struct gsp_msg *m = &h->pub.msg;
	if (pb->type < DROVER__GOSSIP_MSG_TYPE__GOSSIP_MSG_PING ||
	    pb->type > DROVER__GOSSIP_MSG_TYPE__GOSSIP_MSG_STATUS_PULL)
		BAD("unknown message type");
	m->type = (enum gsp_msg_type)pb->type;
	if (copy_id(&pb->from, &m->from, false) || gsp_id_is_zero(m->from))
		BAD("sender id is not 16 bytes");
	if (copy_id(&pb->to, &m->to, true) || copy_id(&pb->target, &m->target, true))
		BAD("receiver or target id is not 16 bytes");
	if (copy_str(pb->target_addr, m->target_addr))
		BAD("target address too long");
	m->seq = pb->seq;
	m->join = pb->join ? 1 : 0;
	if (pb->n_updates > GSP_CODEC_UPDATES_MAX) {
		if (why)
			*why = "too many updates";
		rc = -EMSGSIZE;
		goto err_after_unpack;
	}
	if (pb->n_updates) {
		h->updates = calloc(pb->n_updates, sizeof(*h->updates));
		if (!h->updates) {
			rc = -ENOMEM;
			goto err_after_unpack;
		}
	}
	for (size_t i = 0; i < pb->n_updates; i++) {
		const Drover__GossipUpdate *p = pb->updates[i];
		struct gsp_update *u = &h->updates[i];
		if (p->kind < DROVER__GOSSIP_UPDATE_KIND__GOSSIP_UPDATE_ALIVE ||
		    p->kind > DROVER__GOSSIP_UPDATE_KIND__GOSSIP_UPDATE_STATUS_HAVE)
			BAD("unknown update kind");
		u->kind = (enum gsp_upd_kind)p->kind;
		if (copy_id(&p->subject, &u->subject, false) || gsp_id_is_zero(u->subject))
			BAD("update subject is not a 16-byte id");
		if (copy_id(&p->from, &u->from, true))
			BAD("update accuser is not a 16-byte id");
		if (copy_str(p->addr, u->addr))
			BAD("update address too long");
		if (p->status.len > GSP_STATUS_MAX)
			BAD("status record larger than GSP_STATUS_MAX");
		if (p->signature.len != 0 && p->signature.len != GSP_SIG_LEN)
			BAD("signature is not 64 bytes");
		u->has_sig = p->signature.len == GSP_SIG_LEN;
		if (u->has_sig)
			memcpy(u->sig, p->signature.data, GSP_SIG_LEN);
		u->incarnation = p->incarnation;
		u->status_version = p->status_version;
		u->status_len = (uint32_t)p->status.len;
		u->status = p->status.len ? p->status.data : NULL;
	}
	m->n_updates = pb->n_updates;
	m->updates = h->updates;
	*out = &h->pub;
	return 0;

err_after_unpack:
	free(h->updates);
	drover__gossip_msg__free_unpacked(h->pb, NULL);
	free(h);
	return rc;
}

void gsp_codec_free(struct gsp_codec_msg *m)
{
	if (!m)
		return;
	struct codec_holder *h = (struct codec_holder *)m;
	free(h->updates);
	drover__gossip_msg__free_unpacked(h->pb, NULL);
	free(h);
}

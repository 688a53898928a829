/* envelope.c — see envelope.h for why messages are signed on top of CURVE.
 *
 * What is signed: BLAKE2b-256 over a fixed-layout header (domain tag, version, cluster,
 * sender, epoch, seq, sent_at, type, payload length) followed by the payload. Hashing a
 * layout we define — not the protobuf bytes — keeps the signature independent of how a
 * protobuf encoder orders or pads fields, and binds the payload length so no two field
 * splits give the same digest. Ed25519 then signs the 32-byte digest.
 */
#include "envelope.h"
#include "drover.pb-c.h"

#include <endian.h>
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define SIG_DOMAIN "drover-env-v1"

static const struct {
    const char *name, *text;
} env_errors[AG_ENV_ERR_COUNT] = {
    {"ok", "ok"},
    {"oversize", "message larger than the 4 MiB limit"},
    {"decode", "not a drover envelope (truncated or garbage bytes)"},
    {"version", "unknown wire version (peer runs an incompatible drover)"},
    {"cluster", "message belongs to another cluster"},
    {"unknown_sender", "sender is not a member of this cluster"},
    {"bad_signature", "signature does not verify"},
    {"old_epoch", "sender epoch older than one already seen (stale or replayed)"},
    {"replay", "message already received (replay)"},
    {"too_old", "sequence number fell behind the replay window"},
    {"bad_field", "a field has a wrong length or value"},
    {"nomem", "out of memory"},
    {"sender_mismatch", "signed by a member other than the host on this connection"},
};

const char *ag_env_strerror(int code)
{
    int i = -code;
    return (i >= 0 && i < AG_ENV_ERR_COUNT) ? env_errors[i].text : "unknown envelope error";
}

const char *ag_env_errname(int code)
{
    int i = -code;
    return (i >= 0 && i < AG_ENV_ERR_COUNT) ? env_errors[i].name : "unknown";
}

/* ---- peers table ---------------------------------------------------------------- */

static size_t peers_lower(const ag_peers *t, const uint8_t id[AG_HOST_ID_LEN])
{
    size_t lo = 0, hi = t->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (memcmp(t->v[mid].id, id, AG_HOST_ID_LEN) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

ag_peer *ag_peers_find(ag_peers *t, const uint8_t id[AG_HOST_ID_LEN])
{
    size_t i = peers_lower(t, id);
    return (i < t->n && memcmp(t->v[i].id, id, AG_HOST_ID_LEN) == 0) ? &t->v[i] : NULL;
}

int ag_peers_put(ag_peers *t, const uint8_t id[AG_HOST_ID_LEN], const uint8_t sign_pk[32])
{
    uint8_t want[AG_HOST_ID_LEN];
    ag_host_id_of(sign_pk, want);
    if (memcmp(want, id, AG_HOST_ID_LEN) != 0)
        return -EINVAL;
    ag_peer *p = ag_peers_find(t, id);
    if (p)
        return 0;   /* id is a hash of the key: same id, same key */
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        ag_peer *v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return -ENOMEM;
        t->v = v;
        t->cap = cap;
    }
    size_t i = peers_lower(t, id);
    memmove(&t->v[i + 1], &t->v[i], (t->n - i) * sizeof *t->v);
    memset(&t->v[i], 0, sizeof t->v[i]);
    memcpy(t->v[i].id, id, AG_HOST_ID_LEN);
    memcpy(t->v[i].sign_pk, sign_pk, 32);
    t->n++;
    return 0;
}

void ag_peers_del(ag_peers *t, const uint8_t id[AG_HOST_ID_LEN])
{
    ag_peer *p = ag_peers_find(t, id);
    if (!p)
        return;
    size_t i = (size_t)(p - t->v);
    memmove(&t->v[i], &t->v[i + 1], (t->n - i - 1) * sizeof *t->v);
    t->n--;
}

void ag_peers_free(ag_peers *t)
{
    free(t->v);
    memset(t, 0, sizeof *t);
}

/* ---- replay window (RFC 4303 §3.4.3, extended with epochs) -------------------------- */

static bool bit_get(const ag_replay *r, uint64_t i)
{
    return (r->bits[i / 64] >> (i % 64)) & 1u;
}

static void bit_set(ag_replay *r, uint64_t i)
{
    r->bits[i / 64] |= (uint64_t)1 << (i % 64);
}

/* Shift the window by `by` sequence numbers: bit i moves to bit i + by (a left shift
 * of the multi-word bitmap); bits pushed past the window are forgotten. */
static void window_advance(ag_replay *r, uint64_t by)
{
    const size_t nw = AG_ENV_WINDOW / 64;
    if (by >= AG_ENV_WINDOW) {
        memset(r->bits, 0, sizeof r->bits);
        return;
    }
    size_t words = (size_t)(by / 64);
    unsigned sh = (unsigned)(by % 64);
    for (size_t k = nw; k-- > 0;) {
        uint64_t v = 0;
        if (k >= words) {
            v = r->bits[k - words] << sh;
            if (sh && k > words)
                v |= r->bits[k - words - 1] >> (64 - sh);
        }
        r->bits[k] = v;
    }
}

int ag_replay_check(ag_replay *r, uint64_t epoch, uint64_t seq, bool record)
{
    if (epoch < r->epoch)
        return AG_ENV_E_OLD_EPOCH;
    if (epoch > r->epoch) {
        if (record) {
            memset(r, 0, sizeof *r);
            r->epoch = epoch;
            r->top = seq;
            bit_set(r, 0);
        }
        return AG_ENV_OK;
    }
    if (seq > r->top) {
        if (record) {
            window_advance(r, seq - r->top);
            r->top = seq;
            bit_set(r, 0);
        }
        return AG_ENV_OK;
    }
    uint64_t back = r->top - seq;
    if (back >= AG_ENV_WINDOW)
        return AG_ENV_E_TOO_OLD;
    if (bit_get(r, back))
        return AG_ENV_E_REPLAY;
    if (record)
        bit_set(r, back);
    return AG_ENV_OK;
}

/* ---- seal / open -------------------------------------------------------------------- */

static void put32(uint8_t *p, uint32_t v) { v = htobe32(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { v = htobe64(v); memcpy(p, &v, 8); }

static void digest(uint8_t out[32], uint32_t version, const uint8_t *cluster,
                   const uint8_t *sender, uint64_t epoch, uint64_t seq, uint64_t sent_at,
                   uint32_t type, const uint8_t *payload, size_t len)
{
    uint8_t hdr[sizeof SIG_DOMAIN + 4 + AG_CLUSTER_ID_LEN + AG_HOST_ID_LEN + 8 * 3 + 4 + 8];
    size_t o = 0;
    memcpy(hdr, SIG_DOMAIN, sizeof SIG_DOMAIN);   /* includes the NUL: domain separator */
    o += sizeof SIG_DOMAIN;
    put32(hdr + o, version); o += 4;
    memcpy(hdr + o, cluster, AG_CLUSTER_ID_LEN); o += AG_CLUSTER_ID_LEN;
    memcpy(hdr + o, sender, AG_HOST_ID_LEN); o += AG_HOST_ID_LEN;
    put64(hdr + o, epoch); o += 8;
    put64(hdr + o, seq); o += 8;
    put64(hdr + o, sent_at); o += 8;
    put32(hdr + o, type); o += 4;
    put64(hdr + o, (uint64_t)len); o += 8;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, hdr, o);
    if (len)
        crypto_generichash_update(&st, payload, len);
    crypto_generichash_final(&st, out, 32);
}

int ag_env_seal(ag_sealer *s, uint32_t type, const void *payload, size_t len,
                uint64_t sent_at_ms, uint8_t **out, size_t *outlen)
{
    if (len > AG_ENV_MAX_BYTES - 512)   /* leave room for the header fields */
        return AG_ENV_E_OVERSIZE;
    uint64_t seq = s->seq + 1;
    uint8_t d[32], sig[64];
    digest(d, AG_ENV_VERSION, s->cluster_id, s->id->host_id, s->epoch, seq, sent_at_ms,
           type, payload, len);
    crypto_sign_detached(sig, NULL, d, sizeof d, s->id->sign_sk);

    Drover__Envelope e = DROVER__ENVELOPE__INIT;
    e.version = AG_ENV_VERSION;
    e.cluster_id.data = s->cluster_id;
    e.cluster_id.len = AG_CLUSTER_ID_LEN;
    e.sender_id.data = (uint8_t *)s->id->host_id;
    e.sender_id.len = AG_HOST_ID_LEN;
    e.epoch = s->epoch;
    e.seq = seq;
    e.sent_at_ms = sent_at_ms;
    e.type = (Drover__MsgType)type;
    e.payload.data = (uint8_t *)payload;
    e.payload.len = len;
    e.signature.data = sig;
    e.signature.len = sizeof sig;
    size_t n = drover__envelope__get_packed_size(&e);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return AG_ENV_E_NOMEM;
    drover__envelope__pack(&e, buf);
    s->seq = seq;
    *out = buf;
    *outlen = n;
    return AG_ENV_OK;
}

/* Version and cluster: the checks that need no key. */
static int env_head_ok(const Drover__Envelope *e, const uint8_t cluster_id[AG_CLUSTER_ID_LEN])
{
    if (e->version != AG_ENV_VERSION)
        return AG_ENV_E_VERSION;
    if (e->cluster_id.len != AG_CLUSTER_ID_LEN ||
        sodium_memcmp(e->cluster_id.data, cluster_id, AG_CLUSTER_ID_LEN) != 0)
        return AG_ENV_E_CLUSTER;
    return AG_ENV_OK;
}

/* Field sanity, then the signature by sign_pk (the expensive step, last). */
static int env_sig_ok(const Drover__Envelope *e, const uint8_t sign_pk[32])
{
    if (e->signature.len != 64)
        return AG_ENV_E_SIGNATURE;
    if (e->seq == 0 || e->epoch == 0)
        return AG_ENV_E_FIELD;
    uint8_t d[32];
    digest(d, e->version, e->cluster_id.data, e->sender_id.data, e->epoch, e->seq,
           e->sent_at_ms, (uint32_t)e->type, e->payload.data, e->payload.len);
    if (crypto_sign_verify_detached(e->signature.data, d, sizeof d, sign_pk) != 0)
        return AG_ENV_E_SIGNATURE;
    return AG_ENV_OK;
}

/* Keep buf as p's proof when it is small and newer than the one kept. */
static void keep_proof(ag_peer *p, const Drover__Envelope *e, const uint8_t *buf, size_t len)
{
    if (len > AG_ENV_PROOF_MAX || e->epoch < p->proof_epoch ||
        (e->epoch == p->proof_epoch && e->seq <= p->proof_seq))
        return;
    memcpy(p->proof, buf, len);
    p->proof_len = (uint32_t)len;
    p->proof_epoch = e->epoch;
    p->proof_seq = e->seq;
}

int ag_env_open(ag_peers *peers, const uint8_t cluster_id[AG_CLUSTER_ID_LEN],
                const uint8_t *via, const uint8_t *buf, size_t len, ag_opened *out)
{
    if (len > AG_ENV_MAX_BYTES)
        return AG_ENV_E_OVERSIZE;
    Drover__Envelope *e = drover__envelope__unpack(NULL, len, buf);
    if (!e)
        return AG_ENV_E_DECODE;
    ag_peer *p = NULL;
    int rc = env_head_ok(e, cluster_id);
    if (rc != AG_ENV_OK)
        goto err_after_unpack;
    if (e->sender_id.len != AG_HOST_ID_LEN || !(p = ag_peers_find(peers, e->sender_id.data))) {
        rc = AG_ENV_E_SENDER;
        goto err_after_unpack;
    }
    if (via && memcmp(e->sender_id.data, via, AG_HOST_ID_LEN) != 0) {
        rc = AG_ENV_E_MISMATCH;
        goto err_after_unpack;
    }
    if ((rc = env_sig_ok(e, p->sign_pk)) != AG_ENV_OK)
        goto err_after_unpack;
    rc = ag_replay_check(&p->replay, e->epoch, e->seq, true);
    if (rc != AG_ENV_OK)
        goto err_after_unpack;
    keep_proof(p, e, buf, len);

    out->type = (uint32_t)e->type;
    out->epoch = e->epoch;
    out->seq = e->seq;
    out->sent_at_ms = e->sent_at_ms;
    memcpy(out->sender, e->sender_id.data, AG_HOST_ID_LEN);
    out->payload = e->payload.data;
    out->payload_len = e->payload.len;
    out->msg_ = e;
    return AG_ENV_OK;

err_after_unpack:
    drover__envelope__free_unpacked(e, NULL);
    return rc;
}

/* Decode buf and check it is signed by the host (id, sign_pk) for our cluster. */
static int env_verify_by(const uint8_t id[AG_HOST_ID_LEN], const uint8_t sign_pk[32],
                         const uint8_t cluster_id[AG_CLUSTER_ID_LEN], const uint8_t *buf,
                         size_t len, Drover__Envelope **out)
{
    if (len > AG_ENV_PROOF_MAX)
        return AG_ENV_E_OVERSIZE;
    Drover__Envelope *e = drover__envelope__unpack(NULL, len, buf);
    if (!e)
        return AG_ENV_E_DECODE;
    int rc = env_head_ok(e, cluster_id);
    if (rc == AG_ENV_OK && (e->sender_id.len != AG_HOST_ID_LEN ||
                            memcmp(e->sender_id.data, id, AG_HOST_ID_LEN) != 0))
        rc = AG_ENV_E_SENDER;
    if (rc == AG_ENV_OK)
        rc = env_sig_ok(e, sign_pk);
    if (rc != AG_ENV_OK) {
        drover__envelope__free_unpacked(e, NULL);
        return rc;
    }
    *out = e;
    return AG_ENV_OK;
}

int ag_env_verify_own(const ag_identity *self, const uint8_t cluster_id[AG_CLUSTER_ID_LEN],
                      const uint8_t *buf, size_t len, uint64_t *epoch, uint64_t *seq)
{
    Drover__Envelope *e;
    int rc = env_verify_by(self->host_id, self->sign_pk, cluster_id, buf, len, &e);
    if (rc != AG_ENV_OK)
        return rc;
    *epoch = e->epoch;
    *seq = e->seq;
    drover__envelope__free_unpacked(e, NULL);
    return AG_ENV_OK;
}

int ag_peer_load_proof(ag_peer *p, const uint8_t cluster_id[AG_CLUSTER_ID_LEN],
                       const uint8_t *buf, size_t len)
{
    Drover__Envelope *e;
    int rc = env_verify_by(p->id, p->sign_pk, cluster_id, buf, len, &e);
    if (rc != AG_ENV_OK)
        return rc;
    if (e->epoch > p->replay.epoch ||
        (e->epoch == p->replay.epoch && e->seq > p->replay.top)) {
        p->replay.epoch = e->epoch;
        p->replay.top = e->seq;
        memset(p->replay.bits, 0xff, sizeof p->replay.bits);   /* all up to it: seen */
    }
    keep_proof(p, e, buf, len);
    if (e->epoch > p->saved_epoch)
        p->saved_epoch = e->epoch;
    drover__envelope__free_unpacked(e, NULL);
    return AG_ENV_OK;
}

void ag_env_release(ag_opened *o)
{
    if (o->msg_)
        drover__envelope__free_unpacked(o->msg_, NULL);
    o->msg_ = NULL;
}

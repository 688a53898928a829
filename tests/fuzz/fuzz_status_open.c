/* libFuzzer: a host status record (gossip STATUS, agent/hoststatus.c ag_status_open) is
 * bytes from any member. Two ways in, both every run:
 *  - the bytes as they arrive: SignedHostStatus decoding and the signature check, which
 *    must refuse them (a valid signature by a mutation is not expected; accepting one
 *    whose host_id is not the subject would be a bug);
 *  - the bytes as the BODY of a record the subject itself signed (a compromised host may
 *    sign anything about itself): HostStatus decoding behind the signature, the subject
 *    check, and what every reader asks of a record first (ag_status_facts_unknown).
 * Must never crash, leak or accept a record naming another host. */
#include <errno.h>
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hoststatus.h"
#include "members.h"
#include "gossip.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STATUS_DOMAIN "drover-status-v1"   /* as agent/hoststatus.c signs, with its NUL */

static ag_members members;
static ag_member member;
static uint8_t sk[64];

static void setup(void)
{
    if (sodium_init() < 0)
        abort();
    uint8_t seed[32] = {1};
    crypto_sign_seed_keypair(member.sign_pk, sk, seed);
    ag_host_id_of(member.sign_pk, member.id);
    memcpy(member.name, "h1", 3);
    members.v = &member;
    members.n = 1;
}

static void check(const uint8_t *buf, size_t len)
{
    Drover__HostStatus *st = NULL;
    int rc = ag_status_open(&members, member.id, buf, len, &st);
    if (rc == 0) {
        if (st->host_id.len != AG_HOST_ID_LEN || memcmp(st->host_id.data, member.id, AG_HOST_ID_LEN) != 0)
            abort();   /* accepted a record about another host */
        (void)ag_status_facts_unknown(st);
        drover__host_status__free_unpacked(st, NULL);
    } else if (rc != -EBADMSG && rc != -EPERM && rc != -ENOMEM)
        abort();
    uint8_t other[AG_HOST_ID_LEN] = {0xff};
    if (ag_status_open(&members, other, buf, len, &st) != -ENOENT)
        abort();   /* a record about a non-member is refused before decoding */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!members.n)
        setup();
    check(data, size);
    if (size >= 65536)
        return 0;
    /* the same bytes as a body the subject signed */
    uint8_t *msg = malloc(sizeof STATUS_DOMAIN + size);
    if (!msg)
        return 0;
    memcpy(msg, STATUS_DOMAIN, sizeof STATUS_DOMAIN);
    memcpy(msg + sizeof STATUS_DOMAIN, data, size);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, msg, sizeof STATUS_DOMAIN + size, sk);
    Drover__SignedHostStatus s = DROVER__SIGNED_HOST_STATUS__INIT;
    s.body.data = (uint8_t *)data;
    s.body.len = size;
    s.signature.data = sig;
    s.signature.len = sizeof sig;
    size_t n = drover__signed_host_status__get_packed_size(&s);
    uint8_t *rec = malloc(n ? n : 1);
    if (rec) {
        drover__signed_host_status__pack(&s, rec);
        check(rec, n);
        free(rec);
    }
    free(msg);
    return 0;
}

/* libFuzzer: the join endpoint's request parser and the joiner's reply parser
 * (agent/join.h) on arbitrary bytes must never crash or leak. The first byte picks the
 * parser; the reply side pins a fixed key, so a mutation that keeps a seed's valid
 * signature reaches the code and member checks too. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "join.h"
#include "state.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char fpr[AG_FPR_STRLEN];
    static const uint8_t nonce[16] = {7};
    if (!fpr[0]) {
        if (sodium_init() < 0)
            abort();
        uint8_t pk[32], sk[64], seed[32] = {1};
        crypto_sign_seed_keypair(pk, sk, seed);
        ag_fingerprint(pk, fpr);
    }
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        ag_join_req q;
        const char *why = NULL;
        int r = ag_join_req_parse(data + 1, size - 1, &q, &why);
        if (r && !why)
            abort();   /* every refusal names its reason */
        ag_join_req_free(&q);
    } else {
        ag_join_rep p;
        char msg[640];
        int r = ag_join_rep_parse(data + 1, size - 1, fpr, nonce, &p, msg, sizeof msg);
        if (r == 0 && (!p.b || p.b->n_members == 0))
            abort();   /* accepted a reply without members */
        ag_join_rep_free(&p);
    }
    return 0;
}

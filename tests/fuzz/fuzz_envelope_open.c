/* libFuzzer: ag_env_open on arbitrary bytes must never crash or leak, and bytes it
 * accepts must never be accepted a second time (the replay window). The receiver knows
 * one sender whose key the seed corpus also signs with, so inputs reach every check —
 * including, after a lucky mutation, a valid signature: accepting that is correct. */
#include <sodium.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ag_peers peers;
    static uint8_t cluster[AG_CLUSTER_ID_LEN];
    if (!peers.n) {
        if (sodium_init() < 0)
            abort();
        uint8_t pk[32], sk[64], seed[32] = {1}, id[AG_HOST_ID_LEN];
        crypto_sign_seed_keypair(pk, sk, seed);
        ag_host_id_of(pk, id);
        ag_peers_put(&peers, id, pk);
    }
    ag_opened o;
    if (ag_env_open(&peers, cluster, NULL, data, size, &o) == AG_ENV_OK) {
        ag_env_release(&o);
        if (ag_env_open(&peers, cluster, NULL, data, size, &o) == AG_ENV_OK)
            abort();   /* the same bytes accepted twice: the replay window failed */
    }
    return 0;
}

/* Writes seed inputs for fuzz_envelope_open into DIR: envelopes that decode and get
 * as far as each later check (unknown sender, bad signature, wrong cluster), so the
 * fuzzer starts past protobuf decoding. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

static void emit(const char *dir, const char *name, const uint8_t *b, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(b, 1, n, f);
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2 || sodium_init() < 0)
        return 2;
    for (uint8_t k = 1; k <= 2; k++) {
        ag_identity id;
        uint8_t seed[32] = {k};
        crypto_sign_seed_keypair(id.sign_pk, id.sign_sk, seed);
        ag_host_id_of(id.sign_pk, id.host_id);
        ag_sealer s = {.id = &id, .epoch = 3};   /* cluster id all zero, like the harness */
        uint8_t *out;
        size_t len;
        ag_env_seal(&s, 2, "gossip-payload", 14, 99, &out, &len);
        if (k == 1)
            out[len - 1] ^= 1;   /* known sender: break the signature, or it would be accepted */
        emit(argv[1], k == 1 ? "known-bad-sig" : "unknown-sender", out, len);
        free(out);
    }
    return 0;
}

/* Envelope seal and open throughput (one core), for payload sizes typical of a gossip
 * packet (256 B), a host-status record (2 KiB) and a Raft batch (64 KiB). */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "loop.h"

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (sodium_init() < 0)
        return 1;
    ag_identity id;
    uint8_t seed[32];
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(id.sign_pk, id.sign_sk, seed);
    ag_host_id_of(id.sign_pk, id.host_id);
    ag_sealer s = {.id = &id, .epoch = 1};
    randombytes_buf(s.cluster_id, sizeof s.cluster_id);
    size_t sizes[] = {256, 2048, 65536};
    for (size_t k = 0; k < 3; k++) {
        ag_peers peers = {0};
        ag_peers_put(&peers, id.host_id, id.sign_pk);
        uint8_t *payload = calloc(1, sizes[k]);
        /* seal */
        uint64_t t0 = ag_now_ms(), n = 0;
        enum { BATCH = 256 };
        uint8_t *msgs[BATCH];
        size_t lens[BATCH];
        while (ag_now_ms() - t0 < (uint64_t)(secs * 1000)) {
            uint8_t *out;
            size_t len;
            ag_env_seal(&s, 1, payload, sizes[k], 0, &out, &len);
            free(out);
            n++;
        }
        double dt = (double)(ag_now_ms() - t0) / 1000.0;
        printf("{\"bench\":\"envelope\",\"metric\":\"seal_per_s\",\"value\":%.0f,\"unit\":\"1/s\",\"payload_bytes\":%zu}\n",
               (double)n / dt, sizes[k]);
        /* open: fresh messages each time so the replay window accepts them */
        n = 0;
        uint64_t busy_ms = 0;
        while (busy_ms < (uint64_t)(secs * 1000)) {
            for (int i = 0; i < BATCH; i++)
                ag_env_seal(&s, 1, payload, sizes[k], 0, &msgs[i], &lens[i]);
            uint64_t a = ag_now_ms();
            for (int i = 0; i < BATCH; i++) {
                ag_opened o;
                if (ag_env_open(&peers, s.cluster_id, NULL, msgs[i], lens[i], &o) != AG_ENV_OK) {
                    fprintf(stderr, "open failed\n");
                    return 1;
                }
                ag_env_release(&o);
                n++;
            }
            busy_ms += ag_now_ms() - a;
            for (int i = 0; i < BATCH; i++)
                free(msgs[i]);
        }
        printf("{\"bench\":\"envelope\",\"metric\":\"open_per_s\",\"value\":%.0f,\"unit\":\"1/s\",\"payload_bytes\":%zu}\n",
               (double)n / ((double)busy_ms / 1000.0), sizes[k]);
        free(payload);
        ag_peers_free(&peers);
    }
    return 0;
}

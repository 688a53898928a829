/* identity.h — a host's keys, its host ID and its fingerprint.
 *
 * Each host has two key pairs (DESIGN.md "Security"): an Ed25519 identity key that signs
 * every message and record, and a separate X25519 key for libzmq CURVE transport
 * encryption, whose public half is signed by the identity key so peers can bind the two.
 * Keeping them separate means a compromise of transport code never yields signing power,
 * and the transport key can be rotated without changing who the host is.
 *
 * Host ID = BLAKE2b-128(signing public key): short enough for every message header,
 * collision-resistant for any cluster size we target.
 * Fingerprint = BLAKE2b-200 (keyed "drover-fpr") over the signing public key, as 8 groups of 5 base32
 * characters ("K7Q2M-..."): what an operator reads aloud or pastes to pin a cluster at
 * join time, like `pvecm add --fingerprint`.
 *
 * Files in the state directory, written atomically (temp file, fsync, rename), mode 0600:
 *   host.key  binary: magic "DRVKEY1\n", Ed25519 seed (32), X25519 secret key (32)
 *   host.pub  text:   host_id, sign_pk, curve_pk, curve_sig, fingerprint (hex/base32)
 */
#ifndef DROVER_IDENTITY_H
#define DROVER_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AG_HOST_ID_LEN     16
#define AG_HOST_ID_HEXLEN  (AG_HOST_ID_LEN * 2 + 1)
#define AG_FPR_STRLEN      48   /* 8 groups of 5 + 7 dashes + NUL */

typedef struct ag_identity {
    uint8_t host_id[AG_HOST_ID_LEN];
    uint8_t sign_pk[32];
    uint8_t sign_sk[64];
    uint8_t curve_pk[32];
    uint8_t curve_sk[32];
    uint8_t curve_sig[64];  /* Ed25519 signature by sign_sk over "drover-curve-v1" || curve_pk */
} ag_identity;

/* Create a fresh identity in state_dir (created 0700 if absent). Refuses with -EEXIST
 * when host.key exists, unless force. Returns 0 or a negative errno; err says what. */
int ag_identity_create(const char *state_dir, bool force, ag_identity *out,
                       char *err, size_t errlen);

/* Load host.key from state_dir and derive the rest. -ENOENT when missing, -EINVAL when
 * the file is malformed or its permissions are wider than 0600. */
int ag_identity_load(const char *state_dir, ag_identity *out, char *err, size_t errlen);

/* Host ID of a signing public key. */
void ag_host_id_of(const uint8_t sign_pk[32], uint8_t out[AG_HOST_ID_LEN]);

void ag_hex(const uint8_t *bytes, size_t n, char *out /* 2n+1 */);
/* Parse exactly n bytes of hex; returns 0 or -EINVAL. */
int ag_unhex(const char *hex, uint8_t *out, size_t n);

void ag_fingerprint(const uint8_t sign_pk[32], char out[AG_FPR_STRLEN]);
/* Compare a user-typed fingerprint to a key, ignoring case, dashes and spaces. */
bool ag_fingerprint_matches(const char *typed, const uint8_t sign_pk[32]);

/* Verify that curve_pk belongs to sign_pk. */
bool ag_identity_curve_ok(const uint8_t sign_pk[32], const uint8_t curve_pk[32],
                          const uint8_t curve_sig[64]);

/* Wipe secrets before the struct goes out of scope. */
void ag_identity_wipe(ag_identity *id);

#endif

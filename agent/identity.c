/* identity.c — key generation, storage and the host ID / fingerprint derivations.
 * See identity.h for the formats and why there are two key pairs. */
#include "identity.h"
#include "fsutil.h"

#include <ctype.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_MAGIC      "DRVKEY1\n"
#define KEY_MAGIC_LEN  8
#define KEY_FILE_LEN   (KEY_MAGIC_LEN + 32 + 32)   /* magic, Ed25519 seed, X25519 secret */
#define CURVE_CTX      "drover-curve-v1"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void ag_hex(const uint8_t *bytes, size_t n, char *out)
{
    sodium_bin2hex(out, n * 2 + 1, bytes, n);
}

int ag_unhex(const char *hex, uint8_t *out, size_t n)
{
    size_t got = 0;
    if (strlen(hex) != n * 2 ||
        sodium_hex2bin(out, n, hex, n * 2, NULL, &got, NULL) != 0 || got != n)
        return -EINVAL;
    return 0;
}

void ag_host_id_of(const uint8_t sign_pk[32], uint8_t out[AG_HOST_ID_LEN])
{
    crypto_generichash(out, AG_HOST_ID_LEN, sign_pk, 32, NULL, 0);
}

void ag_fingerprint(const uint8_t sign_pk[32], char out[AG_FPR_STRLEN])
{
    uint8_t h[26];   /* 200 bits = 40 base32 characters, + 1 byte read-ahead */
    crypto_generichash(h, 25, sign_pk, 32, (const uint8_t *)"drover-fpr", 10);
    h[25] = 0;
    size_t o = 0;
    for (int i = 0; i < 40; i++) {
        int bit = i * 5, byte = bit / 8, off = bit % 8;
        unsigned v = ((unsigned)h[byte] << 8 | h[byte + 1]) >> (11 - off);
        if (i > 0 && i % 5 == 0)
            out[o++] = '-';
        out[o++] = b32[v & 31];
    }
    out[o] = 0;
}

bool ag_fingerprint_matches(const char *typed, const uint8_t sign_pk[32])
{
    char want[AG_FPR_STRLEN], norm[AG_FPR_STRLEN];
    ag_fingerprint(sign_pk, want);
    size_t n = 0;
    for (const char *p = typed; *p; p++) {
        if (*p == '-' || *p == ' ' || *p == ':')
            continue;
        if (n + 1 >= sizeof norm)
            return false;
        norm[n++] = (char)toupper((unsigned char)*p);
    }
    norm[n] = 0;
    char w[AG_FPR_STRLEN];
    size_t m = 0;
    for (const char *p = want; *p; p++)
        if (*p != '-')
            w[m++] = *p;
    w[m] = 0;
    return n == m && sodium_memcmp(norm, w, n) == 0;
}

static void curve_msg(const uint8_t curve_pk[32], uint8_t msg[sizeof CURVE_CTX - 1 + 32])
{
    memcpy(msg, CURVE_CTX, sizeof CURVE_CTX - 1);
    memcpy(msg + sizeof CURVE_CTX - 1, curve_pk, 32);
}

bool ag_identity_curve_ok(const uint8_t sign_pk[32], const uint8_t curve_pk[32],
                          const uint8_t curve_sig[64])
{
    uint8_t msg[sizeof CURVE_CTX - 1 + 32];
    curve_msg(curve_pk, msg);
    return crypto_sign_verify_detached(curve_sig, msg, sizeof msg, sign_pk) == 0;
}

/* Everything is re-derived from the two secrets so a damaged or edited file can never
 * pair a secret key with someone else's public key. */
static void derive(ag_identity *id, const uint8_t seed[32])
{
    crypto_sign_seed_keypair(id->sign_pk, id->sign_sk, seed);
    crypto_scalarmult_base(id->curve_pk, id->curve_sk);
    ag_host_id_of(id->sign_pk, id->host_id);
    uint8_t msg[sizeof CURVE_CTX - 1 + 32];
    curve_msg(id->curve_pk, msg);
    crypto_sign_detached(id->curve_sig, NULL, msg, sizeof msg, id->sign_sk);
}

static void key_paths(const char *dir, char *key, char *pub, size_t n)
{
    snprintf(key, n, "%s/host.key", dir);
    snprintf(pub, n, "%s/host.pub", dir);
}

int ag_identity_create(const char *state_dir, bool force, ag_identity *out,
                       char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -EIO;
    }
    int rc = ag_mkdir_p(state_dir, 0700);
    if (rc) {
        snprintf(err, errlen, "cannot create state directory %s: %s", state_dir, strerror(-rc));
        return rc;
    }
    char kp[4200], pp[4200];
    key_paths(state_dir, kp, pp, sizeof kp);
    if (!force && access(kp, F_OK) == 0) {
        snprintf(err, errlen, "%s already exists: this host already has an identity "
                 "(use --force to replace it; its old host ID is then gone for good)", kp);
        return -EEXIST;
    }

    ag_identity id;
    uint8_t blob[KEY_FILE_LEN];
    memcpy(blob, KEY_MAGIC, KEY_MAGIC_LEN);
    randombytes_buf(blob + KEY_MAGIC_LEN, 32);
    randombytes_buf(id.curve_sk, sizeof id.curve_sk);
    memcpy(blob + KEY_MAGIC_LEN + 32, id.curve_sk, 32);
    derive(&id, blob + KEY_MAGIC_LEN);
    rc = ag_write_file_atomic(kp, blob, sizeof blob, 0600, 0);
    sodium_memzero(blob, sizeof blob);
    if (rc) {
        snprintf(err, errlen, "cannot write %s: %s", kp, strerror(-rc));
        ag_identity_wipe(&id);
        return rc;
    }

    char hid[AG_HOST_ID_HEXLEN], spk[65], cpk[65], sig[129], fpr[AG_FPR_STRLEN], text[600];
    ag_hex(id.host_id, AG_HOST_ID_LEN, hid);
    ag_hex(id.sign_pk, 32, spk);
    ag_hex(id.curve_pk, 32, cpk);
    ag_hex(id.curve_sig, 64, sig);
    ag_fingerprint(id.sign_pk, fpr);
    int tl = snprintf(text, sizeof text,
                      "host_id = %s\nsign_pk = %s\ncurve_pk = %s\ncurve_sig = %s\nfingerprint = %s\n",
                      hid, spk, cpk, sig, fpr);
    rc = ag_write_file_atomic(pp, text, (size_t)tl, 0600, 0);
    if (rc) {
        snprintf(err, errlen, "cannot write %s: %s", pp, strerror(-rc));
        ag_identity_wipe(&id);
        return rc;
    }
    *out = id;
    sodium_memzero(&id, sizeof id);
    return 0;
}

int ag_identity_load(const char *state_dir, ag_identity *out, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return -EIO;
    }
    char kp[4200], pp[4200];
    key_paths(state_dir, kp, pp, sizeof kp);
    struct stat st;
    if (stat(kp, &st) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot read %s: %s (run `drover init --state-dir %s` first)",
                 kp, strerror(e), state_dir);
        return -e;
    }
    if (st.st_mode & 077) {
        snprintf(err, errlen, "%s is readable by others (mode %03o): fix with chmod 600 %s",
                 kp, (unsigned)(st.st_mode & 0777), kp);
        return -EINVAL;
    }
    char *buf;
    size_t len;
    int rc = ag_read_file(kp, 4096, &buf, &len);
    if (rc) {
        snprintf(err, errlen, "cannot read %s: %s", kp, strerror(-rc));
        return rc;
    }
    if (len != KEY_FILE_LEN || memcmp(buf, KEY_MAGIC, KEY_MAGIC_LEN) != 0) {
        sodium_memzero(buf, len);
        free(buf);
        snprintf(err, errlen, "%s is not a drover key file (wrong size or magic); "
                 "restore it from backup or re-create with `drover init --force`", kp);
        return -EINVAL;
    }
    ag_identity id;
    memcpy(id.curve_sk, buf + KEY_MAGIC_LEN + 32, 32);
    derive(&id, (const uint8_t *)buf + KEY_MAGIC_LEN);
    sodium_memzero(buf, len);
    free(buf);
    *out = id;
    sodium_memzero(&id, sizeof id);
    return 0;
}

void ag_identity_wipe(ag_identity *id)
{
    sodium_memzero(id, sizeof *id);
}

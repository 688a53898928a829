/* Identity files: created 0600, refused twice without force, reloaded identically,
 * malformed or world-readable files refused with a message saying what to do. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "identity.h"

static char dir[] = "/tmp/drover-idtest-XXXXXX";

static void create_load_roundtrip(void **state)
{
    (void)state;
    ag_identity a, b;
    char err[512];
    assert_int_equal(ag_identity_create(dir, false, &a, err, sizeof err), 0);
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/host.key", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/host.pub", dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    assert_int_equal(ag_identity_load(dir, &b, err, sizeof err), 0);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(ag_identity_curve_ok(a.sign_pk, a.curve_pk, a.curve_sig));
    uint8_t other[32];
    memcpy(other, a.curve_pk, 32);
    other[0] ^= 1;
    assert_false(ag_identity_curve_ok(a.sign_pk, other, a.curve_sig));

    /* a second create is refused, and says how to override */
    assert_int_equal(ag_identity_create(dir, false, &b, err, sizeof err), -EEXIST);
    assert_non_null(strstr(err, "--force"));
    assert_int_equal(ag_identity_create(dir, true, &b, err, sizeof err), 0);
    assert_memory_not_equal(a.host_id, b.host_id, AG_HOST_ID_LEN);
}

static void fingerprint_format(void **state)
{
    (void)state;
    ag_identity a;
    char err[512], fpr[AG_FPR_STRLEN];
    assert_int_equal(ag_identity_load(dir, &a, err, sizeof err), 0);
    ag_fingerprint(a.sign_pk, fpr);
    assert_int_equal(strlen(fpr), 47);
    for (int i = 0; i < 47; i++)
        assert_true(i % 6 == 5 ? fpr[i] == '-' : (fpr[i] >= 'A' && fpr[i] <= 'Z') || (fpr[i] >= '2' && fpr[i] <= '7'));
    assert_true(ag_fingerprint_matches(fpr, a.sign_pk));
    char typed[64];   /* operators paste in lower case or without dashes */
    size_t n = 0;
    for (const char *p = fpr; *p; p++)
        if (*p != '-')
            typed[n++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
    typed[n] = 0;
    assert_true(ag_fingerprint_matches(typed, a.sign_pk));
    typed[3] = typed[3] == 'a' ? 'b' : 'a';
    assert_false(ag_fingerprint_matches(typed, a.sign_pk));
    assert_false(ag_fingerprint_matches("", a.sign_pk));

    char hex[AG_HOST_ID_HEXLEN];
    uint8_t back[AG_HOST_ID_LEN];
    ag_hex(a.host_id, AG_HOST_ID_LEN, hex);
    assert_int_equal(ag_unhex(hex, back, AG_HOST_ID_LEN), 0);
    assert_memory_equal(back, a.host_id, AG_HOST_ID_LEN);
    assert_int_equal(ag_unhex("zz", back, 1), -EINVAL);
    assert_int_equal(ag_unhex("abc", back, 1), -EINVAL);
}

static void bad_files(void **state)
{
    (void)state;
    ag_identity a;
    char err[512], path[256];
    snprintf(path, sizeof path, "%s/host.key", dir);
    chmod(path, 0644);
    assert_int_equal(ag_identity_load(dir, &a, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "chmod 600"));
    chmod(path, 0600);
    FILE *f = fopen(path, "w");
    fputs("not a key", f);
    fclose(f);
    assert_int_equal(ag_identity_load(dir, &a, err, sizeof err), -EINVAL);
    assert_non_null(strstr(err, "not a drover key file"));
    unlink(path);
    assert_int_equal(ag_identity_load(dir, &a, err, sizeof err), -ENOENT);
    assert_non_null(strstr(err, "drover init"));
}

int main(void)
{
    assert_non_null(mkdtemp(dir));
    const struct CMUnitTest t[] = {
        cmocka_unit_test(create_load_roundtrip),
        cmocka_unit_test(fingerprint_format),
        cmocka_unit_test(bad_files),
    };
    int rc = cmocka_run_group_tests(t, NULL, NULL);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        return 1;
    return rc;
}

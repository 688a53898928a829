/* operator.c — the operator credential: key file, grants, and what a grant permits;
 * see operator.h for the design. Pure apart from the key file and libsodium: every
 * check here takes its inputs as arguments (no clock, no store), so the same code
 * decides on the leader and in apply on every host. */
#include "operator.h"
#include "fsutil.h"
#include "hac.h"
#include "state.pb-c.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_MAGIC "drover-operator-key-v1"
#define GRANT_FIXED (AG_OP_DOMAIN_LEN + AG_CLUSTER_ID_LEN + 8 + AG_OP_NONCE_LEN)

static const char *const reason_names[AG_OPR__N] = {
    "ok", "no_credential", "malformed", "bad_signature", "unknown_key", "other_cluster",
    "mismatch", "stale", "replay", "not_owner", "nonce_table_full"};

const char *ag_op_reason_name(ag_op_reason r)
{
    return r < AG_OPR__N ? reason_names[r] : "?";
}

/* ---- key file ------------------------------------------------------------------------ */

const char *ag_op_path(const char *opt)
{
    const char *env = getenv(AG_OP_ENV);
    return opt && opt[0] ? opt : env && env[0] ? env : AG_OP_DEFAULT_PATH;
}

void ag_op_wipe(ag_opkey *k)
{
    sodium_memzero(k, sizeof *k);
}

int ag_op_create(const char *path, ag_opkey *out, char *err, size_t errlen)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        int rc = ag_mkdir_p(dir, 0700);
        if (rc) {
            snprintf(err, errlen, "cannot create directory %s for the operator key: %s", dir, strerror(-rc));
            return rc;
        }
    }
    uint8_t seed[32];
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(out->pk, out->sk, seed);
    ag_fingerprint(out->pk, out->fpr);
    char seedhex[65], pkhex[65], text[256];
    ag_hex(seed, 32, seedhex);
    ag_hex(out->pk, 32, pkhex);
    int n = snprintf(text, sizeof text, "%s\nseed %s\npublic %s\nfingerprint %s\n", FILE_MAGIC, seedhex,
                     pkhex, out->fpr);
    int rc = ag_write_file_atomic(path, text, (size_t)n, 0600, 1);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(seedhex, sizeof seedhex);
    sodium_memzero(text, sizeof text);
    if (rc == -EEXIST)
        snprintf(err, errlen, "%s exists: it is an operator key already (use it, or name another "
                 "file with --operator-key)", path);
    else if (rc)
        snprintf(err, errlen, "cannot write the operator key %s: %s", path, strerror(-rc));
    if (rc)
        ag_op_wipe(out);
    return rc;
}

/* The value after "word " on the line that starts with it, copied to out (cap bytes). */
static int field(const char *text, const char *word, char *out, size_t cap)
{
    size_t wl = strlen(word);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, word, wl) == 0 && p[wl] == ' ') {
            size_t n = strcspn(p + wl + 1, "\r\n");
            if (n >= cap)
                return -1;
            memcpy(out, p + wl + 1, n);
            out[n] = 0;
            return 0;
        }
    }
    return -1;
}

int ag_op_load(const char *path, ag_opkey *out, char *err, size_t errlen)
{
    static const char hint[] = "the operator key is the file `drover init` wrote when the cluster was "
                               "created (default " AG_OP_DEFAULT_PATH "); copy it here, or name it with "
                               "--operator-key FILE or $" AG_OP_ENV;
    struct stat st;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        if (e == ENOENT)
            snprintf(err, errlen, "no operator key at %s: %s", path, hint);
        else
            snprintf(err, errlen, "cannot read the operator key %s: %s (it is readable by its owner "
                     "only: run as that user, e.g. root)", path, strerror(e));
        return e == ENOENT ? -ENOENT : -EACCES;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 077)) {
        snprintf(err, errlen, "the operator key %s is not a regular file of mode 0600 (mode %o): it is a "
                 "secret; `chmod 600 %s`", path, (unsigned)(st.st_mode & 0777), path);
        close(fd);
        return -EINVAL;
    }
    char text[512];
    ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    if (n < 0)
        n = 0;
    text[n] = 0;
    char seedhex[80], pkhex[80];
    uint8_t seed[32], pk[32];
    int rc = 0;
    if (strncmp(text, FILE_MAGIC "\n", sizeof FILE_MAGIC) != 0 || field(text, "seed", seedhex, sizeof seedhex) ||
        field(text, "public", pkhex, sizeof pkhex) || ag_unhex(seedhex, seed, 32) || ag_unhex(pkhex, pk, 32))
        rc = -EINVAL;
    if (!rc) {
        crypto_sign_seed_keypair(out->pk, out->sk, seed);
        if (sodium_memcmp(out->pk, pk, 32) != 0)
            rc = -EINVAL;
        ag_fingerprint(out->pk, out->fpr);
    }
    sodium_memzero(text, sizeof text);
    sodium_memzero(seedhex, sizeof seedhex);
    sodium_memzero(seed, sizeof seed);
    if (rc) {
        snprintf(err, errlen, "%s is not a drover operator key (or it was altered): %s", path, hint);
        ag_op_wipe(out);
    }
    return rc;
}

/* ---- grants ---------------------------------------------------------------------------- */

static json_t *canonical_req(const char *cmd, json_t *args)
{
    json_t *a = args ? json_deep_copy(args) : json_object();
    if (!a)
        return NULL;
    json_object_del(a, "auth");
    return json_pack("{s:s,s:o}", "cmd", cmd, "args", a);
}

static json_t *hexstr(const uint8_t *b, size_t n)
{
    char *h = malloc(2 * n + 1);
    if (!h)
        return NULL;
    sodium_bin2hex(h, 2 * n + 1, b, n);
    json_t *s = json_string(h);
    free(h);
    return s;
}

json_t *ag_op_sign(const ag_opkey *k, const uint8_t cluster_id[AG_CLUSTER_ID_LEN], const char *cmd,
                   json_t *args, uint64_t issued_ms, const uint8_t nonce[AG_OP_NONCE_LEN])
{
    json_t *req = canonical_req(cmd, args);
    char *js = req ? json_dumps(req, JSON_SORT_KEYS | JSON_COMPACT) : NULL;
    json_decref(req);
    if (!js)
        return NULL;
    size_t jl = strlen(js), n = GRANT_FIXED + jl;
    uint8_t *g = malloc(n), sig[64];
    if (!g) {
        free(js);
        return NULL;
    }
    uint8_t *p = g;
    memcpy(p, AG_OP_DOMAIN, AG_OP_DOMAIN_LEN), p += AG_OP_DOMAIN_LEN;
    memcpy(p, cluster_id, AG_CLUSTER_ID_LEN), p += AG_CLUSTER_ID_LEN;
    memcpy(p, js, jl), p += jl;
    uint64_t be = htobe64(issued_ms);
    memcpy(p, &be, 8), p += 8;
    memcpy(p, nonce, AG_OP_NONCE_LEN);
    crypto_sign_detached(sig, NULL, g, n, k->sk);
    json_t *auth = json_pack("{s:o,s:o,s:o}", "request", hexstr(g, n), "signature", hexstr(sig, 64),
                             "operator", hexstr(k->pk, 32));
    free(g);
    free(js);
    return auth;
}

static int unhex_alloc(json_t *s, uint8_t **out, size_t *len, size_t max)
{
    const char *h = json_string_value(s);
    size_t hl = h ? strlen(h) : 0;
    if (!h || hl % 2 || hl / 2 > max)
        return -EINVAL;
    *out = malloc(hl / 2 + 1);
    if (!*out)
        return -ENOMEM;
    if (sodium_hex2bin(*out, hl / 2, h, hl, NULL, len, NULL) != 0 || *len != hl / 2) {
        free(*out);
        *out = NULL;
        return -EINVAL;
    }
    return 0;
}

int ag_op_auth_bytes(json_t *auth, uint8_t **request, size_t *rlen, uint8_t **sig, size_t *siglen,
                     uint8_t pk[32])
{
    uint8_t *k = NULL;
    size_t kl = 0;
    *request = *sig = NULL;
    if (!json_is_object(auth) ||
        unhex_alloc(json_object_get(auth, "request"), request, rlen, AG_OP_GRANT_MAX) ||
        unhex_alloc(json_object_get(auth, "signature"), sig, siglen, 64) ||
        unhex_alloc(json_object_get(auth, "operator"), &k, &kl, 32) || kl != 32) {
        free(*request);
        free(*sig);
        free(k);
        *request = *sig = NULL;
        return -EINVAL;
    }
    memcpy(pk, k, 32);
    free(k);
    return 0;
}

ag_op_reason ag_grant_open(const uint8_t *request, size_t rlen, const uint8_t *sig, size_t siglen,
                           const uint8_t *pk, size_t pklen, const uint8_t cluster_id[AG_CLUSTER_ID_LEN],
                           ag_grant *g)
{
    memset(g, 0, sizeof *g);
    if (!request || rlen <= GRANT_FIXED || rlen > AG_OP_GRANT_MAX || !sig || siglen != 64 || !pk ||
        pklen != 32 || memcmp(request, AG_OP_DOMAIN, AG_OP_DOMAIN_LEN) != 0)
        return AG_OPR_MALFORMED;
    if (crypto_sign_verify_detached(sig, request, rlen, pk) != 0)
        return AG_OPR_BAD_SIG;
    const uint8_t *p = request + AG_OP_DOMAIN_LEN;
    memcpy(g->cluster_id, p, AG_CLUSTER_ID_LEN);
    if (sodium_memcmp(g->cluster_id, cluster_id, AG_CLUSTER_ID_LEN) != 0)
        return AG_OPR_OTHER_CLUSTER;
    p += AG_CLUSTER_ID_LEN;
    size_t jl = rlen - GRANT_FIXED;
    uint64_t be;
    memcpy(&be, p + jl, 8);
    g->issued_ms = be64toh(be);
    memcpy(g->nonce, p + jl + 8, AG_OP_NONCE_LEN);
    memcpy(g->pk, pk, 32);
    ag_fingerprint(pk, g->fpr);
    g->req = json_loadb((const char *)p, jl, JSON_REJECT_DUPLICATES, NULL);
    g->cmd = json_string_value(json_object_get(g->req, "cmd"));
    g->args = json_object_get(g->req, "args");
    if (!g->cmd || !json_is_object(g->args)) {
        ag_grant_free(g);
        return AG_OPR_MALFORMED;
    }
    return AG_OPR_OK;
}

void ag_grant_free(ag_grant *g)
{
    json_decref(g->req);
    g->req = NULL;
    g->cmd = NULL;
    g->args = NULL;
}

bool ag_grant_is_for(const ag_grant *g, const char *method, json_t *args)
{
    json_t *want = canonical_req(method, args);
    bool ok = want && json_equal(want, g->req);
    json_decref(want);
    return ok;
}

bool ag_op_key_is_admin(const char *key)
{
    return !key || strncmp(key, "vmxml/", 6) != 0 || !key[6] || strchr(key + 6, '/');
}

/* ---- what a grant permits ---------------------------------------------------------------- */

__attribute__((format(printf, 3, 4))) static ag_op_reason no(char *why, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, n, fmt, ap);
    va_end(ap);
    return AG_OPR_MISMATCH;
}

static const char *str(const char *s)
{
    return s ? s : "";
}

static ag_op_reason permits_put(const ag_grant *g, const ag_op_act *a, char *why, size_t n)
{
    const char *key = json_string_value(json_object_get(g->args, "key"));
    const char *val = json_string_value(json_object_get(g->args, "value"));
    bool del = json_is_true(json_object_get(g->args, "delete"));
    if (!key || !a->key || strcmp(key, a->key) != 0)
        return no(why, n, "the grant is for key '%s', not this one", str(key));
    if (del)
        return a->op == DROVER__COMMAND_OP__CMD_DEL ? AG_OPR_OK : no(why, n, "the grant deletes %s", str(key));
    if (a->op != DROVER__COMMAND_OP__CMD_PUT || !val || strlen(val) != a->vlen ||
        (a->vlen && memcmp(val, a->val, a->vlen) != 0))
        return no(why, n, "the grant puts another value under %s", str(key));
    return AG_OPR_OK;
}

static ag_op_reason permits_remove(const ag_grant *g, const ag_op_act *a, char *why, size_t n)
{
    const char *host = json_string_value(json_object_get(g->args, "host"));
    if (!host || a->op != DROVER__COMMAND_OP__CMD_DEL || !a->key || strncmp(a->key, "member/", 7) != 0)
        return no(why, n, "the grant removes member '%s' and nothing else", str(host));
    if (strcmp(a->key + 7, host) == 0 || (a->member_name && strcmp(a->member_name, host) == 0))
        return AG_OPR_OK;
    return no(why, n, "the grant removes member '%s', not this one", str(host));
}

static ag_op_reason permits_token(const ag_grant *g, const ag_op_act *a, char *why, size_t n)
{
    (void)g;
    if (a->op != DROVER__COMMAND_OP__CMD_PUT || !a->key || strncmp(a->key, "token/", 6) != 0 ||
        strchr(a->key + 6, '/'))
        return no(why, n, "a token.create grant puts one token/<id> and nothing else");
    return AG_OPR_OK;
}

static ag_op_reason permits_revoke(const ag_grant *g, const ag_op_act *a, char *why, size_t n)
{
    const char *id = json_string_value(json_object_get(g->args, "id"));
    if (!id || a->op != DROVER__COMMAND_OP__CMD_DEL || !a->key || strncmp(a->key, "token/", 6) != 0 ||
        strcmp(a->key + 6, id) != 0)
        return no(why, n, "the grant deletes token '%s' and nothing else", str(id));
    return AG_OPR_OK;
}

/* The host name of index i in the state the proposal applies to. */
static const char *host_at(const ag_op_act *a, uint32_t i)
{
    return a->st && i < a->st->n_hosts ? a->st->hosts[i].name : NULL;
}

static ag_op_reason permits_admin(const ag_grant *g, const ag_op_act *a, char *why, size_t n)
{
    const char *host = json_string_value(json_object_get(g->args, "host"));
    const char *req = json_string_value(json_object_get(g->args, "req"));
    const hac_prop *p = a->prop;
    const char *at = p ? host_at(a, p->index) : NULL;
    if (!host || !req || !at || strcmp(at, host) != 0)
        return no(why, n, "the grant is about host '%s', not this one", str(host));
    if (strcmp(req, "confirm-off") == 0)
        return p->kind == HAC_P_FREEZE && p->confirm_off && !p->frozen ? AG_OPR_OK
               : no(why, n, "the grant confirms %s off and asks nothing else", str(host));
    if (p->kind != HAC_P_ADMIN)
        return no(why, n, "the grant changes the admin state of %s only", str(host));
    bool ok = !strcmp(req, "cordon") ? p->admin != PLC_ADMIN_ACTIVE
            : !strcmp(req, "drain") ? (p->admin == PLC_ADMIN_DRAINING || p->admin == PLC_ADMIN_MAINTENANCE) && !p->failback
            : !strcmp(req, "undrain") ? p->admin == PLC_ADMIN_ACTIVE
            : !strcmp(req, "failback") ? p->admin == PLC_ADMIN_ACTIVE && p->failback
            : !strcmp(req, "degraded-on") ? p->degraded_flag
            : !strcmp(req, "degraded-off") ? !p->degraded_flag : false;
    return ok ? AG_OPR_OK : no(why, n, "the proposal is not the '%s' the grant asks", str(req));
}

/* An optional integer argument equals v (absent: anything). */
static bool int_arg_is(json_t *args, const char *k, long long v)
{
    json_t *j = json_object_get(args, k);
    return !j || !json_is_integer(j) || json_integer_value(j) == v;
}

static bool str_arg_is(json_t *args, const char *k, const char *v)
{
    json_t *j = json_object_get(args, k);
    return !j || (json_is_string(j) && strcmp(json_string_value(j), v) == 0);
}

static ag_op_reason permits_protect(const ag_grant *g, const ag_op_act *a, char *why, size_t n)
{
    const char *vm = json_string_value(json_object_get(g->args, "vm"));
    const hac_prop *p = a->prop;
    if (!vm || !p || p->kind != HAC_P_PROTECT || strcmp(p->vm.name, vm) != 0)
        return no(why, n, "the grant protects VM '%s' and nothing else", str(vm));
    json_t *args = g->args;
    if (p->vm.protected_ != json_is_true(json_object_get(args, "protect")) ||
        !int_arg_is(args, "priority", p->vm.priority) || !int_arg_is(args, "order", p->vm.restart_order) ||
        !int_arg_is(args, "max_restarts", p->vm.max_restarts) ||
        !str_arg_is(args, "anti_affinity", p->vm.anti_group) || !str_arg_is(args, "affinity", p->vm.affinity_group))
        return no(why, n, "the proposal's settings for %s are not the grant's", str(vm));
    return AG_OPR_OK;
}

/* The plan's order is the grant's (names), or every host when the grant names none. */
static bool order_is(const ag_op_act *a, json_t *order)
{
    const hac_upgrade *u = &a->prop->upgrade;
    if (!json_is_array(order) || json_array_size(order) == 0)
        return a->st && u->n == a->st->n_hosts;
    if (json_array_size(order) != u->n)
        return false;
    for (uint32_t i = 0; i < u->n; i++) {
        const char *h = host_at(a, u->order[i]), *w = json_string_value(json_array_get(order, i));
        if (!h || !w || strcmp(h, w) != 0)
            return false;
    }
    return true;
}

static ag_op_reason permits_upgrade(const ag_grant *g, const ag_op_act *a, char *why, size_t n)
{
    const char *op = json_string_value(json_object_get(g->args, "op"));
    const hac_prop *p = a->prop;
    if (!op || !p || p->kind != HAC_P_UPGRADE || !a->st)
        return no(why, n, "the grant asks an upgrade '%s' and nothing else", str(op));
    const hac_upgrade *u = &p->upgrade, *cur = &a->st->upgrade;
    if (strcmp(op, "start") == 0) {
        const char *cmd = json_string_value(json_object_get(g->args, "command"));
        if (u->state != HAC_UPG_RUNNING || !cmd || strcmp(cmd, u->command) != 0 ||
            !order_is(a, json_object_get(g->args, "order")))
            return no(why, n, "the plan is not the one the grant starts (command '%s', order)", str(cmd));
        return AG_OPR_OK;
    }
    hac_upg_state want = !strcmp(op, "pause") ? HAC_UPG_PAUSED : !strcmp(op, "resume") ? HAC_UPG_RUNNING
                       : !strcmp(op, "abort") ? HAC_UPG_ABORTED : (hac_upg_state)-1;
    /* pause, resume, abort change the state only: the command and the order stay */
    if (u->state != want || strcmp(u->command, cur->command) != 0 || u->n != cur->n ||
        memcmp(u->order, cur->order, u->n * sizeof *u->order) != 0)
        return no(why, n, "the plan is not the running one with state '%s'", str(op));
    return AG_OPR_OK;
}

ag_op_reason ag_op_permits(const ag_grant *g, const ag_op_act *a, char *why, size_t n)
{
    static const struct {
        const char *method;
        int op;
        ag_op_reason (*fn)(const ag_grant *, const ag_op_act *, char *, size_t);
    } rules[] = {
        {"state.put", -1, permits_put},
        {"members.remove", DROVER__COMMAND_OP__CMD_DEL, permits_remove},
        {"token.create", DROVER__COMMAND_OP__CMD_PUT, permits_token},
        {"token.revoke", DROVER__COMMAND_OP__CMD_DEL, permits_revoke},
        {"ha.admin", DROVER__COMMAND_OP__CMD_HA, permits_admin},
        {"ha.protect", DROVER__COMMAND_OP__CMD_HA, permits_protect},
        {"ha.upgrade", DROVER__COMMAND_OP__CMD_HA, permits_upgrade},
    };
    why[0] = 0;
    for (size_t i = 0; i < sizeof rules / sizeof *rules; i++) {
        if (strcmp(g->cmd, rules[i].method) != 0)
            continue;
        if (rules[i].op >= 0 && rules[i].op != a->op)
            return no(why, n, "a %s grant does not permit this kind of change", g->cmd);
        if (rules[i].op == DROVER__COMMAND_OP__CMD_HA && !a->prop)
            return no(why, n, "%s: the HA proposal does not decode", g->cmd);
        return rules[i].fn(g, a, why, n);
    }
    return no(why, n, "'%s' is not an admin command a grant can permit", g->cmd);
}

/* ---- freshness and replay ---------------------------------------------------------------- */

bool ag_op_fresh(uint64_t issued_ms, uint64_t now_ms)
{
    uint64_t d = issued_ms > now_ms ? issued_ms - now_ms : now_ms - issued_ms;
    return d <= AG_OP_FRESH_MS;
}

ag_op_reason ag_op_nonce_check(ag_op_nonces *t, const uint8_t nonce[AG_OP_NONCE_LEN], uint64_t issued_ms,
                               uint64_t now_ms, bool record)
{
    for (uint32_t i = 0; i < t->n;) {
        if (!ag_op_fresh(t->v[i].issued_ms, now_ms)) {
            t->v[i] = t->v[--t->n];   /* a grant that old is refused as stale anyway */
            continue;
        }
        if (memcmp(t->v[i].nonce, nonce, AG_OP_NONCE_LEN) == 0)
            return AG_OPR_REPLAY;
        i++;
    }
    if (t->n == AG_OP_NONCES_MAX)
        return AG_OPR_FULL;
    if (record) {
        memcpy(t->v[t->n].nonce, nonce, AG_OP_NONCE_LEN);
        t->v[t->n++].issued_ms = issued_ms;
    }
    return AG_OPR_OK;
}

ag_op_reason ag_op_ring_add(const uint8_t *ring, size_t len, const uint8_t nonce[AG_OP_NONCE_LEN],
                            uint8_t **out, size_t *outlen)
{
    size_t n = len / AG_OP_NONCE_LEN;
    for (size_t i = 0; i < n; i++)
        if (memcmp(ring + i * AG_OP_NONCE_LEN, nonce, AG_OP_NONCE_LEN) == 0)
            return AG_OPR_REPLAY;
    size_t keep = n < AG_OP_RING_MAX ? n : AG_OP_RING_MAX - 1;   /* newest last */
    *out = malloc((keep + 1) * AG_OP_NONCE_LEN);
    if (!*out)
        return AG_OPR__N;
    if (keep)   /* ring may be NULL when empty */
        memcpy(*out, ring + (n - keep) * AG_OP_NONCE_LEN, keep * AG_OP_NONCE_LEN);
    memcpy(*out + keep * AG_OP_NONCE_LEN, nonce, AG_OP_NONCE_LEN);
    *outlen = (keep + 1) * AG_OP_NONCE_LEN;
    return AG_OPR_OK;
}

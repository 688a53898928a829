/* members.c — member table and the static roster format; see members.h. */
#include "members.h"
#include "state.pb-c.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ag_members_line(const ag_identity *id, const char *name, const char *addr,
                    char *out, size_t outlen)
{
    char hid[AG_HOST_ID_HEXLEN], spk[65], cpk[65], sig[129];
    if (strlen(addr) >= AG_MEMBER_ADDR_MAX || strlen(name) >= AG_MEMBER_NAME_MAX ||
        strpbrk(name, " \t\n") || strncmp(addr, "tcp://", 6) != 0)
        return -EINVAL;
    ag_hex(id->host_id, AG_HOST_ID_LEN, hid);
    ag_hex(id->sign_pk, 32, spk);
    ag_hex(id->curve_pk, 32, cpk);
    ag_hex(id->curve_sig, 64, sig);
    int n = snprintf(out, outlen, "member = %s %s %s %s %s %s\n", name, hid, spk, cpk, sig, addr);
    return n > 0 && (size_t)n < outlen ? 0 : -ENOSPC;
}

const ag_member *ag_members_find(const ag_members *m, const uint8_t id[AG_HOST_ID_LEN])
{
    for (size_t i = 0; i < m->n; i++)
        if (memcmp(m->v[i].id, id, AG_HOST_ID_LEN) == 0)
            return &m->v[i];
    return NULL;
}

const ag_member *ag_members_by_addr(const ag_members *m, const char *addr)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->v[i].addr, addr) == 0)
            return &m->v[i];
    return NULL;
}

void ag_members_free(ag_members *m)
{
    free(m->v);
    m->v = NULL;
    m->n = 0;
}

static int check_member(ag_member *mb, const uint8_t csig[64], const char **why)
{
    uint8_t want[AG_HOST_ID_LEN];
    ag_host_id_of(mb->sign_pk, want);
    if (memcmp(want, mb->id, AG_HOST_ID_LEN) != 0) {
        *why = "host ID does not match the signing key";
        return -1;
    }
    if (!ag_identity_curve_ok(mb->sign_pk, mb->curve_pk, csig)) {
        *why = "CURVE key is not signed by this host's signing key";
        return -1;
    }
    if (strncmp(mb->addr, "tcp://", 6) != 0) {
        *why = "address must look like tcp://IP:PORT";
        return -1;
    }
    return 0;
}

int ag_member_from_pb(const Drover__Member *pb, ag_member *out)
{
    const char *why;
    memset(out, 0, sizeof *out);
    if (!pb || pb->host_id.len != AG_HOST_ID_LEN || pb->sign_pk.len != 32 || pb->curve_pk.len != 32 ||
        pb->curve_sig.len != 64 || !pb->name || !pb->addr || strlen(pb->name) >= AG_MEMBER_NAME_MAX ||
        strlen(pb->addr) >= AG_MEMBER_ADDR_MAX || !pb->name[0])
        return -EINVAL;
    memcpy(out->id, pb->host_id.data, AG_HOST_ID_LEN);
    memcpy(out->sign_pk, pb->sign_pk.data, 32);
    memcpy(out->curve_pk, pb->curve_pk.data, 32);
    memcpy(out->curve_sig, pb->curve_sig.data, 64);
    snprintf(out->name, sizeof out->name, "%s", pb->name);
    snprintf(out->addr, sizeof out->addr, "%s", pb->addr);
    if (pb->failure_domain && strlen(pb->failure_domain) < sizeof out->domain)
        memcpy(out->domain, pb->failure_domain, strlen(pb->failure_domain) + 1);
    return check_member(out, pb->curve_sig.data, &why) ? -EINVAL : 0;
}

void ag_member_self_pb(const ag_identity *id, const char *name, const char *addr, const char *domain,
                       Drover__Member *pb)
{
    drover__member__init(pb);
    pb->failure_domain = (char *)domain;
    pb->name = (char *)name;
    pb->addr = (char *)addr;
    pb->host_id.data = (uint8_t *)id->host_id;
    pb->host_id.len = AG_HOST_ID_LEN;
    pb->sign_pk.data = (uint8_t *)id->sign_pk;
    pb->sign_pk.len = 32;
    pb->curve_pk.data = (uint8_t *)id->curve_pk;
    pb->curve_pk.len = 32;
    pb->curve_sig.data = (uint8_t *)id->curve_sig;
    pb->curve_sig.len = 64;
}

int ag_members_put(ag_members *m, const ag_member *mb)
{
    for (size_t i = 0; i < m->n; i++)
        if (memcmp(m->v[i].id, mb->id, AG_HOST_ID_LEN) == 0) {
            m->v[i] = *mb;
            return 0;
        }
    if (m->n >= AG_MEMBERS_MAX)
        return -ENOSPC;
    ag_member *v = realloc(m->v, (m->n + 1) * sizeof *v);
    if (!v)
        return -ENOMEM;
    m->v = v;
    m->v[m->n++] = *mb;
    return 0;
}

static int parse_member(char *rest, ag_member *mb, const char **why)
{
    char name[128], hid[128], spk[128], cpk[128], sig[192], addr[128];
    if (sscanf(rest, "%127s %127s %127s %127s %191s %127s", name, hid, spk, cpk, sig, addr) != 6) {
        *why = "expected: member = NAME HOST_ID SIGN_PK CURVE_PK CURVE_SIG tcp://ADDR:PORT";
        return -1;
    }
    uint8_t csig[64];
    if (strlen(name) >= AG_MEMBER_NAME_MAX || strlen(addr) >= AG_MEMBER_ADDR_MAX) {
        *why = "name or address too long";
        return -1;
    }
    if (ag_unhex(hid, mb->id, AG_HOST_ID_LEN) || ag_unhex(spk, mb->sign_pk, 32) ||
        ag_unhex(cpk, mb->curve_pk, 32) || ag_unhex(sig, csig, 64)) {
        *why = "a key field is not hex of the right length (copy the line from `drover roster line`)";
        return -1;
    }
    memcpy(mb->name, name, strlen(name) + 1);   /* lengths checked above */
    memcpy(mb->addr, addr, strlen(addr) + 1);
    memcpy(mb->curve_sig, csig, 64);
    return check_member(mb, csig, why);
}

int ag_members_load(const char *path, ag_members *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot open roster %s: %s", path, strerror(errno));
        return -1;
    }
    char line[1024];
    int lineno = 0, have_cluster = 0;
    size_t cap = 0;
    const char *why = NULL;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        char *p = line + strspn(line, " \t");
        p[strcspn(p, "\r\n")] = 0;
        if (!*p || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (!eq) {
            why = "expected `cluster_id = ...` or `member = ...`";
            break;
        }
        char *val = eq + 1 + strspn(eq + 1, " \t");
        size_t klen = strcspn(p, " \t=");
        if (klen == 10 && strncmp(p, "cluster_id", 10) == 0) {
            if (ag_unhex(val, out->cluster_id, AG_CLUSTER_ID_LEN) != 0) {
                why = "cluster_id must be 32 hex characters";
                break;
            }
            have_cluster = 1;
        } else if (klen == 6 && strncmp(p, "member", 6) == 0) {
            if (out->n == AG_MEMBERS_MAX) {
                why = "too many members";
                break;
            }
            if (out->n == cap) {
                cap = cap ? cap * 2 : 16;
                ag_member *v = realloc(out->v, cap * sizeof *v);
                if (!v) {
                    why = "out of memory";
                    break;
                }
                out->v = v;
            }
            if (parse_member(val, &out->v[out->n], &why) != 0)
                break;
            if (ag_members_find(&(ag_members){.v = out->v, .n = out->n}, out->v[out->n].id)) {
                why = "the same host is listed twice";
                break;
            }
            out->n++;
        } else if (klen == 8 && strncmp(p, "operator", 8) == 0) {
            if (out->n_operators == AG_ROSTER_OPERATORS_MAX) {
                why = "too many operator keys";
                break;
            }
            if (ag_unhex(val, out->operators[out->n_operators], 32) != 0) {
                why = "operator must be 64 hex characters (from `drover roster operator`)";
                break;
            }
            out->n_operators++;
        } else {
            why = "unknown key (expected cluster_id, member or operator)";
            break;
        }
    }
    fclose(f);
    if (!why && !have_cluster) {
        snprintf(err, errlen, "%s: no `cluster_id = <32 hex>` line", path);
        ag_members_free(out);
        return -1;
    }
    if (why) {
        snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
        ag_members_free(out);
        return -1;
    }
    return 0;
}

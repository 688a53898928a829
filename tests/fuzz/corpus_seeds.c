/* Writes seed inputs for the fuzz targets of this folder other than fuzz_envelope_open
 * (corpus_envelope.c) into DIR/<target>/: valid messages, so the fuzzer starts past
 * protobuf decoding and the first checks. Keys and ids are the harnesses' own (seeded
 * Ed25519 keys, cluster id all zero, sender 11 22 33 00 ...). */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ha.pb-c.h"
#include "hac.h"
#include "hac_codec.h"
#include "hoststatus.h"
#include "identity.h"
#include "members.h"
#include "operator.h"
#include "state.pb-c.h"

static const char *root;

static void emit(const char *target, const char *name, const uint8_t *b, size_t n)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", root, target);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b, 1, n, f) != n)
        exit(1);
    fclose(f);
}

/* ---- fuzz_status_open ---------------------------------------------------------------- */

static void status_seeds(void)
{
    ag_identity id;
    uint8_t seed[32] = {1};
    memset(&id, 0, sizeof id);
    crypto_sign_seed_keypair(id.sign_pk, id.sign_sk, seed);
    ag_host_id_of(id.sign_pk, id.host_id);
    ag_host_facts facts;
    memset(&facts, 0, sizeof facts);
    snprintf(facts.libvirt_version, sizeof facts.libvirt_version, "9.0.0");
    snprintf(facts.cpu_model, sizeof facts.cpu_model, "Fuzz CPU");
    snprintf(facts.cpu_vendor, sizeof facts.cpu_vendor, "GenuineFuzz");
    facts.libvirtd_responsive = 1;
    uint8_t *rec, material[16];
    size_t len;
    if (ag_status_make(&id, 7, 1700000000000ull, &facts, &rec, &len, material) != 0)
        exit(1);
    emit("fuzz_status_open", "signed-record", rec, len);
    /* its body alone: the harness signs it as the subject, so it is accepted */
    Drover__SignedHostStatus *s = drover__signed_host_status__unpack(NULL, len, rec);
    if (!s)
        exit(1);
    emit("fuzz_status_open", "body", s->body.data, s->body.len);
    drover__signed_host_status__free_unpacked(s, NULL);
    free(rec);
}

/* ---- fuzz_forward --------------------------------------------------------------------- */

static const uint8_t sender[AG_HOST_ID_LEN] = {0x11, 0x22, 0x33};
static ag_opkey op;

static Drover__AdminAuth *sign(const char *cmd, const char *args_json, json_t **auth_out)
{
    static uint8_t nonce[AG_OP_NONCE_LEN];
    nonce[0]++;
    uint8_t cluster[AG_CLUSTER_ID_LEN] = {0};
    json_t *args = json_loads(args_json, 0, NULL);
    json_t *auth = ag_op_sign(&op, cluster, cmd, args, 1700000000000ull, nonce);
    json_decref(args);
    if (!auth)
        exit(1);
    Drover__AdminAuth *au = calloc(1, sizeof *au);
    drover__admin_auth__init(au);
    uint8_t pk[32];
    if (ag_op_auth_bytes(auth, &au->request.data, &au->request.len, &au->signature.data, &au->signature.len, pk))
        exit(1);
    au->operator_id.data = malloc(32);
    memcpy(au->operator_id.data, pk, 32);
    au->operator_id.len = 32;
    if (auth_out)
        *auth_out = auth;
    else
        json_decref(auth);
    return au;
}

static void forward(const char *name, Drover__Command *c)
{
    uint8_t origin[AG_HOST_ID_LEN];
    memcpy(origin, sender, sizeof origin);
    c->origin.data = origin;
    c->origin.len = sizeof origin;
    c->req_id = 5;
    size_t cl = drover__command__get_packed_size(c);
    uint8_t *cb = malloc(cl + 1);
    drover__command__pack(c, cb);
    Drover__Forward f = DROVER__FORWARD__INIT;
    f.req_id = 5;
    f.command.data = cb;
    f.command.len = cl;
    size_t n = drover__forward__get_packed_size(&f);
    uint8_t *b = malloc(n + 1);
    drover__forward__pack(&f, b);
    emit("fuzz_forward", name, b, n);
    free(b);
    free(cb);
    if (c->auth) {
        free(c->auth->request.data);
        free(c->auth->signature.data);
        free(c->auth->operator_id.data);
        free(c->auth);
    }
}

/* A CMD_HA forward of proposal p with the operator's grant for {method, args}. */
static void ha_forward(const char *name, const hac_prop *p, const char *method, const char *args)
{
    uint8_t *hb;
    size_t hl;
    if (hac_prop_encode(p, method, &hb, &hl) != 0)
        exit(1);
    Drover__Command c = DROVER__COMMAND__INIT;
    c.op = DROVER__COMMAND_OP__CMD_HA;
    c.key = (char *)"ha/state";
    c.ha.data = hb;
    c.ha.len = hl;
    c.auth = sign(method, args, NULL);
    forward(name, &c);
    free(hb);
}

static void forward_seeds(void)
{
    uint8_t seed[32] = {9};
    crypto_sign_seed_keypair(op.pk, op.sk, seed);
    ag_fingerprint(op.pk, op.fpr);

    Drover__Command c = DROVER__COMMAND__INIT;   /* a host right: its own VM's definition */
    c.op = DROVER__COMMAND_OP__CMD_PUT;
    c.key = (char *)"vmxml/vm1";
    c.value.data = (uint8_t *)"<domain/>";
    c.value.len = 9;
    forward("put-vmxml", &c);

    c = (Drover__Command)DROVER__COMMAND__INIT;  /* an admin put with its grant */
    c.op = DROVER__COMMAND_OP__CMD_PUT;
    c.key = (char *)"k";
    c.value.data = (uint8_t *)"v";
    c.value.len = 1;
    c.auth = sign("state.put", "{\"key\":\"k\",\"value\":\"v\"}", NULL);
    forward("put-granted", &c);

    c = (Drover__Command)DROVER__COMMAND__INIT;  /* evict a member */
    c.op = DROVER__COMMAND_OP__CMD_DEL;
    c.key = (char *)"member/0011223344556677889900aabbccddeeff";
    c.auth = sign("members.remove", "{\"name\":\"h2\"}", NULL);
    forward("del-member", &c);

    hac_prop p = {.kind = HAC_P_ADMIN, .index = 1, .admin = 1};   /* cordon h2 */
    ha_forward("ha-cordon", &p, "ha.admin", "{\"host\":\"h2\",\"req\":\"cordon\"}");
    hac_prop u = {.kind = HAC_P_UPGRADE};
    u.upgrade.seq = 1;
    u.upgrade.state = HAC_UPG_RUNNING;
    u.upgrade.n = 3;
    for (uint32_t i = 0; i < 3; i++)
        u.upgrade.order[i] = i;
    snprintf(u.upgrade.command, sizeof u.upgrade.command, "apt-get -y upgrade drover");
    ha_forward("ha-upgrade", &u, "ha.upgrade", "{\"op\":\"start\",\"command\":\"apt-get -y upgrade drover\"}");

    Drover__Admit ad = DROVER__ADMIT__INIT;
    Drover__Member mb = DROVER__MEMBER__INIT;
    mb.name = (char *)"h4";
    ad.member = &mb;
    ad.token_id.data = (uint8_t *)"0123456789abcdef";
    ad.token_id.len = 16;
    ad.now_ms = 1700000000000ull;
    c = (Drover__Command)DROVER__COMMAND__INIT;
    c.op = DROVER__COMMAND_OP__CMD_ADMIT;
    c.admit = &ad;
    forward("admit", &c);

    Drover__Forward r = DROVER__FORWARD__INIT;   /* a reply */
    r.is_reply = 1;
    r.req_id = 5;
    r.index = 42;
    r.code = 106;
    r.error = (char *)"no quorum";
    uint8_t rb[64];
    emit("fuzz_forward", "reply", rb, drover__forward__pack(&r, rb));

    json_t *auth;   /* a control request's args, as admin.c reads them */
    Drover__AdminAuth *au = sign("state.put", "{\"key\":\"k\",\"value\":\"v\"}", &auth);
    free(au->request.data), free(au->signature.data), free(au->operator_id.data), free(au);
    json_t *args = json_pack("{s:s,s:s,s:s,s:o}", "method", "state.put", "key", "k", "value", "v", "auth", auth);
    char *js = json_dumps(args, JSON_COMPACT);
    emit("fuzz_forward", "ctl-args.json", (const uint8_t *)js, strlen(js));
    free(js);
    json_decref(args);
}

/* ---- fuzz_ha_msg ---------------------------------------------------------------------- */

static void ha_emit(const char *name, const Drover__HaMsg *m)
{
    size_t n = drover__ha_msg__get_packed_size(m);
    uint8_t *b = malloc(n + 1);
    drover__ha_msg__pack(m, b);
    emit("fuzz_ha_msg", name, b, n);
    free(b);
}

static void ha_seeds(void)
{
    Drover__HaCommand cmd = DROVER__HA_COMMAND__INIT;
    cmd.kind = HAC_CMD_MIGRATE;
    cmd.id = 1;
    cmd.term = 7;
    cmd.generation = 2;
    cmd.vm = 1;
    cmd.from = 1;
    cmd.to = 2;
    cmd.commit = 10;
    Drover__HaMsg m = DROVER__HA_MSG__INIT;
    m.command = &cmd;
    ha_emit("command-migrate", &m);
    cmd.kind = HAC_CMD_RUN;
    cmd.to = 1;
    cmd.text = (char *)"apt-get -y upgrade drover";
    ha_emit("command-run", &m);

    Drover__HaMove mv = DROVER__HA_MOVE__INIT, *mvp = &mv;
    mv.vm = (char *)"vm2";
    mv.from = (char *)"h2";
    mv.to = (char *)"h3";
    mv.percent = 40;
    char *stuck = (char *)"vm3\tcpu.model: no host has it";
    Drover__HaAck ack = DROVER__HA_ACK__INIT;
    ack.sent_ms = 99000;
    ack.held_ms = 10;
    ack.term = 7;
    ack.commit = 10;
    ack.moves = &mvp;
    ack.n_moves = 1;
    ack.stuck = &stuck;
    ack.n_stuck = 1;
    m = (Drover__HaMsg)DROVER__HA_MSG__INIT;
    m.ack = &ack;
    ha_emit("ack", &m);

    Drover__HaInvVm v[3], *vp[3];
    const char *names[] = {"vm2", "vm1", "new-vm"};
    char *cannot = (char *)"h3";
    for (int i = 0; i < 3; i++) {
        drover__ha_inv_vm__init(&v[i]);
        v[i].name = (char *)names[i];
        v[i].generation = 1;
        v[i].mem_mib = 512;
        v[i].vcpus = 1;
        v[i].running = i != 1;
        v[i].shut_down = i == 1;
        vp[i] = &v[i];
    }
    v[0].cannot_run_on = &cannot;
    v[0].n_cannot_run_on = 1;
    v[0].cannot_why = (char *)"cpu.model";
    char *busy = (char *)"vm2", *starting = (char *)"vm1";
    Drover__HaReport rep = DROVER__HA_REPORT__INIT;
    rep.sent_ms = 99000;
    rep.vms = vp;
    rep.n_vms = 3;
    rep.busy = &busy;
    rep.n_busy = 1;
    rep.starting = &starting;
    rep.n_starting = 1;
    rep.inventory_ok = 1;
    rep.moves = &mvp;
    rep.n_moves = 1;
    m = (Drover__HaMsg)DROVER__HA_MSG__INIT;
    m.report = &rep;
    ha_emit("report", &m);
    rep.inventory_ok = 0;
    ha_emit("report-starting", &m);

    Drover__HaResult res = DROVER__HA_RESULT__INIT;
    res.id = 1;
    res.term = 7;
    res.ok = 0;
    res.text = (char *)"too many libvirt jobs";
    m = (Drover__HaMsg)DROVER__HA_MSG__INIT;
    m.result = &res;
    ha_emit("result", &m);
}

/* ---- fuzz_join: first byte 1 = a request, 0 = a reply (tests/fuzz/fuzz_join.c) -------- */

static void join_emit(const char *name, uint8_t kind, const uint8_t *b, size_t n)
{
    uint8_t *buf = malloc(n + 1);
    if (!buf)
        exit(1);
    buf[0] = kind;
    memcpy(buf + 1, b, n);
    emit("fuzz_join", name, buf, n + 1);
    free(buf);
}

static void join_request_seed(const ag_identity *id, const char *server_fpr)
{
    static uint8_t token_id[16] = {0x42}, nonce[16] = {7}, mac[32] = {9};
    Drover__Member m;   /* as a joiner sends it: real keys, the CURVE key signed */
    ag_member_self_pb(id, "h2", "tcp://127.0.0.2:7370", "", &m);
    Drover__JoinRequestBody b = DROVER__JOIN_REQUEST_BODY__INIT;
    b.token_id.data = token_id;
    b.token_id.len = sizeof token_id;
    b.member = &m;
    b.nonce.data = nonce;
    b.nonce.len = sizeof nonce;
    b.server_fingerprint = (char *)server_fpr;
    uint8_t body[1024], out[1200];
    size_t bn = drover__join_request_body__pack(&b, body);
    Drover__JoinRequest r = DROVER__JOIN_REQUEST__INIT;
    r.body.data = body;
    r.body.len = bn;
    r.mac.data = mac;
    r.mac.len = sizeof mac;
    join_emit("request", 1, out, drover__join_request__pack(&r, out));
}

/* Signed by the key fuzz_join pins (seed {1}), answering its nonce {7}. */
static void join_reply_seed(const char *name, const ag_identity *member, int code)
{
    static const uint8_t seed[32] = {1}, nonce[16] = {7}, cid[AG_CLUSTER_ID_LEN] = {0x5a};
    uint8_t pk[32], sk[64];
    crypto_sign_seed_keypair(pk, sk, seed);
    Drover__Member m, *ms[1] = {&m};
    ag_member_self_pb(member, "h2", "tcp://127.0.0.2:7370", "", &m);
    Drover__JoinReplyBody b = DROVER__JOIN_REPLY_BODY__INIT;
    b.code = code;
    b.error = code ? (char *)"token refused: unknown, used or expired" : (char *)"";
    b.cluster_id.data = (uint8_t *)cid;
    b.cluster_id.len = sizeof cid;
    b.n_members = code ? 0 : 1;
    b.members = ms;
    b.nonce.data = (uint8_t *)nonce;
    b.nonce.len = sizeof nonce;
    b.server_sign_pk.data = pk;
    b.server_sign_pk.len = 32;
    b.admitted_index = 5;
    uint8_t body[1024], out[1200], d[32], sig[64];
    size_t bn = drover__join_reply_body__pack(&b, body);
    static const char domain[] = "drover-joinreply-v1";   /* agent/join.c REPLY_DOMAIN, NUL included */
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    crypto_generichash_update(&st, (const uint8_t *)domain, sizeof domain);
    crypto_generichash_update(&st, body, bn);
    crypto_generichash_final(&st, d, 32);
    crypto_sign_detached(sig, NULL, d, sizeof d, sk);
    Drover__JoinReply r = DROVER__JOIN_REPLY__INIT;
    r.body.data = body;
    r.body.len = bn;
    r.signature.data = sig;
    r.signature.len = sizeof sig;
    join_emit(name, 0, out, drover__join_reply__pack(&r, out));
}

static void join_seeds(void)
{
    char dir[600], err[256];
    snprintf(dir, sizeof dir, "%s/.join-identity", root);
    ag_identity id;
    if (ag_identity_create(dir, true, &id, err, sizeof err) != 0) {
        fprintf(stderr, "corpus: %s\n", err);
        exit(1);
    }
    char fpr[AG_FPR_STRLEN];
    ag_fingerprint(id.sign_pk, fpr);
    join_request_seed(&id, fpr);
    join_reply_seed("reply-admitted", &id, 0);
    join_reply_seed("reply-refused", &id, 77);
}

int main(int argc, char **argv)
{
    if (argc != 2 || sodium_init() < 0)
        return 2;
    root = argv[1];
    mkdir(root, 0755);
    status_seeds();
    forward_seeds();
    ha_seeds();
    join_seeds();
    return 0;
}

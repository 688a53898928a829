/* member_forge ATTACKER_DIR TARGET_DIR TARGET_SOCK TARGET_ADDR VICTIM_DIR RUNFILE TERM
 *
 * An attacker holding one admitted member's keys (ATTACKER_DIR: a host that joined with a
 * token and whose agent is gone) talks to the agent at TARGET_ADDR over a legitimate
 * CURVE connection, in well-signed envelopes, and sends each forgery of issue 12's list:
 *   raft     AppendEntries at terms UINT64_MAX and 1000, a vote request
 *            at UINT64_MAX                                              raft.refused
 *   command  RUN "touch RUNFILE" at term 2^63, as if it were the leader  ha commands_refused_sender
 *   result   a result for a command it was never sent, at the current
 *            coordinator's TERM (another term's is dropped unread)      ha reports_refused_sender
 *   admin    forwarded writes of member/ and token/ keys, no grant       raft.admin.refused_*
 *   gossip   STATUS(victim, UINT64_MAX, junk) and DEAD(victim, max inc)  gossip.refused
 * The script (forge.sh) reads the counters before and after, and checks the cluster kept
 * its leader, term, members and VM. The cluster id is asked of the target's control
 * socket (admin.info), as any local root on that host could. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "codec.h"
#include "ctl.h"
#include "drover.pb-c.h"
#include "envelope.h"
#include "gossip.h"
#include "ha.pb-c.h"
#include "hac.h"
#include "identity.h"
#include "raft_codec.h"
#include "raft_drv.h"
#include "state.pb-c.h"

static void *sock;
static ag_sealer sealer;

static void seal_send(uint32_t type, const void *payload, size_t len)
{
    uint8_t *b;
    size_t n;
    if (ag_env_seal(&sealer, type, payload, len, 0, &b, &n) != 0) {
        fprintf(stderr, "forge: cannot seal a message of type %u\n", type);
        return;
    }
    if (zmq_send(sock, b, n, 0) < 0)
        fprintf(stderr, "forge: send failed: %s\n", zmq_strerror(zmq_errno()));
    free(b);
}

static void forge_raft(const ag_identity *me, const ag_identity *target)
{
    struct raft_message m = {.type = RAFT_MSG_APPEND_ENTRIES, .from = ag_raft_id_of_host(me->host_id),
                             .to = ag_raft_id_of_host(target->host_id), .term = UINT64_MAX};
    uint8_t *b;
    size_t n;
    if (raft_codec_encode(&m, &b, &n) == 0) {
        seal_send(DROVER__MSG_TYPE__MSG_RAFT, b, n);
        free(b);
    }
    m.term = 1000;   /* in range: refused because a learner may not lead */
    if (raft_codec_encode(&m, &b, &n) == 0) {
        seal_send(DROVER__MSG_TYPE__MSG_RAFT, b, n);
        free(b);
    }
    m.term = UINT64_MAX;
    m.type = RAFT_MSG_REQUEST_VOTE;
    m.log_term = UINT64_MAX;
    m.index = UINT64_MAX;
    if (raft_codec_encode(&m, &b, &n) == 0) {
        seal_send(DROVER__MSG_TYPE__MSG_RAFT, b, n);
        free(b);
    }
}

static void send_ha(Drover__HaMsg *hm)
{
    size_t n = drover__ha_msg__get_packed_size(hm);
    uint8_t *b = malloc(n ? n : 1);
    drover__ha_msg__pack(hm, b);
    seal_send(DROVER__MSG_TYPE__MSG_COMMAND, b, n);
    free(b);
}

static void forge_command_and_result(const char *runfile, uint64_t term)
{
    char text[512];
    snprintf(text, sizeof text, "touch %s", runfile);
    Drover__HaCommand c = DROVER__HA_COMMAND__INIT;
    c.kind = HAC_CMD_RUN;
    c.id = 1;
    c.term = 1ull << 63;
    c.text = text;
    Drover__HaMsg hm = DROVER__HA_MSG__INIT;
    hm.command = &c;
    send_ha(&hm);
    Drover__HaResult r = DROVER__HA_RESULT__INIT;
    r.id = 1;
    r.term = term;
    r.ok = 1;
    r.text = (char *)"forged";
    Drover__HaMsg hr = DROVER__HA_MSG__INIT;
    hr.result = &r;
    send_ha(&hr);
}

static void forward_put(const ag_identity *me, uint64_t req, const char *key)
{
    Drover__Command c = DROVER__COMMAND__INIT;
    c.op = DROVER__COMMAND_OP__CMD_PUT;
    c.key = (char *)key;
    c.value.data = (uint8_t *)"forged";
    c.value.len = 6;
    c.origin.data = (uint8_t *)me->host_id;
    c.origin.len = AG_HOST_ID_LEN;
    c.req_id = req;
    size_t cn = drover__command__get_packed_size(&c);
    uint8_t *cb = malloc(cn ? cn : 1);
    drover__command__pack(&c, cb);
    Drover__Forward f = DROVER__FORWARD__INIT;
    f.req_id = req;
    f.command.data = cb;
    f.command.len = cn;
    size_t n = drover__forward__get_packed_size(&f);
    uint8_t *b = malloc(n ? n : 1);
    drover__forward__pack(&f, b);
    seal_send(DROVER__MSG_TYPE__MSG_FORWARD, b, n);
    free(b);
    free(cb);
}

static void send_update(const ag_identity *me, const struct gsp_update *u)
{
    struct gsp_msg m = {.type = GSP_MSG_GOSSIP, .n_updates = 1, .updates = u};
    memcpy(m.from.b, me->host_id, GSP_ID_LEN);
    uint8_t buf[4096];
    size_t len;
    if (gsp_codec_encode(&m, buf, sizeof buf, &len) == 0)
        seal_send(DROVER__MSG_TYPE__MSG_GOSSIP, buf, len);
}

static void forge_gossip(const ag_identity *me, const ag_identity *victim)
{
    struct gsp_update u;
    uint8_t junk[64];
    memset(junk, 0xee, sizeof junk);
    memset(&u, 0, sizeof u);
    u.kind = GSP_UPD_STATUS;
    memcpy(u.subject.b, victim->host_id, GSP_ID_LEN);
    memcpy(u.from.b, me->host_id, GSP_ID_LEN);
    u.status_version = UINT64_MAX;
    u.status = junk;
    u.status_len = sizeof junk;
    send_update(me, &u);
    memset(&u, 0, sizeof u);
    u.kind = GSP_UPD_DEAD;
    memcpy(u.subject.b, victim->host_id, GSP_ID_LEN);
    memcpy(u.from.b, me->host_id, GSP_ID_LEN);
    u.incarnation = GSP_INC_MAX;
    send_update(me, &u);
}

static int cluster_id_of(const char *ctl_sock, uint8_t out[AG_CLUSTER_ID_LEN])
{
    json_t *r = NULL;
    char err[512] = "";
    if (ag_ctl_call(ctl_sock, "admin.info", NULL, NULL, NULL, 5000, &r, err, sizeof err) != 0) {
        fprintf(stderr, "forge: admin.info at %s: %s\n", ctl_sock, err);
        return -1;
    }
    const char *hex = json_string_value(json_object_get(r, "cluster_id"));
    int rc = hex && ag_unhex(hex, out, AG_CLUSTER_ID_LEN) == 0 ? 0 : -1;
    json_decref(r);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 8) {
        fprintf(stderr, "usage: member_forge ATTACKER_DIR TARGET_DIR TARGET_SOCK TARGET_ADDR VICTIM_DIR RUNFILE TERM\n");
        return 2;
    }
    ag_identity me, target, victim;
    char err[512];
    if (ag_identity_load(argv[1], &me, err, sizeof err) || ag_identity_load(argv[2], &target, err, sizeof err) ||
        ag_identity_load(argv[5], &victim, err, sizeof err)) {
        fprintf(stderr, "forge: %s\n", err);
        return 1;
    }
    memset(&sealer, 0, sizeof sealer);
    sealer.id = &me;
    sealer.epoch = 1u << 30;   /* fresh and high: the member's own agent is gone */
    if (cluster_id_of(argv[3], sealer.cluster_id) != 0)
        return 1;
    void *ctx = zmq_ctx_new();
    sock = zmq_socket(ctx, ZMQ_DEALER);
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, target.curve_pk, 32);
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, me.curve_pk, 32);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, me.curve_sk, 32);
    if (zmq_connect(sock, argv[4]) != 0) {
        fprintf(stderr, "forge: cannot connect to %s\n", argv[4]);
        return 1;
    }
    forge_raft(&me, &target);
    forge_command_and_result(argv[6], strtoull(argv[7], NULL, 10));
    forward_put(&me, 1, "member/00112233445566778899aabbccddeeff");
    forward_put(&me, 2, "token/00112233445566778899aabbccddeeff");
    forge_gossip(&me, &victim);
    sleep(1);   /* let the queue drain before closing */
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return 0;
}

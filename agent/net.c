/* net.c — see net.h. */
#include "net.h"
#include "exitcodes.h"
#include "gossip_drv.h"
#include "log.h"
#include "raft_drv.h"
#include "transport.h"
#include "drover.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_recv(void *ud, const uint8_t sender[AG_HOST_ID_LEN], const uint8_t *bytes, size_t len)
{
    ag_agent *a = ud;
    ag_opened o;
    int rc = ag_env_open(&a->peers, a->members.cluster_id, sender, bytes, len, &o);
    if (rc != AG_ENV_OK) {
        a->rejected[-rc]++;
        ag_debug("net: dropped message: %s", ag_env_strerror(rc));
        return;
    }
    switch (o.type) {
    case DROVER__MSG_TYPE__MSG_GOSSIP:
        ag_gossip_recv(a, &o);
        break;
    case DROVER__MSG_TYPE__MSG_RAFT:
        ag_raft_recv(a, &o);
        break;
    case DROVER__MSG_TYPE__MSG_FORWARD:
        ag_raft_forward(a, &o);
        break;
    default:
        a->rejected_payload++;
        ag_debug("net: no handler for message type %u", o.type);
        break;
    }
    ag_env_release(&o);
}

int ag_net_send(ag_agent *a, const ag_member *m, uint32_t type, const void *payload, size_t len)
{
    uint8_t *buf;
    size_t n;
    int rc = ag_env_seal(&a->sealer, type, payload, len, ag_wall_ms(), &buf, &n);
    if (rc != AG_ENV_OK)
        return rc;
    rc = tp_send(a->tp, m->addr, m->curve_pk, buf, n);
    free(buf);
    return rc;
}

int ag_net_start(ag_agent *a, char *err, size_t errlen)
{
    if (ag_members_load(a->cfg.roster, &a->members, err, errlen) != 0)
        return AG_EX_CONFIG;
    if (!ag_members_find(&a->members, a->id.host_id)) {
        char hid[AG_HOST_ID_HEXLEN];
        ag_hex(a->id.host_id, AG_HOST_ID_LEN, hid);
        snprintf(err, errlen, "this host (id %s) is not in the roster %s: add the line printed by "
                 "`drover roster line` on this host", hid, a->cfg.roster);
        ag_members_free(&a->members);
        return AG_EX_CONFIG;
    }
    a->sealer = (ag_sealer){.id = &a->id, .epoch = a->epoch};
    memcpy(a->sealer.cluster_id, a->members.cluster_id, AG_CLUSTER_ID_LEN);
    char bind[AG_CFG_STR + 8];
    snprintf(bind, sizeof bind, "tcp://%s", a->cfg.bind);
    int rc = tp_new(a->loop, &a->id, bind, AG_ENV_MAX_BYTES, on_recv, a, &a->tp, err, errlen);
    if (rc)
        goto err_after_members;
    for (size_t i = 0; i < a->members.n; i++) {
        const ag_member *m = &a->members.v[i];
        if (ag_peers_put(&a->peers, m->id, m->sign_pk) != 0 || tp_allow(a->tp, m->id, m->curve_pk) != 0) {
            snprintf(err, errlen, "out of memory admitting members");
            goto err_after_tp;
        }
    }
    if ((rc = ag_gossip_start(a, err, errlen)) != 0)
        goto err_after_tp;
    if ((rc = ag_raft_start(a, err, errlen)) != 0) {
        ag_gossip_stop(a);
        tp_free(a->tp);
        a->tp = NULL;
        ag_peers_free(&a->peers);
        ag_members_free(&a->members);
        return rc;
    }
    return 0;

err_after_tp:
    tp_free(a->tp);
    a->tp = NULL;
    ag_peers_free(&a->peers);
err_after_members:
    ag_members_free(&a->members);
    return AG_EX_OSERR;
}

void ag_net_stop(ag_agent *a)
{
    if (!a->tp)
        return;
    ag_raft_stop(a);
    ag_gossip_stop(a);
    tp_free(a->tp);
    a->tp = NULL;
    ag_peers_free(&a->peers);
    ag_members_free(&a->members);
}

/* ha_state.c — the replicated HA state in LMDB: raft_drv's apply transaction hands each
 * CMD_HA entry here; the decision is decoded (ha/hac_codec.c checks every field), applied
 * with hac_apply to state key "ha/state" read from the same transaction and written back,
 * so a decision is applied exactly once with applied_index. The result and the reason
 * wait in a queue for the coordinator and the event journal (ha_drv.c pumps it after the
 * transaction committed). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "drover.pb-c.h"
#include "events.h"
#include "exitcodes.h"
#include "gossip.h"
#include "gossip.pb-c.h"
#include "gossip_drv.h"
#include "ha.pb-c.h"
#include "ha_drv.h"
#include "ha_int.h"
#include "hac_codec.h"
#include "hoststatus.h"
#include "log.h"
#include "net.h"
#include "raft_drv.h"
#include "state.pb-c.h"
#include "view.h"

#define HA_STATE_KEY "ha/state"

/* ---- state in LMDB ------------------------------------------------------------------- */

static int state_read_txn(MDB_txn *t, MDB_dbi db, hac_rstate *s)
{
    MDB_val k = {sizeof HA_STATE_KEY - 1, HA_STATE_KEY}, v;
    int rc = mdb_get(t, db, &k, &v);
    if (rc == MDB_NOTFOUND) {
        hac_rstate_init(s);
        return 0;
    }
    if (rc)
        return rc;
    char why[160];
    if (hac_state_decode(v.mv_data, v.mv_size, s, why, sizeof why) != 0) {
        ag_err("ha: the replicated HA state in the store does not decode (%s)", why);
        return MDB_CORRUPTED;
    }
    return 0;
}

int ag_ha_apply(ag_agent *a, MDB_txn *txn, MDB_dbi db, uint64_t index, const uint8_t *buf,
                size_t len, int *prop_rc)
{
    hac_prop p;
    char reason[HAC_TEXT_MAX] = "", why[160];
    *prop_rc = -EINVAL;
    if (hac_prop_decode(buf, len, &p, reason, sizeof reason, why, sizeof why) != 0) {
        /* every host skips it the same way, so the copies stay identical */
        ag_warn("ha: log entry %llu is not a valid HA decision (%s); skipped",
                (unsigned long long)index, why);
        return 0;
    }
    hac_rstate *s = malloc(sizeof *s);
    if (!s)
        return ENOMEM;
    int rc = state_read_txn(txn, db, s);
    if (rc == 0) {
        *prop_rc = hac_apply(s, &p);
        if (*prop_rc == 0) {
            uint8_t *out;
            size_t n;
            if (hac_state_encode(s, &out, &n) != 0)
                rc = ENOMEM;
            else {
                MDB_val k = {sizeof HA_STATE_KEY - 1, HA_STATE_KEY}, v = {n, out};
                rc = mdb_put(txn, db, &k, &v, 0);
                free(out);
            }
        }
    }
    free(s);
    struct ag_ha *h = a->ha;
    if (rc == 0 && h) {
        /* st_write may run this twice: the same index overwrites its slot */
        uint32_t i = 0;
        while (i < h->n_pend && h->pend[i].index != index)
            i++;
        if (i == h->n_pend) {
            if (h->n_pend == HA_PENDING_PROPS) {
                /* the coordinator re-proposes what it does not see committed */
                ag_warn("ha: %d decisions applied at once; the coordinator will re-check", HA_PENDING_PROPS);
                return 0;
            }
            h->n_pend++;
        }
        h->pend[i] = (struct ha_applied){.index = index, .prop = p, .rc = *prop_rc};
        snprintf(h->pend[i].reason, sizeof h->pend[i].reason, "%s", reason);
    }
    return rc;
}

static int load_fn(MDB_txn *t, const MDB_dbi *dbi, void *ctx)
{
    return state_read_txn(t, dbi[ST_DB_STATE], ctx);
}

void ag_ha__self_index(struct ag_ha *h)
{
    h->self = hac_find_host(h->st, h->a->cfg.name);
    h->fence.self = h->self >= 0 ? (uint32_t)h->self : HAC_HOSTS_MAX;
}

int ag_ha__load(ag_agent *a, hac_rstate *s)
{
    return st_read(a->store, load_fn, s);
}

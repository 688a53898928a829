/* ha_int.h — what the three parts of the HA driver share (ha_drv.c: state, coordinator,
 * fence and messages; ha_exec.c: the libvirt side on workers; ha_ctl.c: the control
 * socket). Loop thread only, except where a field says otherwise. */
#ifndef DROVER_HA_INT_H
#define DROVER_HA_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent.h"
#include "hac.h"
#include "hv.h"
#include "loop.h"
#include "raft_drv.h"
#include "watchdog.h"

/* Fixed budgets, each a bound on a queue (STYLE: every queue has a limit). */
#define HA_TICK_MS          100   /* fence and coordinator clock: 1/20 of fence_timeout */
#define HA_REPORT_MS        250   /* lease request + inventory: 8 per fence_timeout */
#define HA_VIEW_MS          500   /* re-read gossip records (signature checks) */
#define HA_LEASE_SAVE_MS   1000   /* save the lease for a restarting agent */
#define HA_LEASE_REC         80   /* bytes of the saved lease record: "<boot id> <ms>" */
#define HA_PENDING_PROPS     64   /* proposals applied but not yet handed to the cores */
#define HA_PARKED_CMDS       32   /* commands waiting for the log to reach their commit */
#define HA_PARK_MAX_MS     3000   /* then refused: the coordinator re-plans */
#define HA_JOBS_MAX          16   /* libvirt jobs in flight on this host */
#define HA_MOVES_MAX         32   /* progress entries carried in acks */
#define HA_STUCK_MAX         16
#define HA_APPLY_RING        64   /* (index, result) of recent HA entries, for clients */
#define HA_ADD_RETRY_MS    1000
#define HA_CONS_MS         5000   /* host facts change slowly; a check per VM per host */
#define HA_CONS_MAX         256   /* local VMs whose constraints are carried (= HAC_VMS_MAX) */   /* re-propose a host/VM registration not seen applied */
/* A RUN (upgrade) command is killed after this long: an upgrade that hangs must not
 * hold the plan forever (the coordinator pauses it after rejoin_timeout). */
#define HA_RUN_TIMEOUT_MS  (10 * 60 * 1000)
/* A clean stop waits this long for its freeze to commit (ha_freeze.c): a commit takes
 * milliseconds, a leader change about an election timeout; systemd's TimeoutStopSec
 * (deploy/drover.service) leaves room for it. */
#define HA_FREEZE_WAIT_MS  2000
#define HA_UNFREEZE_RETRY_MS 1000
/* IPMI power-off answers in seconds; a fence that takes longer is not confirming. */
#define HA_FENCE_TIMEOUT_MS (60 * 1000)

struct ha_applied {
    uint64_t index;
    hac_prop prop;
    int rc;
    char reason[HAC_TEXT_MAX];
};

struct ha_move {
    char vm[HAC_NAME_MAX], from[HAC_NAME_MAX], to[HAC_NAME_MAX];
    uint32_t percent;
    uint64_t bytes_per_s;
    uint64_t seen_ms;
};

/* One host as the coordinator sees it, refreshed from gossip every HA_VIEW_MS. */
struct ha_hostview {
    bool known;          /* a verified status record was found */
    hac_live live;
    bool degraded_now;   /* a health signal is bad now */
    char why[96];        /* which one */
    plc_version version;
    uint64_t mem_mib;
    uint32_t cpus;
    uint32_t mtu;        /* of its migration network, from its record (0 = unknown) */
    char migration_addr[64];
};

typedef struct ha_job ha_job;

struct ag_ha {
    ag_agent *a;
    hac_config cfg;
    hac_rstate *st;            /* applied copy (LMDB "ha/state") */
    int32_t self;              /* this host's index in st, -1 before it is registered */
    /* fence */
    hac_fence fence;
    ag_watchdog wd;            /* [ha] watchdog: fed from the tick while hac_fence_may_pet */
    bool wd_held;              /* feeding withheld (logged once per change) */
    hac_fence_mode last_mode;
    ag_id recheck;             /* an ended lease is judged again after a poll pass */
    bool rechecked;
    uint64_t rechecks;
    uint64_t leader_commit;    /* from the latest ack */
    uint64_t lease_saved_ms;
    int lease_fd;              /* state_dir/ha_lease, -1 until opened */
    /* local inventory (loop thread copy of the last hv_vm_list) */
    bool inv_busy, inv_ok;
    uint64_t inv_ms;
    hv_vm *inv;
    size_t n_inv;
    /* libvirt jobs running here */
    ha_job *jobs[HA_JOBS_MAX];
    pthread_mutex_t conn_mu;   /* guards conn (workers open it lazily) */
    hv_conn *conn;
    /* parked commands */
    hac_cmd parked[HA_PARKED_CMDS];
    uint64_t parked_commit[HA_PARKED_CMDS], parked_ms[HA_PARKED_CMDS];
    uint8_t parked_from[HA_PARKED_CMDS][16];
    uint32_t n_parked;
    /* applied but not yet handed on */
    struct ha_applied pend[HA_PENDING_PROPS];
    uint32_t n_pend;
    uint64_t ring_index[HA_APPLY_RING];
    int ring_rc[HA_APPLY_RING];
    /* coordinator (leader only) */
    hac_coord *coord;
    uint64_t coord_term;
    uint64_t last_ack[HAC_HOSTS_MAX];
    struct ha_hostview hv[HAC_HOSTS_MAX];
    uint64_t view_ms;
    uint64_t add_host_ms[HAC_HOSTS_MAX];
    char add_vm[HAC_VMS_MAX][HAC_NAME_MAX];
    uint64_t add_vm_ms[HAC_VMS_MAX];
    struct ha_move moves[HA_MOVES_MAX];   /* leader: from reports; others: from acks */
    uint32_t n_moves;
    char stuck[HA_STUCK_MAX][HAC_TEXT_MAX];
    uint32_t n_stuck;
    uint64_t stuck_ms;
    /* messages to this host itself, delivered from the loop (never re-entering a core) */
    struct { uint8_t *buf; size_t len; } selfq[64];
    unsigned selfq_n;
    int coord_depth;           /* > 0 while the coordinator's outputs are carried out */
    uint64_t xml_sync_ms;
    /* fence_command per host (coordinator): running, confirmed, next try */
    bool fencing[HAC_HOSTS_MAX], fence_confirmed[HAC_HOSTS_MAX];
    bool reported[HAC_HOSTS_MAX];   /* a report reached this coordinator since its start */
    uint64_t fence_next_ms[HAC_HOSTS_MAX];
    hac_gen leftover[HAC_VMS_MAX];
    /* constraints of the local VMs from the full placement view (agent), refreshed every
     * HA_CONS_MS; and on the coordinator the last mask fed per VM */
    struct ha_cons { char vm[HAC_NAME_MAX]; char hosts[HAC_HOSTS_MAX][HAC_NAME_MAX]; uint32_t n;
                     char why[HAC_TEXT_MAX]; } *cons;
    uint32_t n_cons;
    uint64_t cons_ms;
    uint64_t fed_must_not[HAC_VMS_MAX];
    bool fed[HAC_VMS_MAX];   /* stopped leftovers seen once, at this generation */
    bool warned_same_name;
    /* timers */
    ag_id tick;
    uint64_t report_ms;        /* last inventory asked for */
    uint64_t report_sent_ms;   /* last report (lease request) sent */
    uint64_t acks, acks_held, reports_in, cmds_in, cmds_refused;
    uint64_t cmds_not_leader, cmds_not_term;   /* refused before the fence core (issue 12) */
    /* coordinator: reports whose sender may not say that (hac_coord_step's -EPERM) */
    uint64_t results_not_target, constraints_not_owner;
    /* freeze (ha_freeze.c): stamps of this process's FREEZE requests are epoch << 32 |
     * ++freeze_n; a stopping agent never asks to unfreeze */
    uint32_t freeze_n;
    bool stopping;
    bool freeze_confirmed;     /* this stop's freeze committed and applied here */
    bool unfreeze_out;         /* an unfreeze request is in flight */
    uint64_t unfreeze_ms;
};

struct Drover__HaMsg;
struct Drover__HaReport;
struct Drover__HaResult;
struct Drover__HaAck;
struct Drover__HaCommand;
struct Drover__HaInvVm;

/* ha_drv.c: start/stop, messages (to this host itself: queued, delivered from the loop) */
const ag_member *ag_ha__member(ag_agent *a, const char *name);
const char *ag_ha__host_name(const hac_rstate *s, int32_t i);
/* Gossip's opinion of host NAME right now (suspect when unknown). */
hac_live ag_ha__gossip_live(ag_agent *a, const char *name);
void ag_ha__send_msg(ag_agent *a, const ag_member *to, const struct Drover__HaMsg *m);
void ag_ha__send_result(ag_agent *a, const hac_cmd *cmd, bool ok, const char *text);
/* Commit proposal P (with REASON, logged on apply) through the log; DONE as
 * ag_raft_submit_cmd's. -ENOMEM when it cannot be encoded (DONE is not called). */
int ag_ha__submit(ag_agent *a, const hac_prop *p, const char *reason, ag_raft_done_fn done, void *ud);

/* ha_state.c: "ha/state" in LMDB */
int  ag_ha__load(ag_agent *a, hac_rstate *s);
void ag_ha__self_index(struct ag_ha *h);

/* ha_coord.c: the coordinator (leader only) */
/* One input to the coordinator; returns hac_coord_step's result (an -EPERM is counted
 * here by input kind: a report its sender may not make). */
int  ag_ha__coord_feed(ag_agent *a, hac_input *in);
void ag_ha__pump(ag_agent *a);
void ag_ha__coord_tick(ag_agent *a, uint64_t now);
void ag_ha__on_report(ag_agent *a, const uint8_t sender[16], const struct Drover__HaReport *r);
void ag_ha__on_result(ag_agent *a, const uint8_t sender[16], const struct Drover__HaResult *r);
/* Host FROM (its index) says what VM VI can never run on. */
void ag_ha__feed_constraints(ag_agent *a, uint32_t from, uint32_t vi, const struct Drover__HaInvVm *v);

/* ha_fence.c: this host's fence, lease and report */
void ag_ha__fence_feed(ag_agent *a, hac_fence_input *in);
void ag_ha__maybe_synced(ag_agent *a);
void ag_ha__save_lease(ag_agent *a, bool force);
bool ag_ha__restore_lease(ag_agent *a);
void ag_ha__on_ack(ag_agent *a, const uint8_t sender[16], const struct Drover__HaAck *k);
void ag_ha__on_command(ag_agent *a, const uint8_t sender[16], const struct Drover__HaCommand *c);
void ag_ha__inventory_done(ag_agent *a);
void ag_ha__send_lease(ag_agent *a);
void ag_ha__local_moves(ag_agent *a, struct ha_move *out, uint32_t *n, uint32_t max);

int ag_ha__vm_index(const struct ag_ha *h, const hv_vm *v);

/* ha_exec.c: libvirt work on loop workers; results come back on the loop thread. */
void ag_ha__exec_inventory(ag_agent *a);
/* Destroy (and undefine) local VM `vm` if its UUID is `uuid` ("" = any). */
void ag_ha__exec_destroy(ag_agent *a, const char *vm, const char *uuid, bool undefine, const char *why);
void ag_ha__exec_cmd(ag_agent *a, const hac_cmd *cmd);
bool ag_ha__job_busy(ag_agent *a, const char *vm);
/* Names of the VMs a START job runs for here, at most max (borrowed from the jobs). */
uint32_t ag_ha__local_starts(ag_agent *a, char **out, uint32_t max);
/* vmxml/<vm> is in this host's copy of the replicated state. */
bool ag_ha__xml_stored(ag_agent *a, const char *vm);
/* Run [ha] fence_command for host index `host` (name, address); ag_ha__fenced follows. */
void ag_ha__exec_fence(ag_agent *a, uint32_t host, const char *name, const char *addr);
void ag_ha__fenced(ag_agent *a, uint32_t host, bool ok, const char *text);
void ag_ha__exec_free(ag_agent *a);

/* ha_freeze.c: a clean stop freezes this host; the agent back unfreezes it */
void ag_ha__freeze_start(ag_agent *a, bool same_boot);
void ag_ha__unfreeze_tick(ag_agent *a, uint64_t now);

/* ha_ctl.c */
void ag_ha__ctl_register(ag_agent *a);
/* The result hac_apply gave the HA entry at index (1 = not an HA entry / not known). */
int ag_ha__apply_rc(ag_agent *a, uint64_t index);

#endif

/* hac.h — the HA controller cores (prefix hac_): what the coordinator decides and what
 * every agent does to never run a VM twice. Pure: no I/O, no clock, no global state.
 * The caller (agent/) feeds events {now_ms, input} and carries out the outputs.
 *
 * Three pieces, one contract:
 *
 *  1. The replicated HA state (hac_rstate): host admin states, VM ownership (owner host +
 *     generation), in-flight moves, the rolling-upgrade plan. It changes only by applying
 *     committed proposals (hac_apply), the same way on every host (it is one Raft state
 *     machine, DESIGN.md "Agreement"). A proposal that no longer fits the state (stale
 *     generation, wrong phase) is refused by hac_apply on every host alike, so an old
 *     coordinator's late proposals are harmless.
 *
 *  2. The coordinator (hac_coord), run by the Raft leader only. It is built from the
 *     replicated state at any time (a new leader builds a fresh one) and keeps only
 *     soft state besides: what gossip says of hosts, where agents report VMs running,
 *     commands in flight. It decides drains (active -> cordoned -> draining ->
 *     maintenance, each a separate state), degradation evacuation, restarts after host
 *     failure, and the rolling upgrade; placement comes from plc_plan_evacuate and
 *     plc_plan_restart (placement.h).
 *
 *  3. The fence core (hac_fence), run by every agent for its own host: self-fence after
 *     fence_timeout without quorum contact, fencing tokens on commands, reconcile on
 *     return.
 *
 * Safety argument (docs/ha.md has the arithmetic):
 *  - A VM is started only by its owner at the current generation, and ownership moves
 *    through consensus before any start (hac_coord emits START only after the OWNER
 *    proposal is committed and applied).
 *  - Ownership leaves a host only when (a) a live migration off it finished, (b) the
 *    host reported that no migration job for the VM runs and it does not run it (an
 *    orphaned move), or (c) the host's lease has surely expired: gossip says dead and
 *    now >= last_ack_ms + fence_timeout_ms * drift_pct / 100, or a fence was confirmed;
 *    for (c) the owner must also have acknowledged the VM's protection (prot_acked), and
 *    the host must not be frozen (its agent stopped cleanly, its QEMUs run on: only the
 *    agent back or an operator's confirmed-off ends that). Lease start on the agent
 *    is the *send* time of the request the quorum answered, which precedes the
 *    coordinator's receive time, so the agent self-fences first (clock rates may differ
 *    by at most drift_pct).
 *  - A host back from isolation (or a restart) reconciles before accepting any command:
 *    it destroys every local VM the applied state gives to another host.
 *
 * Errors: int functions return 0 or a negative errno value:
 *   -EINVAL  bad argument (index out of range, NULL),
 *   -ENOSPC  a bounded table is full (HAC_*_MAX),
 *   -ESTALE  (hac_apply) the proposal no longer applies; the state is unchanged,
 *   -EPERM   (hac_coord_step) the input's sender may not say that: a RESULT from a host
 *            the command did not go to (or for an id this coordinator never issued),
 *            CONSTRAINTS from a host that does not own the VM (issue 12). Nothing
 *            changed; the caller counts it by input kind,
 *   -ENOMEM  allocation failed.
 * Outputs past HAC_OUT_MAX are dropped and counted in hac_out.n_dropped; the coordinator
 * recomputes everything from state on the next tick, so a dropped output is only a delay.
 */
#ifndef DROVER_HA_HAC_H
#define DROVER_HA_HAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "placement.h"

/* ---- limits ------------------------------------------------------------------------- */

/* 64 hosts: vSphere's and XenServer's pool limit; each host is one bit in a uint64_t
 * exclusion mask. 256 VMs per controller instance keeps one coordinator step bounded
 * (placement is O(hosts * VMs)); the agent shards larger clusters by pool. */
#define HAC_HOSTS_MAX 64
#define HAC_VMS_MAX 256
#define HAC_NAME_MAX PLC_NAME_MAX
#define HAC_TEXT_MAX 160   /* one event reason or an upgrade command line */
#define HAC_GROUP_MAX 32   /* an affinity group name ("db", "web-tier") */
/* Outputs per step: a drain of a full host emits at most max_cluster commands, a
 * restart wave one proposal per VM; 512 covers HAC_VMS_MAX proposals + commands. */
#define HAC_OUT_MAX 512

typedef uint64_t hac_gen;

/* ---- configuration ------------------------------------------------------------------ */

typedef struct hac_config {
    /* Agent side: self-fence after this long without quorum contact. 2000 ms leaves a
     * dead host's guests restarted in < 4 s (ANCHORS.md target) with detection ~1 s. */
    uint64_t fence_timeout_ms;
    /* The coordinator waits fence_timeout_ms * drift_pct / 100 after the last ack:
     * 125 tolerates a 25% clock-rate difference plus the time a destroy takes. */
    uint32_t drift_pct;
    /* A command without a result after this long is treated as lost; its VM is planned
     * again from what agents report. A migration of a 64 MiB guest takes < 1 s in the
     * lab; 30 s leaves room for large guests with progress. */
    uint64_t cmd_timeout_ms;
    /* A START without a result after this long is sent again: starting is idempotent
     * on the owner (already running = done) and a lost START should not cost a whole
     * cmd_timeout_ms of a restart's < 4 s budget. QEMU starts a guest in < 0.5 s. */
    uint64_t start_timeout_ms;
    /* A proposal not seen committed after this long is proposed again (leader change). */
    uint64_t propose_timeout_ms;
    /* Degradation hysteresis: bad for degrade_after_ms before evacuating, good for
     * recover_after_ms before taking VMs again (avoids flapping on one slow probe). */
    uint64_t degrade_after_ms;
    uint64_t recover_after_ms;
    /* Failed migrations of one VM before the drain reports it as unmovable. */
    uint32_t migrate_attempts_max;
    /* Restart backoff per VM (0 = the default in brackets). After a failed START the
     * next host is tried at once; from the second failure in a row the next try waits
     * restart_backoff_ms [1000], doubling up to restart_backoff_max_ms [30000], and the
     * hosts that refused wait twice that before they get this VM again. A success resets
     * it. The bound keeps a VM no host can start from flooding the log (the lab once saw
     * ~10,000 proposals a minute) and caps how long a VM waits after a host is able. */
    uint64_t restart_backoff_ms;
    uint64_t restart_backoff_max_ms;
    /* Upgrade: a host that does not rejoin healthy within this long pauses the plan. */
    uint64_t rejoin_timeout_ms;
    /* Placement knobs (concurrency limits, overcommit, reserve). */
    plc_config plc;
} hac_config;

void hac_config_default(hac_config *cfg);

/* ---- replicated state --------------------------------------------------------------- */

typedef enum hac_upg_state {
    HAC_UPG_IDLE = 0,
    HAC_UPG_RUNNING,
    HAC_UPG_PAUSED,
    HAC_UPG_DONE,
    HAC_UPG_ABORTED,
} hac_upg_state;

/* Per host of the upgrade: drain -> run the command -> wait to rejoin -> undrain. */
typedef enum hac_upg_phase {
    HAC_UPH_DRAIN = 0,
    HAC_UPH_RUN,
    HAC_UPH_REJOIN,
    HAC_UPH_UNDRAIN,
} hac_upg_phase;

typedef struct hac_upgrade {
    uint64_t seq;                  /* compare-and-set: a proposal carries seq + 1 */
    hac_upg_state state;
    hac_upg_phase phase;
    uint32_t order[HAC_HOSTS_MAX]; /* host indices in upgrade order */
    uint32_t n;
    uint32_t cur;                  /* index into order */
    plc_version version_before;    /* agent version of order[cur] before its command */
    uint64_t phase_since_ms;       /* coordinator time the phase began (for timeouts) */
    char command[HAC_TEXT_MAX];
} hac_upgrade;

typedef struct hac_rhost {
    char name[HAC_NAME_MAX];
    plc_admin admin;
    bool degraded_flag; /* operator-set degraded */
    bool failback;      /* undrain asked to bring its drained VMs home (until done) */
    uint64_t mem_mib;   /* capacity as registered (gossip refreshes the live view) */
    uint32_t cpus;
    /* Frozen (Proxmox's LRM 'freeze'): its agent stopped cleanly and asked the cluster to
     * leave its VMs alone until it is back, since its QEMUs keep running without it. No
     * restart, move or fence of them while set, however long its lease is expired; only
     * the agent (back) or an operator who confirms the host is off clears it. */
    bool frozen;
    uint64_t frozen_at_ms; /* wall clock (Unix ms) of the freeze as its agent stamped it:
                            * shown to operators, never read by a core */
    /* The newest stamp a FREEZE of this host carried: its agent's epoch (bumped at every
     * agent start) << 32 | a count of that process's requests. A request that commits
     * after a newer one (an older process's, or an unfreeze overtaken by the freeze of a
     * stop) is stale. */
    uint64_t agent_stamp;
} hac_rhost;

typedef struct hac_rvm {
    char name[HAC_NAME_MAX];
    uint64_t mem_mib;
    uint32_t vcpus;
    bool protected_;
    int32_t priority;      /* higher first */
    int32_t restart_order; /* lower first */
    uint32_t max_restarts; /* 0 = unlimited */
    uint32_t restarts;     /* restarts done so far */
    bool want_running;     /* operator intent; HA only keeps running VMs running */
    int32_t owner;         /* host index, -1 = none */
    hac_gen generation;    /* bumped by every ownership change and move (fencing token) */
    int32_t moving_to;     /* live migration in flight to this host, -1 = none */
    int32_t home;          /* host it was drained from (failback), -1 = none */
    /* The owner has reported the VM at a generation that includes its protection, so
     * the owner knows to fence it. Until then a restart elsewhere could run it twice
     * (protected while the owner was cut off): only a confirmed fence allows one. */
    bool prot_acked;
    /* libvirt's UUID, set at registration: names are unique per host only, so an agent
     * treats a local VM as this one only when the UUIDs match ("" = not known). The
     * cores never read it. */
    char uuid[37];
    /* HA placement rules (set with the protection): VMs naming the same anti_group never
     * share a host, VMs naming the same affinity_group keep together; "" = none. */
    char anti_group[HAC_GROUP_MAX];
    char affinity_group[HAC_GROUP_MAX];
} hac_rvm;

typedef struct hac_rstate {
    hac_rhost hosts[HAC_HOSTS_MAX];
    uint32_t n_hosts;
    hac_rvm vms[HAC_VMS_MAX];
    uint32_t n_vms;
    hac_upgrade upgrade;
} hac_rstate;

typedef enum hac_prop_kind {
    HAC_P_HOST_ADD = 1, /* host: name, mem_mib, cpus */
    HAC_P_VM_ADD,       /* vm: the whole record (owner, generation 1) */
    HAC_P_PROTECT,      /* vm: protected_, priority, restart_order, max_restarts, the
                         * affinity groups (and,
                         * when protecting, want_running); bumps the generation, and
                         * protecting clears prot_acked */
    HAC_P_ADMIN,        /* host index + admin + degraded_flag + failback */
    HAC_P_MOVING,       /* vm index, generation = current + 1, moving_to (-1 clears) */
    HAC_P_OWNER,        /* vm index, generation = current + 1, owner, restarts, home */
    HAC_P_UPGRADE,      /* the whole plan (upgrade), upgrade.seq = current + 1 */
    HAC_P_PROT_ACK,     /* vm index, generation (must be current): owner knows */
    HAC_P_WANT,         /* vm index, generation (must be current), want_running: the
                         * guest was shut down from inside (false) or started again (true)
                         * on its owner; the generation stays */
    HAC_P_FREEZE,       /* host index, frozen, stamp, at_ms: the host's own agent freezes
                         * it on a clean stop and unfreezes it once back; applies only with
                         * a stamp above the host's agent_stamp (equal: the same request
                         * again). With confirm_off (the operator: the host is off) it
                         * unfreezes a frozen host and counts as a confirmed fence;
                         * -ESTALE when the host is not frozen */
} hac_prop_kind;

typedef struct hac_prop {
    hac_prop_kind kind;
    uint32_t index;     /* host or VM index */
    plc_admin admin;
    bool degraded_flag;
    bool failback;      /* ADMIN */
    int32_t owner;      /* OWNER: new owner; MOVING: target */
    hac_gen generation; /* OWNER, MOVING: the new generation (current + 1) */
    uint32_t restarts;
    int32_t home;
    bool want_running;  /* WANT */
    bool frozen;        /* FREEZE */
    bool confirm_off;
    uint64_t stamp;
    uint64_t at_ms;
    hac_rhost host;     /* HOST_ADD */
    hac_rvm vm;         /* VM_ADD, PROTECT */
    hac_upgrade upgrade;
} hac_prop;

void hac_rstate_init(hac_rstate *s);
/* Apply one committed proposal. Deterministic: every host gets the same result.
 * OWNER and MOVING apply only with generation == current + 1, else -ESTALE; ADMIN to
 * maintenance only when the host owns no VM and none is moving to or from it, else -ESTALE (so "maintenance" never shows before guests moved). */
int hac_apply(hac_rstate *s, const hac_prop *p);
int hac_find_host(const hac_rstate *s, const char *name);
int hac_find_vm(const hac_rstate *s, const char *name);
const char *hac_admin_name(plc_admin a);

/* ---- outputs ------------------------------------------------------------------------ */

typedef enum hac_cmd_kind {
    HAC_CMD_MIGRATE = 1, /* move vm from -> to (sent to from): live when it runs, else
                          * its definition moves (cold) */
    HAC_CMD_START,       /* start vm on host `to` at `generation` (sent to to) */
    HAC_CMD_RUN,         /* run the upgrade command on host `to` */
} hac_cmd_kind;

typedef struct hac_cmd {
    hac_cmd_kind kind;
    uint64_t id;        /* unique per coordinator instance, echoed in results */
    uint64_t term;      /* fencing token: coordinator's Raft term */
    hac_gen generation; /* fencing token: the VM's ownership generation */
    uint32_t vm;
    uint32_t from;
    uint32_t to;
    char text[HAC_TEXT_MAX]; /* RUN: the command line */
} hac_cmd;

typedef enum hac_out_kind {
    HAC_O_CMD = 1,   /* send cmd to its host's agent */
    HAC_O_PROPOSE,   /* append prop to the replicated log */
    HAC_O_EVENT,     /* an event for `drover events`: text says what and why */
    HAC_O_DESTROY,   /* (fence) destroy vm locally now */
    HAC_O_EXEC,      /* (fence) carry out cmd locally: it passed the fencing check */
    HAC_O_REFUSE,    /* (fence) answer cmd with a refusal; text says why */
} hac_out_kind;

typedef struct hac_out_item {
    hac_out_kind kind;
    hac_cmd cmd;
    hac_prop prop;
    int32_t vm;   /* EVENT/DESTROY: VM concerned or -1 */
    int32_t host; /* EVENT: host concerned or -1 */
    char text[HAC_TEXT_MAX];
} hac_out_item;

typedef struct hac_out {
    hac_out_item items[HAC_OUT_MAX];
    uint32_t n;
    uint32_t n_dropped;
} hac_out;

/* ---- coordinator -------------------------------------------------------------------- */

typedef enum hac_live { HAC_ALIVE = 0, HAC_SUSPECT, HAC_DEAD } hac_live;

typedef enum hac_admin_req {
    HAC_REQ_CORDON = 1,
    HAC_REQ_DRAIN,
    HAC_REQ_UNDRAIN,          /* back to active, VMs stay where they are */
    HAC_REQ_UNDRAIN_FAILBACK, /* back to active and move drained VMs home */
    HAC_REQ_DEGRADED_SET,     /* operator-set degraded flag */
    HAC_REQ_DEGRADED_CLEAR,
    HAC_REQ_CONFIRM_OFF,      /* a frozen host is off for good: unfreeze it, and count it
                               * as a confirmed fence so its VMs restart elsewhere */
    HAC_REQ_UPGRADE_START,    /* order/n_order/text */
    HAC_REQ_UPGRADE_PAUSE,
    HAC_REQ_UPGRADE_RESUME,
    HAC_REQ_UPGRADE_ABORT,
} hac_admin_req;

typedef enum hac_in_kind {
    HAC_IN_TICK = 1,
    HAC_IN_HOST,      /* gossip view of host: live, degraded, last_ack_ms, version, mem */
    HAC_IN_INVENTORY, /* host reports the VMs running on it: vms[0..n_vms) */
    HAC_IN_ADMIN,     /* admin request */
    HAC_IN_COMMIT,    /* prop was committed; the caller applies it to every copy of the
                       * state, the coordinator applies it to its own */
    HAC_IN_RESULT,    /* result of command id: ok, text = reason when failed */
    HAC_IN_FENCED,    /* fence_command confirmed host is off */
    HAC_IN_CONSTRAINTS, /* vm may never go to the hosts in must_not (bit per host index):
                         * what the agent's full placement view knows and this core's does
                         * not (shared storage, CPU features, networks, devices, libvirt and
                         * QEMU versions). Soft state: the latest one per VM counts. */
    HAC_IN_STARTING,  /* host reports its START jobs only (starting[0..n_starting)): a
                       * lease report without an inventory, which waits behind starts */
} hac_in_kind;

typedef struct hac_input {
    hac_in_kind kind;
    /* HOST, FENCED, ADMIN: the host concerned. INVENTORY, STARTING, RESULT, CONSTRAINTS:
     * the host whose agent sent it, as the transport authenticated it (never a field of
     * the message). Who may say what (issue 12, the Kubernetes Node authorizer's rule: a
     * host speaks for itself): a host reports only its own inventory and START jobs (the
     * subject IS the sender), answers only the commands sent to it, and sets constraints
     * only for the VMs it owns; anything else is -EPERM. */
    uint32_t host;
    /* HOST */
    hac_live live;
    bool degraded;      /* a health signal is bad right now (thresholds are the agent's) */
    uint64_t last_ack_ms;
    plc_version version;
    uint64_t mem_mib;
    uint32_t cpus;
    /* INVENTORY; gens[i] (optional) is the generation of vms[i] the reporting agent had
     * applied: a report older than the VM's current generation says nothing about it
     * (it may predate a committed move). */
    const uint32_t *vms;
    const hac_gen *gens;
    uint32_t n_vms;
    /* INVENTORY: VMs with a migration job running on the reporting host */
    const uint32_t *busy;
    uint32_t n_busy;
    /* INVENTORY: VMs with a START job running on the reporting host: a START sent there
     * is under way, not lost, until cmd_timeout_ms (a cold QEMU start can take seconds) */
    const uint32_t *starting;
    uint32_t n_starting;
    /* INVENTORY: VMs defined on the reporting host and shut off by their guest (or an
     * ACPI shutdown request): not crashed, not destroyed. Seen running on their owner
     * before, they are no longer kept running (vSphere HA does not restart a guest that
     * powered itself off); started again there, they are kept running again. */
    const uint32_t *down;
    uint32_t n_down;
    /* ADMIN */
    hac_admin_req req;
    const uint32_t *order;
    uint32_t n_order;
    /* COMMIT */
    const hac_prop *prop;
    int commit_rc;      /* what hac_apply returned for it */
    /* CONSTRAINTS */
    uint32_t vm;
    uint64_t must_not;
    /* RESULT. A failure's text is read for one thing: whether the host said it is not
     * able right now, for any VM (hac_fence.c: "fenced: ...", "reconciling: ...",
     * "stale term"; agent/: "too many libvirt jobs ...", "cannot queue the job ...",
     * "too many commands waiting ...", "... log is behind", "this host's log ..."; the
     * list is host_refusals in hac_common.c), or that this VM could not start there.
     * Both only hold the host back for a while (restart backoff). */
    uint64_t cmd_id;
    bool ok;
    char text[HAC_TEXT_MAX];
} hac_input;

typedef struct hac_event {
    uint64_t now_ms;
    const hac_input *in;
} hac_event;

typedef struct hac_coord hac_coord;

/* A coordinator for Raft term TERM starting from replicated state S (copied). Every host
 * starts unknown (treated as suspect: no placement onto it, no restart of its VMs) until
 * an HAC_IN_HOST arrives; it decides nothing before every host has had one, and
 * evacuates a host only once that host has reported its inventory to it. NULL on
 * allocation failure. */
hac_coord *hac_coord_new(const hac_config *cfg, const hac_rstate *s, uint64_t term);
void hac_coord_free(hac_coord *c);
/* Handle one event, append outputs to OUT (not cleared). -EINVAL on a bad index; -EPERM
 * when the sender (in->host) may not say it (see hac_input.host): refused whole, nothing
 * changes and nothing is emitted. */
int hac_coord_step(hac_coord *c, const hac_event *ev, hac_out *out);
/* The proposal an admin request (in->req with host, or order/n_order/text for an
 * upgrade start) makes against state S: the same one the coordinator would make, so a
 * request may enter on any host and be committed there through the log. Returns 0 with
 * *out filled and why = the event text; 1 when the request changes nothing or is
 * refused, why says which; -EINVAL on a bad host index or upgrade order (empty, out of
 * range, a host twice). now_ms stamps upgrade.phase_since_ms (only the coordinator's
 * own later stamps are compared with its clock). */
int hac_admin_prop(const hac_rstate *s, const hac_input *in, uint64_t now_ms, hac_prop *out,
                   char *why, size_t whylen);
/* The coordinator's copy of the replicated state (read-only). */
const hac_rstate *hac_coord_state(const hac_coord *c);

/* ---- fence core (one per agent) ----------------------------------------------------- */

typedef enum hac_fence_mode {
    HAC_FM_RECONCILE = 0, /* just started or back from isolation: waiting for the log */
    HAC_FM_ACTIVE,        /* in contact: commands accepted */
    HAC_FM_FENCED,        /* lost quorum contact for fence_timeout: protected VMs gone */
} hac_fence_mode;

typedef enum hac_fin_kind {
    HAC_FIN_TICK = 1,
    HAC_FIN_CONTACT,  /* the quorum answered a request this agent sent at sent_ms */
    HAC_FIN_SYNCED,   /* the local copy of the state is caught up with the leader */
    HAC_FIN_COMMAND,  /* a command arrived */
    HAC_FIN_LOCAL,    /* hypervisor inventory: vms[0..n_vms) run here now */
} hac_fin_kind;

typedef struct hac_fence_input {
    hac_fin_kind kind;
    uint64_t sent_ms;
    const hac_rstate *state; /* SYNCED/COMMAND: the applied replicated state; any other
                              * input may carry it too (NULL: none; LOCAL and a restart's
                              * first inputs: the persisted, maybe stale copy) */
    hac_cmd cmd;
    const uint32_t *vms;
    uint32_t n_vms;
} hac_fence_input;

#define HAC_FENCE_SEEN 64
/* With a watchdog, the self-fence comes this much before the petting stops: more than
 * one agent tick, so the destroy is under way while the watchdog is still fed. */
#define HAC_WD_SLACK_MS 250

typedef struct hac_fence {
    uint32_t self;
    uint64_t fence_timeout_ms;
    uint64_t watchdog_ms;     /* 0: no watchdog */
    hac_fence_mode mode;
    uint64_t last_contact_ms; /* send time of the last answered request */
    bool contact_ever;
    uint64_t max_term;
    hac_gen applied[HAC_VMS_MAX]; /* highest generation accepted per VM */
    bool local[HAC_VMS_MAX];      /* running here, as last reported, less those whose
                                   * destroy was asked for since */
    bool listed[HAC_VMS_MAX];     /* running here, as last reported */
    bool prot[HAC_VMS_MAX];       /* protected, as last known from the state */
    /* Commands already accepted (term, id), to drop late duplicates silently: a
     * duplicate's refusal would read as the failure of the original. 64 covers more
     * than one coordinator's worth of commands in flight to one host. */
    uint64_t seen_term[HAC_FENCE_SEEN], seen_id[HAC_FENCE_SEEN];
    uint32_t seen_next;
    /* This host is frozen in the state last learned (its agent stopped cleanly and the
     * cluster leaves its VMs alone), and the agent restarted within the same boot, so
     * the QEMUs it finds may be the ones the freeze left running (hac_fence_same_boot).
     * Both: no lease to keep, nothing destroyed for lack of contact. */
    bool frozen;
    bool same_boot;
} hac_fence;

/* Starts in RECONCILE: a (re)started agent reconciles before anything else. */
void hac_fence_init(hac_fence *f, uint32_t self, uint64_t fence_timeout_ms);
int hac_fence_step(hac_fence *f, uint64_t now_ms, const hac_fence_input *in, hac_out *out);
/* A hardware watchdog that resets the host WATCHDOG_MS after its last petting (0: none).
 * The agent then self-fences WATCHDOG_MS + HAC_WD_SLACK_MS before its lease ends, and
 * may pet only while hac_fence_may_pet: running no protected VM, or with more than
 * WATCHDOG_MS of lease left. A hung agent (or one whose destroys do not take) is reset by
 * the time its lease ends, before the coordinator restarts its VMs. -EINVAL when
 * WATCHDOG_MS + HAC_WD_SLACK_MS leaves no lease at all. */
int hac_fence_set_watchdog(hac_fence *f, uint64_t watchdog_ms);
bool hac_fence_may_pet(const hac_fence *f, uint64_t now_ms);
/* The agent restarted within this boot (its saved lease says so): VMs running here may
 * have run since before it stopped, so a freeze of this host in the state it learns is
 * honoured. After a reboot nothing kept running and the freeze means nothing here. */
void hac_fence_same_boot(hac_fence *f);
/* The freeze is honoured now: no self-fence, and the watchdog may be fed. */
bool hac_fence_frozen(const hac_fence *f);
/* The hypervisor's last inventory listed a protected VM here. */
bool hac_fence_runs_protected(const hac_fence *f);
/* When the lease ends (this agent's clock): the first time at which a step self-fences
 * unless contact comes first. 0 when no contact was ever had (nothing to count from). */
uint64_t hac_fence_deadline_ms(const hac_fence *f);

/* ---- helpers ------------------------------------------------------------------------ */

/* Append an item; false (and n_dropped++) when full. */
bool hac_out_push(hac_out *out, const hac_out_item *item);

#endif

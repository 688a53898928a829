/* hac_int.h — what the coordinator's files share (not part of the contract, hac.h).
 * hac_coord.c: the level-triggered pass, inputs, public calls; hac_common.c: helpers,
 * the placement view, proposals; hac_restart.c; hac_evacuate.c (drain, degradation,
 * failback); hac_upgrade.c. Internal names carry a double underscore (hac__). */
#ifndef DROVER_HA_HAC_INT_H
#define DROVER_HA_HAC_INT_H

#include "hac.h"

/* Restart backoff defaults (hac_config.restart_backoff_ms / _max_ms when 0). */
#define HAC__BACKOFF_MS 1000
#define HAC__BACKOFF_MAX_MS 30000
/* Hosts one VM remembers as having refused its START lately. A VM meets more refusals
 * than this only when most of a large cluster refuses at once; the entry closest to
 * its end then makes room, so that host may be tried a little early: the VM's own
 * backoff still paces it. */
#define HAC__HOLDS 4
#define HAC__WHY_MAX 64
/* Recent commands remembered with the host each went to, so that a late result is still
 * checked against its sender: results come back within seconds (cmd_timeout_ms), and a
 * drain or a restart wave sends at most a few hundred commands in that time. */
#define HAC__SENT_RING 1024

/* What a failed START says (hac__refusal_class). */
typedef enum hac__refusal {
    HAC__REF_VM = 1, /* this VM could not start there (libvirt, image lock, definition) */
    HAC__REF_HOST,   /* the host is not able right now, for any VM (fenced, reconciling,
                      * busy, log behind, or our term is stale) */
} hac__refusal;

/* A host held back for one VM until until_ms, because it refused its START (the slot
 * is free once until_ms has passed). */
typedef struct vhold {
    uint32_t host;
    uint64_t until_ms;
} vhold;

typedef struct hview {
    bool known;
    hac_live live;
    bool degraded;         /* after hysteresis */
    uint64_t bad_since_ms; /* 0 = signal good */
    uint64_t good_since_ms;
    uint64_t last_ack_ms;
    uint64_t inv_ms;       /* last inventory report (0 = none yet) */
    plc_version version;
    uint64_t mem_mib;
    uint32_t cpus;
    bool fenced;           /* fence_command (or the operator's confirm-off) confirmed */
    uint64_t frozen_ms;    /* first pass that saw it frozen (0 = not frozen) */
    bool frozen_reported;  /* "frozen for N s ..." said, once per freeze */
    bool dead_reported;
    bool lease_reported;
    uint64_t admin_prop_ms; /* a proposal for this host is pending since (0 = none) */
    /* It refused a START saying it is not able right now: no VM is placed on it before
     * hold_until_ms; refusals in a row (reset by a START it carries out) lengthen it. */
    uint64_t hold_until_ms;
    uint32_t hold_n;
    char hold_why[HAC__WHY_MAX];
} hview;

typedef struct vsoft {
    int32_t seen_on;        /* host whose inventory lists it, -1 = none */
    uint64_t cmd_id;        /* command in flight, 0 = none */
    hac_cmd_kind cmd_kind;
    uint32_t cmd_to;
    uint32_t cmd_dest;      /* the host it was sent to (MIGRATE: the source), the only one
                             * whose result counts */
    uint64_t cmd_ms;
    uint64_t prop_ms;       /* a proposal for this VM is pending since (0 = none) */
    bool start_on_commit;   /* the pending OWNER is a restart: START when it commits */
    bool migrate_on_commit; /* the pending MOVING starts a migration */
    bool bump_on_commit;    /* the pending OWNER only makes a refused START stale */
    uint64_t exclude;       /* hosts a migration failed to (bit per host; drains only) */
    uint32_t attempts;
    bool stuck_reported;    /* a drain or failback said it cannot move */
    bool restart_reported;  /* the restart planner said it cannot place it */
    bool limit_reported;
    bool unacked_reported;
    uint64_t orphan_ms;     /* a recorded move with no command of ours since (0 = none) */
    bool busy;              /* its owner's last report lists a migration job for it */
    bool starting;          /* its owner's last report lists a START job for it */
    bool on_owner;          /* its owner's last report lists it running there */
    uint64_t must_not;      /* hosts it can never run on (HAC_IN_CONSTRAINTS) */
    uint32_t start_fails;   /* failed STARTs in a row since it last ran (backoff) */
    uint64_t retry_ms;      /* no START and no restart decision before this (backoff) */
    uint64_t start_fail_ms; /* when a START to its current owner failed (0 = none): the
                             * owner must report after that before another host starts it */
    vhold holds[HAC__HOLDS];
    int32_t why_host;       /* the last refusal: host and its text, for events */
    char why[HAC__WHY_MAX];
    uint64_t wait_noted_ms; /* the next try the last "waits" event announced */
} vsoft;

struct hac_coord {
    hac_config cfg;
    hac_rstate s;
    uint64_t term;
    uint64_t next_id;
    uint64_t now_ms;
    bool heard_all;         /* every host's HOST input came at least once */
    bool any_fresh;         /* some host able to take a START was acked lately (per pass) */
    hview h[HAC_HOSTS_MAX];
    vsoft v[HAC_VMS_MAX];
    uint64_t upg_prop_ms;
    uint64_t upg_run_id;    /* RUN command in flight for the current host */
    uint32_t upg_run_to;    /* the host it was sent to */
    uint64_t sent_id[HAC__SENT_RING]; /* command id % ring -> id and the host it went to */
    uint32_t sent_to[HAC__SENT_RING];
    uint64_t upg_run_ms;
    plc_view view;
    plc_host ph[HAC_HOSTS_MAX];
    plc_vm pv[HAC_VMS_MAX];
};

void hac__event(hac_out *out, int32_t vm, int32_t host, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void hac__propose(hac_out *out, const hac_prop *p);
uint64_t hac__send_cmd(hac_coord *c, hac_out *out, hac_cmd_kind kind, uint32_t vm,
                         uint32_t from, uint32_t to, const char *text);
const char *hac__hname(const hac_coord *c, int32_t h);
bool hac__alive(const hac_coord *c, int32_t h);
uint64_t hac__lease_end_ms(const hac_coord *c, uint32_t h);
bool hac__expired(const hac_coord *c, int32_t h);
bool hac__frozen(const hac_coord *c, int32_t h);
void hac__note_frozen(hac_coord *c, hac_out *out);
bool hac__vm_idle(const hac_coord *c, uint32_t vm);
bool hac__degraded(const hac_coord *c, uint32_t h);
bool hac__unfit(const hac_coord *c, uint32_t h);
int32_t hac__vm_pos(const hac_coord *c, uint32_t vm);
void hac__build_view(hac_coord *c, bool moves);
hac__refusal hac__refusal_class(const char *text);
bool hac__fresh(const hac_coord *c, uint32_t h);
bool hac__host_held(const hac_coord *c, uint32_t h);
bool hac__able(const hac_coord *c, int32_t h);
bool hac__vm_held(const hac_coord *c, uint32_t vm, uint32_t h);
bool hac__may_start(const hac_coord *c, uint32_t vm, int32_t h);
void hac__note_fresh(hac_coord *c);
uint64_t hac__hold_host(hac_coord *c, uint32_t h, const char *text);
void hac__start_failed(hac_coord *c, uint32_t vm, uint32_t h, const char *text, hac_out *out);
void hac__start_ok(hac_coord *c, uint32_t vm);
void hac__first_why(const plc_plan *plan, uint32_t vm, const char **code, const char **ex);
int hac__plan_restarts(hac_coord *c, hac_out *out);
bool hac__evacuating(const hac_coord *c, uint32_t h);
int hac__evacuate(hac_coord *c, uint32_t h, hac_out *out);
void hac__failback(hac_coord *c, uint32_t h, hac_out *out);
void hac__propose_admin_fb(hac_coord *c, hac_out *out, uint32_t h, plc_admin a, bool flag,
                             bool failback);
void hac__propose_admin(hac_coord *c, hac_out *out, uint32_t h, plc_admin a, bool flag);
bool hac__host_empty(const hac_coord *c, uint32_t h);
void hac__propose_upgrade(hac_coord *c, hac_out *out, const hac_upgrade *u);
void hac__upgrade_step(hac_coord *c, hac_out *out);

#endif

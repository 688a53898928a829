/* hac_int.h — what the coordinator's files share (not part of the contract, hac.h).
 * hac_coord.c: the level-triggered pass, inputs, public calls; hac_common.c: helpers,
 * the placement view, proposals; hac_restart.c; hac_evacuate.c (drain, degradation,
 * failback); hac_upgrade.c. Internal names carry a double underscore (hac__). */
#ifndef DROVER_HA_HAC_INT_H
#define DROVER_HA_HAC_INT_H

#include "hac.h"

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
    bool fenced;           /* fence_command confirmed */
    bool dead_reported;
    bool lease_reported;
    uint64_t admin_prop_ms; /* a proposal for this host is pending since (0 = none) */
} hview;

typedef struct vsoft {
    int32_t seen_on;        /* host whose inventory lists it, -1 = none */
    uint64_t cmd_id;        /* command in flight, 0 = none */
    hac_cmd_kind cmd_kind;
    uint32_t cmd_to;
    uint64_t cmd_ms;
    uint64_t prop_ms;       /* a proposal for this VM is pending since (0 = none) */
    bool start_on_commit;   /* the pending OWNER is a restart: START when it commits */
    bool migrate_on_commit; /* the pending MOVING starts a migration */
    uint64_t exclude;       /* hosts a migration/start failed on (bit per host) */
    uint32_t attempts;
    bool stuck_reported;
    bool limit_reported;
    bool unacked_reported;
    uint64_t orphan_ms;     /* a recorded move with no command of ours since (0 = none) */
    bool busy;              /* its owner's last report lists a migration job for it */
    uint64_t must_not;      /* hosts it can never run on (HAC_IN_CONSTRAINTS) */
    uint32_t start_fails;   /* failed STARTs since it last ran: bounds a restart storm */
    uint64_t start_hold_ms; /* no restart before this after too many failed STARTs */
    uint64_t start_fail_ms; /* when the last START failed: its host must report after */
} vsoft;

struct hac_coord {
    hac_config cfg;
    hac_rstate s;
    uint64_t term;
    uint64_t next_id;
    uint64_t now_ms;
    bool heard_all;         /* every host's HOST input came at least once */
    hview h[HAC_HOSTS_MAX];
    vsoft v[HAC_VMS_MAX];
    uint64_t upg_prop_ms;
    uint64_t upg_run_id;    /* RUN command in flight for the current host */
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
bool hac__vm_idle(const hac_coord *c, uint32_t vm);
bool hac__degraded(const hac_coord *c, uint32_t h);
bool hac__unfit(const hac_coord *c, uint32_t h);
int32_t hac__vm_pos(const hac_coord *c, uint32_t vm);
void hac__build_view(hac_coord *c);
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

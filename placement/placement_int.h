/*
 * placement_int.h — internals shared by the placement core's files (plc__).
 *
 * plc__state is the working copy a check or a plan runs against: where each
 * VM is (or will be), what each host has used, how many members of each VM
 * group sit on each host, and the migrations touching each host.  Planners
 * mutate it as they place VMs; the view itself is never written.
 */
#ifndef DROVER_PLACEMENT_INT_H
#define DROVER_PLACEMENT_INT_H

#include "placement.h"

/* Positions besides host indices. */
#define PLC__NOWHERE (-1) /* not running */
#define PLC__PENDING (-2) /* being placed by the current plan: ignored by rules */

typedef struct plc__state {
	const plc_view *view;
	int32_t *pos;        /* per VM */
	uint64_t *mem_used;  /* per host, MiB including mem_reserved_mib */
	uint64_t *vcpu_used; /* per host */
	uint32_t *mig;       /* per host: in + out migrations, in flight + planned */
	bool *down;          /* per host: treated as failed */
	bool *leaving;       /* per host: being emptied by the current plan */
	uint32_t *grp_on;    /* [host * PLC_SET_BITS + group] members placed there */
	uint32_t *grp_placed;/* [group] members placed anywhere */
	uint32_t *grp_leaving;/* [group] members on leaving hosts */
	uint32_t *dom_on;    /* [domain * n_groups + group] anti_domain members there */
	uint32_t n_groups;
	uint32_t n_domains;  /* failure domains, or n_hosts when none declared */
} plc__state;

/* Allocation through the view's allocator (libc when NULL).  plc__calloc
 * zeroes, treats a count of 0 as 1 (so NULL always means failure) and
 * refuses products that overflow. */
void *plc__calloc(const plc_allocator *a, size_t n, size_t size);
void *plc__realloc(const plc_allocator *a, void *p, size_t n, size_t size);
void plc__free(const plc_allocator *a, void *p);

int plc__state_init(plc__state *st, const plc_view *view);
void plc__state_free(plc__state *st);
/* Move VM to POS (host index, PENDING or NOWHERE), keeping counters right. */
void plc__state_move(plc__state *st, uint32_t vm, int32_t pos);

/* HOST is emptied by the current plan: it takes no VMs, and affinity does
 * not hold its VMs there (they are about to leave), while anti-affinity
 * still does (any of them may have to stay). */
void plc__state_leave(plc__state *st, uint32_t host);
/* HOST failed: mark it down; its protected VMs become PENDING (about to be
 * restarted, binding nobody), the others NOWHERE. */
void plc__state_fail_host(plc__state *st, uint32_t host);

/* Failure domain of HOST as an index below st->n_domains. */
uint32_t plc__domain(const plc__state *st, uint32_t host);

uint64_t plc__mem_cap(const plc_config *cfg, const plc_host *h);
uint64_t plc__vcpu_cap(const plc_config *cfg, const plc_host *h);

/* Run every filter.  With REPORT NULL it stops at the first blocking finding
 * and returns its code without formatting (the planners' hot path); with a
 * report it collects all findings.  Returns the first blocking code or NULL.
 * SRC is the host the VM leaves (-1 when none, e.g. a cold start). */
const char *plc__check(const plc__state *st, plc_kind kind, uint32_t vm, int32_t src,
		       uint32_t host, plc_report *report);
int64_t plc__score(const plc__state *st, uint32_t vm, uint32_t host);
/* Memory and vCPU use of HOST after adding VM, in millionths of capacity. */
void plc__load(const plc__state *st, uint32_t vm, uint32_t host, uint64_t *mem_ppm,
	       uint64_t *cpu_ppm);
/* Best candidate for VM or -1; fills an unplaced summary when none. */
int32_t plc__best(const plc__state *st, plc_kind kind, uint32_t vm, int32_t src,
		  int64_t *score, plc_unplaced *why);
/* Grow-by-doubling append helpers for plan arrays; -ENOMEM on failure. */
int plc__plan_add_move(plc_plan *plan, uint32_t *cap, const plc_move *m);
int plc__plan_add_unplaced(plc_plan *plan, uint32_t *cap, const plc_unplaced *u);
int plc__plan_add_skipped(plc_plan *plan, uint32_t *cap, uint32_t vm);

/* The restart planner on a prepared state: VICTIMS are the VMs running on
 * FAILED hosts (any order).  ST is left with the plan applied and the failed
 * hosts down; a caller reusing ST moves the victims back and clears down[]. */
int plc__restart_on(plc__state *st, const uint32_t *failed, uint32_t n_failed,
		    const uint32_t *victims, uint32_t n_victims, int32_t extra, plc_plan *plan);
/* plc_plan_restart with VM EXTRA (or -1) treated as protected (admission). */
int plc__plan_restart(const plc_view *view, const uint32_t *failed, uint32_t n_failed,
		      int32_t extra, plc_plan *plan);

/* A bounded text buffer for the formatters (format.c, format_json.c): writes what fits,
 * always NUL-terminated, and counts what would have been written so callers can size. */
typedef struct plc__out {
	char *buf;
	size_t len;
	size_t used;
} plc__out;

plc__out plc__out_start(char *buf, size_t len);
__attribute__((format(printf, 2, 3))) void plc__put(plc__out *o, const char *fmt, ...);

#endif

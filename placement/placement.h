/*
 * placement.h — the whole contract of drover's placement core (prefix plc_).
 *
 * Where can a VM go, why not, and in which order do we empty a host?  Every
 * answer is a pure function of a *cluster view*: plain structs the agent fills
 * from gossip host-status records (DESIGN.md "Membership and health") and the
 * libvirt inventory.  Nothing here does I/O, reads a clock or keeps global
 * mutable state; the same calls answer `drover check migrate VM HOST`, rank
 * hosts for `drover place VM`, plan drains and restarts, and run admission
 * control — so an operator's "why?" and the coordinator's decision never drift.
 *
 * Model (filter, then score — the shape of Pacemaker's scheduler and of
 * vSphere DRS "compatibility" checks):
 *   1. filters (filters.c) each give a stable code, a plain reason and a fix
 *      hint; a blocking finding removes the host, a warning does not;
 *   2. scoring (score.c) ranks the survivors by how balanced memory and CPU
 *      are *after* placement, minus a penalty for hosts busy migrating; ties
 *      are broken by host name, so every run gives the same answer;
 *   3. planners (plan_*.c) place VMs one by one, consuming capacity as they go.
 *
 * Names (CPU features, storage IDs, networks, VM groups, host groups) are
 * interned once per view into small tables so hot checks are bit operations;
 * use plc_view_intern() to fill them.
 *
 * Calls only read the view, so one view may be shared by threads.
 *
 * Errors: functions returning int give 0 on success or a negative errno value:
 *   -EINVAL  bad argument (index out of range, NULL view),
 *   -ENOSPC  a fixed-size table or list is full (see PLC_*_MAX),
 *   -ENOMEM  allocation failed (outputs are left empty, nothing to free),
 *   -EDOM    hosts disagree in a way that has no answer (CPU vendor mix),
 *   -EAGAIN  the answer needs facts a host cannot give now (facts_unknown).
 * On error no output needs freeing.
 */
#ifndef DROVER_PLACEMENT_H
#define DROVER_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits: every list here is bounded --------------------------------- */

/* Host/VM/group names: libvirt domain names may be longer, but cluster names
 * this long are already unreadable in a table; the agent truncates with care. */
#define PLC_NAME_MAX 48
/* One bitset size for every interned table.  256 CPU feature flags covers the
 * ~200 x86 flags libvirt knows today; 256 storage IDs / networks / groups per
 * cluster is far above what vSphere allows per cluster (64 hosts). */
#define PLC_SET_BITS 256
#define PLC_SET_WORDS (PLC_SET_BITS / 64)
/* Disks per VM that placement reasons about (virtio allows more; the agent
 * folds disks on the same storage ID into one entry). */
#define PLC_DISKS_MAX 16
/* Findings kept per report; a host rarely fails more than a handful of filters
 * and the count of dropped ones is kept in plc_report.n_dropped. */
#define PLC_FINDINGS_MAX 24
#define PLC_REASON_MAX 192
/* Distinct rejection codes summarised per unplaceable VM. */
#define PLC_WHY_MAX 8
/* Simultaneous host failures admission control can be asked to tolerate:
 * vSphere allows up to 31 but enumerating C(hosts, k) plans is only sane
 * for small k; 8 names the worst failure set in plc_admission. */
#define PLC_TOLERATE_MAX 8

/* ---- small value types --------------------------------------------------- */

typedef struct plc_set {
	uint64_t w[PLC_SET_WORDS];
} plc_set;

/* A dotted version packed so plain integer comparison orders it: major,
 * minor, patch each < 1024 (libvirt 9.0.0, QEMU 7.2.0, drover 0.1.0). */
typedef uint32_t plc_version;

typedef struct plc_table {
	char name[PLC_SET_BITS][PLC_NAME_MAX];
	uint32_t n;
} plc_table;

typedef enum plc_table_kind {
	PLC_T_FEATURE = 0, /* CPU feature flags */
	PLC_T_STORAGE,     /* stable IDs of storage pools / mounts */
	PLC_T_NETWORK,     /* bridges / libvirt networks */
	PLC_T_GROUP,       /* VM-VM affinity and anti-affinity groups */
	PLC_T_HOSTGROUP,   /* host labels for VM-host rules */
	PLC_T_DOMAIN,      /* failure domains (rack, room) */
	PLC_T_COUNT
} plc_table_kind;

typedef enum plc_admin {
	PLC_ADMIN_ACTIVE = 0,
	PLC_ADMIN_CORDONED,    /* keeps its VMs, takes no new ones */
	PLC_ADMIN_DRAINING,    /* its VMs are leaving */
	PLC_ADMIN_MAINTENANCE, /* empty, being worked on */
} plc_admin;

typedef enum plc_health {
	PLC_HEALTH_OK = 0,
	PLC_HEALTH_DEGRADED, /* alive, but a health signal is bad */
	PLC_HEALTH_DOWN,     /* suspect or failed in gossip */
} plc_health;

typedef enum plc_cpu_mode {
	PLC_CPU_HOST_MODEL = 0, /* needs every listed feature on the destination */
	PLC_CPU_CUSTOM,         /* same rule as host-model */
	PLC_CPU_PASSTHROUGH,    /* needs the identical CPU model and feature set */
} plc_cpu_mode;

/* Host-bound devices that stop live migration and bind restarts to the host
 * they came from (libvirt refuses to migrate domains using them). */
enum {
	PLC_DEV_PCI = 1u << 0,   /* <hostdev> PCI passthrough */
	PLC_DEV_SRIOV = 1u << 1, /* SR-IOV VF */
	PLC_DEV_MDEV = 1u << 2,  /* mediated device (vGPU) */
	PLC_DEV_USB = 1u << 3,   /* host USB passthrough */
};

typedef enum plc_kind {
	PLC_KIND_MIGRATE = 0, /* live migration of a running VM */
	PLC_KIND_RESTART,     /* restart of a VM whose host failed */
	PLC_KIND_START,       /* cold start of a stopped VM */
} plc_kind;

/* ---- the cluster view ----------------------------------------------------- */

typedef struct plc_config {
	/* Overcommit in percent of physical capacity: 100 = none.  Defaults
	 * (memory 100, CPU 400) follow the common KVM practice of never
	 * overcommitting RAM (no swap storms) and 4:1 vCPU:thread. */
	uint32_t mem_overcommit_pct;
	uint32_t cpu_overcommit_pct;
	/* Failover reserve: migrations and starts may fill a host only up to
	 * (100 - reserve_pct)% of its capacity; restarts may use the rest.  This
	 * is vSphere's "percentage of cluster resources" admission policy.
	 * With restarts_use_reserve false, restarts stay below it too (for
	 * clusters that keep the reserve for a second failure). */
	uint32_t reserve_pct;
	bool restarts_use_reserve;
	/* Concurrency of planned migrations.  KubeVirt: 2 outbound per node,
	 * 5 per cluster; inbound per node 2 keeps one destination from becoming
	 * the bottleneck of a drain. */
	uint32_t max_out_per_host;
	uint32_t max_in_per_host;
	uint32_t max_cluster;
	/* Score weights (relative) and the penalty per migration already
	 * touching a destination, in score points (score range 0..1000000). */
	uint32_t weight_mem;
	uint32_t weight_cpu;
	uint32_t busy_penalty;
	/* Admission control: how many simultaneous host failures every
	 * protected VM must survive (vSphere/XenServer default 1), and the most
	 * failure combinations enumerated before giving up (answer "unknown"). */
	uint32_t host_failures_to_tolerate;
	uint32_t admission_combinations_max;
	/* Warning thresholds for `check migrate`. */
	uint32_t min_bandwidth_mbps;
	/* Live migration may copy non-shared disks (libvirt copy-storage). */
	bool allow_storage_migration;
} plc_config;

typedef struct plc_host {
	char name[PLC_NAME_MAX];
	uint64_t mem_mib;          /* physical memory */
	uint64_t mem_reserved_mib; /* kept for the hypervisor itself */
	uint32_t cpus;             /* hardware threads */
	char cpu_vendor[PLC_NAME_MAX];
	char cpu_model[PLC_NAME_MAX];
	plc_set cpu_features;
	plc_set storage;  /* storage IDs this host reaches */
	plc_set networks; /* bridges / networks present */
	plc_set groups;   /* host-group labels (PLC_T_HOSTGROUP) */
	uint32_t domain;  /* failure domain index (PLC_T_DOMAIN) */
	plc_version agent_version, libvirt_version, qemu_version;
	plc_admin admin;
	plc_health health;
	uint32_t migrations_in;  /* in flight now, from gossip */
	uint32_t migrations_out;
	uint32_t migration_mtu;  /* 0 = unknown */
	uint32_t bandwidth_mbps; /* migration network, 0 = unknown */
	bool name_resolves;      /* migration URI host name resolves */
	bool migration_enabled;  /* operator or libvirt config allows incoming */
	uint64_t local_free_mib; /* free space for copied (non-shared) disks */
	bool local_free_unknown; /* no figure for it: the space checks are skipped */
	/* The host could not read its hypervisor facts (its libvirtd does not
	 * answer): CPU model and features, storage, networks and the libvirt and
	 * QEMU versions are unknown, not empty (the vendor is still known: it
	 * comes from the kernel).  A check that needs them cannot be decided and
	 * says so (host.facts_unknown) instead of a cpu.*, storage.*, network.*
	 * or version.* finding built on the empty values. */
	bool facts_unknown;
	/* Only the CPU feature names are unknown (left out of a record too large
	 * for them); model, vendor and the rest are known. */
	bool cpu_features_unknown;
	/* the name a source must resolve to reach this host's libvirtd (reasons
	 * quote it); empty = the host name */
	char migration_addr[PLC_NAME_MAX];
} plc_host;

typedef struct plc_disk {
	uint32_t storage; /* index into PLC_T_STORAGE */
	uint64_t size_mib; /* virtual size: what a copy may grow to */
	uint64_t used_mib; /* written now, what a copy moves; 0 = unknown, size_mib assumed */
} plc_disk;

typedef struct plc_vm {
	char name[PLC_NAME_MAX];
	int32_t host;     /* index of the host running it, -1 = not running */
	uint64_t mem_mib;
	uint32_t vcpus;
	plc_cpu_mode cpu_mode;
	char cpu_vendor[PLC_NAME_MAX]; /* vendor/model it was started with */
	char cpu_model[PLC_NAME_MAX];
	plc_set cpu_features;          /* features the guest CPU requires */
	plc_disk disks[PLC_DISKS_MAX];
	uint32_t n_disks;
	plc_set networks;
	uint32_t devices; /* PLC_DEV_* mask */
	bool migratable;  /* false: operator disabled migration for this VM */
	/* HA policy */
	bool protected_;
	int32_t priority;      /* higher first */
	int32_t restart_order; /* lower first; ties by priority */
	/* rules: groups (PLC_T_GROUP) and host groups (PLC_T_HOSTGROUP) */
	plc_set affinity;      /* must share a host with running members */
	plc_set anti_affinity; /* must not share a host with members */
	plc_set anti_domain;   /* must not share a failure domain with members
				* (hosts' domain; with no domains declared,
				* each host is its own domain) */
	plc_set host_must;     /* host must carry one of these labels (empty = any) */
	plc_set host_must_not; /* host must carry none of these labels */
} plc_vm;

/* Memory for working state and results.  NULL in plc_view.alloc means libc;
 * tests plug in one that fails on demand to prove every -ENOMEM path. */
typedef struct plc_allocator {
	void *(*realloc)(void *ctx, void *ptr, size_t size); /* size 0 never asked */
	void (*free)(void *ctx, void *ptr);
	void *ctx;
} plc_allocator;

typedef struct plc_view {
	plc_config cfg;
	const plc_allocator *alloc; /* NULL: malloc/realloc/free */
	plc_host *hosts; /* caller-owned arrays */
	uint32_t n_hosts;
	plc_vm *vms;
	uint32_t n_vms;
	plc_table tables[PLC_T_COUNT];
} plc_view;

/* ---- view helpers (names.c) ---------------------------------------------- */

/* Defaults described in plc_config. */
void plc_config_default(plc_config *cfg);
/* Zero a view, set default config; arrays are attached by the caller. */
void plc_view_init(plc_view *view);
/* Index of NAME in table KIND, adding it if absent.  -ENOSPC when full,
 * -EINVAL when NAME is empty or too long. */
int plc_view_intern(plc_view *view, plc_table_kind kind, const char *name);
/* Index of NAME or -1. */
int plc_view_lookup(const plc_view *view, plc_table_kind kind, const char *name);
int plc_view_find_host(const plc_view *view, const char *name);
int plc_view_find_vm(const plc_view *view, const char *name);
/* Is the view well-formed (indices in range, names unique and terminated,
 * config sane)?  0, or -EINVAL with a one-line explanation in ERR (may be
 * NULL), or -ENOMEM.  Other calls do not require it: they treat bad indices
 * as absent rather than reading out of bounds. */
int plc_view_check(const plc_view *view, char *err, size_t len);
void plc_host_init(plc_host *h); /* zero + sane defaults (resolves, enabled) */
void plc_vm_init(plc_vm *vm);    /* zero + host -1, migratable */

void plc_set_add(plc_set *s, uint32_t bit);
bool plc_set_has(const plc_set *s, uint32_t bit);
bool plc_set_empty(const plc_set *s);
/* "8.0.2" → packed version; -EINVAL on junk or a part >= 1024. */
int plc_version_parse(const char *text, plc_version *out);
void plc_version_format(plc_version v, char *buf, size_t len);

/* ---- filters (filters.c) ------------------------------------------------- */

typedef struct plc_finding {
	const char *code; /* stable, e.g. "storage.not_shared" */
	const char *hint; /* what an operator can do about it */
	bool blocking;    /* false = warning */
	char reason[PLC_REASON_MAX];
} plc_finding;

typedef struct plc_report {
	plc_finding items[PLC_FINDINGS_MAX];
	uint32_t n;
	uint32_t n_blocking;
	uint32_t n_dropped; /* findings past PLC_FINDINGS_MAX */
} plc_report;

/* One row of the filter catalogue (docs/placement.md is generated from it). */
typedef struct plc_filter_info {
	const char *code;
	const char *hint;
	bool blocking;
	const char *applies; /* which request kinds */
} plc_filter_info;
const plc_filter_info *plc_filters(size_t *count);

/* Every blocking reason and warning for moving VM to HOST (live migration;
 * a stopped VM is checked as a cold start).  Returns 0 and fills REPORT, or
 * -EINVAL for bad indices.  Blocked ⇔ report->n_blocking > 0. */
int plc_check(const plc_view *view, uint32_t vm, uint32_t host, plc_report *report);
/* Same for an explicit request kind (restart ignores versions and the
 * reserve, requires shared storage; start/migrate respect the reserve). */
int plc_check_kind(const plc_view *view, plc_kind kind, uint32_t vm, uint32_t host,
		   plc_report *report);

/* ---- scoring (score.c) ----------------------------------------------------- */

/* Score range: higher is better.  1000000 = an empty host after placement. */
#define PLC_SCORE_MAX 1000000

typedef struct plc_rank_entry {
	uint32_t host;
	int64_t score;    /* valid when report.n_blocking == 0 */
	uint32_t mem_ppm; /* memory / vCPU use after placement, millionths of */
	uint32_t cpu_ppm; /* capacity (overcommit included): the score's inputs */
	plc_report report;
} plc_rank_entry;

typedef struct plc_ranking {
	plc_rank_entry *entries; /* candidates first (best first), then rejected by name */
	uint32_t n;
	uint32_t n_candidates;
	const plc_allocator *alloc; /* frees entries */
} plc_ranking;

/* Rank every host for VM (its own host excluded when running). */
int plc_rank(const plc_view *view, uint32_t vm, plc_ranking *ranking);
int plc_rank_kind(const plc_view *view, plc_kind kind, uint32_t vm, plc_ranking *ranking);
void plc_ranking_free(plc_ranking *ranking);

/* ---- planners (plan_evacuate.c, plan_restart.c) --------------------------- */

typedef struct plc_move {
	uint32_t vm;
	uint32_t from; /* host index (the failed host for restarts) */
	uint32_t to;
	int64_t score;
	uint32_t wave; /* migrations in one wave run together; restarts: order step */
} plc_move;

typedef struct plc_why {
	const char *code;
	uint32_t hosts; /* how many hosts rejected it for this code first */
} plc_why;

typedef struct plc_unplaced {
	uint32_t vm;
	plc_why why[PLC_WHY_MAX];
	uint32_t n_why;
	char example[PLC_REASON_MAX]; /* one full reason, from the best-named host */
} plc_unplaced;

typedef struct plc_plan {
	plc_move *moves;
	uint32_t n_moves;
	plc_unplaced *unplaced;
	uint32_t n_unplaced;
	uint32_t *skipped; /* VMs not restarted because they are not protected */
	uint32_t n_skipped;
	uint32_t n_waves;
	const plc_allocator *alloc; /* frees the arrays */
} plc_plan;

/* Evacuation of HOST (drain / maintenance): every VM running there, ordered
 * by priority (high first) then memory (large first) then name; each goes to
 * its best-scored candidate with capacity consumed as the plan proceeds.
 * Moves are grouped into waves honouring max_out_per_host, max_in_per_host
 * and max_cluster (in-flight migrations count against wave 0).  The source's
 * own admin state is not checked: draining it is the point. */
int plc_plan_evacuate(const plc_view *view, uint32_t host, plc_plan *plan);
/* The same for several hosts at once (a rack, an upgrade batch): one order
 * over all their VMs, none of them a destination ("admin.draining: being
 * emptied by this plan"), max_out_per_host applied to each source. */
int plc_plan_evacuate_hosts(const plc_view *view, const uint32_t *hosts, uint32_t n_hosts,
			    plc_plan *plan);
/* Restart of the protected VMs of FAILED[0..n_failed) (all treated as down):
 * ordered by restart_order, then priority, then memory, then name; reserve
 * may be used; affinity honoured against VMs already placed.  Unprotected
 * VMs are listed in plan->skipped. */
int plc_plan_restart(const plc_view *view, const uint32_t *failed, uint32_t n_failed,
		     plc_plan *plan);
void plc_plan_free(plc_plan *plan);

/* ---- admission control (admission.c) -------------------------------------- */

typedef enum plc_verdict {
	PLC_ADMIT_OK = 0, /* every protected VM survives any tolerated failure */
	PLC_ADMIT_WARN,   /* already broken before this request; not made worse */
	PLC_ADMIT_REFUSE, /* this request would break the guarantee */
	PLC_ADMIT_UNKNOWN /* too many failure combinations to enumerate */
} plc_verdict;

typedef struct plc_admission {
	bool ok;
	bool exhaustive;         /* false: combination limit reached */
	uint32_t combinations;   /* failure sets examined */
	uint32_t worst[PLC_TOLERATE_MAX]; /* first failure set that breaks it */
	uint32_t n_worst;
	uint32_t victim;         /* a VM that could not be restarted, when !ok */
	const char *victim_code; /* most common rejection for it */
	char reason[PLC_REASON_MAX];
} plc_admission;

/* Could every protected VM be restarted after any cfg.host_failures_to_tolerate
 * hosts (among those not down) fail at once? */
int plc_admission_check(const plc_view *view, plc_admission *out);
/* "ok", "warn", "refuse", "unknown". */
const char *plc_verdict_name(plc_verdict v);
/* "Protect VM now?" — runs admission with VM protected.  REASON explains. */
int plc_admit_protect(const plc_view *view, uint32_t vm, plc_verdict *verdict,
		      char *reason, size_t reason_len);

/* ---- CPU baseline (baseline.c) --------------------------------------------- */

typedef struct plc_cpu_model {
	char name[PLC_NAME_MAX];
	char vendor[PLC_NAME_MAX];
	plc_set features; /* features the model implies */
} plc_cpu_model;

typedef struct plc_baseline {
	char vendor[PLC_NAME_MAX];
	int32_t model;    /* index into the models list, -1 if none fits */
	plc_set features; /* intersection over the hosts */
	plc_set extra;    /* features beyond the chosen model, to list as required */
} plc_baseline;

/* The CPU every host in HOSTS (all non-down hosts whose CPU features are
 * known when n_hosts == 0) can run — the pure part of libvirt's
 * virConnectBaselineHypervisorCPU, drover's EVC: common vendor (-EDOM when
 * mixed), intersection of features, and the model from MODELS of that vendor
 * whose features are all in the intersection, preferring the one with most
 * features (then the later in the list).  -EAGAIN when a host named in
 * HOSTS has unknown CPU features (facts_unknown, cpu_features_unknown): an
 * intersection with "unknown" would be empty, not true. */
int plc_cpu_baseline(const plc_view *view, const uint32_t *hosts, uint32_t n_hosts,
		     const plc_cpu_model *models, uint32_t n_models, plc_baseline *out);

/* ---- text rendering (format.c), used by the CLI and the golden tests ------- */

/* Each appends lines to BUF (NUL-terminated, truncated at LEN) and returns the
 * length it would have needed, like snprintf. */
size_t plc_format_report(const plc_view *view, uint32_t vm, uint32_t host,
			 const plc_report *report, char *buf, size_t len);
size_t plc_format_ranking(const plc_view *view, const plc_ranking *ranking, char *buf,
			  size_t len);
size_t plc_format_plan(const plc_view *view, const plc_plan *plan, char *buf, size_t len);
size_t plc_format_baseline(const plc_view *view, const plc_cpu_model *models,
			   const plc_baseline *b, char *buf, size_t len);
size_t plc_format_admission(const plc_view *view, const plc_admission *a, char *buf,
			    size_t len);

/* The same as one JSON object each (format_json.c), for --json.  Field names
 * are part of the contract: see docs/placement.md. */
size_t plc_format_report_json(const plc_view *view, uint32_t vm, uint32_t host,
			      const plc_report *report, char *buf, size_t len);
size_t plc_format_ranking_json(const plc_view *view, const plc_ranking *ranking, char *buf,
			       size_t len);
size_t plc_format_plan_json(const plc_view *view, const plc_plan *plan, char *buf, size_t len);
size_t plc_format_admission_json(const plc_view *view, const plc_admission *a, char *buf,
				 size_t len);
size_t plc_format_verdict_json(plc_verdict v, const char *reason, char *buf, size_t len);
size_t plc_format_baseline_json(const plc_view *view, const plc_cpu_model *models,
				const plc_baseline *b, char *buf, size_t len);

#endif

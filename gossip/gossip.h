/* gossip.h — the contract of drover's membership core: SWIM + Lifeguard, sans-I/O.
 *
 * References
 *   [SWIM] Das, Gupta, Motivala, "SWIM: Scalable Weakly-consistent Infection-style
 *          Process Group Membership Protocol", DSN 2002.
 *   [LG]   Dadgar, Phillips, Currey, "Lifeguard: Local Health Awareness for More
 *          Accurate Failure Detection", arXiv 1707.00788 (2017).
 *
 * Model.  One `gsp` value is one host's view of the group.  It never does I/O and never
 * reads a clock: the caller feeds it events (a timer tick, a received message, a join
 * request, a local status update, a leave request), each stamped with `now_ms` from a
 * monotonic clock, and gsp_step() answers with a `gsp_out`: the messages to send (to a
 * member id and address) and the membership events that happened.  All randomness comes
 * from a PRNG seeded by gsp_config.seed, so the same seed and the same event sequence give
 * the same outputs, bit for bit (the simulator in tests/sim/ depends on it).
 *
 * What is implemented, by paper section:
 *   - probe / ack with a per-probe timeout, then k indirect probes       [SWIM 3.1]
 *   - indirect probes answer with a nack when the target stays silent    [LG 4.3]
 *   - suspicion before death, incarnation numbers, refutation            [SWIM 4.2]
 *   - local health multiplier (LHM) scaling probe interval and timeout   [LG 4.3]
 *   - suspicion timeout shrinking with independent confirmations:
 *       min = alpha * max(1, log10 N) * probe_interval, max = beta * min,
 *       timeout(C) = max(min, max - (max - min) * log(C+1) / log(K+1))   [LG 4.4]
 *   - buddy system: a suspect hears about its suspicion in our probe     [LG 4.5]
 *   - round-robin probe order over a shuffled list                      [SWIM 4.3]
 *   - infection-style dissemination piggybacked on every message, each
 *     update retransmitted at most lambda * ceil(log10(N+1)) times        [SWIM 4.1]
 *   - graceful leave; periodic push-pull anti-entropy and push-pull on join
 *     (as HashiCorp memberlist does; not in the papers)
 *   - a per-host status record: opaque (signed elsewhere) bytes + a version chosen
 *     by its host; the core keeps the newest version per host and spreads it: the
 *     infection carries only (host, version) announcements, and a member that learns
 *     of a newer version pulls the body from the announcer, so each member receives
 *     each body about once instead of lambda*log(N) times (broadcast.c).
 *
 * Who may raise what (issue 12).  Messages come from authenticated members, but a
 * member may lie about another one, so nothing a member says about host X can raise
 * what we keep for X unless X itself signed it.  The core holds no keys and links no
 * crypto: it asks the caller through struct gsp_auth (below), synchronously.
 *   - Incarnations are X's own: an update that would raise the incarnation we hold for
 *     X (or introduce X) must carry X's signature of (X, incarnation, ALIVE); a LEFT
 *     must always carry X's signature of (X, incarnation, LEFT).  So SUSPECT/DEAD about
 *     X can only name an incarnation X has signed: a member suspects what it has seen.
 *     Every fact we spread carries that signature, so a member that has not yet seen
 *     X's latest incarnation still accepts a suspicion of it [SWIM 4.2 needs exactly
 *     that suspicion at the current incarnation spreads].
 *   - Incarnations saturate at GSP_INC_MAX: never wrap, and comparisons are plain
 *     unsigned ones, so a small number is never "newer" than a large one.  A host at
 *     the maximum can no longer outbid an accusation (counted in inc_saturated); only
 *     its own signatures get it there, one per refutation, leave or restart.
 *   - A status record's version is the one inside its signed body: a record that does
 *     not verify, or whose update names another version, is refused before it can
 *     replace anything; the announced (unsigned) versions of HAVE entries and digests
 *     only decide what to pull.
 * Refusals are counted by reason in gsp_stats.  After one refusal in a message the
 * rest of its signed claims are refused unchecked (a bound on verification work).
 *
 * Errors are negative errno values.  Memory referenced from a gsp_out stays valid until
 * the next call of gsp_step() or gsp_free() on the same gsp.
 */
#ifndef DROVER_GOSSIP_H
#define DROVER_GOSSIP_H

#include <stddef.h>
#include <stdint.h>

#define GSP_ID_LEN 16        /* BLAKE2b-128 of the host's identity key (see proto/drover.proto) */
#define GSP_ADDR_MAX 48      /* "tcp://[v6 addr]:port" fits; longer addresses are refused */
#define GSP_STATUS_MAX 2048  /* bytes of one signed status record; bounds one update's size */
#define GSP_SIG_LEN 64       /* a signature through gsp_auth (Ed25519 in the agent) */
#define GSP_INC_MAX UINT32_MAX /* incarnations saturate here, never wrap */

typedef struct gsp_id {
	uint8_t b[GSP_ID_LEN];
} gsp_id;

enum gsp_state { GSP_ALIVE = 0, GSP_SUSPECT = 1, GSP_DEAD = 2, GSP_LEFT = 3 };

/* The seam to the caller's keys (see "Who may raise what" above).  Called from inside
 * gsp_step and gsp_new, never re-entrantly: the functions must not call any gsp_*
 * function on the same gsp, and should be quick (a table lookup and one signature
 * operation).  All three are required; gsp_new refuses a config without them.
 * `ctx` is passed back unchanged.  What exactly is signed (domain string, encoding)
 * is the caller's choice; it must bind all of id, inc and state. */
struct gsp_auth {
	void *ctx;
	/* Sign "host `id` is `state` (GSP_ALIVE or GSP_LEFT) at incarnation `inc`" with this
	 * host's key.  Called with our own id only, each time our incarnation or state
	 * changes (gsp_new, refutation, leave).  Must not fail. */
	void (*sign_inc)(void *ctx, gsp_id id, uint32_t inc, enum gsp_state state,
	                 uint8_t sig[GSP_SIG_LEN]);
	/* 0 when sig is `id`'s signature of that statement; -ENOENT when `id`'s key is not
	 * known here (yet: a member admitted after this host's table was built); anything
	 * else refuses it as forged. */
	int (*verify_inc)(void *ctx, gsp_id id, uint32_t inc, enum gsp_state state,
	                  const uint8_t sig[GSP_SIG_LEN]);
	/* Open a status record claimed to be `id`'s: 0 and *version = the version in its
	 * signed body when `id` signed it and it is about `id`; -ENOENT as for verify_inc;
	 * anything else refuses it as forged. */
	int (*status_version)(void *ctx, gsp_id id, const uint8_t *rec, uint32_t len,
	                      uint64_t *version);
};

/* Tunables.  gsp_config_default() gives the values justified in gossip_config.c and
 * docs/gossip.md; every field may be changed before gsp_new().  `auth` has no default:
 * the caller must set it. */
struct gsp_config {
	uint32_t probe_interval_ms;     /* one probe round (SWIM's protocol period T') */
	uint32_t probe_timeout_ms;      /* wait for a direct ack before indirect probes */
	uint32_t indirect_probes;       /* k of [SWIM 3.1] */
	uint32_t nack_percent;          /* relay sends nack after this % of probe_timeout [LG 4.3] */
	uint32_t gossip_interval_ms;    /* extra dissemination rounds between probes */
	uint32_t gossip_fanout;         /* members per gossip round */
	uint32_t retransmit_mult;       /* lambda of [SWIM 4.1] */
	uint32_t suspicion_alpha;       /* min timeout multiplier [LG 4.4] */
	uint32_t suspicion_beta;        /* max = beta * min [LG 4.4] */
	uint32_t suspicion_k;           /* confirmations that bring the timeout down to min */
	uint32_t lhm_max;               /* LHM saturates at this multiplier [LG 4.3] */
	uint32_t push_pull_interval_ms; /* anti-entropy period at <= push_pull_scale_n members */
	uint32_t push_pull_scale_n;     /* above this, the period grows with log2(N / scale_n) */
	uint32_t reconnect_interval_ms; /* push-pull with one dead member, so partitions heal */
	uint32_t piggyback_max;         /* updates per message, 1..64 */
	uint32_t status_hot_ms;         /* a new status version rides on probes this long; 0: off */
	uint32_t msg_budget_bytes;      /* estimated piggyback bytes per message */
	uint32_t relay_max;             /* outstanding indirect probes we relay for others */
	uint32_t members_max;           /* table size limit (including dead and left) */
	uint64_t seed;                  /* PRNG seed; 0 is allowed */
	struct gsp_auth auth;           /* signatures: required (see above) */
};

/* ---- messages (codec-free; gossip/codec.h maps them to proto/gossip.proto) ---- */

enum gsp_upd_kind {
	GSP_UPD_ALIVE = 0,   /* subject is alive at incarnation; carries its address */
	GSP_UPD_SUSPECT = 1, /* `from` suspects subject at incarnation */
	GSP_UPD_DEAD = 2,    /* `from` declared subject dead at incarnation */
	GSP_UPD_LEFT = 3,    /* subject left on purpose at incarnation */
	GSP_UPD_STATUS = 4,  /* subject's status record, version status_version */
	GSP_UPD_STATUS_HAVE = 5, /* `from` holds subject's status at status_version (no body);
	                          * in a STATUS_PULL: the version wanted */
};

struct gsp_update {
	enum gsp_upd_kind kind;
	gsp_id subject;
	gsp_id from;
	uint32_t incarnation;
	char addr[GSP_ADDR_MAX];  /* ALIVE (and push-pull digests): NUL-terminated */
	uint64_t status_version;  /* STATUS; in push-pull digests: version the sender holds */
	uint32_t status_len;      /* STATUS only */
	const uint8_t *status;    /* STATUS only; borrowed, status_len bytes */
	int has_sig;              /* sig is set */
	uint8_t sig[GSP_SIG_LEN]; /* ALIVE/SUSPECT/DEAD: subject's signature of (subject,
	                           * incarnation, ALIVE); LEFT: of (subject, incarnation, LEFT) */
};

enum gsp_msg_type {
	GSP_MSG_PING = 1,        /* probe; `to` must be the receiver */
	GSP_MSG_PING_REQ = 2,    /* please probe `target` (at target_addr) for me */
	GSP_MSG_ACK = 3,         /* answer to PING or relayed answer to PING_REQ, same seq */
	GSP_MSG_NACK = 4,        /* relay heard nothing from the target in time [LG 4.3] */
	GSP_MSG_GOSSIP = 5,      /* only piggybacked updates */
	GSP_MSG_PUSH_PULL = 6,   /* full digest; `join` set when the sender is joining */
	GSP_MSG_PUSH_PULL_REPLY = 7,
	GSP_MSG_STATUS_PULL = 8, /* please send these status records (HAVE entries) */
};

struct gsp_msg {
	enum gsp_msg_type type;
	gsp_id from;
	gsp_id to;                      /* intended receiver (zero when unknown, e.g. join) */
	uint32_t seq;
	gsp_id target;                  /* PING_REQ */
	char target_addr[GSP_ADDR_MAX]; /* PING_REQ */
	int join;                       /* PUSH_PULL */
	size_t n_updates;
	const struct gsp_update *updates;
};

/* ---- events in, outputs out ---- */

enum gsp_ev_type {
	GSP_EV_TICK = 0,   /* timers; call at out.next_tick_ms or later */
	GSP_EV_RECV = 1,   /* msg arrived (authenticated by the transport) */
	GSP_EV_JOIN = 2,   /* contact these seed addresses (push-pull with join set) */
	GSP_EV_STATUS = 3, /* our own status record changed */
	GSP_EV_LEAVE = 4,  /* leave gracefully: announce LEFT, then stop probing */
};

struct gsp_event {
	enum gsp_ev_type type;
	uint64_t now_ms;  /* monotonic; must never go backwards between calls */
	const struct gsp_msg *msg;             /* RECV */
	size_t n_seeds;                        /* JOIN */
	const char *const *seeds;              /* JOIN: addresses */
	uint64_t status_version;               /* STATUS: must exceed the previous version */
	const uint8_t *status;                 /* STATUS: auth.status_version must give
	                                        * status_version back */
	uint32_t status_len;                   /* STATUS: <= GSP_STATUS_MAX */
};

struct gsp_send {
	gsp_id to;               /* zero when only the address is known (join) */
	char addr[GSP_ADDR_MAX]; /* empty when only the id is known (an ack to a sender we
	                          * have not heard of yet): answer on the connection the
	                          * request came in on, or resolve the id */
	struct gsp_msg msg;
};

enum gsp_mevent_type { GSP_ME_STATE = 0, GSP_ME_STATUS = 1 };

struct gsp_member_event {
	enum gsp_mevent_type type;  /* STATE: member changed state; STATUS: new status record */
	gsp_id id;
	enum gsp_state state;
	uint32_t incarnation;
	uint64_t status_version;
};

struct gsp_out {
	size_t n_send;
	const struct gsp_send *send;
	size_t n_events;
	const struct gsp_member_event *events;
	uint64_t next_tick_ms;      /* the earliest time a TICK has work to do */
};

/* A snapshot of one member, for listings (`drover members`). */
struct gsp_member_info {
	gsp_id id;
	char addr[GSP_ADDR_MAX];
	enum gsp_state state;
	uint32_t incarnation;
	uint64_t state_since_ms;
	uint64_t status_version;
	uint32_t status_len;
	const uint8_t *status;  /* valid until the next gsp_step/gsp_free */
};

typedef struct gsp gsp;

void gsp_config_default(struct gsp_config *cfg);

/* Create the view of host `self` reachable at `addr`, alone in its group, incarnation
 * `incarnation` (a restarted host may pass a persisted value; 0 is fine, refutation
 * raises it; signed at once through cfg->auth.sign_inc).  Errors: -EINVAL (bad config,
 * auth functions missing, addr too long), -ENOMEM. */
int gsp_new(const struct gsp_config *cfg, gsp_id self, const char *addr,
            uint32_t incarnation, gsp **out);
void gsp_free(gsp *g);

/* Feed one event.  On success fills *out (valid until the next call) and returns 0.
 * Preconditions: ev->now_ms never decreases between calls on the same gsp.
 * Errors: -EINVAL (malformed event or message: nothing changed; a STATUS whose record
 * does not open to ev->status_version through auth.status_version), -ESTALE (STATUS with a
 * version not above the current one), -EPERM (JOIN/STATUS/LEAVE after LEAVE),
 * -ENOMEM (an allocation failed part-way: *out is still valid and must still be acted
 * on, the state is consistent, some work of this event may be missing).  A message for
 * somebody else (`to` mismatch), a late ack or an unknown relay is ignored and counted
 * in gsp_stats, not an error. */
int gsp_step(gsp *g, const struct gsp_event *ev, struct gsp_out *out);

/* Read-only view. */
size_t gsp_member_count(const gsp *g);                        /* all known, self included */
size_t gsp_alive_count(const gsp *g);                         /* alive + suspect */
int gsp_member_get(const gsp *g, size_t i, struct gsp_member_info *info); /* -ERANGE */
int gsp_member_find(const gsp *g, gsp_id id, struct gsp_member_info *info); /* -ENOENT */
uint32_t gsp_incarnation(const gsp *g);
uint32_t gsp_lhm(const gsp *g);   /* current local health multiplier, 1..lhm_max */

/* Derived bounds (for tests, docs and `drover status`). */
uint64_t gsp_suspicion_min_ms(const struct gsp_config *cfg, size_t n_members);
uint64_t gsp_suspicion_max_ms(const struct gsp_config *cfg, size_t n_members);
uint32_t gsp_retransmit_limit(const struct gsp_config *cfg, size_t n_members);

/* Counters for observability. */
struct gsp_stats {
	uint64_t probes, probes_failed, indirect_sent, nacks_sent, nacks_received;
	uint64_t refutations, msgs_ignored, updates_applied, push_pulls, relays_dropped;
	uint64_t members_full;
	/* Refused updates, by reason ("Who may raise what" above).  A correct member never
	 * causes these: each one is a forgery, or a bug. */
	uint64_t refused_inc_unsigned;     /* would raise an incarnation, or says LEFT, unsigned */
	uint64_t refused_inc_bad_sig;      /* the same with a signature that does not verify */
	uint64_t refused_status_bad_sig;   /* status record not signed by (or not about) its host */
	uint64_t refused_status_version;   /* update's version differs from the signed one */
	/* Refused because the subject's key is not known here: not a forgery (a member this
	 * host has not heard of yet), and it costs no verification, so the rest of the
	 * message is still read. */
	uint64_t refused_unknown_subject;
	uint64_t inc_saturated;            /* we had to refute at GSP_INC_MAX and could not */
};
void gsp_stats_get(const gsp *g, struct gsp_stats *st);

const char *gsp_state_name(enum gsp_state s);
int gsp_id_eq(gsp_id a, gsp_id b);
int gsp_id_is_zero(gsp_id a);

#endif

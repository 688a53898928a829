/* internal.h — state shared by the files of the gossip core; not part of the contract. */
#ifndef DROVER_GOSSIP_INTERNAL_H
#define DROVER_GOSSIP_INTERNAL_H

#include "gossip.h"

#include <stdbool.h>

#define GSP__NONE UINT32_MAX
/* Status bodies pulled per received message: a message carries at most piggyback_max
 * announcements, and 32 covers any sane piggyback_max; more wait for the next one. */
#define GSP__PULL_MAX 32u
/* Outstanding status pulls we retry (pull.c): a bounded table; when it is full, new
 * wants are still sent once but not retried.  Three retries take the chance that a
 * pull and all its retries are lost at 10% loss to 0.19^4 ~ 0.1%. */
#define GSP__PULLS_MAX 64u
/* Recently changed status records carried on probes (broadcast.c); when more change
 * within status_hot_ms, the oldest drop out early and push-pull covers them. */
#define GSP__HOT_MAX 32u
#define GSP__PULL_RETRIES 3u

struct gsp__pull {
	bool used;
	uint8_t tries;
	uint32_t member, from;
	uint64_t version, deadline_ms;
};

/* PRNG: xoshiro256** seeded through splitmix64; one per gsp, no global state. */
struct gsp__rng {
	uint64_t s[4];
};
void gsp__rng_seed(struct gsp__rng *r, uint64_t seed);
uint64_t gsp__rng_next(struct gsp__rng *r);
uint32_t gsp__rng_below(struct gsp__rng *r, uint32_t n); /* uniform in [0, n), n > 0 */

struct gsp__member {
	gsp_id id;
	char addr[GSP_ADDR_MAX];
	uint8_t state;            /* enum gsp_state */
	bool bc_pending;          /* membership fact waiting to be retransmitted */
	bool st_pending;          /* status record waiting to be retransmitted */
	bool in_active;           /* listed in g->active */
	uint32_t inc;
	uint8_t sig[GSP_SIG_LEN]; /* the member's own signature of inc: of (id, inc, LEFT)
	                           * while LEFT, else of (id, inc, ALIVE) (members.c) */
	uint64_t since_ms;
	gsp_id bc_from;           /* `from` of the membership fact we spread */
	uint16_t bc_tx, st_tx;    /* transmissions so far */
	uint32_t bc_stamp, st_stamp; /* piggyback round that last took them (once per message) */
	uint64_t status_version;
	uint32_t status_len;
	uint8_t *status;
	uint64_t pull_version, pull_at_ms;  /* last body we asked for, and when */
	/* suspicion [LG 4.4]; susp_confirmers != NULL while suspect */
	uint64_t susp_start_ms, susp_min_ms, susp_max_ms;
	uint32_t susp_n;          /* independent confirmations so far (<= suspicion_k) */
	gsp_id *susp_confirmers;  /* [0] = first suspecter, then confirmers */
};

struct gsp__probe {
	bool active;
	bool indirect_sent;
	uint32_t member;
	uint32_t seq;
	uint64_t start_ms, indirect_at_ms, end_ms;
	uint32_t expected_nacks, nacks;
};

struct gsp__relay {
	bool used;
	uint32_t local_seq, req_seq;
	gsp_id requester;
	uint64_t nack_at_ms;
};

/* Output being built during one gsp_step.  Updates are collected in one pool and the
 * messages refer to it by offset until gsp__out_finish() turns offsets into pointers,
 * because growing the pool moves it. */
struct gsp__send_b {
	struct gsp_send s;
	size_t upd_off;
};

struct gsp {
	struct gsp_config cfg;
	struct gsp__rng rng;
	uint32_t self;            /* index of ourselves in members */
	bool leaving;
	struct gsp_stats st;

	struct gsp__member *members;
	uint32_t n_members, cap_members;
	uint32_t *hash;           /* open addressing: member index or GSP__NONE */
	uint32_t hash_cap;        /* power of two, >= 2 * cap_members */
	uint32_t n_live;          /* alive + suspect, self included */

	uint32_t *order;          /* round-robin probe order (member indices) */
	uint32_t n_order, order_pos;

	uint32_t *active;         /* members with pending broadcasts */
	uint32_t n_active;

	uint32_t *suspects;       /* members under a running suspicion timer */
	uint32_t n_suspects;
	uint32_t susp_cursor;     /* rotates which suspicions ride along (broadcast.c) */

	struct gsp__probe probe;
	struct gsp__pull pulls[GSP__PULLS_MAX];
	uint32_t hot[GSP__HOT_MAX];         /* ring of members with a fresh status */
	uint64_t hot_until[GSP__HOT_MAX];
	uint32_t hot_next, hot_cursor;
	uint64_t now;                       /* time of the event being processed */
	uint32_t seq;
	struct gsp__relay *relays;
	uint64_t next_probe_ms, next_gossip_ms, next_push_pull_ms, next_reconnect_ms;
	uint32_t pb_round;        /* counter stamped on facts taken by one piggyback call */
	uint32_t lhm_score;       /* 0 .. lhm_max-1; the multiplier is score + 1 */
	bool started;
	bool refused_in_msg;      /* a signed claim of this event was refused (members.c) */

	/* output being built */
	struct gsp__send_b *out_send;
	size_t n_out_send, cap_out_send;
	struct gsp_update *upd;
	size_t n_upd, cap_upd;
	struct gsp_member_event *ev;
	size_t n_ev, cap_ev;
	struct gsp_send *sends_final;
	size_t cap_sends_final;
	uint8_t **graveyard;      /* status buffers replaced this step, freed next step */
	size_t n_grave, cap_grave;
	bool oom;
};

/* members.c */
uint32_t gsp__find(const struct gsp *g, gsp_id id);
uint32_t gsp__add(struct gsp *g, gsp_id id, const char *addr, uint32_t inc,
                  const uint8_t sig[GSP_SIG_LEN], uint64_t now);
enum gsp__applied { GSP__APPLIED = 0, GSP__STALE = 1, GSP__WANT = 2 };
enum gsp__applied gsp__apply(struct gsp *g, const struct gsp_update *u, uint64_t now,
                             bool from_push_pull);
void gsp__on_status_pull(struct gsp *g, const struct gsp_msg *msg);
void gsp__set_state(struct gsp *g, uint32_t m, enum gsp_state s, uint64_t now);
void gsp__refute(struct gsp *g, uint32_t inc_seen);
void gsp__sign_self(struct gsp *g);
void gsp__emit(struct gsp *g, enum gsp_mevent_type t, uint32_t m);
void gsp__fill_fact(const struct gsp *g, uint32_t m, struct gsp_update *u);

/* suspicion.c */
void gsp__suspect(struct gsp *g, uint32_t m, uint32_t inc, gsp_id from, uint64_t now);
void gsp__suspicion_clear(struct gsp *g, uint32_t m);
void gsp__suspicion_tick(struct gsp *g, uint64_t now);
uint64_t gsp__suspicion_deadline(const struct gsp *g, const struct gsp__member *mb);

/* broadcast.c */
void gsp__bc_member(struct gsp *g, uint32_t m);
void gsp__bc_status(struct gsp *g, uint32_t m);
size_t gsp__piggyback(struct gsp *g, uint32_t dest);
void gsp__gossip_tick(struct gsp *g, uint64_t now);

/* probe.c */
void gsp__probe_tick(struct gsp *g, uint64_t now);
void gsp__on_ping(struct gsp *g, const struct gsp_msg *msg, uint64_t now);
void gsp__on_ping_req(struct gsp *g, const struct gsp_msg *msg, uint64_t now);
void gsp__on_ack(struct gsp *g, const struct gsp_msg *msg, uint64_t now);
void gsp__on_nack(struct gsp *g, const struct gsp_msg *msg);
void gsp__order_insert(struct gsp *g, uint32_t m);
uint64_t gsp__scaled(const struct gsp *g, uint32_t ms);

/* pull.c */
void gsp__pull_request(struct gsp *g, uint32_t from, const struct gsp_msg *msg,
                       const uint32_t *want, uint32_t n_want, uint64_t now);
void gsp__pull_tick(struct gsp *g, uint64_t now);
uint64_t gsp__pull_next(const struct gsp *g);

/* pushpull.c */
void gsp__push_pull_tick(struct gsp *g, uint64_t now);
void gsp__push_pull_send(struct gsp *g, uint32_t dest, const char *addr, int join,
                         enum gsp_msg_type type, const struct gsp_msg *peer);
void gsp__on_push_pull(struct gsp *g, const struct gsp_msg *msg, uint64_t now);

/* gossip.c: output building */
struct gsp__send_b *gsp__send_new(struct gsp *g, uint32_t dest, const char *addr,
                                  enum gsp_msg_type type);
struct gsp_update *gsp__upd_new(struct gsp *g);
bool gsp__is_live(const struct gsp__member *mb);
uint32_t gsp__random_live(struct gsp *g, uint32_t exclude1, uint32_t exclude2);

#endif

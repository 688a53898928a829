/* gsim.h — runs N real gossip cores (gossip/) over the simulated network (tests/sim/net),
 * every message encoded with the real codec (gossip/codec.h), and records what each
 * member believes about every other.  Used by the sim tests and by bench/gossip. */
#ifndef DROVER_GSIM_H
#define DROVER_GSIM_H

#include "codec.h"
#include "gossip.h"
#include "simnet.h"

struct gsim;

/* Called for every membership event a core emits. */
typedef void (*gsim_hook)(void *ctx, struct gsim *gs, uint32_t observer,
                          const struct gsp_member_event *ev, uint32_t subject, uint64_t now);

struct gsim_config {
	uint32_t n;
	uint64_t seed;
	struct gsp_config gossip;     /* seed field is overwritten per node */
	struct sim_config net;        /* n_nodes and seed are overwritten */
	uint32_t join_spread_ms;      /* joins are spread over this much time */
	gsim_hook hook;
	void *hook_ctx;
};

struct gsim {
	struct gsim_config cfg;
	struct sim *net;
	gsp **nodes;
	uint8_t *view;                /* n*n: state of subject as seen by observer (0xff unknown) */
	uint64_t *status_ver;         /* n*n: status version observer holds for subject */
	uint32_t *life;               /* restarts per node (incarnation base of a new life) */
	uint64_t decode_errors, step_errors, encode_errors;
	uint64_t refused_past;        /* refusals counted by nodes since replaced (restarts) */
	uint8_t *buf;
};

int gsim_new(const struct gsim_config *cfg, struct gsim **out);
void gsim_free(struct gsim *gs);
void gsim_run_until(struct gsim *gs, uint64_t t_ms);
uint64_t gsim_now(const struct gsim *gs);

void gsim_kill(struct gsim *gs, uint32_t node);
void gsim_restart(struct gsim *gs, uint32_t node);     /* new core, joins via node 0 */
int gsim_set_status(struct gsim *gs, uint32_t node, uint64_t version, const uint8_t *data,
                    uint32_t len);
void gsim_leave(struct gsim *gs, uint32_t node);

static inline uint8_t gsim_view(const struct gsim *gs, uint32_t obs, uint32_t subj)
{
	return gs->view[(size_t)obs * gs->cfg.n + subj];
}

/* Updates refused by any node's signature rules so far, restarted lives included
 * (gsp_stats refused_*; zero among honest nodes). */
uint64_t gsim_refused(const struct gsim *gs);

/* True when every up node sees every up node alive (and, when `dead_too`, every down node
 * dead or left). */
int gsim_converged(const struct gsim *gs, int dead_too);

gsp_id gsim_id(uint32_t node);
uint32_t gsim_index(gsp_id id);

/* Stand-in signatures (gsim.c): a keyed hash instead of Ed25519, with the same
 * contract (gossip.h, struct gsp_auth), so the core's signature rules run in every
 * simulated message.  make_node installs gsim_auth() when the config has no auth. */
struct gsp_auth gsim_auth(void);
void gsim_sign(gsp_id id, uint32_t inc, enum gsp_state state, uint8_t sig[GSP_SIG_LEN]);
/* Simulated status records: an 8-byte version and an 8-byte tag over (id, version,
 * body), then the body.  gsim_set_status seals `data` this way. */
#define GSIM_SEAL_LEN 16u
uint32_t gsim_seal(gsp_id id, uint64_t version, const uint8_t *body, uint32_t len, uint8_t *out);

#endif

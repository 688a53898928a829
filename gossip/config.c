/* config.c — default parameters and the bounds derived from them.
 *
 * The defaults aim at a LAN of KVM hosts (sub-millisecond RTT) and at the targets in
 * ../shared/ANCHORS.md: a dead host known by everyone within 3 s at 64 hosts, under
 * 2 KB/s of gossip per host at 256 hosts, and no false positives under loss or overload.
 * memberlist's LAN profile (probe 1 s, suspicion alpha 4) needs 7-8 s for the first; we
 * get there by probing 5x as often, which is cheap (a ping and an ack are ~60 bytes
 * each), and by keeping Lifeguard's protections (LHM, nacks, confirmations) that make a
 * short probe timeout safe.  docs/gossip.md has the measured figures.
 */
#include "internal.h"

#include <math.h>
#include <string.h>

void gsp_config_default(struct gsp_config *c)
{
	/* auth has no default (gossip.h): left empty, so gsp_new refuses until it is set */
	memset(c, 0, sizeof(*c));
	/* SWIM's expected first detection is T'/(1-e^-1) ~ 1.58 T' [SWIM 3.1]; T' = 200 ms
	 * puts it near 320 ms and costs 5 pings/s per host. */
	c->probe_interval_ms = 200;
	/* LAN RTT is < 1 ms; 100 ms leaves half the period for the indirect round and is
	 * multiplied by the LHM (up to lhm_max) when this host is the slow one. */
	c->probe_timeout_ms = 100;
	/* k = 3 as in memberlist; SWIM shows the false-positive rate falls exponentially in k. */
	c->indirect_probes = 3;
	/* memberlist's relay waits 80% of the probe timeout before its nack, so the nack
	 * arrives before the requester's own deadline. */
	c->nack_percent = 80;
	/* memberlist's LAN values.  Infection needs ~log_{fanout+1}(N) rounds: 4-5 rounds
	 * of 200 ms reach 256 hosts (measured p99 ~0.55 s, target 1.5 s), and piggybacking
	 * on probes adds more rounds for free.  100 ms was 10% faster to detect but cost
	 * ~250 B/s more per host at 256 hosts.  Rounds are only taken while something is
	 * waiting to be spread. */
	c->gossip_interval_ms = 200;
	c->gossip_fanout = 3;
	/* lambda = 4 as memberlist: lambda * log(N) retransmissions reach everyone with high
	 * probability [SWIM 4.1]. */
	c->retransmit_mult = 4;
	/* Lifeguard's suspicion timeout [LG 4.4] with memberlist's multipliers (alpha 4,
	 * beta 6) and K = 3 confirmations; with our shorter probe interval the minimum is
	 * 1.45 s at 64 hosts, the maximum (nobody confirms) 8.7 s. */
	c->suspicion_alpha = 4;
	c->suspicion_beta = 6;
	c->suspicion_k = 3;
	/* memberlist's AwarenessMaxMultiplier: a host that keeps missing acks and nacks may
	 * slow its probing down to 8x before it starts accusing others. */
	c->lhm_max = 8;
	/* Anti-entropy every 30 s up to 32 hosts (memberlist), growing with log2(N/32) above
	 * that so the per-host cost of full-state exchanges stays roughly flat. */
	c->push_pull_interval_ms = 30000;
	c->push_pull_scale_n = 32;
	/* Reconnect to one dead member every 10 s: that is how two halves of a healed
	 * partition find each other again (each half believes the other dead). */
	c->reconnect_interval_ms = 10000;
	/* Piggyback bounds: 16 updates per message, and msg_budget_bytes below. */
	c->piggyback_max = 16;
	/* Infection reaches everyone only with high probability; a member that missed every
	 * announcement of a status version would otherwise wait for push-pull (minutes at
	 * 256+ hosts).  For 5 s after a version appears, every PING and ACK also carries
	 * one such announcement (rotating), ~28 bytes: each member receives ~10 probes and
	 * acks per second, so it hears each recent version many times within the window. */
	c->status_hot_ms = 5000;
	/* A membership fact carries its subject's 64-byte signature (issue 12), ~120 bytes
	 * in all: 2 KiB fits the same ~16 facts per message that 1 KiB did before.  At 1 KiB
	 * a mass join of 256 hosts through one seed took 12-39 s instead of 7 s (bench,
	 * seeds 1-5); steady-state bytes do not change (messages are that full only while
	 * news queues).  Messages travel over TCP (zmq), so no MTU bounds them. */
	c->msg_budget_bytes = 2048;
	/* We relay at most 64 indirect probes at once; more means an overload we should not
	 * amplify (requests beyond it are dropped and counted). */
	c->relay_max = 64;
	/* Twice the 2,048 hosts the simulator proves; the table also keeps dead and left. */
	c->members_max = 4096;
	c->seed = 0;
}

static double log10_n(size_t n)
{
	double l = log10((double)(n ? n : 1));
	return l < 1.0 ? 1.0 : l;
}

/* [LG 4.4]: min = alpha * max(1, log10 N) * probe interval. */
uint64_t gsp_suspicion_min_ms(const struct gsp_config *cfg, size_t n)
{
	return (uint64_t)((double)cfg->suspicion_alpha * log10_n(n) * (double)cfg->probe_interval_ms);
}

uint64_t gsp_suspicion_max_ms(const struct gsp_config *cfg, size_t n)
{
	return (uint64_t)cfg->suspicion_beta * gsp_suspicion_min_ms(cfg, n);
}

/* [SWIM 4.1]: lambda * ceil(log10(N + 1)) transmissions per update, as memberlist. */
uint32_t gsp_retransmit_limit(const struct gsp_config *cfg, size_t n)
{
	return cfg->retransmit_mult * (uint32_t)ceil(log10((double)n + 1.0));
}

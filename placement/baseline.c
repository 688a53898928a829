/*
 * baseline.c — the CPU every host can run (drover's EVC).
 *
 * libvirt's virConnectBaselineHypervisorCPU does this with its CPU map; the
 * agent will call it, but the decision must also exist in pure form so the
 * coordinator can compute and test it from gossip records alone.  Rule:
 * all hosts must share a vendor (a guest cannot be live-migrated across
 * vendors, so there is no common answer — -EDOM); the usable features are
 * the intersection of every host's features; the named model is the one of
 * that vendor, from the given list, whose features are all in the
 * intersection — the richest such model, later in the list on ties (lists
 * are conventionally oldest first); the features beyond it are returned so
 * a VM definition can require them explicitly.
 */
#include <errno.h>
#include <string.h>

#include "placement.h"

static uint32_t popcount(const plc_set *s)
{
	uint32_t n = 0;
	for (size_t i = 0; i < PLC_SET_WORDS; i++)
		n += (uint32_t)__builtin_popcountll(s->w[i]);
	return n;
}

int plc_cpu_baseline(const plc_view *view, const uint32_t *hosts, uint32_t n_hosts,
		     const plc_cpu_model *models, uint32_t n_models, plc_baseline *out)
{
	if (view == NULL || out == NULL || (hosts == NULL && n_hosts > 0) ||
	    (models == NULL && n_models > 0))
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->model = -1;
	bool any = false;
	uint32_t total = n_hosts ? n_hosts : view->n_hosts;
	for (uint32_t i = 0; i < total; i++) {
		uint32_t h = n_hosts ? hosts[i] : i;
		if (h >= view->n_hosts)
			return -EINVAL;
		const plc_host *host = &view->hosts[h];
		bool unknown = host->facts_unknown || host->cpu_features_unknown;
		if (n_hosts == 0 && (host->health == PLC_HEALTH_DOWN || unknown))
			continue;
		if (unknown)
			return -EAGAIN;
		if (!any) {
			strcpy(out->vendor, host->cpu_vendor);
			out->features = host->cpu_features;
			any = true;
			continue;
		}
		if (strcmp(out->vendor, host->cpu_vendor) != 0)
			return -EDOM;
		for (size_t w = 0; w < PLC_SET_WORDS; w++)
			out->features.w[w] &= host->cpu_features.w[w];
	}
	if (!any)
		return -EINVAL;
	uint32_t best_n = 0;
	for (uint32_t m = 0; m < n_models; m++) {
		if (strcmp(models[m].vendor, out->vendor) != 0)
			continue;
		bool fits = true;
		for (size_t w = 0; w < PLC_SET_WORDS; w++)
			if (models[m].features.w[w] & ~out->features.w[w])
				fits = false;
		uint32_t n = popcount(&models[m].features);
		if (fits && (out->model < 0 || n >= best_n)) {
			out->model = (int32_t)m;
			best_n = n;
		}
	}
	for (size_t w = 0; w < PLC_SET_WORDS; w++)
		out->extra.w[w] = out->features.w[w] &
				  (out->model >= 0 ? ~models[out->model].features.w[w] : ~0ull);
	return 0;
}

/*
 * admission.c — could every protected VM survive the failures we promise
 * to tolerate?
 *
 * vSphere's admission control and XenServer's failover plan answer the same
 * question: after any `host_failures_to_tolerate` hosts fail at once, does
 * the restart planner place every protected VM?  We answer it exactly, by
 * running the real restart planner (plan_restart.c) for every combination
 * of that many live hosts — the same code that will act, so the promise
 * and the action cannot disagree.  C(256,1) = 256 plans; C(256,2) = 32640
 * is still feasible; beyond admission_combinations_max we say "unknown"
 * rather than pretend.  Combinations are enumerated in index order and the
 * first failing one is reported, so answers are deterministic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement_int.h"

static uint64_t choose(uint64_t n, uint64_t k)
{
	uint64_t r = 1;
	if (k > n)
		return 0;
	for (uint64_t i = 1; i <= k; i++) {
		r = r * (n - k + i) / i;
		if (r > UINT32_MAX)
			return UINT32_MAX;
	}
	return r;
}

static void name_hosts(const plc_view *view, const uint32_t *h, uint32_t n, char *buf,
		       size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (uint32_t i = 0; i < n; i++) {
		int w = snprintf(buf + used, len - used, "%s%s", i ? "," : "",
				 view->hosts[h[i]].name);
		if (w < 0 || (size_t)w >= len - used)
			return;
		used += (size_t)w;
	}
}

/* VMs grouped by host (counting sort), so each failure combination finds
 * its victims without scanning every VM. */
typedef struct by_host {
	uint32_t *start; /* [n_hosts + 1] */
	uint32_t *vms;
	const plc_allocator *alloc;
} by_host;

static int by_host_init(by_host *b, const plc__state *st)
{
	const plc_view *view = st->view;
	b->alloc = view->alloc;
	b->start = plc__calloc(b->alloc, (size_t)view->n_hosts + 2, sizeof(*b->start));
	b->vms = plc__calloc(b->alloc, view->n_vms, sizeof(*b->vms));
	if (b->start == NULL || b->vms == NULL)
		return -ENOMEM;
	for (uint32_t v = 0; v < view->n_vms; v++)
		if (st->pos[v] >= 0)
			b->start[st->pos[v] + 2]++;
	for (uint32_t h = 0; h < view->n_hosts; h++)
		b->start[h + 2] += b->start[h + 1];
	for (uint32_t v = 0; v < view->n_vms; v++)
		if (st->pos[v] >= 0)
			b->vms[b->start[st->pos[v] + 1]++] = v;
	return 0;
}

static void by_host_free(by_host *b)
{
	plc__free(b->alloc, b->start);
	plc__free(b->alloc, b->vms);
}

static int run(const plc_view *view, int32_t extra, plc_admission *out)
{
	memset(out, 0, sizeof(*out));
	out->ok = true;
	out->exhaustive = true;
	uint32_t k = view->cfg.host_failures_to_tolerate;
	if (k > PLC_TOLERATE_MAX)
		return -EINVAL;
	uint32_t na = 0;
	for (uint32_t h = 0; h < view->n_hosts; h++)
		na += view->hosts[h].health != PLC_HEALTH_DOWN;
	if (k > na)
		k = na; /* losing every host: nothing can be promised beyond that */
	if (k == 0) {
		snprintf(out->reason, sizeof(out->reason), "no host failures to tolerate");
		return 0;
	}
	if (choose(na, k) > view->cfg.admission_combinations_max) {
		out->exhaustive = false;
		snprintf(out->reason, sizeof(out->reason),
			 "%u-host failures among %u hosts exceed %u combinations", k, na,
			 view->cfg.admission_combinations_max);
		return 0;
	}
	/* One working state for all combinations: each plan is undone by
	 * moving its victims back, which costs O(victims), not O(VMs). */
	plc__state st;
	by_host bh = {0};
	int rc = plc__state_init(&st, view);
	if (rc < 0)
		return rc;
	uint32_t *alive = plc__calloc(view->alloc, view->n_hosts, sizeof(*alive));
	uint32_t *victims = plc__calloc(view->alloc, view->n_vms, sizeof(*victims));
	if (alive == NULL || victims == NULL || (rc = by_host_init(&bh, &st)) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	na = 0;
	for (uint32_t h = 0; h < view->n_hosts; h++)
		if (!st.down[h])
			alive[na++] = h;
	uint32_t idx[PLC_TOLERATE_MAX], set[PLC_TOLERATE_MAX];
	for (uint32_t i = 0; i < k; i++)
		idx[i] = i;
	for (;;) {
		uint32_t nv = 0;
		for (uint32_t i = 0; i < k; i++) {
			set[i] = alive[idx[i]];
			for (uint32_t j = bh.start[set[i]]; j < bh.start[set[i] + 1]; j++)
				victims[nv++] = bh.vms[j];
		}
		plc_plan plan;
		rc = plc__restart_on(&st, set, k, victims, nv, extra, &plan);
		for (uint32_t i = 0; i < k; i++) {
			st.down[set[i]] = false;
			for (uint32_t j = bh.start[set[i]]; j < bh.start[set[i] + 1]; j++)
				plc__state_move(&st, bh.vms[j], (int32_t)set[i]);
		}
		if (rc < 0)
			break;
		out->combinations++;
		if (plan.n_unplaced > 0) {
			const plc_unplaced *u = &plan.unplaced[0];
			char hosts[PLC_REASON_MAX / 2];
			out->ok = false;
			memcpy(out->worst, set, k * sizeof(set[0]));
			out->n_worst = k;
			out->victim = u->vm;
			out->victim_code = u->n_why ? u->why[0].code : "none";
			name_hosts(view, set, k, hosts, sizeof(hosts));
			snprintf(out->reason, sizeof(out->reason),
				 "if %s fail%s, VM %s cannot restart (%s)", hosts, k == 1 ? "s" : "",
				 view->vms[u->vm].name, out->victim_code);
			plc_plan_free(&plan);
			break;
		}
		plc_plan_free(&plan);
		/* next combination in lexicographic order */
		int32_t i = (int32_t)k - 1;
		while (i >= 0 && idx[i] == na - k + (uint32_t)i)
			i--;
		if (i < 0)
			break;
		idx[i]++;
		for (uint32_t j = (uint32_t)i + 1; j < k; j++)
			idx[j] = idx[j - 1] + 1;
	}
	if (rc == 0 && out->ok)
		snprintf(out->reason, sizeof(out->reason),
			 "every protected VM can restart after any %u host failure%s (%u checked)",
			 k, k == 1 ? "" : "s", out->combinations);
out:
	by_host_free(&bh);
	plc__free(view->alloc, alive);
	plc__free(view->alloc, victims);
	plc__state_free(&st);
	return rc;
}

const char *plc_verdict_name(plc_verdict v)
{
	switch (v) {
	case PLC_ADMIT_OK:
		return "ok";
	case PLC_ADMIT_WARN:
		return "warn";
	case PLC_ADMIT_REFUSE:
		return "refuse";
	case PLC_ADMIT_UNKNOWN:
		return "unknown";
	}
	return "?";
}

int plc_admission_check(const plc_view *view, plc_admission *out)
{
	if (view == NULL || out == NULL)
		return -EINVAL;
	return run(view, -1, out);
}

int plc_admit_protect(const plc_view *view, uint32_t vm, plc_verdict *verdict, char *reason,
		      size_t reason_len)
{
	if (view == NULL || verdict == NULL || vm >= view->n_vms)
		return -EINVAL;
	plc_admission before, after;
	int rc = run(view, -1, &before);
	if (rc == 0)
		rc = run(view, (int32_t)vm, &after);
	if (rc < 0)
		return rc;
	const char *name = view->vms[vm].name;
	if (!after.exhaustive) {
		*verdict = PLC_ADMIT_UNKNOWN;
		snprintf(reason, reason_len, "cannot tell: %s", after.reason);
	} else if (after.ok) {
		*verdict = PLC_ADMIT_OK;
		snprintf(reason, reason_len, "protecting %s keeps the guarantee: %s", name,
			 after.reason);
	} else if (!before.ok) {
		*verdict = PLC_ADMIT_WARN;
		snprintf(reason, reason_len, "already not guaranteed before protecting %s: %s",
			 name, before.reason);
	} else {
		*verdict = PLC_ADMIT_REFUSE;
		snprintf(reason, reason_len, "protecting %s would break failover: %s", name,
			 after.reason);
	}
	return 0;
}

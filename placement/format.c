/*
 * format.c — the plain-text forms of reports, rankings, plans and
 * baselines, shared by `drover check migrate`, `drover place` and the golden
 * scenario tests (so what the tests pin is what operators read).
 *
 * Output is line-oriented and stable: codes first (for grep), then the
 * reason; hints on their own indented line.  Functions behave like
 * snprintf: they never overrun BUF and return the length needed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "placement.h"
#include "placement_int.h"


size_t plc_format_report(const plc_view *view, uint32_t vm, uint32_t host,
			 const plc_report *r, char *buf, size_t len)
{
	plc__out o = plc__out_start(buf, len);
	uint32_t warn = r->n - (r->n_blocking < r->n ? r->n_blocking : r->n);
	plc__put(&o, "check %s -> %s: %s (%u blocking, %u warning%s)\n", view->vms[vm].name,
	    view->hosts[host].name, r->n_blocking ? "blocked" : "ok", r->n_blocking, warn,
	    warn == 1 ? "" : "s");
	for (uint32_t i = 0; i < r->n; i++) {
		const plc_finding *f = &r->items[i];
		plc__put(&o, "  %s %s: %s\n    hint: %s\n", f->blocking ? "BLOCK" : "WARN ", f->code,
		    f->reason, f->hint);
	}
	if (r->n_dropped)
		plc__put(&o, "  (%u more findings not shown)\n", r->n_dropped);
	return o.used;
}

size_t plc_format_ranking(const plc_view *view, const plc_ranking *rk, char *buf, size_t len)
{
	plc__out o = plc__out_start(buf, len);
	plc__put(&o, "candidates: %u, rejected: %u\n", rk->n_candidates, rk->n - rk->n_candidates);
	uint32_t rank = 0;
	for (uint32_t i = 0; i < rk->n; i++) {
		const plc_rank_entry *e = &rk->entries[i];
		const char *name = view->hosts[e->host].name;
		if (e->report.n_blocking == 0) {
			plc__put(&o, "  %u. %s score=%lld mem=%u.%u%% cpu=%u.%u%%", ++rank, name,
			    (long long)e->score, e->mem_ppm / 10000, e->mem_ppm / 1000 % 10,
			    e->cpu_ppm / 10000, e->cpu_ppm / 1000 % 10);
			/* what busy_penalty took off the score, so the ranking explains itself */
			uint32_t mig = view->hosts[e->host].migrations_in +
				       view->hosts[e->host].migrations_out;
			if (mig)
				plc__put(&o, " migrating=%u", mig);
			for (uint32_t j = 0; j < e->report.n; j++)
				plc__put(&o, "%s%s", j ? "," : " warn=", e->report.items[j].code);
			plc__put(&o, "\n");
			continue;
		}
		plc__put(&o, "  rejected %s:", name);
		const char *first = NULL;
		for (uint32_t j = 0; j < e->report.n; j++) {
			if (!e->report.items[j].blocking)
				continue;
			plc__put(&o, "%s%s", first ? "," : " ", e->report.items[j].code);
			if (first == NULL)
				first = e->report.items[j].reason;
		}
		plc__put(&o, " (%s)\n", first ? first : "");
	}
	return o.used;
}

size_t plc_format_plan(const plc_view *view, const plc_plan *p, char *buf, size_t len)
{
	plc__out o = plc__out_start(buf, len);
	plc__put(&o, "moves: %u, waves: %u, unplaced: %u, skipped: %u\n", p->n_moves, p->n_waves,
	    p->n_unplaced, p->n_skipped);
	for (uint32_t i = 0; i < p->n_moves; i++) {
		const plc_move *m = &p->moves[i];
		plc__put(&o, "  wave %u: %s %s -> %s score=%lld\n", m->wave, view->vms[m->vm].name,
		    view->hosts[m->from].name, view->hosts[m->to].name, (long long)m->score);
	}
	for (uint32_t i = 0; i < p->n_unplaced; i++) {
		const plc_unplaced *u = &p->unplaced[i];
		plc__put(&o, "  unplaced %s:", view->vms[u->vm].name);
		for (uint32_t j = 0; j < u->n_why; j++)
			plc__put(&o, "%s%s x%u", j ? "," : " ", u->why[j].code, u->why[j].hosts);
		plc__put(&o, " (%s)\n", u->example);
	}
	for (uint32_t i = 0; i < p->n_skipped; i++)
		plc__put(&o, "  skipped %s: not protected\n", view->vms[p->skipped[i]].name);
	return o.used;
}

static void put_set(plc__out *o, const plc_view *view, const plc_set *s)
{
	const plc_table *t = &view->tables[PLC_T_FEATURE];
	bool any = false;
	for (uint32_t b = 0; b < t->n; b++)
		if (plc_set_has(s, b)) {
			plc__put(o, "%s%s", any ? "," : "", t->name[b]);
			any = true;
		}
	if (!any)
		plc__put(o, "-");
}

size_t plc_format_baseline(const plc_view *view, const plc_cpu_model *models,
			   const plc_baseline *b, char *buf, size_t len)
{
	plc__out o = plc__out_start(buf, len);
	plc__put(&o, "vendor: %s\nmodel: %s\nextra: ", b->vendor,
	    b->model >= 0 ? models[b->model].name : "(none fits)");
	put_set(&o, view, &b->extra);
	plc__put(&o, "\nfeatures: ");
	put_set(&o, view, &b->features);
	plc__put(&o, "\n");
	return o.used;
}

size_t plc_format_admission(const plc_view *view, const plc_admission *a, char *buf,
			    size_t len)
{
	(void)view; /* names are already in the reason */
	plc__out o = plc__out_start(buf, len);
	plc__put(&o, "admission: %s\ncombinations: %u%s\nreason: %s\n",
	    !a->exhaustive ? "unknown" : a->ok ? "ok" : "broken", a->combinations,
	    a->exhaustive ? "" : " (limit reached)", a->reason);
	return o.used;
}

/*
 * format_json.c — JSON forms of reports, rankings, plans, admission and
 * baselines for the CLI's --json (kubectl -o json / consul -format json
 * convention).  Written by hand so the core stays libc-only: one object per
 * call, no trailing newline, strings escaped per RFC 8259 (quote, backslash
 * and control characters).  Same snprintf-like contract as format.c.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "placement.h"
#include "placement_int.h"


static void str(plc__out *o, const char *s)
{
	plc__put(o, "\"");
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			plc__put(o, "\\%c", *p);
		else if (*p < 0x20)
			plc__put(o, "\\u%04x", *p);
		else
			plc__put(o, "%c", *p);
	}
	plc__put(o, "\"");
}

static void key(plc__out *o, bool first, const char *k)
{
	plc__put(o, "%s", first ? "" : ",");
	str(o, k);
	plc__put(o, ":");
}

static void finding(plc__out *o, const plc_finding *f)
{
	plc__put(o, "{");
	key(o, true, "code");
	str(o, f->code);
	key(o, false, "blocking");
	plc__put(o, "%s", f->blocking ? "true" : "false");
	key(o, false, "reason");
	str(o, f->reason);
	key(o, false, "hint");
	str(o, f->hint);
	plc__put(o, "}");
}

size_t plc_format_report_json(const plc_view *view, uint32_t vm, uint32_t host,
			      const plc_report *r, char *buf, size_t len)
{
	plc__out o = plc__out_start(buf, len);
	plc__put(&o, "{");
	key(&o, true, "vm");
	str(&o, view->vms[vm].name);
	key(&o, false, "host");
	str(&o, view->hosts[host].name);
	key(&o, false, "blocked");
	plc__put(&o, "%s", r->n_blocking ? "true" : "false");
	key(&o, false, "findings");
	plc__put(&o, "[");
	for (uint32_t i = 0; i < r->n; i++) {
		plc__put(&o, "%s", i ? "," : "");
		finding(&o, &r->items[i]);
	}
	plc__put(&o, "]");
	key(&o, false, "dropped");
	plc__put(&o, "%u}", r->n_dropped);
	return o.used;
}

size_t plc_format_ranking_json(const plc_view *view, const plc_ranking *rk, char *buf,
			       size_t len)
{
	plc__out o = plc__out_start(buf, len);
	plc__put(&o, "{");
	key(&o, true, "candidates");
	plc__put(&o, "[");
	bool first = true;
	for (uint32_t i = 0; i < rk->n; i++) {
		const plc_rank_entry *e = &rk->entries[i];
		if (e->report.n_blocking)
			continue;
		plc__put(&o, "%s{", first ? "" : ",");
		first = false;
		key(&o, true, "host");
		str(&o, view->hosts[e->host].name);
		key(&o, false, "score");
		plc__put(&o, "%lld", (long long)e->score);
		key(&o, false, "mem_ppm");
		plc__put(&o, "%u", e->mem_ppm);
		key(&o, false, "cpu_ppm");
		plc__put(&o, "%u", e->cpu_ppm);
		key(&o, false, "migrations");
		plc__put(&o, "%u", view->hosts[e->host].migrations_in +
					   view->hosts[e->host].migrations_out);
		key(&o, false, "warnings");
		plc__put(&o, "[");
		for (uint32_t j = 0; j < e->report.n; j++) {
			plc__put(&o, "%s", j ? "," : "");
			finding(&o, &e->report.items[j]);
		}
		plc__put(&o, "]}");
	}
	plc__put(&o, "]");
	key(&o, false, "rejected");
	plc__put(&o, "[");
	first = true;
	for (uint32_t i = 0; i < rk->n; i++) {
		const plc_rank_entry *e = &rk->entries[i];
		if (!e->report.n_blocking)
			continue;
		plc__put(&o, "%s{", first ? "" : ",");
		first = false;
		key(&o, true, "host");
		str(&o, view->hosts[e->host].name);
		key(&o, false, "findings");
		plc__put(&o, "[");
		for (uint32_t j = 0; j < e->report.n; j++) {
			plc__put(&o, "%s", j ? "," : "");
			finding(&o, &e->report.items[j]);
		}
		plc__put(&o, "]}");
	}
	plc__put(&o, "]}");
	return o.used;
}

size_t plc_format_plan_json(const plc_view *view, const plc_plan *p, char *buf, size_t len)
{
	plc__out o = plc__out_start(buf, len);
	plc__put(&o, "{");
	key(&o, true, "waves");
	plc__put(&o, "%u", p->n_waves);
	key(&o, false, "moves");
	plc__put(&o, "[");
	for (uint32_t i = 0; i < p->n_moves; i++) {
		const plc_move *m = &p->moves[i];
		plc__put(&o, "%s{", i ? "," : "");
		key(&o, true, "vm");
		str(&o, view->vms[m->vm].name);
		key(&o, false, "from");
		str(&o, view->hosts[m->from].name);
		key(&o, false, "to");
		str(&o, view->hosts[m->to].name);
		key(&o, false, "score");
		plc__put(&o, "%lld", (long long)m->score);
		key(&o, false, "wave");
		plc__put(&o, "%u}", m->wave);
	}
	plc__put(&o, "]");
	key(&o, false, "unplaced");
	plc__put(&o, "[");
	for (uint32_t i = 0; i < p->n_unplaced; i++) {
		const plc_unplaced *u = &p->unplaced[i];
		plc__put(&o, "%s{", i ? "," : "");
		key(&o, true, "vm");
		str(&o, view->vms[u->vm].name);
		key(&o, false, "why");
		plc__put(&o, "[");
		for (uint32_t j = 0; j < u->n_why; j++) {
			plc__put(&o, "%s{", j ? "," : "");
			key(&o, true, "code");
			str(&o, u->why[j].code);
			key(&o, false, "hosts");
			plc__put(&o, "%u}", u->why[j].hosts);
		}
		plc__put(&o, "]");
		key(&o, false, "example");
		str(&o, u->example);
		plc__put(&o, "}");
	}
	plc__put(&o, "]");
	key(&o, false, "skipped");
	plc__put(&o, "[");
	for (uint32_t i = 0; i < p->n_skipped; i++) {
		plc__put(&o, "%s", i ? "," : "");
		str(&o, view->vms[p->skipped[i]].name);
	}
	plc__put(&o, "]}");
	return o.used;
}

size_t plc_format_admission_json(const plc_view *view, const plc_admission *a, char *buf,
				 size_t len)
{
	plc__out o = plc__out_start(buf, len);
	plc__put(&o, "{");
	key(&o, true, "ok");
	plc__put(&o, "%s", a->ok ? "true" : "false");
	key(&o, false, "exhaustive");
	plc__put(&o, "%s", a->exhaustive ? "true" : "false");
	key(&o, false, "combinations");
	plc__put(&o, "%u", a->combinations);
	key(&o, false, "failed_hosts");
	plc__put(&o, "[");
	for (uint32_t i = 0; i < a->n_worst; i++) {
		plc__put(&o, "%s", i ? "," : "");
		str(&o, view->hosts[a->worst[i]].name);
	}
	plc__put(&o, "]");
	key(&o, false, "victim");
	if (a->ok || a->n_worst == 0)
		plc__put(&o, "null");
	else
		str(&o, view->vms[a->victim].name);
	key(&o, false, "code");
	if (a->victim_code)
		str(&o, a->victim_code);
	else
		plc__put(&o, "null");
	key(&o, false, "reason");
	str(&o, a->reason);
	plc__put(&o, "}");
	return o.used;
}

static void feature_list(plc__out *o, const plc_view *view, const plc_set *s)
{
	const plc_table *t = &view->tables[PLC_T_FEATURE];
	bool first = true;
	plc__put(o, "[");
	for (uint32_t b = 0; b < t->n; b++)
		if (plc_set_has(s, b)) {
			plc__put(o, "%s", first ? "" : ",");
			str(o, t->name[b]);
			first = false;
		}
	plc__put(o, "]");
}

size_t plc_format_baseline_json(const plc_view *view, const plc_cpu_model *models,
				const plc_baseline *b, char *buf, size_t len)
{
	plc__out o = plc__out_start(buf, len);
	plc__put(&o, "{");
	key(&o, true, "vendor");
	str(&o, b->vendor);
	key(&o, false, "model");
	if (b->model >= 0)
		str(&o, models[b->model].name);
	else
		plc__put(&o, "null");
	key(&o, false, "extra");
	feature_list(&o, view, &b->extra);
	key(&o, false, "features");
	feature_list(&o, view, &b->features);
	plc__put(&o, "}");
	return o.used;
}

size_t plc_format_verdict_json(plc_verdict v, const char *reason, char *buf, size_t len)
{
	plc__out o = plc__out_start(buf, len);
	plc__put(&o, "{");
	key(&o, true, "verdict");
	str(&o, plc_verdict_name(v));
	key(&o, false, "reason");
	str(&o, reason);
	plc__put(&o, "}");
	return o.used;
}

/*
 * names.c — the cluster view's small vocabulary: defaults, interned name
 * tables, bitsets and versions.
 *
 * Interning turns every name comparison the filters make (features, storage
 * IDs, networks, groups) into a bit test, which is what lets a 256-host,
 * 10 000-VM plan finish in milliseconds.  Tables are fixed-size and linear-
 * searched: they are filled once per view, and 256 entries is small.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement.h"

/* Version parts are packed in 10 bits each. */
#define PLC_VERSION_PART_BITS 10u
#define PLC_VERSION_PART_MAX (1u << PLC_VERSION_PART_BITS)

void plc_config_default(plc_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_overcommit_pct = 100;
	cfg->cpu_overcommit_pct = 400;
	cfg->reserve_pct = 0;
	cfg->restarts_use_reserve = true;
	cfg->max_out_per_host = 2;
	cfg->max_in_per_host = 2;
	cfg->max_cluster = 5;
	cfg->weight_mem = 2; /* memory cannot be overcommitted safely; CPU can */
	cfg->weight_cpu = 1;
	/* One in-flight migration costs as much as 5% more load: enough to
	 * spread a drain over equally loaded hosts, not enough to send VMs to
	 * a much fuller one. */
	cfg->busy_penalty = 50000;
	cfg->host_failures_to_tolerate = 1;
	/* C(256,2) = 32640 pairs fit; three failures at 256 hosts do not. */
	cfg->admission_combinations_max = 40000;
	cfg->min_bandwidth_mbps = 1000;
	cfg->allow_storage_migration = true;
}

void plc_view_init(plc_view *view)
{
	memset(view, 0, sizeof(*view));
	plc_config_default(&view->cfg);
}

int plc_view_lookup(const plc_view *view, plc_table_kind kind, const char *name)
{
	if (kind >= PLC_T_COUNT)
		return -1;
	const plc_table *t = &view->tables[kind];
	for (uint32_t i = 0; i < t->n; i++)
		if (strcmp(t->name[i], name) == 0)
			return (int)i;
	return -1;
}

int plc_view_intern(plc_view *view, plc_table_kind kind, const char *name)
{
	if (kind >= PLC_T_COUNT || name == NULL || name[0] == '\0' ||
	    strlen(name) >= PLC_NAME_MAX)
		return -EINVAL;
	int found = plc_view_lookup(view, kind, name);
	if (found >= 0)
		return found;
	plc_table *t = &view->tables[kind];
	if (t->n >= PLC_SET_BITS)
		return -ENOSPC;
	strcpy(t->name[t->n], name);
	return (int)t->n++;
}

int plc_view_find_host(const plc_view *view, const char *name)
{
	for (uint32_t i = 0; i < view->n_hosts; i++)
		if (strcmp(view->hosts[i].name, name) == 0)
			return (int)i;
	return -1;
}

int plc_view_find_vm(const plc_view *view, const char *name)
{
	for (uint32_t i = 0; i < view->n_vms; i++)
		if (strcmp(view->vms[i].name, name) == 0)
			return (int)i;
	return -1;
}

void plc_host_init(plc_host *h)
{
	memset(h, 0, sizeof(*h));
	h->name_resolves = true;
	h->migration_enabled = true;
}

void plc_vm_init(plc_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	vm->host = -1;
	vm->migratable = true;
}

void plc_set_add(plc_set *s, uint32_t bit)
{
	if (bit < PLC_SET_BITS)
		s->w[bit / 64] |= 1ull << (bit % 64);
}

bool plc_set_has(const plc_set *s, uint32_t bit)
{
	return bit < PLC_SET_BITS && (s->w[bit / 64] >> (bit % 64)) & 1u;
}

bool plc_set_empty(const plc_set *s)
{
	for (size_t i = 0; i < PLC_SET_WORDS; i++)
		if (s->w[i])
			return false;
	return true;
}

int plc_version_parse(const char *text, plc_version *out)
{
	uint32_t parts[3] = {0, 0, 0};
	const char *p = text;
	size_t i = 0;
	if (text == NULL || *text == '\0')
		return -EINVAL;
	for (;;) {
		char *end;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned long v = strtoul(p, &end, 10);
		if (v >= PLC_VERSION_PART_MAX)
			return -EINVAL;
		parts[i++] = (uint32_t)v;
		p = end;
		if (*p == '\0')
			break;
		if (*p != '.' || i == 3)
			return -EINVAL;
		p++;
	}
	*out = parts[0] << (2 * PLC_VERSION_PART_BITS) | parts[1] << PLC_VERSION_PART_BITS |
	       parts[2];
	return 0;
}

void plc_version_format(plc_version v, char *buf, size_t len)
{
	uint32_t mask = PLC_VERSION_PART_MAX - 1;
	snprintf(buf, len, "%u.%u.%u", v >> (2 * PLC_VERSION_PART_BITS),
		 (v >> PLC_VERSION_PART_BITS) & mask, v & mask);
}

/*
 * validate.c — is a cluster view well-formed?
 *
 * The planners are total over any view (out-of-range indices are treated
 * as "not running" or "not reachable" rather than read out of bounds), but
 * a view that needs that leniency is a bug in whoever filled it.  The agent
 * calls plc_view_check() after building a view from gossip and libvirt and
 * logs the message; tests call it on every generated view.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "placement_int.h"

__attribute__((format(printf, 3, 4))) static int bad(char *err, size_t len, const char *fmt,
						     ...)
{
	if (err && len) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, len, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool name_ok(const char *name)
{
	return name[0] != '\0' && memchr(name, '\0', PLC_NAME_MAX) != NULL;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int plc_view_check(const plc_view *view, char *err, size_t len)
{
	if (err && len)
		err[0] = '\0';
	if (view == NULL)
		return bad(err, len, "no view");
	if ((view->n_hosts && view->hosts == NULL) || (view->n_vms && view->vms == NULL))
		return bad(err, len, "host or VM array missing");
	const plc_config *cfg = &view->cfg;
	if (cfg->reserve_pct > 100)
		return bad(err, len, "reserve_pct %u is over 100", cfg->reserve_pct);
	if (cfg->host_failures_to_tolerate > PLC_TOLERATE_MAX)
		return bad(err, len, "host_failures_to_tolerate %u is over %d",
			   cfg->host_failures_to_tolerate, PLC_TOLERATE_MAX);
	for (int t = 0; t < PLC_T_COUNT; t++)
		if (view->tables[t].n > PLC_SET_BITS)
			return bad(err, len, "name table %d has %u entries (max %d)", t,
				   view->tables[t].n, PLC_SET_BITS);
	uint32_t n_domains = view->tables[PLC_T_DOMAIN].n;
	for (uint32_t h = 0; h < view->n_hosts; h++) {
		const plc_host *host = &view->hosts[h];
		if (!name_ok(host->name))
			return bad(err, len, "host %u: empty or unterminated name", h);
		if (memchr(host->migration_addr, '\0', PLC_NAME_MAX) == NULL)
			return bad(err, len, "host %s: unterminated migration address", host->name);
		if ((unsigned)host->admin > PLC_ADMIN_MAINTENANCE ||
		    (unsigned)host->health > PLC_HEALTH_DOWN)
			return bad(err, len, "host %s: admin state %d or health %d unknown", host->name,
				   (int)host->admin, (int)host->health);
		if (n_domains && host->domain >= n_domains)
			return bad(err, len, "host %s: failure domain %u not in the table (%u)",
				   host->name, host->domain, n_domains);
	}
	uint32_t n_storage = view->tables[PLC_T_STORAGE].n;
	for (uint32_t v = 0; v < view->n_vms; v++) {
		const plc_vm *vm = &view->vms[v];
		if (!name_ok(vm->name))
			return bad(err, len, "vm %u: empty or unterminated name", v);
		if (vm->host < -1 || vm->host >= (int32_t)view->n_hosts)
			return bad(err, len, "vm %s: host index %d out of range (%u hosts)", vm->name,
				   vm->host, view->n_hosts);
		if ((unsigned)vm->cpu_mode > PLC_CPU_PASSTHROUGH)
			return bad(err, len, "vm %s: CPU mode %d unknown", vm->name, (int)vm->cpu_mode);
		if (vm->n_disks > PLC_DISKS_MAX)
			return bad(err, len, "vm %s: %u disks (max %d)", vm->name, vm->n_disks,
				   PLC_DISKS_MAX);
		for (uint32_t d = 0; d < vm->n_disks; d++)
			if (vm->disks[d].storage >= n_storage)
				return bad(err, len, "vm %s: disk %u on storage %u not in the table (%u)",
					   vm->name, d, vm->disks[d].storage, n_storage);
	}
	/* Names identify hosts and VMs in every answer: they must be unique. */
	uint32_t most = view->n_hosts > view->n_vms ? view->n_hosts : view->n_vms;
	const char **names = plc__calloc(view->alloc, most, sizeof(*names));
	if (names == NULL)
		return -ENOMEM;
	int rc = 0;
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		uint32_t n = pass == 0 ? view->n_hosts : view->n_vms;
		for (uint32_t i = 0; i < n; i++)
			names[i] = pass == 0 ? view->hosts[i].name : view->vms[i].name;
		qsort(names, n, sizeof(*names), cmp_names);
		for (uint32_t i = 1; i < n && rc == 0; i++)
			if (strcmp(names[i - 1], names[i]) == 0)
				rc = bad(err, len, "%s name %s is used twice", pass == 0 ? "host" : "vm",
					 names[i]);
	}
	plc__free(view->alloc, names);
	return rc;
}

/*
 * fixture.c — parser and runner for placement golden scenarios.
 *
 * Strict by design: an unknown key, a bad number or a VM on an undeclared
 * host is an error naming file:line, never a silent default — a typo in a
 * fixture must not turn into a test that passes for the wrong reason.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define FX_LINE_MAX 4096
#define FX_TOKENS_MAX 48
#define FX_OUT_MAX (256 * 1024)

typedef struct parser {
	fx *f;
	const char *path;
	unsigned line;
} parser;

__attribute__((format(printf, 2, 3))) static int fail(parser *p, const char *fmt, ...)
{
	int n = snprintf(p->f->err, sizeof(p->f->err), "%s:%u: ", p->path, p->line);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < sizeof(p->f->err))
		vsnprintf(p->f->err + n, sizeof(p->f->err) - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static int parse_u64(parser *p, const char *key, const char *v, uint64_t *out)
{
	char *end;
	if (*v < '0' || *v > '9')
		return fail(p, "%s: expected a number, got '%s'", key, v);
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (*end != '\0' || errno)
		return fail(p, "%s: expected a number, got '%s'", key, v);
	*out = x;
	return 0;
}

static int parse_u32(parser *p, const char *key, const char *v, uint32_t *out)
{
	uint64_t x = 0;
	if (parse_u64(p, key, v, &x) < 0)
		return -1;
	if (x > UINT32_MAX)
		return fail(p, "%s: %s is too large", key, v);
	*out = (uint32_t)x;
	return 0;
}

static int parse_i32(parser *p, const char *key, const char *v, int32_t *out)
{
	char *end;
	errno = 0;
	long x = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno || x < INT32_MIN || x > INT32_MAX)
		return fail(p, "%s: expected an integer, got '%s'", key, v);
	*out = (int32_t)x;
	return 0;
}

static int parse_bool(parser *p, const char *key, const char *v, bool *out)
{
	if (strcmp(v, "yes") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0)
		*out = false;
	else
		return fail(p, "%s: expected yes or no, got '%s'", key, v);
	return 0;
}

static int parse_name(parser *p, const char *key, const char *v, char *dst)
{
	if (strlen(v) >= PLC_NAME_MAX)
		return fail(p, "%s: '%s' is longer than %d characters", key, v, PLC_NAME_MAX - 1);
	strcpy(dst, v);
	return 0;
}

static int parse_version(parser *p, const char *key, const char *v, plc_version *out)
{
	if (plc_version_parse(v, out) < 0)
		return fail(p, "%s: bad version '%s' (want N.N.N, parts < 1024)", key, v);
	return 0;
}

/* Comma list of names into a set of table KIND; "-" is the empty list. */
static int parse_set(parser *p, const char *key, const char *v, plc_table_kind kind,
		     plc_set *out)
{
	char buf[FX_LINE_MAX];
	memset(out, 0, sizeof(*out));
	if (strcmp(v, "-") == 0)
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int idx = plc_view_intern(&p->f->view, kind, t);
		if (idx < 0)
			return fail(p, "%s: cannot add '%s' (%s)", key, t,
				    idx == -ENOSPC ? "table full" : "bad name");
		plc_set_add(out, (uint32_t)idx);
	}
	return 0;
}

static int parse_disks(parser *p, const char *v, plc_vm *vm)
{
	char buf[FX_LINE_MAX];
	snprintf(buf, sizeof(buf), "%s", v);
	vm->n_disks = 0;
	if (strcmp(v, "-") == 0)
		return 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(t, ':');
		if (colon == NULL)
			return fail(p, "disks: '%s' is not STORAGE:SIZE_MIB[/USED_MIB]", t);
		*colon = '\0';
		if (vm->n_disks >= PLC_DISKS_MAX)
			return fail(p, "disks: more than %d disks", PLC_DISKS_MAX);
		plc_disk *d = &vm->disks[vm->n_disks];
		int idx = plc_view_intern(&p->f->view, PLC_T_STORAGE, t);
		if (idx < 0)
			return fail(p, "disks: bad storage name '%s'", t);
		d->storage = (uint32_t)idx;
		char *slash = strchr(colon + 1, '/');
		if (slash)
			*slash = '\0';
		if (parse_u64(p, "disks", colon + 1, &d->size_mib) < 0 ||
		    (slash && parse_u64(p, "disks", slash + 1, &d->used_mib) < 0))
			return -1;
		vm->n_disks++;
	}
	return 0;
}

static int parse_config(parser *p, char **tok, int n)
{
	plc_config *c = &p->f->view.cfg;
	for (int i = 1; i < n; i++) {
		char *k = tok[i], *v = strchr(tok[i], '=');
		if (v == NULL)
			return fail(p, "config: '%s' is not key=value", k);
		*v++ = '\0';
		int rc;
		if (!strcmp(k, "mem_overcommit_pct"))
			rc = parse_u32(p, k, v, &c->mem_overcommit_pct);
		else if (!strcmp(k, "cpu_overcommit_pct"))
			rc = parse_u32(p, k, v, &c->cpu_overcommit_pct);
		else if (!strcmp(k, "reserve_pct"))
			rc = parse_u32(p, k, v, &c->reserve_pct);
		else if (!strcmp(k, "restarts_use_reserve"))
			rc = parse_bool(p, k, v, &c->restarts_use_reserve);
		else if (!strcmp(k, "max_out"))
			rc = parse_u32(p, k, v, &c->max_out_per_host);
		else if (!strcmp(k, "max_in"))
			rc = parse_u32(p, k, v, &c->max_in_per_host);
		else if (!strcmp(k, "max_cluster"))
			rc = parse_u32(p, k, v, &c->max_cluster);
		else if (!strcmp(k, "weight_mem"))
			rc = parse_u32(p, k, v, &c->weight_mem);
		else if (!strcmp(k, "weight_cpu"))
			rc = parse_u32(p, k, v, &c->weight_cpu);
		else if (!strcmp(k, "busy_penalty"))
			rc = parse_u32(p, k, v, &c->busy_penalty);
		else if (!strcmp(k, "tolerate"))
			rc = parse_u32(p, k, v, &c->host_failures_to_tolerate);
		else if (!strcmp(k, "combinations_max"))
			rc = parse_u32(p, k, v, &c->admission_combinations_max);
		else if (!strcmp(k, "min_bandwidth_mbps"))
			rc = parse_u32(p, k, v, &c->min_bandwidth_mbps);
		else if (!strcmp(k, "storage_migration"))
			rc = parse_bool(p, k, v, &c->allow_storage_migration);
		else
			return fail(p, "config: unknown key '%s'", k);
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int parse_enum(parser *p, const char *key, const char *v, const char *const *names,
		      int count, int *out)
{
	for (int i = 0; i < count; i++)
		if (strcmp(v, names[i]) == 0) {
			*out = i;
			return 0;
		}
	return fail(p, "%s: unknown value '%s'", key, v);
}

static int parse_host(parser *p, char **tok, int n)
{
	plc_view *view = &p->f->view;
	if (n < 2)
		return fail(p, "host: missing name");
	if (plc_view_find_host(view, tok[1]) >= 0)
		return fail(p, "host %s: declared twice", tok[1]);
	void *arr = realloc(view->hosts, (view->n_hosts + 1) * sizeof(plc_host));
	if (arr == NULL)
		return fail(p, "out of memory");
	view->hosts = arr;
	plc_host *h = &view->hosts[view->n_hosts];
	plc_host_init(h);
	/* Fixture defaults: a plain 64 GiB, 16-thread Intel host on current
	 * software, so scenarios only spell out what they are about. */
	h->mem_mib = 65536;
	h->cpus = 16;
	strcpy(h->cpu_vendor, "Intel");
	strcpy(h->cpu_model, "Skylake");
	plc_version_parse("0.1.0", &h->agent_version);
	plc_version_parse("9.0.0", &h->libvirt_version);
	plc_version_parse("7.2.0", &h->qemu_version);
	h->local_free_mib = 102400;
	if (parse_name(p, "host", tok[1], h->name) < 0)
		return -1;
	static const char *const admin[] = {"active", "cordoned", "draining", "maintenance"};
	static const char *const health[] = {"ok", "degraded", "down"};
	for (int i = 2; i < n; i++) {
		char *k = tok[i], *v = strchr(tok[i], '=');
		if (v == NULL)
			return fail(p, "host %s: '%s' is not key=value", h->name, k);
		*v++ = '\0';
		int rc, e = 0;
		if (!strcmp(k, "mem"))
			rc = parse_u64(p, k, v, &h->mem_mib);
		else if (!strcmp(k, "reserved"))
			rc = parse_u64(p, k, v, &h->mem_reserved_mib);
		else if (!strcmp(k, "cpus"))
			rc = parse_u32(p, k, v, &h->cpus);
		else if (!strcmp(k, "vendor"))
			rc = parse_name(p, k, v, h->cpu_vendor);
		else if (!strcmp(k, "model"))
			rc = parse_name(p, k, v, h->cpu_model);
		else if (!strcmp(k, "features"))
			rc = parse_set(p, k, v, PLC_T_FEATURE, &h->cpu_features);
		else if (!strcmp(k, "storage"))
			rc = parse_set(p, k, v, PLC_T_STORAGE, &h->storage);
		else if (!strcmp(k, "networks"))
			rc = parse_set(p, k, v, PLC_T_NETWORK, &h->networks);
		else if (!strcmp(k, "groups"))
			rc = parse_set(p, k, v, PLC_T_HOSTGROUP, &h->groups);
		else if (!strcmp(k, "domain")) {
			int idx = plc_view_intern(view, PLC_T_DOMAIN, v);
			rc = idx < 0 ? fail(p, "domain: bad name '%s'", v) : 0;
			h->domain = idx < 0 ? 0 : (uint32_t)idx;
		} else if (!strcmp(k, "agent"))
			rc = parse_version(p, k, v, &h->agent_version);
		else if (!strcmp(k, "libvirt"))
			rc = parse_version(p, k, v, &h->libvirt_version);
		else if (!strcmp(k, "qemu"))
			rc = parse_version(p, k, v, &h->qemu_version);
		else if (!strcmp(k, "admin")) {
			rc = parse_enum(p, k, v, admin, 4, &e);
			h->admin = (plc_admin)e;
		} else if (!strcmp(k, "health")) {
			rc = parse_enum(p, k, v, health, 3, &e);
			h->health = (plc_health)e;
		} else if (!strcmp(k, "mig_in"))
			rc = parse_u32(p, k, v, &h->migrations_in);
		else if (!strcmp(k, "mig_out"))
			rc = parse_u32(p, k, v, &h->migrations_out);
		else if (!strcmp(k, "mtu"))
			rc = parse_u32(p, k, v, &h->migration_mtu);
		else if (!strcmp(k, "bw"))
			rc = parse_u32(p, k, v, &h->bandwidth_mbps);
		else if (!strcmp(k, "resolves"))
			rc = parse_bool(p, k, v, &h->name_resolves);
		else if (!strcmp(k, "migration"))
			rc = parse_bool(p, k, v, &h->migration_enabled);
		else if (!strcmp(k, "local_free") && !strcmp(v, "unknown")) {
			h->local_free_unknown = true;
			rc = 0;
		} else if (!strcmp(k, "local_free"))
			rc = parse_u64(p, k, v, &h->local_free_mib);
		else if (!strcmp(k, "addr"))
			rc = parse_name(p, k, v, h->migration_addr);
		else if (!strcmp(k, "facts") && !strcmp(v, "unknown")) {
			h->facts_unknown = true;   /* its libvirtd does not answer */
			rc = 0;
		} else if (!strcmp(k, "facts") && !strcmp(v, "features_unknown")) {
			h->cpu_features_unknown = true;   /* names left out of its record */
			rc = 0;
		} else if (!strcmp(k, "facts"))
			return fail(p, "facts: expected unknown or features_unknown, got '%s'", v);
		else
			return fail(p, "host %s: unknown key '%s'", h->name, k);
		if (rc < 0)
			return -1;
	}
	view->n_hosts++;
	return 0;
}

static int parse_devices(parser *p, const char *v, uint32_t *out)
{
	char buf[FX_LINE_MAX];
	*out = 0;
	if (strcmp(v, "-") == 0)
		return 0;
	snprintf(buf, sizeof(buf), "%s", v);
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!strcmp(t, "pci"))
			*out |= PLC_DEV_PCI;
		else if (!strcmp(t, "sriov"))
			*out |= PLC_DEV_SRIOV;
		else if (!strcmp(t, "mdev"))
			*out |= PLC_DEV_MDEV;
		else if (!strcmp(t, "usb"))
			*out |= PLC_DEV_USB;
		else
			return fail(p, "devices: unknown device '%s' (pci, sriov, mdev, usb)", t);
	}
	return 0;
}

static int parse_vm(parser *p, char **tok, int n)
{
	plc_view *view = &p->f->view;
	if (n < 2)
		return fail(p, "vm: missing name");
	if (plc_view_find_vm(view, tok[1]) >= 0)
		return fail(p, "vm %s: declared twice", tok[1]);
	void *arr = realloc(view->vms, (view->n_vms + 1) * sizeof(plc_vm));
	if (arr == NULL)
		return fail(p, "out of memory");
	view->vms = arr;
	plc_vm *vm = &view->vms[view->n_vms];
	plc_vm_init(vm);
	vm->mem_mib = 1024;
	vm->vcpus = 1;
	if (parse_name(p, "vm", tok[1], vm->name) < 0)
		return -1;
	static const char *const modes[] = {"host-model", "custom", "host-passthrough"};
	for (int i = 2; i < n; i++) {
		char *k = tok[i], *v = strchr(tok[i], '=');
		if (v == NULL)
			return fail(p, "vm %s: '%s' is not key=value", vm->name, k);
		*v++ = '\0';
		int rc, e = 0;
		if (!strcmp(k, "mem"))
			rc = parse_u64(p, k, v, &vm->mem_mib);
		else if (!strcmp(k, "vcpus"))
			rc = parse_u32(p, k, v, &vm->vcpus);
		else if (!strcmp(k, "host")) {
			rc = 0;
			if (strcmp(v, "-") == 0)
				vm->host = -1;
			else if ((vm->host = plc_view_find_host(view, v)) < 0)
				rc = fail(p, "vm %s: host '%s' is not declared (declare hosts first)",
					  vm->name, v);
		} else if (!strcmp(k, "cpu")) {
			rc = parse_enum(p, k, v, modes, 3, &e);
			vm->cpu_mode = (plc_cpu_mode)e;
		} else if (!strcmp(k, "vendor"))
			rc = parse_name(p, k, v, vm->cpu_vendor);
		else if (!strcmp(k, "model"))
			rc = parse_name(p, k, v, vm->cpu_model);
		else if (!strcmp(k, "features"))
			rc = parse_set(p, k, v, PLC_T_FEATURE, &vm->cpu_features);
		else if (!strcmp(k, "disks"))
			rc = parse_disks(p, v, vm);
		else if (!strcmp(k, "networks"))
			rc = parse_set(p, k, v, PLC_T_NETWORK, &vm->networks);
		else if (!strcmp(k, "devices"))
			rc = parse_devices(p, v, &vm->devices);
		else if (!strcmp(k, "migratable"))
			rc = parse_bool(p, k, v, &vm->migratable);
		else if (!strcmp(k, "protected"))
			rc = parse_bool(p, k, v, &vm->protected_);
		else if (!strcmp(k, "priority"))
			rc = parse_i32(p, k, v, &vm->priority);
		else if (!strcmp(k, "order"))
			rc = parse_i32(p, k, v, &vm->restart_order);
		else if (!strcmp(k, "affinity"))
			rc = parse_set(p, k, v, PLC_T_GROUP, &vm->affinity);
		else if (!strcmp(k, "anti"))
			rc = parse_set(p, k, v, PLC_T_GROUP, &vm->anti_affinity);
		else if (!strcmp(k, "anti_domain"))
			rc = parse_set(p, k, v, PLC_T_GROUP, &vm->anti_domain);
		else if (!strcmp(k, "hosts"))
			rc = parse_set(p, k, v, PLC_T_HOSTGROUP, &vm->host_must);
		else if (!strcmp(k, "not_hosts"))
			rc = parse_set(p, k, v, PLC_T_HOSTGROUP, &vm->host_must_not);
		else
			return fail(p, "vm %s: unknown key '%s'", vm->name, k);
		if (rc < 0)
			return -1;
	}
	view->n_vms++;
	return 0;
}

static int parse_model(parser *p, char **tok, int n)
{
	fx *f = p->f;
	if (n < 2)
		return fail(p, "model: missing name");
	if (f->n_models >= FX_MODELS_MAX)
		return fail(p, "model: more than %d models", FX_MODELS_MAX);
	plc_cpu_model *m = &f->models[f->n_models];
	memset(m, 0, sizeof(*m));
	if (parse_name(p, "model", tok[1], m->name) < 0)
		return -1;
	for (int i = 2; i < n; i++) {
		char *k = tok[i], *v = strchr(tok[i], '=');
		if (v == NULL)
			return fail(p, "model %s: '%s' is not key=value", m->name, k);
		*v++ = '\0';
		int rc;
		if (!strcmp(k, "vendor"))
			rc = parse_name(p, k, v, m->vendor);
		else if (!strcmp(k, "features"))
			rc = parse_set(p, k, v, PLC_T_FEATURE, &m->features);
		else
			return fail(p, "model %s: unknown key '%s'", m->name, k);
		if (rc < 0)
			return -1;
	}
	f->n_models++;
	return 0;
}

static int parse_request(parser *p, char **tok, int n)
{
	static const struct {
		const char *name;
		int min, max;
	} kinds[] = {
		{"check", 2, 2},	 {"check-restart", 2, 2}, {"check-start", 2, 2},
		{"rank", 1, 1},		 {"evacuate", 1, 1},	  {"restart", 1, 1},
		{"admission", 0, 0},	 {"protect", 1, 1},	  {"baseline", 0, 1},
	};
	fx *f = p->f;
	if (f->request[0])
		return fail(p, "request: only one request per scenario");
	if (n < 2)
		return fail(p, "request: missing kind");
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(tok[1], kinds[i].name) != 0)
			continue;
		int args = n - 2;
		if (args < kinds[i].min || args > kinds[i].max)
			return fail(p, "request %s: wants %d..%d arguments, got %d", tok[1],
				    kinds[i].min, kinds[i].max, args);
		strcpy(f->request, kinds[i].name);
		for (int a = 0; a < args; a++)
			if (parse_name(p, "request", tok[2 + a], f->args[a]) < 0)
				return -1;
		f->n_args = (uint32_t)args;
		return 0;
	}
	return fail(p, "request: unknown kind '%s'", tok[1]);
}

int fx_parse(fx *f, const char *path, const char *text)
{
	parser p = {.f = f, .path = path, .line = 0};
	memset(f, 0, sizeof(*f));
	plc_view_init(&f->view);
	const char *s = text;
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		p.line++;
		char line[FX_LINE_MAX];
		if (len >= sizeof(line))
			return fail(&p, "line longer than %d characters", FX_LINE_MAX - 1);
		memcpy(line, s, len);
		line[len] = '\0';
		s = nl ? nl + 1 : s + len;
		char *tok[FX_TOKENS_MAX];
		int n = 0;
		for (char *save = NULL, *t = strtok_r(line, " \t\r", &save); t;
		     t = strtok_r(NULL, " \t\r", &save)) {
			if (n == FX_TOKENS_MAX)
				return fail(&p, "more than %d words on a line", FX_TOKENS_MAX);
			tok[n++] = t;
		}
		if (n == 0 || tok[0][0] == '#')
			continue;
		int rc;
		if (!strcmp(tok[0], "expect")) {
			if (n != 1)
				return fail(&p, "expect takes no arguments");
			f->expect = strdup(s);
			if (f->expect == NULL)
				return fail(&p, "out of memory");
			break;
		} else if (!strcmp(tok[0], "config"))
			rc = parse_config(&p, tok, n);
		else if (!strcmp(tok[0], "host"))
			rc = parse_host(&p, tok, n);
		else if (!strcmp(tok[0], "vm"))
			rc = parse_vm(&p, tok, n);
		else if (!strcmp(tok[0], "model"))
			rc = parse_model(&p, tok, n);
		else if (!strcmp(tok[0], "request"))
			rc = parse_request(&p, tok, n);
		else if (!strcmp(tok[0], "format")) {
			rc = 0;
			if (n != 2 || (strcmp(tok[1], "json") && strcmp(tok[1], "text")))
				rc = fail(&p, "format: want 'format json' or 'format text'");
			f->json = n == 2 && !strcmp(tok[1], "json");
		}
		else
			rc = fail(&p, "unknown statement '%s' (config, host, vm, model, format, request, expect)",
				  tok[0]);
		if (rc < 0)
			return -1;
	}
	if (f->request[0] == '\0')
		return fail(&p, "no request line");
	return 0;
}

void fx_free(fx *f)
{
	free(f->view.hosts);
	free(f->view.vms);
	free(f->expect);
	f->view.hosts = NULL;
	f->view.vms = NULL;
	f->expect = NULL;
}

char *fx_read_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	if (fp == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	while (buf) {
		if (n + 1 >= cap) {
			char *nb = realloc(buf, cap * 2);
			if (nb == NULL) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = nb;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, fp);
		if (got == 0)
			break;
		n += got;
	}
	if (buf)
		buf[n] = '\0';
	fclose(fp);
	return buf;
}

/* ---- running --------------------------------------------------------- */

__attribute__((format(printf, 2, 3))) static int run_fail(fx *f, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(f->err, sizeof(f->err), fmt, ap);
	va_end(ap);
	return -1;
}

static int host_arg(fx *f, const char *name, uint32_t *out)
{
	int h = plc_view_find_host(&f->view, name);
	if (h < 0)
		return run_fail(f, "request: unknown host '%s'", name);
	*out = (uint32_t)h;
	return 0;
}

static int vm_arg(fx *f, const char *name, uint32_t *out)
{
	int v = plc_view_find_vm(&f->view, name);
	if (v < 0)
		return run_fail(f, "request: unknown vm '%s'", name);
	*out = (uint32_t)v;
	return 0;
}

/* Comma list of host names. */
static int host_list(fx *f, const char *list, uint32_t *hosts, uint32_t max, uint32_t *n)
{
	char buf[FX_LINE_MAX];
	snprintf(buf, sizeof(buf), "%s", list);
	*n = 0;
	for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (*n >= max)
			return run_fail(f, "request: too many hosts in '%s'", list);
		if (host_arg(f, t, &hosts[*n]) < 0)
			return -1;
		(*n)++;
	}
	return 0;
}

int fx_run(fx *f, char **out)
{
	plc_view *view = &f->view;
	char *buf = malloc(FX_OUT_MAX);
	const char *req = f->request;
	uint32_t vm = 0, host = 0;
	int rc = 0;
	*out = NULL;
	if (buf == NULL)
		return run_fail(f, "%s", "out of memory");
	buf[0] = '\0';
	if (!strncmp(req, "check", 5)) {
		plc_kind kind = !strcmp(req, "check")	      ? PLC_KIND_MIGRATE
				: !strcmp(req, "check-restart") ? PLC_KIND_RESTART
								: PLC_KIND_START;
		plc_report r;
		if (vm_arg(f, f->args[0], &vm) < 0 || host_arg(f, f->args[1], &host) < 0)
			goto fail;
		if ((rc = plc_check_kind(view, kind, vm, host, &r)) < 0)
			goto fail_rc;
		if (f->json)
			plc_format_report_json(view, vm, host, &r, buf, FX_OUT_MAX);
		else
			plc_format_report(view, vm, host, &r, buf, FX_OUT_MAX);
	} else if (!strcmp(req, "rank")) {
		plc_ranking rk;
		if (vm_arg(f, f->args[0], &vm) < 0)
			goto fail;
		if ((rc = plc_rank(view, vm, &rk)) < 0)
			goto fail_rc;
		if (f->json)
			plc_format_ranking_json(view, &rk, buf, FX_OUT_MAX);
		else
			plc_format_ranking(view, &rk, buf, FX_OUT_MAX);
		plc_ranking_free(&rk);
	} else if (!strcmp(req, "evacuate") || !strcmp(req, "restart")) {
		plc_plan plan;
		uint32_t hosts[8], n = 0;
		if (host_list(f, f->args[0], hosts, 8, &n) < 0)
			goto fail;
		rc = !strcmp(req, "evacuate") ? plc_plan_evacuate_hosts(view, hosts, n, &plan)
					      : plc_plan_restart(view, hosts, n, &plan);
		if (rc < 0)
			goto fail_rc;
		if (f->json)
			plc_format_plan_json(view, &plan, buf, FX_OUT_MAX);
		else
			plc_format_plan(view, &plan, buf, FX_OUT_MAX);
		plc_plan_free(&plan);
	} else if (!strcmp(req, "admission")) {
		plc_admission a;
		if ((rc = plc_admission_check(view, &a)) < 0)
			goto fail_rc;
		if (f->json)
			plc_format_admission_json(view, &a, buf, FX_OUT_MAX);
		else
			plc_format_admission(view, &a, buf, FX_OUT_MAX);
	} else if (!strcmp(req, "protect")) {
		plc_verdict v;
		char reason[2 * PLC_REASON_MAX];
		if (vm_arg(f, f->args[0], &vm) < 0)
			goto fail;
		if ((rc = plc_admit_protect(view, vm, &v, reason, sizeof(reason))) < 0)
			goto fail_rc;
		if (f->json)
			plc_format_verdict_json(v, reason, buf, FX_OUT_MAX);
		else
			snprintf(buf, FX_OUT_MAX, "verdict: %s\nreason: %s\n",
				 plc_verdict_name(v), reason);
	} else if (!strcmp(req, "baseline")) {
		plc_baseline b;
		uint32_t hosts[64], n = 0;
		if (f->n_args && host_list(f, f->args[0], hosts, 64, &n) < 0)
			goto fail;
		rc = plc_cpu_baseline(view, hosts, n, f->models, f->n_models, &b);
		if (rc == -EDOM)
			snprintf(buf, FX_OUT_MAX, f->json ? "{\"error\":\"vendor mix\"}"
							  : "error: hosts have different CPU vendors\n");
		else if (rc == -EAGAIN)
			snprintf(buf, FX_OUT_MAX, f->json ? "{\"error\":\"features unknown\"}"
							  : "error: a host's CPU features are unknown\n");
		else if (rc < 0)
			goto fail_rc;
		else if (f->json)
			plc_format_baseline_json(view, f->models, &b, buf, FX_OUT_MAX);
		else
			plc_format_baseline(view, f->models, &b, buf, FX_OUT_MAX);
	}
	if (f->json) /* one object per line, like every other --json listing */
		strncat(buf, "\n", FX_OUT_MAX - strlen(buf) - 1);
	*out = buf;
	return 0;
fail_rc:
	snprintf(f->err, sizeof(f->err), "request %s failed: %s", req, strerror(-rc));
fail:
	free(buf);
	return -1;
}

/*
 * filters.c — why a VM can or cannot go to a host.
 *
 * Field experience with failed migrations (libvirt, vSphere "compatibility"
 * checks, XenServer's assert_can_migrate) lists the same causes again and
 * again: migration disabled, CPU differs, host-bound devices or local disks,
 * missing network, destination short of memory or cores, storage not
 * visible, destination software older.  Each cause is one filter with a
 * stable code (scripts and docs key on it), a plain reason naming the
 * objects involved, and a hint telling the operator what would fix it.
 *
 * The rules depend on what is being done:
 *   - live migration keeps the guest's CPU and QEMU state, so the vendor
 *     must match, host-passthrough needs the identical CPU and host-model /
 *     custom need every required feature; the destination's agent, libvirt
 *     and QEMU must be at least as new (migration streams are only forward
 *     compatible); non-shared disks can be copied (a warning) if there is
 *     room; and the failover reserve is off limits;
 *   - a restart boots the guest afresh on another host: only a custom CPU
 *     model still constrains the CPU, versions do not matter, disks must be
 *     on shared storage (the failed host's local disks are gone), and the
 *     failover reserve exists precisely for this;
 *   - a cold start is a restart that must respect the reserve.
 *
 * A host that cannot read its hypervisor facts (its libvirtd does not answer)
 * publishes them as unknown.  Unknown is not empty: "no CPU features" or
 * "libvirt 0.0.0" would bar every VM from the host as if for good, and the
 * HA agent turns such findings into "can never run there" constraints.  So
 * the checks that need an unknown fact are not made; one finding,
 * host.facts_unknown, says which could not be decided and why.  It blocks
 * (an unverified host is not a destination), but its code is not one of the
 * static ones: it lasts as long as the facts are unknown.
 *
 * The filters run in a fixed order, cheapest and most decisive first, so the
 * first blocking code (what the planners summarise) is stable.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "placement_int.h"

enum {
	F_HOST_SAME,
	F_HOST_DOWN,
	F_ADMIN_CORDONED,
	F_ADMIN_DRAINING,
	F_ADMIN_MAINTENANCE,
	F_HEALTH_DEGRADED,
	F_VM_MIGRATION_DISABLED,
	F_HOST_MIGRATION_DISABLED,
	F_DEVICE_HOST_BOUND,
	F_FACTS_UNKNOWN,
	F_CPU_VENDOR,
	F_CPU_PASSTHROUGH,
	F_CPU_FEATURES,
	F_STORAGE_NOT_SHARED,
	F_STORAGE_NO_SPACE,
	F_STORAGE_COPY,
	F_STORAGE_SPACE_LOW,
	F_NETWORK_MISSING,
	F_VERSION_AGENT,
	F_VERSION_LIBVIRT,
	F_VERSION_QEMU,
	F_AFFINITY_VM,
	F_ANTI_AFFINITY_VM,
	F_ANTI_AFFINITY_DOMAIN,
	F_AFFINITY_HOST,
	F_ANTI_AFFINITY_HOST,
	F_CAPACITY_MEMORY,
	F_CAPACITY_VCPUS,
	F_RESERVE,
	F_MTU,
	F_BANDWIDTH,
	F_NAME,
	F_COUNT
};

#define ALL "migrate, restart, start"
#define MIG "migrate"
#define MIG_CUSTOM "migrate; restart, start with a custom CPU model"

static const plc_filter_info catalogue[F_COUNT] = {
	[F_HOST_SAME] = {"host.same", "pick a different destination host", true, MIG},
	[F_HOST_DOWN] = {"host.down",
			 "wait until the host is alive in `drover members`, or pick another",
			 true, ALL},
	[F_ADMIN_CORDONED] = {"admin.cordoned",
			      "`drover host undrain HOST` to accept VMs again, or pick another host",
			      true, ALL},
	[F_ADMIN_DRAINING] = {"admin.draining",
			      "the host is being emptied; pick another host", true, ALL},
	[F_ADMIN_MAINTENANCE] = {"admin.maintenance",
				 "take the host out of maintenance (`drover host undrain HOST`)",
				 true, ALL},
	[F_HEALTH_DEGRADED] = {"health.degraded",
			       "fix the failing health signal shown by `drover status`", true,
			       ALL},
	[F_VM_MIGRATION_DISABLED] = {"vm.migration_disabled",
				     "enable migration in the VM's HA policy", true, MIG},
	[F_HOST_MIGRATION_DISABLED] = {"host.migration_disabled",
				       "allow incoming migrations in the host's drover.conf",
				       true, MIG},
	[F_DEVICE_HOST_BOUND] = {"device.host_bound",
				 "detach the passthrough device (PCI/SR-IOV/mdev/USB) or keep the "
				 "VM on this host",
				 true, ALL},
	[F_FACTS_UNKNOWN] = {"host.facts_unknown",
			     "wait until the host's libvirtd answers again (`drover members` "
			     "shows libvirtd), or pick another host",
			     true, ALL},
	[F_CPU_VENDOR] = {"cpu.vendor",
			  "a running guest or a custom CPU model cannot change vendor; use "
			  "host-model and cold-start the VM there",
			  true, MIG_CUSTOM},
	[F_CPU_PASSTHROUGH] = {"cpu.passthrough_mismatch",
			       "use a host-model or baseline CPU (`drover cpu baseline`) instead "
			       "of host-passthrough",
			       true, MIG},
	[F_CPU_FEATURES] = {"cpu.features_missing",
			    "define the VM with the cluster baseline CPU (`drover cpu baseline`)",
			    true, MIG_CUSTOM},
	[F_STORAGE_NOT_SHARED] = {"storage.not_shared",
				  "put the disk on storage every host mounts, or attach that "
				  "storage to the host",
				  true, "restart, start; migrate if storage_migration is off"},
	[F_STORAGE_NO_SPACE] = {"storage.no_space",
				"free local disk space on the destination or use shared storage",
				true, MIG},
	[F_STORAGE_COPY] = {"storage.copy_needed",
			    "the disks will be copied during migration (slower); shared storage "
			    "avoids it",
			    false, MIG},
	[F_STORAGE_SPACE_LOW] = {"storage.space_low",
				 "the copy fits now but not if the guest fills its disks; free "
				 "space on the destination's local pool",
				 false, MIG},
	[F_NETWORK_MISSING] = {"network.missing",
			       "create the bridge/network on the host with the same name", true,
			       ALL},
	[F_VERSION_AGENT] = {"version.agent",
			     "upgrade drover on the destination first (rolling upgrade order)",
			     true, MIG},
	[F_VERSION_LIBVIRT] = {"version.libvirt",
			       "upgrade libvirt on the destination first", true, MIG},
	[F_VERSION_QEMU] = {"version.qemu", "upgrade QEMU on the destination first", true,
			    MIG},
	[F_AFFINITY_VM] = {"affinity.vm",
			   "move the whole affinity group together (drain plans do), or relax "
			   "the rule",
			   true, ALL},
	[F_ANTI_AFFINITY_VM] = {"anti_affinity.vm",
				"pick a host without members of the group, or relax the rule",
				true, ALL},
	[F_ANTI_AFFINITY_DOMAIN] = {"anti_affinity.domain",
				    "pick a host in another failure domain, or add hosts to more "
				    "domains",
				    true, ALL},
	[F_AFFINITY_HOST] = {"affinity.host",
			     "label the host with a required host group, or relax the VM's rule",
			     true, ALL},
	[F_ANTI_AFFINITY_HOST] = {"anti_affinity.host",
				  "pick a host outside the excluded host group", true, ALL},
	[F_CAPACITY_MEMORY] = {"capacity.memory",
			       "free memory on the host (move or stop VMs) or raise "
			       "mem_overcommit_pct",
			       true, ALL},
	[F_CAPACITY_VCPUS] = {"capacity.vcpus",
			      "move VMs away or raise cpu_overcommit_pct", true, ALL},
	[F_RESERVE] = {"reserve.failover",
		       "this capacity is held back for restarts; add hosts or lower reserve_pct",
		       true, "migrate, start; restart if restarts_use_reserve is off"},
	[F_MTU] = {"network.mtu_mismatch",
		   "set the same MTU on both hosts' migration network", false, MIG},
	[F_BANDWIDTH] = {"network.bandwidth_low",
			 "use a faster migration network; busy VMs may need post-copy", false,
			 MIG},
	[F_NAME] = {"host.name_unresolved",
		    "make the destination's name resolve on the source (DNS or /etc/hosts)",
		    false, MIG},
};

const plc_filter_info *plc_filters(size_t *count)
{
	*count = F_COUNT;
	return catalogue;
}

/* Filter context: one evaluation of (VM, destination). */
typedef struct ctx {
	const plc__state *st;
	const plc_view *view;
	const plc_vm *vm;
	const plc_host *dst;
	const plc_host *src; /* NULL: none (start) or not relevant */
	uint32_t vm_index;
	uint32_t host_index;
	plc_kind kind;
	plc_report *report; /* NULL: stop at first blocking */
	const char *first;
	unsigned undecided; /* U_* checks left out: their facts are unknown */
} ctx;

/* Checks that need a host's hypervisor facts (f_facts). */
enum {
	U_CPU = 1u << 0,
	U_STORAGE = 1u << 1,
	U_NETWORK = 1u << 2,
	U_VERSIONS = 1u << 3,
};

__attribute__((format(printf, 3, 4))) static bool add(ctx *c, int f, const char *fmt, ...)
{
	const plc_filter_info *info = &catalogue[f];
	if (info->blocking && c->first == NULL)
		c->first = info->code;
	if (c->report == NULL)
		return info->blocking; /* true: stop */
	plc_report *r = c->report;
	if (info->blocking)
		r->n_blocking++;
	if (r->n >= PLC_FINDINGS_MAX) {
		r->n_dropped++;
		return false;
	}
	plc_finding *it = &r->items[r->n++];
	it->code = info->code;
	it->hint = info->hint;
	it->blocking = info->blocking;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(it->reason, sizeof(it->reason), fmt, ap);
	va_end(ap);
	return false;
}

/* Names of bits in NEED but not in HAVE, comma separated. */
static void missing_names(const plc_view *view, plc_table_kind kind, const plc_set *need,
			  const plc_set *have, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (uint32_t b = 0; b < view->tables[kind].n; b++) {
		if (!plc_set_has(need, b) || plc_set_has(have, b))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "",
				 view->tables[kind].name[b]);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

static bool subset(const plc_set *a, const plc_set *b)
{
	for (size_t i = 0; i < PLC_SET_WORDS; i++)
		if (a->w[i] & ~b->w[i])
			return false;
	return true;
}

static bool intersects(const plc_set *a, const plc_set *b)
{
	for (size_t i = 0; i < PLC_SET_WORDS; i++)
		if (a->w[i] & b->w[i])
			return true;
	return false;
}

static bool set_equal(const plc_set *a, const plc_set *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

static bool f_host(ctx *c)
{
	const plc_host *d = c->dst;
	if (c->kind == PLC_KIND_MIGRATE && c->src == d)
		return add(c, F_HOST_SAME, "VM %s already runs on %s", c->vm->name, d->name);
	if (c->st->down[c->host_index])
		return add(c, F_HOST_DOWN, "host %s is down", d->name);
	if (c->st->leaving[c->host_index]) {
		/* Emptied by this very plan, whatever its admin state says yet. */
		if (add(c, F_ADMIN_DRAINING, "host %s is being emptied by this plan", d->name))
			return true;
	} else if (d->admin != PLC_ADMIN_ACTIVE) {
		static const int code[] = {
			[PLC_ADMIN_CORDONED] = F_ADMIN_CORDONED,
			[PLC_ADMIN_DRAINING] = F_ADMIN_DRAINING,
			[PLC_ADMIN_MAINTENANCE] = F_ADMIN_MAINTENANCE,
		};
		static const char *const what[] = {
			[PLC_ADMIN_CORDONED] = "cordoned",
			[PLC_ADMIN_DRAINING] = "draining",
			[PLC_ADMIN_MAINTENANCE] = "in maintenance",
		};
		unsigned a = (unsigned)d->admin;
		if (a < sizeof(code) / sizeof(code[0]) &&
		    add(c, code[a], "host %s is %s", d->name, what[a]))
			return true;
	}
	if (d->health == PLC_HEALTH_DEGRADED &&
	    add(c, F_HEALTH_DEGRADED, "host %s is degraded", d->name))
		return true;
	if (c->kind == PLC_KIND_MIGRATE) {
		if (!c->vm->migratable &&
		    add(c, F_VM_MIGRATION_DISABLED, "migration is disabled for VM %s", c->vm->name))
			return true;
		if (!d->migration_enabled &&
		    add(c, F_HOST_MIGRATION_DISABLED, "host %s does not accept migrations",
			d->name))
			return true;
	}
	return false;
}

static bool f_devices(ctx *c)
{
	uint32_t dev = c->vm->devices;
	if (dev == 0)
		return false;
	return add(c, F_DEVICE_HOST_BOUND, "VM %s uses host-bound devices:%s%s%s%s", c->vm->name,
		   dev & PLC_DEV_PCI ? " pci" : "", dev & PLC_DEV_SRIOV ? " sriov" : "",
		   dev & PLC_DEV_MDEV ? " mdev" : "", dev & PLC_DEV_USB ? " usb" : "");
}

/* Which of the checks below need facts a host cannot give now; one finding
 * for all of them, naming the host whose facts are missing (the destination
 * first) and the checks left out. */
static bool f_facts(ctx *c)
{
	const plc_vm *vm = c->vm;
	const plc_host *d = c->dst, *s = c->src;
	bool live = c->kind == PLC_KIND_MIGRATE;
	const plc_host *who = NULL;
	/* Restarts boot afresh: only a custom model is checked.  A live
	 * host-model or passthrough guest keeps the source's CPU, so the
	 * source's features are its requirements. */
	if (live || vm->cpu_mode == PLC_CPU_CUSTOM) {
		bool src_counts = live && s && vm->cpu_mode != PLC_CPU_CUSTOM;
		if (d->facts_unknown || d->cpu_features_unknown)
			who = d;
		else if (src_counts && (s->facts_unknown || s->cpu_features_unknown))
			who = s;
		if (who)
			c->undecided |= U_CPU;
	}
	if (d->facts_unknown) {
		if (vm->n_disks > 0)
			c->undecided |= U_STORAGE;
		if (!plc_set_empty(&vm->networks))
			c->undecided |= U_NETWORK;
	}
	if (live && s && (d->facts_unknown || s->facts_unknown)) {
		c->undecided |= U_VERSIONS;
		if (!who)
			who = d->facts_unknown ? d : s;
	}
	if (c->undecided == 0)
		return false;
	if (!who)
		who = d;
	unsigned u = c->undecided;
	char what[64];
	snprintf(what, sizeof(what), "%s%s%s%s", u & U_CPU ? ", CPU" : "",
		 u & U_STORAGE ? ", storage" : "", u & U_NETWORK ? ", networks" : "",
		 u & U_VERSIONS ? ", libvirt/QEMU versions" : "");
	return add(c, F_FACTS_UNKNOWN, "%s %s's facts are unknown (%s): cannot check %s for VM %s",
		   who == d ? "host" : "source host", who->name,
		   who->facts_unknown ? "its libvirtd does not answer"
				      : "its CPU feature names were not published",
		   what + 2, vm->name);
}

static bool f_cpu(ctx *c)
{
	const plc_vm *vm = c->vm;
	const plc_host *d = c->dst;
	bool live = c->kind == PLC_KIND_MIGRATE;
	/* Restarts boot afresh: host-model and passthrough adapt to the new host. */
	if (!live && vm->cpu_mode != PLC_CPU_CUSTOM)
		return false;
	/* the vendor comes from the kernel, so it is known even then */
	if (vm->cpu_vendor[0] && strcmp(vm->cpu_vendor, d->cpu_vendor) != 0)
		return add(c, F_CPU_VENDOR, "VM %s runs on a CPU from %s, host %s is %s", vm->name,
			   vm->cpu_vendor, d->name, d->cpu_vendor);
	if (c->undecided & U_CPU)
		return false;
	if (live && vm->cpu_mode == PLC_CPU_PASSTHROUGH) {
		const plc_host *s = c->src;
		if (s == NULL)
			return false;
		if (strcmp(s->cpu_model, d->cpu_model) != 0 ||
		    !set_equal(&s->cpu_features, &d->cpu_features)) {
			char miss[PLC_REASON_MAX / 2];
			missing_names(c->view, PLC_T_FEATURE, &s->cpu_features, &d->cpu_features,
				      miss, sizeof(miss));
			return add(c, F_CPU_PASSTHROUGH,
				   "VM %s uses host-passthrough: CPU %s on %s differs from %s on %s%s%s",
				   vm->name, s->cpu_model, s->name, d->cpu_model, d->name,
				   miss[0] ? ", missing " : "", miss);
		}
		return false;
	}
	if (!subset(&vm->cpu_features, &d->cpu_features)) {
		char miss[PLC_REASON_MAX / 2];
		missing_names(c->view, PLC_T_FEATURE, &vm->cpu_features, &d->cpu_features, miss,
			      sizeof(miss));
		return add(c, F_CPU_FEATURES, "host %s lacks CPU features of VM %s: %s", d->name,
			   vm->name, miss);
	}
	return false;
}

static bool f_storage(ctx *c)
{
	const plc_vm *vm = c->vm;
	const plc_host *d = c->dst;
	const plc_table *t = &c->view->tables[PLC_T_STORAGE];
	uint64_t copy_mib = 0, grow_mib = 0;
	char names[PLC_REASON_MAX / 2];
	size_t used = 0;
	names[0] = '\0';
	if (c->undecided & U_STORAGE)
		return false;
	for (uint32_t i = 0; i < vm->n_disks && i < PLC_DISKS_MAX; i++) {
		const plc_disk *disk = &vm->disks[i];
		if (plc_set_has(&d->storage, disk->storage))
			continue;
		copy_mib += disk->used_mib ? disk->used_mib : disk->size_mib;
		grow_mib += disk->size_mib > disk->used_mib ? disk->size_mib : disk->used_mib;
		uint32_t k = 0; /* name each storage once, however many disks it holds */
		while (k < i && vm->disks[k].storage != disk->storage)
			k++;
		if (k < i)
			continue;
		int n = snprintf(names + used, sizeof(names) - used, "%s%s", used ? "," : "",
				 disk->storage < t->n ? t->name[disk->storage] : "?");
		if (n > 0 && (size_t)n < sizeof(names) - used)
			used += (size_t)n;
	}
	if (used == 0)
		return false;
	if (c->kind != PLC_KIND_MIGRATE || !c->view->cfg.allow_storage_migration)
		return add(c, F_STORAGE_NOT_SHARED, "host %s cannot reach storage %s of VM %s",
			   d->name, names, vm->name);
	/* What is written now must fit, or the copy fails after minutes of work: block.
	 * Growth to the disks' full size is only possible, and thin provisioning is the
	 * norm: warn.  No figure for the free space (an older agent, no local pool) is
	 * not a reason to refuse. */
	if (!d->local_free_unknown && copy_mib > d->local_free_mib)
		return add(c, F_STORAGE_NO_SPACE,
			   "copying %llu MiB of disks (%s) needs more than the %llu MiB free on %s",
			   (unsigned long long)copy_mib, names,
			   (unsigned long long)d->local_free_mib, d->name);
	add(c, F_STORAGE_COPY, "storage %s is not on %s: %llu MiB will be copied", names, d->name,
	    (unsigned long long)copy_mib);
	if (!d->local_free_unknown && grow_mib > d->local_free_mib)
		add(c, F_STORAGE_SPACE_LOW,
		    "disks %s may grow to %llu MiB but %s has %llu MiB free for them", names,
		    (unsigned long long)grow_mib, d->name, (unsigned long long)d->local_free_mib);
	return false;
}

static bool f_network(ctx *c)
{
	if ((c->undecided & U_NETWORK) || subset(&c->vm->networks, &c->dst->networks))
		return false;
	char miss[PLC_REASON_MAX / 2];
	missing_names(c->view, PLC_T_NETWORK, &c->vm->networks, &c->dst->networks, miss,
		      sizeof(miss));
	return add(c, F_NETWORK_MISSING, "host %s lacks network %s used by VM %s", c->dst->name,
		   miss, c->vm->name);
}

static bool version_check(ctx *c, int f, const char *what, plc_version s, plc_version d)
{
	if (d >= s)
		return false;
	char sb[16], db[16];
	plc_version_format(s, sb, sizeof(sb));
	plc_version_format(d, db, sizeof(db));
	return add(c, f, "%s on %s is %s, older than %s on %s", what, c->dst->name, db, sb,
		   c->src->name);
}

static bool f_versions(ctx *c)
{
	if (c->kind != PLC_KIND_MIGRATE || c->src == NULL)
		return false;
	/* the agent's own version is always known; libvirt's and QEMU's are facts */
	if (version_check(c, F_VERSION_AGENT, "drover", c->src->agent_version,
			  c->dst->agent_version))
		return true;
	if (c->undecided & U_VERSIONS)
		return false;
	return version_check(c, F_VERSION_LIBVIRT, "libvirt", c->src->libvirt_version,
			     c->dst->libvirt_version) ||
	       version_check(c, F_VERSION_QEMU, "QEMU", c->src->qemu_version,
			     c->dst->qemu_version);
}

/* Some other member of group G for a reason's text: one on host H
 * (ON_DST), or one placed elsewhere and not on a host being emptied. */
static const char *peer_name(const ctx *c, uint32_t g, uint32_t h, bool on_dst)
{
	for (uint32_t v = 0; v < c->view->n_vms; v++) {
		const plc_vm *o = &c->view->vms[v];
		int32_t p = c->st->pos[v];
		if (v == c->vm_index || p < 0)
			continue;
		if (!plc_set_has(&o->affinity, g) && !plc_set_has(&o->anti_affinity, g))
			continue;
		if (on_dst ? p == (int32_t)h : p != (int32_t)h && !c->st->leaving[p])
			return o->name;
	}
	return "?";
}

/* VM-VM rules on one host, from the per-(host, group) counts. */
static bool f_vm_groups(ctx *c)
{
	const plc__state *st = c->st;
	const plc_vm *vm = c->vm;
	uint32_t h = c->host_index;
	int32_t self = st->pos[c->vm_index];
	for (uint32_t w = 0; w < PLC_SET_WORDS; w++) {
		for (uint64_t bits = vm->affinity.w[w] | vm->anti_affinity.w[w]; bits;
		     bits &= bits - 1) {
			uint32_t g = w * 64 + (uint32_t)__builtin_ctzll(bits);
			if (g >= st->n_groups)
				break;
			bool aff = plc_set_has(&vm->affinity, g);
			bool anti = plc_set_has(&vm->anti_affinity, g);
			uint32_t placed = st->grp_placed[g];
			uint32_t on = st->grp_on[(size_t)h * st->n_groups + g];
			uint32_t leaving = st->grp_leaving[g];
			if (self >= 0)
				placed--;
			if (self == (int32_t)h)
				on--;
			if (self >= 0 && st->leaving[self])
				leaving--;
			/* Peers that must join us but sit elsewhere; those on hosts
			 * this plan empties will follow, so they do not count. */
			uint32_t elsewhere = placed - leaving - (st->leaving[h] ? 0 : on);
			const char *gname = c->view->tables[PLC_T_GROUP].name[g];
			if (aff && elsewhere > 0 &&
			    add(c, F_AFFINITY_VM,
				"VM %s must run with %s (group %s), which is not on %s", vm->name,
				c->report ? peer_name(c, g, h, false) : "", gname, c->dst->name))
				return true;
			if (anti && on > 0 &&
			    add(c, F_ANTI_AFFINITY_VM, "VM %s must not run with %s (group %s) on %s",
				vm->name, c->report ? peer_name(c, g, h, true) : "", gname,
				c->dst->name))
				return true;
		}
	}
	return false;
}

/* Spread over failure domains, from the per-(domain, group) counts. */
static bool f_domains(ctx *c)
{
	const plc__state *st = c->st;
	const plc_vm *vm = c->vm;
	const plc_table *dt = &c->view->tables[PLC_T_DOMAIN];
	int32_t self = st->pos[c->vm_index];
	uint32_t d = plc__domain(st, c->host_index);
	bool self_here = self >= 0 && plc__domain(st, (uint32_t)self) == d;
	for (uint32_t w = 0; w < PLC_SET_WORDS; w++) {
		for (uint64_t bits = vm->anti_domain.w[w]; bits; bits &= bits - 1) {
			uint32_t g = w * 64 + (uint32_t)__builtin_ctzll(bits);
			if (g >= st->n_groups)
				break;
			uint32_t on = st->dom_on[(size_t)d * st->n_groups + g] - (self_here ? 1u : 0u);
			if (on > 0 &&
			    add(c, F_ANTI_AFFINITY_DOMAIN,
				"VM %s must not share failure domain %s with another member of group %s",
				vm->name, dt->n ? dt->name[d] : c->dst->name,
				c->view->tables[PLC_T_GROUP].name[g]))
				return true;
		}
	}
	return false;
}

/* VM-host rules: host-group labels. */
static bool f_host_groups(ctx *c)
{
	const plc_vm *vm = c->vm;
	const plc_table *hg = &c->view->tables[PLC_T_HOSTGROUP];
	if (!plc_set_empty(&vm->host_must) && !intersects(&vm->host_must, &c->dst->groups)) {
		char need[PLC_REASON_MAX / 2];
		missing_names(c->view, PLC_T_HOSTGROUP, &vm->host_must, &c->dst->groups, need,
			      sizeof(need));
		if (add(c, F_AFFINITY_HOST, "VM %s must run on a host in %s; %s is not", vm->name,
			need, c->dst->name))
			return true;
	}
	if (!intersects(&vm->host_must_not, &c->dst->groups))
		return false;
	for (uint32_t g = 0; g < hg->n; g++)
		if (plc_set_has(&vm->host_must_not, g) && plc_set_has(&c->dst->groups, g))
			return add(c, F_ANTI_AFFINITY_HOST, "VM %s must not run on hosts in %s; %s is",
				   vm->name, hg->name[g], c->dst->name);
	return false;
}

static bool f_capacity(ctx *c)
{
	const plc_config *cfg = &c->view->cfg;
	uint32_t h = c->host_index;
	uint64_t mem_cap = plc__mem_cap(cfg, c->dst), cpu_cap = plc__vcpu_cap(cfg, c->dst);
	uint64_t mem = c->st->mem_used[h] + c->vm->mem_mib;
	uint64_t cpu = c->st->vcpu_used[h] + c->vm->vcpus;
	bool short_mem = mem > mem_cap, short_cpu = cpu > cpu_cap;
	if (short_mem &&
	    add(c, F_CAPACITY_MEMORY, "host %s has %llu MiB free, VM %s needs %llu MiB",
		c->dst->name,
		(unsigned long long)(mem_cap > c->st->mem_used[h] ? mem_cap - c->st->mem_used[h]
								   : 0),
		c->vm->name, (unsigned long long)c->vm->mem_mib))
		return true;
	if (short_cpu &&
	    add(c, F_CAPACITY_VCPUS, "host %s has %llu vCPUs free, VM %s needs %u", c->dst->name,
		(unsigned long long)(cpu_cap > c->st->vcpu_used[h] ? cpu_cap - c->st->vcpu_used[h]
								    : 0),
		c->vm->name, c->vm->vcpus))
		return true;
	if (short_mem || short_cpu || cfg->reserve_pct == 0 ||
	    (c->kind == PLC_KIND_RESTART && cfg->restarts_use_reserve))
		return false;
	uint64_t keep = 100u - (cfg->reserve_pct > 100 ? 100 : cfg->reserve_pct);
	if (mem * 100 > mem_cap * keep || cpu * 100 > cpu_cap * keep)
		return add(c, F_RESERVE,
			   "placing VM %s on %s would use the %u%% failover reserve", c->vm->name,
			   c->dst->name, cfg->reserve_pct);
	return false;
}

static void f_warnings(ctx *c)
{
	if (c->kind != PLC_KIND_MIGRATE || c->report == NULL)
		return;
	const plc_host *s = c->src, *d = c->dst;
	if (s && s->migration_mtu && d->migration_mtu && s->migration_mtu != d->migration_mtu)
		add(c, F_MTU, "migration network MTU is %u on %s but %u on %s", s->migration_mtu,
		    s->name, d->migration_mtu, d->name);
	uint32_t bw = d->bandwidth_mbps;
	if (s && s->bandwidth_mbps && (bw == 0 || s->bandwidth_mbps < bw))
		bw = s->bandwidth_mbps;
	if (bw && bw < c->view->cfg.min_bandwidth_mbps)
		add(c, F_BANDWIDTH, "migration bandwidth to %s is %u Mb/s, under %u Mb/s", d->name,
		    bw, c->view->cfg.min_bandwidth_mbps);
	if (!d->name_resolves && d->migration_addr[0] && strcmp(d->migration_addr, d->name))
		add(c, F_NAME, "migration address %s of host %s does not resolve",
		    d->migration_addr, d->name);
	else if (!d->name_resolves)
		add(c, F_NAME, "host name %s does not resolve", d->name);
}

const char *plc__check(const plc__state *st, plc_kind kind, uint32_t vm, int32_t src,
		       uint32_t host, plc_report *report)
{
	ctx c = {
		.st = st,
		.view = st->view,
		.vm = &st->view->vms[vm],
		.dst = &st->view->hosts[host],
		.src = src >= 0 ? &st->view->hosts[src] : NULL,
		.vm_index = vm,
		.host_index = host,
		.kind = kind,
		.report = report,
	};
	if (report)
		memset(report, 0, sizeof(*report));
	if (f_host(&c) || f_devices(&c) || f_facts(&c) || f_cpu(&c) || f_storage(&c) ||
	    f_network(&c) ||
	    f_versions(&c) || f_vm_groups(&c) || f_domains(&c) || f_host_groups(&c) ||
	    f_capacity(&c))
		return c.first;
	f_warnings(&c);
	return c.first;
}

int plc_check_kind(const plc_view *view, plc_kind kind, uint32_t vm, uint32_t host,
		   plc_report *report)
{
	if (view == NULL || report == NULL || vm >= view->n_vms || host >= view->n_hosts)
		return -EINVAL;
	plc__state st;
	int rc = plc__state_init(&st, view);
	if (rc < 0)
		return rc;
	int32_t src = st.pos[vm];
	if (kind == PLC_KIND_RESTART) {
		/* The VM's host is gone, and with it the VMs it ran: protected
		 * ones are being restarted too and bind nobody yet. */
		if (src >= 0)
			plc__state_fail_host(&st, (uint32_t)src);
		plc__state_move(&st, vm, PLC__PENDING);
	}
	plc__check(&st, kind, vm, kind == PLC_KIND_MIGRATE ? src : -1, host, report);
	plc__state_free(&st);
	return 0;
}

int plc_check(const plc_view *view, uint32_t vm, uint32_t host, plc_report *report)
{
	if (view == NULL || vm >= view->n_vms)
		return -EINVAL;
	plc_kind kind = view->vms[vm].host >= 0 ? PLC_KIND_MIGRATE : PLC_KIND_START;
	return plc_check_kind(view, kind, vm, host, report);
}

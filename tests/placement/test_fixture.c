/*
 * test_fixture.c — the scenario parser: good input parses to the view it
 * says, bad input fails with file:line and a message naming the problem.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

static fx *parse(const char *text, int expect_rc)
{
	fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	int rc = fx_parse(f, "t.txt", text);
	if (rc != expect_rc)
		fail_msg("fx_parse returned %d (%s)", rc, f->err);
	return f;
}

static void done(fx *f)
{
	fx_free(f);
	free(f);
}

static void expect_error(const char *text, const char *msg)
{
	fx *f = parse(text, -1);
	if (strstr(f->err, msg) == NULL)
		fail_msg("error '%s' does not contain '%s'", f->err, msg);
	done(f);
}

static void test_full_view(void **state)
{
	(void)state;
	fx *f = parse("# a comment\n"
		      "config reserve_pct=25 tolerate=2 storage_migration=no\n"
		      "host h1 mem=1000 cpus=4 features=a,b storage=nfs networks=br0 "
		      "admin=cordoned health=degraded libvirt=8.1.2 groups=gpu\n"
		      "host h2\n"
		      "vm v1 host=h1 mem=10 vcpus=2 disks=nfs:5,local:7 devices=pci,usb "
		      "cpu=host-passthrough affinity=g anti=x hosts=gpu not_hosts=old "
		      "protected=yes priority=-3 order=2 migratable=no\n"
		      "model M vendor=Intel features=a\n"
		      "request check v1 h2\n"
		      "expect\nline 1\nline 2\n",
		      0);
	plc_view *v = &f->view;
	assert_int_equal(v->cfg.reserve_pct, 25);
	assert_int_equal(v->cfg.host_failures_to_tolerate, 2);
	assert_false(v->cfg.allow_storage_migration);
	assert_int_equal(v->n_hosts, 2);
	assert_int_equal(v->hosts[0].mem_mib, 1000);
	assert_int_equal(v->hosts[0].admin, PLC_ADMIN_CORDONED);
	assert_int_equal(v->hosts[0].health, PLC_HEALTH_DEGRADED);
	plc_version ver;
	assert_int_equal(plc_version_parse("8.1.2", &ver), 0);
	assert_int_equal(v->hosts[0].libvirt_version, ver);
	assert_int_equal(v->hosts[1].mem_mib, 65536); /* fixture default */
	plc_vm *vm = &v->vms[0];
	assert_int_equal(vm->host, 0);
	assert_int_equal(vm->n_disks, 2);
	assert_int_equal(vm->disks[1].size_mib, 7);
	assert_int_equal(vm->devices, PLC_DEV_PCI | PLC_DEV_USB);
	assert_int_equal(vm->cpu_mode, PLC_CPU_PASSTHROUGH);
	assert_int_equal(vm->priority, -3);
	assert_true(vm->protected_);
	assert_false(vm->migratable);
	assert_int_equal(plc_view_lookup(v, PLC_T_STORAGE, "local"), 1);
	assert_true(plc_set_has(&v->hosts[0].cpu_features,
				(uint32_t)plc_view_lookup(v, PLC_T_FEATURE, "b")));
	assert_int_equal(f->n_models, 1);
	assert_string_equal(f->request, "check");
	assert_string_equal(f->args[1], "h2");
	assert_string_equal(f->expect, "line 1\nline 2\n");
	done(f);
}

static void test_errors_name_file_and_line(void **state)
{
	(void)state;
	expect_error("host h1\nhost h1\n", "t.txt:2: host h1: declared twice");
	expect_error("vm v1 host=h9\n", "t.txt:1: vm v1: host 'h9' is not declared");
	expect_error("host h1 mem=lots\n", "t.txt:1: mem: expected a number, got 'lots'");
	expect_error("host h1 colour=red\n", "t.txt:1: host h1: unknown key 'colour'");
	expect_error("\n\nfrobnicate\n", "t.txt:3: unknown statement 'frobnicate'");
	expect_error("host h1 admin=asleep\n", "admin: unknown value 'asleep'");
	expect_error("host h1 libvirt=9.x\n", "libvirt: bad version '9.x'");
	expect_error("host h1 libvirt=9.0.2048\n", "bad version");
	expect_error("vm v1 disks=nfs\n", "disks: 'nfs' is not STORAGE:SIZE_MIB");
	expect_error("vm v1 devices=gpu\n", "devices: unknown device 'gpu'");
	expect_error("vm v1 protected=maybe\n", "protected: expected yes or no");
	expect_error("host h1\n", "t.txt:1: no request line");
	expect_error("request teleport v1\n", "request: unknown kind 'teleport'");
	expect_error("request check v1\n", "request check: wants 2..2 arguments, got 1");
	expect_error("request admission\nrequest admission\n", "t.txt:2: request: only one");
	expect_error("config colour=1\n", "config: unknown key 'colour'");
	expect_error("host h1 cpus=99999999999\n", "cpus: 99999999999 is too large");
	expect_error("host abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz\n",
		     "longer than 47 characters");
	expect_error("expect now\n", "t.txt:1: expect takes no arguments");
}

static void test_run_unknown_names(void **state)
{
	(void)state;
	fx *f = parse("host h1\nrequest check ghost h1\n", 0);
	char *out = NULL;
	assert_int_equal(fx_run(f, &out), -1);
	assert_null(out);
	assert_string_equal(f->err, "request: unknown vm 'ghost'");
	done(f);
}

static void test_table_full(void **state)
{
	(void)state;
	/* 257 distinct features overflow the 256-entry table with a clear error. */
	size_t cap = 8192;
	char *text = malloc(cap);
	assert_non_null(text);
	size_t n = (size_t)snprintf(text, cap, "host h1 features=");
	for (int i = 0; i <= PLC_SET_BITS; i++)
		n += (size_t)snprintf(text + n, cap - n, "%sf%d", i ? "," : "", i);
	snprintf(text + n, cap - n, "\n");
	fx *f = parse(text, -1);
	assert_non_null(strstr(f->err, "t.txt:1: features: cannot add 'f256' (table full)"));
	done(f);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_view),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_run_unknown_names),
		cmocka_unit_test(test_table_full),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

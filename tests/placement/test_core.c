/*
 * test_core.c — placement core edge cases the scenarios do not reach:
 * argument errors, empty views, versions, determinism under reordering.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

static void test_versions(void **state)
{
	(void)state;
	plc_version a, b;
	char buf[16];
	assert_int_equal(plc_version_parse("9.0.0", &a), 0);
	assert_int_equal(plc_version_parse("10.1", &b), 0);
	assert_true(b > a);
	plc_version_format(b, buf, sizeof(buf));
	assert_string_equal(buf, "10.1.0");
	assert_int_equal(plc_version_parse("", &a), -EINVAL);
	assert_int_equal(plc_version_parse("1..2", &a), -EINVAL);
	assert_int_equal(plc_version_parse("1.2.3.4", &a), -EINVAL);
	assert_int_equal(plc_version_parse("1024", &a), -EINVAL);
	assert_int_equal(plc_version_parse("-1", &a), -EINVAL);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	plc_view *v = calloc(1, sizeof(*v));
	assert_non_null(v);
	plc_view_init(v);
	plc_report r;
	plc_ranking rk;
	plc_plan p;
	plc_admission a;
	plc_baseline b;
	assert_int_equal(plc_check(v, 0, 0, &r), -EINVAL);
	assert_int_equal(plc_rank(v, 0, &rk), -EINVAL);
	assert_int_equal(plc_plan_evacuate(v, 0, &p), -EINVAL);
	uint32_t h = 3;
	assert_int_equal(plc_plan_restart(v, &h, 1, &p), -EINVAL);
	/* nothing failed, nothing to do */
	assert_int_equal(plc_plan_restart(v, NULL, 0, &p), 0);
	assert_int_equal(p.n_moves, 0);
	plc_plan_free(&p);
	assert_int_equal(plc_admission_check(v, &a), 0);
	assert_true(a.ok);
	assert_int_equal(plc_cpu_baseline(v, NULL, 0, NULL, 0, &b), -EINVAL);
	assert_int_equal(plc_view_intern(v, PLC_T_FEATURE, ""), -EINVAL);
	assert_int_equal(plc_view_intern(v, PLC_T_COUNT, "x"), -EINVAL);
	assert_int_equal(plc_view_intern(v, PLC_T_FEATURE, "avx"), 0);
	assert_int_equal(plc_view_intern(v, PLC_T_FEATURE, "avx"), 0);
	free(v);
}

static fx *load(const char *text)
{
	fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	if (fx_parse(f, "t.txt", text) < 0)
		fail_msg("%s", f->err);
	return f;
}

static void free_fx(fx *f)
{
	fx_free(f);
	free(f);
}

/* The same cluster with hosts and VMs declared in another order must give
 * the same plan: ties are broken by name, not by position. */
static void test_plan_independent_of_order(void **state)
{
	(void)state;
	const char *a = "host h1\nhost h2\nhost h3\nhost h4\n"
			"vm a host=h1 mem=2048\nvm b host=h1 mem=2048\nvm c host=h1 mem=4096\n"
			"vm d host=h1 mem=1024 priority=5\nrequest evacuate h1\n";
	const char *b = "host h4\nhost h3\nhost h2\nhost h1\n"
			"vm d host=h1 mem=1024 priority=5\nvm c host=h1 mem=4096\n"
			"vm b host=h1 mem=2048\nvm a host=h1 mem=2048\nrequest evacuate h1\n";
	fx *fa = load(a), *fb = load(b);
	char *oa, *ob;
	assert_int_equal(fx_run(fa, &oa), 0);
	assert_int_equal(fx_run(fb, &ob), 0);
	assert_string_equal(oa, ob);
	free(oa);
	free(ob);
	free_fx(fa);
	free_fx(fb);
}

static void test_format_truncates_safely(void **state)
{
	(void)state;
	fx *f = load("host h1\nhost h2 admin=cordoned\nvm v host=h1\nrequest check v h2\n");
	plc_report r;
	assert_int_equal(plc_check(&f->view, 0, 1, &r), 0);
	assert_int_equal(r.n_blocking, 1);
	char small[8];
	size_t need = plc_format_report(&f->view, 0, 1, &r, small, sizeof(small));
	assert_true(need > sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	char *big = malloc(need + 1);
	assert_non_null(big);
	assert_int_equal(plc_format_report(&f->view, 0, 1, &r, big, need + 1), need);
	assert_int_equal(strlen(big), need);
	free(big);
	free_fx(f);
}

static void test_filter_catalogue(void **state)
{
	(void)state;
	size_t n;
	const plc_filter_info *fi = plc_filters(&n);
	assert_true(n >= 25);
	for (size_t i = 0; i < n; i++) {
		assert_non_null(fi[i].code);
		assert_non_null(fi[i].hint);
		assert_non_null(strchr(fi[i].code, '.'));
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(fi[i].code, fi[j].code);
	}
}

/* Admission with too many failure combinations says "unknown", not "ok". */
static void test_admission_limit(void **state)
{
	(void)state;
	fx *f = load("config tolerate=2 combinations_max=5\n"
		     "host h1\nhost h2\nhost h3\nhost h4\nvm v host=h1 protected=yes\n"
		     "request admission\n");
	plc_admission a;
	assert_int_equal(plc_admission_check(&f->view, &a), 0);
	assert_false(a.exhaustive);
	plc_verdict verdict;
	char reason[256];
	assert_int_equal(plc_admit_protect(&f->view, 0, &verdict, reason, sizeof(reason)), 0);
	assert_int_equal(verdict, PLC_ADMIT_UNKNOWN);
	f->view.cfg.host_failures_to_tolerate = 9;
	assert_int_equal(plc_admission_check(&f->view, &a), -EINVAL);
	free_fx(f);
}

/* docs/placement.md lists every filter code: a new filter without
 * documentation fails here. */
static void test_docs_list_every_code(void **state)
{
	(void)state;
	char *doc = fx_read_file(PLC_DOCS_PATH);
	if (doc == NULL)
		fail_msg("cannot read %s", PLC_DOCS_PATH);
	size_t n;
	const plc_filter_info *fi = plc_filters(&n);
	for (size_t i = 0; i < n; i++) {
		char cell[PLC_NAME_MAX + 8];
		snprintf(cell, sizeof(cell), "| `%s` |", fi[i].code);
		if (strstr(doc, cell) == NULL)
			fail_msg("%s does not document filter %s", PLC_DOCS_PATH, fi[i].code);
	}
	free(doc);
}

/* An allocator that fails the Nth request and counts what is live. */
typedef struct failing_alloc {
	long fail_at; /* -1: never */
	long calls;
	long live;
} failing_alloc;

static void *fa_realloc(void *ctx, void *p, size_t size)
{
	failing_alloc *fa = ctx;
	if (fa->calls++ == fa->fail_at)
		return NULL;
	void *q = realloc(p, size);
	if (q && p == NULL)
		fa->live++;
	return q;
}

static void fa_free(void *ctx, void *p)
{
	failing_alloc *fa = ctx;
	fa->live--;
	free(p);
}

/* Every allocation of every entry point fails once, in turn: each failure
 * must return -ENOMEM with nothing leaked, and the call must then succeed. */
static void test_every_allocation_failure(void **state)
{
	(void)state;
	fx *f = load("config tolerate=2\n"
		     "host h1 storage=nfs\nhost h2 storage=nfs\nhost h3 storage=nfs\n"
		     "host h4 storage=nfs mem=2048\n"
		     "vm a host=h1 protected=yes mem=8192 anti=g disks=nfs:1\n"
		     "vm b host=h1 protected=yes mem=8192 anti=g disks=nfs:1\n"
		     "vm c host=h1 mem=4096 affinity=p\nvm d host=h2 mem=4096 affinity=p\n"
		     "vm e host=h1 protected=yes mem=60000 disks=nfs:1\n"
		     "vm f host=h3 protected=yes\nvm g host=h1 protected=yes\n"
		     "request admission\n");
	failing_alloc fa;
	plc_allocator alloc = {.realloc = fa_realloc, .free = fa_free, .ctx = &fa};
	f->view.alloc = &alloc;
	for (int entry = 0; entry < 5; entry++) {
		int successes = 0;
		for (long n = 0; n < 1000 && successes == 0; n++) {
			fa = (failing_alloc){.fail_at = n};
			plc_plan p;
			plc_ranking rk;
			plc_admission a;
			plc_verdict v;
			char reason[256];
			uint32_t failed = 0;
			int rc;
			switch (entry) {
			case 0:
				rc = plc_plan_evacuate(&f->view, 0, &p);
				if (rc == 0)
					plc_plan_free(&p);
				break;
			case 1:
				rc = plc_plan_restart(&f->view, &failed, 1, &p);
				if (rc == 0)
					plc_plan_free(&p);
				break;
			case 2:
				rc = plc_rank(&f->view, 0, &rk);
				if (rc == 0)
					plc_ranking_free(&rk);
				break;
			case 3:
				rc = plc_admission_check(&f->view, &a);
				break;
			default:
				rc = plc_admit_protect(&f->view, 2, &v, reason, sizeof(reason));
				break;
			}
			if (rc != 0 && rc != -ENOMEM)
				fail_msg("entry %d, failing allocation %ld: rc %d", entry, n, rc);
			if (fa.live != 0)
				fail_msg("entry %d, failing allocation %ld: %ld blocks leaked", entry,
					 n, fa.live);
			if (rc == 0) {
				successes++;
				assert_true(n > 0); /* at least one failure was tried */
				if (fa.calls > n)
					fail_msg("entry %d: succeeded although allocation %ld failed",
						 entry, n);
			}
		}
		assert_int_equal(successes, 1);
	}
	free_fx(f);
}

static void expect_invalid(plc_view *v, const char *msg)
{
	char err[256];
	assert_int_equal(plc_view_check(v, err, sizeof(err)), -EINVAL);
	if (strstr(err, msg) == NULL)
		fail_msg("'%s' does not contain '%s'", err, msg);
}

static void test_view_check(void **state)
{
	(void)state;
	fx *f = load("host h1 domain=r1\nhost h2 domain=r2\nvm a host=h1 disks=nfs:1\nvm b\n"
		     "request admission\n");
	plc_view *v = &f->view;
	char err[256];
	assert_int_equal(plc_view_check(v, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	v->vms[1].host = 2;
	expect_invalid(v, "vm b: host index 2 out of range (2 hosts)");
	v->vms[1].host = -1;
	v->vms[0].disks[0].storage = 5;
	expect_invalid(v, "vm a: disk 0 on storage 5 not in the table (1)");
	v->vms[0].disks[0].storage = 0;
	strcpy(v->vms[1].name, "a");
	expect_invalid(v, "vm name a is used twice");
	strcpy(v->vms[1].name, "b");
	strcpy(v->hosts[1].name, "h1");
	expect_invalid(v, "host name h1 is used twice");
	strcpy(v->hosts[1].name, "h2");
	v->hosts[1].domain = 9;
	expect_invalid(v, "host h2: failure domain 9 not in the table (2)");
	v->hosts[1].domain = 1;
	v->cfg.reserve_pct = 101;
	expect_invalid(v, "reserve_pct 101 is over 100");
	v->cfg.reserve_pct = 0;
	v->vms[0].n_disks = PLC_DISKS_MAX + 1;
	expect_invalid(v, "vm a: 17 disks (max 16)");
	v->vms[0].n_disks = 1;
	v->hosts[1].admin = (plc_admin)7;
	expect_invalid(v, "host h2: admin state 7 or health 0 unknown");
	v->hosts[1].admin = PLC_ADMIN_ACTIVE;
	v->vms[0].cpu_mode = (plc_cpu_mode)5;
	expect_invalid(v, "vm a: CPU mode 5 unknown");
	v->vms[0].cpu_mode = PLC_CPU_HOST_MODEL;
	v->hosts[0].name[0] = '\0';
	expect_invalid(v, "host 0: empty or unterminated name");
	assert_int_equal(plc_view_check(NULL, NULL, 0), -EINVAL);
	free_fx(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_plan_independent_of_order),
		cmocka_unit_test(test_format_truncates_safely),
		cmocka_unit_test(test_filter_catalogue),
		cmocka_unit_test(test_admission_limit),
		cmocka_unit_test(test_docs_list_every_code),
		cmocka_unit_test(test_every_allocation_failure),
		cmocka_unit_test(test_view_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

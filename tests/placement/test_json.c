/*
 * test_json.c — every scenario's --json form is valid JSON with the fields
 * the CLI contract promises (parsed back with jansson), and escaping holds
 * for hostile names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

static json_t *run_json(const char *path, const char *text)
{
	fx *f = calloc(1, sizeof(*f));
	char *out = NULL;
	assert_non_null(f);
	if (fx_parse(f, path, text) < 0)
		fail_msg("%s: %s", path, f->err);
	f->json = true;
	if (fx_run(f, &out) < 0)
		fail_msg("%s: %s", path, f->err);
	json_error_t err;
	json_t *j = json_loads(out, 0, &err);
	if (j == NULL)
		fail_msg("%s: invalid JSON (%s) in: %s", path, err.text, out);
	char req[PLC_NAME_MAX];
	strcpy(req, f->request);
	free(out);
	fx_free(f);
	free(f);
	/* the fields each request kind promises */
	static const struct {
		const char *req, *fields[4];
	} want[] = {
		{"check", {"vm", "host", "blocked", "findings"}},
		{"rank", {"candidates", "rejected", NULL, NULL}},
		{"evacuate", {"moves", "unplaced", "skipped", "waves"}},
		{"restart", {"moves", "unplaced", "skipped", "waves"}},
		{"admission", {"ok", "exhaustive", "combinations", "reason"}},
		{"protect", {"verdict", "reason", NULL, NULL}},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		if (strncmp(req, want[i].req, strlen(want[i].req)) != 0)
			continue;
		for (size_t k = 0; k < 4 && want[i].fields[k]; k++)
			if (json_object_get(j, want[i].fields[k]) == NULL)
				fail_msg("%s: no field '%s'", path, want[i].fields[k]);
	}
	return j;
}

static void test_every_scenario_json(void **state)
{
	(void)state;
	DIR *d = opendir(PLC_SCENARIOS_DIR);
	assert_non_null(d);
	int n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0)
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", PLC_SCENARIOS_DIR, e->d_name);
		char *text = fx_read_file(path);
		assert_non_null(text);
		json_decref(run_json(path, text));
		free(text);
		n++;
	}
	closedir(d);
	assert_true(n >= 40);
}

static void test_escaping(void **state)
{
	(void)state;
	/* names cannot hold spaces in fixtures, but quotes and backslashes can */
	json_t *j = run_json("esc", "host h\"1\\\nhost h2 admin=cordoned\nvm v\"x host=h\"1\\\n"
				    "request check v\"x h2\n");
	assert_string_equal(json_string_value(json_object_get(j, "vm")), "v\"x");
	json_t *f0 = json_array_get(json_object_get(j, "findings"), 0);
	assert_string_equal(json_string_value(json_object_get(f0, "code")), "admin.cordoned");
	assert_true(json_is_true(json_object_get(j, "blocked")));
	json_decref(j);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_scenario_json),
		cmocka_unit_test(test_escaping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

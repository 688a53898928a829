/*
 * golden.c — runs every placement scenario in a folder and diffs the output.
 *
 *   placement_golden DIR            run every DIR/NAME.txt, exit 1 on any mismatch
 *   placement_golden --print FILE   print what FILE's request outputs now
 *
 * Mismatches print a line diff (LCS; "-" expected, "+" actual), so a
 * reviewer sees exactly which decision changed.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"

#define GOLDEN_FILES_MAX 1024
#define GOLDEN_LINES_MAX 2048

static int split_lines(char *text, char **lines, int max)
{
	int n = 0;
	char *s = text;
	while (*s && n < max) {
		lines[n++] = s;
		char *nl = strchr(s, '\n');
		if (nl == NULL)
			break;
		*nl = '\0';
		s = nl + 1;
	}
	return n;
}

static void diff(const char *expect, const char *actual)
{
	char *e = strdup(expect), *a = strdup(actual);
	static char *el[GOLDEN_LINES_MAX], *al[GOLDEN_LINES_MAX];
	int ne = split_lines(e, el, GOLDEN_LINES_MAX), na = split_lines(a, al, GOLDEN_LINES_MAX);
	int *t = calloc((size_t)(ne + 1) * (size_t)(na + 1), sizeof(int));
	if (t == NULL)
		goto out;
#define T(i, j) t[(size_t)(i) * (size_t)(na + 1) + (size_t)(j)]
	for (int i = ne - 1; i >= 0; i--)
		for (int j = na - 1; j >= 0; j--)
			T(i, j) = strcmp(el[i], al[j]) == 0 ? T(i + 1, j + 1) + 1
			      : T(i + 1, j) > T(i, j + 1) ? T(i + 1, j) : T(i, j + 1);
	int i = 0, j = 0;
	while (i < ne || j < na) {
		if (i < ne && j < na && strcmp(el[i], al[j]) == 0) {
			printf("   %s\n", el[i]);
			i++, j++;
		} else if (j < na && (i == ne || T(i, j + 1) >= T(i + 1, j))) {
			printf("  +%s\n", al[j++]);
		} else {
			printf("  -%s\n", el[i++]);
		}
	}
#undef T
out:
	free(t);
	free(e);
	free(a);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* 0 pass, 1 mismatch, 2 error. */
static int run_one(const char *path, bool print)
{
	char *text = fx_read_file(path);
	if (text == NULL) {
		printf("%s: cannot read\n", path);
		return 2;
	}
	fx *f = calloc(1, sizeof(*f));
	char *out = NULL;
	int rc = 2;
	if (f == NULL)
		goto done;
	if (fx_parse(f, path, text) < 0 || fx_run(f, &out) < 0) {
		printf("%s\n", f->err);
		goto done;
	}
	char err[256];
	if (plc_view_check(&f->view, err, sizeof(err)) != 0) {
		printf("%s: invalid view: %s\n", path, err);
		goto done;
	}
	if (print) {
		fputs(out, stdout);
		rc = 0;
	} else if (f->expect == NULL) {
		printf("%s: no expect section\n", path);
	} else if (strcmp(f->expect, out) != 0) {
		printf("FAIL %s\n", path);
		diff(f->expect, out);
		rc = 1;
	} else {
		rc = 0;
	}
done:
	free(out);
	if (f)
		fx_free(f);
	free(f);
	free(text);
	return rc;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--print") == 0)
		return run_one(argv[2], true);
	if (argc != 2) {
		fprintf(stderr, "usage: %s DIR | --print FILE\n", argv[0]);
		return 2;
	}
	DIR *d = opendir(argv[1]);
	if (d == NULL) {
		perror(argv[1]);
		return 2;
	}
	static char *names[GOLDEN_FILES_MAX];
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0)
			continue;
		if (n == GOLDEN_FILES_MAX) {
			fprintf(stderr, "more than %d scenarios\n", GOLDEN_FILES_MAX);
			closedir(d);
			return 2;
		}
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_names);
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", argv[1], names[i]);
		if (run_one(path, false) != 0)
			failed++;
		free(names[i]);
	}
	printf("%zu scenarios, %d failed\n", n, failed);
	if (n == 0)
		return 1;
	return failed ? 1 : 0;
}

/*
 * fixture.h — the golden scenario format for placement (tests only).
 *
 * A scenario is a text file: a cluster view, one request, and the expected
 * output, in the spirit of Pacemaker's cts-scheduler inputs.
 *
 *   # comment
 *   config reserve_pct=25 max_out=2 tolerate=1 storage_migration=no
 *   host h1 mem=65536 cpus=16 features=sse4_2,avx2 storage=nfs networks=br0
 *   vm web1 host=h1 mem=4096 vcpus=2 disks=nfs:20480 networks=br0 protected=yes
 *   model Skylake vendor=Intel features=sse4_2,avx2
 *   format json                      (optional: expect the --json form)
 *   request check web1 h2
 *   expect
 *   <exact output, to end of file>
 *
 * Requests: check VM HOST | check-restart VM HOST | check-start VM HOST |
 * rank VM | evacuate HOST[,HOST...] | restart HOST[,HOST...] | admission |
 * protect VM | baseline [HOST,...].  Keys are listed in fixture.c.
 * Hosts must be declared before the VMs that name them.  Every error names
 * file:line.
 */
#ifndef DROVER_TESTS_PLACEMENT_FIXTURE_H
#define DROVER_TESTS_PLACEMENT_FIXTURE_H

#include "placement.h"

#define FX_ERR_MAX 256
#define FX_MODELS_MAX 32
#define FX_ARGS_MAX 8

typedef struct fx {
	plc_view view;
	plc_cpu_model models[FX_MODELS_MAX];
	uint32_t n_models;
	char request[PLC_NAME_MAX];
	char args[FX_ARGS_MAX][PLC_NAME_MAX];
	uint32_t n_args;
	bool json;    /* "format json": use the plc_format_*_json forms */
	char *expect; /* NULL when the file has no expect section */
	char err[FX_ERR_MAX];
} fx;

/* Parse TEXT (named PATH in errors).  0 on success; -1 with fx->err set to
 * "PATH:LINE: message".  Always call fx_free afterwards. */
int fx_parse(fx *f, const char *path, const char *text);
/* Run the request; *OUT is malloc'ed text.  -1 with fx->err on failure. */
int fx_run(fx *f, char **out);
void fx_free(fx *f);
/* Read a whole file; NULL on error. */
char *fx_read_file(const char *path);

#endif

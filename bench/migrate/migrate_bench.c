/* migrate_bench — live migration time and downtime through drover's adapter (agent/hv.h).
 *
 * Moves one running VM back and forth between two hosts `runs` times and prints, per
 * figure, one JSON line with the median and the spread. wall_ms is hv_migrate's own
 * duration (what an operator waits); downtime_ms is libvirt's measured pause of the VM
 * (destination-side job statistics).
 *
 *   migrate_bench VM SRC_URI SRC_MIG_URI DST_URI DST_MIG_URI MEM_MIB RUNS VIRT
 * SRC_URI/DST_URI are control connections; *_MIG_URI the peer-to-peer URIs as each
 * libvirtd sees the other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hv.h"

#define BENCH_RUNS_MAX 50

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void emit(const char *metric, uint64_t *v, int n, unsigned mem_mib, const char *virt)
{
    qsort(v, (size_t)n, sizeof v[0], cmp_u64);
    printf("{\"bench\":\"migrate\",\"metric\":\"%s\",\"value\":%llu,\"unit\":\"ms\","
           "\"stat\":\"median\",\"min\":%llu,\"max\":%llu,\"runs\":%d,\"mem_mib\":%u,"
           "\"mode\":\"live\",\"hosts\":2,\"virt\":\"%s\",\"guest\":\"tick\"}\n",
           metric, (unsigned long long)v[n / 2], (unsigned long long)v[0],
           (unsigned long long)v[n - 1], n, mem_mib, virt);
}

int main(int argc, char **argv)
{
    if (argc != 9) {
        fprintf(stderr, "usage: migrate_bench VM SRC_URI SRC_MIG_URI DST_URI DST_MIG_URI "
                        "MEM_MIB RUNS VIRT\n");
        return 2;
    }
    const char *vm = argv[1];
    unsigned mem_mib = (unsigned)strtoul(argv[6], NULL, 10);
    int runs = atoi(argv[7]);
    if (runs < 1 || runs > BENCH_RUNS_MAX) {
        fprintf(stderr, "migrate_bench: RUNS must be 1..%d\n", BENCH_RUNS_MAX);
        return 2;
    }
    hv_conn *c[2] = {NULL, NULL};
    const char *mig[2] = {argv[3], argv[5]};
    hv_err e = {0};
    int rc;
    if ((rc = hv_open_libvirt(argv[2], NULL, &c[0], &e)) != HV_OK ||
        (rc = hv_open_libvirt(argv[4], NULL, &c[1], &e)) != HV_OK) {
        fprintf(stderr, "migrate_bench: %s\n", e.msg);
        return 1;
    }
    uint64_t wall[BENCH_RUNS_MAX], down[BENCH_RUNS_MAX];
    hv_migrate_opts o;
    hv_migrate_opts_default(&o);
    int at = 0, status = 0;
    for (int i = 0; i < runs; i++) {
        hv_migrate_result r;
        int to = 1 - at;
        rc = hv_migrate(c[at], vm, mig[to], c[to], &o, &r, &e);
        if (rc != HV_OK) {
            fprintf(stderr, "migrate_bench: run %d: %s\n", i, e.msg);
            status = 1;
            break;
        }
        wall[i] = r.wall_ms;
        down[i] = r.downtime_ms;
        at = to;
    }
    if (status == 0) {
        emit("wall_ms", wall, runs, mem_mib, argv[8]);
        emit("downtime_ms", down, runs, mem_mib, argv[8]);
    }
    hv_close(c[0]);
    hv_close(c[1]);
    return status;
}

/* config.h — /etc/drover/drover.conf, an INI file read with libinih.
 *
 * Every key is declared once in a table (config.c) with its type, range and default, so
 * unknown keys and bad values are errors that name file:line and the accepted form.
 * Durations take a unit: "500ms", "2s", "1m" (a bare number is refused: ambiguity
 * about units has caused real outages).
 */
#ifndef DROVER_CONFIG_H
#define DROVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AG_CFG_STR 256

typedef struct ag_config {
    /* [agent] */
    char     name[64];                 /* host name shown to operators; default: hostname */
    char     state_dir[AG_CFG_STR];    /* identity, store; default /var/lib/drover */
    char     control_socket[AG_CFG_STR]; /* default /run/drover/drover.sock */
    char     log_level[16];            /* error|warn|info|debug */
    int64_t  workers;                  /* threads for blocking calls (libvirt) */
    int64_t  rt_priority;              /* SCHED_RR priority of loop + zmq threads; 0 = off */
    char     lock_memory[8];           /* yes|no: mlockall */
    /* [cluster] */
    char     bind[AG_CFG_STR];         /* host:port for cluster traffic */
    char     advertise[AG_CFG_STR];    /* address peers use to reach us; default = bind */
    char     seeds[1024];              /* comma-separated host:port to join through */
    char     failure_domain[64];       /* label for spreading voters */
    char     roster[AG_CFG_STR];       /* static member roster until `drover join` lands */
    /* [gossip] */
    int64_t  probe_interval_ms;
    int64_t  probe_timeout_ms;
    int64_t  gossip_interval_ms;
    int64_t  suspicion_mult;
    int64_t  status_interval_ms;
    /* [libvirt] */
    char     libvirt_uri[AG_CFG_STR];  /* default qemu:///system */
    /* [ha] */
    int64_t  fence_timeout_ms;
    int64_t  storage_latency_max_ms; /* slower shared-storage probes degrade the host */
    char     fence_command[AG_CFG_STR]; /* power a dead host off (IPMI...); "" = none */
    char     allow_upgrade_command[8];  /* yes|no: run the upgrade's command when asked */
    int64_t  fence_after_ms;            /* suspect + no report this long: fence */
    char     storage_migration[16];     /* never|drain: copy local disks when draining */
    char     watchdog[AG_CFG_STR];      /* watchdog device; "" = none */
    int64_t  watchdog_timeout_ms;
    int64_t  voters;                 /* Raft voters: 3 or 5 (fewer when fewer hosts) */
    int64_t  election_timeout_ms;
    int64_t  heartbeat_ms;
    int64_t  snapshot_every;         /* Raft: snapshot after this many applied entries */
    /* where it was read from, for messages */
    char     path[AG_CFG_STR];
} ag_config;

/* Defaults for every key. */
void ag_config_defaults(ag_config *c);

/* Read path over the defaults. Returns 0, or -1 with err = "FILE:LINE: what; expected";
 * -2 when the file cannot be opened. */
int ag_config_load(ag_config *c, const char *path, char *err, size_t errlen);

/* Parse "500ms", "2s", "1m", "1h" into ms. 0 or -1. */
int ag_parse_duration_ms(const char *s, int64_t *out);

/* Write the documented default configuration (deploy/drover.conf is generated from it). */
void ag_config_print_defaults(void *FILE_stream);

#endif

/* hoststatus.h — this host's status record (proto/gossip.proto HostStatus), signed by
 * its identity key, and the check every receiver makes before believing one.
 *
 * Gossip relays records it cannot verify (the core is crypto-free), so the signature is
 * over the record itself, not the hop: whoever relays it, only its host could have made
 * it. Signed bytes: "drover-status-v1\0" || HostStatus encoding.
 */
#ifndef DROVER_HOSTSTATUS_H
#define DROVER_HOSTSTATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gossip.pb-c.h"
#include "identity.h"
#include "members.h"

/* Facts the agent knows beyond /proc (filled by the hypervisor adapter when present). */
typedef struct ag_host_facts {
    char     libvirt_version[32], qemu_version[32];
    char     cpu_vendor[32], cpu_model[64];   /* empty: read from /proc/cpuinfo */
    uint32_t vm_count;
    int      libvirtd_responsive;            /* ag_lvwatch_judge's verdict */
    uint32_t libvirtd_silent_ms;             /* and how long it has not answered */
    int      admin_state;                    /* Drover__AdminState */
    /* 1 when the hypervisor facts below (and the versions and CPU names above) were read
     * at the last probe and libvirtd answers; 0 — also a zeroed struct — publishes them
     * as unknown (HostStatus.facts_unknown): they are then the last values read, or
     * empty, and receivers must not take them as the host's. */
    int      facts_known;
    uint64_t facts_read_wall_ms;             /* when they were last read (wall), 0 never */
    /* From the hypervisor adapter (hv_host_facts), empty until first read.
     * Lists are comma-separated, as hv.h gives them. */
    char     cpu_arch[16];
    char     cpu_features[1024];             /* host-model features placement compares */
    char     storage_ids[1024], bridges[1024], networks[1024];
    char     migration_addr[64];
    uint32_t vcpus_used;
    char     nic_addr[64];                   /* IP (or IP:port) whose interface's link we report */
    uint32_t storage_latency_ms;             /* worst probe of the shared storage, last refresh */
    uint32_t storage_errors;                 /* failed probes in the last refresh */
    uint8_t  vm_digest[16];                  /* BLAKE2b-128 of the sorted running VM UUIDs */
    int      have_vm_digest;
    /* NIC of nic_addr probed on a worker (ag_status_nic): the record builder then does
     * not resolve names on the loop thread; 0 = probe it while building */
    int      nic_probed;
    int      nic_up;
    uint32_t nic_mtu, nic_speed_mbps;
    uint64_t local_free_mib;                 /* largest local storage pool's free space */
    int      local_free_known;
    uint32_t migrations_out;                 /* live migrations out of this host now */
    char     migration_dests[512];           /* their destinations, comma-separated */
} ag_host_facts;

/* Probe every shared storage in ids ("fs:<fsid>:<mountpoint>", comma-separated): write
 * 4 KiB to a file of this host's there, fdatasync, remove; the worst time and the number
 * of failures go into the record's health signals. Blocking: run on a worker. */
void ag_status_probe_storage(const char *ids, const char *host, uint32_t *worst_ms, uint32_t *errors);

/* Link state, MTU and link speed (Mb/s; a bridge/bond/VLAN: its fastest lower device) of
 * the interface that carries `ip` (an address or host name, with or without ":port":
 * the migration or cluster address), from /sys/class/net; *up = -1, *mtu = 0 and
 * *speed_mbps = 0 when no interface has that address, *speed_mbps = 0 when the driver
 * reports none (loopback). May resolve a name: blocking, run it on a worker. */
void ag_status_nic(const char *ip, int *up, uint32_t *mtu, uint32_t *speed_mbps);
/* The speed part of it for interface IF under SYSNET ("/sys/class/net"; tests give a
 * directory of their own): IF's speed file, else the fastest lower_* device; 0 unknown. */
uint32_t ag_status_link_speed(const char *sysnet, const char *ifname);

/* Bounds on the lists a record carries. 128 features cover what libvirt reports for
 * current x86 host-model CPUs (~100); 16 storage ids / bridges / networks per host is
 * far past a KVM host's usual handful. Longer lists are cut (never silently: the digest
 * still covers every feature). */
#define AG_STATUS_FEATURES_MAX 128
#define AG_STATUS_LIST_MAX 16
/* Destinations of running migrations a record lists: KubeVirt runs 2 outbound per node
 * by default and placement's max_out_per_host is 2; 8 leaves room for an operator's
 * manual moves on top without letting the list crowd the record. */
#define AG_STATUS_MIGRATIONS_MAX 8
/* The signed record must fit GSP_STATUS_MAX (2048) with its 64-byte signature and
 * framing; a body over this drops the feature names and keeps model + digest. */
#define AG_STATUS_BODY_MAX 1960

/* ---- is libvirtd answering? (issue 11, 3c) ----
 * The facts probe asks libvirtd on a worker (ctl_place.c). A hung libvirtd (its QEMUs
 * alive, every RPC waiting) holds that worker for as long as it hangs, so the answer
 * cannot come from the probe returning: the worker notes when each question goes out and
 * when it comes back, and the loop judges from those times alone, never waiting. A
 * question out for AG_LIBVIRTD_TIMEOUT_MS, or questions failing for that long, make
 * libvirtd "not answering"; the record then says so (health.libvirtd_responsive false,
 * libvirtd_silent_ms, degraded_reason) and its facts are published as unknown. No second
 * probe is started while one is out (ag_lvwatch_due), so a hang costs one worker.
 *
 * 5 s: a healthy libvirtd answers the probe's ~10 RPCs in milliseconds, and 5 s is its
 * own keepalive interval (hv_libvirt.c); the coordinator's degrade_after_ms (2 s) comes
 * on top before a host is evacuated. */
#define AG_LIBVIRTD_TIMEOUT_MS 5000
/* Probe cadence: the facts change on the scale of minutes (AG_PLACE_FACTS_MS there,
 * 10 s); after a failure the next try comes sooner, so a libvirtd restart (~1-3 s) is
 * over before the timeout and never reads as a hang. */
#define AG_LIBVIRTD_RETRY_MS 2000

/* Times are monotonic ms (ag_now_ms: > 0 once the system is up); 0 means "none". The
 * three fields are written by the one worker that probes, read by the loop: use only
 * the functions below, which access them atomically. */
typedef struct ag_lvwatch {
    uint64_t asked_ms;      /* a question to libvirtd is out since, 0 none */
    uint64_t failing_ms;    /* the first of the failed questions in a row was asked, 0 none */
    uint64_t answered_ms;   /* libvirtd last answered, 0 never */
} ag_lvwatch;

/* Worker: a question (connect, or any hv_* call) goes out at now_ms. */
void ag_lvwatch_ask(ag_lvwatch *w, uint64_t now_ms);
/* Worker: it came back at now_ms, answered (ok) or failed (no connection, an RPC error:
 * libvirtd gave no usable answer). */
void ag_lvwatch_done(ag_lvwatch *w, bool ok, uint64_t now_ms);
/* Any thread: 1 when libvirtd is answering at now_ms, 0 when a question has been out for
 * timeout_ms or more or questions have failed for that long; *silent_ms (may be NULL) how
 * long it has not answered then, 0 when it answers. Before the first question: 1. */
int ag_lvwatch_judge(const ag_lvwatch *w, uint64_t now_ms, uint32_t timeout_ms, uint32_t *silent_ms);
/* Any thread: how long the question now out has been waiting at now_ms, 0 when none is
 * out. A caller about to ask libvirtd itself checks this first: past the timeout its
 * question would only wait behind the stuck one. */
uint64_t ag_lvwatch_waiting_ms(const ag_lvwatch *w, uint64_t now_ms);
/* Loop: may a probe be started at now_ms? Never while one is out (in_flight): a second
 * would only queue behind a stuck one and hold another worker. Otherwise interval_ms
 * after the last start (last_start_ms, 0 = never: at once), retry_ms while failing. */
bool ag_lvwatch_due(const ag_lvwatch *w, bool in_flight, uint64_t last_start_ms, uint64_t now_ms,
                    uint32_t interval_ms, uint32_t retry_ms);

/* Build and sign this host's record with the given version; *out is malloc'd.
 * material (may be NULL) receives a digest of what matters to other hosts — memory in
 * 64 MiB steps, load in 0.5 steps, storage latency in 50 ms steps, everything else
 * exact — so the caller re-publishes
 * only when it changed (a record rides gossip to every host, so noise costs bandwidth
 * cluster-wide). */
int ag_status_make(const ag_identity *id, uint64_t version, uint64_t wall_ms,
                   const ag_host_facts *facts, uint8_t **out, size_t *len, uint8_t material[16]);

/* Verify a SignedHostStatus claimed to be from subject; on success *st must be freed
 * with drover__host_status__free_unpacked. -EBADMSG (garbage), -ENOENT (subject not a
 * member), -EPERM (bad signature or host_id != subject). */
int ag_status_open(const ag_members *m, const uint8_t subject[AG_HOST_ID_LEN],
                   const uint8_t *buf, size_t len, Drover__HostStatus **st);

/* Does record st publish its hypervisor facts as unknown? Its facts_unknown flag, or, in
 * a record of an agent from before that flag, no libvirt version with libvirtd not
 * responsive (such agents published empty facts then). A receiver must then read none
 * of its versions, CPU names, storage ids, bridges or networks as the host's. */
bool ag_status_facts_unknown(const Drover__HostStatus *st);

#endif

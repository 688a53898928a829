/* hoststatus.h — this host's status record (proto/gossip.proto HostStatus), signed by
 * its identity key, and the check every receiver makes before believing one.
 *
 * Gossip relays records it cannot verify (the core is crypto-free), so the signature is
 * over the record itself, not the hop: whoever relays it, only its host could have made
 * it. Signed bytes: "drover-status-v1\0" || HostStatus encoding.
 */
#ifndef DROVER_HOSTSTATUS_H
#define DROVER_HOSTSTATUS_H

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
    int      libvirtd_responsive;
    int      admin_state;                    /* Drover__AdminState */
    /* From the hypervisor adapter (hv_host_facts), empty when libvirt is unreachable.
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

#endif

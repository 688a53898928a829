/* hv.h — the hypervisor adapter: drover's only view of libvirt.
 *
 * Two implementations keep one contract: hv_open_libvirt() talks to a real libvirtd
 * (hv_libvirt*.c), hv_open_fake() to an in-memory set of hosts for the simulator and unit
 * tests (hv_fake.c). Callers never see which one they hold.
 *
 * Threading. Every hv_* call may block (libvirt RPCs, a migration lasts seconds): call them
 * on worker threads (ag_loop_submit), never on the event loop. One hv_conn may be used by
 * several threads at once; hv_migrate_cancel() is meant to be called from another thread
 * while hv_migrate() runs. Event and progress callbacks run on an adapter thread (events)
 * or the migrating thread (progress): they must only copy data and hand it to the loop.
 *
 * Errors (LMDB style). Functions return 0 or a negative HV_E* code; when err is not NULL it
 * receives a sentence in plain words saying what failed and what to check (libvirt error
 * codes and messages are mapped in hv_errors.c). Out-parameters are written only on 0.
 *
 * Connection loss. When libvirtd goes away, calls fail with HV_ENOCONN and the adapter
 * reconnects on a later call, waiting reconnect_min_ms after the first failure and
 * doubling up to reconnect_max_ms; the event subscription is renewed on reconnect and an
 * HV_EV_RECONNECTED event tells the caller to re-read the inventory.
 *
 * Migration (libvirt's migration guide, "peer to peer" and "post-copy"). hv_migrate()
 * drives one move of one VM from this connection's host to dest_uri (as seen from the
 * source libvirtd):
 *   HV_MOVE_LIVE    VIR_MIGRATE_LIVE|PEER2PEER|PERSIST_DEST|UNDEFINE_SOURCE; disks must be
 *                   on shared storage (checked first, HV_ENOTSHARED otherwise);
 *   HV_MOVE_STORAGE the same plus NON_SHARED_DISK (copy-storage-all) for local disks;
 *   HV_MOVE_COLD    a shut-off VM: its definition moves (OFFLINE migration), disks must be
 *                   shared; a paused or managed-saved VM: managed-save image on shared
 *                   storage, definition moved, restored (started) on the destination.
 * A live move never stops the VM because it did not converge: auto-converge throttles the
 * vCPUs, and after postcopy_after_ms without completion the move switches to post-copy.
 */
#ifndef DROVER_HV_H
#define DROVER_HV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct hv_conn hv_conn;

/* Error codes. */
enum {
    HV_OK = 0,
    HV_EINVAL = -1,        /* bad argument (NULL, empty name, option out of range) */
    HV_ENOCONN = -2,       /* libvirtd unreachable; retried with back-off */
    HV_ENOTFOUND = -3,     /* no such VM */
    HV_EEXIST = -4,        /* VM already defined/running where it should not be */
    HV_EBRIDGE = -5,       /* destination lacks a bridge or network the VM uses */
    HV_ECPU = -6,          /* CPU model/features incompatible */
    HV_ENOTSHARED = -7,    /* a disk is not on shared storage (use HV_MOVE_STORAGE) */
    HV_EHOSTMEM = -8,      /* not enough free memory on the destination */
    HV_EUNMIGRATABLE = -9, /* passthrough device (hostdev, SR-IOV, mdev, USB, CD-ROM) */
    HV_ETIMEDOUT = -10,    /* the other host did not answer in time */
    HV_ECANCELED = -11,    /* hv_migrate_cancel() was called */
    HV_ESTATE = -12,       /* VM in a state the operation does not accept */
    HV_ENOMEM = -13,       /* allocation failed here */
    HV_EFAIL = -14,        /* anything else: the message carries libvirt's words */
};

#define HV_ERR_LEN 512
typedef struct hv_err {
    int code;
    char msg[HV_ERR_LEN];
} hv_err;

/* Sizes of the fixed inventory records. A VM with more disks/NICs than these is reported
 * with truncated lists and `truncated` set, never silently. */
#define HV_NAME_LEN 64
#define HV_PATH_LEN 256
#define HV_LIST_LEN 1024
#define HV_DISKS_MAX 8
#define HV_NICS_MAX 8

typedef enum hv_vm_state {
    HV_VM_OTHER = 0,
    HV_VM_RUNNING,
    HV_VM_PAUSED,
    HV_VM_SHUTOFF,
    HV_VM_CRASHED,
    HV_VM_SAVED,           /* shut off with a managed-save image: resumes where it was */
} hv_vm_state;

typedef struct hv_disk {
    char target[16];           /* vda */
    char path[HV_PATH_LEN];    /* file or block device; empty for network disks */
    char format[16];           /* qcow2, raw */
    bool readonly_cdrom;       /* a CD-ROM with media: unmigratable unless shared */
    bool shared;               /* on a filesystem libvirt treats as shared */
    char storage_id[HV_NAME_LEN]; /* stable id of the storage: "fs:<fsid>:<mountpoint>" */
    /* sizes from hv_vm_disk_sizes (virDomainGetBlockInfo); 0 = not read */
    uint64_t capacity_bytes;   /* the guest's view: what a copy may grow to */
    uint64_t allocation_bytes; /* written now: what a copy-storage migration moves */
} hv_disk;

typedef struct hv_nic {
    char bridge[HV_NAME_LEN];  /* type='bridge' */
    char network[HV_NAME_LEN]; /* type='network' */
    char mac[18];
} hv_nic;

typedef struct hv_vm {
    char name[HV_NAME_LEN];
    char uuid[37];
    hv_vm_state state;
    bool shut_down;            /* SHUTOFF because the guest (or an ACPI request) powered it
                                * off: not a crash, a destroy or a migration away */
    bool persistent;
    uint64_t mem_kib;
    unsigned vcpus;
    char cpu_mode[32];         /* host-passthrough, host-model, custom, or "" (default) */
    char cpu_model[HV_NAME_LEN];
    char cpu_features[HV_LIST_LEN]; /* comma list; required as is, disabled as -name */
    hv_disk disks[HV_DISKS_MAX];
    unsigned n_disks;
    hv_nic nics[HV_NICS_MAX];
    unsigned n_nics;
    char unmigratable[256];    /* comma list: hostdev, sriov, mdev, usb, cdrom; "" if none */
    bool truncated;
} hv_vm;

typedef struct hv_host {
    char hostname[HV_NAME_LEN];
    char host_uuid[37];
    char cpu_arch[16];
    char cpu_vendor[32];
    char cpu_model[HV_NAME_LEN];
    char cpu_features[HV_LIST_LEN];
    /* what QEMU/KVM can give a guest here (domcapabilities host-model): the model and
     * features placement should compare VMs against */
    char cpu_host_model[HV_NAME_LEN];
    char cpu_host_features[HV_LIST_LEN];
    uint64_t mem_total_kib;    /* all NUMA cells (virNodeGetMemoryStats ALL_CELLS) */
    uint64_t mem_free_kib;     /* free + buffers + cached, as the kernel can give it back */
    unsigned cpus;
    unsigned long libvirt_version; /* major*1000000 + minor*1000 + release */
    unsigned long qemu_version;
    char storage_ids[HV_LIST_LEN]; /* comma list of shared storage ids (from pools) */
    char bridges[HV_LIST_LEN];     /* comma list of bridges */
    char networks[HV_LIST_LEN];    /* comma list of active libvirt networks */
    char migration_addr[HV_NAME_LEN];
    /* free space of the largest active local (non-shared) storage pool, where libvirt
     * pre-creates the disks of an incoming copy-storage migration; known false when
     * libvirt has no such pool */
    uint64_t local_free_mib;
    bool local_free_known;
} hv_host;

/* Adapter knobs; hv_config_default() fills each with the value its comment justifies. */
typedef struct hv_config {
    /* 250 ms: a restarted libvirtd listens within a second; retrying sooner wastes RPCs */
    uint32_t reconnect_min_ms;
    /* 10 s: a longer gap delays noticing a recovered host more than it saves */
    uint32_t reconnect_max_ms;
    /* 15 s: connect to a peer libvirtd; with tcp_syn_retries=2 a dead peer fails in ~7 s,
     * with the kernel default it would hang ~127 s (LAB-NOTES 9) */
    uint32_t peer_timeout_ms;
} hv_config;

void hv_config_default(hv_config *cfg);

typedef enum hv_event_kind {
    HV_EV_DEFINED, HV_EV_UNDEFINED, HV_EV_STARTED, HV_EV_SUSPENDED, HV_EV_RESUMED,
    HV_EV_STOPPED, HV_EV_SHUTDOWN, HV_EV_PMSUSPENDED, HV_EV_CRASHED,
    HV_EV_RECONNECTED,   /* vm_name "" : re-read the whole inventory */
    HV_EV_DISCONNECTED,  /* vm_name "" : libvirtd went away */
} hv_event_kind;

/* Called on an adapter thread; detail is libvirt's detail code (or 0). */
typedef void (*hv_event_fn)(void *ctx, hv_event_kind kind, const char *vm_name,
                            const char *vm_uuid, int detail);

/* Open a libvirt connection (uri as in config [libvirt] uri). cfg NULL = defaults.
 * A URI naming another host is opened on a helper thread and given up after
 * peer_timeout_ms (libvirt has no connect timeout).
 * Errors: HV_EINVAL, HV_ENOCONN (libvirtd not reachable now), HV_ETIMEDOUT (the other
 * host did not answer in time), HV_ENOMEM. */
int hv_open_libvirt(const char *uri, const hv_config *cfg, hv_conn **out, hv_err *err);
/* Closes and frees; no callback runs after it returns. NULL is a no-op. */
void hv_close(hv_conn *c);

/* Subscribe to lifecycle events (one subscriber per connection; fn NULL unsubscribes). */
int hv_events(hv_conn *c, hv_event_fn fn, void *ctx, hv_err *err);

/* Inventory: up to max VMs (all defined and running) into vms, count in *n.
 * Errors: HV_ENOCONN, HV_ENOMEM. */
int hv_vm_list(hv_conn *c, hv_vm *vms, size_t max, size_t *n, hv_err *err);
/* One VM by name. Errors: HV_ENOTFOUND, HV_ENOCONN. */
int hv_vm_get(hv_conn *c, const char *name, hv_vm *vm, hv_err *err);
/* The VM's persistent definition (inactive XML, as virsh dumpxml --inactive gives it),
 * malloc'd into *out: what another host defines to start it after a failure.
 * Errors: HV_ENOTFOUND, HV_ENOCONN, HV_EFAIL (not offered by this adapter). */
int hv_vm_xml(hv_conn *c, const char *name, char **out, hv_err *err);
/* Host facts. Errors: HV_ENOCONN. */
int hv_host_facts(hv_conn *c, hv_host *h, hv_err *err);
/* Fill capacity_bytes / allocation_bytes of vm's disks (a record from hv_vm_get or
 * hv_vm_list on the same host) from libvirt's block info; a disk libvirt cannot size
 * (no media, a network disk of a stopped VM) keeps 0. The fake's records carry the sizes
 * they were put with, so there this only returns 0.
 * Errors: HV_ENOTFOUND, HV_ENOCONN, HV_EINVAL. */
int hv_vm_disk_sizes(hv_conn *c, hv_vm *vm, hv_err *err);

/* Lifecycle. define takes a full domain XML; shutdown asks the guest (ACPI), destroy
 * pulls the plug; undefine also removes a managed-save image. Errors: HV_ENOTFOUND,
 * HV_EEXIST (define of a name with another UUID), HV_ESTATE, HV_EBRIDGE (start),
 * HV_ENOCONN, HV_EFAIL. */
int hv_vm_define(hv_conn *c, const char *xml, hv_err *err);
int hv_vm_start(hv_conn *c, const char *name, hv_err *err);
int hv_vm_shutdown(hv_conn *c, const char *name, hv_err *err);
int hv_vm_destroy(hv_conn *c, const char *name, hv_err *err);
int hv_vm_undefine(hv_conn *c, const char *name, hv_err *err);
/* Suspend to a managed-save image (the VM becomes HV_VM_SAVED). */
int hv_vm_managed_save(hv_conn *c, const char *name, hv_err *err);

typedef enum hv_move_mode { HV_MOVE_LIVE = 0, HV_MOVE_STORAGE, HV_MOVE_COLD } hv_move_mode;

typedef struct hv_progress {
    unsigned percent;           /* of memory (and disk, for storage moves) transferred */
    uint64_t processed_bytes;
    uint64_t remaining_bytes;
    uint64_t bytes_per_s;
    uint64_t elapsed_ms;
    bool postcopy;              /* the switch to post-copy has happened */
} hv_progress;

typedef void (*hv_progress_fn)(void *ctx, const hv_progress *p);

typedef struct hv_migrate_opts {
    hv_move_mode mode;
    uint32_t max_downtime_ms;       /* 0 = libvirt's default (300 ms) */
    uint32_t bandwidth_mibps;       /* 0 = unlimited */
    bool compress;                  /* XBZRLE page deltas; not with parallel (HV_EINVAL) */
    uint32_t parallel_connections;  /* 0/1 = one stream; >1 = parallel migration */
    bool auto_converge;             /* throttle vCPUs when dirtying outpaces the link */
    /* switch to post-copy after this long in pre-copy; 0 = never (then auto_converge
     * alone must make it converge) */
    uint32_t postcopy_after_ms;
    uint32_t progress_interval_ms;  /* 0 = 200 ms */
    /* HV_MOVE_COLD of a paused or managed-saved VM: a directory on shared storage (same
     * path on both hosts) for its memory image; it is restored paused on the destination
     * and the image removed. Required for those states, ignored otherwise. */
    const char *save_dir;
    hv_progress_fn progress;        /* may be NULL */
    void *progress_ctx;
} hv_migrate_opts;

void hv_migrate_opts_default(hv_migrate_opts *o);

typedef struct hv_migrate_result {
    uint64_t wall_ms;       /* hv_migrate's own duration */
    uint64_t job_ms;        /* libvirt's job time */
    uint64_t downtime_ms;   /* VM paused time (0 when unknown, e.g. cold moves) */
    uint64_t bytes;         /* memory + disk data sent */
    bool postcopy;
} hv_migrate_result;

/* Move VM `name` from this connection's host to dest_uri (libvirt URI reachable from the
 * SOURCE libvirtd, e.g. qemu+tcp://10.77.0.2/system). dest may be NULL; when given, it is
 * a connection to the same destination used for pre-checks (bridges/networks present, CPU
 * compatible, enough free memory) and for the destination-side job statistics.
 * On 0 the VM runs (or is defined, for a cold move of a stopped VM) on the destination
 * and is gone from the source. On error the VM is left on the source as it was.
 * Errors: HV_EINVAL, HV_ENOTFOUND, HV_ESTATE, HV_EBRIDGE, HV_ECPU, HV_ENOTSHARED,
 * HV_EHOSTMEM, HV_EUNMIGRATABLE, HV_ETIMEDOUT, HV_ECANCELED, HV_ENOCONN, HV_EFAIL. */
int hv_migrate(hv_conn *c, const char *name, const char *dest_uri, hv_conn *dest,
               const hv_migrate_opts *o, hv_migrate_result *res, hv_err *err);
/* Ask a running hv_migrate of `name` on c to stop (virDomainAbortJob); it then returns
 * HV_ECANCELED with the VM still on the source. Errors: HV_ENOTFOUND (no such move). */
int hv_migrate_cancel(hv_conn *c, const char *name, hv_err *err);

/* CPU compatibility (virConnectCompareHypervisorCPU): can a VM with the CPU of `vm` run on
 * the host behind c? *ok false comes with the reason in err->msg. */
int hv_cpu_compatible(hv_conn *c, const hv_vm *vm, bool *ok, hv_err *err);
/* The CPU model every host in xmls (host CPU definitions from hv_host_cpu_xml) can run
 * (virConnectBaselineHypervisorCPU), as a <cpu> XML string to free() in *out. */
int hv_cpu_baseline(hv_conn *c, const char **cpu_xmls, size_t n, char **out, hv_err *err);
/* This host's CPU as <cpu> XML (from capabilities), free() it. */
int hv_host_cpu_xml(hv_conn *c, char **out, hv_err *err);

/* Words for a code ("bridge missing", ...). Never NULL. */
const char *hv_strerror(int code);
const char *hv_state_name(hv_vm_state s);

/* ---- fake implementation (hv_fake.c) for the simulator and unit tests ----
 * A world holds hosts by name; each hv_conn opened on a host name sees that host. Moves
 * are instant and obey the same checks (bridges, shared storage, memory, unmigratable
 * devices, CPU features as a subset test). Not thread-safe across worlds; one mutex per
 * world makes it safe within one. */
typedef struct hv_fake_world hv_fake_world;
hv_fake_world *hv_fake_world_new(void);
void hv_fake_world_free(hv_fake_world *w);
/* Add a host with its facts (hostname is the key; uri "fake://<hostname>"). */
int hv_fake_add_host(hv_fake_world *w, const hv_host *facts);
/* Make a host's libvirtd unreachable (down=true) or back. */
int hv_fake_set_down(hv_fake_world *w, const char *hostname, bool down);
int hv_open_fake(hv_fake_world *w, const char *hostname, hv_conn **out, hv_err *err);
/* Put a VM on a host directly (bypasses define's XML). */
int hv_fake_put_vm(hv_fake_world *w, const char *hostname, const hv_vm *vm);

#endif /* DROVER_HV_H */

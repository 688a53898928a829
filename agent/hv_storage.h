/* hv_storage.h — is a path on storage every host sees, and which storage is it. */
#ifndef DROVER_HV_STORAGE_H
#define DROVER_HV_STORAGE_H

#include <stdbool.h>
#include <stddef.h>

/* Looks the path's mount up in /proc/self/mountinfo (longest mount point prefix). shared is
 * true for cluster/network filesystems (the set libvirt treats as shared: NFS, GlusterFS,
 * CephFS, GFS2, OCFS2, Lustre, GPFS, BeeGFS, also through FUSE); id is "<fstype>:<source>",
 * the same string on every host that mounts the same export. A path whose mount cannot be
 * read is reported local with an empty id. */
void hv__storage_of(const char *path, bool *shared, char *id, size_t id_cap);
/* Comma list of the ids of all shared filesystems mounted here. */
void hv__storage_shared_ids(char *buf, size_t cap);

#endif

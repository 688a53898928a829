/* hv_storage.c — deciding whether a disk path is on shared storage.
 *
 * libvirt decides "safe to migrate without copying" by the filesystem type under the
 * disk (virFileIsSharedFS); drover must predict that answer before asking, and must name
 * the storage so placement can tell which hosts see it. Both come from the mount table of
 * the process, so the answer is right where the agent runs: on the host itself. The lab's
 * shared directory is a bindfs mount typed fuse.glusterfs for exactly this reason.
 */
#include <stdio.h>
#include <string.h>

#include "hv_int.h"
#include "hv_storage.h"

static const char *const shared_fs[] = {
    "nfs", "nfs4", "glusterfs", "fuse.glusterfs", "ceph", "fuse.ceph", "fuse.ceph-fuse",
    "gfs2", "ocfs2", "lustre", "gpfs", "beegfs", "fuse.quobyte", "cifs", "smb3",
};

static bool fs_is_shared(const char *fstype)
{
    for (size_t i = 0; i < sizeof shared_fs / sizeof shared_fs[0]; i++)
        if (!strcmp(fstype, shared_fs[i]))
            return true;
    return false;
}

/* One mountinfo line -> mount point, fs type, source. False if malformed. */
static bool parse_line(char *line, char **mnt, char **fstype, char **source)
{
    char *save = NULL, *tok;
    int field = 0;
    bool after_dash = false;
    int after = 0;
    *mnt = *fstype = *source = NULL;
    for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        if (after_dash) {
            if (after == 0)
                *fstype = tok;
            else if (after == 1)
                *source = tok;
            after++;
        } else if (!strcmp(tok, "-")) {
            after_dash = true;
        } else if (field == 4) {
            *mnt = tok;
        }
        field++;
    }
    return *mnt && *fstype && *source;
}

static bool under(const char *path, const char *mnt, size_t *len)
{
    size_t n = strlen(mnt);
    if (!strcmp(mnt, "/")) {
        *len = 1;
        return path[0] == '/';
    }
    if (strncmp(path, mnt, n) != 0 || (path[n] != '/' && path[n] != '\0'))
        return false;
    *len = n;
    return true;
}

void hv__storage_of(const char *path, bool *shared, char *id, size_t id_cap)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[1024];
    size_t best = 0;
    *shared = false;
    hv__copy(id, id_cap, "");
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f)) {
        char *mnt, *fstype, *source;
        size_t len;
        if (!parse_line(line, &mnt, &fstype, &source) || !under(path, mnt, &len) || len < best)
            continue;
        best = len;   /* later mounts over the same point win, as in the kernel */
        *shared = fs_is_shared(fstype);
        if (*shared)
            snprintf(id, id_cap, "%s:%s", fstype, source);
        else
            hv__copy(id, id_cap, "");
    }
    fclose(f);
}

void hv__storage_shared_ids(char *buf, size_t cap)
{
    FILE *f = fopen("/proc/self/mountinfo", "r");
    char line[1024], id[HV_NAME_LEN];
    if (cap)
        buf[0] = '\0';
    if (f == NULL)
        return;
    while (fgets(line, sizeof line, f)) {
        char *mnt, *fstype, *source;
        if (parse_line(line, &mnt, &fstype, &source) && fs_is_shared(fstype)) {
            snprintf(id, sizeof id, "%s:%s", fstype, source);
            hv__list_add(buf, cap, id);
        }
    }
    fclose(f);
}

/* fsutil.h — the few file operations the agent needs to be crash-safe. */
#ifndef DROVER_FSUTIL_H
#define DROVER_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p with mode for directories it creates. 0 or -errno. */
int ag_mkdir_p(const char *path, mode_t mode);

/* Write data to path atomically: temp file in the same directory, fsync, rename, fsync
 * of the directory, so a crash leaves either the old or the new file. With excl, fails
 * with -EEXIST if path exists. 0 or -errno. */
int ag_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode, int excl);

/* Read a whole file of at most max bytes into a malloc'd buffer (NUL-terminated for
 * convenience). -EFBIG when larger. 0 or -errno. */
int ag_read_file(const char *path, size_t max, char **out, size_t *len);

#endif

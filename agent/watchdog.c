/* watchdog.c — /dev/watchdog through the kernel's watchdog API (linux/watchdog.h): open
 * arms, WDIOC_SETTIMEOUT/GETTIMEOUT in seconds, any write pets, a 'V' before close
 * disarms ("magic close"). */
#include <errno.h>
#include <fcntl.h>
#include <linux/watchdog.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "watchdog.h"

void ag_wd_init(ag_watchdog *w)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
}

int ag_wd_open(ag_watchdog *w, const char *path, int64_t timeout_ms, char *err, size_t errlen)
{
    ag_wd_init(w);
    if (timeout_ms < 1000 || timeout_ms % 1000) {
        snprintf(err, errlen, "watchdog timeout %lld ms is not whole seconds", (long long)timeout_ms);
        return -1;
    }
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "[ha] watchdog = %s: cannot open it (%s); load a watchdog driver "
                 "(e.g. `modprobe softdog`) or leave watchdog empty", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISCHR(sb.st_mode)) {
        w->fd = fd;
        w->timeout_ms = timeout_ms;
        ag_warn("watchdog: %s is not a character device: petting is recorded there but "
                "nothing resets this host if the agent hangs (fine for tests only)", path);
        return 0;
    }
    int secs = (int)(timeout_ms / 1000);
    int got = 0;
    if (ioctl(fd, WDIOC_SETTIMEOUT, &secs) != 0 || ioctl(fd, WDIOC_GETTIMEOUT, &got) != 0) {
        int e = errno;
        (void)!write(fd, "V", 1);
        close(fd);
        snprintf(err, errlen, "[ha] watchdog = %s does not take a timeout of %d s (%s); "
                 "use a device whose driver supports WDIOC_SETTIMEOUT", path, (int)(timeout_ms / 1000),
                 strerror(e));
        return -1;
    }
    if (got <= 0 || (int64_t)got * 1000 > timeout_ms) {
        (void)!write(fd, "V", 1);
        close(fd);
        snprintf(err, errlen, "[ha] watchdog = %s set its timeout to %d s when %lld s was asked: "
                 "a longer timeout would reset a hung host after its lease ended; set "
                 "[ha] watchdog_timeout to %d s or more and fence_timeout to match", path, got,
                 (long long)(timeout_ms / 1000), got);
        return -1;
    }
    w->fd = fd;
    w->device = true;
    w->timeout_ms = (int64_t)got * 1000;
    ag_info("watchdog: %s armed, resets this host %d s after the agent stops petting it", path, got);
    return 0;
}

void ag_wd_pet(ag_watchdog *w)
{
    if (w->fd < 0)
        return;
    /* any byte but 'V' is a keep-alive */
    if (write(w->fd, "k", 1) == 1)
        w->pets++;
}

void ag_wd_close(ag_watchdog *w, bool disarm)
{
    if (w->fd < 0)
        return;
    if (disarm)
        (void)!write(w->fd, "V", 1);
    close(w->fd);
    w->fd = -1;
}

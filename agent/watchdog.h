/* watchdog.h — the host's watchdog device (/dev/watchdog: a hardware timer, or the
 * softdog module): reset the host unless petted within its timeout. The HA driver decides
 * when petting is allowed (hac_fence_may_pet); this module only talks to the device. */
#ifndef DROVER_WATCHDOG_H
#define DROVER_WATCHDOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ag_watchdog {
    int fd;               /* -1: none configured */
    bool device;          /* a real watchdog (the timeout ioctl took) */
    int64_t timeout_ms;   /* what the device confirmed */
    uint64_t pets;
} ag_watchdog;

/* No watchdog: fd -1. */
void ag_wd_init(ag_watchdog *w);
/* Open PATH and set its timeout to TIMEOUT_MS (whole seconds: the kernel's unit). Opening
 * arms it. A character device that will not take the timeout, or confirms a longer one,
 * is an error (the lease's safety depends on it: closed again, disarmed). A path that is
 * not a character device (a file or FIFO, for tests) is accepted with device = false: it
 * records the petting and resets nothing. 0, or -1 with ERR saying what to do. */
int ag_wd_open(ag_watchdog *w, const char *path, int64_t timeout_ms, char *err, size_t errlen);
/* One keep-alive. */
void ag_wd_pet(ag_watchdog *w);
/* Close. DISARM writes the magic 'V' first so the device stops (unless the kernel was
 * built with nowayout); without it the device stays armed and resets the host when its
 * timeout runs out. */
void ag_wd_close(ag_watchdog *w, bool disarm);

#endif

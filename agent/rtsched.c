/* rtsched.c — realtime scheduling and locked memory for the agent (rtsched.h). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "rtsched.h"

#ifndef MCL_ONFAULT
#define MCL_ONFAULT 4
#endif

#if defined(__SANITIZE_ADDRESS__)
#define AG_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define AG_SANITIZED 1
#endif
#endif

static void lock_memory(void)
{
#ifdef AG_SANITIZED
    ag_info("memory not locked: sanitizer build");
#else
    if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) != 0)
        ag_warn("cannot lock the agent's memory (mlockall: %s): paging may stall the lease "
                "path under memory pressure; run as root or grant CAP_IPC_LOCK and "
                "LimitMEMLOCK=infinity, or set [agent] lock_memory = no", strerror(errno));
    else
        ag_info("memory locked (mlockall, on fault)");
#endif
}

void ag_sched_apply(int64_t rt_priority, bool lock)
{
    if (lock)
        lock_memory();
    if (rt_priority <= 0)
        return;
    struct sched_param sp = {.sched_priority = (int)rt_priority};
    int max = sched_get_priority_max(SCHED_RR);
    if (max > 0 && sp.sched_priority > max)
        sp.sched_priority = max;
    int rc = pthread_setschedparam(pthread_self(), SCHED_RR, &sp);
    if (rc != 0)
        ag_warn("cannot run the agent's loop at SCHED_RR priority %d (%s): a saturated host "
                "may delay lease renewals; grant CAP_SYS_NICE (LimitRTPRIO=%d in the unit) or "
                "set [agent] rt_priority = 0", sp.sched_priority, strerror(rc), sp.sched_priority);
    else
        ag_info("event loop at SCHED_RR priority %d", sp.sched_priority);
}

/* rtsched.h — how the agent keeps its lease path running on a saturated host: SCHED_RR for
 * the calling thread (and the threads it creates afterwards: libzmq's I/O threads) and
 * mlockall, as corosync does by default. */
#ifndef DROVER_RTSCHED_H
#define DROVER_RTSCHED_H

#include <stdbool.h>
#include <stdint.h>

/* Give the calling thread SCHED_RR at RT_PRIORITY (1..99; 0 leaves scheduling alone) and,
 * when LOCK, lock current and future memory as it is touched (MCL_ONFAULT: nothing is
 * prefaulted, so LMDB's map and thread stacks cost only what is used). Threads created
 * before the call keep their scheduling. Never fatal: what could not be had is logged
 * with what to grant (CAP_SYS_NICE, CAP_IPC_LOCK, LimitRTPRIO=, LimitMEMLOCK=). Sanitizer
 * builds skip the lock (their shadow memory is terabytes of address space). */
void ag_sched_apply(int64_t rt_priority, bool lock);

#endif

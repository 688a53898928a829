/* restore.c — the pure decisions of restore.h: judging a proof, pacing notices. */
#include "restore.h"

#include <stdio.h>

ag_restore_verdict ag_restore_judge(uint64_t own_epoch, uint64_t own_seq,
                                    uint64_t seen_epoch, uint64_t seen_seq)
{
    if (seen_epoch > own_epoch)
        return AG_RESTORE_STALE;
    /* Same epoch: the state was restored from a copy taken just before the previous
     * start, so both starts bumped it to the same value; the peer saw that start's
     * later messages. */
    if (seen_epoch == own_epoch && seen_seq > own_seq)
        return AG_RESTORE_STALE;
    return AG_RESTORE_BENIGN;
}

ag_notice_action ag_restore_notice(int rc, ag_peer *p, uint64_t now_ms)
{
    if (rc != AG_ENV_E_OLD_EPOCH && rc != AG_ENV_E_REPLAY && rc != AG_ENV_E_TOO_OLD)
        return AG_NOTICE_NONE;
    if (!p || !p->proof_len)
        return AG_NOTICE_NONE;
    if (p->notice_ms && now_ms < p->notice_ms + AG_RESTORE_NOTICE_MS)
        return AG_NOTICE_HELD;
    p->notice_ms = now_ms ? now_ms : 1;
    return AG_NOTICE_SEND;
}

int ag_restore_message(char *buf, size_t len, const char *name, const char *state_dir,
                       uint64_t own_epoch, uint64_t seen_epoch, uint64_t seen_seq,
                       const char *seen_by)
{
    return snprintf(buf, len,
        "this host's state dir %s (epoch %llu) is older than what the cluster has seen from "
        "this host (epoch %llu, message %llu, shown by %s): it was restored from a backup or copied, and "
        "the Raft term and votes in it are stale. This agent takes no part in the cluster "
        "and leaves the VMs here as they are. Remove this host from the cluster (`drover "
        "members remove %s` on another host), move the state dir away, and join again "
        "(`drover init --join`, then `drover join` with a new token)",
        state_dir, (unsigned long long)own_epoch, (unsigned long long)seen_epoch,
        (unsigned long long)seen_seq, seen_by, name);
}

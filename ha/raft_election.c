/* raft_election.c — leader election (paper §5.2), pre-vote (diss. §9.6), check-quorum
 * and the leader lease on votes (diss. §6.2, §4.2.3), leadership transfer (diss. §3.10).
 *
 * Why pre-vote: a server cut off from the leader would otherwise bump its term on every
 * timeout and, when it returns, force the healthy leader to step down. With pre-vote it
 * first asks "would you vote for me at term+1?" without changing anyone's term, and only
 * a server that could win actually starts an election.
 *
 * Why the lease: pre-vote is not enough against a server removed from the
 * configuration or one whose messages reach only some peers (asymmetric partitions).
 * A server that heard from a leader within the minimum election timeout ignores
 * (pre-)vote requests entirely — it neither grants nor adopts the higher term. This is
 * only safe together with check-quorum: the leader itself steps down when it has not
 * heard from a majority within an election timeout, so a lease cannot outlive the
 * leader's real support. Leadership transfer sets `transfer` on its RequestVote to skip
 * the lease on purpose.
 *
 * Election timeouts are drawn uniformly from [eto, 2*eto) with the handle's own PRNG,
 * so split votes resolve quickly (paper §5.2) and the simulator replays exactly.
 *
 * Only voters campaign, and only below RAFT_TERM_MAX. Vote answers reach these
 * functions only from voters; vote requests from anyone in a configuration, and from a
 * non-voter only when pre-vote or at most one term up (raft.c, "Who may send what").
 */
#include "raft_internal.h"

void raft__timer_reset(struct raft *r)
{
    r->election_start = r->now;
    r->election_rand = r->o.election_timeout_ms + raft__rand(r) % r->o.election_timeout_ms;
}

static void set_role(struct raft *r, enum raft_role role)
{
    if (r->role != role)
        r->flags |= RAFT_UPD_ROLE;
    r->role = role;
}

void raft__become_follower(struct raft *r, raft_term term, raft_id leader)
{
    if (term > r->term) {
        r->term = term;
        r->vote = 0;
        r->flags |= RAFT_UPD_HARD_STATE;
    }
    set_role(r, RAFT_FOLLOWER);
    r->leader = leader;
    r->transfer_target = 0;
    r->n_prog = 0;
    raft__timer_reset(r);
}

static bool log_up_to_date(const struct raft *r, raft_term last_term, raft_index last_index)
{
    /* paper §5.4.1: compare the terms of the last entries, then the lengths */
    raft_term my = raft__last_term(r);
    return last_term > my || (last_term == my && last_index >= raft__last_index(r));
}

static bool grant(struct raft *r, raft_id from)
{
    for (unsigned i = 0; i < r->n_granted; i++)
        if (r->granted[i] == from)
            return false;
    if (!raft__is_voter(&r->conf, from) || r->n_granted == RAFT_SERVERS_MAX)
        return false;
    r->granted[r->n_granted++] = from;
    return r->n_granted >= raft__quorum(r);
}

/* RequestVote for term t to every other voter of our configuration. */
static void request_votes(struct raft *r, raft_term t, bool pre_vote, bool transfer)
{
    for (unsigned i = 0; i < r->conf.n; i++) {
        const struct raft_server *s = &r->conf.servers[i];
        if (s->id == r->o.id || s->role != RAFT_VOTER)
            continue;
        struct raft_message *m = raft__msg(r, RAFT_MSG_REQUEST_VOTE, s->id);
        if (!m)
            continue;
        m->term = t;
        m->index = raft__last_index(r);
        m->log_term = raft__last_term(r);
        m->pre_vote = pre_vote;
        m->transfer = transfer;
    }
}

void raft__start_election(struct raft *r, bool pre_vote, bool transfer)
{
    if (r->term >= RAFT_TERM_MAX || !raft__is_voter(&r->conf, r->o.id)) {
        /* At the bound the next term would be refused by everyone (or wrap): stay a
         * follower and count it; only a term loaded from an older drover's disk or a
         * cluster that really ran 2^62 elections gets here. Learners never campaign
         * (diss. §4.2.1), even when a pre-vote answer or TimeoutNow arrives after a
         * demotion. */
        if (r->term >= RAFT_TERM_MAX)
            r->stats.campaigns_refused++;
        set_role(r, RAFT_FOLLOWER);
        raft__timer_reset(r);
        return;
    }
    r->n_granted = 0;
    r->leader = 0;
    r->n_prog = 0;
    raft_term t = r->term + 1;
    if (pre_vote) {
        set_role(r, RAFT_PRE_CANDIDATE);
    } else {
        set_role(r, RAFT_CANDIDATE);
        r->term = t;
        r->vote = r->o.id;
        r->flags |= RAFT_UPD_HARD_STATE;
    }
    raft__timer_reset(r);
    bool won = grant(r, r->o.id);
    request_votes(r, t, pre_vote, transfer);
    if (won) {
        if (pre_vote)
            raft__start_election(r, false, transfer);
        else
            raft__become_leader(r);
    }
}

void raft__tick_election(struct raft *r)
{
    if (r->now - r->election_start < r->election_rand)
        return;
    if (!raft__is_voter(&r->conf, r->o.id)) {
        /* Learners and removed servers never campaign (diss. §4.2.1). A learner that
         * heard no leader it accepts for an election timeout asks the voters it knows
         * who leads: a pre-vote request, answered without granting or changing
         * anything, naming their leader (raft.c, rule 6). */
        raft__timer_reset(r);
        if (r->term < RAFT_TERM_MAX)
            request_votes(r, r->term + 1, true, false);
        return;
    }
    raft__start_election(r, r->o.pre_vote, false);
}

static bool in_lease(const struct raft *r)
{
    if (!r->o.check_quorum)
        return false;
    if (r->role == RAFT_LEADER)
        return true;
    return r->leader != 0 && r->now - r->leader_contact < r->o.election_timeout_ms;
}

/* Every answer names the leader we follow (hint), so a server whose configuration is
 * behind learns whom to accept (raft.c, rule 6). */
static void reply_vote(struct raft *r, const struct raft_message *m, raft_term term, bool ok,
                       raft_id leader)
{
    struct raft_message *reply = raft__msg(r, RAFT_MSG_REQUEST_VOTE_RESULT, m->from);
    if (!reply)
        return;
    reply->term = term;
    reply->reject = !ok;
    reply->pre_vote = m->pre_vote;
    reply->hint = leader;
}

void raft__recv_request_vote(struct raft *r, const struct raft_message *m)
{
    raft_id leader = r->leader;
    if (m->term > r->term && in_lease(r) && !m->transfer) {
        /* diss. §4.2.3: do not let a disruptive server depose a live leader. Refuse
         * without changing anything. */
        reply_vote(r, m, r->term, false, leader);
        return;
    }
    if (m->pre_vote) {
        /* Answer as we would at term+1 without changing any state (diss. §9.6). */
        bool ok = m->term > r->term && log_up_to_date(r, m->log_term, m->index);
        reply_vote(r, m, ok ? m->term : r->term, ok, ok ? 0 : leader);
        return;
    }
    if (m->term > r->term) {
        raft__become_follower(r, m->term, 0);
        leader = 0; /* the leader we followed led an older term than the answer's */
    }
    bool ok = m->term == r->term && (r->vote == 0 || r->vote == m->from) &&
              log_up_to_date(r, m->log_term, m->index) && r->role != RAFT_LEADER;
    if (ok) {
        if (r->vote != m->from) {
            r->vote = m->from;
            r->flags |= RAFT_UPD_HARD_STATE; /* must be durable before the reply goes */
        }
        raft__timer_reset(r);
    }
    reply_vote(r, m, r->term, ok, leader);
}

void raft__recv_request_vote_result(struct raft *r, const struct raft_message *m)
{
    /* a voter of ours names a leader our configuration does not know as a voter */
    if (m->hint && m->hint != r->o.id && raft__sender_role(r, m->hint) != RAFT_VOTER) {
        r->vouched = m->hint;
        r->vouched_term = m->term;
    }
    if (m->pre_vote) {
        /* a refusal carries the voter's real term: a newer one is adopted in any role
         * (paper §5.1), which is how a learner asking who leads catches up on terms */
        if (r->role != RAFT_PRE_CANDIDATE) {
            if (m->reject && m->term > r->term)
                raft__become_follower(r, m->term, 0);
            return;
        }
        if (!m->reject && m->term == r->term + 1) {
            if (grant(r, m->from))
                raft__start_election(r, false, false);
        } else if (m->reject && m->term > r->term) {
            raft__become_follower(r, m->term, 0);
        }
        return;
    }
    if (m->term > r->term) {
        raft__become_follower(r, m->term, 0);
        return;
    }
    if (r->role == RAFT_CANDIDATE && m->term == r->term && !m->reject && grant(r, m->from))
        raft__become_leader(r);
}

void raft__recv_timeout_now(struct raft *r, const struct raft_message *m)
{
    /* diss. §3.10: the old leader found us caught up and asks us to campaign now */
    if (m->term != r->term || r->role == RAFT_LEADER || !raft__is_voter(&r->conf, r->o.id))
        return;
    raft__start_election(r, false, true);
}

void raft__check_quorum(struct raft *r)
{
    if (r->now - r->quorum_check_last < r->o.election_timeout_ms)
        return;
    r->quorum_check_last = r->now;
    if (r->transfer_target && r->now - r->transfer_start >= r->o.election_timeout_ms)
        r->transfer_target = 0; /* transfer did not happen; resume normal service */
    if (!r->o.check_quorum)
        return;
    unsigned active = raft__is_voter(&r->conf, r->o.id) ? 1 : 0;
    for (unsigned i = 0; i < r->n_prog; i++) {
        struct raft__progress *p = &r->prog[i];
        if (p->recent_active && raft__is_voter(&r->conf, p->id))
            active++;
        p->recent_active = false;
    }
    if (active < raft__quorum(r))
        raft__become_follower(r, r->term, 0);
}

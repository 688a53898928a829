/* autopilot: each rule, in order, on small configurations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "autopilot.h"

static struct raft_configuration conf_of(const char *roles)   /* "VVL": ids 1.. */
{
    struct raft_configuration c = {0};
    for (unsigned i = 0; roles[i]; i++)
        c.servers[c.n++] = (struct raft_server){i + 1, (uint8_t)(roles[i] == 'V' ? RAFT_VOTER : RAFT_LEARNER)};
    return c;
}

static void members_of(struct ha_ap_member *m, size_t n)
{
    memset(m, 0, n * sizeof *m);
    for (size_t i = 0; i < n; i++) {
        m[i].id = i + 1;
        m[i].alive = 1;
    }
}

static void steady_state_no_change(void **s)
{
    (void)s;
    struct raft_configuration c = conf_of("VVVLL");
    struct ha_ap_member m[5];
    members_of(m, 5);
    struct ha_ap_change ch;
    assert_int_equal(ha_autopilot(&c, 1, m, 5, 3, 30000, 100000, &ch), 0);
}

static void removed_member_leaves_config_first(void **s)
{
    (void)s;
    struct raft_configuration c = conf_of("VVVL");
    struct ha_ap_member m[4];
    members_of(m, 4);
    m[2] = m[3];      /* member 3 gone, 4 kept */
    m[3].id = 9;      /* and a new member 9 */
    struct ha_ap_change ch;
    assert_int_equal(ha_autopilot(&c, 1, m, 4, 3, 30000, 0, &ch), 1);
    assert_int_equal(ch.id, 3);
    assert_int_equal(ch.role, 0);
}

static void new_member_added_as_learner(void **s)
{
    (void)s;
    struct raft_configuration c = conf_of("VVV");
    struct ha_ap_member m[4];
    members_of(m, 4);
    struct ha_ap_change ch;
    assert_int_equal(ha_autopilot(&c, 1, m, 4, 3, 30000, 0, &ch), 1);
    assert_int_equal(ch.id, 4);
    assert_int_equal(ch.role, RAFT_LEARNER);
}

static void grow_to_wanted_voters(void **s)
{
    (void)s;
    struct raft_configuration c = conf_of("VLL");   /* a new cluster grew to 3 hosts */
    struct ha_ap_member m[3];
    members_of(m, 3);
    struct ha_ap_change ch;
    assert_int_equal(ha_autopilot(&c, 1, m, 3, 3, 30000, 0, &ch), 1);
    assert_int_equal(ch.id, 2);
    assert_int_equal(ch.role, RAFT_VOTER);
    c.servers[1].role = RAFT_VOTER;
    assert_int_equal(ha_autopilot(&c, 1, m, 3, 3, 30000, 0, &ch), 1);
    assert_int_equal(ch.id, 3);
    c.servers[2].role = RAFT_VOTER;
    assert_int_equal(ha_autopilot(&c, 1, m, 3, 3, 30000, 0, &ch), 0);
}

static void dead_voter_replaced_only_after_grace(void **s)
{
    (void)s;
    struct raft_configuration c = conf_of("VVVL");
    struct ha_ap_member m[4];
    members_of(m, 4);
    m[2].alive = 0;
    m[2].dead_since_ms = 1000;
    struct ha_ap_change ch;
    assert_int_equal(ha_autopilot(&c, 1, m, 4, 3, 30000, 20000, &ch), 0);   /* within grace */
    assert_int_equal(ha_autopilot(&c, 1, m, 4, 3, 30000, 40000, &ch), 1);
    assert_int_equal(ch.id, 3);
    assert_int_equal(ch.role, RAFT_LEARNER);
    c.servers[2].role = RAFT_LEARNER;
    assert_int_equal(ha_autopilot(&c, 1, m, 4, 3, 30000, 40000, &ch), 1);
    assert_int_equal(ch.id, 4);   /* the healthy learner takes its place */
    assert_int_equal(ch.role, RAFT_VOTER);
}

static void dead_voter_kept_without_replacement(void **s)
{
    (void)s;
    /* 3 voters, one dead, nobody to replace it: demoting would leave 2 of 2 needed */
    struct raft_configuration c = conf_of("VVV");
    struct ha_ap_member m[3];
    members_of(m, 3);
    m[2].alive = 0;
    m[2].dead_since_ms = 0;
    struct ha_ap_change ch;
    /* healthy members = 2 -> want 2 voters -> the dead one is demoted (rule 3: voters > want) */
    assert_int_equal(ha_autopilot(&c, 1, m, 3, 3, 30000, 60000, &ch), 1);
    assert_int_equal(ch.id, 3);
    assert_int_equal(ch.role, RAFT_LEARNER);
}

static void restart_does_not_reshuffle(void **s)
{
    (void)s;
    struct raft_configuration c = conf_of("VVV");
    struct ha_ap_member m[3];
    members_of(m, 3);
    m[1].alive = 0;               /* left for a restart 5 s ago */
    m[1].dead_since_ms = 95000;
    struct ha_ap_change ch;
    assert_int_equal(ha_autopilot(&c, 1, m, 3, 3, 30000, 100000, &ch), 0);
}

static void failure_domains_preferred(void **s)
{
    (void)s;
    struct raft_configuration c = conf_of("VVLL");
    struct ha_ap_member m[4];
    members_of(m, 4);
    strcpy(m[0].domain, "rack1");
    strcpy(m[1].domain, "rack1");
    strcpy(m[2].domain, "rack1");
    strcpy(m[3].domain, "rack2");
    struct ha_ap_change ch;
    assert_int_equal(ha_autopilot(&c, 1, m, 4, 3, 30000, 0, &ch), 1);
    assert_int_equal(ch.id, 4);   /* rack2 has no voter: preferred over the lower id 3 */
    assert_int_equal(ch.role, RAFT_VOTER);
}

static void never_touches_self(void **s)
{
    (void)s;
    struct raft_configuration c = conf_of("VVVV");
    struct ha_ap_member m[4];
    members_of(m, 4);
    struct ha_ap_change ch;
    assert_int_equal(ha_autopilot(&c, 4, m, 4, 3, 30000, 0, &ch), 1);
    assert_int_not_equal(ch.id, 4);   /* highest id is self: the next one goes */
    assert_int_equal(ch.id, 3);
    assert_int_equal(ch.role, RAFT_LEARNER);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(steady_state_no_change),
        cmocka_unit_test(removed_member_leaves_config_first),
        cmocka_unit_test(new_member_added_as_learner),
        cmocka_unit_test(grow_to_wanted_voters),
        cmocka_unit_test(dead_voter_replaced_only_after_grace),
        cmocka_unit_test(dead_voter_kept_without_replacement),
        cmocka_unit_test(restart_does_not_reshuffle),
        cmocka_unit_test(failure_domains_preferred),
        cmocka_unit_test(never_touches_self),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}

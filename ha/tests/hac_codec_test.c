/* hac_codec_test.c — the HA records survive the round trip exactly, and the decoder
 * refuses what a core must never see (bad enums, indices, overlong strings, garbage). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ha.pb-c.h"
#include "hac_codec.h"

static hac_rstate *sample(void)
{
    hac_rstate *s = calloc(1, sizeof *s);
    hac_rstate_init(s);
    for (uint32_t i = 0; i < 3; i++) {
        hac_prop p = {.kind = HAC_P_HOST_ADD};
        snprintf(p.host.name, sizeof p.host.name, "host%u", i + 1);
        p.host.mem_mib = 4096 * (i + 1);
        p.host.cpus = 4;
        assert_int_equal(hac_apply(s, &p), 0);
    }
    hac_prop v = {.kind = HAC_P_VM_ADD};
    snprintf(v.vm.name, sizeof v.vm.name, "web1");
    snprintf(v.vm.uuid, sizeof v.vm.uuid, "0e2b1c3a-0000-4000-8000-000000000001");
    v.vm.mem_mib = 512;
    v.vm.vcpus = 2;
    v.vm.owner = 1;
    v.vm.want_running = true;
    assert_int_equal(hac_apply(s, &v), 0);
    hac_prop pr = {.kind = HAC_P_PROTECT, .index = 0, .vm = s->vms[0]};
    pr.vm.protected_ = true;
    pr.vm.priority = -3;
    pr.vm.restart_order = 2;
    pr.vm.max_restarts = 5;
    assert_int_equal(hac_apply(s, &pr), 0);
    hac_prop ad = {.kind = HAC_P_ADMIN, .index = 2, .admin = PLC_ADMIN_CORDONED, .failback = true};
    assert_int_equal(hac_apply(s, &ad), 0);
    hac_prop fz = {.kind = HAC_P_FREEZE, .index = 1, .frozen = true, .stamp = 12, .at_ms = 1700000000456ull};
    assert_int_equal(hac_apply(s, &fz), 0);
    s->upgrade.seq = 7;
    s->upgrade.state = HAC_UPG_PAUSED;
    s->upgrade.phase = HAC_UPH_REJOIN;
    s->upgrade.n = 2;
    s->upgrade.order[0] = 2;
    s->upgrade.order[1] = 0;
    s->upgrade.cur = 1;
    s->upgrade.version_before = 10203;
    snprintf(s->upgrade.command, sizeof s->upgrade.command, "apt-get -y upgrade drover");
    return s;
}

static void state_round_trip(void **st)
{
    (void)st;
    hac_rstate *s = sample(), *back = malloc(sizeof *back);
    uint8_t *buf;
    size_t len;
    char why[128];
    assert_int_equal(hac_state_encode(s, &buf, &len), 0);
    assert_int_equal(hac_state_decode(buf, len, back, why, sizeof why), 0);
    assert_int_equal(back->n_hosts, 3);
    assert_int_equal(back->n_vms, 1);
    assert_string_equal(back->hosts[2].name, "host3");
    assert_int_equal(back->hosts[2].admin, PLC_ADMIN_CORDONED);
    assert_true(back->hosts[2].failback);
    assert_true(back->hosts[1].frozen);
    assert_int_equal(back->hosts[1].frozen_at_ms, 1700000000456ull);
    assert_int_equal(back->hosts[1].agent_stamp, 12);
    assert_false(back->hosts[0].frozen);
    assert_int_equal(back->hosts[1].mem_mib, 8192);
    const hac_rvm *a = &s->vms[0], *b = &back->vms[0];
    assert_string_equal(b->name, "web1");
    assert_string_equal(b->uuid, a->uuid);
    assert_int_equal(b->owner, 1);
    assert_int_equal(b->generation, a->generation);
    assert_int_equal(b->priority, -3);
    assert_int_equal(b->restart_order, 2);
    assert_int_equal(b->max_restarts, 5);
    assert_true(b->protected_);
    assert_false(b->prot_acked);
    assert_int_equal(b->moving_to, -1);
    assert_int_equal(b->home, -1);
    assert_int_equal(back->upgrade.seq, 7);
    assert_int_equal(back->upgrade.state, HAC_UPG_PAUSED);
    assert_int_equal(back->upgrade.phase, HAC_UPH_REJOIN);
    assert_int_equal(back->upgrade.n, 2);
    assert_int_equal(back->upgrade.order[0], 2);
    assert_int_equal(back->upgrade.version_before, 10203);
    assert_string_equal(back->upgrade.command, "apt-get -y upgrade drover");
    free(buf);
    free(s);
    free(back);
}

static void prop_round_trip(void **st)
{
    (void)st;
    hac_prop p = {.kind = HAC_P_OWNER, .index = 4, .owner = 2, .generation = 99, .restarts = 3, .home = 1};
    uint8_t *buf;
    size_t len;
    char reason[HAC_TEXT_MAX], why[128];
    assert_int_equal(hac_prop_encode(&p, "host2 died", &buf, &len), 0);
    hac_prop q;
    assert_int_equal(hac_prop_decode(buf, len, &q, reason, sizeof reason, why, sizeof why), 0);
    assert_int_equal(q.kind, HAC_P_OWNER);
    assert_int_equal(q.index, 4);
    assert_int_equal(q.owner, 2);
    assert_int_equal(q.generation, 99);
    assert_int_equal(q.restarts, 3);
    assert_int_equal(q.home, 1);
    assert_string_equal(reason, "host2 died");
    free(buf);
    hac_prop w = {.kind = HAC_P_WANT, .index = 3, .generation = 7, .want_running = true};
    assert_int_equal(hac_prop_encode(&w, "", &buf, &len), 0);
    assert_int_equal(hac_prop_decode(buf, len, &q, reason, sizeof reason, why, sizeof why), 0);
    assert_int_equal(q.kind, HAC_P_WANT);
    assert_int_equal(q.generation, 7);
    assert_true(q.want_running);
    free(buf);
    hac_prop u = {.kind = HAC_P_UPGRADE};
    u.upgrade.n = 1;
    u.upgrade.seq = 3;
    snprintf(u.upgrade.command, sizeof u.upgrade.command, "true");
    assert_int_equal(hac_prop_encode(&u, NULL, &buf, &len), 0);
    assert_int_equal(hac_prop_decode(buf, len, &q, NULL, 0, why, sizeof why), 0);
    assert_int_equal(q.upgrade.seq, 3);
    assert_string_equal(q.upgrade.command, "true");
    free(buf);    hac_prop f = {.kind = HAC_P_FREEZE, .index = 2, .frozen = true, .stamp = 41,
                  .at_ms = 1700000000123ull};
    assert_int_equal(hac_prop_encode(&f, "agent stopping", &buf, &len), 0);
    assert_int_equal(hac_prop_decode(buf, len, &q, reason, sizeof reason, why, sizeof why), 0);
    assert_int_equal(q.kind, HAC_P_FREEZE);
    assert_int_equal(q.index, 2);
    assert_true(q.frozen);
    assert_false(q.confirm_off);
    assert_int_equal(q.stamp, 41);
    assert_int_equal(q.at_ms, 1700000000123ull);
    free(buf);
    hac_prop o = {.kind = HAC_P_FREEZE, .index = 1, .confirm_off = true};
    assert_int_equal(hac_prop_encode(&o, NULL, &buf, &len), 0);
    assert_int_equal(hac_prop_decode(buf, len, &q, NULL, 0, why, sizeof why), 0);
    assert_true(q.confirm_off);
    assert_false(q.frozen);
    free(buf);
}

/* Encode a hand-made HaProp (the way a hostile or broken peer could) and decode it. */
static int decode_pb(Drover__HaProp *pb, char *why, size_t whylen)
{
    uint8_t buf[4096];
    size_t n = drover__ha_prop__pack(pb, buf);
    hac_prop q;
    return hac_prop_decode(buf, n, &q, NULL, 0, why, whylen);
}

static void prop_refusals(void **st)
{
    (void)st;
    char why[128];
    Drover__HaProp pb = DROVER__HA_PROP__INIT;
    pb.kind = 99;
    assert_int_equal(decode_pb(&pb, why, sizeof why), -EINVAL);
    assert_non_null(strstr(why, "kind"));
    pb.kind = HAC_P_FREEZE + 1;   /* the newest kind is the last one known */
    assert_int_equal(decode_pb(&pb, why, sizeof why), -EINVAL);
    pb.kind = HAC_P_OWNER;
    pb.owner = HAC_HOSTS_MAX;
    assert_int_equal(decode_pb(&pb, why, sizeof why), -EINVAL);
    pb.owner = -2;
    assert_int_equal(decode_pb(&pb, why, sizeof why), -EINVAL);
    pb.owner = 0;
    pb.admin = 9;
    assert_int_equal(decode_pb(&pb, why, sizeof why), -EINVAL);
    pb.admin = 0;
    assert_int_equal(decode_pb(&pb, why, sizeof why), 0);
    /* VM_ADD without a record, and with an overlong name */
    pb.kind = HAC_P_VM_ADD;
    assert_int_equal(decode_pb(&pb, why, sizeof why), -EINVAL);
    Drover__HaVm vm = DROVER__HA_VM__INIT;
    char longname[HAC_NAME_MAX + 10];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    vm.name = longname;
    pb.vm = &vm;
    assert_int_equal(decode_pb(&pb, why, sizeof why), -EINVAL);
    vm.name = (char *)"ok";
    vm.moving_to = 77;
    assert_int_equal(decode_pb(&pb, why, sizeof why), -EINVAL);
    vm.moving_to = -1;
    vm.home = -1;
    vm.owner = -1;
    assert_int_equal(decode_pb(&pb, why, sizeof why), 0);
    /* an upgrade plan naming an impossible host or current index */
    pb.kind = HAC_P_UPGRADE;
    pb.vm = NULL;
    assert_int_equal(decode_pb(&pb, why, sizeof why), -EINVAL);
    Drover__HaUpgrade up = DROVER__HA_UPGRADE__INIT;
    uint32_t order[2] = {0, HAC_HOSTS_MAX};
    up.order = order;
    up.n_order = 2;
    pb.upgrade = &up;
    assert_int_equal(decode_pb(&pb, why, sizeof why), -EINVAL);
    order[1] = 1;
    up.cur = 3;
    assert_int_equal(decode_pb(&pb, why, sizeof why), -EINVAL);
    up.cur = 2;
    assert_int_equal(decode_pb(&pb, why, sizeof why), 0);
}

static void state_refusals(void **st)
{
    (void)st;
    char why[128];
    hac_rstate *s = malloc(sizeof *s);
    uint8_t junk[64];
    memset(junk, 0xff, sizeof junk);
    assert_int_equal(hac_state_decode(junk, sizeof junk, s, why, sizeof why), -EINVAL);
    /* a VM owned by a host the state does not have */
    Drover__HaState pb = DROVER__HA_STATE__INIT;
    Drover__HaHost h = DROVER__HA_HOST__INIT, *hp = &h;
    h.name = (char *)"h1";
    Drover__HaVm v = DROVER__HA_VM__INIT, *vp = &v;
    v.name = (char *)"vm";
    v.owner = 1;
    v.moving_to = v.home = -1;
    pb.hosts = &hp;
    pb.n_hosts = 1;
    pb.vms = &vp;
    pb.n_vms = 1;
    uint8_t buf[512];
    size_t n = drover__ha_state__pack(&pb, buf);
    assert_int_equal(hac_state_decode(buf, n, s, why, sizeof why), -EINVAL);
    assert_int_equal(s->n_vms, 0);   /* nothing half-filled */
    v.owner = 0;
    n = drover__ha_state__pack(&pb, buf);
    assert_int_equal(hac_state_decode(buf, n, s, why, sizeof why), 0);
    assert_int_equal(s->vms[0].owner, 0);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(state_round_trip),
        cmocka_unit_test(prop_round_trip),
        cmocka_unit_test(prop_refusals),
        cmocka_unit_test(state_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The operator's HA commands (agent/cli_ha.c, `vm list` in agent/cli_vm.c).
 *
 * Pure parts: the drain watcher turns successive ha.status answers into the lines
 * `host drain --wait` prints; --order splitting; the upgrade and vm list tables.
 * Whole commands: argument errors exit 64/2 with a message naming the problem, and a
 * fake agent (the real control socket server, ctl.c, in a child process, answering
 * ha.* from a script) shows what each command sends and prints, how --wait ends
 * (maintenance, deadline, Ctrl-C) and that vm list falls back without HA. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <termios.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "ctl.h"
#include "exitcodes.h"
#include "operator.h"

static json_t *J(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("bad test JSON (%s): %s", e.text, text);
    return j;
}

/* Feed one status; return the events' lines joined by '\n'. Caller frees. */
static char *step_lines(cli_watch *w, const char *status)
{
    json_t *st = J(status), *evs = cli_watch_step(w, st), *ev;
    size_t i, off = 0, cap = 4096;
    char *out = calloc(1, cap);
    json_array_foreach(evs, i, ev) {
        char line[512];
        cli_watch_line(ev, line, sizeof line);
        off += (size_t)snprintf(out + off, cap - off, "%s%s", off ? "\n" : "", line);
    }
    json_decref(evs);
    json_decref(st);
    return out;
}

static void expect_step(cli_watch *w, const char *status, const char *want)
{
    char *got = step_lines(w, status);
    assert_string_equal(got, want);
    free(got);
}

/* ---- the drain watcher ------------------------------------------------------------- */

#define H_DRAINING "\"hosts\":[{\"name\":\"h1\",\"admin\":\"draining\"},{\"name\":\"h2\",\"admin\":\"active\"}]"
#define H_MAINT "\"hosts\":[{\"name\":\"h1\",\"admin\":\"maintenance\"},{\"name\":\"h2\",\"admin\":\"active\"}]"

static void watch_drain(void **state)
{
    (void)state;
    cli_watch w;
    cli_watch_init(&w, CLI_WATCH_DRAIN, "h1");
    /* a moves, b waits, c lives on h2 and is none of our business */
    const char *s0 = "{" H_DRAINING ",\"vms\":[{\"name\":\"a\",\"owner\":\"h1\",\"moving_to\":\"h2\"},"
                     "{\"name\":\"b\",\"owner\":\"h1\"},{\"name\":\"c\",\"owner\":\"h2\"}],"
                     "\"moves\":[{\"vm\":\"a\",\"from\":\"h1\",\"to\":\"h2\",\"percent\":10,\"bytes_per_s\":104857600},"
                     "{\"vm\":\"c\",\"from\":\"h2\",\"to\":\"h3\",\"percent\":5,\"bytes_per_s\":1}]}";
    expect_step(&w, s0, "  a  -> h2  10%  100.0 MiB/s");
    /* the same answer again: nothing changed, nothing printed */
    expect_step(&w, s0, "");
    const char *s1 = "{" H_DRAINING ",\"vms\":[{\"name\":\"a\",\"owner\":\"h1\",\"moving_to\":\"h2\"},"
                     "{\"name\":\"b\",\"owner\":\"h1\",\"stuck\":\"storage.not_shared: disk vda is local\"},"
                     "{\"name\":\"c\",\"owner\":\"h2\"}],"
                     "\"moves\":[{\"vm\":\"a\",\"from\":\"h1\",\"to\":\"h2\",\"percent\":55.4,\"bytes_per_s\":52428800}]}";
    expect_step(&w, s1, "  a  -> h2  55%  50.0 MiB/s\n  b  cannot move: storage.not_shared: disk vda is local");
    /* a arrived; b is now decided (moving_to) but has no progress yet; its stuck reason
     * is still there and is not repeated */
    const char *s2 = "{" H_DRAINING ",\"vms\":[{\"name\":\"a\",\"owner\":\"h2\"},"
                     "{\"name\":\"b\",\"owner\":\"h1\",\"moving_to\":\"h3\","
                     "\"stuck\":\"storage.not_shared: disk vda is local\"},{\"name\":\"c\",\"owner\":\"h2\"}],"
                     "\"moves\":[]}";
    expect_step(&w, s2, "  a  moved to h2\n  b  -> h3  starting");
    assert_false(w.done);
    json_t *rem = cli_watch_remaining(&w);
    char text[256];
    cli_watch_remaining_text(rem, text, sizeof text);
    assert_string_equal(text, "b (cannot move: storage.not_shared: disk vda is local)");
    json_decref(rem);
    const char *s3 = "{" H_MAINT ",\"vms\":[{\"name\":\"a\",\"owner\":\"h2\"},{\"name\":\"b\",\"owner\":\"h3\"},"
                     "{\"name\":\"c\",\"owner\":\"h2\"}],\"moves\":[]}";
    expect_step(&w, s3, "  b  moved to h3\nh1 is in maintenance: 2 VMs moved");
    assert_true(w.done);
    assert_int_equal(w.exit_code, 0);
    assert_string_equal(json_string_value(json_object_get(w.moved, "b")), "h3");
    /* after the end, nothing more */
    expect_step(&w, s0, "");
    cli_watch_free(&w);
}

/* A move that fails is said once, a retry elsewhere starts a new line, a progress
 * report that skips a poll does not restart the line, and the report of a finished
 * move that outlives the ownership change by a poll does not bring the VM back. */
static void watch_retry_and_stale(void **state)
{
    (void)state;
    cli_watch w;
    cli_watch_init(&w, CLI_WATCH_DRAIN, "h1");
#define XS(owner, mt, extra, moves) "{" H_DRAINING ",\"vms\":[{\"name\":\"x\",\"owner\":\"" owner \
    "\",\"moving_to\":\"" mt "\"" extra "}],\"moves\":[" moves "]}"
    expect_step(&w, XS("h1", "h2", "", "{\"vm\":\"x\",\"from\":\"h1\",\"to\":\"h2\",\"percent\":20}"),
                "  x  -> h2  20%");
    expect_step(&w, XS("h1", "", ",\"stuck\":\"migration to h2 failed (1/3): boom\"", ""),
                "  x  move to h2 did not complete\n  x  cannot move: migration to h2 failed (1/3): boom");
    expect_step(&w, XS("h1", "h3", "", ""), "  x  -> h3  starting");
    expect_step(&w, XS("h1", "h3", "", "{\"vm\":\"x\",\"from\":\"h1\",\"to\":\"h3\",\"percent\":50}"),
                "  x  -> h3  50%");
    expect_step(&w, XS("h1", "h3", "", ""), "");
    expect_step(&w, XS("h3", "", "", "{\"vm\":\"x\",\"from\":\"h1\",\"to\":\"h3\",\"percent\":100}"),
                "  x  moved to h3");
    expect_step(&w, XS("h3", "", "", "{\"vm\":\"x\",\"from\":\"h1\",\"to\":\"h3\",\"percent\":100}"), "");
#undef XS
    assert_false(w.done);
    cli_watch_free(&w);
}

/* Attaching to a drain already under way (after Ctrl-C): the VMs that left before still
 * count, by their home. A status still showing "active" before the decision reached
 * this host is not a cancellation. */
static void watch_attach_and_cancel(void **state)
{
    (void)state;
    cli_watch w;
    cli_watch_init(&w, CLI_WATCH_DRAIN, "h1");
    expect_step(&w, "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"active\"}],"
                    "\"vms\":[{\"name\":\"x\",\"owner\":\"h2\",\"home\":\"h1\"}]}", "");
    assert_false(w.done);
    expect_step(&w, "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"maintenance\"}],"
                    "\"vms\":[{\"name\":\"x\",\"owner\":\"h2\",\"home\":\"h1\"}]}",
                "h1 is in maintenance: 1 VM moved");
    cli_watch_free(&w);

    cli_watch_init(&w, CLI_WATCH_DRAIN, "h1");
    expect_step(&w, "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"draining\"}],"
                    "\"vms\":[{\"name\":\"x\",\"owner\":\"h1\"}]}", "");
    expect_step(&w, "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"active\"}],"
                    "\"vms\":[{\"name\":\"x\",\"owner\":\"h1\"}]}",
                "h1 is active again: the drain was cancelled (0 VMs moved)");
    assert_true(w.done);
    assert_int_equal(w.exit_code, AG_EX_ERROR);
    cli_watch_free(&w);
}

static void watch_failback(void **state)
{
    (void)state;
    cli_watch w;
    cli_watch_init(&w, CLI_WATCH_FAILBACK, "h1");
    expect_step(&w, "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"active\",\"failback\":true}],"
                    "\"vms\":[{\"name\":\"a\",\"owner\":\"h2\",\"home\":\"h1\"},"
                    "{\"name\":\"b\",\"owner\":\"h3\",\"home\":\"h1\"},{\"name\":\"c\",\"owner\":\"h2\"}],"
                    "\"moves\":[{\"vm\":\"a\",\"from\":\"h2\",\"to\":\"h1\",\"percent\":30,\"bytes_per_s\":0},"
                    "{\"vm\":\"c\",\"from\":\"h2\",\"to\":\"h3\",\"percent\":1}]}",
                "  a  -> h1  30%  0.0 MiB/s");
    expect_step(&w, "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"active\",\"failback\":true}],"
                    "\"vms\":[{\"name\":\"a\",\"owner\":\"h1\"},"
                    "{\"name\":\"b\",\"owner\":\"h3\",\"home\":\"h1\"},{\"name\":\"c\",\"owner\":\"h2\"}]}",
                "  a  moved to h1");
    assert_false(w.done);
    json_t *rem = cli_watch_remaining(&w);
    assert_int_equal(json_array_size(rem), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rem, 0), "vm")), "b");
    json_decref(rem);
    expect_step(&w, "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"active\"}],"
                    "\"vms\":[{\"name\":\"a\",\"owner\":\"h1\"},{\"name\":\"b\",\"owner\":\"h1\"},"
                    "{\"name\":\"c\",\"owner\":\"h2\"}]}",
                "  b  moved to h1\nh1: every VM drained from it is back (2 moved)");
    assert_true(w.done);
    cli_watch_free(&w);
}

/* Odd answers: no hosts, wrong types, percent out of range, not an object. */
static void watch_odd_input(void **state)
{
    (void)state;
    cli_watch w;
    cli_watch_init(&w, CLI_WATCH_DRAIN, "h1");
    expect_step(&w, "[]", "");
    expect_step(&w, "{\"vms\":7,\"moves\":[{\"vm\":\"a\",\"from\":\"h1\",\"to\":\"h2\",\"percent\":250},"
                    "{\"vm\":3,\"from\":\"h1\",\"to\":\"h2\"},{\"vm\":\"z\",\"from\":\"h1\",\"to\":null}]}",
                "  a  -> h2  100%");
    assert_false(w.done);
    json_t *rem = cli_watch_remaining(&w);
    char text[64];
    cli_watch_remaining_text(rem, text, sizeof text);
    assert_string_equal(text, "nothing");
    json_decref(rem);
    cli_watch_free(&w);
}

static void remaining_text_truncates(void **state)
{
    (void)state;
    json_t *rem = J("[{\"vm\":\"alpha\",\"moving_to\":\"h2\",\"percent\":40},{\"vm\":\"beta\"},"
                    "{\"vm\":\"gamma\",\"moving_to\":\"h3\"}]");
    char text[256], small[24];
    cli_watch_remaining_text(rem, text, sizeof text);
    assert_string_equal(text, "alpha (-> h2 40%), beta (waiting), gamma (-> h3 starting)");
    cli_watch_remaining_text(rem, small, sizeof small);
    assert_true(strlen(small) < sizeof small);
    assert_string_equal(small, "alpha (-> h2 40%), ...");
    json_decref(rem);
}

/* ---- --order ----------------------------------------------------------------------- */

static void split_order(void **state)
{
    (void)state;
    json_t *a;
    char err[256];
    assert_int_equal(cli_ha_split_order("h3,h1,h2", &a, err, sizeof err), 0);
    char *s = json_dumps(a, JSON_COMPACT);
    assert_string_equal(s, "[\"h3\",\"h1\",\"h2\"]");
    free(s);
    json_decref(a);
    assert_int_equal(cli_ha_split_order("solo", &a, err, sizeof err), 0);
    assert_int_equal(json_array_size(a), 1);
    json_decref(a);
    assert_int_equal(cli_ha_split_order("h1,,h2", &a, err, sizeof err), -1);
    assert_null(a);
    assert_non_null(strstr(err, "empty host name"));
    assert_int_equal(cli_ha_split_order("h1,", &a, err, sizeof err), -1);
    assert_int_equal(cli_ha_split_order("", &a, err, sizeof err), -1);
    assert_int_equal(cli_ha_split_order("h1,h2,h1", &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "h1 twice"));
    char longname[80];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    assert_int_equal(cli_ha_split_order(longname, &a, err, sizeof err), -1);
    assert_non_null(strstr(err, "longer than a host name"));
}

/* ---- tables ------------------------------------------------------------------------ */

static char *print_to_string(void (*fn)(FILE *, json_t *, json_t *), json_t *a, json_t *b,
                             void (*fn1)(FILE *, json_t *))
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (fn)
        fn(f, a, b);
    else
        fn1(f, a);
    fclose(f);
    return buf;
}

static void upgrade_table(void **state)
{
    (void)state;
    json_t *st = J("{\"hosts\":[{\"name\":\"h1\",\"admin\":\"active\",\"live\":true},"
                   "{\"name\":\"h2\",\"admin\":\"draining\",\"live\":true},"
                   "{\"name\":\"h3\",\"admin\":\"active\",\"live\":false}],"
                   "\"vms\":[{\"name\":\"v1\",\"owner\":\"h2\",\"stuck\":\"cpu.incompatible: no host\"},"
                   "{\"name\":\"v2\",\"owner\":\"h1\"}],"
                   "\"upgrade\":{\"state\":\"running\",\"phase\":\"drain\",\"current\":1,"
                   "\"order\":[\"h1\",\"h2\",\"h3\"],\"command\":\"apt-get -y upgrade\"}}");
    char *out = print_to_string(NULL, st, NULL, cli_upgrade_print);
    assert_string_equal(out, "upgrade  running, host 2 of 3\n"
                             "command  apt-get -y upgrade\n"
                             "HOST                 PHASE      STATE\n"
                             "h1                   done       active\n"
                             "h2                   drain      draining\n"
                             "h3                   pending    active, down\n"
                             "still on h2: v1 (cannot move: cpu.incompatible: no host)\n");
    free(out);
    /* current given by name works the same */
    json_object_set_new(json_object_get(st, "upgrade"), "current", json_string("h3"));
    json_object_set_new(json_object_get(st, "upgrade"), "phase", json_string("rejoin"));
    json_t *rows = cli_upgrade_rows(st);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 1), "phase")), "done");
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 2), "phase")), "rejoin");
    assert_true(json_is_false(json_object_get(json_array_get(rows, 2), "live")));
    json_decref(rows);
    json_object_set_new(json_object_get(st, "upgrade"), "state", json_string("done"));
    rows = cli_upgrade_rows(st);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 2), "phase")), "done");
    json_decref(rows);
    json_decref(st);
    st = J("{\"hosts\":[],\"upgrade\":{\"state\":\"idle\",\"order\":[]}}");
    out = print_to_string(NULL, st, NULL, cli_upgrade_print);
    assert_non_null(strstr(out, "no rolling upgrade"));
    free(out);
    json_decref(st);
}

#define INVENTORY "{\"vms\":[{\"name\":\"web1\",\"state\":\"running\",\"mem_kib\":524288,\"vcpus\":2," \
                  "\"disks\":[{\"shared\":true},{\"shared\":false}]}," \
                  "{\"name\":\"db1\",\"state\":\"shutoff\",\"mem_kib\":1048576,\"vcpus\":1,\"disks\":[]," \
                  "\"unmigratable\":\"hostdev\"}]}"
#define HASTATUS "{\"vms\":[{\"name\":\"web1\",\"owner\":\"h1\",\"protected\":true,\"priority\":10," \
                 "\"order\":2,\"running_on\":\"h1\",\"moving_to\":\"h2\"}," \
                 "{\"name\":\"far\",\"owner\":\"h3\",\"protected\":false,\"running_on\":\"h3\"}," \
                 "{\"name\":\"gone\",\"owner\":null,\"protected\":true,\"priority\":0,\"order\":0," \
                 "\"running_on\":null}]}"

static void vm_list_table(void **state)
{
    (void)state;
    json_t *inv = J(INVENTORY), *ha = J(HASTATUS);
    char *out = print_to_string(cli_vm_list_print, inv, NULL, NULL);
    assert_string_equal(out, "NAME                 STATE     MEM MiB  VCPU DISKS    NOTES\n"
                             "web1                 running       512     2 1s/1l    \n"
                             "db1                  shutoff      1024     1 0s/0l    unmigratable: hostdev\n");
    free(out);
    out = print_to_string(cli_vm_list_print, inv, ha, NULL);
    assert_string_equal(out,
        "NAME                 STATE       MEM MiB  VCPU DISKS    OWNER          HA   PRIO ORDER NOTES\n"
        "web1                 running         512     2 1s/1l    h1             yes    10     2 moving to h2; \n"
        "db1                  shutoff        1024     1 0s/0l    -              -       -     - unmigratable: hostdev\n"
        "far                  on:h3             -     - -        h3             no      -     - not on this host\n"
        "gone                 -                 -     - -        -              yes     0     0 not on this host\n");
    free(out);
    json_t *m = cli_vm_list_merge(inv, ha);
    json_t *vms = json_object_get(m, "vms");
    assert_int_equal(json_array_size(vms), 4);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(json_array_get(vms, 0), "ha"), "priority")), 10);
    assert_null(json_object_get(json_array_get(vms, 1), "ha"));
    assert_true(json_is_true(json_object_get(json_array_get(vms, 2), "remote")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(vms, 3), "name")), "gone");
    /* the inventory given in is not changed */
    assert_int_equal(json_array_size(json_object_get(inv, "vms")), 2);
    json_decref(m);
    m = cli_vm_list_merge(inv, NULL);
    assert_true(json_equal(m, inv));
    json_decref(m);
    json_decref(inv);
    json_decref(ha);
}

/* ---- whole commands ------------------------------------------------------------------ */

static char sock[108];

/* What the fake agent does: ha.status answers statuses[k] for its k-th call (the last
 * one from then on); with kill_at, the k-th call also sends SIGINT to the CLI. */
typedef struct fake {
    bool ha;                    /* register the ha.* commands at all */
    const char *const *statuses;
    int n_statuses;
    int kill_at;                /* 0: never */
    pid_t parent;
} fake;

static fake g_fake;
static int g_status_calls;

static void h_status(ag_ctl_req *r, json_t *args, void *ud)
{
    (void)args; (void)ud;
    int k = g_status_calls < g_fake.n_statuses ? g_status_calls : g_fake.n_statuses - 1;
    g_status_calls++;
    if (g_fake.kill_at && g_status_calls == g_fake.kill_at)
        kill(g_fake.parent, SIGINT);
    ag_ctl_finish(r, 0, J(g_fake.statuses[k]), NULL);
}

/* ha.admin, ha.protect and ha.upgrade answer what they got, so the test sees the request */
static void h_admin(ag_ctl_req *r, json_t *args, void *ud)
{
    (void)ud;
    const char *host = json_string_value(json_object_get(args, "host"));
    if (host && strcmp(host, "nosuch") == 0) {
        ag_ctl_finish(r, AG_EX_NOSUCH, NULL, "no host named nosuch; `drover members` lists them");
        return;
    }
    ag_ctl_finish(r, 0, json_pack("{s:s, s:s, s:b, s:b, s:i, s:O}", "host", host ? host : "?", "admin",
                                  "draining", "degraded_flag", 0, "failback", 0, "index", 42, "got", args),
                  NULL);
}

static void h_protect(ag_ctl_req *r, json_t *args, void *ud)
{
    (void)ud;
    ag_ctl_finish(r, 0, json_pack("{s:O, s:b, s:i, s:i, s:i, s:i, s:[s], s:O}", "vm", json_object_get(args, "vm"),
                                  "protected", json_is_true(json_object_get(args, "protect")), "priority", 10,
                                  "order", 1, "max_restarts", 0, "index", 7, "warnings",
                                  "admission: losing h2 would leave 1 protected VM without room", "got", args),
                  NULL);
}

static void h_upgrade(ag_ctl_req *r, json_t *args, void *ud)
{
    (void)ud;
    ag_ctl_finish(r, 0, json_pack("{s:s, s:i, s:O}", "state", "running", "index", 9, "got", args), NULL);
}

static void h_vmlist(ag_ctl_req *r, json_t *args, void *ud)
{
    (void)args; (void)ud;
    ag_ctl_finish(r, 0, J(INVENTORY), NULL);
}

/* The operator key the CLI signs with (created in main, named by $DROVER_OPERATOR_KEY);
 * admin.info says it is this fake cluster's operator. */
static ag_opkey g_op;
static char g_op_path[128];

static void h_info(ag_ctl_req *r, json_t *args, void *ud)
{
    (void)args; (void)ud;
    ag_ctl_finish(r, 0, json_pack("{s:s, s:[s]}", "cluster_id", "000102030405060708090a0b0c0d0e0f",
                                  "operators", g_op.fpr), NULL);
}

static pid_t start_fake(const fake *f)
{
    g_fake = *f;
    g_fake.parent = getpid();
    unlink(sock);
    pid_t pid = fork();
    if (pid == 0) {
        ag_loop *l = ag_loop_new(1);
        ag_ctl *c;
        char err[256];
        if (ag_ctl_listen(l, sock, &c, err, sizeof err) != 0)
            _exit(3);
        ag_ctl_register(c, "vm.list", h_vmlist, NULL);
        if (g_fake.ha) {
            ag_ctl_register(c, "admin.info", h_info, NULL);
            ag_ctl_register(c, "ha.status", h_status, NULL);
            ag_ctl_register(c, "ha.admin", h_admin, NULL);
            ag_ctl_register(c, "ha.protect", h_protect, NULL);
            ag_ctl_register(c, "ha.upgrade", h_upgrade, NULL);
        }
        ag_loop_run(l);
        _exit(0);
    }
    /* the socket file exists from bind() on, but connect() works only after listen() */
    for (int i = 0; i < 500; i++) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        int ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
        close(fd);
        if (ok)
            return pid;
        usleep(10000);
    }
    fail_msg("the fake agent did not listen on %s", sock);
    return pid;
}

static void stop_fake(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    unlink(sock);
}

static char *slurp(FILE *f)
{
    fflush(f);
    long n = ftell(f);
    char *b = calloc(1, (size_t)n + 1);
    rewind(f);
    if (n > 0 && fread(b, 1, (size_t)n, f) != (size_t)n)
        fail_msg("short read of captured output");
    return b;
}

int drover_cli_main(int argc, char **argv);   /* main.c, renamed by CMake */

static char *g_out, *g_err;

static bool g_tty;   /* the next run() writes its stdout to a terminal (a pty) */

static char *slurp_pty(int master)
{
    size_t cap = 65536, n = 0;
    char *b = calloc(1, cap);
    for (;;) {
        struct pollfd pf = {.fd = master, .events = POLLIN};
        if (poll(&pf, 1, 0) <= 0 || n + 1 >= cap)
            break;
        ssize_t r = read(master, b + n, cap - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    return b;
}

/* Run `drover WORDS...` in this process with stdout and stderr captured into g_out and
 * g_err. args is NULL-terminated; the command is found like main() finds it. */
static int run(const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = strdup(a);
    va_end(ap);
    argv[argc] = NULL;
    free(g_out);
    free(g_err);
    FILE *out = tmpfile(), *err = tmpfile();
    int master = -1, slave = -1;
    fflush(stdout);
    fflush(stderr);
    int so = dup(1), se = dup(2);
    if (g_tty) {
        struct termios raw;
        assert_int_equal(openpty(&master, &slave, NULL, NULL, NULL), 0);
        tcgetattr(slave, &raw);
        cfmakeraw(&raw);   /* no \n -> \r\n: compare what the CLI wrote */
        tcsetattr(slave, TCSANOW, &raw);
        dup2(slave, 1);
    } else {
        dup2(fileno(out), 1);
    }
    dup2(fileno(err), 2);
    optind = 0;   /* getopt starts over, as in a new process */
    int rc = drover_cli_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    if (g_tty) {
        g_out = slurp_pty(master);
        close(slave);
        close(master);
        free(slurp(out));
    } else {
        g_out = slurp(out);
    }
    g_err = slurp(err);
    fclose(out);
    fclose(err);
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    return rc;
}

#define HAS(buf, s) do { if (!strstr((buf), (s))) fail_msg("'%s' not in:\n%s", (s), (buf)); } while (0)

static void bad_arguments(void **state)
{
    (void)state;
    /* each case: exit code, and words the message must contain */
    assert_int_equal(run("drover", "host", "drain", NULL), AG_EX_USAGE);
    HAS(g_err, "needs HOST");
    HAS(g_err, "drover host drain --help");
    assert_int_equal(run("drover", "host", "drain", "h1", "h2", NULL), AG_EX_USAGE);
    HAS(g_err, "unexpected argument 'h2'");
    assert_int_equal(run("drover", "host", "drain", "h1", "--wait", "--deadline", "90", NULL), AG_EX_INVALID);
    HAS(g_err, "--deadline '90' is not a duration");
    assert_int_equal(run("drover", "host", "drain", "h1", "--deadline", "90s", NULL), AG_EX_USAGE);
    HAS(g_err, "--deadline only makes sense with --wait");
    assert_int_equal(run("drover", "host", "drain", "h1", "--failback", NULL), AG_EX_USAGE);
    HAS(g_err, "--failback belongs to `drover host undrain`");
    assert_int_equal(run("drover", "host", "cordon", "h1", "--wait", NULL), AG_EX_USAGE);
    HAS(g_err, "takes effect at once");
    assert_int_equal(run("drover", "host", "undrain", "h1", "--wait", NULL), AG_EX_USAGE);
    HAS(g_err, "--wait needs --failback");
    assert_int_equal(run("drover", "host", "drain", "h1", "--frobnicate", NULL), AG_EX_USAGE);
    HAS(g_err, "--frobnicate");
    assert_int_equal(run("drover", "host", "degraded", "h1", NULL), AG_EX_USAGE);
    HAS(g_err, "needs HOST and on or off");
    assert_int_equal(run("drover", "host", "degraded", "h1", "yes", NULL), AG_EX_INVALID);
    HAS(g_err, "'on' or 'off', not 'yes'");
    assert_int_equal(run("drover", "vm", "protect", NULL), AG_EX_USAGE);
    HAS(g_err, "needs VM");
    assert_int_equal(run("drover", "vm", "protect", "web1", "--priority", "high", NULL), AG_EX_INVALID);
    HAS(g_err, "--priority takes a whole number");
    assert_int_equal(run("drover", "vm", "protect", "web1", "--max-restarts", "-1", NULL), AG_EX_INVALID);
    HAS(g_err, "--max-restarts takes a whole number from 0");
    assert_int_equal(run("drover", "vm", "unprotect", "web1", "--priority", "1", NULL), AG_EX_USAGE);
    assert_int_equal(run("drover", "upgrade", "start", NULL), AG_EX_USAGE);
    HAS(g_err, "needs --command CMD");
    assert_int_equal(run("drover", "upgrade", "start", "--command", "  ", NULL), AG_EX_INVALID);
    assert_int_equal(run("drover", "upgrade", "start", "--command", "apt-get", "upgrade", NULL), AG_EX_USAGE);
    HAS(g_err, "quote the command");
    assert_int_equal(run("drover", "upgrade", "start", "--command", "x", "--order", "h1,h1", NULL), AG_EX_INVALID);
    HAS(g_err, "h1 twice");
    char longcmd[400];
    memset(longcmd, 'x', sizeof longcmd - 1);
    longcmd[sizeof longcmd - 1] = 0;
    assert_int_equal(run("drover", "upgrade", "start", "--command", longcmd, NULL), AG_EX_INVALID);
    HAS(g_err, "--command is 399 characters; the plan keeps at most");
    assert_int_equal(run("drover", "upgrade", "pause", "now", NULL), AG_EX_USAGE);
    /* --help prints the usage and exits 0 */
    assert_int_equal(run("drover", "host", "drain", "--help", NULL), 0);
    HAS(g_out, "Usage: drover host drain HOST");
    assert_int_equal(run("drover", "host", "--help", NULL), 0);
    HAS(g_out, "host drain");
    HAS(g_out, "host degraded");
    assert_int_equal(run("drover", "host", "evacuate", "h1", NULL), AG_EX_USAGE);
    HAS(g_err, "unknown subcommand 'evacuate'");
    assert_int_equal(run("drover", "upgrade", "start", "--help", NULL), 0);
    HAS(g_out, "--order LIST");
    /* valid arguments get as far as the (absent) agent: 69 */
    assert_int_equal(run("drover", "host", "drain", "h1", "--wait", "--deadline", "5m", "--socket",
                         "/nonexistent/drover.sock", NULL), AG_EX_UNAVAILABLE);
    HAS(g_err, "cannot reach the drover agent");
}

static const char *const drain_script[] = {
    /* before the request */
    "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"active\"}],\"vms\":[{\"name\":\"a\",\"owner\":\"h1\"},"
    "{\"name\":\"b\",\"owner\":\"h1\"}],\"moves\":[]}",
    "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"draining\"}],\"vms\":[{\"name\":\"a\",\"owner\":\"h1\"},"
    "{\"name\":\"b\",\"owner\":\"h1\",\"stuck\":\"cpu.incompatible: avx512f missing on h2\"}],"
    "\"moves\":[{\"vm\":\"a\",\"from\":\"h1\",\"to\":\"h2\",\"percent\":40,\"bytes_per_s\":1048576}]}",
    "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"draining\"}],\"vms\":[{\"name\":\"a\",\"owner\":\"h2\"},"
    "{\"name\":\"b\",\"owner\":\"h1\"}],\"moves\":[{\"vm\":\"b\",\"from\":\"h1\",\"to\":\"h3\",\"percent\":0}]}",
    "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"maintenance\"}],\"vms\":[{\"name\":\"a\",\"owner\":\"h2\"},"
    "{\"name\":\"b\",\"owner\":\"h3\"}],\"moves\":[]}",
};

static void drain_wait_text(void **state)
{
    (void)state;
    pid_t p = start_fake(&(fake){.ha = true, .statuses = drain_script, .n_statuses = 4});
    assert_int_equal(run("drover", "host", "drain", "h1", "--wait", "--interval", "10ms", "--socket", sock, NULL), 0);
    assert_string_equal(g_out, "h1 is draining (decision 42)\n"
                               "  a  -> h2  40%  1.0 MiB/s\n"
                               "  b  cannot move: cpu.incompatible: avx512f missing on h2\n"
                               "  a  moved to h2\n"
                               "  b  -> h3  0%\n"
                               "  b  moved to h3\n"
                               "h1 is in maintenance: 2 VMs moved\n");
    assert_string_equal(g_err, "");
    stop_fake(p);
}

/* On a terminal the VMs moving now keep one line each, redrawn in place: the block is
 * erased (cursor up, clear below) before what is final is printed above it. */
static void drain_wait_tty(void **state)
{
    (void)state;
    pid_t p = start_fake(&(fake){.ha = true, .statuses = drain_script, .n_statuses = 4});
    g_tty = true;
    int rc = run("drover", "host", "drain", "h1", "--wait", "--interval", "10ms", "--socket", sock, NULL);
    g_tty = false;
    assert_int_equal(rc, 0);
    assert_string_equal(g_out, "h1 is draining (decision 42)\n"
                               "  b  cannot move: cpu.incompatible: avx512f missing on h2\n"
                               "  a  -> h2  40%  1.0 MiB/s\n"
                               "\033[1A\r\033[J"
                               "  a  moved to h2\n"
                               "  b  -> h3  0%\n"
                               "\033[1A\r\033[J"
                               "  b  moved to h3\n"
                               "h1 is in maintenance: 2 VMs moved\n");
    stop_fake(p);
}

static void drain_wait_json(void **state)
{
    (void)state;
    pid_t p = start_fake(&(fake){.ha = true, .statuses = drain_script, .n_statuses = 4});
    assert_int_equal(run("drover", "host", "drain", "h1", "--wait", "--json", "--interval", "10ms",
                         "--socket", sock, NULL), 0);
    /* one JSON object per line: the admin answer, the events, the result */
    char *save, *line = strtok_r(g_out, "\n", &save);
    const char *want[] = {"admin", "moving", "stuck", "moved", "moving", "moved", "maintenance", NULL};
    int i = 0;
    json_t *last = NULL;
    for (; line; line = strtok_r(NULL, "\n", &save), i++) {
        json_decref(last);
        last = J(line);
        if (want[i])
            assert_string_equal(json_string_value(json_object_get(last, "event")), want[i]);
        if (i == 0)
            assert_string_equal(json_string_value(json_object_get(json_object_get(last, "got"), "req")), "drain");
    }
    assert_int_equal(i, 8);
    assert_string_equal(json_string_value(json_object_get(last, "result")), "maintenance");
    assert_string_equal(json_string_value(json_object_get(json_object_get(last, "moved"), "b")), "h3");
    json_decref(last);
    stop_fake(p);
}

/* The drain never finishes: --deadline ends the wait with 124 and says what is left;
 * started again while draining, --wait does not send a second request. */
static void drain_deadline(void **state)
{
    (void)state;
    static const char *const stuck[] = {
        "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"draining\"}],\"vms\":[{\"name\":\"a\",\"owner\":\"h1\","
        "\"stuck\":\"storage.not_shared: vda is local\"}],\"moves\":[]}"};
    pid_t p = start_fake(&(fake){.ha = true, .statuses = stuck, .n_statuses = 1});
    assert_int_equal(run("drover", "host", "drain", "h1", "--wait", "--deadline", "150ms", "--interval", "20ms",
                         "--socket", sock, NULL), AG_EX_TIMEOUT);
    assert_string_equal(g_out, "h1: the drain is already under way; watching it\n"
                               "  a  cannot move: storage.not_shared: vda is local\n");
    HAS(g_err, "gave up waiting after 150ms; still on h1: a (cannot move: storage.not_shared: vda is local)");
    HAS(g_err, "The drain continues");
    stop_fake(p);
}

static void drain_detach(void **state)
{
    (void)state;
    static const char *const slow[] = {
        "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"active\"}],\"vms\":[{\"name\":\"a\",\"owner\":\"h1\"}]}",
        "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"draining\"}],\"vms\":[{\"name\":\"a\",\"owner\":\"h1\"}],"
        "\"moves\":[{\"vm\":\"a\",\"from\":\"h1\",\"to\":\"h2\",\"percent\":3}]}"};
    /* the 4th ha.status (the 3rd of the watch) comes with a Ctrl-C */
    pid_t p = start_fake(&(fake){.ha = true, .statuses = slow, .n_statuses = 2, .kill_at = 4});
    assert_int_equal(run("drover", "host", "drain", "h1", "--wait", "--interval", "20ms", "--socket", sock, NULL), 0);
    HAS(g_out, "  a  -> h2  3%\n");
    HAS(g_out, "detached: the drain continues; watch with drover host drain h1 --wait\n");
    /* the handler is gone again: SIGINT is back to its default */
    struct sigaction sa;
    sigaction(SIGINT, NULL, &sa);
    assert_true(sa.sa_handler == SIG_DFL);
    stop_fake(p);
}

static void other_commands(void **state)
{
    (void)state;
    static const char *const st[] = {
        "{\"hosts\":[{\"name\":\"h1\",\"admin\":\"active\",\"live\":true}],"
        "\"vms\":[{\"name\":\"web1\",\"owner\":\"h1\",\"protected\":true,\"priority\":5,\"order\":1}],"
        "\"upgrade\":{\"state\":\"paused\",\"phase\":\"run\",\"current\":0,\"order\":[\"h1\"],\"command\":\"true\"}}"};
    pid_t p = start_fake(&(fake){.ha = true, .statuses = st, .n_statuses = 1});
    assert_int_equal(run("drover", "host", "undrain", "h1", "--failback", "--json", "--socket", sock, NULL), 0);
    HAS(g_out, "\"req\": \"failback\"");
    assert_int_equal(run("drover", "host", "degraded", "h1", "on", "--json", "--socket", sock, NULL), 0);
    HAS(g_out, "\"req\": \"degraded-on\"");
    assert_int_equal(run("drover", "host", "cordon", "nosuch", "--socket", sock, NULL), AG_EX_NOSUCH);
    HAS(g_err, "no host named nosuch");
    assert_int_equal(run("drover", "vm", "protect", "web1", "--priority", "-3", "--order", "2", "--socket", sock,
                         NULL), 0);
    HAS(g_out, "web1 is protected: priority 10, order 1, max restarts unlimited (decision 7)");
    HAS(g_err, "drover vm protect: warning: admission: losing h2");
    assert_int_equal(run("drover", "vm", "protect", "web1", "--max-restarts", "3", "--json", "--socket", sock,
                         NULL), 0);
    json_t *r = J(g_out), *got = json_object_get(r, "got");
    assert_int_equal(json_integer_value(json_object_get(got, "max_restarts")), 3);
    assert_null(json_object_get(got, "priority"));   /* not given, not sent */
    assert_true(json_is_true(json_object_get(got, "protect")));
    json_decref(r);
    assert_int_equal(run("drover", "vm", "unprotect", "web1", "--json", "--socket", sock, NULL), 0);
    HAS(g_out, "\"protect\": false");
    assert_int_equal(run("drover", "upgrade", "start", "--command", "apt-get -y upgrade", "--json", "--socket",
                         sock, NULL), 0);
    r = J(g_out);
    assert_null(json_object_get(json_object_get(r, "got"), "order"));   /* agent's default order */
    assert_string_equal(json_string_value(json_object_get(json_object_get(r, "got"), "command")), "apt-get -y upgrade");
    json_decref(r);
    assert_int_equal(run("drover", "upgrade", "start", "--command", "true", "--order", "h2,h1", "--json",
                         "--socket", sock, NULL), 0);
    HAS(g_out, "\"order\": [\n      \"h2\",\n      \"h1\"\n    ]");
    assert_int_equal(run("drover", "upgrade", "abort", "--socket", sock, NULL), 0);
    HAS(g_out, "upgrade abort: now running (decision 9)");
    assert_int_equal(run("drover", "upgrade", "status", "--socket", sock, NULL), 0);
    HAS(g_out, "upgrade  paused, host 1 of 1\n");
    HAS(g_out, "h1                   run        active\n");
    assert_int_equal(run("drover", "upgrade", "status", "--json", "--socket", sock, NULL), 0);
    HAS(g_out, "\"phase\": \"run\"");
    assert_int_equal(run("drover", "vm", "list", "--socket", sock, NULL), 0);
    HAS(g_out, "OWNER");
    HAS(g_out, "web1                 running         512     2 1s/1l    h1             yes     5     1");
    assert_int_equal(run("drover", "vm", "list", "--json", "--socket", sock, NULL), 0);
    HAS(g_out, "\"ha\": {");
    stop_fake(p);

    /* an agent without HA (unknown command ha.status -> 64): the old columns, no noise */
    p = start_fake(&(fake){.ha = false});
    assert_int_equal(run("drover", "vm", "list", "--socket", sock, NULL), 0);
    assert_null(strstr(g_out, "OWNER"));
    HAS(g_out, "db1                  shutoff      1024");
    assert_string_equal(g_err, "");
    assert_int_equal(run("drover", "host", "drain", "h1", "--socket", sock, NULL), AG_EX_USAGE);
    HAS(g_err, "does not know the command");
    stop_fake(p);
}

int main(void)
{
    snprintf(sock, sizeof sock, "/tmp/drover-cliha-%d.sock", (int)getpid());
    char operr[512];
    snprintf(g_op_path, sizeof g_op_path, "/tmp/drover-cliha-%d.operator.key", (int)getpid());
    unlink(g_op_path);
    if (ag_op_create(g_op_path, &g_op, operr, sizeof operr) != 0) {
        fprintf(stderr, "%s\n", operr);
        return 1;
    }
    setenv(AG_OP_ENV, g_op_path, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(watch_drain),
        cmocka_unit_test(watch_retry_and_stale),
        cmocka_unit_test(watch_attach_and_cancel),
        cmocka_unit_test(watch_failback),
        cmocka_unit_test(watch_odd_input),
        cmocka_unit_test(remaining_text_truncates),
        cmocka_unit_test(split_order),
        cmocka_unit_test(upgrade_table),
        cmocka_unit_test(vm_list_table),
        cmocka_unit_test(bad_arguments),
        cmocka_unit_test(drain_wait_text),
        cmocka_unit_test(drain_wait_tty),
        cmocka_unit_test(drain_wait_json),
        cmocka_unit_test(drain_deadline),
        cmocka_unit_test(drain_detach),
        cmocka_unit_test(other_commands),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    free(g_out);
    free(g_err);
    unlink(g_op_path);
    return rc;
}

/* Config: defaults, good values, and every kind of bad input names file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static const char *write_tmp(const char *text)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/drover-cfg-%d.conf", getpid());
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

static int load(const char *text, ag_config *c, char *err)
{
    ag_config_defaults(c);
    int rc = ag_config_load(c, write_tmp(text), err, 512);
    unlink(write_tmp(""));
    return rc;
}

static void defaults_and_values(void **state)
{
    (void)state;
    ag_config c;
    char err[512];
    assert_int_equal(load("# comment\n[agent]\nname = h7\nworkers = 8\n\n[ha]\nfence_timeout = 2.5s\n"
                          "[cluster]\nbind = 127.0.0.5:7000\n", &c, err), 0);
    assert_string_equal(c.name, "h7");
    assert_int_equal(c.workers, 8);
    assert_int_equal(c.fence_timeout_ms, 2500);
    assert_string_equal(c.state_dir, "/var/lib/drover");
    assert_string_equal(c.control_socket, "/run/drover/drover.sock");
    assert_string_equal(c.advertise, "127.0.0.5:7000");   /* defaults to bind */
    assert_string_equal(c.libvirt_uri, "qemu:///system");
}

static void expect_error(const char *text, int line, const char *needle)
{
    ag_config c;
    char err[512], want[32];
    assert_int_equal(load(text, &c, err), -1);
    snprintf(want, sizeof want, ".conf:%d:", line);
    if (!strstr(err, want) || !strstr(err, needle))
        fail_msg("error '%s' lacks '%s' or '%s'", err, want, needle);
}

static void bad_input(void **state)
{
    (void)state;
    expect_error("[agent]\nname = a\nbogus = 1\n", 3, "unknown key 'bogus'");
    expect_error("[nosuch]\nx = 1\n", 2, "unknown section [nosuch]");
    expect_error("[agent]\nworkers = 0\n", 2, "whole number from 1 to 64");
    expect_error("[agent]\nworkers = 4x\n", 2, "whole number");
    expect_error("[agent]\nlog_level = loud\n", 2, "error|warn|info|debug");
    expect_error("\n\n[ha]\nfence_timeout = 10\n", 4, "with a unit");
    expect_error("[ha]\nfence_timeout = 1ms\n", 2, "duration");
    expect_error("[agent]\nthis line has no equals sign\n", 2, "not valid INI");
    char longname[400];
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    char text[512];
    snprintf(text, sizeof text, "[agent]\nname = %s\n", longname);
    expect_error(text, 2, "too long");
}

static void missing_file(void **state)
{
    (void)state;
    ag_config c;
    char err[512];
    ag_config_defaults(&c);
    assert_int_equal(ag_config_load(&c, "/nonexistent/drover.conf", err, sizeof err), -2);
    assert_non_null(strstr(err, "/nonexistent/drover.conf"));
}

static void durations(void **state)
{
    (void)state;
    int64_t ms;
    assert_int_equal(ag_parse_duration_ms("500ms", &ms), 0);
    assert_int_equal(ms, 500);
    assert_int_equal(ag_parse_duration_ms("1m", &ms), 0);
    assert_int_equal(ms, 60000);
    assert_int_equal(ag_parse_duration_ms("1h", &ms), 0);
    assert_int_equal(ms, 3600000);
    assert_int_equal(ag_parse_duration_ms("5", &ms), -1);
    assert_int_equal(ag_parse_duration_ms("-1s", &ms), -1);
    assert_int_equal(ag_parse_duration_ms("s", &ms), -1);
    assert_int_equal(ag_parse_duration_ms("3days", &ms), -1);
}

int main(void)
{
    const struct CMUnitTest t[] = {
        cmocka_unit_test(defaults_and_values),
        cmocka_unit_test(bad_input),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(durations),
    };
    return cmocka_run_group_tests(t, NULL, NULL);
}

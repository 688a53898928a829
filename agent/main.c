/* main.c — `drover` entry point: finds the subcommand and runs it. */
#include "cli.h"
#include "config.h"
#include "ctl.h"
#include "exitcodes.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>

static const ag_cmd *const tables[] = {ag_cmds_core, ag_cmds_members, ag_cmds_kv, ag_cmds_join, ag_cmds_vm, ag_cmds_ha, ag_cmds_events, ag_cmds_place};

static void help_all(FILE *f)
{
    fprintf(f, "drover %s — self-managing KVM/libvirt cluster agent\n\n"
               "Usage: drover COMMAND [OPTIONS]\n\nCommands:\n", DROVER_VERSION);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const ag_cmd *c = tables[t]; c->name; c++)
            fprintf(f, "  %-22s %s\n", c->name, c->summary);
    fprintf(f, "\n`drover COMMAND --help` explains one command. Exit codes follow Pacemaker's:\n"
               "0 ok, 1 error, 2 invalid argument, 4 needs root, 64 usage, 69 agent unreachable,\n"
               "78 bad config, 105 no such item, 106 no quorum, 107 unsafe, 108 exists, 124 timeout.\n");
}

static const ag_cmd *find(const char *name)
{
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const ag_cmd *c = tables[t]; c->name; c++)
            if (strcmp(c->name, name) == 0)
                return c;
    return NULL;
}

static bool is_group(const char *word)
{
    size_t n = strlen(word);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const ag_cmd *c = tables[t]; c->name; c++)
            if (strncmp(c->name, word, n) == 0 && c->name[n] == ' ')
                return true;
    return false;
}

static void help_group(FILE *f, const char *word)
{
    size_t n = strlen(word);
    fprintf(f, "Commands under `drover %s`:\n", word);
    for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
        for (const ag_cmd *c = tables[t]; c->name; c++)
            if (strncmp(c->name, word, n) == 0 && c->name[n] == ' ')
                fprintf(f, "  %-22s %s\n", c->name, c->summary);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        help_all(stderr);
        return AG_EX_USAGE;
    }
    const char *a1 = argv[1];
    if (!strcmp(a1, "--version") || !strcmp(a1, "version")) {
        printf("drover %s\n", DROVER_VERSION);
        return AG_EX_OK;
    }
    if (!strcmp(a1, "help") || !strcmp(a1, "--help") || !strcmp(a1, "-h")) {
        if (argc > 2) {
            char name[128];
            snprintf(name, sizeof name, "%s%s%s", argv[2], argc > 3 ? " " : "", argc > 3 ? argv[3] : "");
            const ag_cmd *c = find(name);
            if (c) {
                fputs(c->usage, stdout);
                return AG_EX_OK;
            }
            if (is_group(argv[2])) {
                help_group(stdout, argv[2]);
                return AG_EX_OK;
            }
            fprintf(stderr, "drover: no command '%s'\n", name);
            return AG_EX_USAGE;
        }
        help_all(stdout);
        return AG_EX_OK;
    }
    if (!strcmp(a1, "agent"))
        return ag_daemon_main(argc - 1, argv + 1);

    if (argc > 2 && argv[2][0] != '-') {
        char two[128];
        snprintf(two, sizeof two, "%s %s", a1, argv[2]);
        const ag_cmd *c = find(two);
        if (c)
            return c->run(argc - 2, argv + 2);
    }
    const ag_cmd *c = find(a1);
    if (c)
        return c->run(argc - 1, argv + 1);
    if (is_group(a1)) {
        if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
            help_group(stdout, a1);
            return AG_EX_OK;
        }
        if (argc > 2)
            fprintf(stderr, "drover %s: unknown subcommand '%s'\n", a1, argv[2]);
        help_group(stderr, a1);
        return AG_EX_USAGE;
    }
    fprintf(stderr, "drover: unknown command '%s'. Run `drover help` for the list.\n", a1);
    return AG_EX_USAGE;
}

/* ---- helpers shared by client commands (cli.h) ------------------------------------ */

void cli_common_init(cli_common *c)
{
    memset(c, 0, sizeof *c);
}

int cli_common_config(cli_common *c, const char *config_path)
{
    if (c->socket[0])
        return 0;
    if (config_path) {
        ag_config cfg;
        char err[512];
        ag_config_defaults(&cfg);
        if (ag_config_load(&cfg, config_path, err, sizeof err) != 0) {
            fprintf(stderr, "drover: %s\n", err);
            return AG_EX_CONFIG;
        }
        snprintf(c->socket, sizeof c->socket, "%s", cfg.control_socket);
        return 0;
    }
    const char *env = getenv("DROVER_SOCKET");
    snprintf(c->socket, sizeof c->socket, "%s", env && *env ? env : "/run/drover/drover.sock");
    return 0;
}

int cli_call_stream(const cli_common *c, const char *cmd, json_t *args,
                    void (*on_event)(json_t *ev, void *ud), void *ud, int timeout_ms,
                    json_t **result)
{
    char err[2048];
    int rc = ag_ctl_call(c->socket, cmd, args, on_event, ud, timeout_ms, result, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "drover: %s\n", err[0] ? err : "the agent reported a failure without a message");
        json_decref(*result);
        *result = NULL;
    }
    return rc;
}

int cli_call(const cli_common *c, const char *cmd, json_t *args, json_t **result)
{
    /* 30 s: long enough for a busy agent, short enough that a hung one is reported */
    return cli_call_stream(c, cmd, args, NULL, NULL, 30000, result);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "drover %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'drover %s --help'.\n", cmd);
    va_end(ap);
    return AG_EX_USAGE;
}

int cli_bad_option(const char *cmd, char **argv)
{
    if (optopt)
        return cli_usage_error(cmd, "option '-%c' is unknown or needs a value", optopt);
    return cli_usage_error(cmd, "option '%s' is unknown or needs a value", argv[optind - 1]);
}

/* See cli.h. Returns 0 to go on, -1 after printing --help, or an exit code. */
int cli_parse(int argc, char **argv, const char *cmd, const char *usage, cli_common *cc,
                        const char *extra_short, const struct option *extra, int (*on)(int o, void *ud), void *ud)
{
    struct option opts[24];
    size_t n = 0;
    for (const struct option *e = extra; e && e->name; e++)
        opts[n++] = *e;
    opts[n++] = (struct option){"json", no_argument, 0, 'j'};
    opts[n++] = (struct option){"socket", required_argument, 0, 's'};
    opts[n++] = (struct option){"config", required_argument, 0, 'c'};
    opts[n++] = (struct option){"help", no_argument, 0, 'h'};
    opts[n++] = (struct option){"operator-key", required_argument, 0, CLI_OPT_OPERATOR_KEY};
    opts[n] = (struct option){0, 0, 0, 0};
    char shorts[64];
    snprintf(shorts, sizeof shorts, "js:c:h%s", extra_short);
    const char *config = NULL;
    cli_common_init(cc);
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        switch (o) {
        case 'j': cc->json = true; break;
        case 's': snprintf(cc->socket, sizeof cc->socket, "%s", optarg); break;
        case 'c': config = optarg; break;
        case CLI_OPT_OPERATOR_KEY: snprintf(cc->operator_key, sizeof cc->operator_key, "%s", optarg); break;
        case 'h': fputs(usage, stdout); return -1;
        case '?': return cli_bad_option(cmd, argv);
        default:
            if (on(o, ud) != 0)
                return AG_EX_INVALID;
        }
    }
    return cli_common_config(cc, config);
}

void cli_print_json(json_t *v)
{
    char *s = json_dumps(v, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (s) {
        puts(s);
        free(s);
    }
}

/* cli.h — the `drover` command line: a table of subcommands and the helpers they share.
 *
 * Every subcommand but `agent` and `init` is a client of the local agent's control
 * socket (ctl.h). Exit codes are exitcodes.h. Every listing takes --json and then prints
 * the agent's JSON object as is.
 */
#ifndef DROVER_CLI_H
#define DROVER_CLI_H

#include <jansson.h>
#include <stdbool.h>

typedef struct ag_cmd {
    const char *name;      /* "status", or "vm migrate" for a two-word command */
    int (*run)(int argc, char **argv);   /* argv[0] is the command name */
    const char *summary;   /* one line for `drover help` */
    const char *usage;     /* full text for `drover CMD --help` */
} ag_cmd;

/* Tables, one per file that adds commands; main.c lists them. NULL-name terminated. */
extern const ag_cmd ag_cmds_core[];
extern const ag_cmd ag_cmds_members[];
extern const ag_cmd ag_cmds_kv[];
extern const ag_cmd ag_cmds_join[];
extern const ag_cmd ag_cmds_vm[];
extern const ag_cmd ag_cmds_events[];
extern const ag_cmd ag_cmds_place[];

/* Options every client command accepts: --socket PATH, -c/--config FILE, --json.
 * cli_common_opt() handles one getopt result; returns true when it consumed it. */
typedef struct cli_common {
    char socket[256];
    bool json;
} cli_common;

void cli_common_init(cli_common *c);
/* Resolve the socket path: --socket, else [agent] control_socket of -c FILE, else
 * $DROVER_SOCKET, else /run/drover/drover.sock. Returns 0 or an exit code (bad config). */
int  cli_common_config(cli_common *c, const char *config_path);

/* Parse the options every client command shares (--json, --socket, -c/--config,
 * --help) plus the command's own (extra_short / extra, handed to on_opt), then resolve
 * the socket. Returns 0 to go on, -1 when --help was printed (exit 0), or an exit code
 * after printing what was wrong. optind then points at the positional arguments. */
struct option;
int  cli_parse(int argc, char **argv, const char *cmd, const char *usage, cli_common *cc,
               const char *extra_short, const struct option *extra, int (*on_opt)(int o, void *ud),
               void *ud);

/* Call the agent and handle the common outcomes: on failure print "drover: ERROR" to
 * stderr and return the exit code; on success return 0 with *result set. */
int  cli_call(const cli_common *c, const char *cmd, json_t *args, json_t **result);
int  cli_call_stream(const cli_common *c, const char *cmd, json_t *args,
                     void (*on_event)(json_t *ev, void *ud), void *ud, int timeout_ms,
                     json_t **result);

/* Print usage error: "drover CMD: MSG\nTry 'drover CMD --help'." and return AG_EX_USAGE. */
int  cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After getopt_long returned '?' (call with opterr = 0): names the bad option. */
int  cli_bad_option(const char *cmd, char **argv);
void cli_print_json(json_t *v);

/* The agent daemon's entry point (daemon.c). */
int  ag_daemon_main(int argc, char **argv);

#endif

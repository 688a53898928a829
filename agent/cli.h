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
#include <stdio.h>

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
extern const ag_cmd ag_cmds_ha[];

/* Options every client command accepts: --socket PATH, -c/--config FILE, --json,
 * --operator-key FILE (used by admin commands only).
 * cli_common_opt() handles one getopt result; returns true when it consumed it. */
typedef struct cli_common {
    char socket[256];
    bool json;
    char operator_key[256];   /* --operator-key FILE ("" : $DROVER_OPERATOR_KEY or the default) */
} cli_common;

#define CLI_OPT_OPERATOR_KEY 0x4f4b   /* getopt value of --operator-key (no short form) */

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

/* An admin call (state.put, token.create, members.remove, ha.admin, ha.protect,
 * ha.upgrade): load the operator key (cc->operator_key, $DROVER_OPERATOR_KEY or
 * /etc/drover/operator.key), check it is an operator of the agent's cluster, sign
 * {cmd, args} (args stolen) and call. Errors are printed; AG_EX_NOPERM for a missing,
 * unreadable or foreign key and for a refused grant. */
int  cli_admin_call(const cli_common *c, const char *cmd, json_t *args, json_t **result);

/* Print usage error: "drover CMD: MSG\nTry 'drover CMD --help'." and return AG_EX_USAGE. */
int  cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After getopt_long returned '?' (call with opterr = 0): names the bad option. */
int  cli_bad_option(const char *cmd, char **argv);
void cli_print_json(json_t *v);

/* ---- HA commands (cli_ha.c, cli_vm.c): the parts that need no agent, unit-tested ---- */

/* Follows successive "ha.status" answers (ha_drv.h) for `host drain --wait` and
 * `host undrain --failback --wait` and turns each change into events, one JSON object
 * each ({"event": "moving"|"moved"|"stopped"|"stuck"|"maintenance"|"home"|"cancelled",
 * ...}; "stopped": a move shown in progress ended without the VM changing owner).
 * DRAIN watches the VMs HOST owns leave it; FAILBACK watches the VMs whose home is
 * HOST come back. The first status only sets the baseline (plus stuck and moving lines). */
typedef enum cli_watch_mode { CLI_WATCH_DRAIN = 0, CLI_WATCH_FAILBACK } cli_watch_mode;

typedef struct cli_watch {
    cli_watch_mode mode;
    char host[64];
    json_t *prev;   /* the last status seen */
    json_t *moved;  /* {vm: destination} moved during the watch (or before it, by home) */
    json_t *shown;  /* {vm: last progress key} so a moving line prints once per change */
    json_t *stuck;  /* {vm: last stuck reason printed} */
    bool seen_draining; /* DRAIN: the host was seen draining (so "active" now = undrained) */
    bool done;      /* a final event (maintenance, home, cancelled) was returned */
    int exit_code;  /* meaningful once done: 0, or AG_EX_ERROR when cancelled */
} cli_watch;

void    cli_watch_init(cli_watch *w, cli_watch_mode mode, const char *host);
void    cli_watch_free(cli_watch *w);
/* Feed one ha.status result (borrowed). Returns a new array of events, possibly empty. */
json_t *cli_watch_step(cli_watch *w, json_t *status);
/* One event as the text line the CLI prints (no newline). Returns the length written
 * (truncated to len - 1 like snprintf). */
int     cli_watch_line(const json_t *ev, char *buf, size_t len);
/* What has not arrived yet, from the last status: a new array of {vm, moving_to?,
 * percent?, stuck?}; and the same as one line "a (-> h2 40%), b (cannot move: ...)". */
json_t *cli_watch_remaining(const cli_watch *w);
void    cli_watch_remaining_text(const json_t *rem, char *buf, size_t len);

/* "h1,h2,h3" -> ["h1","h2","h3"] for `upgrade start --order`. Refuses empty names,
 * duplicates, names longer than the agent keeps and more hosts than a cluster has.
 * Returns 0, or -1 with err saying what was wrong. */
int     cli_ha_split_order(const char *list, json_t **out, char *err, size_t errlen);
/* The `upgrade status` table (and its JSON form) from an ha.status result. */
json_t *cli_upgrade_rows(json_t *status);
void    cli_upgrade_print(FILE *f, json_t *status);
/* `vm list`: the libvirt inventory (vm.list result) joined with ha.status (NULL: the
 * agent has no HA state, print the old columns). merge adds an "ha" object to each VM
 * and appends the cluster's VMs this host does not have ({name, remote: true, ha}). */
void    cli_vm_list_print(FILE *f, json_t *inventory, json_t *ha_status);
json_t *cli_vm_list_merge(json_t *inventory, json_t *ha_status);

/* The agent daemon's entry point (daemon.c). */
int  ag_daemon_main(int argc, char **argv);

#endif

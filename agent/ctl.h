/* ctl.h — the local control socket between the `drover` CLI and its agent.
 *
 * Transport: a unix stream socket (default /run/drover/drover.sock, mode 0600: root
 * only, like libvirtd's rw socket). Framing: 4-byte big-endian length, then a JSON
 * object; frames over AG_CTL_MAX_FRAME are refused and the connection closed.
 *
 * Exchange: the client sends one request {"cmd": "status", "args": {...}}; the agent
 * answers with zero or more progress frames {"event": {...}} (drain progress, migration
 * %, `events --follow`) and exactly one final frame
 *   {"final": true, "ok": true|false, "code": <exit code>, "error": "...", "result": {...}}
 * after which it closes the connection. JSON because every listing must also print as
 * `--json`, and the CLI can then pass the agent's own object through untouched.
 */
#ifndef DROVER_CTL_H
#define DROVER_CTL_H

#include <jansson.h>
#include <stddef.h>

#include "loop.h"

#define AG_CTL_MAX_FRAME (16u << 20)   /* 16 MiB: a full `vm list --json` of 10k VMs fits */
#define AG_CTL_MAX_CONNS 64            /* concurrent CLI clients */
#define AG_CTL_MAX_OUT (64u << 20)     /* unread answer bytes per client; then progress is dropped */
#define AG_CTL_IDLE_MS 10000           /* a client must send its whole request within this */

/* ---- server side (in the agent) ---- */
typedef struct ag_ctl ag_ctl;
typedef struct ag_ctl_req ag_ctl_req;

/* A handler must eventually call ag_ctl_finish exactly once (possibly later, from a
 * worker completion or timer), unless the client goes away first: then on_close runs and
 * req is no longer valid after it returns. */
typedef void (*ag_ctl_fn)(ag_ctl_req *req, json_t *args, void *ud);
typedef void (*ag_ctl_close_fn)(ag_ctl_req *req, void *ud);

int  ag_ctl_listen(ag_loop *l, const char *path, ag_ctl **out, char *err, size_t errlen);
void ag_ctl_close(ag_ctl *c);
/* Register a command. name must outlive c. */
int  ag_ctl_register(ag_ctl *c, const char *name, ag_ctl_fn fn, void *ud);

/* Progress frame; event is stolen. */
void ag_ctl_send(ag_ctl_req *r, json_t *event);
/* Final frame; result is stolen (NULL allowed). code is an ag_exit value; when non-zero,
 * error is the message shown to the user ("what was wrong and what to do"). */
void ag_ctl_finish(ag_ctl_req *r, int code, json_t *result, const char *error_fmt, ...)
    __attribute__((format(printf, 4, 5)));
void ag_ctl_on_close(ag_ctl_req *r, ag_ctl_close_fn fn, void *ud);
/* The client's uid and pid (SO_PEERCRED at accept), for journalling who asked. Only root
 * and the agent's own uid get this far: others are refused at accept. */
void ag_ctl_caller(const ag_ctl_req *r, uint32_t *uid, uint32_t *pid);
/* Who is asking right now (issue 12: the caller in events). While a handler runs (its
 * synchronous part) its request is the current one, and the event journal stamps what is
 * journalled then with the caller's uid and pid (events.c), so no handler repeats that.
 * NULL outside a handler. Work done later for a request, or done for the cluster inside a
 * handler (a commit applied at once in a one-host cluster), brackets itself with
 * prev = ag_ctl_act_as(c, req or NULL) ... ag_ctl_act_as(c, prev). c may be NULL. */
const ag_ctl_req *ag_ctl_current(const ag_ctl *c);
const ag_ctl_req *ag_ctl_act_as(ag_ctl *c, const ag_ctl_req *r);

/* Every connection refused or cut short, by reason (none is silent). */
typedef struct ag_ctl_stats {
    uint64_t accepted;
    uint64_t refused_peer;       /* uid neither root nor the agent's */
    uint64_t refused_full;       /* AG_CTL_MAX_CONNS clients already connected */
    uint64_t refused_oversize;   /* request frame over AG_CTL_MAX_FRAME */
    uint64_t refused_malformed;  /* not {"cmd": ..., "args": {...}} */
    uint64_t dropped_idle;       /* no whole request within AG_CTL_IDLE_MS */
    uint64_t frames_dropped;     /* progress frames over AG_CTL_MAX_OUT unread bytes */
} ag_ctl_stats;
const ag_ctl_stats *ag_ctl_get_stats(const ag_ctl *c);
/* Idle limit for a client's request (default AG_CTL_IDLE_MS; tests shorten it). */
void ag_ctl_set_idle_ms(ag_ctl *c, uint64_t idle_ms);

/* ---- client side (in the CLI) ---- */
typedef void (*ag_ctl_event_fn)(json_t *event, void *ud);

/* Send {cmd, args} (args stolen, NULL for {}), call on_event for each progress frame,
 * and return the final frame's code with *result (caller decrefs) and err filled.
 * Local failures return AG_EX_UNAVAILABLE (agent not running), AG_EX_PRIVILEGES
 * (socket not accessible), AG_EX_PROTOCOL (garbage answer) with err saying so.
 * timeout_ms 0 waits forever (e.g. `events --follow`). */
int ag_ctl_call(const char *path, const char *cmd, json_t *args, ag_ctl_event_fn on_event,
                void *ud, int timeout_ms, json_t **result, char *err, size_t errlen);

#endif

/* ctl.c — control socket server and client; see ctl.h for the protocol. */
#include "ctl.h"
#include "exitcodes.h"
#include "fsutil.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>

struct buf {
    char *p;
    size_t len, cap, off;
};

static int buf_append(struct buf *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p)
            return -ENOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    return 0;
}

/* ---- server ----------------------------------------------------------------------- */

struct handler {
    const char *name;
    ag_ctl_fn fn;
    void *ud;
};

struct ag_ctl_req {
    ag_ctl *ctl;
    int fd;
    ag_id io;
    uint64_t accepted_ms;
    uint32_t uid, pid;
    struct buf in, out;
    bool got_request, finished;
    ag_ctl_close_fn on_close;
    void *close_ud;
    ag_ctl_req *next;
};

struct ag_ctl {
    ag_loop *loop;
    int fd;
    ag_id io;
    char path[108];
    struct handler *h;
    size_t nh;
    ag_ctl_req *conns;
    int nconns;
    ag_id idle_timer;
    uint64_t idle_ms;
    ag_ctl_stats stats;
    const ag_ctl_req *current;   /* whose handler runs now (ag_ctl_current) */
};

static void conn_free(ag_ctl_req *r, bool notify)
{
    ag_ctl *c = r->ctl;
    if (notify && !r->finished && r->on_close)
        r->on_close(r, r->close_ud);
    if (c->current == r)
        c->current = NULL;
    ag_loop_remove(c->loop, r->io);
    close(r->fd);
    for (ag_ctl_req **pp = &c->conns; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            break;
        }
    }
    c->nconns--;
    free(r->in.p);
    free(r->out.p);
    free(r);
}

static void queue_frame(ag_ctl_req *r, json_t *obj, bool final)
{
    char *s = json_dumps(obj, JSON_COMPACT);
    json_decref(obj);
    if (!s)
        return;
    size_t n = strlen(s);
    /* A client that stops reading (events --follow into a stuck pager) must not grow the
     * agent without bound: its progress frames are dropped and counted; the final frame
     * still goes. */
    if (!final && r->out.len - r->out.off + n > AG_CTL_MAX_OUT) {
        r->ctl->stats.frames_dropped++;
        free(s);
        return;
    }
    uint32_t be = htobe32((uint32_t)n);
    if (buf_append(&r->out, &be, 4) == 0)
        buf_append(&r->out, s, n);
    free(s);
    ag_loop_set_events(r->ctl->loop, r->io, ZMQ_POLLIN | ZMQ_POLLOUT);
}

void ag_ctl_send(ag_ctl_req *r, json_t *event)
{
    if (r->finished) {
        json_decref(event);
        return;
    }
    queue_frame(r, json_pack("{s:o}", "event", event), false);
}

void ag_ctl_finish(ag_ctl_req *r, int code, json_t *result, const char *fmt, ...)
{
    if (r->finished) {
        json_decref(result);
        return;
    }
    char msg[2048] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
    }
    json_t *f = json_pack("{s:b,s:b,s:i}", "final", 1, "ok", code == 0, "code", code);
    if (msg[0])
        json_object_set_new(f, "error", json_string(msg));
    json_object_set_new(f, "result", result ? result : json_object());
    queue_frame(r, f, true);
    r->finished = true;
}

void ag_ctl_on_close(ag_ctl_req *r, ag_ctl_close_fn fn, void *ud)
{
    r->on_close = fn;
    r->close_ud = ud;
}

static void dispatch(ag_ctl_req *r, const char *frame, size_t n)
{
    json_error_t je;
    json_t *req = json_loadb(frame, n, 0, &je);
    const char *cmd = NULL;
    json_t *args = NULL;
    if (!req || json_unpack(req, "{s:s,s?o}", "cmd", &cmd, "args", &args) != 0) {
        json_decref(req);
        r->ctl->stats.refused_malformed++;
        ag_ctl_finish(r, AG_EX_PROTOCOL, NULL, "request is not {\"cmd\": ..., \"args\": {...}}");
        return;
    }
    ag_ctl *c = r->ctl;
    for (size_t i = 0; i < c->nh; i++) {
        if (strcmp(c->h[i].name, cmd) == 0) {
            json_t *a = args ? json_incref(args) : json_object();
            json_decref(req);
            const ag_ctl_req *prev = ag_ctl_act_as(c, r);
            c->h[i].fn(r, a, c->h[i].ud);
            ag_ctl_act_as(c, prev);
            json_decref(a);
            return;
        }
    }
    ag_ctl_finish(r, AG_EX_USAGE, NULL, "the agent does not know the command '%s' "
                  "(is the CLI newer than the agent? compare `drover --version` and `drover status`)", cmd);
    json_decref(req);
}

static void on_conn(ag_loop *l, ag_id id, short revents, void *ud)
{
    (void)l; (void)id;
    ag_ctl_req *r = ud;
    if (revents & ZMQ_POLLIN) {
        char tmp[65536];
        ssize_t n = read(r->fd, tmp, sizeof tmp);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            conn_free(r, true);
            return;
        }
        if (n > 0 && !r->got_request) {
            if (buf_append(&r->in, tmp, (size_t)n) != 0) {
                conn_free(r, true);
                return;
            }
            if (r->in.len >= 4) {
                uint32_t be;
                memcpy(&be, r->in.p, 4);
                uint32_t len = be32toh(be);
                if (len > AG_CTL_MAX_FRAME) {
                    r->got_request = true;
                    r->ctl->stats.refused_oversize++;
                    ag_ctl_finish(r, AG_EX_PROTOCOL, NULL, "request frame of %u bytes exceeds %u",
                                  len, AG_CTL_MAX_FRAME);
                } else if (r->in.len >= 4 + (size_t)len) {
                    r->got_request = true;
                    dispatch(r, r->in.p + 4, len);   /* may finish (and queue) at once */
                }
            }
        }
        /* bytes after the request are ignored: one request per connection */
    }
    if (revents & ZMQ_POLLOUT) {
        while (r->out.off < r->out.len) {
            ssize_t w = write(r->fd, r->out.p + r->out.off, r->out.len - r->out.off);
            if (w < 0) {
                if (errno == EAGAIN || errno == EINTR)
                    break;
                conn_free(r, true);
                return;
            }
            r->out.off += (size_t)w;
        }
        if (r->out.off == r->out.len) {
            r->out.off = r->out.len = 0;
            if (r->finished) {
                conn_free(r, false);
                return;
            }
            ag_loop_set_events(r->ctl->loop, r->io, ZMQ_POLLIN);
        }
    }
}

/* Who is on the other end. The socket file is 0600, so only its owner (root) can connect
 * at all; the check still holds if someone widens the mode or hands the fd on: only root
 * and the agent's own user may drive the agent. */
static bool peer_allowed(int fd, uint32_t *uid, uint32_t *pid)
{
    struct ucred cr;
    socklen_t len = sizeof cr;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0)
        return false;
    *uid = (uint32_t)cr.uid;
    *pid = (uint32_t)cr.pid;
    return cr.uid == 0 || cr.uid == geteuid();
}

static void refuse(ag_ctl *c, int fd, uint32_t uid)
{
    char msg[160];
    int n = snprintf(msg + 4, sizeof msg - 4,
                     "{\"final\":true,\"ok\":false,\"code\":%d,\"error\":\"uid %u may not use "
                     "the agent's control socket: run drover as root\"}", AG_EX_PRIVILEGES, uid);
    uint32_t be = htobe32((uint32_t)n);
    memcpy(msg, &be, 4);
    (void)!write(fd, msg, 4 + (size_t)n);   /* best effort: a fresh socket has room */
    close(fd);
    c->stats.refused_peer++;
}

static void on_accept(ag_loop *l, ag_id id, short revents, void *ud)
{
    (void)id; (void)revents;
    ag_ctl *c = ud;
    for (;;) {
        int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        uint32_t uid = 0, pid = 0;
        if (!peer_allowed(fd, &uid, &pid)) {
            refuse(c, fd, uid);
            continue;
        }
        if (c->nconns >= AG_CTL_MAX_CONNS) {   /* bounded: a stuck client cannot pile up */
            c->stats.refused_full++;
            close(fd);
            continue;
        }
        ag_ctl_req *r = calloc(1, sizeof *r);
        if (!r) {
            close(fd);
            continue;
        }
        r->ctl = c;
        r->fd = fd;
        r->uid = uid;
        r->pid = pid;
        r->accepted_ms = ag_now_ms();
        r->io = ag_loop_add_fd(l, fd, ZMQ_POLLIN, on_conn, r);
        if (!r->io) {
            close(fd);
            free(r);
            continue;
        }
        r->next = c->conns;
        c->conns = r;
        c->nconns++;
        c->stats.accepted++;
    }
}

/* A client that connected and has not sent its whole request within AG_CTL_IDLE_MS is
 * gone or hostile: it holds one of AG_CTL_MAX_CONNS slots. Requests under way (a drain
 * --wait, events --follow) are not idle: their client is waiting for us. */
static void drop_idle(ag_loop *l, ag_id id, void *ud)
{
    (void)l; (void)id;
    ag_ctl *c = ud;
    uint64_t now = ag_now_ms();
    for (ag_ctl_req *r = c->conns, *next; r; r = next) {
        next = r->next;
        if (!r->got_request && now >= r->accepted_ms + c->idle_ms) {
            c->stats.dropped_idle++;
            conn_free(r, true);
        }
    }
}

int ag_ctl_listen(ag_loop *l, const char *path, ag_ctl **out, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "control socket path %s is longer than %zu bytes", path,
                 sizeof sa.sun_path - 1);
        return -ENAMETOOLONG;
    }
    char dir[sizeof sa.sun_path];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        int rc = ag_mkdir_p(dir, 0700);
        if (rc) {
            snprintf(err, errlen, "cannot create %s: %s", dir, strerror(-rc));
            return rc;
        }
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -errno;
    }
    /* A live agent answers on the socket; a stale file from a crash does not. Refuse to
     * steal a live agent's socket, replace a stale one. */
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof sa) == 0) {
        close(probe);
        close(fd);
        snprintf(err, errlen, "another agent is already serving %s (stop it, or set "
                 "[agent] control_socket to another path)", path);
        return -EADDRINUSE;
    }
    if (probe >= 0)
        close(probe);
    unlink(path);
    /* Linux creates the socket file with the socket inode's mode less the umask: set
     * 0600 on the inode first, so the file is never wider, without touching the
     * process-wide umask (other threads create files meanwhile) */
    int rc = fchmod(fd, 0600);
    if (rc == 0)
        rc = bind(fd, (struct sockaddr *)&sa, sizeof sa);
    if (rc != 0 || listen(fd, 64) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(e));
        close(fd);
        return -e;
    }
    chmod(path, 0600);
    ag_ctl *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    c->loop = l;
    c->fd = fd;
    snprintf(c->path, sizeof c->path, "%s", path);
    c->io = ag_loop_add_fd(l, fd, ZMQ_POLLIN, on_accept, c);
    ag_ctl_set_idle_ms(c, AG_CTL_IDLE_MS);
    *out = c;
    return 0;
}

int ag_ctl_register(ag_ctl *c, const char *name, ag_ctl_fn fn, void *ud)
{
    struct handler *h = realloc(c->h, (c->nh + 1) * sizeof *h);
    if (!h)
        return -ENOMEM;
    c->h = h;
    c->h[c->nh++] = (struct handler){name, fn, ud};
    return 0;
}

/* Replies already queued (e.g. the answer to the command that stopped the agent) are
 * worth a short wait: a client would otherwise see "connection closed" for a command
 * that succeeded. Bounded so a stuck client cannot hold up shutdown. */
static void flush_before_close(ag_ctl_req *r)
{
    while (r->out.off < r->out.len) {
        struct pollfd pf = {.fd = r->fd, .events = POLLOUT};
        if (poll(&pf, 1, 200) <= 0)
            return;
        ssize_t w = write(r->fd, r->out.p + r->out.off, r->out.len - r->out.off);
        if (w <= 0)
            return;
        r->out.off += (size_t)w;
    }
}

void ag_ctl_close(ag_ctl *c)
{
    if (!c)
        return;
    for (ag_ctl_req *r = c->conns; r; r = r->next)
        flush_before_close(r);
    while (c->conns)
        conn_free(c->conns, true);
    ag_loop_remove(c->loop, c->io);
    if (c->idle_timer)
        ag_loop_remove(c->loop, c->idle_timer);
    close(c->fd);
    unlink(c->path);
    free(c->h);
    free(c);
}

/* ---- client ----------------------------------------------------------------------- */

static int read_full(int fd, void *p, size_t n, int timeout_ms)
{
    char *b = p;
    while (n > 0) {
        struct pollfd pf = {.fd = fd, .events = POLLIN};
        int pr = poll(&pf, 1, timeout_ms > 0 ? timeout_ms : -1);
        if (pr == 0)
            return -ETIMEDOUT;
        if (pr < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        ssize_t r = read(fd, b, n);
        if (r == 0)
            return -ECONNRESET;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

int ag_ctl_call(const char *path, const char *cmd, json_t *args, ag_ctl_event_fn on_event,
                void *ud, int timeout_ms, json_t **result, char *err, size_t errlen)
{
    *result = NULL;
    json_t *req = json_pack("{s:s,s:o}", "cmd", cmd, "args", args ? args : json_object());
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof sa.sun_path) {
        json_decref(req);
        snprintf(err, errlen, "control socket path too long: %s", path);
        return AG_EX_INVALID;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        json_decref(req);
        if (e == EACCES || e == EPERM) {
            snprintf(err, errlen, "permission denied on %s: the control socket is root-only; "
                     "run drover as root", path);
            return AG_EX_PRIVILEGES;
        }
        snprintf(err, errlen, "cannot reach the drover agent at %s (%s): is it running? "
                 "start it with `drover agent -c /etc/drover/drover.conf` or pass --socket PATH",
                 path, strerror(e));
        return AG_EX_UNAVAILABLE;
    }
    char *s = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    size_t n = strlen(s);
    uint32_t be = htobe32((uint32_t)n);
    /* A refusal at accept (ctl.c refuse) is written before the agent closes: the send may
     * fail (EPIPE, no signal) and the refusal still be there to read. */
    int sent = (send(fd, &be, 4, MSG_NOSIGNAL) == 4 && send(fd, s, n, MSG_NOSIGNAL) == (ssize_t)n)
                   ? 0 : -errno;
    free(s);
    int rc;
    for (;;) {
        uint32_t len;
        rc = read_full(fd, &be, 4, timeout_ms);
        if (rc == 0) {
            len = be32toh(be);
            if (len > AG_CTL_MAX_FRAME)
                rc = -EPROTO;
        }
        char *frame = NULL;
        if (rc == 0) {
            frame = malloc(len ? len : 1);
            rc = frame ? read_full(fd, frame, len, timeout_ms) : -ENOMEM;
        }
        if (rc) {
            free(frame);
            close(fd);
            if (sent) {
                snprintf(err, errlen, "lost the agent while sending: %s", strerror(-sent));
                return AG_EX_UNAVAILABLE;
            }
            if (rc == -ETIMEDOUT) {
                snprintf(err, errlen, "the agent did not answer '%s' within %d ms", cmd, timeout_ms);
                return AG_EX_TIMEOUT;
            }
            snprintf(err, errlen, "the agent closed the connection before answering '%s' (%s); "
                     "check its log", cmd, strerror(-rc));
            return rc == -EPROTO ? AG_EX_PROTOCOL : AG_EX_UNAVAILABLE;
        }
        json_error_t je;
        json_t *f = json_loadb(frame, len, 0, &je);
        free(frame);
        json_t *ev;
        if (f && (ev = json_object_get(f, "event"))) {
            if (on_event)
                on_event(ev, ud);
            json_decref(f);
            continue;
        }
        json_t *code = f ? json_object_get(f, "code") : NULL;
        if (!f || !json_is_true(json_object_get(f, "final")) || !json_is_integer(code)) {
            json_decref(f);
            close(fd);
            snprintf(err, errlen, "the agent sent a frame this CLI does not understand");
            return AG_EX_PROTOCOL;
        }
        int c = (int)json_integer_value(code);
        const char *e = json_string_value(json_object_get(f, "error"));
        snprintf(err, errlen, "%s", e ? e : "");
        *result = json_incref(json_object_get(f, "result"));
        json_decref(f);
        close(fd);
        return c;
    }
}

void ag_ctl_set_idle_ms(ag_ctl *c, uint64_t idle_ms)
{
    uint64_t every = idle_ms / 4 < 50 ? 50 : idle_ms / 4 > 1000 ? 1000 : idle_ms / 4;
    if (c->idle_timer)
        ag_loop_remove(c->loop, c->idle_timer);
    c->idle_ms = idle_ms;
    c->idle_timer = ag_loop_timer(c->loop, every, every, drop_idle, c);
}

const ag_ctl_stats *ag_ctl_get_stats(const ag_ctl *c)
{
    return &c->stats;
}

void ag_ctl_caller(const ag_ctl_req *r, uint32_t *uid, uint32_t *pid)
{
    *uid = r->uid;
    *pid = r->pid;
}

const ag_ctl_req *ag_ctl_current(const ag_ctl *c)
{
    return c ? c->current : NULL;
}

const ag_ctl_req *ag_ctl_act_as(ag_ctl *c, const ag_ctl_req *r)
{
    if (!c)
        return NULL;
    const ag_ctl_req *prev = c->current;
    c->current = r;
    return prev;
}

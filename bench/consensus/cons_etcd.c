/* cons_etcd.c — a put through etcd's HTTP/JSON gateway (POST /v3/kv/put), which runs the
 * same server path as a gRPC Put: the answer comes after the entry is committed and
 * applied on the member we talk to. Plain HTTP/1.1 over a fresh TCP connection with
 * "Connection: close"; only the status line matters, a non-200 answer or a gateway error
 * body ("error") is a failed put. Every step is bounded by one deadline.
 */
#include "cons_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ETCD_KEY_MAX 1024      /* bench keys and values are short; bounds the request buffer */
#define ETCD_ANSWER_MAX 4096   /* a put answer is ~120 bytes of header JSON */

static long long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits for fd to become ready for events before deadline; 0, or -1 with errno. */
static int wait_fd(int fd, short events, long long deadline_ms)
{
    for (;;) {
        long long left = deadline_ms - mono_ms();
        if (left <= 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)left);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

static int connect_to(const char *hostport, long long deadline_ms, char *err, size_t errlen)
{
    char host[64];
    const char *colon = strrchr(hostport, ':');
    if (!colon || (size_t)(colon - hostport) >= sizeof host) {
        snprintf(err, errlen, "bad etcd endpoint '%s' (want HOST:PORT)", hostport);
        return -1;
    }
    memcpy(host, hostport, (size_t)(colon - hostport));
    host[colon - hostport] = 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, errlen, "bad etcd address '%s'", host);
        return -1;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        int soerr = errno;
        socklen_t sl = sizeof soerr;
        if (soerr != EINPROGRESS || wait_fd(fd, POLLOUT, deadline_ms) != 0 ||
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            snprintf(err, errlen, "connect %s: %s", hostport,
                     strerror(soerr == EINPROGRESS ? errno : soerr));
            close(fd);
            return -1;
        }
    }
    return fd;
}

int cons_etcd_put(const char *hostport, const char *key, const char *val, int timeout_ms,
                  char *err, size_t errlen)
{
    long long deadline = mono_ms() + timeout_ms;
    size_t kl = strlen(key), vl = strlen(val);
    if (kl > ETCD_KEY_MAX || vl > ETCD_KEY_MAX) {
        snprintf(err, errlen, "key or value over %d bytes", ETCD_KEY_MAX);
        return -1;
    }
    char k64[ETCD_KEY_MAX * 2], v64[ETCD_KEY_MAX * 2];
    sodium_bin2base64(k64, sizeof k64, (const unsigned char *)key, kl, sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(v64, sizeof v64, (const unsigned char *)val, vl, sodium_base64_VARIANT_ORIGINAL);
    char body[ETCD_KEY_MAX * 5];
    int bl = snprintf(body, sizeof body, "{\"key\":\"%s\",\"value\":\"%s\"}", k64, v64);
    char req[ETCD_KEY_MAX * 6];
    int rl = snprintf(req, sizeof req,
                      "POST /v3/kv/put HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                      "Content-Length: %d\r\nConnection: close\r\n\r\n%s", hostport, bl, body);

    int fd = connect_to(hostport, deadline, err, errlen);
    if (fd < 0)
        return -1;
    int off = 0;
    while (off < rl) {
        ssize_t n = send(fd, req + off, (size_t)(rl - off), MSG_NOSIGNAL);
        if (n > 0) {
            off += (int)n;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR) && wait_fd(fd, POLLOUT, deadline) == 0)
            continue;
        snprintf(err, errlen, "send to %s: %s", hostport, strerror(errno));
        close(fd);
        return -1;
    }
    char ans[ETCD_ANSWER_MAX];
    size_t got = 0;
    for (;;) {   /* until EOF (Connection: close) or the buffer is full */
        ssize_t n = recv(fd, ans + got, sizeof ans - 1 - got, 0);
        if (n > 0) {
            got += (size_t)n;
            if (got == sizeof ans - 1)
                break;
            continue;
        }
        if (n == 0)
            break;
        if ((errno == EAGAIN || errno == EINTR) && wait_fd(fd, POLLIN, deadline) == 0)
            continue;
        snprintf(err, errlen, "no answer from %s: %s", hostport, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    ans[got] = 0;
    if (strncmp(ans, "HTTP/1.1 200", 12) != 0 || strstr(ans, "\"error\"")) {
        char *eol = strpbrk(ans, "\r\n");
        if (eol)
            *eol = 0;
        snprintf(err, errlen, "etcd %s answered '%s'", hostport, got ? ans : "(nothing)");
        return -1;
    }
    return 0;
}

/* linkbw — TCP throughput between two lab hosts, for bench/ha's drain_vs_ideal: the
 * "ideal" drain moves the guests' RAM at the link's bandwidth, so the link is measured
 * the way a migration stream uses it (one TCP connection, large writes), not assumed.
 *
 *   linkbw recv IP PORT            accept one connection, read to EOF, print
 *                                  {"bytes":N,"ms":T,"mib_s":R} on stdout
 *   linkbw send IP PORT MIB        connect (retrying while the receiver starts), write
 *                                  MIB MiB of non-zero bytes, close
 *
 * Run each side inside its host's network namespace (deploy/lab.sh in_host). The
 * receiver's clock spans first byte to EOF, so connection set-up is not counted. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* 1 MiB per write/read: large enough that syscall cost does not limit the rate. */
#define LINKBW_CHUNK (1u << 20)
/* The sender retries connect for up to 5 s (50 x 100 ms) while the receiver starts. */
#define LINKBW_CONNECT_TRIES 50
#define LINKBW_CONNECT_WAIT_US 100000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int addr_of(const char *ip, const char *port, struct sockaddr_in *sa)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    long p = strtol(port, NULL, 10);
    if (p <= 0 || p > 65535 || inet_pton(AF_INET, ip, &sa->sin_addr) != 1)
        return -1;
    sa->sin_port = htons((uint16_t)p);
    return 0;
}

static int do_recv(const struct sockaddr_in *sa)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(ls, (const struct sockaddr *)sa, sizeof *sa) != 0 || listen(ls, 1) != 0) {
        perror("linkbw recv: listen");
        return 1;
    }
    int s = accept(ls, NULL, NULL);
    close(ls);
    if (s < 0) {
        perror("linkbw recv: accept");
        return 1;
    }
    char *buf = malloc(LINKBW_CHUNK);
    if (!buf)
        return 1;
    uint64_t total = 0;
    double t0 = 0;
    for (;;) {
        ssize_t n = read(s, buf, LINKBW_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (!total)
            t0 = now_ms();
        total += (uint64_t)n;
    }
    double ms = now_ms() - t0;
    close(s);
    free(buf);
    if (!total || ms <= 0) {
        fprintf(stderr, "linkbw recv: nothing received\n");
        return 1;
    }
    printf("{\"bytes\":%llu,\"ms\":%.1f,\"mib_s\":%.1f}\n", (unsigned long long)total, ms,
           (double)total / (1024.0 * 1024.0) / (ms / 1000.0));
    return 0;
}

static int do_send(const struct sockaddr_in *sa, long mib)
{
    int s = -1;
    for (int i = 0; i < LINKBW_CONNECT_TRIES; i++) {
        s = socket(AF_INET, SOCK_STREAM, 0);
        if (s >= 0 && connect(s, (const struct sockaddr *)sa, sizeof *sa) == 0)
            break;
        if (s >= 0)
            close(s);
        s = -1;
        usleep(LINKBW_CONNECT_WAIT_US);
    }
    if (s < 0) {
        perror("linkbw send: connect");
        return 1;
    }
    char *buf = malloc(LINKBW_CHUNK);
    if (!buf)
        return 1;
    /* non-zero bytes: nothing on the path may shortcut zeros, as QEMU does for pages */
    for (size_t i = 0; i < LINKBW_CHUNK; i++)
        buf[i] = (char)(0x5a ^ (i * 131u));
    for (long m = 0; m < mib; m++) {
        size_t off = 0;
        while (off < LINKBW_CHUNK) {
            ssize_t n = write(s, buf + off, LINKBW_CHUNK - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                perror("linkbw send: write");
                free(buf);
                close(s);
                return 1;
            }
            off += (size_t)n;
        }
    }
    free(buf);
    close(s);
    return 0;
}

int main(int argc, char **argv)
{
    struct sockaddr_in sa;
    if (argc >= 4 && !strcmp(argv[1], "recv") && addr_of(argv[2], argv[3], &sa) == 0)
        return do_recv(&sa);
    if (argc == 5 && !strcmp(argv[1], "send") && addr_of(argv[2], argv[3], &sa) == 0 && atol(argv[4]) > 0)
        return do_send(&sa, atol(argv[4]));
    fprintf(stderr, "usage: linkbw recv IP PORT | linkbw send IP PORT MIB\n");
    return 2;
}

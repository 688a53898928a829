/* silent_libvirtd — a libvirtd that has hung: it accepts connections on a unix socket
 * (the kernel would queue them even for a stopped process) and never answers a byte, as
 * a SIGSTOPped or deadlocked libvirtd does. For proc tests only.
 *
 *   silent_libvirtd SOCKET_PATH COUNT_FILE
 *
 * Writes the number of connections accepted so far to COUNT_FILE after each one, reads
 * and discards what clients send, and runs until killed. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* far more than one agent's libvirt connections (facts probe, HA, VM commands) */
#define CONNS_MAX 64

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: silent_libvirtd SOCKET_PATH COUNT_FILE\n");
        return 2;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof sa.sun_path) {
        fprintf(stderr, "silent_libvirtd: socket path too long\n");
        return 2;
    }
    strcpy(sa.sun_path, argv[1]);
    int ls = socket(AF_UNIX, SOCK_STREAM, 0);
    unlink(argv[1]);
    if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(ls, 16) != 0) {
        fprintf(stderr, "silent_libvirtd: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    struct pollfd p[1 + CONNS_MAX] = {{.fd = ls, .events = POLLIN}};
    unsigned n = 0, total = 0;
    for (;;) {
        if (poll(p, 1 + n, -1) < 0 && errno != EINTR)
            return 1;
        if ((p[0].revents & POLLIN) && n < CONNS_MAX) {
            int c = accept(ls, NULL, NULL);
            if (c >= 0) {
                p[1 + n++] = (struct pollfd){.fd = c, .events = POLLIN};
                FILE *f = fopen(argv[2], "w");
                if (f) {
                    fprintf(f, "%u\n", ++total);
                    fclose(f);
                }
            }
        }
        for (unsigned i = 0; i < n; i++) {
            char buf[4096];
            if (!(p[1 + i].revents & (POLLIN | POLLHUP)))
                continue;
            if (read(p[1 + i].fd, buf, sizeof buf) <= 0) {   /* the client gave up */
                close(p[1 + i].fd);
                p[1 + i] = p[n--];
                i--;
            }
        }
    }
}

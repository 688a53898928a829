/* join_flood ADDR SRC_IP COUNT: send COUNT junk join requests to ADDR (IP:PORT) from
 * SRC_IP, then print how many were answered. The join endpoint answers junk with a
 * signed refusal, so answers counted = requests the per-source limit let through. */
#include <stdio.h>
#include <stdlib.h>
#include <zmq.h>

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: join_flood IP:PORT SRC_IP COUNT\n");
        return 64;
    }
    char ep[256];
    snprintf(ep, sizeof ep, "tcp://%s:0;%s", argv[2], argv[1]);   /* libzmq's source-address form */
    void *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0, hwm = 100000;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
    if (zmq_connect(s, ep) != 0) {
        fprintf(stderr, "join_flood: connect %s: %s\n", ep, zmq_strerror(zmq_errno()));
        return 1;
    }
    int n = atoi(argv[3]), answered = 0;
    for (int i = 0; i < n; i++)
        zmq_send(s, "junk", 4, 0);
    zmq_pollitem_t it = {.socket = s, .events = ZMQ_POLLIN};
    while (zmq_poll(&it, 1, 1500) == 1) {
        char buf[64 << 10];
        if (zmq_recv(s, buf, sizeof buf, 0) >= 0)
            answered++;
    }
    printf("%d\n", answered);
    zmq_close(s);
    zmq_ctx_term(ctx);
    return 0;
}

/* hoststatus.c — collect, sign and verify host status records; see hoststatus.h. */
#include "hoststatus.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <time.h>
#include <netinet/in.h>

#define STATUS_DOMAIN "drover-status-v1"
/* Lower devices looked at for a bridge's or bond's speed: a host bridge rarely has more
 * than a few uplinks, and guests' tap devices (which can be hundreds) say 10 Mb/s. */
#define NIC_LOWER_MAX 64

static uint64_t meminfo_kib(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f)
        return 0;
    char line[256];
    unsigned long long v = 0;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            sscanf(line + kl + 1, "%llu", &v);
            break;
        }
    fclose(f);
    return v;
}

/* vendor, model and a digest of the sorted-as-listed flags (the kernel lists them in a
 * fixed order, so equal CPUs give equal digests) */
static void cpuinfo(char *vendor, size_t vl, char *model, size_t ml, uint8_t digest[16])
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    memset(digest, 0, 16);
    if (!f)
        return;
    char line[8192];
    int got_flags = 0;
    while (fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *v = colon + 1 + strspn(colon + 1, " ");
        v[strcspn(v, "\n")] = 0;
        if (!vendor[0] && strncmp(line, "vendor_id", 9) == 0)
            snprintf(vendor, vl, "%s", v);
        else if (!model[0] && strncmp(line, "model name", 10) == 0)
            snprintf(model, ml, "%s", v);
        else if (!got_flags && strncmp(line, "flags", 5) == 0) {
            crypto_generichash(digest, 16, (const uint8_t *)v, strlen(v), NULL, 0);
            got_flags = 1;
        }
    }
    fclose(f);
}

/* Split a comma list (modified in place) into at most max pointers; returns the count. */
static size_t split_list(char *list, char **out, size_t max)
{
    size_t n = 0;
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n < max;
         t = strtok_r(NULL, ",", &save))
        if (*t)
            out[n++] = t;
    return n;
}

void ag_status_probe_storage(const char *ids, const char *host, uint32_t *worst_ms, uint32_t *errors)
{
    *worst_ms = 0;
    *errors = 0;
    char list[4096];
    snprintf(list, sizeof list, "%s", ids ? ids : "");
    for (char *save = NULL, *id = strtok_r(list, ",", &save); id; id = strtok_r(NULL, ",", &save)) {
        /* "fs:<fsid>:<mountpoint>": the mount point follows the second colon */
        char *c1 = strchr(id, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2 || c2[1] != '/')
            continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/.drover-probe-%s", c2 + 1, host);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        char block[4096];
        memset(block, 'p', sizeof block);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        int ok = fd >= 0 && write(fd, block, sizeof block) == (ssize_t)sizeof block && fdatasync(fd) == 0;
        if (fd >= 0)
            close(fd);
        ok = ok && unlink(path) == 0;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        uint64_t ms = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000u + (uint64_t)(t1.tv_nsec - t0.tv_nsec) / 1000000u;
        if (!ok)
            (*errors)++;
        if (ms > *worst_ms)
            *worst_ms = (uint32_t)ms;
    }
}

/* SYSNET/IF/speed in Mb/s; 0 when the driver gives none (loopback, bridges and some
 * virtual NICs say -1 or refuse the read). */
static uint32_t if_speed(const char *sysnet, const char *ifname)
{
    char path[512], buf[32];
    snprintf(path, sizeof path, "%s/%s/speed", sysnet, ifname);
    FILE *f = fopen(path, "r");
    long v = 0;
    if (f) {
        if (fgets(buf, sizeof buf, f))
            v = strtol(buf, NULL, 10);
        fclose(f);
    }
    return v > 0 && v < (long)UINT32_MAX ? (uint32_t)v : 0;
}

/* A bridge, bond or VLAN has no speed of its own: the fastest device under it (one level
 * down) stands for it — a bridge over a 1 Gb/s NIC migrates at 1 Gb/s. */
uint32_t ag_status_link_speed(const char *sysnet, const char *ifname)
{
    uint32_t best = if_speed(sysnet, ifname);
    if (best)
        return best;
    char path[512];
    snprintf(path, sizeof path, "%s/%s", sysnet, ifname);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    struct dirent *e;
    /* the kernel links each lower device as "lower_<name>" (bridge ports, bond slaves) */
    for (int seen = 0; seen < NIC_LOWER_MAX && (e = readdir(d)) != NULL;)
        if (strncmp(e->d_name, "lower_", 6) == 0) {
            uint32_t sp = if_speed(sysnet, e->d_name + 6);
            if (sp > best)
                best = sp;
            seen++;
        }
    closedir(d);
    return best;
}

void ag_status_nic(const char *ip, int *up, uint32_t *mtu, uint32_t *speed_mbps)
{
    *up = -1;
    *mtu = 0;
    *speed_mbps = 0;
    struct ifaddrs *ifa, *i;
    if (!ip || !ip[0] || getifaddrs(&ifa) != 0)
        return;
    char want[INET6_ADDRSTRLEN], name[256];
    snprintf(name, sizeof name, "%s", ip);
    char *colon = strrchr(name, ':');   /* "10.77.0.1:7370" / "host1:7370" -> without the port */
    if (colon && strchr(name, ':') == colon)
        *colon = 0;
    /* libvirt may give the migration address as a host name: resolve it to compare */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res;
    if (getaddrinfo(name, NULL, &hints, &res) != 0) {
        freeifaddrs(ifa);
        return;
    }
    const void *rsrc = res->ai_family == AF_INET
                           ? (const void *)&((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr
                           : (const void *)&((struct sockaddr_in6 *)(void *)res->ai_addr)->sin6_addr;
    if (!inet_ntop(res->ai_family, rsrc, want, sizeof want))
        want[0] = 0;
    freeaddrinfo(res);
    for (i = ifa; i; i = i->ifa_next) {
        if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET && i->ifa_addr->sa_family != AF_INET6))
            continue;
        char a[INET6_ADDRSTRLEN];
        const void *src = i->ifa_addr->sa_family == AF_INET
                              ? (const void *)&((struct sockaddr_in *)(void *)i->ifa_addr)->sin_addr
                              : (const void *)&((struct sockaddr_in6 *)(void *)i->ifa_addr)->sin6_addr;
        if (!inet_ntop(i->ifa_addr->sa_family, src, a, sizeof a) || strcmp(a, want) != 0)
            continue;
        char path[128], buf[32];
        snprintf(path, sizeof path, "/sys/class/net/%s/operstate", i->ifa_name);
        FILE *f = fopen(path, "r");
        if (f) {
            /* loopback says "unknown" and is always up; anything else must say "up" */
            *up = fgets(buf, sizeof buf, f) && (!strncmp(buf, "up", 2) || !strncmp(buf, "unknown", 7));
            fclose(f);
        }
        snprintf(path, sizeof path, "/sys/class/net/%s/mtu", i->ifa_name);
        if ((f = fopen(path, "r"))) {
            if (fgets(buf, sizeof buf, f))
                *mtu = (uint32_t)strtoul(buf, NULL, 10);
            fclose(f);
        }
        *speed_mbps = ag_status_link_speed("/sys/class/net", i->ifa_name);
        break;
    }
    freeifaddrs(ifa);
}

/* ---- libvirtd responsiveness ---- */

void ag_lvwatch_ask(ag_lvwatch *w, uint64_t now_ms)
{
    __atomic_store_n(&w->asked_ms, now_ms, __ATOMIC_SEQ_CST);
}

void ag_lvwatch_done(ag_lvwatch *w, bool ok, uint64_t now_ms)
{
    uint64_t asked = __atomic_load_n(&w->asked_ms, __ATOMIC_SEQ_CST);
    /* the outcome first, then the question is no longer out: a reader in between sees
     * the question still out, never a failure that looks like no question at all */
    if (ok) {
        __atomic_store_n(&w->answered_ms, now_ms, __ATOMIC_SEQ_CST);
        __atomic_store_n(&w->failing_ms, 0, __ATOMIC_SEQ_CST);
    } else if (__atomic_load_n(&w->failing_ms, __ATOMIC_SEQ_CST) == 0) {
        __atomic_store_n(&w->failing_ms, asked ? asked : now_ms, __ATOMIC_SEQ_CST);
    }
    __atomic_store_n(&w->asked_ms, 0, __ATOMIC_SEQ_CST);
}

int ag_lvwatch_judge(const ag_lvwatch *w, uint64_t now_ms, uint32_t timeout_ms, uint32_t *silent_ms)
{
    /* asked_ms first: ag_lvwatch_done sets failing_ms before it clears asked_ms, so a
     * question seen gone comes with its failure seen */
    uint64_t asked = __atomic_load_n(&w->asked_ms, __ATOMIC_SEQ_CST);
    uint64_t failing = __atomic_load_n(&w->failing_ms, __ATOMIC_SEQ_CST);
    /* a streak of failures counts from its first question, even while a retry is out */
    uint64_t since = failing ? failing : asked;
    uint64_t quiet = since && now_ms > since ? now_ms - since : 0;
    bool ok = since == 0 || quiet < timeout_ms;
    if (silent_ms)
        *silent_ms = ok ? 0 : quiet > UINT32_MAX ? UINT32_MAX : (uint32_t)quiet;
    return ok;
}

uint64_t ag_lvwatch_waiting_ms(const ag_lvwatch *w, uint64_t now_ms)
{
    uint64_t asked = __atomic_load_n(&w->asked_ms, __ATOMIC_SEQ_CST);
    return asked && now_ms > asked ? now_ms - asked : 0;
}

bool ag_lvwatch_due(const ag_lvwatch *w, bool in_flight, uint64_t last_start_ms, uint64_t now_ms,
                    uint32_t interval_ms, uint32_t retry_ms)
{
    if (in_flight)
        return false;
    if (last_start_ms == 0)
        return true;
    uint32_t every = __atomic_load_n(&w->failing_ms, __ATOMIC_SEQ_CST) ? retry_ms : interval_ms;
    return now_ms >= last_start_ms + every;
}

int ag_status_make(const ag_identity *id, uint64_t version, uint64_t wall_ms,
                   const ag_host_facts *facts, uint8_t **out, size_t *len, uint8_t material[16])
{
    Drover__HostStatus st = DROVER__HOST_STATUS__INIT;
    Drover__HealthSignals hs = DROVER__HEALTH_SIGNALS__INIT;
    char vendor[64] = "", model[128] = "";
    uint8_t digest[16];
    cpuinfo(vendor, sizeof vendor, model, sizeof model, digest);
    if (facts && facts->cpu_vendor[0])
        snprintf(vendor, sizeof vendor, "%s", facts->cpu_vendor);
    if (facts && facts->cpu_model[0])
        snprintf(model, sizeof model, "%s", facts->cpu_model);
    double load = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &load) != 1)
            load = 0;
        fclose(f);
    }
    st.host_id.data = (uint8_t *)id->host_id;
    st.host_id.len = AG_HOST_ID_LEN;
    st.version = version;
    st.memory_total_kib = meminfo_kib("MemTotal");
    st.memory_free_kib = meminfo_kib("MemAvailable");
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    st.vcpus = n > 0 ? (uint32_t)n : 0;
    st.load_milli = (uint32_t)(load * 1000.0);
    st.cpu_vendor = vendor;
    st.cpu_model = model;
    st.cpu_features_digest.data = digest;
    st.cpu_features_digest.len = sizeof digest;
    st.agent_version = (char *)DROVER_VERSION;
    st.libvirt_version = facts ? (char *)facts->libvirt_version : (char *)"";
    st.qemu_version = facts ? (char *)facts->qemu_version : (char *)"";
    st.vm_count = facts ? facts->vm_count : 0;
    if (facts && facts->have_vm_digest) {
        st.vm_digest.data = (uint8_t *)facts->vm_digest;
        st.vm_digest.len = sizeof facts->vm_digest;
    }
    hs.libvirtd_responsive = facts ? facts->libvirtd_responsive : 0;
    char reason[64] = "";
    if (!hs.libvirtd_responsive) {
        hs.libvirtd_silent_ms = facts ? facts->libvirtd_silent_ms : 0;
        if (hs.libvirtd_silent_ms)
            snprintf(reason, sizeof reason, "libvirtd not answering for %u s",
                     (hs.libvirtd_silent_ms + 500) / 1000);
        else
            snprintf(reason, sizeof reason, "libvirtd not answering");
    }
    hs.degraded_reason = reason;
    int up;
    uint32_t mtu, speed;
    if (facts && facts->nic_probed) {   /* probed on a worker: no name lookup here */
        up = facts->nic_up;
        mtu = facts->nic_mtu;
        speed = facts->nic_speed_mbps;
    } else {
        ag_status_nic(facts ? facts->nic_addr : NULL, &up, &mtu, &speed);
    }
    hs.nic_link_up = up == 1;
    st.migration_link_mbps = speed;
    hs.storage_latency_ms = facts ? facts->storage_latency_ms : 0;
    hs.storage_errors = facts ? facts->storage_errors : 0;
    hs.migration_mtu = mtu;
    st.health = &hs;
    st.admin_state = facts ? (Drover__AdminState)facts->admin_state : DROVER__ADMIN_STATE__ADMIN_ACTIVE;
    st.updated_at_ms = wall_ms;
    st.facts_unknown = !facts || !facts->facts_known;
    st.facts_read_at_ms = facts ? facts->facts_read_wall_ms : 0;

    ag_host_facts lists;   /* writable copies: split_list cuts them up */
    char *feat[AG_STATUS_FEATURES_MAX], *sto[AG_STATUS_LIST_MAX], *br[AG_STATUS_LIST_MAX],
        *net[AG_STATUS_LIST_MAX], *dests[AG_STATUS_MIGRATIONS_MAX];
    if (facts) {
        lists = *facts;
        if (lists.cpu_features[0])   /* libvirt's list is in a stable order too */
            crypto_generichash(digest, 16, (const uint8_t *)facts->cpu_features,
                               strlen(facts->cpu_features), NULL, 0);
        st.n_cpu_features = split_list(lists.cpu_features, feat, AG_STATUS_FEATURES_MAX);
        st.cpu_features = feat;
        st.n_storage_ids = split_list(lists.storage_ids, sto, AG_STATUS_LIST_MAX);
        st.storage_ids = sto;
        st.n_bridges = split_list(lists.bridges, br, AG_STATUS_LIST_MAX);
        st.bridges = br;
        st.n_networks = split_list(lists.networks, net, AG_STATUS_LIST_MAX);
        st.networks = net;
        st.cpu_arch = lists.cpu_arch;
        st.migration_addr = lists.migration_addr;
        st.vcpus_used = facts->vcpus_used;
        st.local_free_mib = facts->local_free_mib;
        st.local_free_known = facts->local_free_known != 0;
        st.migrations_out = facts->migrations_out;
        st.n_migration_dests = split_list(lists.migration_dests, dests, AG_STATUS_MIGRATIONS_MAX);
        st.migration_dests = dests;
    }
    /* Too big for gossip: first the feature names go (model + digest still compare equal
     * CPUs), then the longest of the other lists loses entries from its end. A record
     * that is cut is still true, only less complete; one not published at all is worse. */
    if (drover__host_status__get_packed_size(&st) > AG_STATUS_BODY_MAX && st.n_cpu_features) {
        st.n_cpu_features = 0;
        st.cpu_features_cut = true;   /* receivers must not read "no features" */
    }
    while (drover__host_status__get_packed_size(&st) > AG_STATUS_BODY_MAX) {
        size_t *longest = &st.n_storage_ids;
        if (st.n_bridges > *longest)
            longest = &st.n_bridges;
        if (st.n_networks > *longest)
            longest = &st.n_networks;
        if (st.n_migration_dests > *longest)
            longest = &st.n_migration_dests;
        if (*longest == 0)
            break;   /* only fixed fields left: they always fit */
        (*longest)--;
    }

    if (material) {
        Drover__HostStatus m = st;   /* the same record with noise rounded off */
        m.version = 0;
        m.updated_at_ms = 0;
        m.memory_free_kib = st.memory_free_kib / (64 * 1024);
        m.load_milli = st.load_milli / 500;
        m.local_free_mib = st.local_free_mib / 1024;   /* guests write all the time: GiB steps */
        m.facts_read_at_ms = 0;   /* a good refresh every 10 s is not news */
        Drover__HealthSignals mh = hs;   /* probe jitter is not news; 50 ms steps are */
        mh.storage_latency_ms = hs.storage_latency_ms / 50;
        /* libvirtd falling silent is news, and then once a minute how long it has been */
        mh.libvirtd_silent_ms = hs.libvirtd_silent_ms ? 1 + hs.libvirtd_silent_ms / 60000 : 0;
        mh.degraded_reason = (char *)"";   /* follows from the two above */
        m.health = &mh;
        size_t ml = drover__host_status__get_packed_size(&m);
        uint8_t *mb = malloc(ml ? ml : 1);
        if (!mb)
            return -ENOMEM;
        drover__host_status__pack(&m, mb);
        crypto_generichash(material, 16, mb, ml, NULL, 0);
        free(mb);
    }
    size_t bl = drover__host_status__get_packed_size(&st);
    uint8_t *body = malloc(bl + sizeof STATUS_DOMAIN);
    if (!body)
        return -ENOMEM;
    memcpy(body, STATUS_DOMAIN, sizeof STATUS_DOMAIN);
    drover__host_status__pack(&st, body + sizeof STATUS_DOMAIN);
    uint8_t sig[64];
    crypto_sign_detached(sig, NULL, body, bl + sizeof STATUS_DOMAIN, id->sign_sk);

    Drover__SignedHostStatus s = DROVER__SIGNED_HOST_STATUS__INIT;
    s.body.data = body + sizeof STATUS_DOMAIN;
    s.body.len = bl;
    s.signature.data = sig;
    s.signature.len = sizeof sig;
    *len = drover__signed_host_status__get_packed_size(&s);
    *out = malloc(*len);
    if (*out)
        drover__signed_host_status__pack(&s, *out);
    free(body);
    return *out ? 0 : -ENOMEM;
}

bool ag_status_facts_unknown(const Drover__HostStatus *st)
{
    bool responsive = st->health && st->health->libvirtd_responsive;
    /* an agent before the flag published empty facts while libvirtd was unreachable */
    return st->facts_unknown || (!responsive && !(st->libvirt_version && st->libvirt_version[0]));
}

int ag_status_open(const ag_members *m, const uint8_t subject[AG_HOST_ID_LEN],
                   const uint8_t *buf, size_t len, Drover__HostStatus **out)
{
    const ag_member *mb = ag_members_find(m, subject);
    if (!mb)
        return -ENOENT;
    Drover__SignedHostStatus *s = drover__signed_host_status__unpack(NULL, len, buf);
    if (!s)
        return -EBADMSG;
    int rc = -EPERM;
    if (s->signature.len == 64 && s->body.len < 65536) {
        uint8_t *msg = malloc(s->body.len + sizeof STATUS_DOMAIN);
        if (!msg) {
            drover__signed_host_status__free_unpacked(s, NULL);
            return -ENOMEM;
        }
        memcpy(msg, STATUS_DOMAIN, sizeof STATUS_DOMAIN);
        if (s->body.len)   /* an empty body has no data pointer (fuzz_status_open, UBSan) */
            memcpy(msg + sizeof STATUS_DOMAIN, s->body.data, s->body.len);
        if (crypto_sign_verify_detached(s->signature.data, msg, s->body.len + sizeof STATUS_DOMAIN,
                                        mb->sign_pk) == 0) {
            Drover__HostStatus *st = drover__host_status__unpack(NULL, s->body.len, s->body.data);
            if (!st)
                rc = -EBADMSG;
            else if (st->host_id.len != AG_HOST_ID_LEN || memcmp(st->host_id.data, subject, AG_HOST_ID_LEN)) {
                drover__host_status__free_unpacked(st, NULL);
            } else {
                *out = st;
                rc = 0;
            }
        }
        free(msg);
    }
    drover__signed_host_status__free_unpacked(s, NULL);
    return rc;
}

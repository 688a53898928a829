/* hv_int.h — what the adapter's implementations share; not part of the contract. */
#ifndef DROVER_HV_INT_H
#define DROVER_HV_INT_H

#include "hv.h"

/* One implementation = one table. Each entry has the contract of the hv_* function of the
 * same name in hv.h; arguments are already checked for NULL/empty by hv_common.c. */
typedef struct hv_backend {
    void (*close)(hv_conn *c);
    int (*events)(hv_conn *c, hv_event_fn fn, void *ctx, hv_err *err);
    int (*vm_list)(hv_conn *c, hv_vm *vms, size_t max, size_t *n, hv_err *err);
    int (*vm_get)(hv_conn *c, const char *name, hv_vm *vm, hv_err *err);
    int (*vm_xml)(hv_conn *c, const char *name, char **out, hv_err *err);
    int (*host_facts)(hv_conn *c, hv_host *h, hv_err *err);
    int (*vm_define)(hv_conn *c, const char *xml, hv_err *err);
    int (*vm_op)(hv_conn *c, const char *name, int op, hv_err *err);
    int (*migrate)(hv_conn *c, const char *name, const char *dest_uri, hv_conn *dest,
                   const hv_migrate_opts *o, hv_migrate_result *res, hv_err *err);
    int (*migrate_cancel)(hv_conn *c, const char *name, hv_err *err);
    int (*cpu_compatible)(hv_conn *c, const hv_vm *vm, bool *ok, hv_err *err);
    int (*cpu_baseline)(hv_conn *c, const char **xmls, size_t n, char **out, hv_err *err);
    int (*host_cpu_xml)(hv_conn *c, char **out, hv_err *err);
} hv_backend;

enum { HV__OP_START, HV__OP_SHUTDOWN, HV__OP_DESTROY, HV__OP_UNDEFINE, HV__OP_SAVE };

struct hv_conn {
    const hv_backend *be;
    bool libvirt;   /* dest of a migrate must be of the same kind as the source */
};

/* Sets err (if not NULL) and returns code. */
int hv__fail(hv_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Append item to a comma list in buf (size cap), ignoring duplicates; false if it did
 * not fit. */
bool hv__list_add(char *buf, size_t cap, const char *item);
bool hv__list_has(const char *list, const char *item);
/* Bounded copy that always terminates. */
void hv__copy(char *dst, size_t cap, const char *src);

/* Domain XML -> hv_vm (no state: the caller fills it). Needs libxml2. Returns 0, or
 * HV_EINVAL with the reason in err. */
int hv__parse_domain(const char *xml, hv_vm *vm, hv_err *err);
/* libvirt capabilities XML -> uuid, arch, CPU vendor/model/features of h. */
int hv__parse_caps(const char *xml, hv_host *h, hv_err *err);
/* domcapabilities XML -> cpu_host_model / cpu_host_features of h. */
int hv__parse_domcaps(const char *xml, hv_host *h, hv_err *err);
/* The host <cpu> element of capabilities / the <cpu> element of a domain, to free(). */
char *hv__caps_cpu_xml(const char *xml);
char *hv__domain_cpu_xml(const char *xml);
/* Checks that need only the VM record and the destination's facts, in the order an
 * operator would fix them. Shared by both implementations. */
int hv__precheck(const hv_vm *vm, const hv_host *dst, hv_move_mode mode, hv_err *err);

#endif

/* hv_lverr.c — libvirt's errors in words an operator can act on.
 *
 * libvirt reports a numeric code (virErrorNumber) and a message written for libvirt
 * developers. The code alone is often too coarse (a missing bridge arrives as a generic
 * system error from the destination's QEMU process setup), so the mapping looks at the
 * code first and at a few stable message fragments second, and always keeps libvirt's own
 * words at the end of the sentence for the cases it did not foresee.
 */
#include <string.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "hv_int.h"
#include "hv_lv.h"

static bool has(const char *msg, const char *frag) { return msg && strstr(msg, frag) != NULL; }

int hv__lv_fail(hv_err *err, const char *what)
{
    virErrorPtr e = virGetLastError();
    return hv__lv_fail_with(err, what, e ? e->code : VIR_ERR_INTERNAL_ERROR,
                            e && e->message ? e->message : NULL);
}

int hv__lv_fail_with(hv_err *err, const char *what, int code, const char *msg)
{
    int rc;
    if (msg == NULL)
        msg = "no details from libvirt";
    const char *hint;

    if (code == VIR_ERR_NO_DOMAIN) {
        rc = HV_ENOTFOUND, hint = "no such VM on this host; check the name with `drover vm list`";
    } else if (code == VIR_ERR_CPU_INCOMPATIBLE || has(msg, "guest CPU doesn't match") ||
               has(msg, "host CPU does not provide")) {
        rc = HV_ECPU, hint = "the destination's CPU lacks features the VM uses; give the VM a "
                             "baseline CPU model (hv_cpu_baseline) or pick a compatible host";
    } else if (code == VIR_ERR_MIGRATE_UNSAFE) {
        rc = HV_ENOTSHARED, hint = "a disk is not on storage libvirt considers shared; use "
                                   "--storage to copy it or move the disk to shared storage";
    } else if (code == VIR_ERR_NO_NETWORK || has(msg, "Cannot get interface MTU") ||
               has(msg, "bridge") || has(msg, "No such device")) {
        rc = HV_EBRIDGE, hint = "a bridge or network the VM uses is missing on the destination; "
                                "create it there or change the VM's interface";
    } else if (has(msg, "Cannot allocate memory") || has(msg, "Out of memory") ||
               has(msg, "out of memory")) {
        rc = HV_EHOSTMEM, hint = "not enough memory on the destination host; free memory "
                                 "there or pick another host";
    } else if (code == VIR_ERR_OPERATION_ABORTED || has(msg, "canceled by client") ||
               has(msg, "cancelled")) {
        rc = HV_ECANCELED, hint = "the operation was canceled";
    } else if (code == VIR_ERR_OPERATION_TIMEOUT || has(msg, "timed out") ||
               has(msg, "Connection timed out")) {
        rc = HV_ETIMEDOUT, hint = "the other host did not answer in time; check it is up and "
                                  "reachable on the migration network";
    } else if (code == VIR_ERR_NO_CONNECT || code == VIR_ERR_RPC || has(msg, "No route to host") ||
               has(msg, "Connection refused") || has(msg, "unable to connect")) {
        rc = HV_ENOCONN, hint = "cannot reach libvirtd; check that it runs and listens "
                                "(libvirtd --listen, TCP port 16509) and the address is right";
    } else if (code == VIR_ERR_OPERATION_INVALID) {
        rc = HV_ESTATE, hint = "the VM is not in a state that allows this";
    } else if (code == VIR_ERR_DOM_EXIST || has(msg, "already exists")) {
        rc = HV_EEXIST, hint = "a VM of that name or UUID already exists there";
    } else if (has(msg, "hostdev") || has(msg, "non-migratable") || has(msg, "not migratable")) {
        rc = HV_EUNMIGRATABLE, hint = "the VM has a passthrough device that cannot move";
    } else {
        rc = HV_EFAIL, hint = "libvirt refused";
    }
    return hv__fail(err, rc, "%s: %s (libvirt: %s)", what, hint, msg);
}

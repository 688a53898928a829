/* hv_xml.c — reading libvirt's domain XML into an hv_vm record (libxml2 + XPath).
 *
 * Only what placement and migration decisions need is kept; the XML itself stays the
 * source of truth in libvirt. Unknown elements are ignored, so newer libvirt versions
 * with more devices still parse. Passthrough devices are recognised by element and type:
 * <hostdev> (PCI, USB, mdev), <interface type='hostdev'> (SR-IOV VF), <redirdev> (USB),
 * and a CD-ROM backed by a host block device (the host's drive, not an ISO file).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "hv_int.h"
#include "hv_storage.h"

static char *xp_str(xmlXPathContextPtr ctx, xmlNodePtr at, const char *expr)
{
    ctx->node = at;
    xmlXPathObjectPtr o = xmlXPathEvalExpression((const xmlChar *)expr, ctx);
    char *s = NULL;
    if (o) {
        xmlChar *v = xmlXPathCastToString(o);
        if (v && v[0])
            s = strdup((const char *)v);
        xmlFree(v);
        xmlXPathFreeObject(o);
    }
    return s;
}

static void xp_copy(xmlXPathContextPtr ctx, xmlNodePtr at, const char *expr, char *dst,
                    size_t cap)
{
    char *s = xp_str(ctx, at, expr);
    hv__copy(dst, cap, s);
    free(s);
}

static uint64_t to_kib(const char *value, const char *unit)
{
    uint64_t v = strtoull(value, NULL, 10);
    if (unit == NULL || !strcmp(unit, "KiB") || !strcmp(unit, "k") || !strcmp(unit, "K"))
        return v;
    if (!strcmp(unit, "b") || !strcmp(unit, "bytes"))
        return v / 1024;
    if (!strcmp(unit, "MiB") || !strcmp(unit, "M") || !strcmp(unit, "m"))
        return v * 1024;
    if (!strcmp(unit, "GiB") || !strcmp(unit, "G") || !strcmp(unit, "g"))
        return v * 1024 * 1024;
    if (!strcmp(unit, "MB"))
        return v * 1000 * 1000 / 1024;
    if (!strcmp(unit, "GB"))
        return v * 1000 * 1000 * 1000 / 1024;
    return v;
}

static xmlXPathObjectPtr xp_eval_root(xmlXPathContextPtr ctx, const char *expr)
{
    ctx->node = xmlDocGetRootElement(ctx->doc);
    return xmlXPathEvalExpression((const xmlChar *)expr, ctx);
}

/* Visit each node matching expr (absolute XPath). */
#define FOREACH_NODE(ctx, expr, nd)                                                      \
    for (xmlXPathObjectPtr set_ = xp_eval_root((ctx), (expr)); set_;                     \
         xmlXPathFreeObject(set_), set_ = NULL)                                          \
        for (int i_ = 0; set_->nodesetval && i_ < set_->nodesetval->nodeNr; i_++)         \
            for (xmlNodePtr nd = set_->nodesetval->nodeTab[i_]; nd; nd = NULL)

static void parse_devices(xmlXPathContextPtr ctx, hv_vm *vm)
{
    FOREACH_NODE(ctx, "/domain/devices/disk", n) {
        char *device = xp_str(ctx, n, "string(@device)");
        char *type = xp_str(ctx, n, "string(@type)");
        bool cdrom = device && !strcmp(device, "cdrom");
        bool block = type && !strcmp(type, "block");
        if (cdrom && block) {
            char *src = xp_str(ctx, n, "string(source/@dev)");
            if (src)   /* the host's own drive: it cannot follow the VM */
                hv__list_add(vm->unmigratable, sizeof vm->unmigratable, "cdrom");
            free(src);
        } else if (vm->n_disks >= HV_DISKS_MAX) {
            vm->truncated = true;
        } else {
            hv_disk *d = &vm->disks[vm->n_disks++];
            memset(d, 0, sizeof *d);
            d->readonly_cdrom = cdrom;
            xp_copy(ctx, n, "string(target/@dev)", d->target, sizeof d->target);
            xp_copy(ctx, n, "string(driver/@type)", d->format, sizeof d->format);
            char *src = xp_str(ctx, n, "string(source/@file | source/@dev)");
            if (src) {
                hv__copy(d->path, sizeof d->path, src);
                hv__storage_of(src, &d->shared, d->storage_id, sizeof d->storage_id);
            }
            free(src);
            if (cdrom && !d->path[0])
                vm->n_disks--;   /* empty tray: nothing to carry */
        }
        free(device);
        free(type);
    }
    FOREACH_NODE(ctx, "/domain/devices/interface", n) {
        char *type = xp_str(ctx, n, "string(@type)");
        if (type && !strcmp(type, "hostdev")) {
            hv__list_add(vm->unmigratable, sizeof vm->unmigratable, "sriov");
        } else if (vm->n_nics >= HV_NICS_MAX) {
            vm->truncated = true;
        } else {
            hv_nic *nic = &vm->nics[vm->n_nics++];
            memset(nic, 0, sizeof *nic);
            if (type && !strcmp(type, "bridge"))
                xp_copy(ctx, n, "string(source/@bridge)", nic->bridge, sizeof nic->bridge);
            else if (type && !strcmp(type, "network"))
                xp_copy(ctx, n, "string(source/@network)", nic->network, sizeof nic->network);
            xp_copy(ctx, n, "string(mac/@address)", nic->mac, sizeof nic->mac);
        }
        free(type);
    }
    FOREACH_NODE(ctx, "/domain/devices/hostdev", n) {
        char *type = xp_str(ctx, n, "string(@type)");
        const char *what = "hostdev";
        if (type && !strcmp(type, "usb"))
            what = "usb";
        else if (type && !strcmp(type, "mdev"))
            what = "mdev";
        hv__list_add(vm->unmigratable, sizeof vm->unmigratable, what);
        free(type);
    }
    FOREACH_NODE(ctx, "/domain/devices/redirdev", n) {
        (void)n;
        hv__list_add(vm->unmigratable, sizeof vm->unmigratable, "usb");
    }
}

int hv__parse_domain(const char *xml, hv_vm *vm, hv_err *err)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "domain.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL)
        return hv__fail(err, HV_EINVAL, "domain XML is not well-formed");
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    if (ctx == NULL) {
        xmlFreeDoc(doc);
        return hv__fail(err, HV_ENOMEM, "out of memory parsing domain XML");
    }
    memset(vm, 0, sizeof *vm);
    xmlNodePtr root = xmlDocGetRootElement(doc);
    int rc = HV_OK;
    if (root == NULL || xmlStrcmp(root->name, (const xmlChar *)"domain")) {
        rc = hv__fail(err, HV_EINVAL, "XML root element is not <domain>");
        goto out;
    }
    xp_copy(ctx, root, "string(/domain/name)", vm->name, sizeof vm->name);
    if (!vm->name[0]) {
        rc = hv__fail(err, HV_EINVAL, "domain XML has no <name>");
        goto out;
    }
    xp_copy(ctx, root, "string(/domain/uuid)", vm->uuid, sizeof vm->uuid);
    char *mem = xp_str(ctx, root, "string(/domain/memory)");
    char *unit = xp_str(ctx, root, "string(/domain/memory/@unit)");
    if (mem)
        vm->mem_kib = to_kib(mem, unit);
    free(mem);
    free(unit);
    char *vcpu = xp_str(ctx, root, "string(/domain/vcpu)");
    vm->vcpus = vcpu ? (unsigned)strtoul(vcpu, NULL, 10) : 1;
    free(vcpu);
    xp_copy(ctx, root, "string(/domain/cpu/@mode)", vm->cpu_mode, sizeof vm->cpu_mode);
    xp_copy(ctx, root, "string(/domain/cpu/model)", vm->cpu_model, sizeof vm->cpu_model);
    FOREACH_NODE(ctx, "/domain/cpu/feature", f) {
        char *name = xp_str(ctx, f, "string(@name)");
        char *policy = xp_str(ctx, f, "string(@policy)");
        char item[HV_NAME_LEN + 1];
        /* disabled features are kept with a '-' so a CPU check sees the whole model */
        bool off = policy && (!strcmp(policy, "disable") || !strcmp(policy, "forbid"));
        bool optional = policy && !strcmp(policy, "optional");
        if (name && !optional) {
            snprintf(item, sizeof item, "%s%s", off ? "-" : "", name);
            if (!hv__list_add(vm->cpu_features, sizeof vm->cpu_features, item))
                vm->truncated = true;
        }
        free(name);
        free(policy);
    }
    parse_devices(ctx, vm);
out:
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return rc;
}

int hv__parse_caps(const char *xml, hv_host *h, hv_err *err)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "caps.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL)
        return hv__fail(err, HV_EFAIL, "libvirt capabilities XML is not well-formed");
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    if (ctx == NULL) {
        xmlFreeDoc(doc);
        return hv__fail(err, HV_ENOMEM, "out of memory parsing capabilities");
    }
    xmlNodePtr root = xmlDocGetRootElement(doc);
    xp_copy(ctx, root, "string(/capabilities/host/uuid)", h->host_uuid, sizeof h->host_uuid);
    xp_copy(ctx, root, "string(/capabilities/host/cpu/arch)", h->cpu_arch, sizeof h->cpu_arch);
    xp_copy(ctx, root, "string(/capabilities/host/cpu/vendor)", h->cpu_vendor, sizeof h->cpu_vendor);
    xp_copy(ctx, root, "string(/capabilities/host/cpu/model)", h->cpu_model, sizeof h->cpu_model);
    FOREACH_NODE(ctx, "/capabilities/host/cpu/feature", f) {
        char *name = xp_str(ctx, f, "string(@name)");
        if (name)
            hv__list_add(h->cpu_features, sizeof h->cpu_features, name);
        free(name);
    }
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return HV_OK;
}

int hv__parse_domcaps(const char *xml, hv_host *h, hv_err *err)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), "domcaps.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL)
        return hv__fail(err, HV_EFAIL, "libvirt domain capabilities XML is not well-formed");
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    if (ctx == NULL) {
        xmlFreeDoc(doc);
        return hv__fail(err, HV_ENOMEM, "out of memory parsing domain capabilities");
    }
    xp_copy(ctx, xmlDocGetRootElement(doc),
            "string(/domainCapabilities/cpu/mode[@name='host-model']/model)", h->cpu_host_model,
            sizeof h->cpu_host_model);
    FOREACH_NODE(ctx, "/domainCapabilities/cpu/mode[@name='host-model']/feature[@policy='require']", f) {
        char *name = xp_str(ctx, f, "string(@name)");
        if (name)
            hv__list_add(h->cpu_host_features, sizeof h->cpu_host_features, name);
        free(name);
    }
    xmlXPathFreeContext(ctx);
    xmlFreeDoc(doc);
    return HV_OK;
}

/* The first element matching xpath in xml, serialized, as a string to free(); NULL when
 * there is none or the XML does not parse. */
static char *first_element_xml(const char *xml, const char *docname, const char *xpath)
{
    xmlDocPtr doc = xmlReadMemory(xml, (int)strlen(xml), docname, NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL)
        return NULL;
    char *out = NULL;
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    if (ctx) {
        FOREACH_NODE(ctx, xpath, n) {
            xmlBufferPtr buf = xmlBufferCreate();
            if (buf && xmlNodeDump(buf, doc, n, 0, 0) > 0 && out == NULL)
                out = strdup((const char *)xmlBufferContent(buf));
            xmlBufferFree(buf);
        }
        xmlXPathFreeContext(ctx);
    }
    xmlFreeDoc(doc);
    return out;
}

/* The <cpu>...</cpu> element of capabilities' host, as a string to free(). */
char *hv__caps_cpu_xml(const char *xml)
{
    return first_element_xml(xml, "caps.xml", "/capabilities/host/cpu");
}

/* The <cpu> element of a domain XML (NULL when the domain has none). */
char *hv__domain_cpu_xml(const char *xml)
{
    return first_element_xml(xml, "domain.xml", "/domain/cpu");
}

/* fuzz_hv_domain — libFuzzer target for the adapter's domain XML reader (hv__parse_domain)
 * and the pre-checks fed by its output: any bytes must give HV_OK or HV_EINVAL, never a
 * crash, and a parsed record must be internally consistent (bounded counts, terminated
 * strings). Run: fuzz_hv_domain -max_total_time=60 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hv_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *xml = malloc(size + 1);
    hv_vm vm;
    hv_host h;
    hv_err e;
    if (xml == NULL)
        return 0;
    memcpy(xml, data, size);
    xml[size] = '\0';
    int rc = hv__parse_domain(xml, &vm, &e);
    if (rc != HV_OK && rc != HV_EINVAL && rc != HV_ENOMEM)
        abort();
    if (rc == HV_OK) {
        if (vm.n_disks > HV_DISKS_MAX || vm.n_nics > HV_NICS_MAX ||
            strnlen(vm.name, sizeof vm.name) == sizeof vm.name ||
            strnlen(vm.unmigratable, sizeof vm.unmigratable) == sizeof vm.unmigratable)
            abort();
        memset(&h, 0, sizeof h);
        vm.state = HV_VM_RUNNING;
        (void)hv__precheck(&vm, &h, HV_MOVE_LIVE, &e);
    }
    free(xml);
    return 0;
}

/* ctl_vm.h — `drover vm list` and `drover vm migrate`: the agent's control-socket commands
 * (ctl_vm.c) and the CLI table (cli_vm.c).
 *
 * Wiring (in the agent's daemon after ag_ctl_listen):
 *     ag_vm_ctl *vm; ag_vm_ctl_init(a.loop, a.ctl, a.cfg.libvirt_uri, &vm);  ... ag_vm_ctl_free(vm);
 * and in main.c's table list: ag_cmds_vm.
 *
 * Commands on the socket:
 *   "vm.list"    args {}  -> result {"vms": [ {name, uuid, state, mem_kib, vcpus, ...} ]}
 *   "vm.migrate" args {"vm", "dest" (lab address or libvirt URI), "mode" live|storage|cold,
 *                 "max_downtime_ms", "bandwidth_mibps", "save_dir"}
 *                -> progress events {percent, bytes_per_s, remaining_bytes, elapsed_ms,
 *                   postcopy}, result {vm, dest, wall_ms, job_ms, downtime_ms, bytes, postcopy}
 * Every libvirt call runs on a loop worker; the loop thread only builds JSON.
 */
#ifndef DROVER_CTL_VM_H
#define DROVER_CTL_VM_H

#include "cli.h"
#include "ctl.h"
#include "loop.h"

typedef struct ag_vm_ctl ag_vm_ctl;

/* Registers "vm.list" and "vm.migrate" on ctl. The libvirt connection opens lazily on a
 * worker at the first request (libvirtd may start after the agent). 0 or -ENOMEM. */
int ag_vm_ctl_init(ag_loop *l, ag_ctl *ctl, const char *libvirt_uri, ag_vm_ctl **out);
/* After the loop stopped (no request in flight). */
void ag_vm_ctl_free(ag_vm_ctl *v);

extern const ag_cmd ag_cmds_vm[];

#endif

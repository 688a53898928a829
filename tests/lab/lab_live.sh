#!/bin/bash
# Live migration host1 -> host2 -> host1 of a running tick guest through drover's adapter:
# running on the destination, gone from the source (no QEMU, no definition), the console
# counter continues, booted once.
export LAB_NAME=llv
source "$(dirname "$0")/lib.sh"
lab_up 2
guest_make lv1 64 idle shared >/dev/null
boot_on 1 lv1
hv 1 migrate lv1 "$(turi 2)" --live --dest "$(uri 2)" --parallel 2
verify_moved lv1 2 1
hv 2 migrate lv1 "$(turi 1)" --live --dest "$(uri 1)" --max-downtime 50 --bandwidth 1000 --compress
verify_moved lv1 1 2

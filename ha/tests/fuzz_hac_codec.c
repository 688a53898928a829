/* libFuzzer target: HA records arrive in log entries and snapshots; the decoders must
 * refuse garbage without crashing, and whatever they accept must apply or be refused
 * by the core cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "hac_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static hac_rstate s;
    hac_prop p;
    char why[128], reason[HAC_TEXT_MAX];
    if (hac_state_decode(data, size, &s, why, sizeof why) != 0)
        hac_rstate_init(&s);
    if (hac_prop_decode(data, size, &p, reason, sizeof reason, why, sizeof why) == 0)
        (void)hac_apply(&s, &p);
    uint8_t *out;
    size_t n;
    if (hac_state_encode(&s, &out, &n) == 0)
        free(out);
    return 0;
}

/* hac_codec.h — the HA controller's replicated records on the wire and in LMDB
 * (proto/ha.proto HaProp, HaState). Decoding validates every field against hac.h's
 * limits (names fit, counts within HAC_*_MAX, enums known, indices -1..max) before a
 * core sees it, so a corrupt or hostile record is refused, never applied.
 *
 * Errors: 0, -EINVAL (undecodable or out of range; why says which field), -ENOMEM.
 * Encoders malloc *buf; the caller frees it.
 */
#ifndef DROVER_HA_HAC_CODEC_H
#define DROVER_HA_HAC_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "hac.h"

int hac_prop_encode(const hac_prop *p, const char *reason, uint8_t **buf, size_t *len);
int hac_prop_decode(const uint8_t *buf, size_t len, hac_prop *p, char *reason, size_t reasonlen,
                    char *why, size_t whylen);
int hac_state_encode(const hac_rstate *s, uint8_t **buf, size_t *len);
/* s is fully overwritten (hac_rstate_init first). */
int hac_state_decode(const uint8_t *buf, size_t len, hac_rstate *s, char *why, size_t whylen);

#endif

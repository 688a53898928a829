/* rng.c — xoshiro256** (Blackman & Vigna 2018) seeded with splitmix64.
 *
 * Why not rand(): it is global state, and the simulator runs thousands of gsp values in
 * one process, each of which must draw the same numbers for the same seed whatever the
 * others do.  xoshiro256** is small, fast and statistically fine for shuffling probe
 * orders and picking gossip targets; nothing here needs cryptographic randomness.
 */
#include "internal.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void gsp__rng_seed(struct gsp__rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t gsp__rng_next(struct gsp__rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Lemire's multiply-shift; the bias for n <= 2^32 against a 64-bit draw is < 2^-32,
 * far below anything a membership protocol can notice. */
uint32_t gsp__rng_below(struct gsp__rng *r, uint32_t n)
{
	return (uint32_t)(((gsp__rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

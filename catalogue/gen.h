/*
 * gen.h — a deterministic generator of realistic offers, for benchmarks, demos and
 * tests: titles, descriptions and outcomes composed from word lists, codes from the
 * Europass vocabularies (ISCED-F, EQF, languages, modes). The same seed always
 * gives the same offers. `mcx gen-loq` writes them as a LOQ catalogue.
 */
#ifndef MCX_GEN_H
#define MCX_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "catalogue/offer.h"
#include "server/util.h"

struct gen {
    uint64_t state;
};

void gen_init(struct gen *g, uint64_t seed);
/* Fills an offer_init'ed o as offer number n of a catalogue of institution inst. */
void gen_offer(struct gen *g, size_t n, const char *inst, struct offer *o);
/*
 * Writes a LOQ Courses document of count offers; the ones whose 0-based index is
 * in invalid[] get an element the schema forbids (for tests of per-item reports).
 */
int gen_loq_document(uint64_t seed, size_t count, const char *inst, const size_t *invalid,
                     size_t ninvalid, struct buf *out);

#endif

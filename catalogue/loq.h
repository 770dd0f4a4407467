/*
 * loq.h — the Europass LOQ XML codec (README "LOQ" in samples/elm): parses a
 * `Courses` document into offers, one item per learningOpportunity, and writes
 * offers back as a Courses document that validates against the same XSD. The
 * publishing handlers, the harvester and the feeds call it. Pure code: no I/O
 * apart from reading the XSD files once in loq_schemas_load.
 */
#ifndef MCX_LOQ_H
#define MCX_LOQ_H

#include <stdbool.h>
#include <stddef.h>

#include "catalogue/offer.h"
#include "server/util.h"

#define LOQ_VERSION_310 310 /* namespace http://data.europa.eu/snb/model/ap/loq-constraints/ */
#define LOQ_VERSION_331 331 /* .../snb/model/application-profile/loq-constraints/ */

/* Namespaces of the two schema versions (the root element's namespace). */
#define LOQ_NS_310 "http://data.europa.eu/snb/model/ap/loq-constraints/"
#define LOQ_NS_331 "http://data.europa.eu/snb/model/application-profile/loq-constraints/"

/* Defaults for struct loq_limits. */
#define LOQ_MAX_BYTES_DEFAULT ((size_t)64 * 1024 * 1024)
#define LOQ_MAX_DEPTH_DEFAULT 64

/* Error records kept per item (and for the whole document); more are counted. */
#define LOQ_ITEM_MAX_ERRORS 10

/*
 * Both XSD versions, compiled once, plus hash sets of the big vocabularies
 * (languages, countries, NUTS, ATU, file types, NQF, ISCED-F, currencies)
 * that loq_parse checks itself. Loading parses ~4 MB of schemas (~0.1 s), so
 * mcxd does it at startup and shares the result: parsing only reads it, any
 * number of parses may use one loq_schemas.
 */
struct loq_schemas;

/*
 * Loads dir/loq.xsd (3.1.0) and dir/loq-3.3.1.xsd (3.3.1) with their cv/ and
 * external/ includes (normally MCX_SOURCE_DIR "/schemas/loq"). Offline: any
 * include that is not a local file is refused. NULL with err on failure
 * (code "schema_load_failed").
 */
struct loq_schemas *loq_schemas_load(const char *dir, struct mcx_error *err);
void loq_schemas_free(struct loq_schemas *s);

/* One problem in the input: where (line, element path) and what. */
struct loq_error {
    int line;       /* 1-based source line, 0 if unknown */
    char path[256]; /* e.g. /Courses/learningOpportunityReferences/learningOpportunity[3]/title */
    char message[512]; /* libxml2's text without namespace noise, or ours */
};

/*
 * One learningOpportunity of the document. When ok is false, errors say why
 * (schema errors inside its subtree, or in an entity it references: its
 * specification, provider, outcomes, ...); offer is then best effort and must
 * not be stored. nerrors counts all errors, errors holds the first
 * LOQ_ITEM_MAX_ERRORS (nerrors may be larger than that).
 */
struct loq_item {
    struct offer offer;
    int index;         /* 0-based position among the learningOpportunity elements */
    int line;          /* line of its start tag */
    char *external_id; /* DESIGN §5: first identifier's skos:notation, else @id ("" if none) */
    struct loq_error *errors;
    size_t nerrors;
    size_t nerrors_kept; /* entries in errors[] */
    bool ok;
};

struct loq_doc {
    struct loq_item *items;
    size_t nitems;
    int version; /* LOQ_VERSION_310 or LOQ_VERSION_331 */
    /*
     * Errors that belong to no learningOpportunity and to nothing one refers
     * to (the root, a container, an entity no offer uses). They make every
     * item fail (each item counts them and shows the first), as nothing in
     * the document can be trusted to be complete.
     */
    struct loq_error *errors;
    size_t nerrors;
    size_t nerrors_kept;
};

struct loq_limits {
    size_t max_bytes; /* larger input: "too_large" */
    int max_depth;    /* deeper element nesting: "malformed_xml" */
};

/*
 * Parses and validates a LOQ document (3.1.0 or 3.3.1, by the root's
 * namespace). The document is parsed with no network, no entity expansion, no
 * DTD (a DOCTYPE is refused outright: no XXE, no entity bombs) and no
 * XInclude; the whole tree is validated once against the XSD, xs:key/keyref
 * included, and each schema error is charged to the learningOpportunity it
 * lies in or, for an error in a shared entity, to every one that references it.
 * One bad offer never rejects the good ones.
 *
 * Values outside the big vocabularies are reported by us ("... is not in the
 * language vocabulary (cv/language.xsd)") rather than by libxml2, whose
 * enumeration messages cost ~50 ms each. libxml2 still spends ~80 us on each
 * language element it validates (the same as xmllint): a maximal document
 * costs seconds, so run this off the event loop.
 *
 * Returns 0 and fills *out (release with loq_doc_cleanup) whenever the input
 * is a well-formed LOQ document, whatever its schema errors; -1 with
 * err->code:
 *   "too_large"            input larger than the limit (HTTP 413)
 *   "malformed_xml"        not well-formed XML, invalid UTF-8, a DOCTYPE, or nesting
 *                          deeper than the limit (400)
 *   "unsupported_document" well-formed, but the root is not a LOQ Courses (422)
 *   "internal"             s is NULL (500: a programming error)
 * err->line is the line of the first problem when known. *out is then empty.
 * libxml2's per-thread default error handlers are borrowed for the call (its
 * context-free errors would go to stderr) and given back.
 */
int loq_parse(const struct loq_schemas *s, const char *data, size_t len, struct loq_doc *out,
              struct mcx_error *err);
/* The same with explicit limits (NULL: the defaults). */
int loq_parse_limited(const struct loq_schemas *s, const char *data, size_t len,
                      const struct loq_limits *limits, struct loq_doc *out, struct mcx_error *err);
void loq_doc_cleanup(struct loq_doc *doc);

/*
 * Writes offers as a Courses document of the given version (0 means 3.1.0)
 * that validates against that version's XSD. Per offer: a learningOpportunity
 * (id: the offer's source_id when it is a usable URI and unique here, else
 * urn:mcx:lo:<external_id>; identifier notation: external_id), a
 * `qualification` carrying EQFLevel when eqf is 1..8 and the provider's
 * country has a national framework for the required NQFLevel, else a plain
 * learningAchievementSpecification (EQF then goes to educationLevel), one
 * learningOutcome per outcome, a learningAssessmentSpecification for the
 * assessment, the provider organisation (id: provider_id when usable; shared
 * by offers with identical provider data) and its location. Values the
 * vocabularies do not know are left out rather than making the document
 * invalid (ISCED, currency, country, EQF, mode, dates, durations, URIs are
 * checked; a 3-letter language code without an ISO 639-1 form is written as
 * its EU authority code unchecked). LOQ's notations are unique per document:
 * an external_id seen before is written without identifier. Which element
 * carries which field is listed in loq.c. Returns -1 only for an unknown
 * version; appends to out.
 */
int loq_export(const struct offer *const *offers, size_t n, int version, struct buf *out);

/*
 * A LOQ document written in pieces, for feeds too large to hold in memory: offers
 * are added in batches, each section's entries go to a temporary file, and finish
 * hands the document over in order as byte runs (fd -1) and whole files (bytes
 * NULL; the callback must read or dup fd before returning). Same output as
 * loq_export for the same offers.
 */
struct loq_stream;
typedef void (*loq_stream_emit_fn)(void *arg, const char *bytes, size_t len, int fd,
                                   size_t file_len);
struct loq_stream *loq_stream_new(int version);
int loq_stream_add(struct loq_stream *st, const struct offer *const *offers, size_t n);
int loq_stream_finish(struct loq_stream *st, loq_stream_emit_fn emit, void *arg);
void loq_stream_free(struct loq_stream *st);

#endif

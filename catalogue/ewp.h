/*
 * ewp.h — the EWP Courses API 0.7.1 codec (samples/ewp README §1): validates a
 * `courses-response` and turns each learningOpportunitySpecification (LOS) into
 * an offer, one item per LOS; also reads Simple Course Replication responses
 * (the LOS ids a partner has), and reads from a partner's Discovery manifest
 * where its course APIs are served. The harvester calls it for partners of
 * format "ewp". Pure code: no I/O apart from reading the XSDs once in
 * ewp_schemas_load.
 */
#ifndef MCX_EWP_H
#define MCX_EWP_H

#include <stdbool.h>
#include <stddef.h>

#include "catalogue/offer.h"
#include "server/util.h"

#define EWP_NS_COURSES                                                                             \
    "https://github.com/erasmus-without-paper/ewp-specs-api-courses/tree/stable-v1"
#define EWP_NS_REPLICATION                                                                         \
    "https://github.com/erasmus-without-paper/ewp-specs-api-course-replication/tree/stable-v1"

/* Discovery API v6 (the manifest), the Registry types it uses, and the manifest
 * entries of the two course APIs (their manifest-entry.xsd targetNamespaces). */
#define EWP_NS_DISCOVERY                                                                           \
    "https://github.com/erasmus-without-paper/ewp-specs-api-discovery/tree/stable-v6"
#define EWP_NS_REGISTRY                                                                            \
    "https://github.com/erasmus-without-paper/ewp-specs-api-registry/tree/stable-v1"
#define EWP_NS_COURSES_ENTRY                                                                       \
    "https://github.com/erasmus-without-paper/ewp-specs-api-courses/blob/stable-v1/"               \
    "manifest-entry.xsd"
#define EWP_NS_REPLICATION_ENTRY                                                                   \
    "https://github.com/erasmus-without-paper/ewp-specs-api-course-replication/blob/stable-v1/"    \
    "manifest-entry.xsd"

#define EWP_MAX_BYTES_DEFAULT ((size_t)16 * 1024 * 1024) /* max_bytes 0 means this */
#define EWP_MAX_DEPTH 32       /* the schema nests 6 deep: deeper is hostile */
#define EWP_MAX_ITEMS 10000    /* LOS per response: the client asks for far fewer per call */
#define EWP_ITEM_MAX_ERRORS 10 /* error records kept per item and for the document */
#define EWP_MAX_URL 2048       /* an API URL in a manifest: longer is not a real endpoint */

/*
 * The Courses and Course Replication response XSDs with what they import,
 * compiled once into one schema. Parsing only reads it: any number of parses,
 * in any thread, may share one.
 */
struct ewp_schemas;

/*
 * Loads the schemas listed in dir/catalog.xml (normally MCX_SOURCE_DIR
 * "/schemas/ewp"). The upstream XSDs import each other by remote URL; the
 * catalog maps each URL to a file under dir, every import must be one of
 * them (else "schema_load_failed": nothing is ever fetched), and the files are
 * compiled leaves first so that libxml2 finds each imported namespace already
 * loaded. No process-wide libxml2 setting (entity loader, catalogs) is
 * changed; its per-thread error handlers are borrowed during the call.
 * NULL with err on failure (code "schema_load_failed").
 */
struct ewp_schemas *ewp_schemas_load(const char *dir, struct mcx_error *err);
void ewp_schemas_free(struct ewp_schemas *s);

/* One problem in the input: where (line, element path) and what. */
struct ewp_error {
    int line;          /* 1-based source line, 0 if unknown */
    char path[256];    /* e.g. /courses-response/learningOpportunitySpecification[2]/title[1] */
    char message[512]; /* libxml2's text without namespace noise, or ours */
};

/* The LOS type, which its los-id prefix states (Courses API "LO identifiers"). */
enum ewp_los_type {
    EWP_LOS_UNKNOWN = 0,
    EWP_LOS_COURSE,           /* CR/ */
    EWP_LOS_CLASS,            /* CLS/ */
    EWP_LOS_MODULE,           /* MOD/ */
    EWP_LOS_DEGREE_PROGRAMME, /* DEP/ */
};

/*
 * One learningOpportunitySpecification of the response. When ok is false,
 * errors say why (schema errors inside it, or in the document around it);
 * offer is then best effort and must not be stored. nerrors counts all
 * errors, errors holds the first EWP_ITEM_MAX_ERRORS.
 */
struct ewp_item {
    struct offer offer;
    int index;         /* 0-based position among the LOS elements */
    int line;          /* line of its start tag */
    char *external_id; /* its los-id ("" if none): see ewp.c for why not los-code */
    char *los_code;    /* the human-readable code, NULL if none (no offer slot) */
    char *ounit_id;    /* the organising unit, NULL if none (no offer slot) */
    enum ewp_los_type type;
    struct ewp_error *errors;
    size_t nerrors;
    size_t nerrors_kept;
    bool ok;
};

struct ewp_doc {
    struct ewp_item *items;
    size_t nitems;
    /*
     * Errors outside every LOS (the root, an element that is no LOS). They
     * make every item fail (each counts them and shows the first).
     */
    struct ewp_error *errors;
    size_t nerrors;
    size_t nerrors_kept;
};

/*
 * Parses and validates a Courses API response. The document is parsed with no
 * network, no entity expansion, no DTD (a DOCTYPE is refused outright: no XXE,
 * no entity bombs), no XInclude and no xsi:schemaLocation loading, at most
 * max_bytes long (0: EWP_MAX_BYTES_DEFAULT) and EWP_MAX_DEPTH deep. The whole
 * tree is validated once against the XSD and each schema error is charged to
 * the LOS it lies in: one bad LOS never rejects the others. As the spec asks of
 * clients, a `type` outside the known four and a contained los-id with an
 * unknown prefix are ignored rather than failing the LOS.
 *
 * The response names no institution (hei_id is a request parameter), so
 * offers come without provider: see ewp_doc_set_provider.
 *
 * Returns 0 and fills *out (release with ewp_doc_cleanup) whenever the input
 * is a well-formed courses-response, whatever its schema errors; -1 with
 * err->code:
 *   "too_large"            more than max_bytes, or more than EWP_MAX_ITEMS LOS (413)
 *   "malformed_xml"        not well-formed, invalid UTF-8, a DOCTYPE, too deep (400)
 *   "unsupported_document" well-formed, but the root is not a courses-response (422)
 *   "internal"             s is NULL (500: a programming error)
 * err->line is the line of the problem when known; *out is then empty.
 */
int ewp_parse_courses(const struct ewp_schemas *s, const char *data, size_t len, size_t max_bytes,
                      struct ewp_doc *out, struct mcx_error *err);
void ewp_doc_cleanup(struct ewp_doc *doc);

/*
 * The country of an EWP HEI id (a SCHAC home organisation, i.e. the HEI's
 * domain such as "vdu.lt"): its top-level domain when that is an assigned
 * ISO 3166-1 alpha-2 code ("uk" is GB). 0 with out ("LT"), else -1 (".eu",
 * ".com", ".edu", ...: the id does not say) and out "".
 */
int ewp_hei_country(const char *hei_id, char out[3]);

/* Sets every item's provider_id to hei_id (the hei_id the request named) and
 * provider_country by ewp_hei_country. */
void ewp_doc_set_provider(struct ewp_doc *doc, const char *hei_id);

/* The los-ids of a Simple Course Replication response, in document order. */
struct ewp_id_list {
    char **ids;
    size_t n;
};

/*
 * Parses and validates a Simple Course Replication 1.0.0 response. Ids with a
 * prefix the Courses API does not know yet are skipped (the spec: treat as if
 * the LOS did not exist). Hardened and limited like ewp_parse_courses; -1 with
 * err->code "too_large", "malformed_xml", "unsupported_document", "internal",
 * or "validation_failed" (any schema error: the list must be whole, as a
 * missing id reads as a deleted course; err has the first error's line, path
 * and message). On success fills *out (release with ewp_id_list_cleanup).
 */
int ewp_parse_replication(const struct ewp_schemas *s, const char *data, size_t len,
                          size_t max_bytes, struct ewp_id_list *out, struct mcx_error *err);
void ewp_id_list_cleanup(struct ewp_id_list *list);

/* ---- Discovery manifest ---- */

/* What a partner's discovery manifest (Discovery API v6) says of the course APIs for hei_id. */
struct ewp_manifest_apis {
    char *courses_url;     /* Courses API <url>: never NULL after a successful parse */
    int max_los_ids;       /* Courses API <max-los-ids>, at least 1 */
    char *replication_url; /* Simple Course Replication API <url>, NULL if not implemented */
    bool replication_modified_since; /* its <supports-modified-since> is true: the server filters
                                        by the modified_since parameter */
};

/*
 * Reads a Discovery API v6 manifest (what a partner serves as manifest.xml):
 * which Courses API and Simple Course Replication API serve hei_id, and how.
 * Hardened and limited like ewp_parse_courses (no DOCTYPE, no network,
 * max_bytes, EWP_MAX_DEPTH); no schema is needed, as manifest.xsd leaves
 * every API entry to its own (lax) schema: the fields used are checked here.
 *
 * The host: the first `host` whose institutions-covered lists
 * `r:hei id="hei_id"` (compared exactly, as EWP ids are); when none does, the
 * one host that lists no institution at all, if there is exactly one. In that
 * host's apis-implemented, entries are matched by namespace and name
 * ({EWP_NS_COURSES_ENTRY}courses, {EWP_NS_REPLICATION_ENTRY}simple-course-
 * replication), and of each the highest `version` of the major this codec
 * speaks (Courses 0.x, Simple Course Replication 1.x) is taken; other
 * versions are ignored. URLs must be absolute http:// or https:// (http for
 * local test partners; the spec says https), printable ASCII, at most
 * EWP_MAX_URL bytes. A missing or unreadable <supports-modified-since> reads
 * as false (the client then always asks for the whole list, which is safe).
 *
 * 0 and *out filled (release with ewp_manifest_apis_cleanup); else -1, *out
 * empty, and err->code:
 *   "too_large"            more than max_bytes (0: EWP_MAX_BYTES_DEFAULT)
 *   "malformed_xml"        not well-formed, invalid UTF-8, a DOCTYPE, too deep
 *   "unsupported_document" the root is not a Discovery v6 manifest
 *   "validation_failed"    no host covers hei_id, no Courses API entry of a
 *                          supported version, a bad <max-los-ids>, a missing or
 *                          bad <url> (the message says which; path and line
 *                          point at the element when there is one)
 *   "internal"             hei_id NULL or empty
 */
int ewp_parse_manifest(const char *data, size_t len, size_t max_bytes, const char *hei_id,
                       struct ewp_manifest_apis *out, struct mcx_error *err);
void ewp_manifest_apis_cleanup(struct ewp_manifest_apis *m);

/* What a document's root element is (namespace and name both match). */
enum ewp_root {
    EWP_ROOT_OTHER,       /* anything else, or not XML, or a DOCTYPE before the root */
    EWP_ROOT_MANIFEST,    /* {EWP_NS_DISCOVERY}manifest */
    EWP_ROOT_COURSES,     /* {EWP_NS_COURSES}courses-response */
    EWP_ROOT_REPLICATION, /* {EWP_NS_REPLICATION}course-replication-response */
};

/*
 * Tells which EWP document data holds, reading only up to the end of its
 * root start tag (the rest is neither read nor checked: the real parse
 * decides). Hardened like the parsers: no network, no entities, and a DOCTYPE
 * makes it EWP_ROOT_OTHER before its subset is read.
 */
enum ewp_root ewp_sniff_root(const char *data, size_t len);

#endif

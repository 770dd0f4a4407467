/*
 * elm.c — ELM 3 JSON-LD ⇄ offer. Reading walks the compacted edc-ap tree the
 * EDC tools produce (any property may be one node or an array; ids as "id" or
 * "@id"); writing produces the same shape with JSON-LD keywords, because the
 * edc-ap context alone does not alias "id" and "type" (the W3C credentials
 * context does that for credentials, which an offer is not).
 */
#include "catalogue/elm.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalogue/codes.h"
#include "server/json.h"
#include "server/jsonparse.h"

#define ELM_MAX_DEPTH 64
#define PTR_MAX 256

/* Controlled vocabularies (EU Vocabularies / Europass); languages, countries and
 * modes are in codes.h. */
#define URI_ISCED "http://data.europa.eu/snb/isced-f/"
#define URI_ISCED_SCHEME "http://data.europa.eu/snb/isced-f/25831c2"
#define URI_EQF "http://data.europa.eu/snb/eqf/"
#define URI_EQF_SCHEME "http://data.europa.eu/snb/eqf/25831c2"
#define URI_CURRENCY "http://publications.europa.eu/resource/authority/currency/"
#define URI_CURRENCY_SCHEME "http://publications.europa.eu/resource/authority/currency"
#define URI_ECTS "http://data.europa.eu/snb/education-credit/6fcec5c5af"
#define URI_CREDIT_SCHEME "http://data.europa.eu/snb/education-credit/25831c2"
/* EU Vocabularies has no concept for "this note is about quality assurance";
 * mcx names its own and also recognises the English label. */
#define URI_QA_SUBJECT "urn:mcx:note-subject:quality-assurance"

/* ---- codes ---- */

static void str_upper(char *s)
{
    for (; *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

static bool str_is_alpha(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);

    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalpha((unsigned char)s[i]))
            return false;
    return true;
}

/* ---- reading: JSON pointers and errors ---- */

struct elm_reader {
    const char *data;
    size_t len;
    struct mcx_error *err;
    struct offer *o;
};

/* base + "/" + key, escaped per RFC 6901 (~ → ~0, / → ~1). */
static void ptr_key(char out[PTR_MAX], const char *base, const char *key)
{
    size_t n = mcx_strlcpy(out, base, PTR_MAX);

    if (n < PTR_MAX - 1)
        out[n++] = '/';
    for (; *key && n < PTR_MAX - 2; key++) {
        if (*key == '~' || *key == '/') {
            out[n++] = '~';
            out[n++] = *key == '~' ? '0' : '1';
        } else {
            out[n++] = *key;
        }
    }
    out[n < PTR_MAX ? n : PTR_MAX - 1] = '\0';
}

static void ptr_index(char out[PTR_MAX], const char *base, size_t i)
{
    char num[24];

    /* Truncation is fine (the pointer names a place for a message), and building
     * it in two steps keeps -O2's format-truncation check satisfied. */
    snprintf(num, sizeof(num), "/%zu", i);
    mcx_strlcpy(out, base, PTR_MAX);
    size_t n = strlen(out);
    mcx_strlcpy(out + n, num, PTR_MAX - n);
}

static int fail(struct elm_reader *r, const struct json_value *at, const char *path,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(struct elm_reader *r, const struct json_value *at, const char *path,
                const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mcx_error_set(r->err, "validation_failed", "%s", msg);
    if (r->err != NULL) {
        mcx_strlcpy(r->err->path, path, sizeof(r->err->path));
        r->err->line = at != NULL ? json_offset_line(r->data, r->len, at->offset) : 0;
    }
    return -1;
}

/* ---- reading: JSON-LD shapes ---- */

/* A property may hold one node or an array of them. */
static size_t node_count(const struct json_value *v)
{
    if (v == NULL || json_is_null(v))
        return 0;
    return json_is_array(v) ? json_array_len(v) : 1;
}

static const struct json_value *node_at(const struct json_value *v, size_t i, const char *base,
                                        char path[PTR_MAX])
{
    if (json_is_array(v)) {
        ptr_index(path, base, i);
        return json_array_at(v, i);
    }
    mcx_strlcpy(path, base, PTR_MAX);
    return v;
}

/* A string without embedded NULs (C strings end at the first), else NULL. */
static const char *text_of(const struct json_value *v)
{
    size_t len;
    const char *s = json_string_value(v, &len);

    return s != NULL && strlen(s) == len ? s : NULL;
}

static const char *node_id(const struct json_value *node)
{
    const struct json_value *id = json_object_get(node, "@id");

    if (id == NULL)
        id = json_object_get(node, "id");
    return text_of(id);
}

static bool type_name_is(const char *t, const char *name)
{
    size_t tl = strlen(t), nl = strlen(name);

    if (strcmp(t, name) == 0)
        return true;
    /* compact IRIs and full IRIs: elm:LearningOpportunity, …/elm/LearningOpportunity */
    return tl > nl && strcmp(t + tl - nl, name) == 0 &&
           (t[tl - nl - 1] == ':' || t[tl - nl - 1] == '/');
}

static bool has_type(const struct json_value *node, const char *name)
{
    const struct json_value *t = json_object_get(node, "@type");

    if (t == NULL)
        t = json_object_get(node, "type");
    for (size_t i = 0; i < node_count(t); i++) {
        const char *s = text_of(json_is_array(t) ? json_array_at(t, i) : t);
        if (s != NULL && type_name_is(s, name))
            return true;
    }
    return false;
}

/* The first object among a property's nodes (with its path), or NULL. */
static const struct json_value *first_object(const struct json_value *node, const char *term,
                                             const char *base, char path[PTR_MAX])
{
    const struct json_value *v = json_object_get(node, term);
    char at[PTR_MAX];

    ptr_key(at, base, term);
    for (size_t i = 0; i < node_count(v); i++) {
        const struct json_value *n = node_at(v, i, at, path);
        if (json_is_object(n))
            return n;
    }
    return NULL;
}

/* A concept's IRI: {"id": …} or a bare IRI string. */
static const char *concept_uri(const struct json_value *v)
{
    return json_is_object(v) ? node_id(v) : text_of(v);
}

/* ---- reading: values ---- */

/* A language tag's primary subtag in mcx's form; -1 if it is not a tag. */
static int lang_tag(const char *tag, char out[9])
{
    char primary[16];
    size_t n = strcspn(tag, "-_");

    if (strcmp(tag, "@none") == 0) {
        out[0] = '\0';
        return 0;
    }
    if (n >= sizeof(primary))
        return -1;
    memcpy(primary, tag, n);
    primary[n] = '\0';
    return codes_lang_canonical(primary, out, 9) ? 0 : -1;
}

static int lang_value_add(struct elm_reader *r, const struct json_value *v, const char *path,
                          const char *lang, struct lang_map *m)
{
    const char *s = text_of(v);

    if (s == NULL)
        return fail(r, v, path, "expected a text");
    if (s[0] != '\0')
        lang_map_add(m, lang, s);
    return 0;
}

/* {"@value": "…", "@language": "en"} */
static int lang_value_object(struct elm_reader *r, const struct json_value *v, const char *path,
                             struct lang_map *m)
{
    const struct json_value *lv = json_object_get(v, "@language");
    char lang[9] = "", at[PTR_MAX];

    if (lv != NULL && (text_of(lv) == NULL || lang_tag(text_of(lv), lang) < 0)) {
        ptr_key(at, path, "@language");
        return fail(r, lv, at, "not a language tag");
    }
    ptr_key(at, path, "@value");
    return lang_value_add(r, json_object_get(v, "@value"), at, lang, m);
}

/*
 * A language-tagged text in any JSON-LD form: a language map (values strings
 * or arrays of strings), a plain string (no language), a value object, or an
 * array of those.
 */
static int read_lang_map(struct elm_reader *r, const struct json_value *v, const char *path,
                         struct lang_map *m)
{
    char at[PTR_MAX], lang[9];

    if (v == NULL || json_is_null(v))
        return 0;
    if (json_is_string(v))
        return lang_value_add(r, v, path, "", m);
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_len(v); i++) {
            const struct json_value *e = json_array_at(v, i);
            ptr_index(at, path, i);
            if ((json_is_object(e) ? lang_value_object(r, e, at, m)
                                   : lang_value_add(r, e, at, "", m)) < 0)
                return -1;
        }
        return 0;
    }
    if (!json_is_object(v))
        return fail(r, v, path, "expected a language map");
    if (json_object_get(v, "@value") != NULL)
        return lang_value_object(r, v, path, m);
    for (size_t i = 0; i < json_object_len(v); i++) {
        const char *key = json_object_key_at(v, i);
        const struct json_value *val = json_object_value_at(v, i);
        ptr_key(at, path, key);
        if (lang_tag(key, lang) < 0)
            return fail(r, val, at, "not a language tag: %.40s", key);
        if (json_is_array(val)) {
            char e[PTR_MAX];
            for (size_t j = 0; j < json_array_len(val); j++) {
                ptr_index(e, at, j);
                if (lang_value_add(r, json_array_at(val, j), e, lang, m) < 0)
                    return -1;
            }
        } else if (lang_value_add(r, val, at, lang, m) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The noteLiteral of every Note in a property, merged (first text per language). */
static int read_notes(struct elm_reader *r, const struct json_value *node, const char *term,
                      const char *base, struct lang_map *m)
{
    const struct json_value *v = json_object_get(node, term);
    char at[PTR_MAX], path[PTR_MAX], lit[PTR_MAX];

    ptr_key(at, base, term);
    for (size_t i = 0; i < node_count(v); i++) {
        const struct json_value *note = node_at(v, i, at, path);
        if (!json_is_object(note))
            continue;
        ptr_key(lit, path, "noteLiteral");
        if (read_lang_map(r, json_object_get(note, "noteLiteral"), lit, m) < 0)
            return -1;
    }
    return 0;
}

static bool date_is_valid(int y, int mo, int d)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return false;
    return mo != 2 || d <= 28 || leap;
}

/* "YYYY-MM-DD" or an xsd:dateTime; the calendar date as written is kept. */
static int read_date(struct elm_reader *r, const struct json_value *v, const char *path,
                     char out[11])
{
    const char *s = text_of(v);

    if (v == NULL || json_is_null(v))
        return 0;
    if (s == NULL || strlen(s) < 10 || (s[10] != '\0' && s[10] != 'T') || s[4] != '-' ||
        s[7] != '-')
        return fail(r, v, path, "expected a date (YYYY-MM-DD or an xsd:dateTime)");
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return fail(r, v, path, "expected a date (YYYY-MM-DD or an xsd:dateTime)");
    if (!date_is_valid(atoi(s), atoi(s + 5), atoi(s + 8)))
        return fail(r, v, path, "no such date: %.10s", s);
    memcpy(out, s, 10);
    out[10] = '\0';
    return 0;
}

/* Plain decimal text; unlike mcx_parse_double, an underflow to a subnormal or
 * zero is a value, not an error (the export writes such values). */
static int decimal_parse(const char *s, double *out)
{
    char *end;
    double d;

    if (s == NULL || *s == '\0' || s[strspn(s, "0123456789+-.eE")] != '\0')
        return -1;
    d = strtod(s, &end);
    if (*end != '\0' || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

/* A decimal given as a JSON number or (xsd:decimal, as EDC writes it) a string. */
static int read_decimal(struct elm_reader *r, const struct json_value *v, const char *path,
                        double max, double *out)
{
    const char *s = text_of(v);
    double d;

    if (json_is_number(v) ? json_number_double(v, &d) < 0 : decimal_parse(s, &d) < 0)
        return fail(r, v, path, "expected a decimal number");
    if (d < 0 || d > max)
        return fail(r, v, path, "number out of range (0..%g)", max);
    *out = d;
    return 0;
}

/* ---- reading: the offer's parts ---- */

static void strv_add_unique(char ***v, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return;
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = xstrdup(s);
}

/* The offer's external id (DESIGN §5): its first identifier's notation, else its id. */
static void read_identity(struct elm_reader *r, const struct json_value *node)
{
    const struct json_value *ids = json_object_get(node, "identifier");
    const char *id = node_id(node);

    if (id != NULL)
        r->o->source_id = xstrdup(id);
    for (size_t i = 0; i < node_count(ids) && r->o->external_id == NULL; i++) {
        const struct json_value *ident = json_is_array(ids) ? json_array_at(ids, i) : ids;
        const char *notation = text_of(json_object_get(ident, "notation"));
        if (notation != NULL && notation[0] != '\0')
            r->o->external_id = xstrdup(notation);
    }
    if (r->o->external_id == NULL && id != NULL)
        r->o->external_id = xstrdup(id);
}

/* A homepage: a WebResource (contentURL), or an IRI. */
static const char *homepage_of(const struct json_value *v)
{
    for (size_t i = 0; i < node_count(v); i++) {
        const struct json_value *n = json_is_array(v) ? json_array_at(v, i) : v;
        const char *url = text_of(json_object_get(n, "contentURL"));
        if (url == NULL)
            url = text_of(json_object_get(n, "contentUrl"));
        if (url == NULL)
            url = json_is_object(n) ? node_id(n) : text_of(n);
        if (url != NULL && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0))
            return url;
    }
    return NULL;
}

static void read_homepage(const struct json_value *node, char **out)
{
    const char *url = homepage_of(json_object_get(node, "homepage"));

    if (url != NULL && *out == NULL)
        *out = xstrdup(url);
}

static enum offer_mode mode_of(const struct json_value *v)
{
    enum offer_mode mode = OFFER_MODE_UNKNOWN;

    for (size_t i = 0; i < node_count(v) && mode == OFFER_MODE_UNKNOWN; i++)
        mode = codes_mode_of_uri(concept_uri(json_is_array(v) ? json_array_at(v, i) : v));
    return mode;
}

static int read_temporal(struct elm_reader *r, const struct json_value *lo, const char *base)
{
    char path[PTR_MAX], at[PTR_MAX];
    const struct json_value *t = first_object(lo, "temporal", base, path);

    if (t == NULL)
        return 0;
    ptr_key(at, path, "startDate");
    if (read_date(r, json_object_get(t, "startDate"), at, r->o->starts) < 0)
        return -1;
    ptr_key(at, path, "endDate");
    return read_date(r, json_object_get(t, "endDate"), at, r->o->ends);
}

static int read_currency(struct elm_reader *r, const struct json_value *unit, const char *path)
{
    const char *uri = concept_uri(unit);
    const char *code = mcx_str_after(uri, URI_CURRENCY);

    if (unit == NULL)
        return 0;
    if (code == NULL)
        code = uri;
    if (code == NULL || !str_is_alpha(code, 3, 3))
        return fail(r, unit, path, "expected an ISO 4217 currency");
    mcx_strlcpy(r->o->currency, code, sizeof(r->o->currency));
    str_upper(r->o->currency);
    return 0;
}

/* The first PriceDetail that carries an amount. */
static int read_price(struct elm_reader *r, const struct json_value *lo, const char *base)
{
    const struct json_value *v = json_object_get(lo, "priceDetail");
    char at[PTR_MAX], path[PTR_MAX], apath[PTR_MAX], vpath[PTR_MAX];

    ptr_key(at, base, "priceDetail");
    for (size_t i = 0; i < node_count(v); i++) {
        const struct json_value *pd = node_at(v, i, at, path);
        const struct json_value *amount = first_object(pd, "amount", path, apath);
        if (amount == NULL)
            continue;
        ptr_key(vpath, apath, "value");
        if (read_decimal(r, json_object_get(amount, "value"), vpath, 1e12, &r->o->price_amount) < 0)
            return -1;
        ptr_key(vpath, apath, "unit");
        if (read_currency(r, json_object_get(amount, "unit"), vpath) < 0)
            return -1;
        r->o->has_price = true;
        return 0;
    }
    return 0;
}

static void read_country(struct elm_reader *r, const struct json_value *org)
{
    const struct json_value *locs = json_object_get(org, "location");

    for (size_t i = 0; i < node_count(locs) && r->o->provider_country[0] == '\0'; i++) {
        const struct json_value *loc = json_is_array(locs) ? json_array_at(locs, i) : locs;
        const struct json_value *addrs = json_object_get(loc, "address");
        for (size_t j = 0; j < node_count(addrs) && r->o->provider_country[0] == '\0'; j++) {
            const struct json_value *a = json_is_array(addrs) ? json_array_at(addrs, j) : addrs;
            const char *uri = concept_uri(json_object_get(a, "countryCode"));
            const char *code = mcx_str_after(uri, CODES_URI_COUNTRY), *alpha2;
            if (code == NULL && uri != NULL && str_is_alpha(uri, 2, 2))
                code = uri;
            alpha2 = codes_country_alpha2(code);
            if (alpha2 == NULL && code != NULL && strlen(code) == 2)
                alpha2 = code; /* an alpha-2 code the table lacks is kept */
            if (alpha2 != NULL) {
                mcx_strlcpy(r->o->provider_country, alpha2, sizeof(r->o->provider_country));
                str_upper(r->o->provider_country);
            }
        }
    }
}

static int read_provider(struct elm_reader *r, const struct json_value *org, const char *path)
{
    const char *id;
    char at[PTR_MAX];

    if (json_is_string(org)) { /* a reference to an organisation not embedded */
        r->o->provider_id = xstrdup(text_of(org) ? text_of(org) : "");
        return 0;
    }
    if (!json_is_object(org))
        return 0;
    if ((id = node_id(org)) != NULL)
        r->o->provider_id = xstrdup(id);
    ptr_key(at, path, "legalName");
    if (read_lang_map(r, json_object_get(org, "legalName"), at, &r->o->provider_name) < 0)
        return -1;
    read_country(r, org);
    read_homepage(org, &r->o->provider_homepage);
    return 0;
}

static void read_isced(struct elm_reader *r, const struct json_value *spec, const char *term)
{
    const struct json_value *v = json_object_get(spec, term);

    for (size_t i = 0; i < node_count(v); i++) {
        const char *code =
            mcx_str_after(concept_uri(json_is_array(v) ? json_array_at(v, i) : v), URI_ISCED);
        if (code != NULL && mcx_str_is_digits(code, 2, 4))
            strv_add_unique(&r->o->isced, &r->o->nisced, code);
    }
}

static void read_languages(struct elm_reader *r, const struct json_value *spec)
{
    const struct json_value *v = json_object_get(spec, "language");
    char code[4];

    for (size_t i = 0; i < node_count(v); i++) {
        const char *uri = concept_uri(json_is_array(v) ? json_array_at(v, i) : v);
        const char *tail = mcx_str_after(uri, CODES_URI_LANGUAGE);
        if (tail == NULL && uri != NULL && str_is_alpha(uri, 2, 3))
            tail = uri; /* a bare code */
        if (tail == NULL || !codes_lang_canonical(tail, code, sizeof(code)))
            continue;
        strv_add_unique(&r->o->languages, &r->o->nlanguages, code);
    }
}

/* EQF level from eqfLevel, else an educationLevel in the EQF scheme. */
static int read_eqf(struct elm_reader *r, const struct json_value *spec, const char *base)
{
    static const char *const terms[] = {"eqfLevel", "EQFLevel", "educationLevel"};
    char at[PTR_MAX], path[PTR_MAX];

    for (size_t t = 0; t < MCX_ARRAY_LEN(terms); t++) {
        const struct json_value *v = json_object_get(spec, terms[t]);
        ptr_key(at, base, terms[t]);
        for (size_t i = 0; i < node_count(v); i++) {
            const struct json_value *c = node_at(v, i, at, path);
            const char *level = mcx_str_after(concept_uri(c), URI_EQF);
            if (level == NULL)
                continue;
            if (!mcx_str_is_digits(level, 1, 1) || level[0] < '1' || level[0] > '8')
                return fail(r, c, path, "EQF level must be 1 to 8");
            r->o->eqf = level[0] - '0';
            return 0;
        }
    }
    return 0;
}

/* ECTS: the first creditPoint whose framework is ECTS. */
static int read_credits(struct elm_reader *r, const struct json_value *spec, const char *base)
{
    const struct json_value *v = json_object_get(spec, "creditPoint");
    char at[PTR_MAX], path[PTR_MAX], ppath[PTR_MAX];

    ptr_key(at, base, "creditPoint");
    for (size_t i = 0; i < node_count(v); i++) {
        const struct json_value *cp = node_at(v, i, at, path);
        const char *fw = concept_uri(json_object_get(cp, "framework"));
        if (fw == NULL || strcmp(fw, URI_ECTS) != 0)
            continue;
        ptr_key(ppath, path, "point");
        if (read_decimal(r, json_object_get(cp, "point"), ppath, 1000, &r->o->ects) < 0)
            return -1;
        r->o->has_ects = true;
        return 0;
    }
    return 0;
}

static int read_outcomes(struct elm_reader *r, const struct json_value *spec, const char *base)
{
    const struct json_value *v = json_object_get(spec, "learningOutcome");
    char at[PTR_MAX], path[PTR_MAX], tpath[PTR_MAX];

    ptr_key(at, base, "learningOutcome");
    for (size_t i = 0; i < node_count(v); i++) {
        const struct json_value *lo = node_at(v, i, at, path);
        struct lang_map m = {0};
        if (!json_is_object(lo))
            continue;
        ptr_key(tpath, path, "title");
        if (read_lang_map(r, json_object_get(lo, "title"), tpath, &m) < 0) {
            lang_map_cleanup(&m);
            return -1;
        }
        if (m.n == 0)
            continue; /* an outcome without a text says nothing to a student */
        r->o->learning_outcomes =
            xrealloc(r->o->learning_outcomes, (r->o->noutcomes + 1) * sizeof(m));
        r->o->learning_outcomes[r->o->noutcomes++] = m;
    }
    return 0;
}

/* ISO 8601 duration as xsd:duration: P, then digits and designators. */
static bool duration_is_valid(const char *s)
{
    size_t n = strlen(s);

    if (n < 2 || n > 40 || s[0] != 'P')
        return false;
    return strspn(s + 1, "0123456789.,YMWDTHS") == n - 1;
}

static int read_volume(struct elm_reader *r, const struct json_value *spec, const char *base)
{
    const struct json_value *v = json_object_get(spec, "volumeOfLearning");
    const char *s = text_of(v);
    char at[PTR_MAX];

    if (v == NULL || json_is_null(v))
        return 0;
    ptr_key(at, base, "volumeOfLearning");
    if (s == NULL || !duration_is_valid(s))
        return fail(r, v, at, "expected an ISO 8601 duration such as PT60H");
    r->o->volume_of_learning = xstrdup(s);
    return 0;
}

/* Assessment: the title (else description) of the first assessment specification. */
static int read_assessment(struct elm_reader *r, const struct json_value *node, const char *base)
{
    const struct json_value *v = json_object_get(node, "provenBy");
    char at[PTR_MAX], path[PTR_MAX], tpath[PTR_MAX];

    ptr_key(at, base, "provenBy");
    for (size_t i = 0; i < node_count(v) && r->o->assessment.n == 0; i++) {
        const struct json_value *a = node_at(v, i, at, path);
        const char *term = json_object_get(a, "title") != NULL ? "title" : "description";
        if (!json_is_object(a))
            continue;
        ptr_key(tpath, path, term);
        if (read_lang_map(r, json_object_get(a, term), tpath, &r->o->assessment) < 0)
            return -1;
    }
    return 0;
}

static bool note_is_quality_assurance(const struct json_value *note)
{
    const struct json_value *subj = json_object_get(note, "subject");

    for (size_t i = 0; i < node_count(subj); i++) {
        const struct json_value *c = json_is_array(subj) ? json_array_at(subj, i) : subj;
        const struct json_value *labels = json_object_get(c, "prefLabel");
        const char *uri = concept_uri(c);
        if (uri != NULL && strcmp(uri, URI_QA_SUBJECT) == 0)
            return true;
        for (size_t j = 0; j < json_object_len(labels); j++) {
            const char *l = text_of(json_object_value_at(labels, j));
            if (l != NULL && strcasecmp(l, "quality assurance") == 0)
                return true;
        }
    }
    return false;
}

static int read_quality(struct elm_reader *r, const struct json_value *node, const char *base)
{
    const struct json_value *v = json_object_get(node, "additionalNote");
    char at[PTR_MAX], path[PTR_MAX], lit[PTR_MAX];

    ptr_key(at, base, "additionalNote");
    for (size_t i = 0; i < node_count(v); i++) {
        const struct json_value *note = node_at(v, i, at, path);
        if (!note_is_quality_assurance(note))
            continue;
        ptr_key(lit, path, "noteLiteral");
        if (read_lang_map(r, json_object_get(note, "noteLiteral"), lit, &r->o->quality_assurance) <
            0)
            return -1;
    }
    return 0;
}

/* The parts an ELM specification (LearningAchievementSpecification/Qualification) carries. */
static int read_spec(struct elm_reader *r, const struct json_value *spec, const char *base)
{
    char at[PTR_MAX], path[PTR_MAX];
    const struct json_value *acc;

    read_languages(r, spec);
    read_isced(r, spec, "thematicArea");
    read_isced(r, spec, "ISCEDFCode");
    if (read_eqf(r, spec, base) < 0 || read_credits(r, spec, base) < 0 ||
        read_outcomes(r, spec, base) < 0 || read_volume(r, spec, base) < 0 ||
        read_notes(r, spec, "entryRequirement", base, &r->o->entry_requirements) < 0 ||
        read_assessment(r, spec, base) < 0 || read_quality(r, spec, base) < 0)
        return -1;
    if (r->o->mode == OFFER_MODE_UNKNOWN)
        r->o->mode = mode_of(json_object_get(spec, "mode"));
    /* An accreditation is the quality assurance of a qualification (ELM 3). */
    if (r->o->quality_assurance.n == 0 &&
        (acc = first_object(spec, "accreditation", base, path)) != NULL) {
        ptr_key(at, path, "title");
        if (read_lang_map(r, json_object_get(acc, "title"), at, &r->o->quality_assurance) < 0)
            return -1;
    }
    return 0;
}

/* ---- reading: the document ---- */

struct elm_nodes {
    const struct json_value *lo;    /* the LearningOpportunity, if any */
    const struct json_value *spec;  /* its (or the document's) specification */
    const struct json_value *claim; /* a credential's claim, if any */
    char lo_path[PTR_MAX];
    char spec_path[PTR_MAX];
    char claim_path[PTR_MAX];
};

static bool is_spec(const struct json_value *v)
{
    return has_type(v, "LearningAchievementSpecification") || has_type(v, "Qualification");
}

static int find_in_credential(struct elm_reader *r, const struct json_value *cred, const char *base,
                              struct elm_nodes *n)
{
    char path[PTR_MAX];
    const struct json_value *subject = first_object(cred, "credentialSubject", base, path);
    char sbase[PTR_MAX];

    mcx_strlcpy(sbase, path, sizeof(sbase));
    n->claim = first_object(subject, "hasClaim", sbase, n->claim_path);
    n->spec = first_object(n->claim, "specifiedBy", n->claim_path, n->spec_path);
    n->lo = first_object(n->claim, "learningOpportunity", n->claim_path, n->lo_path);
    if (n->spec == NULL && n->lo == NULL)
        return fail(r, cred, base, "credential has no claim with a specification");
    return 0;
}

static int find_nodes(struct elm_reader *r, const struct json_value *root, struct elm_nodes *n)
{
    const char *base = "";

    memset(n, 0, sizeof(*n));
    if (!json_is_object(root))
        return fail(r, root, "", "expected a JSON-LD object");
    if (json_is_object(json_object_get(root, "credential")) &&
        json_object_get(root, "type") == NULL && json_object_get(root, "@type") == NULL) {
        root = json_object_get(root, "credential"); /* EDC issuer upload wrapper */
        base = "/credential";
    }
    if (has_type(root, "LearningOpportunity")) {
        n->lo = root;
        mcx_strlcpy(n->lo_path, base, PTR_MAX);
    } else if (is_spec(root)) {
        n->spec = root;
        mcx_strlcpy(n->spec_path, base, PTR_MAX);
        return 0;
    } else if (has_type(root, "VerifiableCredential") ||
               has_type(root, "EuropeanDigitalCredential")) {
        if (find_in_credential(r, root, base, n) < 0)
            return -1;
    } else {
        char at[PTR_MAX];
        ptr_key(at, base, json_object_get(root, "@type") ? "@type" : "type");
        return fail(r, root, at, "not an ELM LearningOpportunity");
    }
    if (n->lo != NULL && n->spec == NULL)
        n->spec = first_object(n->lo, "learningAchievementSpecification", n->lo_path, n->spec_path);
    return 0;
}

static int read_lo(struct elm_reader *r, const struct json_value *lo, const char *base)
{
    char at[PTR_MAX], path[PTR_MAX];
    const struct json_value *org;

    r->o->mode = mode_of(json_object_get(lo, "mode"));
    ptr_key(at, base, "applicationDeadline");
    if (read_temporal(r, lo, base) < 0 ||
        read_date(r, json_object_get(lo, "applicationDeadline"), at, r->o->application_deadline) <
            0 ||
        read_price(r, lo, base) < 0 || read_quality(r, lo, base) < 0)
        return -1;
    ptr_key(at, base, "providedBy");
    org = node_at(json_object_get(lo, "providedBy"), 0, at, path);
    return read_provider(r, org, path);
}

/* Title and description: the opportunity's own, else its specification's. */
static int read_texts(struct elm_reader *r, const struct elm_nodes *n)
{
    const struct json_value *main = n->lo != NULL ? n->lo : n->spec;
    const char *mpath = n->lo != NULL ? n->lo_path : n->spec_path;
    char at[PTR_MAX];

    ptr_key(at, mpath, "title");
    if (read_lang_map(r, json_object_get(main, "title"), at, &r->o->title) < 0)
        return -1;
    if (r->o->title.n == 0 && n->lo != NULL && n->spec != NULL) {
        ptr_key(at, n->spec_path, "title");
        if (read_lang_map(r, json_object_get(n->spec, "title"), at, &r->o->title) < 0)
            return -1;
    }
    if (r->o->title.n == 0) {
        ptr_key(at, mpath, "title");
        return fail(r, main, at, "a learning opportunity needs a title");
    }
    ptr_key(at, mpath, "description");
    if (read_lang_map(r, json_object_get(main, "description"), at, &r->o->description) < 0)
        return -1;
    if (r->o->description.n == 0 && n->lo != NULL && n->spec != NULL) {
        ptr_key(at, n->spec_path, "description");
        if (read_lang_map(r, json_object_get(n->spec, "description"), at, &r->o->description) < 0)
            return -1;
    }
    read_homepage(main, &r->o->homepage);
    if (n->spec != NULL)
        read_homepage(n->spec, &r->o->homepage);
    return 0;
}

/* Who provides it when the opportunity does not say: the awarding body. */
static int read_awarding_body(struct elm_reader *r, const struct elm_nodes *n)
{
    char path[PTR_MAX], opath[PTR_MAX];
    const struct json_value *proc = NULL;
    const struct json_value *org;

    if (n->claim != NULL)
        proc = first_object(n->claim, "awardedBy", n->claim_path, path);
    if (proc == NULL && n->spec != NULL)
        proc = first_object(n->spec, "awardingOpportunity", n->spec_path, path);
    if (proc == NULL)
        return 0;
    org = first_object(proc, "awardingBody", path, opath);
    return org != NULL ? read_provider(r, org, opath) : 0;
}

static bool provider_is_empty(const struct offer *o)
{
    return o->provider_id == NULL && o->provider_name.n == 0;
}

/* A credential's claim: the assessment it was proven by, when the spec has none. */
static int read_claim_assessment(struct elm_reader *r, const struct elm_nodes *n)
{
    char path[PTR_MAX], spath[PTR_MAX];
    const struct json_value *a, *as;

    if (n->claim == NULL || r->o->assessment.n > 0)
        return 0;
    a = first_object(n->claim, "provenBy", n->claim_path, path);
    as = first_object(a, "specifiedBy", path, spath);
    if (as != NULL) {
        char at[PTR_MAX];
        ptr_key(at, spath, "title");
        if (read_lang_map(r, json_object_get(as, "title"), at, &r->o->assessment) < 0)
            return -1;
    }
    if (r->o->assessment.n == 0 && a != NULL) {
        char at[PTR_MAX];
        ptr_key(at, path, "title");
        return read_lang_map(r, json_object_get(a, "title"), at, &r->o->assessment);
    }
    return 0;
}

static int read_document(struct elm_reader *r, const struct json_value *root)
{
    struct elm_nodes n;

    if (find_nodes(r, root, &n) < 0)
        return -1;
    read_identity(r, n.lo != NULL ? n.lo : n.spec);
    if (read_texts(r, &n) < 0)
        return -1;
    if (n.lo != NULL && read_lo(r, n.lo, n.lo_path) < 0)
        return -1;
    if (n.spec != NULL && read_spec(r, n.spec, n.spec_path) < 0)
        return -1;
    if (provider_is_empty(r->o) && read_awarding_body(r, &n) < 0)
        return -1;
    return read_claim_assessment(r, &n);
}

int elm_parse_offer(const char *data, size_t len, struct offer *out, struct mcx_error *err)
{
    struct elm_reader r = {.data = data, .len = len, .err = err, .o = out};
    struct json_value *doc;
    int rc;

    offer_init(out);
    mcx_error_clear(err);
    doc = json_parse(data, len, ELM_MAX_DEPTH, err);
    if (doc == NULL)
        return -1;
    rc = read_document(&r, doc);
    json_value_free(doc);
    if (rc < 0)
        offer_cleanup(out);
    return rc;
}

int elm_parse_feed(const char *data, size_t len, size_t max_items, struct elm_feed *out,
                   struct mcx_error *err)
{
    struct json_value *doc;
    const struct json_value *list;
    size_t n;

    memset(out, 0, sizeof(*out));
    mcx_error_clear(err);
    doc = json_parse(data, len, ELM_MAX_DEPTH, err);
    if (doc == NULL)
        return -1;
    list = json_is_array(doc) ? doc : json_object_get(doc, "@graph");
    if (list != NULL && !json_is_array(list)) {
        json_value_free(doc);
        mcx_error_set(err, "validation_failed", "@graph is not an array");
        return -1;
    }
    n = list != NULL ? json_array_len(list) : 1;
    if (n > max_items) {
        json_value_free(doc);
        mcx_error_set(err, "too_large", "the feed lists %zu learning opportunities, at most %zu", n,
                      max_items);
        return -1;
    }
    out->items = xcalloc(n + 1, sizeof(*out->items));
    out->nitems = n;
    for (size_t i = 0; i < n; i++) {
        struct elm_feed_item *it = &out->items[i];
        struct elm_reader r = {.data = data, .len = len, .err = &it->err, .o = &it->offer};
        offer_init(&it->offer);
        mcx_error_clear(&it->err);
        it->ok = read_document(&r, list != NULL ? json_array_at(list, i) : doc) == 0;
        if (!it->ok) {
            offer_cleanup(&it->offer);
            offer_init(&it->offer);
        }
    }
    json_value_free(doc);
    return 0;
}

void elm_feed_cleanup(struct elm_feed *f)
{
    for (size_t i = 0; i < f->nitems; i++)
        offer_cleanup(&f->items[i].offer);
    free(f->items);
    memset(f, 0, sizeof(*f));
}

/* ---- writing ---- */

/*
 * Rewrites %g output with an exponent ("-1.25e-07") as a plain decimal
 * ("-0.000000125") by moving the point: same digits, so the same double.
 */
static void decimal_unexpone(const char *sci, char *out, size_t size)
{
    char digits[40];
    size_t nd = 0, o = 0;
    int point, exp = atoi(strpbrk(sci, "eE") + 1);
    const char *p = sci;

    if (*p == '-')
        out[o++] = *p++;
    for (point = 0; *p != 'e' && *p != 'E' && nd < sizeof(digits); p++) {
        if (*p == '.')
            point = (int)nd;
        else
            digits[nd++] = *p;
    }
    if (strchr(sci, '.') == NULL)
        point = (int)nd;
    point += exp; /* digits before the decimal point */
    if (point <= 0) {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -point && o < size - 1; i++)
            out[o++] = '0';
    }
    for (size_t i = 0; i < nd && o < size - 2; i++) {
        if (point > 0 && (int)i == point)
            out[o++] = '.';
        out[o++] = digits[i];
    }
    for (int i = (int)nd; i < point && o < size - 1; i++)
        out[o++] = '0';
    out[o] = '\0';
}

/* Shortest decimal text that reads back as the same double, in xsd:decimal
 * form (no exponent). size must hold 400 bytes for the smallest doubles. */
static void decimal_format(double v, char *out, size_t size)
{
    char sci[40];

    for (int prec = 15; prec <= 17; prec++) {
        snprintf(sci, sizeof(sci), "%.*g", prec, v);
        if (strtod(sci, NULL) == v)
            break;
    }
    if (strpbrk(sci, "eE") != NULL)
        decimal_unexpone(sci, out, size);
    else
        mcx_strlcpy(out, sci, size);
}

static bool is_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* RFC 3986 unreserved characters pass, everything else is %XX. */
static void pct_encode(struct buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~')
            buf_putc(b, (char)c);
        else
            buf_printf(b, "%%%02X", c);
    }
}

static char *export_id(const struct offer *o, const char *base_id)
{
    struct buf b;
    char hash[65];

    buf_init(&b);
    if (!is_empty(base_id) && !is_empty(o->external_id)) {
        buf_puts(&b, base_id);
        if (base_id[strlen(base_id) - 1] != '/')
            buf_putc(&b, '/');
        pct_encode(&b, o->external_id);
    } else if (!is_empty(o->source_id) && strchr(o->source_id, ':') != NULL) {
        buf_puts(&b, o->source_id);
    } else {
        offer_content_hash(o, hash);
        buf_printf(&b, "urn:mcx:offer:%s", hash);
    }
    return buf_steal(&b, NULL);
}

struct elm_writer {
    struct json_writer w;
    const char *id;
    struct buf sub; /* scratch for nested ids */
};

/* A nested node's id: the document's id with a fragment naming the node. */
static const char *sub_id(struct elm_writer *ew, const char *name)
{
    buf_reset(&ew->sub);
    buf_printf(&ew->sub, "%s%c%s", ew->id, strchr(ew->id, '#') != NULL ? '-' : '#', name);
    return ew->sub.data;
}

static void node_begin(struct elm_writer *ew, const char *id, const char *type)
{
    json_object_begin(&ew->w);
    if (id != NULL)
        json_kv_string(&ew->w, "@id", id);
    json_kv_string(&ew->w, "@type", type);
}

static void write_lang_map(struct elm_writer *ew, const char *key, const struct lang_map *m)
{
    json_key(&ew->w, key);
    json_object_begin(&ew->w);
    for (size_t i = 0; i < m->n; i++)
        json_kv_string(&ew->w, m->items[i].lang[0] ? m->items[i].lang : "@none", m->items[i].text);
    json_object_end(&ew->w);
}

static void write_concept(struct elm_writer *ew, const char *uri, const char *scheme,
                          const char *label)
{
    node_begin(ew, uri, "Concept");
    if (scheme != NULL) {
        json_key(&ew->w, "inScheme");
        node_begin(ew, scheme, "ConceptScheme");
        json_object_end(&ew->w);
    }
    if (label != NULL) {
        json_key(&ew->w, "prefLabel");
        json_object_begin(&ew->w);
        json_kv_string(&ew->w, "en", label);
        json_object_end(&ew->w);
    }
    json_object_end(&ew->w);
}

static void write_concept_code(struct elm_writer *ew, const char *key, const char *prefix,
                               const char *code, const char *scheme, const char *label)
{
    struct buf uri;

    buf_init(&uri);
    buf_puts(&uri, prefix);
    buf_puts(&uri, code);
    if (key != NULL)
        json_key(&ew->w, key);
    write_concept(ew, uri.data, scheme, label);
    buf_cleanup(&uri);
}

static void write_mode(struct elm_writer *ew, enum offer_mode mode)
{
    const struct codes_mode *m = codes_mode_find(mode);

    if (m != NULL)
        write_concept_code(ew, "mode", CODES_URI_MODE, m->id, CODES_URI_MODE_SCHEME, m->label);
}

static void write_web_resource(struct elm_writer *ew, const char *id, const char *url)
{
    json_key(&ew->w, "homepage");
    node_begin(ew, id, "WebResource");
    json_kv_string(&ew->w, "contentURL", url);
    json_object_end(&ew->w);
}

static void write_date(struct elm_writer *ew, const char *key, const char *date)
{
    char dt[32];

    if (date[0] == '\0')
        return;
    snprintf(dt, sizeof(dt), "%.10sT00:00:00Z", date);
    json_kv_string(&ew->w, key, dt);
}

static void write_note(struct elm_writer *ew, const char *id, const struct lang_map *m)
{
    node_begin(ew, id, "Note");
    write_lang_map(ew, "noteLiteral", m);
}

static void write_identity(struct elm_writer *ew, const struct offer *o)
{
    if (is_empty(o->external_id))
        return;
    json_key(&ew->w, "identifier");
    node_begin(ew, sub_id(ew, "identifier"), "Identifier");
    json_kv_string(&ew->w, "notation", o->external_id);
    json_object_end(&ew->w);
}

static void write_temporal(struct elm_writer *ew, const struct offer *o)
{
    if (o->starts[0] == '\0' && o->ends[0] == '\0')
        return;
    json_key(&ew->w, "temporal");
    node_begin(ew, sub_id(ew, "period"), "PeriodOfTime");
    write_date(ew, "startDate", o->starts);
    write_date(ew, "endDate", o->ends);
    json_object_end(&ew->w);
}

static void write_price(struct elm_writer *ew, const struct offer *o)
{
    char num[400];

    if (!o->has_price || !isfinite(o->price_amount))
        return;
    json_key(&ew->w, "priceDetail");
    node_begin(ew, sub_id(ew, "price"), "PriceDetail");
    json_key(&ew->w, "amount");
    node_begin(ew, sub_id(ew, "amount"), "Amount");
    decimal_format(o->price_amount, num, sizeof(num));
    json_kv_string(&ew->w, "value", num); /* a string, so the context types it xsd:decimal */
    if (o->currency[0] != '\0')
        write_concept_code(ew, "unit", URI_CURRENCY, o->currency, URI_CURRENCY_SCHEME, NULL);
    json_object_end(&ew->w);
    json_object_end(&ew->w);
}

static void write_provider(struct elm_writer *ew, const struct offer *o)
{
    char code[4];
    const char *authority;

    if (is_empty(o->provider_id) && o->provider_name.n == 0 && o->provider_country[0] == '\0' &&
        is_empty(o->provider_homepage))
        return;
    json_key(&ew->w, "providedBy");
    /* Without a source id the organisation stays a blank node, so a round trip
     * does not invent one. */
    node_begin(ew, is_empty(o->provider_id) ? NULL : o->provider_id, "Organisation");
    if (o->provider_name.n > 0)
        write_lang_map(ew, "legalName", &o->provider_name);
    if (o->provider_country[0] != '\0') {
        /* a code the table lacks is written as it is, so a round trip keeps it */
        authority = codes_country_authority(o->provider_country);
        mcx_strlcpy(code, authority != NULL ? authority : o->provider_country, sizeof(code));
        str_upper(code);
        json_key(&ew->w, "location");
        node_begin(ew, sub_id(ew, "provider-location"), "Location");
        json_key(&ew->w, "address");
        node_begin(ew, sub_id(ew, "provider-address"), "Address");
        write_concept_code(ew, "countryCode", CODES_URI_COUNTRY, code, CODES_URI_COUNTRY_SCHEME,
                           NULL);
        json_object_end(&ew->w);
        json_object_end(&ew->w);
    }
    if (!is_empty(o->provider_homepage))
        write_web_resource(ew, sub_id(ew, "provider-homepage"), o->provider_homepage);
    json_object_end(&ew->w);
}

static void write_quality(struct elm_writer *ew, const struct offer *o)
{
    if (o->quality_assurance.n == 0)
        return;
    json_key(&ew->w, "additionalNote");
    json_array_begin(&ew->w);
    write_note(ew, sub_id(ew, "quality-assurance"), &o->quality_assurance);
    json_key(&ew->w, "subject");
    write_concept(ew, URI_QA_SUBJECT, NULL, "Quality assurance");
    json_object_end(&ew->w);
    json_array_end(&ew->w);
}

static void write_spec_codes(struct elm_writer *ew, const struct offer *o)
{
    char code[9], label[16];

    if (o->nlanguages > 0) {
        json_key(&ew->w, "language");
        json_array_begin(&ew->w);
        for (size_t i = 0; i < o->nlanguages; i++) {
            codes_lang_authority(o->languages[i], code, sizeof(code));
            write_concept_code(ew, NULL, CODES_URI_LANGUAGE, code, CODES_URI_LANGUAGE_SCHEME, NULL);
        }
        json_array_end(&ew->w);
    }
    if (o->nisced > 0) {
        json_key(&ew->w, "thematicArea");
        json_array_begin(&ew->w);
        for (size_t i = 0; i < o->nisced; i++)
            write_concept_code(ew, NULL, URI_ISCED, o->isced[i], URI_ISCED_SCHEME, NULL);
        json_array_end(&ew->w);
    }
    if (o->eqf >= 1 && o->eqf <= 8) {
        snprintf(code, sizeof(code), "%d", o->eqf);
        snprintf(label, sizeof(label), "Level %d", o->eqf);
        write_concept_code(ew, "eqfLevel", URI_EQF, code, URI_EQF_SCHEME, label);
    }
}

static void write_credits(struct elm_writer *ew, const struct offer *o)
{
    char num[400];

    if (!o->has_ects || !isfinite(o->ects))
        return;
    json_key(&ew->w, "creditPoint");
    node_begin(ew, sub_id(ew, "ects"), "CreditPoint");
    json_key(&ew->w, "framework");
    write_concept(ew, URI_ECTS, URI_CREDIT_SCHEME, "European Credit Transfer System");
    decimal_format(o->ects, num, sizeof(num));
    json_kv_string(&ew->w, "point", num);
    json_object_end(&ew->w);
}

static void write_outcomes(struct elm_writer *ew, const struct offer *o)
{
    char name[40];

    if (o->noutcomes == 0)
        return;
    json_key(&ew->w, "learningOutcome");
    json_array_begin(&ew->w);
    for (size_t i = 0; i < o->noutcomes; i++) {
        snprintf(name, sizeof(name), "outcome-%zu", i + 1);
        node_begin(ew, sub_id(ew, name), "LearningOutcome");
        write_lang_map(ew, "title", &o->learning_outcomes[i]);
        json_object_end(&ew->w);
    }
    json_array_end(&ew->w);
}

static void write_spec(struct elm_writer *ew, const struct offer *o)
{
    json_key(&ew->w, "learningAchievementSpecification");
    node_begin(ew, sub_id(ew, "specification"), "LearningAchievementSpecification");
    write_lang_map(ew, "title", &o->title); /* mandatory on a specification */
    write_spec_codes(ew, o);
    write_credits(ew, o);
    if (o->mode != OFFER_MODE_UNKNOWN)
        write_mode(ew, o->mode);
    if (!is_empty(o->volume_of_learning))
        json_kv_string(&ew->w, "volumeOfLearning", o->volume_of_learning);
    if (o->entry_requirements.n > 0) {
        json_key(&ew->w, "entryRequirement");
        write_note(ew, sub_id(ew, "entry-requirements"), &o->entry_requirements);
        json_object_end(&ew->w);
    }
    write_outcomes(ew, o);
    if (o->assessment.n > 0) {
        json_key(&ew->w, "provenBy");
        node_begin(ew, sub_id(ew, "assessment"), "LearningAssessmentSpecification");
        write_lang_map(ew, "title", &o->assessment);
        json_object_end(&ew->w);
    }
    json_object_end(&ew->w);
}

void elm_export_offer(const struct offer *o, const char *base_id, struct buf *out)
{
    struct elm_writer ew;
    char *id = export_id(o, base_id);

    json_writer_init(&ew.w, out);
    ew.id = id;
    buf_init(&ew.sub);
    json_object_begin(&ew.w);
    json_kv_string(&ew.w, "@context", ELM_CONTEXT_URL);
    json_kv_string(&ew.w, "@id", id);
    json_kv_string(&ew.w, "@type", "LearningOpportunity");
    write_identity(&ew, o);
    write_lang_map(&ew, "title", &o->title);
    if (o->description.n > 0)
        write_lang_map(&ew, "description", &o->description);
    if (!is_empty(o->homepage))
        write_web_resource(&ew, sub_id(&ew, "homepage"), o->homepage);
    write_temporal(&ew, o);
    write_date(&ew, "applicationDeadline", o->application_deadline);
    if (o->mode != OFFER_MODE_UNKNOWN)
        write_mode(&ew, o->mode);
    write_price(&ew, o);
    write_provider(&ew, o);
    write_quality(&ew, o);
    write_spec(&ew, o);
    json_object_end(&ew.w);
    buf_cleanup(&ew.sub);
    free(id);
}

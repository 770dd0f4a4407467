/*
 * credential.c — a learner's credential read for recognition (credential.h). It
 * reads what the samples of the EC and the DC4EU converters actually carry, takes
 * only the first claim, and reports a missing piece as absent, never as a guess:
 * the rules engine then names it in a reason.
 */
#include "recognition/credential.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "catalogue/codes.h"
#include "catalogue/xmlutil.h"
#include "server/json.h"

#define PTR_MAX 256
#define TEXT_MAX 1024 /* a title or name longer than this is cut (whole UTF-8 characters) */
#define GRADE_MAX 256
#define ID_MAX 512 /* an id longer than this is dropped: a cut id would match the wrong thing */

/* Controlled vocabularies (EU Vocabularies / Europass), as in catalogue/elm.c; countries
 * and modes are in catalogue/codes.h. */
#define URI_ISCED "http://data.europa.eu/snb/isced-f/"
#define URI_EQF "http://data.europa.eu/snb/eqf/"
#define URI_ECTS "http://data.europa.eu/snb/education-credit/6fcec5c5af"
#define URI_QA_SUBJECT "urn:mcx:note-subject:quality-assurance"

/* ELM 2 (credential schema 1.2) namespaces. */
#define NS_SNB "http://data.europa.eu/snb"
#define NS_CRED "http://data.europa.eu/europass/model/credentials/w3c#"

#define ERR_CODE "invalid_credential"

/* ---- small helpers ---- */

static bool is_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* A copy of s cut to at most max bytes at a character boundary. */
static char *text_dup(const char *s, size_t max)
{
    char *t = xstrndup(s, strnlen(s, max));

    xmlutil_utf8_trim_tail(t);
    return t;
}

/* Sets *field once, from trimmed non-empty text cut to max bytes. */
static void set_text(char **field, const char *s, size_t max)
{
    char *t;

    if (*field != NULL || s == NULL)
        return;
    t = xmlutil_trim_dup(s);
    if (t[0] != '\0')
        *field = text_dup(t, max);
    free(t);
}

/* Sets *field once from an id; one longer than ID_MAX is dropped, not cut. */
static void set_id(char **field, const char *s)
{
    if (*field == NULL && !is_empty(s) && strlen(s) <= ID_MAX)
        *field = xstrdup(s);
}

/* The EU authority's country URI to ISO alpha-2, or NULL. */
static char *country_of_uri(const char *uri)
{
    const char *alpha2 = codes_country_alpha2(mcx_str_after(uri, CODES_URI_COUNTRY));

    return alpha2 != NULL ? xstrdup(alpha2) : NULL;
}

/*
 * A SCHAC home organisation is the institution's DNS domain ("uio.no"): lowercase
 * labels of letters, digits and hyphens, at least two, the last one not numeric.
 */
static bool schac_like(char *s)
{
    size_t n = strlen(s);
    const char *last;
    bool alpha = false;

    if (n < 3 || n > 253 || strchr(s, '.') == NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        s[i] = (char)tolower((unsigned char)s[i]);
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
            return false;
        if (s[i] == '.' &&
            (i == 0 || i == n - 1 || s[i - 1] == '.' || s[i - 1] == '-' || s[i + 1] == '-'))
            return false;
    }
    if (s[0] == '-' || s[n - 1] == '-')
        return false;
    last = strrchr(s, '.') + 1;
    for (; *last; last++)
        alpha = alpha || isalpha((unsigned char)*last);
    return alpha;
}

/* The host of an http(s) URL without "www.", when it looks like a SCHAC code. */
static char *domain_of_url(const char *url)
{
    const char *p;
    char host[256];
    size_t n;

    if (url == NULL)
        return NULL;
    if (strncasecmp(url, "https://", 8) == 0)
        p = url + 8;
    else if (strncasecmp(url, "http://", 7) == 0)
        p = url + 7;
    else
        return NULL;
    n = strcspn(p, "/:?#");
    if (n == 0 || n >= sizeof(host) || memchr(p, '@', n) != NULL)
        return NULL;
    memcpy(host, p, n);
    host[n] = '\0';
    if (strncasecmp(host, "www.", 4) == 0)
        memmove(host, host + 4, n - 3);
    return schac_like(host) ? xstrdup(host) : NULL;
}

static char *schac_of_notation(const char *notation)
{
    char *t;

    if (notation == NULL || strlen(notation) > 253)
        return NULL;
    t = xmlutil_trim_dup(notation);
    if (schac_like(t))
        return t;
    free(t);
    return NULL;
}

static bool date_is_valid(int y, int mo, int d)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return false;
    return mo != 2 || d <= 28 || leap;
}

/* An xsd:date or xsd:dateTime ("2019-09-20", "2019-09-20Z", "2019-09-20T00:00:00+02:00"):
 * the calendar date as written (a UTC time that is local midnight elsewhere stays the
 * day written, as in catalogue/elm.c). */
static bool date_read(const char *s, char out[11])
{
    if (s == NULL || strlen(s) < 10 || (s[10] != '\0' && strchr("TZ+-", s[10]) == NULL) ||
        s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return false;
    if (!date_is_valid(atoi(s), atoi(s + 5), atoi(s + 8)))
        return false;
    memcpy(out, s, 10);
    out[10] = '\0';
    return true;
}

/* Plain decimal text, as ELM writes credit points (a string in JSON-LD). */
static bool decimal_read(const char *s, double *out)
{
    char *end;
    double d;
    char *t;
    bool ok;

    if (s == NULL)
        return false;
    t = xmlutil_trim_dup(s);
    ok = t[0] != '\0' && t[strspn(t, "0123456789+-.eE")] == '\0';
    d = ok ? strtod(t, &end) : 0;
    ok = ok && *end == '\0' && isfinite(d) && d >= 0 && d <= 1000;
    free(t);
    if (ok)
        *out = d;
    return ok;
}

static void isced_add(struct rec_parsed *p, const char *code)
{
    if (code == NULL || !mcx_str_is_digits(code, 2, 4) || p->nisced >= REC_CREDENTIAL_MAX_ISCED)
        return;
    for (size_t i = 0; i < p->nisced; i++)
        if (strcmp(p->isced[i], code) == 0)
            return;
    p->isced = xrealloc(p->isced, (p->nisced + 1) * sizeof(*p->isced));
    p->isced[p->nisced++] = xstrdup(code);
}

static bool is_quality_label(const char *s)
{
    return s != NULL && (strcasecmp(s, "quality assurance") == 0 || strcmp(s, URI_QA_SUBJECT) == 0);
}

static void set_date(struct rec_parsed *p, const char *s, const char *source)
{
    if (p->awarded_on[0] == '\0' && date_read(s, p->awarded_on))
        p->awarded_on_source = source;
}

/* Points cred at what was read. */
static void finish(struct rec_parsed *p)
{
    struct rec_credential *c = &p->cred;

    c->issuer = p->issuer_id;
    c->issuer_name = p->issuer_name;
    c->title = p->title;
    c->isced = (const char *const *)p->isced;
    c->nisced = p->nisced;
    c->grade = p->grade;
    c->awarded_on = p->awarded_on[0] != '\0' ? p->awarded_on : NULL;
}

void rec_parsed_cleanup(struct rec_parsed *p)
{
    if (p == NULL)
        return;
    free(p->issuer_id);
    free(p->issuer_name);
    free(p->issuer_country);
    free(p->issuer_homepage);
    free(p->credential_id);
    free(p->specification_id);
    free(p->opportunity_id);
    free(p->homepage);
    free(p->title);
    free(p->grade);
    for (size_t i = 0; i < p->nisced; i++)
        free(p->isced[i]);
    free(p->isced);
    memset(p, 0, sizeof(*p));
}

/* ==== ELM 3 JSON-LD ==== */

struct jreader {
    const char *data; /* the text the tree came from, for lines; may be NULL */
    size_t len;
    const char *what; /* "" or "signed payload: " */
    struct mcx_error *err;
    struct rec_parsed *out;
};

/* base + "/" + key, escaped per RFC 6901 (~ → ~0, / → ~1). */
static void ptr_key(char out[PTR_MAX], const char *base, const char *key)
{
    size_t n = mcx_strlcpy(out, base, PTR_MAX);

    if (n >= PTR_MAX - 1)
        return;
    out[n++] = '/';
    for (; *key && n < PTR_MAX - 2; key++) {
        if (*key == '~' || *key == '/') {
            out[n++] = '~';
            out[n++] = *key == '~' ? '0' : '1';
        } else {
            out[n++] = *key;
        }
    }
    out[n] = '\0';
}

static void ptr_index(char out[PTR_MAX], const char *base, size_t i)
{
    char num[24];
    size_t n;

    snprintf(num, sizeof(num), "/%zu", i);
    n = mcx_strlcpy(out, base, PTR_MAX);
    if (n < PTR_MAX)
        mcx_strlcpy(out + n, num, PTR_MAX - n);
}

static int jfail(struct jreader *r, const struct json_value *at, const char *path, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

static int jfail(struct jreader *r, const struct json_value *at, const char *path, const char *fmt,
                 ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mcx_error_set(r->err, ERR_CODE, "%s%s", r->what, msg);
    if (r->err != NULL) {
        xmlutil_utf8_trim_tail(r->err->message);
        mcx_strlcpy(r->err->path, path, sizeof(r->err->path));
        r->err->line = at != NULL && r->data != NULL && r->what[0] == '\0'
                           ? json_offset_line(r->data, r->len, at->offset)
                           : 0;
    }
    return -1;
}

/* A property may hold one node or an array of them (JSON-LD compaction). */
static size_t node_count(const struct json_value *v)
{
    if (v == NULL || json_is_null(v))
        return 0;
    return json_is_array(v) ? json_array_len(v) : 1;
}

static const struct json_value *node_at(const struct json_value *v, size_t i)
{
    return json_is_array(v) ? json_array_at(v, i) : v;
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
    const struct json_value *id = json_object_get(node, "id");

    return text_of(id != NULL ? id : json_object_get(node, "@id"));
}

/* A concept's IRI: {"id": …} or a bare IRI string. */
static const char *concept_uri(const struct json_value *v)
{
    return json_is_object(v) ? node_id(v) : text_of(v);
}

static bool has_type(const struct json_value *node, const char *name)
{
    const struct json_value *t = json_object_get(node, "type");

    if (t == NULL)
        t = json_object_get(node, "@type");
    for (size_t i = 0; i < node_count(t); i++) {
        const char *s = text_of(node_at(t, i));
        size_t sl, nl = strlen(name);
        if (s == NULL)
            continue;
        sl = strlen(s);
        /* "LearningAchievement", "elm:LearningAchievement", ".../elm/LearningAchievement" */
        if (strcmp(s, name) == 0 || (sl > nl && strcmp(s + sl - nl, name) == 0 &&
                                     (s[sl - nl - 1] == ':' || s[sl - nl - 1] == '/')))
            return true;
    }
    return false;
}

/* The first object among a property's nodes, and its JSON pointer. */
static const struct json_value *first_object(const struct json_value *node, const char *term,
                                             const char *base, char path[PTR_MAX])
{
    const struct json_value *v = json_object_get(node, term);
    char at[PTR_MAX];

    ptr_key(at, base, term);
    for (size_t i = 0; i < node_count(v); i++) {
        if (json_is_object(node_at(v, i))) {
            if (json_is_array(v))
                ptr_index(path, at, i);
            else
                mcx_strlcpy(path, at, PTR_MAX);
            return node_at(v, i);
        }
    }
    return NULL;
}

static const struct json_value *first_object_nopath(const struct json_value *node, const char *term)
{
    char path[PTR_MAX];

    return first_object(node, term, "", path);
}

/*
 * One text from a language-tagged value in any JSON-LD form (a language map, a
 * string, a value object, an array of those): English when there is one, since
 * mcx's staff pages are in English first, else the first.
 */
static const char *text_pick(const struct json_value *v, int depth)
{
    const struct json_value *en;
    const char *s;

    if (v == NULL || depth > 2)
        return NULL;
    if (json_is_string(v))
        return text_of(v);
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_len(v); i++)
            if ((s = text_pick(json_array_at(v, i), depth + 1)) != NULL)
                return s;
        return NULL;
    }
    if (!json_is_object(v))
        return NULL;
    if (json_object_get(v, "@value") != NULL)
        return text_of(json_object_get(v, "@value"));
    if ((en = json_object_get(v, "en")) != NULL && (s = text_pick(en, depth + 1)) != NULL)
        return s;
    for (size_t i = 0; i < json_object_len(v); i++)
        if ((s = text_pick(json_object_value_at(v, i), depth + 1)) != NULL)
            return s;
    return NULL;
}

/* ---- ELM 3: organisations ---- */

static char *org_schac(const struct json_value *org)
{
    const struct json_value *ids = json_object_get(org, "identifier");

    for (size_t i = 0; i < node_count(ids); i++) {
        const struct json_value *id = node_at(ids, i);
        const char *scheme = text_of(json_object_get(id, "schemeName"));
        char *schac;
        if (scheme == NULL || strcasecmp(scheme, "schac") != 0)
            continue;
        if ((schac = schac_of_notation(text_of(json_object_get(id, "notation")))) != NULL)
            return schac;
    }
    return NULL;
}

/* A homepage: a WebResource (contentURL), or an IRI. */
static const char *homepage_of(const struct json_value *v)
{
    for (size_t i = 0; i < node_count(v); i++) {
        const struct json_value *n = node_at(v, i);
        const char *url = text_of(json_object_get(n, "contentURL"));
        if (url == NULL)
            url = text_of(json_object_get(n, "contentUrl"));
        if (url == NULL)
            url = concept_uri(n);
        if (url != NULL && (strncmp(url, "http://", 7) == 0 || strncmp(url, "https://", 8) == 0))
            return url;
    }
    return NULL;
}

static char *org_country(const struct json_value *org)
{
    const struct json_value *locs = json_object_get(org, "location");
    char *cc = NULL;

    for (size_t i = 0; i < node_count(locs) && cc == NULL; i++) {
        const struct json_value *addrs = json_object_get(node_at(locs, i), "address");
        for (size_t j = 0; j < node_count(addrs) && cc == NULL; j++)
            cc = country_of_uri(concept_uri(json_object_get(node_at(addrs, j), "countryCode")));
    }
    return cc;
}

static bool org_is_accredited(const struct json_value *org)
{
    return node_count(json_object_get(org, "accreditation")) > 0;
}

/* The issuer's identity, from an embedded Organisation. */
static void read_org(struct rec_parsed *p, const struct json_value *org)
{
    const char *url = homepage_of(json_object_get(org, "homepage"));
    const char *name = text_pick(json_object_get(org, "legalName"), 0);

    if (name == NULL)
        name = text_pick(json_object_get(org, "prefLabel"), 0);
    if (name == NULL)
        name = text_pick(json_object_get(org, "altLabel"), 0);
    set_text(&p->issuer_name, name, TEXT_MAX);
    set_id(&p->issuer_homepage, url);
    p->issuer_id = org_schac(org);
    if (p->issuer_id == NULL)
        p->issuer_id = domain_of_url(url);
    p->issuer_country = org_country(org);
    p->cred.has_qa = p->cred.has_qa || org_is_accredited(org);
}

/* Does an embedded organisation say who it is (not just an id to look up)? */
static bool org_names_someone(const struct json_value *org)
{
    char *schac = org_schac(org);
    bool named = schac != NULL || homepage_of(json_object_get(org, "homepage")) != NULL ||
                 text_pick(json_object_get(org, "legalName"), 0) != NULL ||
                 text_pick(json_object_get(org, "prefLabel"), 0) != NULL;

    free(schac);
    return named;
}

/* ---- ELM 3: the claim ---- */

/* An EQF level from eqfLevel, else an educationLevel in the EQF scheme. */
static int read_eqf(struct jreader *r, const struct json_value *spec, const char *base)
{
    static const char *const terms[] = {"eqfLevel", "EQFLevel", "educationLevel"};
    char at[PTR_MAX], path[PTR_MAX];

    for (size_t t = 0; t < MCX_ARRAY_LEN(terms); t++) {
        const struct json_value *v = json_object_get(spec, terms[t]);
        ptr_key(at, base, terms[t]);
        for (size_t i = 0; i < node_count(v); i++) {
            const char *level = mcx_str_after(concept_uri(node_at(v, i)), URI_EQF);
            if (level == NULL)
                continue;
            if (json_is_array(v))
                ptr_index(path, at, i);
            else
                mcx_strlcpy(path, at, sizeof(path));
            if (!mcx_str_is_digits(level, 1, 1) || level[0] < '1' || level[0] > '8')
                return jfail(r, node_at(v, i), path, "EQF level must be 1 to 8, not %.20s", level);
            r->out->cred.eqf = level[0] - '0';
            return 0;
        }
    }
    return 0;
}

/* ECTS: the first credit point in the ECTS framework (point is an xsd:decimal string). */
static int read_ects(struct jreader *r, const struct json_value *node, const char *term,
                     const char *base)
{
    const struct json_value *v = json_object_get(node, term);
    char at[PTR_MAX], path[PTR_MAX], ppath[PTR_MAX];

    if (r->out->cred.has_ects)
        return 0;
    ptr_key(at, base, term);
    for (size_t i = 0; i < node_count(v); i++) {
        const struct json_value *cp = node_at(v, i);
        const struct json_value *point = json_object_get(cp, "point");
        const char *fw = concept_uri(json_object_get(cp, "framework"));
        double d;
        if (fw == NULL || strcmp(fw, URI_ECTS) != 0)
            continue;
        if (json_is_array(v))
            ptr_index(path, at, i);
        else
            mcx_strlcpy(path, at, sizeof(path));
        ptr_key(ppath, path, "point");
        if (json_is_number(point) ? json_number_double(point, &d) < 0 || d < 0 || d > 1000
                                  : !decimal_read(text_of(point), &d))
            return jfail(r, point != NULL ? point : cp, ppath,
                         "ECTS credit points must be a decimal number from 0 to 1000");
        r->out->cred.ects = d;
        r->out->cred.has_ects = true;
        return 0;
    }
    return 0;
}

static void read_isced(struct rec_parsed *p, const struct json_value *spec)
{
    static const char *const terms[] = {"thematicArea", "ISCEDFCode"};

    for (size_t t = 0; t < MCX_ARRAY_LEN(terms); t++) {
        const struct json_value *v = json_object_get(spec, terms[t]);
        for (size_t i = 0; i < node_count(v); i++)
            isced_add(p, mcx_str_after(concept_uri(node_at(v, i)), URI_ISCED));
    }
}

static const char *mode_of(const struct json_value *v)
{
    const char *m = NULL;

    for (size_t i = 0; i < node_count(v) && m == NULL; i++)
        m = offer_mode_name(codes_mode_of_uri(concept_uri(node_at(v, i))));
    return m;
}

static bool note_is_quality(const struct json_value *note)
{
    const struct json_value *subj = json_object_get(note, "subject");

    for (size_t i = 0; i < node_count(subj); i++) {
        const struct json_value *c = node_at(subj, i);
        const struct json_value *labels = json_object_get(c, "prefLabel");
        if (is_quality_label(concept_uri(c)))
            return true;
        for (size_t j = 0; j < json_object_len(labels); j++)
            if (is_quality_label(text_of(json_object_value_at(labels, j))))
                return true;
    }
    return false;
}

/* Quality assurance (EU Council Recommendation 2022, Annex I): an accreditation
 * of the specification, or a note whose subject is quality assurance. */
static bool spec_has_qa(const struct json_value *spec)
{
    const struct json_value *notes = json_object_get(spec, "additionalNote");

    if (node_count(json_object_get(spec, "accreditation")) > 0)
        return true;
    for (size_t i = 0; i < node_count(notes); i++)
        if (note_is_quality(node_at(notes, i)))
            return true;
    return false;
}

static int read_spec(struct jreader *r, const struct json_value *spec, const char *base)
{
    struct rec_parsed *p = r->out;

    set_id(&p->specification_id, node_id(spec));
    set_text(&p->title, text_pick(json_object_get(spec, "title"), 0), TEXT_MAX);
    set_id(&p->homepage, homepage_of(json_object_get(spec, "homepage")));
    read_isced(p, spec);
    if (p->cred.mode == NULL)
        p->cred.mode = mode_of(json_object_get(spec, "mode"));
    p->cred.has_qa = p->cred.has_qa || spec_has_qa(spec);
    if (read_eqf(r, spec, base) < 0)
        return -1;
    return read_ects(r, spec, "creditPoint", base);
}

/* A grade Note's literal, or a bare string. */
static const char *grade_of(const struct json_value *v)
{
    const struct json_value *g = json_object_get(v, "grade");

    for (size_t i = 0; i < node_count(g); i++) {
        const struct json_value *n = node_at(g, i);
        const char *s =
            json_is_object(n) ? text_pick(json_object_get(n, "noteLiteral"), 0) : text_pick(n, 0);
        if (s != NULL)
            return s;
    }
    return NULL;
}

/* The grade of the assessments that prove the claim: provenBy in the EC samples,
 * awardedBy.used in the DC4EU converter's, the claim itself for an assessment. */
static void read_grade(struct rec_parsed *p, const struct json_value *claim,
                       const struct json_value *awarding)
{
    const struct json_value *lists[] = {json_object_get(claim, "provenBy"),
                                        json_object_get(awarding, "used")};

    for (size_t l = 0; l < MCX_ARRAY_LEN(lists) && p->grade == NULL; l++)
        for (size_t i = 0; i < node_count(lists[l]) && p->grade == NULL; i++)
            set_text(&p->grade, grade_of(node_at(lists[l], i)), GRADE_MAX);
    if (p->grade == NULL)
        set_text(&p->grade, grade_of(claim), GRADE_MAX);
}

static int read_claim_date(struct jreader *r, const struct json_value *awarding, const char *apath)
{
    const struct json_value *d = json_object_get(awarding, "awardingDate");
    char at[PTR_MAX];

    if (d == NULL || json_is_null(d))
        return 0;
    set_date(r->out, text_of(d), "awarding_date");
    if (r->out->awarded_on[0] == '\0') {
        ptr_key(at, apath, "awardingDate");
        return jfail(r, d, at, "expected a date (YYYY-MM-DD or an xsd:dateTime)");
    }
    return 0;
}

static int read_claim(struct jreader *r, const struct json_value *claim, const char *base)
{
    struct rec_parsed *p = r->out;
    char spath[PTR_MAX], apath[PTR_MAX];
    const struct json_value *spec = first_object(claim, "specifiedBy", base, spath);
    const struct json_value *awarding = first_object(claim, "awardedBy", base, apath);
    const struct json_value *lo = json_object_get(claim, "learningOpportunity");

    set_text(&p->title, text_pick(json_object_get(claim, "title"), 0), TEXT_MAX);
    set_id(&p->opportunity_id, concept_uri(node_at(lo, 0)));
    /* what the learner received wins over what the specification offers */
    if (read_ects(r, claim, "creditReceived", base) < 0)
        return -1;
    if (spec != NULL && read_spec(r, spec, spath) < 0)
        return -1;
    if (p->cred.mode == NULL && json_is_object(node_at(lo, 0)))
        p->cred.mode = mode_of(json_object_get(node_at(lo, 0), "mode"));
    read_grade(p, claim, awarding);
    return read_claim_date(r, awarding, apath);
}

/* The claim to recognise: the first achievement, else the first claim of any kind
 * (a certificate of participation claims a LearningActivity). nclaims counts the
 * claims of the kind read, so a caller can tell a transcript from one credential. */
static int pick_claim(struct jreader *r, const struct json_value *subject, const char *sbase,
                      const struct json_value **claim, char path[PTR_MAX])
{
    const struct json_value *v = json_object_get(subject, "hasClaim");
    size_t nach = 0, nall = 0;
    char at[PTR_MAX];

    ptr_key(at, sbase, "hasClaim");
    *claim = NULL;
    for (size_t i = 0; i < node_count(v); i++) {
        const struct json_value *c = node_at(v, i);
        bool ach = has_type(c, "LearningAchievement");
        if (!json_is_object(c))
            continue;
        nall++;
        nach += ach;
        if (*claim == NULL || (ach && nach == 1)) {
            *claim = c;
            if (json_is_array(v))
                ptr_index(path, at, i);
            else
                mcx_strlcpy(path, at, PTR_MAX);
        }
    }
    r->out->nclaims = nach > 0 ? nach : nall;
    if (*claim == NULL)
        return jfail(r, v != NULL ? v : subject, at,
                     "the credential claims no learning achievement or activity to recognise");
    return 0;
}

/* The credential's own dates, when the claim's awarding process gave none. */
static int read_credential_dates(struct jreader *r, const struct json_value *cred, const char *base)
{
    static const struct {
        const char *term, *source;
    } dates[] = {{"issued", "issued"}, {"issuanceDate", "issued"}, {"validFrom", "valid_from"}};
    char at[PTR_MAX];

    for (size_t i = 0; i < MCX_ARRAY_LEN(dates) && r->out->awarded_on[0] == '\0'; i++) {
        const struct json_value *d = json_object_get(cred, dates[i].term);
        if (d == NULL || json_is_null(d))
            continue;
        set_date(r->out, text_of(d), dates[i].source);
        if (r->out->awarded_on[0] == '\0') {
            ptr_key(at, base, dates[i].term);
            return jfail(r, d, at, "expected a date (YYYY-MM-DD or an xsd:dateTime)");
        }
    }
    return 0;
}

static bool evidence_has_qa(const struct json_value *cred)
{
    const struct json_value *ev = json_object_get(cred, "evidence");

    for (size_t i = 0; i < node_count(ev); i++)
        if (node_count(json_object_get(node_at(ev, i), "accreditation")) > 0)
            return true;
    return false;
}

static int read_credential(struct jreader *r, const struct json_value *cred, const char *base)
{
    struct rec_parsed *p = r->out;
    const struct json_value *issuer = json_object_get(cred, "issuer");
    const struct json_value *subject, *claim, *awarding, *body;
    char at[PTR_MAX], spath[PTR_MAX], cpath[PTR_MAX];

    if (!has_type(cred, "VerifiableCredential") && !has_type(cred, "EuropeanDigitalCredential")) {
        ptr_key(at, base, json_object_get(cred, "@type") != NULL ? "@type" : "type");
        return jfail(r, cred, at,
                     "not a Verifiable Credential (type must include VerifiableCredential or "
                     "EuropeanDigitalCredential)");
    }
    set_id(&p->credential_id, node_id(cred));
    if (issuer != NULL && !json_is_null(issuer) && !json_is_object(issuer) &&
        text_of(issuer) == NULL) {
        ptr_key(at, base, "issuer");
        return jfail(r, issuer, at, "expected an organisation or its IRI");
    }
    if ((subject = first_object(cred, "credentialSubject", base, spath)) == NULL) {
        ptr_key(at, base, "credentialSubject");
        return jfail(r, cred, at, "the credential has no credentialSubject");
    }
    if (pick_claim(r, subject, spath, &claim, cpath) < 0 || read_claim(r, claim, cpath) < 0 ||
        read_credential_dates(r, cred, base) < 0)
        return -1;
    /* the issuer of record, else (DC4EU conversions carry none) the awarding body */
    awarding = first_object_nopath(claim, "awardedBy");
    body = first_object_nopath(awarding, "awardingBody");
    if (json_is_object(issuer) && org_names_someone(issuer))
        read_org(p, issuer);
    else if (body != NULL)
        read_org(p, body);
    p->cred.has_qa = p->cred.has_qa || evidence_has_qa(cred) || org_is_accredited(body);
    return 0;
}

/* A sealed credential: JAdES in JSON serialisation, its payload the credential's
 * JSON text (b64 false). The seal is not verified here. */
static bool is_envelope(const struct json_value *v)
{
    return json_is_string(json_object_get(v, "payload")) &&
           json_object_get(v, "signatures") != NULL && json_object_get(v, "type") == NULL &&
           json_object_get(v, "@type") == NULL;
}

static int read_root(struct jreader *r, const struct json_value *root);

static int read_envelope(struct jreader *r, const struct json_value *root)
{
    const struct json_value *pv = json_object_get(root, "payload");
    struct mcx_error local;
    struct json_value *inner;
    struct jreader ir = *r;
    size_t plen;
    const char *payload = json_string_value(pv, &plen);
    int rc;

    if (r->what[0] != '\0')
        return jfail(r, root, "/payload", "a sealed payload holds another sealed envelope");
    inner = json_parse(payload, plen, REC_CREDENTIAL_MAX_DEPTH, &local);
    if (inner == NULL)
        return jfail(r, pv, "/payload", "the sealed payload is not a JSON credential: %s (line %d)",
                     local.message, local.line);
    ir.data = payload;
    ir.len = plen;
    ir.what = "signed payload: ";
    r->out->is_sealed = true;
    rc = read_root(&ir, inner);
    json_value_free(inner);
    return rc;
}

static int read_root(struct jreader *r, const struct json_value *root)
{
    const char *base = "";

    if (!json_is_object(root))
        return jfail(r, root, "", "expected a JSON-LD object (a Verifiable Credential)");
    if (is_envelope(root))
        return read_envelope(r, root);
    if (json_is_object(json_object_get(root, "credential")) &&
        json_object_get(root, "type") == NULL && json_object_get(root, "@type") == NULL) {
        root = json_object_get(root, "credential"); /* EDC issuer upload wrapper */
        base = "/credential";
    }
    return read_credential(r, root, base);
}

static int elm3_read(struct jreader *r, const struct json_value *v)
{
    memset(r->out, 0, sizeof(*r->out));
    r->out->format = "elm3";
    if (read_root(r, v) < 0) {
        rec_parsed_cleanup(r->out);
        return -1;
    }
    finish(r->out);
    return 0;
}

int rec_parse_elm3_value(const struct json_value *v, const char *data, size_t len,
                         struct rec_parsed *out, struct mcx_error *err)
{
    struct jreader r = {.data = data, .len = len, .what = "", .err = err, .out = out};

    mcx_error_clear(err);
    return elm3_read(&r, v);
}

int rec_parse_elm3(const char *json, size_t len, struct rec_parsed *out, struct mcx_error *err)
{
    struct json_value *doc;
    int rc;

    memset(out, 0, sizeof(*out));
    mcx_error_clear(err);
    if (len > REC_CREDENTIAL_MAX_BYTES) {
        mcx_error_set(err, "too_large", "the credential is larger than %u bytes",
                      REC_CREDENTIAL_MAX_BYTES);
        return -1;
    }
    if ((doc = json_parse(json, len, REC_CREDENTIAL_MAX_DEPTH, err)) == NULL)
        return -1;
    rc = rec_parse_elm3_value(doc, json, len, out, err);
    json_value_free(doc);
    return rc;
}

/* ==== ELM 2 XML ==== */

struct xreader {
    xmlDocPtr doc;
    xmlNodePtr root;
    struct xmlutil_reader rd;
    struct mcx_error *err;
    struct rec_parsed *out;
};

/* "/europassCredential/credentialSubject/achievements/learningAchievement[2]" */
static void xpath_of(const struct xreader *x, xmlNodePtr n, char *out, size_t size)
{
    const char *seg[REC_CREDENTIAL_MAX_DEPTH + 2], *prefix[REC_CREDENTIAL_MAX_DEPTH + 2];
    size_t pos[REC_CREDENTIAL_MAX_DEPTH + 2];
    int k = 0;
    struct buf b;

    for (; n != NULL && n->type == XML_ELEMENT_NODE && k < REC_CREDENTIAL_MAX_DEPTH + 2;
         n = n->parent, k++) {
        seg[k] = (const char *)n->name;
        prefix[k] = n->ns != NULL && n->ns->prefix != NULL &&
                            !xmlStrEqual(n->ns->href, (const xmlChar *)NS_SNB)
                        ? (const char *)n->ns->prefix
                        : NULL;
        pos[k] = n == x->root ? 0 : xmlutil_sibling_pos(n);
    }
    buf_init(&b);
    xmlutil_path_join(&b, seg, prefix, pos, k);
    xmlutil_copy_utf8(out, b.data != NULL ? b.data : "/", size);
    buf_cleanup(&b);
}

static int xfail(struct xreader *x, xmlNodePtr at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int xfail(struct xreader *x, xmlNodePtr at, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mcx_error_set(x->err, ERR_CODE, "%s", msg);
    if (x->err != NULL) {
        xmlutil_utf8_trim_tail(x->err->message);
        xpath_of(x, at, x->err->path, sizeof(x->err->path));
        x->err->line = xmlutil_node_line(at);
    }
    return -1;
}

/* The first child element {NS_SNB}name of n. */
static xmlNodePtr child(xmlNodePtr n, const char *name)
{
    if (n == NULL)
        return NULL;
    for (xmlNodePtr c = xmlutil_first_element(n->children); c != NULL; c = xmlutil_next_element(c))
        if (xmlutil_node_is(c, NS_SNB, name))
            return c;
    return NULL;
}

static xmlNodePtr next_named(xmlNodePtr n)
{
    for (xmlNodePtr c = xmlutil_next_element(n); c != NULL; c = xmlutil_next_element(c))
        if (xmlStrEqual(c->name, n->name) && c->ns == n->ns)
            return c;
    return NULL;
}

/* The entity with id in the flat container (agentReferences, ...) under the root:
 * ELM 2 links entities by idref rather than nesting them. */
static xmlNodePtr ref_find(struct xreader *x, const char *container, xmlNodePtr ref)
{
    char *id = ref != NULL ? xmlutil_attr_get(ref, "idref") : NULL;
    xmlNodePtr found = NULL;

    if (id == NULL)
        return NULL;
    for (xmlNodePtr c = child(x->root, container); c != NULL && found == NULL; c = next_named(c)) {
        for (xmlNodePtr e = xmlutil_first_element(c->children); e != NULL && found == NULL;
             e = xmlutil_next_element(e)) {
            char *eid = xmlutil_attr_get(e, "id");
            if (eid != NULL && strcmp(eid, id) == 0)
                found = e;
            free(eid);
        }
    }
    free(id);
    return found;
}

/* A text of a multilingual element (<title><text lang="en">…</text></title>):
 * English when given, else the first. The caller frees it. */
static char *xtext(xmlNodePtr n)
{
    xmlNodePtr first = NULL;

    if (n == NULL)
        return NULL;
    for (xmlNodePtr t = child(n, "text"); t != NULL; t = next_named(t)) {
        char *lang = xmlutil_attr_get(t, "lang");
        bool en = lang != NULL && strcasecmp(lang, "en") == 0;
        free(lang);
        if (en)
            return xmlutil_node_text(t);
        if (first == NULL)
            first = t;
    }
    return first != NULL ? xmlutil_node_text(first) : NULL;
}

static void set_owned(char **field, char *s, size_t max)
{
    set_text(field, s, max);
    free(s);
}

static void set_id_owned(char **field, char *s)
{
    set_id(field, s);
    free(s);
}

static char *xattr(xmlNodePtr n, const char *name)
{
    return n != NULL ? xmlutil_attr_get(n, name) : NULL;
}

static void xorg_read(struct rec_parsed *p, xmlNodePtr org)
{
    xmlNodePtr loc = child(org, "hasLocation");
    char *url = xattr(child(org, "homepage"), "uri");
    char *uri;

    set_owned(&p->issuer_name, xtext(child(org, "prefLabel")), TEXT_MAX);
    set_id(&p->issuer_homepage, url);
    for (xmlNodePtr id = child(org, "identifier"); id != NULL && p->issuer_id == NULL;
         id = next_named(id)) {
        char *scheme = xmlutil_attr_get(id, "schemeID");
        if (scheme != NULL && strcasecmp(scheme, "schac") == 0) {
            char *t = xmlutil_node_text(id);
            p->issuer_id = schac_of_notation(t);
            free(t);
        }
        free(scheme);
    }
    if (p->issuer_id == NULL)
        p->issuer_id = domain_of_url(url);
    free(url);
    for (; loc != NULL && p->issuer_country == NULL; loc = next_named(loc)) {
        uri = xattr(child(child(loc, "hasAddress"), "country"), "uri");
        p->issuer_country = country_of_uri(uri);
        free(uri);
    }
    p->cred.has_qa = p->cred.has_qa || child(org, "hasAccreditation") != NULL;
}

static int xspec_ects(struct xreader *x, xmlNodePtr spec)
{
    xmlNodePtr e = child(spec, "hasECTSCreditPoints");
    char *t;
    double d;

    if (e == NULL)
        return 0;
    t = xmlutil_node_text(e);
    if (!decimal_read(t, &d)) {
        free(t);
        return xfail(x, e, "ECTS credit points must be a decimal number from 0 to 1000");
    }
    free(t);
    x->out->cred.ects = d;
    x->out->cred.has_ects = true;
    return 0;
}

static int xspec_eqf(struct xreader *x, xmlNodePtr spec)
{
    xmlNodePtr e = child(spec, "eqfLevel");
    char *uri = xattr(e, "uri");
    const char *level = mcx_str_after(uri, URI_EQF);
    int rc = 0;

    if (level != NULL && mcx_str_is_digits(level, 1, 1) && level[0] >= '1' && level[0] <= '8')
        x->out->cred.eqf = level[0] - '0';
    else if (level != NULL)
        rc = xfail(x, e, "EQF level must be 1 to 8, not %.20s", level);
    free(uri);
    return rc;
}

static bool xspec_has_qa(xmlNodePtr spec)
{
    if (child(spec, "hasAccreditation") != NULL)
        return true;
    for (xmlNodePtr n = child(spec, "additionalNote"); n != NULL; n = next_named(n)) {
        char *subject = xmlutil_node_text(child(n, "subject"));
        bool qa = is_quality_label(subject);
        free(subject);
        if (qa)
            return true;
    }
    return false;
}

static int xspec_read(struct xreader *x, xmlNodePtr spec)
{
    struct rec_parsed *p = x->out;
    char *s;

    set_id_owned(&p->specification_id, xattr(spec, "id"));
    set_owned(&p->title, xtext(child(spec, "title")), TEXT_MAX);
    set_id_owned(&p->homepage, xattr(child(spec, "homepage"), "uri"));
    for (xmlNodePtr c = child(spec, "hasISCED-FCode"); c != NULL; c = next_named(c)) {
        s = xmlutil_attr_get(c, "uri");
        isced_add(p, mcx_str_after(s, URI_ISCED));
        free(s);
    }
    for (xmlNodePtr m = child(spec, "mode"); m != NULL && p->cred.mode == NULL; m = next_named(m)) {
        s = xmlutil_attr_get(m, "uri");
        p->cred.mode = offer_mode_name(codes_mode_of_uri(s));
        free(s);
    }
    p->cred.has_qa = p->cred.has_qa || xspec_has_qa(spec);
    if (xspec_ects(x, spec) < 0)
        return -1;
    return xspec_eqf(x, spec);
}

/* The claim to recognise: the first achievement, else the first activity. */
static xmlNodePtr xpick_claim(struct xreader *x, xmlNodePtr subject, bool *is_achievement)
{
    xmlNodePtr ach = child(child(subject, "achievements"), "learningAchievement");
    xmlNodePtr act = child(child(subject, "activities"), "activity");

    /* as for ELM 3: the claims of the kind read */
    for (xmlNodePtr n = ach != NULL ? ach : act; n != NULL; n = next_named(n))
        x->out->nclaims++;
    *is_achievement = ach != NULL;
    return ach != NULL ? ach : act;
}

static int xdate(struct xreader *x, xmlNodePtr n, const char *source)
{
    char *t;

    if (n == NULL || x->out->awarded_on[0] != '\0')
        return 0;
    t = xmlutil_node_text(n);
    set_date(x->out, t, source);
    free(t);
    if (x->out->awarded_on[0] == '\0')
        return xfail(x, n, "expected a date (YYYY-MM-DD or an xsd:dateTime)");
    return 0;
}

static int xclaim_read(struct xreader *x, xmlNodePtr claim, bool is_achievement,
                       xmlNodePtr *awarding_body)
{
    struct rec_parsed *p = x->out;
    xmlNodePtr spec = ref_find(x,
                               is_achievement ? "learningSpecificationReferences"
                                              : "learningActivitySpecificationReferences",
                               child(claim, "specifiedBy"));
    xmlNodePtr process = ref_find(x, "awardingProcessReferences", child(claim, "wasAwardedBy"));

    set_owned(&p->title, xtext(child(claim, "title")), TEXT_MAX);
    if (spec != NULL && xspec_read(x, spec) < 0)
        return -1;
    for (xmlNodePtr a = child(claim, "wasDerivedFrom"); a != NULL && p->grade == NULL;
         a = next_named(a))
        set_owned(&p->grade, xmlutil_node_text(child(a, "grade")), GRADE_MAX);
    *awarding_body = ref_find(x, "agentReferences", child(process, "awardingBody"));
    return xdate(x, child(process, "date"), "awarding_date");
}

static int xcredential_read(struct xreader *x)
{
    struct rec_parsed *p = x->out;
    xmlNodePtr subject = child(x->root, "credentialSubject"), claim, body = NULL, issuer, n;
    bool is_achievement;
    char *id;

    if (subject == NULL)
        return xfail(x, x->root, "the credential has no credentialSubject");
    if ((claim = xpick_claim(x, subject, &is_achievement)) == NULL)
        return xfail(x, subject,
                     "the credential claims no learning achievement or activity to recognise");
    id = (char *)xmlGetNsProp(x->root, (const xmlChar *)"id", (const xmlChar *)NS_CRED);
    set_id(&p->credential_id, id);
    xmlFree(id);
    if (xclaim_read(x, claim, is_achievement, &body) < 0)
        return -1;
    /* the claim's awarding date, else the credential's dates (as for ELM 3) */
    for (n = xmlutil_first_element(x->root->children); n != NULL; n = xmlutil_next_element(n))
        if (xmlutil_node_is(n, NS_CRED, "issued") && xdate(x, n, "issued") < 0)
            return -1;
    for (n = xmlutil_first_element(x->root->children); n != NULL; n = xmlutil_next_element(n))
        if (xmlutil_node_is(n, NS_CRED, "validFrom") && xdate(x, n, "valid_from") < 0)
            return -1;
    issuer = NULL;
    for (n = xmlutil_first_element(x->root->children); n != NULL && issuer == NULL;
         n = xmlutil_next_element(n))
        if (xmlutil_node_is(n, NS_CRED, "issuer"))
            issuer = ref_find(x, "agentReferences", n);
    xorg_read(p, issuer != NULL ? issuer : body);
    if (issuer != NULL && body != NULL)
        p->cred.has_qa = p->cred.has_qa || child(body, "hasAccreditation") != NULL;
    return 0;
}

/* libxml2 errors raised outside the parser context: kept as the parse's. */
static void xstray_error(void *data, xmlErrorPtr e)
{
    xmlutil_reader_record(data, e);
}

int rec_parse_elm2(const char *xml, size_t len, struct rec_parsed *out, struct mcx_error *err)
{
    struct xreader x = {.err = err, .out = out};
    struct xmlutil_borrowed saved;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    mcx_error_clear(err);
    out->format = "elm2";
    x.rd.max_depth = REC_CREDENTIAL_MAX_DEPTH;
    if (len > REC_CREDENTIAL_MAX_BYTES) {
        mcx_error_set(err, "too_large", "the credential is larger than %u bytes",
                      REC_CREDENTIAL_MAX_BYTES);
        return -1;
    }
    if (xml == NULL || len == 0) {
        mcx_error_set(err, "malformed_xml", "the credential is empty");
        return -1;
    }
    xmlutil_handlers_borrow(&saved, xstray_error, &x.rd);
    if (xmlutil_read(&x.rd, xml, len, "ELM 2 credential", &x.doc, err) < 0)
        goto out;
    x.root = xmlDocGetRootElement(x.doc);
    if (!xmlutil_node_is(x.root, NS_SNB, "europassCredential")) {
        xfail(&x, x.root,
              "the root element is not an ELM 2 europassCredential (namespace " NS_SNB ")");
        goto out;
    }
    rc = xcredential_read(&x);
out:
    xmlutil_handlers_return(&saved);
    if (x.doc != NULL)
        xmlFreeDoc(x.doc);
    if (rc < 0) {
        rec_parsed_cleanup(out);
        return -1;
    }
    finish(out);
    return 0;
}

/* ==== as JSON ==== */

static void kv_nullable(struct json_writer *w, const char *key, const char *s)
{
    json_key(w, key);
    if (s == NULL)
        json_null(w);
    else
        json_string(w, s);
}

void rec_parsed_write_json(const struct rec_parsed *p, struct buf *out)
{
    const struct rec_credential *c = &p->cred;
    struct json_writer w;

    json_writer_init(&w, out);
    json_object_begin(&w);
    kv_nullable(&w, "format", p->format);
    json_key(&w, "issuer");
    json_object_begin(&w);
    kv_nullable(&w, "id", p->issuer_id);
    kv_nullable(&w, "name", p->issuer_name);
    kv_nullable(&w, "country", p->issuer_country);
    kv_nullable(&w, "homepage", p->issuer_homepage);
    json_object_end(&w);
    kv_nullable(&w, "title", p->title);
    json_key(&w, "ects");
    if (c->has_ects)
        json_double(&w, c->ects);
    else
        json_null(&w);
    json_key(&w, "eqf");
    if (c->eqf > 0)
        json_int(&w, c->eqf);
    else
        json_null(&w);
    json_key(&w, "isced");
    json_array_begin(&w);
    for (size_t i = 0; i < p->nisced; i++)
        json_string(&w, p->isced[i]);
    json_array_end(&w);
    kv_nullable(&w, "grade", p->grade);
    kv_nullable(&w, "awarded_on", p->awarded_on[0] != '\0' ? p->awarded_on : NULL);
    kv_nullable(&w, "awarded_on_source", p->awarded_on_source);
    kv_nullable(&w, "mode", c->mode);
    json_kv_bool(&w, "has_qa", c->has_qa);
    kv_nullable(&w, "credential_id", p->credential_id);
    kv_nullable(&w, "specification_id", p->specification_id);
    kv_nullable(&w, "opportunity_id", p->opportunity_id);
    kv_nullable(&w, "homepage", p->homepage);
    json_kv_int(&w, "claims", (int64_t)p->nclaims);
    json_kv_bool(&w, "sealed", p->is_sealed);
    json_object_end(&w);
}

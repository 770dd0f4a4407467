/*
 * builder.c — templates (strict parse, canonical JSON), completeness, and the credential
 * writer: the EC micro-credential sample's embedded tree, "id"/"type" as the W3C context
 * aliases them, every node id derived from the credential's uuid.
 */
#include "issuance/builder.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "catalogue/codes.h"
#include "catalogue/offer_json.h"
#include "server/json.h"
#include "server/jsonparse.h"

#define PTR_MAX 256
#define TEMPLATE_MAX_DEPTH 8
#define NAME_MAX_BYTES 256 /* one of the learner's names */
#define GRADE_MAX_BYTES 256
#define EMAIL_MAX_BYTES 254 /* RFC 5321's path limit less the brackets */
#define ESEAL_PROFILE_MAX 64

/* Controlled vocabularies (EU Vocabularies / Europass), as catalogue/elm.c writes them;
 * languages, countries and modes are in catalogue/codes.h. */
#define URI_ISCED "http://data.europa.eu/snb/isced-f/"
#define URI_ISCED_SCHEME "http://data.europa.eu/snb/isced-f/25831c2"
#define URI_EQF "http://data.europa.eu/snb/eqf/"
#define URI_EQF_SCHEME "http://data.europa.eu/snb/eqf/25831c2"
#define URI_ECTS "http://data.europa.eu/snb/education-credit/6fcec5c5af"
#define URI_CREDIT_SCHEME "http://data.europa.eu/snb/education-credit/25831c2"
/* The EDC credential types list: "Generic", the profile of the EC micro-credential
 * sample (the list has no micro-credential type of its own). */
#define URI_PROFILE_GENERIC "http://data.europa.eu/snb/credential/e34929035b"
#define URI_PROFILE_SCHEME "http://data.europa.eu/snb/credential/25831c2"
#define URI_EDC_SHAPES "http://data.europa.eu/snb/model/ap/edc-generic-full"
/* EU Vocabularies has no concept for "this note is about quality assurance"; mcx
 * names its own, as catalogue/elm.c does, and recognition/credential.c reads it. */
#define URI_QA_SUBJECT "urn:mcx:note-subject:quality-assurance"

/* ---- codes ---- */

static bool is_empty(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* A language code in mcx's form, or false: 2-3 letters, and two only if they are an
 * ISO 639-1 code (a typo would otherwise pass). */
static bool lang_known(const char *in, char out[4])
{
    return codes_lang_canonical(in, out, 4) && codes_lang_is_known(out);
}

static bool isced_is_valid(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    return n >= 2 && n <= 4 && strspn(s, "0123456789") == n;
}

/* An absolute http(s) URL with a host, printable ASCII without the characters RFC
 * 3986 never allows unescaped (so it is also a valid IRI for JSON-LD). */
static bool url_is_valid(const char *s)
{
    size_t n = strlen(s), skip;

    if (n > ISS_URL_MAX_BYTES)
        return false;
    if (strncasecmp(s, "https://", 8) == 0)
        skip = 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        skip = 7;
    else
        return false;
    if (s[skip] == '\0' || strchr("/?#@:", s[skip]) != NULL)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= 0x20 || c >= 0x7f || strchr("\"<>\\^`{|}", c) != NULL)
            return false;
    }
    return true;
}

/* "urn:uuid:" + a lowercase 8-4-4-4-12 uuid; *uuid points at the uuid. */
static bool credential_id_is_valid(const char *id, const char **uuid)
{
    const char *u;

    if (id == NULL || strncmp(id, "urn:uuid:", 9) != 0 || strlen(id) != 9 + 36)
        return false;
    u = id + 9;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? u[i] != '-' : strchr("0123456789abcdef", u[i]) == NULL || u[i] == '\0')
            return false;
    }
    *uuid = u;
    return true;
}

/* RFC 3339 in UTC: YYYY-MM-DDTHH:MM:SS, optional fraction, "Z". */
static bool timestamp_is_valid(const char *s)
{
    char date[11];
    size_t n, i = 19;

    if (s == NULL || (n = strlen(s)) < 20 || n > 40)
        return false;
    memcpy(date, s, 10);
    date[10] = '\0';
    if (!mcx_date_is_valid(date) || s[10] != 'T' || s[13] != ':' || s[16] != ':')
        return false;
    for (int k = 11; k < 19; k++)
        if (k != 13 && k != 16 && !isdigit((unsigned char)s[k]))
            return false;
    if (atoi(s + 11) > 23 || atoi(s + 14) > 59 || atoi(s + 17) > 60) /* 60: leap second */
        return false;
    if (s[i] == '.') {
        for (i++; isdigit((unsigned char)s[i]); i++)
            ;
        if (i == 20)
            return false;
    }
    return s[i] == 'Z' && s[i + 1] == '\0';
}

/*
 * Shortest decimal text that reads back as the same double, without an exponent
 * (ELM's point is an xsd:decimal string; JSON numbers are written the same way).
 * Only used for credit points, which are validated to lie in 0..1000.
 */
static void decimal_format(double v, char out[48])
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, 48, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    if (strpbrk(out, "eE") != NULL) { /* below 1e-4: six places are plenty for credits */
        size_t n;
        snprintf(out, 48, "%.6f", v);
        n = strlen(out);
        while (n > 1 && out[n - 1] == '0')
            out[--n] = '\0';
        if (out[n - 1] == '.')
            out[n - 1] = '\0';
    }
}

/* NULL when s[0..len) may stand as a text of a credential, else why not. */
static const char *text_problem(const char *s, size_t len, size_t max)
{
    bool blank = true;

    if (len == 0)
        return "is empty";
    if (len > max)
        return "is too long";
    if (strlen(s) != len)
        return "contains a NUL character";
    if (!utf8_is_valid(s, len))
        return "is not valid UTF-8";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
            return "contains a control character";
        if (!isspace(c))
            blank = false;
    }
    return blank ? "is blank" : NULL;
}

/* ---- template: JSON pointers and errors ---- */

struct tparser {
    const char *data;
    size_t len;
    struct mcx_error *err;
};

/* base + "/" + key, escaped per RFC 6901 (~ → ~0, / → ~1); truncation is harmless. */
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
    size_t n;

    snprintf(num, sizeof(num), "/%zu", i);
    n = mcx_strlcpy(out, base, PTR_MAX);
    if (n < PTR_MAX)
        mcx_strlcpy(out + n, num, PTR_MAX - n);
}

/* A JSON pointer as a reader names the field: /learning_outcomes/1/en →
 * learning_outcomes[1].en. */
static void ptr_dotted(const char *ptr, char *out, size_t size)
{
    size_t o = 0;

    out[0] = '\0';
    while (*ptr == '/' && o + 1 < size) {
        const char *seg = ++ptr;
        size_t len = strcspn(seg, "/");
        bool index = len > 0 && strspn(seg, "0123456789") == len;
        if (index || o > 0)
            out[o++] = index ? '[' : '.';
        for (size_t i = 0; i < len && o + 2 < size; i++) {
            if (seg[i] == '~' && i + 1 < len) {
                out[o++] = seg[i + 1] == '1' ? '/' : '~';
                i++;
            } else if ((unsigned char)seg[i] < 0x20 || seg[i] == 0x7f) {
                out[o++] = '?'; /* a key's control character: the message stays one line */
            } else {
                out[o++] = seg[i];
            }
        }
        if (index && o + 1 < size)
            out[o++] = ']';
        ptr = seg + len;
        out[o < size ? o : size - 1] = '\0';
    }
    out[mcx_utf8_cut(out, strlen(out))] = '\0'; /* a long name cut: not mid-character */
    if (o == 0)
        mcx_strlcpy(out, "template", size);
}

static int tfail(struct tparser *p, const struct json_value *at, const char *ptr, const char *fmt,
                 ...) __attribute__((format(printf, 4, 5)));

static int tfail(struct tparser *p, const struct json_value *at, const char *ptr, const char *fmt,
                 ...)
{
    char field[PTR_MAX], msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    ptr_dotted(ptr, field, sizeof(field));
    mcx_error_set(p->err, "invalid_template", "%s %s", field, msg);
    if (p->err != NULL) {
        mcx_strlcpy(p->err->path, ptr, sizeof(p->err->path));
        p->err->line = at != NULL ? json_offset_line(p->data, p->len, at->offset) : 0;
    }
    return -1;
}

/* ---- template: fields ---- */

static int cmp_lang_string(const void *a, const void *b)
{
    return strcmp(((const struct lang_string *)a)->lang, ((const struct lang_string *)b)->lang);
}

static int parse_text(struct tparser *p, const struct json_value *v, const char *ptr, size_t max,
                      const char **out)
{
    size_t len;
    const char *s = json_string_value(v, &len);
    const char *why;

    if (s == NULL)
        return tfail(p, v, ptr, "must be a string");
    if ((why = text_problem(s, len, max)) != NULL) {
        if (len > max)
            return tfail(p, v, ptr, "is longer than %zu bytes", max);
        return tfail(p, v, ptr, "%s", why);
    }
    *out = s;
    return 0;
}

/* {lang: text}: 1..ISS_MAX_LANGUAGES entries, canonical keys, sorted. */
static int parse_lang_map(struct tparser *p, const struct json_value *v, const char *ptr,
                          struct lang_map *out)
{
    char at[PTR_MAX], code[4];
    size_t n = json_object_len(v);

    if (!json_is_object(v))
        return tfail(p, v, ptr, "must be an object of texts by language, e.g. {\"en\":\"…\"}");
    if (n == 0)
        return tfail(p, v, ptr, "must hold at least one language");
    if (n > ISS_MAX_LANGUAGES)
        return tfail(p, v, ptr, "holds more than %u languages", ISS_MAX_LANGUAGES);
    for (size_t i = 0; i < n; i++) {
        const char *key = json_object_key_at(v, i), *text = NULL;
        const struct json_value *val = json_object_value_at(v, i);
        ptr_key(at, ptr, key);
        if (!lang_known(key, code))
            return tfail(p, val, at, "is not a language code (2-3 letters, ISO 639)");
        for (size_t j = 0; j < out->n; j++)
            if (strcmp(out->items[j].lang, code) == 0)
                return tfail(p, val, at, "repeats language \"%s\"", code);
        if (parse_text(p, val, at, ISS_TEXT_MAX_BYTES, &text) < 0)
            return -1;
        lang_map_add(out, code, text);
    }
    qsort(out->items, out->n, sizeof(*out->items), cmp_lang_string);
    return 0;
}

static int parse_url(struct tparser *p, const struct json_value *v, const char *ptr, char **out)
{
    const char *s = json_string_value(v, NULL);
    size_t skip;

    if (s == NULL || !url_is_valid(s))
        return tfail(p, v, ptr, "must be an http(s) URL with a host (at most %u bytes)",
                     ISS_URL_MAX_BYTES);
    /* the scheme in lowercase, so equal URLs serialise alike */
    skip = s[4] == ':' ? 4 : 5;
    *out = xstrdup(s);
    for (size_t i = 0; i < skip; i++)
        (*out)[i] = (char)tolower((unsigned char)(*out)[i]);
    return 0;
}

/* A plain decimal with at most two significant decimals: "3", "7.5", "2.25", "6.50". */
static bool ects_text_ok(const char *s)
{
    size_t i = strspn(s, "0123456789"), frac;

    if (i == 0 || i > 3 || (s[0] == '0' && i > 1))
        return false;
    if (s[i] == '\0')
        return true;
    if (s[i] != '.')
        return false;
    s += i + 1;
    frac = strspn(s, "0123456789");
    if (frac == 0 || frac > 10 || s[frac] != '\0')
        return false;
    while (frac > 2 && s[frac - 1] == '0')
        frac--;
    return frac <= 2;
}

static int parse_ects(struct tparser *p, const struct json_value *v, const char *ptr,
                      struct iss_template *t)
{
    const char *s = json_number_text(v);
    double d;

    if (s == NULL || !ects_text_ok(s) || json_number_double(v, &d) < 0 || d > ISS_ECTS_MAX)
        return tfail(p, v, ptr, "must be a number from 0 to 300 with at most 2 decimals");
    t->has_ects = true;
    t->ects = d;
    return 0;
}

static int parse_eqf(struct tparser *p, const struct json_value *v, const char *ptr,
                     struct iss_template *t)
{
    const char *s = json_number_text(v);

    if (s == NULL || strlen(s) != 1 || s[0] < '1' || s[0] > '8')
        return tfail(p, v, ptr, "must be an EQF level: an integer from 1 to 8");
    t->eqf = s[0] - '0';
    return 0;
}

static int parse_isced(struct tparser *p, const struct json_value *v, const char *ptr,
                       struct iss_template *t)
{
    char at[PTR_MAX];
    size_t n = json_array_len(v);

    if (!json_is_array(v))
        return tfail(p, v, ptr, "must be an array of ISCED-F codes, e.g. [\"0613\"]");
    if (n > ISS_MAX_ISCED)
        return tfail(p, v, ptr, "lists more than %u codes", ISS_MAX_ISCED);
    t->isced = n > 0 ? xcalloc(n, sizeof(char *)) : NULL;
    for (size_t i = 0; i < n; i++) {
        const char *s = json_string_value(json_array_at(v, i), NULL);
        ptr_index(at, ptr, i);
        if (s == NULL || !isced_is_valid(s))
            return tfail(p, json_array_at(v, i), at, "must be an ISCED-F code of 2-4 digits");
        for (size_t j = 0; j < t->nisced; j++)
            if (strcmp(t->isced[j], s) == 0)
                return tfail(p, json_array_at(v, i), at, "repeats code \"%s\"", s);
        t->isced[t->nisced++] = xstrdup(s);
    }
    return 0;
}

static int parse_outcomes(struct tparser *p, const struct json_value *v, const char *ptr,
                          struct iss_template *t)
{
    char at[PTR_MAX];
    size_t n = json_array_len(v);

    if (!json_is_array(v))
        return tfail(p, v, ptr, "must be an array of texts by language");
    if (n > ISS_MAX_OUTCOMES)
        return tfail(p, v, ptr, "lists more than %u outcomes", ISS_MAX_OUTCOMES);
    t->learning_outcomes = n > 0 ? xcalloc(n, sizeof(struct lang_map)) : NULL;
    for (size_t i = 0; i < n; i++) {
        ptr_index(at, ptr, i);
        if (parse_lang_map(p, json_array_at(v, i), at, &t->learning_outcomes[t->noutcomes++]) < 0)
            return -1;
    }
    return 0;
}

static int parse_eseal(struct tparser *p, const struct json_value *v, const char *ptr,
                       struct iss_template *t)
{
    size_t len;
    const char *s = json_string_value(v, &len);

    if (s == NULL || len == 0 || len > ESEAL_PROFILE_MAX || strlen(s) != len ||
        strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != len)
        return tfail(p, v, ptr, "must be a profile name: 1-%d of letters, digits, '.', '_', '-'",
                     ESEAL_PROFILE_MAX);
    t->eseal_profile = xstrdup(s);
    return 0;
}

static int parse_delivery(struct tparser *p, const struct json_value *v, const char *ptr,
                          struct iss_template *t)
{
    char at[PTR_MAX];

    if (!json_is_object(v))
        return tfail(p, v, ptr, "must be an object {\"email\":true,\"wallet\":true}");
    for (size_t i = 0; i < json_object_len(v); i++) {
        const char *key = json_object_key_at(v, i);
        const struct json_value *val = json_object_value_at(v, i);
        bool *flag = strcmp(key, "email") == 0    ? &t->deliver_email
                     : strcmp(key, "wallet") == 0 ? &t->deliver_wallet
                                                  : NULL;
        ptr_key(at, ptr, key);
        if (flag == NULL)
            return tfail(p, val, at, "is not a delivery option (email, wallet)");
        if (json_is_null(val))
            continue;
        if (!json_is_bool(val))
            return tfail(p, val, at, "must be true or false");
        *flag = json_bool_value(val);
    }
    t->has_delivery = true;
    return 0;
}

static int parse_language(struct tparser *p, const struct json_value *v, const char *ptr,
                          struct iss_template *t)
{
    const char *s = json_string_value(v, NULL);

    if (s == NULL || !lang_known(s, t->language)) {
        t->language[0] = '\0';
        return tfail(p, v, ptr, "must be a language code (2-3 letters, ISO 639)");
    }
    return 0;
}

static int parse_org_field(struct tparser *p, const char *key, const struct json_value *v,
                           const char *ptr, struct iss_org *o)
{
    const char *s = json_string_value(v, NULL);

    if (strcmp(key, "name") == 0)
        return parse_lang_map(p, v, ptr, &o->name);
    if (strcmp(key, "homepage") == 0)
        return json_is_null(v) ? 0 : parse_url(p, v, ptr, &o->homepage);
    if (strcmp(key, "id") == 0) {
        char id[128];
        if (s == NULL || mcx_strlcpy(id, s, sizeof(id)) >= sizeof(id))
            return tfail(p, v, ptr, "must be an institution id such as \"vdu.lt\"");
        for (char *c = id; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        if (!mcx_institution_id_is_valid(id))
            return tfail(p, v, ptr, "must be an institution id such as \"vdu.lt\"");
        o->id = xstrdup(id);
        return 0;
    }
    if (strcmp(key, "country") == 0) {
        if (codes_country_authority(s) == NULL)
            return tfail(p, v, ptr, "must be an ISO 3166-1 alpha-2 country code such as \"LT\"");
        o->country[0] = (char)toupper((unsigned char)s[0]);
        o->country[1] = (char)toupper((unsigned char)s[1]);
        o->country[2] = '\0';
        return 0;
    }
    return tfail(p, v, ptr, "is not an awarding body field (id, name, country, homepage)");
}

static int parse_org(struct tparser *p, const struct json_value *v, const char *ptr,
                     struct iss_org *o)
{
    char at[PTR_MAX];

    if (!json_is_object(v))
        return tfail(p, v, ptr, "must be an object {\"id\",\"name\",\"country\",\"homepage\"}");
    for (size_t i = 0; i < json_object_len(v); i++) {
        const char *key = json_object_key_at(v, i);
        ptr_key(at, ptr, key);
        if (parse_org_field(p, key, json_object_value_at(v, i), at, o) < 0)
            return -1;
    }
    if (o->id == NULL) {
        ptr_key(at, ptr, "id");
        return tfail(p, v, at, "is required");
    }
    if (o->name.n == 0) {
        ptr_key(at, ptr, "name");
        return tfail(p, v, at, "is required");
    }
    if (o->country[0] == '\0') {
        ptr_key(at, ptr, "country");
        return tfail(p, v, at, "is required");
    }
    return 0;
}

/* An optional field whose value is null, an empty array or an empty object is absent. */
static bool is_absent(const struct json_value *v)
{
    return json_is_null(v) || (json_is_array(v) && json_array_len(v) == 0) ||
           (json_is_object(v) && json_object_len(v) == 0);
}

static bool is_optional_field(const char *key)
{
    static const char *const names[] = {
        "title",      "learning_outcomes", "ects",          "eqf",     "isced",
        "assessment", "quality_assurance", "eseal_profile", "language"};

    for (size_t i = 0; i < MCX_ARRAY_LEN(names); i++)
        if (strcmp(key, names[i]) == 0)
            return true;
    return false;
}

static int parse_field(struct tparser *p, const char *key, const struct json_value *v,
                       const char *ptr, struct iss_template *t)
{
    if (strcmp(key, "awarding_body") == 0)
        return json_is_null(v) ? 0 : parse_org(p, v, ptr, &t->awarding_body);
    if (strcmp(key, "delivery") == 0)
        return json_is_null(v) ? 0 : parse_delivery(p, v, ptr, t);
    if (is_absent(v) && is_optional_field(key))
        return 0;
    if (strcmp(key, "title") == 0)
        return parse_lang_map(p, v, ptr, &t->title);
    if (strcmp(key, "learning_outcomes") == 0)
        return parse_outcomes(p, v, ptr, t);
    if (strcmp(key, "ects") == 0)
        return parse_ects(p, v, ptr, t);
    if (strcmp(key, "eqf") == 0)
        return parse_eqf(p, v, ptr, t);
    if (strcmp(key, "isced") == 0)
        return parse_isced(p, v, ptr, t);
    if (strcmp(key, "assessment") == 0)
        return parse_lang_map(p, v, ptr, &t->assessment);
    if (strcmp(key, "quality_assurance") == 0)
        return parse_lang_map(p, v, ptr, &t->quality_assurance);
    if (strcmp(key, "eseal_profile") == 0)
        return parse_eseal(p, v, ptr, t);
    if (strcmp(key, "language") == 0)
        return parse_language(p, v, ptr, t);
    return tfail(p, v, ptr, "is not a template field");
}

void iss_template_init(struct iss_template *t)
{
    memset(t, 0, sizeof(*t));
}

void iss_template_cleanup(struct iss_template *t)
{
    if (t == NULL)
        return;
    free(t->awarding_body.id);
    lang_map_cleanup(&t->awarding_body.name);
    free(t->awarding_body.homepage);
    lang_map_cleanup(&t->title);
    for (size_t i = 0; i < t->noutcomes; i++)
        lang_map_cleanup(&t->learning_outcomes[i]);
    free(t->learning_outcomes);
    for (size_t i = 0; i < t->nisced; i++)
        free(t->isced[i]);
    free(t->isced);
    lang_map_cleanup(&t->assessment);
    lang_map_cleanup(&t->quality_assurance);
    free(t->eseal_profile);
    iss_template_init(t);
}

int iss_template_parse(const char *json, size_t len, struct iss_template *out,
                       struct mcx_error *err)
{
    struct tparser p = {.data = json, .len = len, .err = err};
    struct json_value *doc;
    char at[PTR_MAX];
    int rc = 0;

    iss_template_init(out);
    mcx_error_clear(err);
    if (len > ISS_TEMPLATE_MAX_BYTES)
        return tfail(&p, NULL, "", "is larger than %u bytes", ISS_TEMPLATE_MAX_BYTES);
    doc = json_parse(json, len, TEMPLATE_MAX_DEPTH, err);
    if (doc == NULL) {
        /* one code for the caller: a template that does not parse is invalid */
        if (err != NULL) {
            char msg[sizeof(err->message)];
            mcx_strlcpy(msg, err->message, sizeof(msg));
            mcx_strlcpy(err->code, "invalid_template", sizeof(err->code));
            snprintf(err->message, sizeof(err->message), "template is not JSON: %.400s", msg);
        }
        return -1;
    }
    if (!json_is_object(doc))
        rc = tfail(&p, doc, "", "must be a JSON object");
    for (size_t i = 0; rc == 0 && i < json_object_len(doc); i++) {
        const char *key = json_object_key_at(doc, i);
        ptr_key(at, "", key);
        rc = parse_field(&p, key, json_object_value_at(doc, i), at, out);
    }
    if (rc == 0 && out->awarding_body.id == NULL)
        rc = tfail(&p, doc, "/awarding_body", "is required");
    json_value_free(doc);
    if (rc < 0)
        iss_template_cleanup(out);
    return rc;
}

/* ---- template: canonical JSON ---- */

static void json_lang_map(struct json_writer *w, const char *key, const struct lang_map *m)
{
    json_key(w, key);
    json_object_begin(w);
    for (size_t i = 0; i < m->n; i++)
        json_kv_string(w, m->items[i].lang, m->items[i].text);
    json_object_end(w);
}

static void json_decimal(struct json_writer *w, const char *key, double v)
{
    char num[48];

    decimal_format(v, num);
    json_key(w, key);
    json_raw(w, num, strlen(num));
}

static void write_template_org(struct json_writer *w, const struct iss_org *o)
{
    json_key(w, "awarding_body");
    json_object_begin(w);
    json_kv_string(w, "id", o->id != NULL ? o->id : "");
    json_lang_map(w, "name", &o->name);
    json_kv_string(w, "country", o->country);
    if (o->homepage != NULL)
        json_kv_string(w, "homepage", o->homepage);
    json_object_end(w);
}

void iss_template_write_json(const struct iss_template *t, struct buf *out)
{
    struct json_writer w;

    json_writer_init(&w, out);
    json_object_begin(&w);
    write_template_org(&w, &t->awarding_body);
    if (t->title.n > 0)
        json_lang_map(&w, "title", &t->title);
    if (t->noutcomes > 0) {
        json_key(&w, "learning_outcomes");
        json_array_begin(&w);
        for (size_t i = 0; i < t->noutcomes; i++) {
            json_object_begin(&w);
            for (size_t j = 0; j < t->learning_outcomes[i].n; j++)
                json_kv_string(&w, t->learning_outcomes[i].items[j].lang,
                               t->learning_outcomes[i].items[j].text);
            json_object_end(&w);
        }
        json_array_end(&w);
    }
    if (t->has_ects)
        json_decimal(&w, "ects", t->ects);
    if (t->eqf >= 1 && t->eqf <= 8)
        json_kv_int(&w, "eqf", t->eqf);
    if (t->nisced > 0) {
        json_key(&w, "isced");
        json_array_begin(&w);
        for (size_t i = 0; i < t->nisced; i++)
            json_string(&w, t->isced[i]);
        json_array_end(&w);
    }
    if (t->assessment.n > 0)
        json_lang_map(&w, "assessment", &t->assessment);
    if (t->quality_assurance.n > 0)
        json_lang_map(&w, "quality_assurance", &t->quality_assurance);
    if (t->eseal_profile != NULL)
        json_kv_string(&w, "eseal_profile", t->eseal_profile);
    if (t->has_delivery) {
        json_key(&w, "delivery");
        json_object_begin(&w);
        json_kv_bool(&w, "email", t->deliver_email);
        json_kv_bool(&w, "wallet", t->deliver_wallet);
        json_object_end(&w);
    }
    if (t->language[0] != '\0')
        json_kv_string(&w, "language", t->language);
    json_object_end(&w);
}

/* ---- the offer, filled by the template ---- */

/* The offer as offers_api_json gives it, plus its institution. */
struct source {
    struct offer o;
    char *inst_id;
    char *inst_name;
    char inst_country[3];
};

static const char *str_member(const struct json_value *obj, const char *key)
{
    size_t len;
    const char *s = json_string_value(json_object_get(obj, key), &len);

    return s != NULL && len > 0 && strlen(s) == len ? s : NULL;
}

static int source_load(const char *json, struct source *s, struct mcx_error *err)
{
    struct json_value *doc;
    const struct json_value *inst;
    const char *v;
    int rc;

    memset(s, 0, sizeof(*s));
    offer_init(&s->o);
    if (json == NULL) {
        mcx_error_set(err, "validation_failed", "no offer");
        return -1;
    }
    doc = json_parse(json, strlen(json), JSON_PARSE_DEFAULT_DEPTH, err);
    if (doc == NULL)
        return -1;
    rc = offer_read_json_value(doc, &s->o, err);
    inst = json_object_get(doc, "institution");
    if (rc == 0 && json_is_object(inst)) {
        if ((v = str_member(inst, "id")) != NULL && mcx_institution_id_is_valid(v))
            s->inst_id = xstrdup(v);
        if ((v = str_member(inst, "name")) != NULL && text_problem(v, strlen(v), 4000) == NULL)
            s->inst_name = xstrdup(v);
        if ((v = str_member(inst, "country")) != NULL && codes_country_authority(v) != NULL)
            mcx_strlcpy(s->inst_country, v, sizeof(s->inst_country));
    }
    json_value_free(doc);
    return rc;
}

static void source_cleanup(struct source *s)
{
    offer_cleanup(&s->o);
    free(s->inst_id);
    free(s->inst_name);
}

/* A map with at least one non-empty text (an offer's map may hold "" texts). */
static bool map_present(const struct lang_map *m)
{
    for (size_t i = 0; m != NULL && i < m->n; i++)
        if (!is_empty(m->items[i].text))
            return true;
    return false;
}

/* What the credential says: the offer, filled (and partly overridden) by the template. */
struct view {
    const struct lang_map *title;
    const struct lang_map *description;
    const char *homepage;
    char *const *languages;
    size_t nlanguages;
    const struct lang_map *outcomes;
    size_t noutcomes;
    bool has_ects;
    double ects;
    int eqf;
    char *const *isced;
    size_t nisced;
    const struct lang_map *assessment;
    const struct lang_map *qa;
    const struct lang_map *entry_requirements;
    const char *volume_of_learning;
    enum offer_mode mode;
    /* the issuer, who is also the awarding body */
    const char *org_id;
    const struct lang_map *org_name;
    const char *org_country; /* alpha-2 or "" */
    const char *org_homepage;
    struct lang_map inst_name; /* the institution's plain name as a map (owned) */
    char lang[4];              /* the primary language */
};

static void view_issuer(struct view *v, const struct source *s, const struct iss_template *t)
{
    const struct offer *o = &s->o;

    if (t != NULL && t->awarding_body.id != NULL) {
        /* the whole organisation: mixing two sources' fields could misattribute */
        v->org_id = t->awarding_body.id;
        v->org_name = &t->awarding_body.name;
        v->org_country = t->awarding_body.country;
        v->org_homepage = t->awarding_body.homepage;
        return;
    }
    v->org_id = s->inst_id;
    /* The catalogue gives the institution's English name (else any) as a string; the
     * source document's provider name is a language map, so it is preferred. */
    if (s->inst_name != NULL)
        lang_map_add(&v->inst_name, "en", s->inst_name);
    v->org_name = map_present(&o->provider_name) ? &o->provider_name : &v->inst_name;
    v->org_country = s->inst_country[0] != '\0'                             ? s->inst_country
                     : codes_country_authority(o->provider_country) != NULL ? o->provider_country
                                                                            : "";
    v->org_homepage = o->provider_homepage != NULL && url_is_valid(o->provider_homepage)
                          ? o->provider_homepage
                          : NULL;
}

/* The primary language: the template's, else English when the title has it, else the
 * title's first language. */
static void view_language(struct view *v, const struct iss_template *t)
{
    char code[4];

    mcx_strlcpy(v->lang, "en", sizeof(v->lang));
    if (t != NULL && t->language[0] != '\0') {
        mcx_strlcpy(v->lang, t->language, sizeof(v->lang));
        return;
    }
    for (size_t i = 0; v->title != NULL && i < v->title->n; i++)
        if (lang_known(v->title->items[i].lang, code) && strcmp(code, "en") == 0)
            return;
    for (size_t i = 0; v->title != NULL && i < v->title->n; i++) {
        if (!is_empty(v->title->items[i].text) && lang_known(v->title->items[i].lang, code)) {
            mcx_strlcpy(v->lang, code, sizeof(v->lang));
            return;
        }
    }
}

static void view_init(struct view *v, const struct source *s, const struct iss_template *t)
{
    const struct offer *o = &s->o;
    bool offer_ects = o->has_ects && isfinite(o->ects) && o->ects >= 0 && o->ects <= 1000;

    memset(v, 0, sizeof(*v));
    v->title = t != NULL && map_present(&t->title) ? &t->title : &o->title;
    v->description = &o->description;
    v->homepage = o->homepage != NULL && url_is_valid(o->homepage) ? o->homepage : NULL;
    v->languages = o->languages;
    v->nlanguages = o->nlanguages;
    v->outcomes = o->learning_outcomes;
    v->noutcomes = o->noutcomes;
    if (v->noutcomes == 0 && t != NULL) {
        v->outcomes = t->learning_outcomes;
        v->noutcomes = t->noutcomes;
    }
    v->has_ects = offer_ects || (t != NULL && t->has_ects);
    v->ects = offer_ects ? o->ects : t != NULL ? t->ects : 0;
    v->eqf = o->eqf >= 1 && o->eqf <= 8 ? o->eqf : t != NULL ? t->eqf : 0;
    v->isced = o->isced;
    v->nisced = o->nisced;
    if (v->nisced == 0 && t != NULL) {
        v->isced = t->isced;
        v->nisced = t->nisced;
    }
    v->assessment = map_present(&o->assessment) || t == NULL ? &o->assessment : &t->assessment;
    v->qa = map_present(&o->quality_assurance) || t == NULL ? &o->quality_assurance
                                                            : &t->quality_assurance;
    v->entry_requirements = &o->entry_requirements;
    v->volume_of_learning = o->volume_of_learning;
    v->mode = o->mode;
    view_issuer(v, s, t);
    view_language(v, t);
}

static void view_cleanup(struct view *v)
{
    lang_map_cleanup(&v->inst_name);
}

static bool outcomes_present(const struct view *v)
{
    for (size_t i = 0; i < v->noutcomes; i++)
        if (map_present(&v->outcomes[i]))
            return true;
    return false;
}

static size_t view_missing(const struct view *v, const char *missing[ISS_COMPLETENESS_MAX])
{
    size_t n = 0;

    if (!map_present(v->title))
        missing[n++] = "title";
    if (!map_present(v->org_name) && is_empty(v->org_id))
        missing[n++] = "awarding_body";
    if (is_empty(v->org_country))
        missing[n++] = "country";
    if (!outcomes_present(v))
        missing[n++] = "learning_outcomes";
    if (!v->has_ects)
        missing[n++] = "ects";
    if (v->eqf < 1 || v->eqf > 8)
        missing[n++] = "eqf";
    if (!map_present(v->assessment))
        missing[n++] = "assessment";
    if (v->mode == OFFER_MODE_UNKNOWN)
        missing[n++] = "mode";
    if (!map_present(v->qa))
        missing[n++] = "quality_assurance";
    return n;
}

size_t iss_completeness(const char *offer_json, const struct iss_template *t, const char *missing[],
                        size_t max)
{
    const char *all[ISS_COMPLETENESS_MAX];
    struct source s;
    struct view v;
    size_t n;

    if (source_load(offer_json, &s, NULL) < 0) {
        /* not an offer: it lacks everything (the template alone is not an offer) */
        source_cleanup(&s);
        memset(&s, 0, sizeof(s));
        offer_init(&s.o);
        t = NULL;
    }
    view_init(&v, &s, t);
    n = view_missing(&v, all);
    view_cleanup(&v);
    source_cleanup(&s);
    if (n > max)
        n = max;
    for (size_t i = 0; i < n; i++)
        missing[i] = all[i];
    return n;
}

/* ---- the credential: writing ---- */

struct cw {
    struct json_writer w;
    const struct view *v;
    const struct iss_build *b;
    const char *uuid; /* the credential's, 36 characters */
    struct buf id;    /* scratch for node ids */
};

/* A nested node's id: "urn:epass:<kind>:<uuid>[-<tag>]", the EDC tools' style. The
 * result lives until the next call. */
static const char *nid(struct cw *c, const char *kind, const char *tag)
{
    buf_reset(&c->id);
    buf_printf(&c->id, "urn:epass:%s:%s%s%s", kind, c->uuid, tag != NULL ? "-" : "",
               tag != NULL ? tag : "");
    return c->id.data;
}

static void node_begin(struct cw *c, const char *id, const char *type)
{
    json_object_begin(&c->w);
    json_kv_string(&c->w, "id", id);
    json_kv_string(&c->w, "type", type);
}

static void node_end(struct cw *c)
{
    json_object_end(&c->w);
}

/* A language map with canonical keys; texts without a usable language take the
 * primary language, empty texts and repeated languages are left out. */
static void write_lang_map(struct cw *c, const char *key, const struct lang_map *m)
{
    char(*done)[4] = xcalloc(m->n + 1, sizeof(*done));
    size_t ndone = 0;

    json_key(&c->w, key);
    json_object_begin(&c->w);
    for (size_t i = 0; i < m->n; i++) {
        char code[4];
        bool seen = false;
        if (is_empty(m->items[i].text))
            continue;
        if (!lang_known(m->items[i].lang, code))
            mcx_strlcpy(code, c->v->lang, sizeof(code));
        for (size_t j = 0; j < ndone && !seen; j++)
            seen = strcmp(done[j], code) == 0;
        if (seen)
            continue;
        memcpy(done[ndone++], code, sizeof(code));
        json_kv_string(&c->w, code, m->items[i].text);
    }
    json_object_end(&c->w);
    free(done);
}

/* One text in the primary language (names and grades have no language of their own). */
static void write_text(struct cw *c, const char *key, const char *text)
{
    json_key(&c->w, key);
    json_object_begin(&c->w);
    json_kv_string(&c->w, c->v->lang, text);
    json_object_end(&c->w);
}

static void write_concept(struct cw *c, const char *key, const char *uri, const char *scheme,
                          const char *label)
{
    if (key != NULL)
        json_key(&c->w, key);
    node_begin(c, uri, "Concept");
    json_key(&c->w, "inScheme");
    node_begin(c, scheme, "ConceptScheme");
    node_end(c);
    if (label != NULL) {
        json_key(&c->w, "prefLabel");
        json_object_begin(&c->w);
        json_kv_string(&c->w, "en", label);
        json_object_end(&c->w);
    }
    node_end(c);
}

static void write_concept_code(struct cw *c, const char *key, const char *prefix, const char *code,
                               const char *scheme, const char *label)
{
    struct buf uri;

    buf_init(&uri);
    buf_puts(&uri, prefix);
    buf_puts(&uri, code);
    write_concept(c, key, uri.data, scheme, label);
    buf_cleanup(&uri);
}

/* An xsd:dateTime for a calendar date: midnight UTC, so it shows as that day. */
static void write_date(struct cw *c, const char *key, const char *date)
{
    char dt[32];

    snprintf(dt, sizeof(dt), "%.10sT00:00:00Z", date);
    json_kv_string(&c->w, key, dt);
}

static void write_languages(struct cw *c, const char *key, char (*codes)[4], size_t n)
{
    char auth[4];

    json_key(&c->w, key);
    json_array_begin(&c->w);
    for (size_t i = 0; i < n; i++) {
        codes_lang_authority(codes[i], auth, sizeof(auth));
        write_concept_code(c, NULL, CODES_URI_LANGUAGE, auth, CODES_URI_LANGUAGE_SCHEME, NULL);
    }
    json_array_end(&c->w);
}

/* Adds code to codes[0..*n) unless it is there; codes has room for max. */
static void code_add(char (*codes)[4], size_t *n, size_t max, const char *code)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp(codes[i], code) == 0)
            return;
    if (*n < max)
        memcpy(codes[(*n)++], code, 4);
}

static void write_display(struct cw *c)
{
    const struct lang_map *title = c->v->title;
    char(*codes)[4] = xcalloc(title->n + 1, sizeof(*codes));
    char auth[4];
    size_t n = 0;

    code_add(codes, &n, title->n + 1, c->v->lang);
    for (size_t i = 0; i < title->n; i++) {
        char code[4];
        if (!is_empty(title->items[i].text) && lang_known(title->items[i].lang, code))
            code_add(codes, &n, title->n + 1, code);
    }
    json_key(&c->w, "displayParameter");
    node_begin(c, nid(c, "displayParameter", NULL), "DisplayParameter");
    codes_lang_authority(c->v->lang, auth, sizeof(auth));
    write_concept_code(c, "primaryLanguage", CODES_URI_LANGUAGE, auth, CODES_URI_LANGUAGE_SCHEME,
                       NULL);
    write_languages(c, "language", codes, n);
    write_lang_map(c, "title", title);
    node_end(c);
    free(codes);
}

static void write_org(struct cw *c)
{
    const struct view *v = c->v;

    node_begin(c, nid(c, "org", NULL), "Organisation");
    json_key(&c->w, "location");
    node_begin(c, nid(c, "location", NULL), "Location");
    json_key(&c->w, "address");
    node_begin(c, nid(c, "address", NULL), "Address");
    write_concept_code(c, "countryCode", CODES_URI_COUNTRY, codes_country_authority(v->org_country),
                       CODES_URI_COUNTRY_SCHEME, NULL);
    node_end(c);
    node_end(c);
    if (!is_empty(v->org_id)) {
        /* how recognition/credential.c (and EWP) find the institution again */
        json_key(&c->w, "identifier");
        node_begin(c, nid(c, "identifier", NULL), "Identifier");
        json_kv_string(&c->w, "schemeName", "schac");
        json_kv_string(&c->w, "notation", v->org_id);
        node_end(c);
    }
    write_lang_map(c, "legalName", v->org_name);
    if (v->org_homepage != NULL) {
        json_key(&c->w, "homepage");
        node_begin(c, nid(c, "webResource", "issuer"), "WebResource");
        json_kv_string(&c->w, "contentURL", v->org_homepage);
        node_end(c);
    }
    node_end(c);
}

static void write_awarding(struct cw *c)
{
    const struct iss_result *r = c->b->result;

    node_begin(c, nid(c, "awardingProcess", NULL), "AwardingProcess");
    json_key(&c->w, "awardingBody");
    write_org(c);
    if (r != NULL && !is_empty(r->date))
        write_date(c, "awardingDate", r->date);
    node_end(c);
}

static void write_credit(struct cw *c, const char *tag, double ects)
{
    char num[48];

    node_begin(c, nid(c, "creditPoint", tag), "CreditPoint");
    write_concept(c, "framework", URI_ECTS, URI_CREDIT_SCHEME, "European Credit Transfer System");
    decimal_format(ects, num);
    json_kv_string(&c->w, "point", num); /* a string: the context types it xsd:string */
    node_end(c);
}

static void write_note(struct cw *c, const char *key, const char *tag, const struct lang_map *m)
{
    json_key(&c->w, key);
    node_begin(c, nid(c, "note", tag), "Note");
    write_lang_map(c, "noteLiteral", m);
    node_end(c);
}

static void write_assessment_spec(struct cw *c)
{
    node_begin(c, nid(c, "learningAssessmentSpec", NULL), "LearningAssessmentSpecification");
    write_lang_map(c, "title", c->v->assessment);
    node_end(c);
}

/* The assessment that proves the claim, with the learner's grade. */
static void write_assessment(struct cw *c)
{
    bool has_type = map_present(c->v->assessment);

    node_begin(c, nid(c, "learningAssessment", NULL), "LearningAssessment");
    json_key(&c->w, "awardedBy");
    write_awarding(c);
    json_key(&c->w, "grade");
    node_begin(c, nid(c, "note", "grade"), "Note");
    write_text(c, "noteLiteral", c->b->result->grade);
    node_end(c);
    if (has_type) {
        json_key(&c->w, "specifiedBy");
        write_assessment_spec(c);
    }
    write_lang_map(c, "title", has_type ? c->v->assessment : c->v->title);
    node_end(c);
}

static void write_isced(struct cw *c)
{
    size_t n = 0;

    for (size_t i = 0; i < c->v->nisced; i++)
        n += isced_is_valid(c->v->isced[i]);
    if (n == 0)
        return;
    json_key(&c->w, "thematicArea");
    json_array_begin(&c->w);
    for (size_t i = 0; i < c->v->nisced; i++)
        if (isced_is_valid(c->v->isced[i]))
            write_concept_code(c, NULL, URI_ISCED, c->v->isced[i], URI_ISCED_SCHEME, NULL);
    json_array_end(&c->w);
}

static void write_outcomes(struct cw *c)
{
    char tag[24];

    if (!outcomes_present(c->v))
        return;
    json_key(&c->w, "learningOutcome");
    json_array_begin(&c->w);
    for (size_t i = 0; i < c->v->noutcomes; i++) {
        if (!map_present(&c->v->outcomes[i]))
            continue;
        snprintf(tag, sizeof(tag), "%zu", i + 1);
        node_begin(c, nid(c, "learningOutcome", tag), "LearningOutcome");
        write_lang_map(c, "title", &c->v->outcomes[i]);
        node_end(c);
    }
    json_array_end(&c->w);
}

static void write_mode(struct cw *c)
{
    const struct codes_mode *m = codes_mode_find(c->v->mode);

    if (m != NULL)
        write_concept_code(c, "mode", CODES_URI_MODE, m->id, CODES_URI_MODE_SCHEME, m->label);
}

/* An ISO 8601 duration as catalogue offers carry it ("PT60H"); anything else is not
 * written, since the context types the value xsd:duration. */
static bool duration_is_valid(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;

    return n >= 3 && n <= 64 && s[0] == 'P' && strspn(s, "PYMWDTHS0123456789.,") == n &&
           isdigit((unsigned char)s[n - 2 >= 1 ? n - 2 : 1]);
}

static void write_spec_languages(struct cw *c)
{
    char(*codes)[4] = xcalloc(c->v->nlanguages + 1, sizeof(*codes));
    size_t n = 0;

    for (size_t i = 0; i < c->v->nlanguages; i++) {
        char code[4];
        if (c->v->languages[i] != NULL && lang_known(c->v->languages[i], code))
            code_add(codes, &n, c->v->nlanguages + 1, code);
    }
    if (n > 0)
        write_languages(c, "language", codes, n);
    free(codes);
}

static void write_quality(struct cw *c)
{
    if (!map_present(c->v->qa))
        return;
    json_key(&c->w, "additionalNote");
    json_array_begin(&c->w);
    node_begin(c, nid(c, "note", "quality-assurance"), "Note");
    write_lang_map(c, "noteLiteral", c->v->qa);
    json_key(&c->w, "subject");
    json_object_begin(&c->w);
    json_kv_string(&c->w, "id", URI_QA_SUBJECT);
    json_kv_string(&c->w, "type", "Concept");
    json_key(&c->w, "prefLabel");
    json_object_begin(&c->w);
    json_kv_string(&c->w, "en", "Quality assurance");
    json_object_end(&c->w);
    json_object_end(&c->w);
    node_end(c);
    json_array_end(&c->w);
}

/*
 * What was achieved. ELM has EQFLevel on Qualification only (a plain specification
 * has educationLevel), and the EC micro-credential sample is a Qualification with
 * its EQF level, so a known level makes the specification one.
 */
static void write_spec(struct cw *c)
{
    const struct view *v = c->v;
    bool qualification = v->eqf >= 1 && v->eqf <= 8;
    char code[4], label[16];

    if (qualification)
        node_begin(c, nid(c, "qualification", NULL), "Qualification");
    else
        node_begin(c, nid(c, "learningAchievementSpec", NULL), "LearningAchievementSpecification");
    if (qualification) {
        snprintf(code, sizeof(code), "%d", v->eqf);
        snprintf(label, sizeof(label), "Level %d", v->eqf);
        write_concept_code(c, "eqfLevel", URI_EQF, code, URI_EQF_SCHEME, label);
    }
    write_isced(c);
    if (v->has_ects) {
        json_key(&c->w, "creditPoint");
        write_credit(c, "specification", v->ects);
    }
    if (map_present(v->entry_requirements))
        write_note(c, "entryRequirement", "entry-requirements", v->entry_requirements);
    write_outcomes(c);
    write_mode(c);
    if (duration_is_valid(v->volume_of_learning))
        json_kv_string(&c->w, "volumeOfLearning", v->volume_of_learning);
    write_spec_languages(c);
    if (map_present(v->assessment)) {
        json_key(&c->w, "provenBy");
        write_assessment_spec(c);
    }
    write_quality(c);
    if (v->homepage != NULL) {
        json_key(&c->w, "homepage");
        node_begin(c, nid(c, "webResource", "specification"), "WebResource");
        json_kv_string(&c->w, "contentURL", v->homepage);
        node_end(c);
    }
    if (map_present(v->description))
        write_lang_map(c, "description", v->description);
    write_lang_map(c, "title", v->title);
    node_end(c);
}

static void write_claim(struct cw *c)
{
    const struct iss_result *r = c->b->result;

    node_begin(c, nid(c, "learningAchievement", NULL), "LearningAchievement");
    json_key(&c->w, "awardedBy");
    write_awarding(c);
    if (r != NULL && r->has_ects) {
        /* what this learner received; the specification says what the course gives */
        json_key(&c->w, "creditReceived");
        write_credit(c, "received", r->ects);
    }
    if (r != NULL && !is_empty(r->grade)) {
        json_key(&c->w, "provenBy");
        write_assessment(c);
    }
    json_key(&c->w, "specifiedBy");
    write_spec(c);
    write_lang_map(c, "title", c->v->title);
    node_end(c);
}

/* RFC 6068: an addr-spec in a mailto URI escapes all but unreserved and some-delims. */
static void mailto_uri(struct buf *b, const char *email)
{
    buf_puts(b, "mailto:");
    for (const unsigned char *p = (const unsigned char *)email; *p; p++) {
        if (isalnum(*p) || strchr("-._~!$'()*+,;:@", *p) != NULL)
            buf_putc(b, (char)*p);
        else
            buf_printf(b, "%%%02X", *p);
    }
}

static void write_subject(struct cw *c)
{
    const struct iss_learner *l = c->b->learner;
    bool given = !is_empty(l->given_name), family = !is_empty(l->family_name);
    struct buf s;

    buf_init(&s);
    node_begin(c, nid(c, "person", NULL), "Person");
    if (!is_empty(l->email)) {
        json_key(&c->w, "contactPoint");
        node_begin(c, nid(c, "contactPoint", NULL), "ContactPoint");
        json_key(&c->w, "emailAddress");
        mailto_uri(&s, l->email);
        node_begin(c, s.data, "Mailbox");
        node_end(c);
        node_end(c);
    }
    if (!is_empty(l->date_of_birth))
        write_date(c, "dateOfBirth", l->date_of_birth);
    json_key(&c->w, "hasClaim");
    write_claim(c);
    if (family)
        write_text(c, "familyName", l->family_name);
    buf_reset(&s);
    buf_printf(&s, "%s%s%s", given ? l->given_name : "", given && family ? " " : "",
               family ? l->family_name : "");
    write_text(c, "fullName", s.data);
    if (given)
        write_text(c, "givenName", l->given_name);
    node_end(c);
    buf_cleanup(&s);
}

static void write_credential(struct cw *c)
{
    json_object_begin(&c->w);
    json_key(&c->w, "@context");
    json_array_begin(&c->w);
    json_string(&c->w, ISS_W3C_CONTEXT_URL);
    json_string(&c->w, ISS_EDC_CONTEXT_URL);
    json_array_end(&c->w);
    json_kv_string(&c->w, "id", c->b->credential_id);
    json_key(&c->w, "type");
    json_array_begin(&c->w);
    json_string(&c->w, "VerifiableCredential");
    json_string(&c->w, "EuropeanDigitalCredential");
    json_array_end(&c->w);
    write_concept(c, "credentialProfiles", URI_PROFILE_GENERIC, URI_PROFILE_SCHEME, "Generic");
    write_display(c);
    json_key(&c->w, "credentialSchema");
    json_object_begin(&c->w);
    json_kv_string(&c->w, "id", URI_EDC_SHAPES);
    json_kv_string(&c->w, "type", "ShaclValidator2017");
    json_object_end(&c->w);
    json_key(&c->w, "credentialSubject");
    write_subject(c);
    json_kv_string(&c->w, "issuanceDate", c->b->issued_at);
    json_key(&c->w, "issuer");
    write_org(c);
    json_kv_string(&c->w, "validFrom", c->b->issued_at);
    json_object_end(&c->w);
}

/* ---- the credential: checking the inputs ---- */

static int bfail(struct mcx_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bfail(struct mcx_error *err, const char *path, const char *fmt, ...)
{
    char msg[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    mcx_error_set(err, "build_failed", "%s", msg);
    if (err != NULL)
        mcx_strlcpy(err->path, path, sizeof(err->path));
    return -1;
}

/* A name or grade: one line of valid UTF-8. NULL when fine, else why not. */
static const char *line_problem(const char *s, size_t max)
{
    const char *why = text_problem(s, strlen(s), max);

    if (why == NULL && strpbrk(s, "\t\r\n") != NULL)
        why = "contains a line break or tab";
    return why;
}

/* A plain addr-spec: no quoted local part, no address literal, a dotted domain. */
static bool email_is_valid(const char *s)
{
    const char *at = strchr(s, '@'), *dom;
    size_t n = strlen(s);

    if (n > EMAIL_MAX_BYTES || at == NULL || at == s || strchr(at + 1, '@') != NULL)
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || strchr("\"(),:;<>[\\]", c) != NULL)
            return false;
    }
    dom = at + 1;
    n = strlen(dom);
    return n >= 3 &&
           strspn(dom, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-") == n &&
           strchr(dom, '.') != NULL && strstr(dom, "..") == NULL && dom[0] != '.' &&
           dom[0] != '-' && dom[n - 1] != '.' && dom[n - 1] != '-';
}

/* A calendar date no later than the day of issue. */
static int check_date(const char *date, const char *issued_at, const char *path,
                      struct mcx_error *err)
{
    if (!mcx_date_is_valid(date))
        return bfail(err, path, "%s must be a date YYYY-MM-DD", path);
    if (strncmp(date, issued_at, 10) > 0)
        return bfail(err, path, "%s (%s) is after the date of issue", path, date);
    return 0;
}

static int check_learner(const struct iss_learner *l, const char *issued_at, struct mcx_error *err)
{
    const char *why;

    if (l == NULL)
        return bfail(err, "learner", "no learner");
    if (is_empty(l->given_name) && is_empty(l->family_name))
        return bfail(err, "learner", "the learner has no name");
    if (!is_empty(l->given_name) && (why = line_problem(l->given_name, NAME_MAX_BYTES)) != NULL)
        return bfail(err, "learner.given_name", "learner.given_name %s", why);
    if (!is_empty(l->family_name) && (why = line_problem(l->family_name, NAME_MAX_BYTES)) != NULL)
        return bfail(err, "learner.family_name", "learner.family_name %s", why);
    if (!is_empty(l->email) && !email_is_valid(l->email))
        return bfail(err, "learner.email", "learner.email is not an e-mail address");
    if (!is_empty(l->date_of_birth))
        return check_date(l->date_of_birth, issued_at, "learner.date_of_birth", err);
    return 0;
}

static int check_result(const struct iss_result *r, const char *issued_at, struct mcx_error *err)
{
    const char *why;

    if (r == NULL)
        return 0;
    if (!is_empty(r->grade) && (why = line_problem(r->grade, GRADE_MAX_BYTES)) != NULL)
        return bfail(err, "result.grade", "result.grade %s", why);
    if (r->has_ects && (!isfinite(r->ects) || r->ects < 0 || r->ects > ISS_ECTS_MAX))
        return bfail(err, "result.ects", "result.ects must be a number from 0 to 300");
    if (!is_empty(r->date))
        return check_date(r->date, issued_at, "result.date", err);
    return 0;
}

static int check_inputs(const struct iss_build *b, const char **uuid, struct mcx_error *err)
{
    if (!credential_id_is_valid(b->credential_id, uuid))
        return bfail(err, "credential_id", "credential_id must be urn:uuid:<lowercase uuid>");
    if (!timestamp_is_valid(b->issued_at))
        return bfail(err, "issued_at",
                     "issued_at must be an RFC 3339 UTC timestamp (YYYY-MM-DDTHH:MM:SSZ)");
    if (check_learner(b->learner, b->issued_at, err) < 0)
        return -1;
    return check_result(b->result, b->issued_at, err);
}

static int check_view(const struct view *v, struct mcx_error *err)
{
    if (!map_present(v->title))
        return bfail(err, "title", "no title: the offer has none and the template gives none");
    if (!map_present(v->org_name))
        return bfail(err, "issuer",
                     "no issuer: neither the template's awarding_body nor the "
                     "offer's institution names one");
    if (codes_country_authority(v->org_country) == NULL)
        return bfail(err, "issuer.country", "the issuer has no country");
    return 0;
}

int iss_build_credential(const struct iss_build *b, struct buf *out, struct mcx_error *err)
{
    struct source s;
    struct view v;
    struct cw c;
    struct buf doc;
    struct mcx_error perr;
    const char *uuid = NULL;

    mcx_error_clear(err);
    if (check_inputs(b, &uuid, err) < 0)
        return -1;
    if (source_load(b->offer_json, &s, &perr) < 0) {
        source_cleanup(&s);
        return bfail(err, "offer_json", "the offer is not usable: %.300s", perr.message);
    }
    view_init(&v, &s, b->template);
    if (check_view(&v, err) < 0) {
        view_cleanup(&v);
        source_cleanup(&s);
        return -1;
    }
    buf_init(&doc);
    memset(&c, 0, sizeof(c));
    json_writer_init(&c.w, &doc);
    c.v = &v;
    c.b = b;
    c.uuid = uuid;
    buf_init(&c.id);
    write_credential(&c);
    buf_append(out, doc.data, doc.len);
    buf_cleanup(&c.id);
    buf_cleanup(&doc);
    view_cleanup(&v);
    source_cleanup(&s);
    return 0;
}

/* ---- the EDCI upload wrapper ---- */

int iss_upload_wrapper(const char *credential_json, const struct iss_learner *l, bool email,
                       bool wallet, struct buf *out)
{
    struct json_value *doc;
    struct json_writer w;
    struct buf b;
    bool ok, deliver = email || wallet;
    size_t len;

    if (credential_json == NULL)
        return -1;
    len = strlen(credential_json);
    doc = json_parse(credential_json, len, JSON_PARSE_DEFAULT_DEPTH, NULL);
    /* EDCI refuses a sealed upload; a JAdES envelope has "payload" and "signatures" */
    ok = json_is_object(doc) && json_object_get(doc, "credentialSubject") != NULL &&
         json_object_get(doc, "signatures") == NULL;
    json_value_free(doc);
    if (!ok)
        return -1;
    if (deliver && (l == NULL || is_empty(l->email) || !email_is_valid(l->email)))
        return -1;
    buf_init(&b);
    json_writer_init(&w, &b);
    json_object_begin(&w);
    json_key(&w, "credential");
    json_raw(&w, credential_json, len);
    json_key(&w, "deliveryDetails");
    json_object_begin(&w);
    json_key(&w, "deliveryAddress");
    json_array_begin(&w);
    if (deliver)
        json_string(&w, l->email); /* plain: EDCI tells e-mail from wallet addresses */
    json_array_end(&w);
    json_object_end(&w);
    json_object_end(&w);
    buf_append(out, b.data, b.len);
    buf_cleanup(&b);
    return 0;
}

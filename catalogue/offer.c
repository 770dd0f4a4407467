/*
 * offer.c — the offer's lifecycle, equality, completeness, its JSON fields
 * (DESIGN §5) and its content hash. Pure functions over struct offer.
 */
#include "catalogue/offer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "server/json.h"

void offer_init(struct offer *o)
{
    memset(o, 0, sizeof(*o));
    o->mode = OFFER_MODE_UNKNOWN;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void offer_cleanup(struct offer *o)
{
    free(o->external_id);
    free(o->source_id);
    lang_map_cleanup(&o->title);
    lang_map_cleanup(&o->description);
    free(o->homepage);
    strv_free(o->languages, o->nlanguages);
    strv_free(o->isced, o->nisced);
    for (size_t i = 0; i < o->noutcomes; i++)
        lang_map_cleanup(&o->learning_outcomes[i]);
    free(o->learning_outcomes);
    lang_map_cleanup(&o->assessment);
    lang_map_cleanup(&o->quality_assurance);
    lang_map_cleanup(&o->entry_requirements);
    free(o->volume_of_learning);
    free(o->provider_id);
    lang_map_cleanup(&o->provider_name);
    free(o->provider_homepage);
    offer_init(o);
}

/* ---- language maps ---- */

static struct lang_string *lang_map_find(const struct lang_map *m, const char *lang)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->items[i].lang, lang) == 0)
            return &m->items[i];
    return NULL;
}

/*
 * At most one text per language: a second text in a language already present is
 * ignored (the first in source order wins), so parsers need no duplicate checks.
 */
void lang_map_add(struct lang_map *m, const char *lang, const char *text)
{
    if (text == NULL)
        return;
    if (lang == NULL)
        lang = "";
    if (lang_map_find(m, lang) != NULL)
        return;
    m->items = xrealloc(m->items, (m->n + 1) * sizeof(*m->items));
    m->items[m->n].lang = xstrdup(lang);
    m->items[m->n].text = xstrdup(text);
    m->n++;
}

const char *lang_map_get(const struct lang_map *m, const char *lang)
{
    const struct lang_string *s;

    if (m->n == 0)
        return NULL;
    if (lang != NULL && (s = lang_map_find(m, lang)) != NULL)
        return s->text;
    if ((s = lang_map_find(m, "en")) != NULL)
        return s->text;
    return m->items[0].text;
}

void lang_map_cleanup(struct lang_map *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->items[i].lang);
        free(m->items[i].text);
    }
    free(m->items);
    m->items = NULL;
    m->n = 0;
}

/* ---- equality ---- */

/* NULL and "" both mean "none": a codec may produce either. */
static bool str_equal(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

/* Same set of (language, text) pairs; source order does not matter. */
static bool lang_map_equal(const struct lang_map *a, const struct lang_map *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        const struct lang_string *s = lang_map_find(b, a->items[i].lang);
        if (s == NULL || strcmp(s->text, a->items[i].text) != 0)
            return false;
    }
    return true;
}

/* Lists keep their order: the first language of instruction is the main one. */
static bool strv_equal(char *const *a, size_t na, char *const *b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (!str_equal(a[i], b[i]))
            return false;
    return true;
}

static bool outcomes_equal(const struct offer *a, const struct offer *b)
{
    if (a->noutcomes != b->noutcomes)
        return false;
    for (size_t i = 0; i < a->noutcomes; i++)
        if (!lang_map_equal(&a->learning_outcomes[i], &b->learning_outcomes[i]))
            return false;
    return true;
}

static bool ects_equal(const struct offer *a, const struct offer *b)
{
    return a->has_ects == b->has_ects && (!a->has_ects || a->ects == b->ects);
}

/* The currency belongs to the price: without a price it is not compared. */
static bool price_equal(const struct offer *a, const struct offer *b)
{
    if (a->has_price != b->has_price)
        return false;
    return !a->has_price ||
           (a->price_amount == b->price_amount && strcmp(a->currency, b->currency) == 0);
}

/* The name of the first field in which a and b differ, or NULL. */
static const char *offer_first_difference(const struct offer *a, const struct offer *b)
{
    if (!str_equal(a->external_id, b->external_id))
        return "external_id";
    if (!str_equal(a->source_id, b->source_id))
        return "source_id";
    if (!lang_map_equal(&a->title, &b->title))
        return "title";
    if (!lang_map_equal(&a->description, &b->description))
        return "description";
    if (!str_equal(a->homepage, b->homepage))
        return "homepage";
    if (!strv_equal(a->languages, a->nlanguages, b->languages, b->nlanguages))
        return "languages";
    if (!strv_equal(a->isced, a->nisced, b->isced, b->nisced))
        return "isced";
    if (a->eqf != b->eqf)
        return "eqf";
    if (!ects_equal(a, b))
        return "ects";
    if (a->mode != b->mode)
        return "mode";
    if (strcmp(a->starts, b->starts) != 0)
        return "starts";
    if (strcmp(a->ends, b->ends) != 0)
        return "ends";
    if (strcmp(a->application_deadline, b->application_deadline) != 0)
        return "application_deadline";
    if (!price_equal(a, b))
        return "price";
    if (!outcomes_equal(a, b))
        return "learning_outcomes";
    if (!lang_map_equal(&a->assessment, &b->assessment))
        return "assessment";
    if (!lang_map_equal(&a->quality_assurance, &b->quality_assurance))
        return "quality_assurance";
    if (!lang_map_equal(&a->entry_requirements, &b->entry_requirements))
        return "entry_requirements";
    if (!str_equal(a->volume_of_learning, b->volume_of_learning))
        return "volume_of_learning";
    if (!str_equal(a->provider_id, b->provider_id))
        return "provider_id";
    if (!lang_map_equal(&a->provider_name, &b->provider_name))
        return "provider_name";
    if (strcmp(a->provider_country, b->provider_country) != 0)
        return "provider_country";
    if (!str_equal(a->provider_homepage, b->provider_homepage))
        return "provider_homepage";
    return NULL;
}

bool offer_equal(const struct offer *a, const struct offer *b, const char **field)
{
    const char *diff = offer_first_difference(a, b);

    if (field != NULL)
        *field = diff;
    return diff == NULL;
}

/* ---- completeness (Council Recommendation 2022/C 243/02, Annex I) ---- */

size_t offer_completeness(const struct offer *o, const char *missing[OFFER_COMPLETENESS_MAX])
{
    size_t n = 0;

    if (o->title.n == 0)
        missing[n++] = "title";
    /* The awarding body is identified by its name or, failing that, its id. */
    if (o->provider_name.n == 0 && (o->provider_id == NULL || o->provider_id[0] == '\0'))
        missing[n++] = "awarding_body";
    if (o->provider_country[0] == '\0')
        missing[n++] = "country";
    if (o->noutcomes == 0)
        missing[n++] = "learning_outcomes";
    if (!o->has_ects)
        missing[n++] = "ects";
    if (o->eqf < 1 || o->eqf > 8)
        missing[n++] = "eqf";
    if (o->assessment.n == 0)
        missing[n++] = "assessment";
    if (o->mode == OFFER_MODE_UNKNOWN)
        missing[n++] = "mode";
    if (o->quality_assurance.n == 0)
        missing[n++] = "quality_assurance";
    return n;
}

/* ---- modes ---- */

static const char *const mode_names[] = {
    [OFFER_MODE_ONLINE] = "online",
    [OFFER_MODE_BLENDED] = "blended",
    [OFFER_MODE_ONSITE] = "onsite",
};

const char *offer_mode_name(enum offer_mode m)
{
    if ((size_t)m >= MCX_ARRAY_LEN(mode_names))
        return NULL;
    return mode_names[m];
}

int offer_mode_parse(const char *name, enum offer_mode *out)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < MCX_ARRAY_LEN(mode_names); i++) {
        if (mode_names[i] != NULL && strcmp(mode_names[i], name) == 0) {
            *out = (enum offer_mode)i;
            return 0;
        }
    }
    return -1;
}

/* ---- JSON (DESIGN §5) ---- */

/*
 * The shortest of %.15g/%.16g/%.17g that reads back as the same double, so
 * 3 ECTS print as 3 and 7.5 as 7.5 rather than 17 significant digits.
 */
static void double_format(double v, char *out, size_t size)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

static void json_number(struct json_writer *w, double v)
{
    char num[40];

    if (!isfinite(v)) {
        json_null(w);
        return;
    }
    double_format(v, num, sizeof(num));
    json_raw(w, num, strlen(num));
}

static void json_lang_map(struct json_writer *w, const struct lang_map *m)
{
    json_object_begin(w);
    for (size_t i = 0; i < m->n; i++)
        json_kv_string(w, m->items[i].lang, m->items[i].text);
    json_object_end(w);
}

static void json_strv(struct json_writer *w, char *const *v, size_t n)
{
    json_array_begin(w);
    for (size_t i = 0; i < n; i++)
        json_string(w, v[i]);
    json_array_end(w);
}

/* A string, or null when absent or empty. */
static void json_kv_opt(struct json_writer *w, const char *key, const char *s)
{
    json_key(w, key);
    if (s == NULL || s[0] == '\0')
        json_null(w);
    else
        json_string(w, s);
}

static void json_write_price(struct json_writer *w, const struct offer *o)
{
    json_key(w, "price");
    if (!o->has_price) {
        json_null(w);
        return;
    }
    json_object_begin(w);
    json_key(w, "amount");
    json_number(w, o->price_amount);
    json_kv_opt(w, "currency", o->currency);
    json_object_end(w);
}

static void json_write_provider(struct json_writer *w, const struct offer *o)
{
    json_key(w, "provider");
    json_object_begin(w);
    json_kv_opt(w, "id", o->provider_id);
    json_key(w, "name");
    json_lang_map(w, &o->provider_name);
    json_kv_opt(w, "country", o->provider_country);
    json_kv_opt(w, "homepage", o->provider_homepage);
    json_object_end(w);
}

void offer_write_json_fields(const struct offer *o, struct json_writer *w)
{
    json_kv_opt(w, "external_id", o->external_id);
    json_key(w, "title");
    json_lang_map(w, &o->title);
    json_key(w, "description");
    json_lang_map(w, &o->description);
    json_kv_opt(w, "homepage", o->homepage);
    json_key(w, "languages");
    json_strv(w, o->languages, o->nlanguages);
    json_key(w, "isced");
    json_strv(w, o->isced, o->nisced);
    json_key(w, "eqf");
    if (o->eqf >= 1 && o->eqf <= 8)
        json_int(w, o->eqf);
    else
        json_null(w);
    json_key(w, "ects");
    if (o->has_ects)
        json_number(w, o->ects);
    else
        json_null(w);
    json_kv_opt(w, "mode", offer_mode_name(o->mode));
    json_kv_opt(w, "starts", o->starts);
    json_kv_opt(w, "ends", o->ends);
    json_kv_opt(w, "application_deadline", o->application_deadline);
    json_write_price(w, o);
    json_key(w, "learning_outcomes");
    json_array_begin(w);
    for (size_t i = 0; i < o->noutcomes; i++)
        json_lang_map(w, &o->learning_outcomes[i]);
    json_array_end(w);
    json_key(w, "assessment");
    json_lang_map(w, &o->assessment);
    json_key(w, "quality_assurance");
    json_lang_map(w, &o->quality_assurance);
    json_key(w, "entry_requirements");
    json_lang_map(w, &o->entry_requirements);
    json_kv_opt(w, "volume_of_learning", o->volume_of_learning);
    json_write_provider(w, o);
}

/* ---- content hash ---- */

/*
 * The canonical form is a sequence of netstrings ("<len>:<bytes>,"), one per
 * field in a fixed order, with counts before lists: no two different offers
 * serialise alike whatever bytes their texts hold. It treats exactly what
 * offer_equal treats as equal alike: NULL = "", language maps sorted by
 * language, ECTS/price ignored when absent.
 */
static void hash_bytes(EVP_MD_CTX *ctx, const char *s, size_t len)
{
    char head[24];
    int n = snprintf(head, sizeof(head), "%zu:", len);

    EVP_DigestUpdate(ctx, head, (size_t)n);
    EVP_DigestUpdate(ctx, s, len);
    EVP_DigestUpdate(ctx, ",", 1);
}

static void hash_str(EVP_MD_CTX *ctx, const char *s)
{
    if (s == NULL)
        s = "";
    hash_bytes(ctx, s, strlen(s));
}

static void hash_long(EVP_MD_CTX *ctx, long v)
{
    char num[24];

    snprintf(num, sizeof(num), "%ld", v);
    hash_str(ctx, num);
}

static void hash_double(EVP_MD_CTX *ctx, double v)
{
    char num[40];

    if (v == 0)
        v = 0; /* -0.0 == 0.0 but prints differently */
    snprintf(num, sizeof(num), "%.17g", v);
    hash_str(ctx, num);
}

static int lang_string_cmp(const void *a, const void *b)
{
    const struct lang_string *const *x = a, *const *y = b;

    return strcmp((*x)->lang, (*y)->lang);
}

static void hash_lang_map(EVP_MD_CTX *ctx, const struct lang_map *m)
{
    const struct lang_string **sorted = xcalloc(m->n, sizeof(*sorted));

    for (size_t i = 0; i < m->n; i++)
        sorted[i] = &m->items[i];
    qsort(sorted, m->n, sizeof(*sorted), lang_string_cmp);
    hash_long(ctx, (long)m->n);
    for (size_t i = 0; i < m->n; i++) {
        hash_str(ctx, sorted[i]->lang);
        hash_str(ctx, sorted[i]->text);
    }
    free(sorted);
}

static void hash_strv(EVP_MD_CTX *ctx, char *const *v, size_t n)
{
    hash_long(ctx, (long)n);
    for (size_t i = 0; i < n; i++)
        hash_str(ctx, v[i]);
}

static void hash_offer(EVP_MD_CTX *ctx, const struct offer *o)
{
    hash_str(ctx, "mcx-offer-v1");
    hash_str(ctx, o->external_id);
    hash_str(ctx, o->source_id);
    hash_lang_map(ctx, &o->title);
    hash_lang_map(ctx, &o->description);
    hash_str(ctx, o->homepage);
    hash_strv(ctx, o->languages, o->nlanguages);
    hash_strv(ctx, o->isced, o->nisced);
    hash_long(ctx, o->eqf);
    hash_long(ctx, o->has_ects);
    if (o->has_ects)
        hash_double(ctx, o->ects);
    hash_long(ctx, o->mode);
    hash_str(ctx, o->starts);
    hash_str(ctx, o->ends);
    hash_str(ctx, o->application_deadline);
    hash_long(ctx, o->has_price);
    if (o->has_price) {
        hash_double(ctx, o->price_amount);
        hash_str(ctx, o->currency);
    }
    hash_long(ctx, (long)o->noutcomes);
    for (size_t i = 0; i < o->noutcomes; i++)
        hash_lang_map(ctx, &o->learning_outcomes[i]);
    hash_lang_map(ctx, &o->assessment);
    hash_lang_map(ctx, &o->quality_assurance);
    hash_lang_map(ctx, &o->entry_requirements);
    hash_str(ctx, o->volume_of_learning);
    hash_str(ctx, o->provider_id);
    hash_lang_map(ctx, &o->provider_name);
    hash_str(ctx, o->provider_country);
    hash_str(ctx, o->provider_homepage);
}

void offer_content_hash(const struct offer *o, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();

    if (ctx == NULL)
        abort(); /* only fails on allocation: out of memory aborts */
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    hash_offer(ctx, o);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (unsigned int i = 0; i < 32 && i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 0xf];
    }
    out[64] = '\0';
}

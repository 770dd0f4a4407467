/*
 * offer_json.c — reads an offer back from the JSON that offer_write_json_fields
 * wrote (the stored doc), so a stored offer can be exported as LOQ XML or ELM
 * JSON-LD. The inverse of offer.c's writer, field for field.
 */
#include "catalogue/offer_json.h"

#include <stdlib.h>
#include <string.h>

#include "server/jsonparse.h"

static const char *str_or_null(const struct json_value *v)
{
    return v != NULL && json_is_string(v) ? json_string_value(v, NULL) : NULL;
}

static char *dup_or_null(const struct json_value *v)
{
    const char *s = str_or_null(v);
    return s != NULL && s[0] != '\0' ? xstrdup(s) : NULL;
}

static void copy_fixed(char *dst, size_t size, const struct json_value *v)
{
    const char *s = str_or_null(v);
    mcx_strlcpy(dst, s ? s : "", size);
}

static void read_lang_map(const struct json_value *v, struct lang_map *m)
{
    if (v == NULL || !json_is_object(v))
        return;
    for (size_t i = 0; i < json_object_len(v); i++) {
        const char *text = str_or_null(json_object_value_at(v, i));
        if (text != NULL)
            lang_map_add(m, json_object_key_at(v, i), text);
    }
}

static char **read_strv(const struct json_value *v, size_t *n)
{
    char **out;

    *n = 0;
    if (v == NULL || !json_is_array(v) || json_array_len(v) == 0)
        return NULL;
    out = xcalloc(json_array_len(v), sizeof(char *));
    for (size_t i = 0; i < json_array_len(v); i++) {
        const char *s = str_or_null(json_array_at(v, i));
        if (s != NULL)
            out[(*n)++] = xstrdup(s);
    }
    return out;
}

static void read_numbers(const struct json_value *doc, struct offer *o)
{
    const struct json_value *v;
    double d;

    v = json_object_get(doc, "eqf");
    if (v != NULL && json_is_number(v) && json_number_double(v, &d) == 0)
        o->eqf = (int)d;
    v = json_object_get(doc, "ects");
    if (v != NULL && json_is_number(v) && json_number_double(v, &d) == 0) {
        o->has_ects = true;
        o->ects = d;
    }
    v = json_object_get(doc, "price");
    if (v != NULL && json_is_object(v)) {
        const struct json_value *amount = json_object_get(v, "amount");
        if (amount != NULL && json_is_number(amount) && json_number_double(amount, &d) == 0) {
            o->has_price = true;
            o->price_amount = d;
        }
        copy_fixed(o->currency, sizeof(o->currency), json_object_get(v, "currency"));
    }
}

static void read_outcomes(const struct json_value *v, struct offer *o)
{
    if (v == NULL || !json_is_array(v) || json_array_len(v) == 0)
        return;
    o->learning_outcomes = xcalloc(json_array_len(v), sizeof(struct lang_map));
    for (size_t i = 0; i < json_array_len(v); i++)
        read_lang_map(json_array_at(v, i), &o->learning_outcomes[o->noutcomes++]);
}

static void read_provider(const struct json_value *v, struct offer *o)
{
    if (v == NULL || !json_is_object(v))
        return;
    o->provider_id = dup_or_null(json_object_get(v, "id"));
    read_lang_map(json_object_get(v, "name"), &o->provider_name);
    copy_fixed(o->provider_country, sizeof(o->provider_country), json_object_get(v, "country"));
    o->provider_homepage = dup_or_null(json_object_get(v, "homepage"));
}

int offer_read_json(const char *data, size_t len, struct offer *o, struct mcx_error *err)
{
    struct json_value *doc = json_parse(data, len, JSON_PARSE_DEFAULT_DEPTH, err);
    int rc;

    if (doc == NULL)
        return -1;
    rc = offer_read_json_value(doc, o, err);
    json_value_free(doc);
    return rc;
}

int offer_read_json_value(const struct json_value *doc, struct offer *o, struct mcx_error *err)
{
    const char *mode;

    if (!json_is_object(doc)) {
        mcx_error_set(err, "validation_failed", "an offer is a JSON object");
        return -1;
    }
    o->external_id = dup_or_null(json_object_get(doc, "external_id"));
    o->source_id = dup_or_null(json_object_get(doc, "source_id"));
    read_lang_map(json_object_get(doc, "title"), &o->title);
    read_lang_map(json_object_get(doc, "description"), &o->description);
    o->homepage = dup_or_null(json_object_get(doc, "homepage"));
    o->languages = read_strv(json_object_get(doc, "languages"), &o->nlanguages);
    o->isced = read_strv(json_object_get(doc, "isced"), &o->nisced);
    read_numbers(doc, o);
    mode = str_or_null(json_object_get(doc, "mode"));
    if (mode != NULL)
        offer_mode_parse(mode, &o->mode);
    copy_fixed(o->starts, sizeof(o->starts), json_object_get(doc, "starts"));
    copy_fixed(o->ends, sizeof(o->ends), json_object_get(doc, "ends"));
    copy_fixed(o->application_deadline, sizeof(o->application_deadline),
               json_object_get(doc, "application_deadline"));
    read_outcomes(json_object_get(doc, "learning_outcomes"), o);
    read_lang_map(json_object_get(doc, "assessment"), &o->assessment);
    read_lang_map(json_object_get(doc, "quality_assurance"), &o->quality_assurance);
    read_lang_map(json_object_get(doc, "entry_requirements"), &o->entry_requirements);
    o->volume_of_learning = dup_or_null(json_object_get(doc, "volume_of_learning"));
    read_provider(json_object_get(doc, "provider"), o);
    return 0;
}

void offer_write_doc(const struct offer *o, struct buf *out)
{
    struct json_writer w;

    json_writer_init(&w, out);
    json_object_begin(&w);
    offer_write_json_fields(o, &w);
    /* Not in the API contract's list, but needed to export the offer again. */
    json_key(&w, "source_id");
    if (o->source_id != NULL && o->source_id[0] != '\0')
        json_string(&w, o->source_id);
    else
        json_null(&w);
    json_object_end(&w);
}

/*
 * search.c — GET /api/v1/offers. Two statements per request, sent at once: the
 * page, and the total with the facets, whose answer is then kept per parameters
 * and catalogue version, so later pages and repeated searches cost the page alone
 * (schemas/sql/007_search.sql has the vectors, indexes and functions they use).
 * This file checks the parameters, composes the statements with numbered
 * parameters only (nothing a client sends is ever SQL text), signs and checks the
 * keyset cursors, and answers 304 when the client's ETag names the current
 * catalogue version.
 *
 * The order is (tier, key, id): the tier is the preferred language and, for
 * relevance, how the text matches (sql_page); the key is the start date, the
 * ECTS or the folded title (a typo's trigram distance). A cursor carries the last
 * row's (tier, id, key), a hash of the parameters it belongs to, and an
 * HMAC-SHA256 under the database's cursor secret, so any node on the database
 * accepts it and a changed one is a 400. Tiers and keys are recomputed, never
 * stored, and depend on the offer and the query alone, so an insert between two
 * pages cannot move an offer across the cursor: no offer that existed at the
 * first page is skipped or shown twice.
 */
#include "catalogue/search.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "catalogue/events.h"
#include "server/db.h"
#include "server/http.h"
#include "server/http_parser.h"
#include "server/mcxd.h"
#include "server/ops.h"
#include "server/router.h"

struct search {
    struct mcxd *app;
    bool loaded;               /* version and secret read */
    bool fresh;                /* the version follows the listener: 304s allowed */
    long long version;         /* catalogue_state.version */
    char secret[80];           /* catalogue_state.cursor_secret */
    struct db_op *state;       /* the state read in flight */
    struct facet_slot *facets; /* FACET_SLOTS answers of the facet statement */
};

/* ---- parameters ---- */

static bool is_lower_word(const char *s, size_t min, size_t max)
{
    size_t n = strlen(s);

    if (n < min || n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s[i] < 'a' || s[i] > 'z')
            return false;
    return true;
}

/* Characters (code points) of a UTF-8 string; -1 when it is not UTF-8. */
static long utf8_chars(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    long n = 0;

    while (*p) {
        int len = *p < 0x80             ? 1
                  : (*p & 0xe0) == 0xc0 ? 2
                  : (*p & 0xf0) == 0xe0 ? 3
                  : (*p & 0xf8) == 0xf0 ? 4
                                        : 0;
        if (len == 0 || (len == 2 && *p < 0xc2))
            return -1;
        for (int i = 1; i < len; i++)
            if ((p[i] & 0xc0) != 0x80)
                return -1;
        p += len;
        n++;
    }
    return n;
}

/* One repeatable filter: its values are checked, then joined as an array literal. */
struct multi {
    const char *name;
    bool (*valid)(const char *);
    const char *rule; /* what a value must be, for the message */
    struct buf lit;
    int n;
};

static bool valid_language(const char *v)
{
    return is_lower_word(v, 2, 3);
}
static bool valid_isced(const char *v)
{
    return mcx_str_is_digits(v, 2, 4);
}
static bool valid_eqf(const char *v)
{
    return strlen(v) == 1 && v[0] >= '1' && v[0] <= '8';
}
static bool valid_mode(const char *v)
{
    return strcmp(v, "online") == 0 || strcmp(v, "blended") == 0 || strcmp(v, "onsite") == 0;
}
static bool valid_institution(const char *v)
{
    return mcx_institution_id_is_valid(v);
}

static int multi_add(struct multi *m, const char *value, struct mcx_error *err)
{
    /* a comma-separated list counts as several values: language=en,de */
    const char *p = value;

    do {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char one[160];
        if (len == 0 || len >= sizeof(one)) {
            mcx_error_set(err, "invalid_parameter", "%s must be %s", m->name, m->rule);
            return -1;
        }
        memcpy(one, p, len);
        one[len] = '\0';
        if (!m->valid(one)) {
            mcx_error_set(err, "invalid_parameter", "%s must be %s, not \"%.40s\"", m->name,
                          m->rule, one);
            return -1;
        }
        if (++m->n > SEARCH_VALUES_MAX) {
            mcx_error_set(err, "invalid_parameter", "%s takes at most %d values", m->name,
                          SEARCH_VALUES_MAX);
            return -1;
        }
        buf_putc(&m->lit, m->lit.len == 0 ? '{' : ',');
        buf_puts(&m->lit, one); /* checked: no quote, comma, brace or space */
        p = comma ? comma + 1 : NULL;
    } while (p != NULL);
    return 0;
}

static char *multi_take(struct multi *m)
{
    if (m->n == 0) {
        buf_cleanup(&m->lit);
        return NULL;
    }
    buf_putc(&m->lit, '}');
    return buf_steal(&m->lit, NULL);
}

/* A decimal number 0..1000, at most 2 decimals' worth of text. */
static int number_param(const char *name, const char *v, char **out, struct mcx_error *err)
{
    double d;

    if (*out != NULL) {
        mcx_error_set(err, "invalid_parameter", "%s is given twice", name);
        return -1;
    }
    if (strlen(v) > 12 || mcx_parse_double(v, 0, 1000, &d) != 0 ||
        strspn(v, "0123456789.") != strlen(v)) {
        mcx_error_set(err, "invalid_parameter", "%s must be a number from 0 to 1000", name);
        return -1;
    }
    *out = xstrdup(v);
    return 0;
}

/* The first language of an Accept-Language header ("lt-LT,lt;q=0.9" → "lt"). */
static void accept_language_first(const char *h, char out[4])
{
    size_t n = 0;

    out[0] = '\0';
    if (h == NULL)
        return;
    while (*h == ' ')
        h++;
    while (n < 3 && isalpha((unsigned char)h[n]))
        n++;
    if ((n == 2 || n == 3) && !isalpha((unsigned char)h[n])) {
        for (size_t i = 0; i < n; i++)
            out[i] = (char)tolower((unsigned char)h[i]);
        out[n] = '\0';
    }
}

static int parse_one(struct search_params *p, struct multi *multis, size_t nmultis,
                     const char *name, const char *value, bool *seen_lang, struct mcx_error *err)
{
    long n;

    for (size_t i = 0; i < nmultis; i++)
        if (strcmp(name, multis[i].name) == 0)
            return multi_add(&multis[i], value, err);
    if (strcmp(name, "q") == 0) {
        long chars = utf8_chars(value);
        if (p->q != NULL) {
            mcx_error_set(err, "invalid_parameter", "q is given twice");
            return -1;
        }
        if (chars < 0) {
            mcx_error_set(err, "invalid_parameter", "q is not UTF-8 text");
            return -1;
        }
        if (chars > SEARCH_Q_MAX_CHARS) {
            mcx_error_set(err, "invalid_parameter", "q is at most %d characters, not %ld",
                          SEARCH_Q_MAX_CHARS, chars);
            return -1;
        }
        p->q = xstrdup(value);
        return 0;
    }
    if (strcmp(name, "ects_min") == 0)
        return number_param(name, value, &p->ects_min, err);
    if (strcmp(name, "ects_max") == 0)
        return number_param(name, value, &p->ects_max, err);
    if (strcmp(name, "starts_after") == 0 || strcmp(name, "starts_before") == 0) {
        char *dst = name[7] == 'a' ? p->starts_after : p->starts_before;
        if (!mcx_date_is_valid(value)) {
            mcx_error_set(err, "invalid_parameter", "%s must be a date YYYY-MM-DD", name);
            return -1;
        }
        memcpy(dst, value, 11);
        return 0;
    }
    if (strcmp(name, "sort") == 0) {
        static const char *const sorts[] = {"relevance", "start", "ects", "title"};
        for (size_t i = 0; i < 4; i++)
            if (strcmp(value, sorts[i]) == 0) {
                p->sort = (enum search_sort)i;
                return 0;
            }
        mcx_error_set(err, "invalid_parameter", "sort must be relevance, start, ects or title");
        return -1;
    }
    if (strcmp(name, "limit") == 0) {
        if (mcx_parse_int(value, 1, SEARCH_LIMIT_MAX, &n) != 0) {
            mcx_error_set(err, "invalid_parameter", "limit must be a whole number from 1 to %d",
                          SEARCH_LIMIT_MAX);
            return -1;
        }
        p->limit = n;
        return 0;
    }
    if (strcmp(name, "lang") == 0) {
        if (!is_lower_word(value, 2, 3)) {
            mcx_error_set(err, "invalid_parameter", "lang must be a language code such as en");
            return -1;
        }
        memcpy(p->lang, value, strlen(value) + 1);
        *seen_lang = true;
        return 0;
    }
    if (strcmp(name, "cursor") == 0) {
        if (p->cursor != NULL || strlen(value) > 2048) {
            mcx_error_set(err, "invalid_parameter", "cursor is not one this search gave");
            return -1;
        }
        p->cursor = xstrdup(value);
        return 0;
    }
    if (strcmp(name, "recognised_by") == 0 || strcmp(name, "home") == 0) {
        char *dst = name[0] == 'r' ? p->recognised_by : p->home;
        if (dst[0] != '\0' || !mcx_institution_id_is_valid(value)) {
            mcx_error_set(err, "invalid_parameter", "%s must be one institution id such as vdu.lt",
                          name);
            return -1;
        }
        mcx_strlcpy(dst, value, 128);
        return 0;
    }
    mcx_error_set(err, "invalid_parameter", "unknown parameter \"%.40s\"", name);
    return -1;
}

int search_params_parse(const char *query, const char *accept_language, struct search_params *p,
                        struct mcx_error *err)
{
    struct multi multis[] = {
        {"language", valid_language, "a language code such as en", {0}, 0},
        {"isced", valid_isced, "an ISCED-F field code of 2 to 4 digits such as 0613", {0}, 0},
        {"eqf", valid_eqf, "an EQF level from 1 to 8", {0}, 0},
        {"mode", valid_mode, "online, blended or onsite", {0}, 0},
        {"institution", valid_institution, "an institution id such as vdu.lt", {0}, 0},
    };
    size_t pos = 0;
    bool seen_lang = false;
    char *name, *value;
    int rc = 0, step;

    memset(p, 0, sizeof(*p));
    p->limit = SEARCH_LIMIT_DEFAULT;
    p->sort = -1;
    buf_init(&p->canon);
    for (size_t i = 0; i < MCX_ARRAY_LEN(multis); i++)
        buf_init(&multis[i].lit);
    mcx_error_clear(err);
    while (rc == 0 && (step = http_query_next(query, &pos, &name, &value)) != 1) {
        if (step < 0) {
            mcx_error_set(err, "invalid_parameter", "the query string has a bad %%-escape");
            rc = -1;
            break;
        }
        rc = parse_one(p, multis, MCX_ARRAY_LEN(multis), name, value, &seen_lang, err);
        free(name);
        free(value);
    }
    p->language = multi_take(&multis[0]);
    p->isced = multi_take(&multis[1]);
    p->eqf = multi_take(&multis[2]);
    p->mode = multi_take(&multis[3]);
    p->institution = multi_take(&multis[4]);
    if (rc != 0) {
        search_params_cleanup(p);
        return -1;
    }
    if (p->ects_min != NULL && p->ects_max != NULL && atof(p->ects_min) > atof(p->ects_max)) {
        mcx_error_set(err, "invalid_parameter", "ects_min is larger than ects_max");
        search_params_cleanup(p);
        return -1;
    }
    if (p->q != NULL && strspn(p->q, " \t") == strlen(p->q)) {
        free(p->q); /* only blanks: no text query */
        p->q = NULL;
    }
    if ((int)p->sort < 0)
        p->sort = p->q != NULL ? SEARCH_SORT_RELEVANCE : SEARCH_SORT_START;
    if (!seen_lang)
        accept_language_first(accept_language, p->lang);
    buf_printf(&p->canon, "q=%s\nlanguage=%s\nisced=%s\neqf=%s\nmode=%s\ninstitution=%s\n",
               p->q ? p->q : "", p->language ? p->language : "", p->isced ? p->isced : "",
               p->eqf ? p->eqf : "", p->mode ? p->mode : "", p->institution ? p->institution : "");
    if (p->home[0] == '\0')
        memcpy(p->home, p->recognised_by, sizeof(p->home));
    buf_printf(&p->canon, "ects=%s..%s\nstarts=%s..%s\nsort=%d\nlang=%s\n",
               p->ects_min ? p->ects_min : "", p->ects_max ? p->ects_max : "", p->starts_after,
               p->starts_before, (int)p->sort, p->lang);
    buf_printf(&p->canon, "recognised_by=%s\nhome=%s\n", p->recognised_by, p->home);
    return 0;
}

void search_params_cleanup(struct search_params *p)
{
    free(p->q);
    free(p->language);
    free(p->isced);
    free(p->eqf);
    free(p->mode);
    free(p->institution);
    free(p->ects_min);
    free(p->ects_max);
    free(p->cursor);
    buf_cleanup(&p->canon);
    memset(p, 0, sizeof(*p));
}

/* ---- cursors ---- */

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

static void sha256_hex16(const char *data, size_t len, char out[33])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    hex(md, 16, out);
}

static void cursor_mac(const struct search *s, const char *payload, size_t len, char out[33])
{
    unsigned char md[32];
    unsigned int mdlen = 0;

    HMAC(EVP_sha256(), s->secret, (int)strlen(s->secret), (const unsigned char *)payload, len, md,
         &mdlen);
    hex(md, 16, out);
}

/* "<hex payload>.<mac>", payload "v2|<params hash>|<tier>|<id>|<key>". */
static char *cursor_make(const struct search *s, const char *params_hash, const char *last)
{
    struct buf payload, out;
    char mac[33];

    buf_init(&payload);
    buf_printf(&payload, "v2|%s|%s", params_hash, last);
    cursor_mac(s, payload.data, payload.len, mac);
    buf_init(&out);
    buf_reserve(&out, payload.len * 2 + 40);
    hex((const unsigned char *)payload.data, payload.len, out.data);
    out.len = payload.len * 2;
    buf_printf(&out, ".%s", mac);
    buf_cleanup(&payload);
    return buf_steal(&out, NULL);
}

struct keyset {
    char pref[2];
    char id[37];
    char *key;
};

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Checks a cursor's MAC and that it belongs to these parameters; fills k. */
static int cursor_read(const struct search *s, const char *cursor, const char *params_hash,
                       struct keyset *k)
{
    const char *dot = strrchr(cursor, '.');
    size_t hlen = dot ? (size_t)(dot - cursor) : 0;
    char payload[1100], mac[33];
    size_t n = hlen / 2;

    if (dot == NULL || hlen == 0 || hlen % 2 != 0 || n >= sizeof(payload) || strlen(dot + 1) != 32)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int hi = unhex(cursor[2 * i]), lo = unhex(cursor[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        payload[i] = (char)(hi << 4 | lo);
    }
    payload[n] = '\0';
    cursor_mac(s, payload, n, mac);
    if (CRYPTO_memcmp(mac, dot + 1, 32) != 0 || memchr(payload, '\0', n) != NULL)
        return -1;
    /* v2|hash|tier|id|key (v1 cursors, from before the tiers, are refused) */
    if (strncmp(payload, "v2|", 3) != 0 || strncmp(payload + 3, params_hash, 32) != 0 ||
        payload[35] != '|' || payload[36] < '0' || payload[36] > '7' || payload[37] != '|' ||
        n < 38 + 36 + 1 || payload[38 + 36] != '|')
        return -1;
    k->pref[0] = payload[36];
    k->pref[1] = '\0';
    memcpy(k->id, payload + 38, 36);
    k->id[36] = '\0';
    k->key = xstrdup(payload + 38 + 37);
    return 0;
}

/* ---- the statement ---- */

struct sql {
    struct buf text;
    const char *params[24];
    int n;
};

/* Adds a parameter and returns its placeholder number. */
static int sql_param(struct sql *q, const char *value)
{
    q->params[q->n++] = value;
    return q->n;
}

/*
 * The query's tsquery and folded text, written out where used (not taken from a
 * CTE): both are immutable functions of $1, which the planner folds to constants,
 * so the GIN indexes serve the text and trigram conditions.
 */
#define TSQ "mcx_search_tsquery($1::text)"
#define QT "lower(mcx_unaccent(btrim(coalesce($1::text, ''))))"

/*
 * The text candidates: the offers whose words match; only when none does, the
 * ones whose folded title is close to the query (a typo: "machne lerning"). The
 * second scan sits behind a one-time filter, so a query with word matches never
 * pays for trigram matching.
 */
static const char candidates_sql[] =
    "fts AS MATERIALIZED (SELECT o.id FROM offers o WHERE o.deleted_at IS NULL AND "
    "o.search_vector @@ " TSQ "), "
    "cand AS (SELECT id, false AS typo FROM fts UNION ALL SELECT o.id, true FROM offers o "
    "WHERE NOT EXISTS (SELECT 1 FROM fts) AND o.deleted_at IS NULL AND " QT " <% o.title_text), ";

/* The filter conditions, each "true" when absent: [0] eqf .. [5] ects. */
#define NFILTERS 6
static const char *const flag_name[NFILTERS] = {"f_eqf",  "f_lang", "f_isced",
                                                "f_mode", "f_inst", "f_ects"};

static void filters(struct sql *q, const struct search_params *p, char cond[NFILTERS][160])
{
    static const char *const fmt[5] = {
        "o.eqf = ANY ($%d::int[])",
        "o.languages && $%d::text[]",
        "o.isced_codes && $%d::text[]",
        "o.mode = ANY ($%d::text[])",
        "o.institution_id = ANY ($%d::text[])",
    };
    const char *value[5] = {p->eqf, p->language, p->isced, p->mode, p->institution};

    for (int i = 0; i < 5; i++) {
        if (value[i] == NULL)
            snprintf(cond[i], 160, "true");
        else
            snprintf(cond[i], 160, fmt[i], sql_param(q, value[i]));
    }
    if (p->ects_min != NULL && p->ects_max != NULL) {
        int lo = sql_param(q, p->ects_min), hi = sql_param(q, p->ects_max);
        snprintf(cond[5], 160, "o.ects BETWEEN $%d::numeric AND $%d::numeric", lo, hi);
    } else if (p->ects_min != NULL) {
        snprintf(cond[5], 160, "o.ects >= $%d::numeric", sql_param(q, p->ects_min));
    } else if (p->ects_max != NULL) {
        snprintf(cond[5], 160, "o.ects <= $%d::numeric", sql_param(q, p->ects_max));
    } else {
        snprintf(cond[5], 160, "true");
    }
}

/* The facet statement starts with $1 (q), then the text candidates when there is one. */
static void sql_begin(struct sql *q, const struct search_params *p)
{
    buf_init(&q->text);
    q->n = 0;
    sql_param(q, p->q);
    buf_puts(&q->text, "WITH ");
    if (p->q != NULL)
        buf_puts(&q->text, candidates_sql);
}

/* The WHERE every statement shares: live offers, the dates. */
static void where_common(struct sql *q, const struct search_params *p, struct buf *t)
{
    /* $1 is named even without q, so that it has a type */
    buf_puts(t, " WHERE o.deleted_at IS NULL AND ($1::text IS NULL OR true)");
    /* the bounds on the start order's own expression, so that its index can seek to
     * them (2.4 s at 1,000,000 offers when it had to skip every earlier start) */
    if (p->starts_after[0] != '\0' || p->starts_before[0] != '\0')
        buf_puts(t, " AND o.starts IS NOT NULL");
    if (p->starts_after[0] != '\0')
        buf_printf(t, " AND coalesce(o.starts, 'infinity'::date) >= $%d::date",
                   sql_param(q, p->starts_after));
    if (p->starts_before[0] != '\0')
        buf_printf(t, " AND coalesce(o.starts, 'infinity'::date) <= $%d::date",
                   sql_param(q, p->starts_before));
    if (p->recognised_by[0] != '\0') { /* the partners first: a cheap, selective test */
        int n = sql_param(q, p->recognised_by);
        buf_printf(t,
                   " AND o.institution_id = ANY (recognition_partners($%d))"
                   " AND offer_recognition(o.id, $%d) IS NOT NULL",
                   n, n);
    }
}

/*
 * The page is a chain of branches, each one "tier" of the order, read in turn:
 * PostgreSQL runs a UNION ALL's branches one after the other and stops at the
 * LIMIT, so a later branch costs nothing once the page is full. Within a branch
 * the rows come in (key, id) order, which an index gives for the start, ECTS and
 * title keys: a page costs about what it shows, not what matches. (That order is
 * PostgreSQL's Append, which only a parallel plan would interleave; the page
 * statement cannot run in parallel, since offers_api_json is PARALLEL UNSAFE.)
 *
 * Relevance with q is tiered rather than scored: a title equal to the query,
 * then every word in a title, then every word anywhere (outcomes, description),
 * each tier soonest start first; only when no offer has the words, titles close
 * to the query (a typo: "machne lerning"), closest first. Scoring every match
 * with ts_rank cost time in proportion to the matches (1.2 s at 1,000,000
 * offers); tiers keep the weighting (title > outcomes > description) at the cost
 * of a page. With lang (or Accept-Language), every tier is split in two:
 * offers with a title in that language first.
 *
 * A row's tier number (0-7, higher first) is what its cursor's "pref" holds.
 */
#define TSQ_TITLE "mcx_search_tsquery($1::text, 'A')"
#define NO_WORD_MATCH "NOT mcx_search_has_words($1::text)"

enum { TIER_TYPO, TIER_WORDS, TIER_TITLE_WORDS, TIER_EXACT, TIERS_PER_PREF };

struct branch {
    int tier;         /* pref * TIERS_PER_PREF + level */
    const char *cond; /* what puts a row in this tier, besides the preference */
    const char *key;  /* the order within the tier */
    const char *type; /* of the key, for the cursor's value */
};

static const char *const sort_key[] = {
    [SEARCH_SORT_RELEVANCE] = "coalesce(o.starts, 'infinity'::date)",
    [SEARCH_SORT_START] = "coalesce(o.starts, 'infinity'::date)",
    [SEARCH_SORT_ECTS] = "coalesce(o.ects, 'Infinity'::numeric)",
    [SEARCH_SORT_TITLE] = "o.title_text",
};
static const char *const sort_type[] = {"date", "date", "numeric", "text"};

/* The branches of one preference, best tier first; returns how many. */
static int branches(const struct search_params *p, int pref, struct branch out[TIERS_PER_PREF])
{
    const char *key = sort_key[p->sort], *type = sort_type[p->sort];
    int base = pref * TIERS_PER_PREF, n = 0;

    if (p->q == NULL) {
        out[n++] = (struct branch){base + TIER_WORDS, NULL, key, type};
        return n;
    }
    if (p->sort == SEARCH_SORT_RELEVANCE) {
        out[n++] = (struct branch){base + TIER_EXACT,
                                   "o.title_text = " QT " AND o.search_vector @@ " TSQ, key, type};
        out[n++] =
            (struct branch){base + TIER_TITLE_WORDS,
                            "o.search_vector @@ " TSQ_TITLE " AND o.title_text <> " QT, key, type};
        out[n++] = (struct branch){
            base + TIER_WORDS, "o.search_vector @@ " TSQ " AND NOT o.search_vector @@ " TSQ_TITLE,
            key, type};
        out[n++] = (struct branch){base + TIER_TYPO, NO_WORD_MATCH " AND " QT " <% o.title_text",
                                   "(1 - word_similarity(" QT ", o.title_text))::float8", "float8"};
        return n;
    }
    out[n++] = (struct branch){base + TIER_WORDS, "o.search_vector @@ " TSQ, key, type};
    out[n++] =
        (struct branch){base + TIER_TYPO, NO_WORD_MATCH " AND " QT " <% o.title_text", key, type};
    return n;
}

/* One branch: its rows after the cursor (when the cursor is in it), in order. */
static void sql_branch(struct sql *q, const struct branch *b, const char *where, int pref, int lang,
                       const struct keyset *after, int after_tier, int pl1)
{
    struct buf *t = &q->text;

    buf_printf(t, "(SELECT o.id, o.institution_id, %d AS pref, (%s)::text AS skey FROM offers o%s",
               b->tier, b->key, where);
    if (lang > 0)
        buf_printf(t, " AND %s(o.title ? $%d)", pref ? "" : "NOT ", lang);
    if (b->cond != NULL)
        buf_printf(t, " AND %s", b->cond);
    if (after != NULL && b->tier == after_tier) {
        int pk = sql_param(q, after->key), pi = sql_param(q, after->id);
        /* a row comparison: the (key, id) index starts right after the cursor, where
         * "key > k OR (key = k AND id > i)" made it read every earlier row again */
        buf_printf(t, " AND (%s, o.id) > ($%d::%s, $%d::uuid)", b->key, pk, b->type, pi);
    }
    buf_printf(t, " ORDER BY %s, o.id LIMIT $%d::int)", b->key, pl1);
}

/*
 * The page: columns items (JSON text), more (bool), last (tier|id|key of the last
 * item shown), shown (a line per item: id then institution, for events_search).
 */
static void sql_page(struct sql *q, const struct search_params *p, const struct keyset *after,
                     const char *limit, const char *limit1)
{
    struct buf *t = &q->text, where;
    char cond[NFILTERS][160];
    int after_tier = after != NULL ? atoi(after->pref) : -1;
    int lang = 0, pl1, pl, home, nb = 0;

    buf_init(&q->text);
    buf_init(&where);
    q->n = 0;
    sql_param(q, p->q); /* $1 */
    if (p->lang[0] != '\0')
        lang = sql_param(q, p->lang);
    pl1 = sql_param(q, limit1);
    where_common(q, p, &where);
    filters(q, p, cond);
    for (int i = 0; i < NFILTERS; i++)
        if (strcmp(cond[i], "true") != 0)
            buf_printf(&where, " AND %s", cond[i]);
    buf_puts(t, "WITH page AS (SELECT * FROM (");
    for (int pref = lang > 0 ? 1 : 0; pref >= 0; pref--) {
        struct branch b[TIERS_PER_PREF];
        int n = branches(p, pref, b);
        for (int i = 0; i < n; i++) {
            if (after != NULL && b[i].tier > after_tier)
                continue; /* shown on earlier pages */
            if (nb++ > 0)
                buf_puts(t, " UNION ALL ");
            sql_branch(q, &b[i], where.data, pref, lang, after, after_tier, pl1);
        }
    }
    if (nb == 0) /* a cursor in no tier this search has: nothing after it */
        buf_puts(t, "SELECT NULL::uuid, NULL::text, 0, NULL::text WHERE false");
    buf_cleanup(&where);
    pl = sql_param(q, limit);
    home = sql_param(q, p->home[0] != '\0' ? p->home : NULL);
    buf_printf(t,
               ") x LIMIT $%d::int), "
               "pg AS (SELECT *, row_number() OVER () AS rn FROM page) ",
               pl1);
    buf_printf(t,
               "SELECT (SELECT coalesce(jsonb_agg(offers_api_json(p.id, $%d) ORDER BY p.rn), "
               "'[]') FROM pg p WHERE p.rn <= $%d::int)::text, "
               "(SELECT count(*) FROM pg) > $%d::int, "
               "(SELECT p.pref || '|' || p.id || '|' || p.skey FROM pg p "
               "WHERE p.rn = $%d::int), "
               "(SELECT string_agg(p.id::text || p.institution_id, E'\\n' ORDER BY p.rn) "
               "FROM pg p WHERE p.rn <= $%d::int)",
               home, pl, pl, pl, pl);
}

static void facet(struct buf *b, const char *name, const char *expr, const char *from, int except)
{
    buf_printf(b,
               "'%s', (SELECT coalesce(jsonb_object_agg(k, c), '{}') FROM (SELECT %s AS k, "
               "count(*) AS c FROM %s WHERE true",
               name, expr, from);
    for (int i = 0; i < NFILTERS; i++)
        if (i != except)
            buf_printf(b, " AND %s", flag_name[i]);
    buf_printf(b, " GROUP BY 1 HAVING %s IS NOT NULL) f)", expr);
}

/*
 * The total and the facets, each facet counted with every filter but its own:
 * columns total, facets (JSON text). Its cost grows with the matches, so its
 * answer is kept per catalogue version (struct facet_slot).
 */
static void sql_facets(struct sql *q, const struct search_params *p)
{
    struct buf *t = &q->text;
    char cond[NFILTERS][160];

    sql_begin(q, p);
    buf_puts(t, "m AS (SELECT o.eqf, o.languages, o.isced_codes, o.mode, o.institution_id, "
                "o.ects_band");
    filters(q, p, cond);
    for (int i = 0; i < NFILTERS; i++)
        buf_printf(t, ", %s AS %s", cond[i], flag_name[i]);
    buf_puts(t, " FROM offers o");
    if (p->q != NULL)
        buf_puts(t, " JOIN cand c ON c.id = o.id");
    where_common(q, p, t);
    buf_puts(t, ") SELECT (SELECT count(*) FROM m WHERE true");
    for (int i = 0; i < NFILTERS; i++)
        buf_printf(t, " AND %s", flag_name[i]);
    buf_puts(t, "), jsonb_build_object(");
    facet(t, "eqf", "eqf::text", "m", 0);
    buf_puts(t, ", ");
    facet(t, "language", "l", "m, unnest(m.languages) l", 1);
    buf_puts(t, ", ");
    facet(t, "isced", "CASE WHEN length(c) = 2 THEN c END", "m, unnest(m.isced_codes) c",
          2); /* broad fields */
    buf_puts(t, ", ");
    facet(t, "mode", "mode", "m", 3);
    buf_puts(t, ", ");
    facet(t, "institution", "institution_id", "m", 4);
    buf_puts(t, ", ");
    facet(t, "ects", "ects_band", "m", 5);
    buf_puts(t, ")::text");
}

/* ---- the facet cache ---- */

/* Answers of sql_facets, per (parameters, catalogue version); direct-mapped. */
#define FACET_SLOTS 512

struct facet_slot {
    char key[33];
    long long version;
    char *total;
    char *facets;
};

static struct facet_slot *facet_slot(struct search *s, const char *key)
{
    return &s->facets[strtoul(key + 24, NULL, 16) % FACET_SLOTS];
}

/* ---- the request ---- */

struct sreq {
    struct search *s;
    struct http_request *req;
    struct search_params p;
    struct keyset after;
    bool has_after;
    char params_hash[33];
    char facet_key[33];
    char etag[40];
    char limit[24], limit1[24];
    long long version;      /* of the catalogue when the statements were sent */
    struct db_op *op, *fop; /* the page; the facets (NULL when cached) */
    struct db_result *page; /* the page (kept while the facets run) */
    bool page_kept;
    char *total, *facets; /* the facet statement's answer, or the cache's */
    struct db_error err;  /* the first failure */
    bool failed;
    bool sql_only; /* /debug/search-sql: answer with the statements, do not run them */
};

static void sreq_free(struct sreq *r)
{
    search_params_cleanup(&r->p);
    free(r->after.key);
    if (r->page_kept)
        db_result_free(r->page);
    free(r->total);
    free(r->facets);
    free(r);
}

static void sreq_cancel(void *data)
{
    struct sreq *r = data;

    db_op_cancel(r->op);
    db_op_cancel(r->fop);
    sreq_free(r);
}

static struct http_request *sreq_detach(struct sreq *r)
{
    struct http_request *req = r->req;

    http_request_on_cancel(req, NULL, NULL);
    r->req = NULL;
    return req;
}

static void etag_compute(const struct search *s, struct sreq *r)
{
    struct buf b;

    buf_init(&b);
    buf_printf(&b, "%lld\n%s%s\n%ld", s->version, r->p.canon.data, r->p.cursor ? r->p.cursor : "",
               r->p.limit);
    char digest[33];
    sha256_hex16(b.data, b.len, digest);
    snprintf(r->etag, sizeof(r->etag), "\"%s\"", digest);
    buf_cleanup(&b);
}

static bool etag_matches(const char *header, const char *etag)
{
    size_t n = strlen(etag);

    if (header == NULL)
        return false;
    for (const char *p = strstr(header, etag); p != NULL; p = strstr(p + 1, etag))
        if ((p == header || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') &&
            (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return true;
    return strcmp(header, "*") == 0;
}

/* Both statements are in (or failed): the one reply. */
static void sreq_reply(struct sreq *r)
{
    struct http_request *req = sreq_detach(r);
    struct db_result *res = r->page;
    char visitor[EVENTS_VISITOR_SIZE];
    struct buf b;

    if (r->failed && r->err.kind == DB_ERR_QUERY && strncmp(r->err.sqlstate, "22", 2) == 0) {
        http_reply_error(req, 400, "invalid_parameter", "a parameter was refused: %s",
                         r->err.message);
    } else if (r->failed) {
        ops_reply_db_error(req, &r->err);
    } else {
        const char *more = db_result_value(res, 0, 1);
        const char *last = db_result_value(res, 0, 2);
        char *next = NULL;
        if (more != NULL && strcmp(more, "t") == 0 && last != NULL)
            next = cursor_make(r->s, r->params_hash, last);
        buf_init(&b);
        buf_printf(&b, "{\"items\":%s,\"facets\":%s,\"next_cursor\":", db_result_value(res, 0, 0),
                   r->facets);
        if (next != NULL)
            buf_printf(&b, "\"%s\"", next);
        else
            buf_puts(&b, "null");
        buf_printf(&b, ",\"total\":%s}", r->total);
        free(next);
        if (r->etag[0] != '\0')
            http_response_header(req, "ETag", r->etag);
        /* a reply that sets the visitor cookie is for this client alone */
        http_response_header(req, "Cache-Control",
                             events_visitor(r->s->app->events, req, visitor) ? "private, no-cache"
                                                                             : "no-cache");
        events_search(r->s->app->events, req, visitor, &r->p, r->total, db_result_value(res, 0, 3));
        http_reply_json(req, 200, &b);
    }
    sreq_free(r);
}

static void sreq_failed(struct sreq *r, const struct db_error *err)
{
    if (!r->failed) {
        r->failed = true;
        r->err = *err;
    }
}

static void page_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct sreq *r = arg;

    r->op = NULL;
    if (err != NULL)
        sreq_failed(r, err);
    r->page = res;
    if (r->fop == NULL) {
        sreq_reply(r); /* res is the pool's to free, after this returns */
        return;
    }
    if (res != NULL) {
        db_result_keep(res); /* until the facets are in */
        r->page_kept = true;
    }
}

static void facets_done(struct db_result *res, const struct db_error *err, void *arg)
{
    struct sreq *r = arg;
    struct search *s = r->s;

    r->fop = NULL;
    if (err != NULL) {
        sreq_failed(r, err);
    } else {
        r->total = xstrdup(db_result_value(res, 0, 0));
        r->facets = xstrdup(db_result_value(res, 0, 1));
        if (s->fresh && r->version == s->version) { /* still the current catalogue */
            struct facet_slot *slot = facet_slot(s, r->facet_key);
            free(slot->total);
            free(slot->facets);
            memcpy(slot->key, r->facet_key, sizeof(slot->key));
            slot->version = r->version;
            slot->total = xstrdup(r->total);
            slot->facets = xstrdup(r->facets);
        }
    }
    if (r->op == NULL)
        sreq_reply(r);
}

/*
 * The statements with each $n replaced by its value as an SQL literal (NULL, or
 * quoted with '' doubled: the values were checked, and standard_conforming_strings
 * is on), for script/bench to run the very same SQL with pgbench.
 */
static void sql_literal(const struct sql *q, struct buf *out)
{
    const char *p = q->text.data;

    while (*p != '\0') {
        if (*p == '$' && p[1] >= '1' && p[1] <= '9') {
            int n = 0;
            for (p++; *p >= '0' && *p <= '9'; p++)
                n = n * 10 + (*p - '0');
            const char *v = n >= 1 && n <= q->n ? q->params[n - 1] : NULL;
            if (v == NULL) {
                buf_puts(out, "NULL");
                continue;
            }
            buf_putc(out, '\'');
            for (; *v != '\0'; v++) {
                if (*v == '\'')
                    buf_putc(out, '\'');
                buf_putc(out, *v);
            }
            buf_putc(out, '\'');
            continue;
        }
        buf_putc(out, *p++);
    }
    buf_puts(out, ";\n");
}

/* The facets do not depend on the order, the language preference or the page. */
static void facet_key_compute(struct sreq *r)
{
    const struct search_params *p = &r->p;
    struct buf key;

    buf_init(&key);
    buf_printf(&key, "%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s", p->q ? p->q : "\x01",
               p->language ? p->language : "", p->isced ? p->isced : "", p->eqf ? p->eqf : "",
               p->mode ? p->mode : "", p->institution ? p->institution : "",
               p->ects_min ? p->ects_min : "", p->ects_max ? p->ects_max : "", p->starts_after,
               p->starts_before, p->recognised_by);
    sha256_hex16(key.data, key.len, r->facet_key);
    buf_cleanup(&key);
}

/* Runs the search once the version and secret are known. */
static void sreq_run(struct sreq *r)
{
    struct search *s = r->s;
    struct facet_slot *slot;
    struct sql page, fac;

    sha256_hex16(r->p.canon.data, r->p.canon.len, r->params_hash);
    if (r->p.cursor != NULL) {
        if (cursor_read(s, r->p.cursor, r->params_hash, &r->after) != 0) {
            struct http_request *req = sreq_detach(r);
            http_reply_error(req, 400, "invalid_parameter",
                             "cursor is not one this search gave (was it changed, or are the "
                             "other parameters different?)");
            sreq_free(r);
            return;
        }
        r->has_after = true;
    }
    r->etag[0] = '\0';
    /* the version is current only while the listener is up (a silent break is
     * noticed by its keepalive within 40 s) */
    if (!db_listener_connected(s->app->listener))
        s->fresh = false;
    if (s->fresh) {
        etag_compute(s, r);
        if (etag_matches(http_request_header(r->req, "If-None-Match"), r->etag)) {
            struct http_request *req = sreq_detach(r);
            char visitor[EVENTS_VISITOR_SIZE];
            http_response_header(req, "ETag", r->etag);
            if (events_visitor(s->app->events, req, visitor)) /* not counted: a repeat */
                http_response_header(req, "Cache-Control", "private, no-cache");
            http_reply(req, 304, NULL, NULL, 0);
            sreq_free(r);
            return;
        }
    }
    snprintf(r->limit, sizeof(r->limit), "%ld", r->p.limit);
    snprintf(r->limit1, sizeof(r->limit1), "%ld", r->p.limit + 1);
    sql_page(&page, &r->p, r->has_after ? &r->after : NULL, r->limit, r->limit1);
    if (r->sql_only) {
        struct buf out;
        buf_init(&out);
        sql_literal(&page, &out);
        buf_puts(&out, "-- facets (run when not cached)\n");
        sql_facets(&fac, &r->p);
        sql_literal(&fac, &out);
        http_reply_buf(sreq_detach(r), 200, "text/plain; charset=utf-8", &out);
        buf_cleanup(&page.text);
        buf_cleanup(&fac.text);
        sreq_free(r);
        return;
    }
    facet_key_compute(r);
    r->version = s->version;
    slot = facet_slot(s, r->facet_key);
    if (s->fresh && slot->total != NULL && slot->version == s->version &&
        strcmp(slot->key, r->facet_key) == 0) {
        r->total = xstrdup(slot->total);
        r->facets = xstrdup(slot->facets);
    } else { /* built only when it runs: a cached search costs the page alone */
        sql_facets(&fac, &r->p);
        r->fop = db_query(s->app->pool, fac.text.data, fac.n, fac.params, facets_done, r);
        buf_cleanup(&fac.text);
    }
    r->op = db_query(s->app->pool, page.text.data, page.n, page.params, page_done, r);
    buf_cleanup(&page.text);
}

/* ---- the catalogue state ---- */

static const char state_sql[] = "SELECT version, cursor_secret FROM catalogue_state";

static void state_read(struct db_result *res, const struct db_error *err, void *arg)
{
    struct sreq *r = arg;
    struct search *s = r != NULL ? r->s : NULL;

    if (r != NULL)
        r->op = NULL;
    if (err == NULL && db_result_rows(res) == 1) {
        long long v = atoll(db_result_value(res, 0, 0));
        if (s != NULL) {
            if (!s->loaded || v > s->version)
                s->version = v;
            mcx_strlcpy(s->secret, db_result_value(res, 0, 1), sizeof(s->secret));
            s->loaded = true;
        }
    }
    if (r == NULL)
        return;
    if (!s->loaded) {
        struct http_request *req = sreq_detach(r);
        if (err != NULL)
            ops_reply_db_error(req, err);
        else
            http_reply_error(req, 500, "internal", "the catalogue state is missing: migrate");
        sreq_free(r);
        return;
    }
    sreq_run(r);
}

static void refreshed(struct db_result *res, const struct db_error *err, void *arg)
{
    struct search *s = arg;

    s->state = NULL;
    if (err != NULL || db_result_rows(res) != 1)
        return; /* still not fresh: no 304 until the next reconnect reads it */
    s->version = atoll(db_result_value(res, 0, 0));
    mcx_strlcpy(s->secret, db_result_value(res, 0, 1), sizeof(s->secret));
    s->loaded = true;
    s->fresh = true;
}

void search_catalogue_changed(struct search *s, const char *payload)
{
    if (s == NULL)
        return;
    if (payload == NULL) {
        s->fresh = false;
        db_op_cancel(s->state);
        s->state = db_query(s->app->pool, state_sql, 0, NULL, refreshed, s);
        return;
    }
    long long v = atoll(payload);
    if (v > s->version)
        s->version = v;
}

static void search_start(struct http_request *req, struct search *s, bool sql_only)
{
    struct sreq *r;
    struct mcx_error err;

    r = xcalloc(1, sizeof(*r));
    r->sql_only = sql_only;
    if (search_params_parse(http_request_query_string(req),
                            http_request_header(req, "Accept-Language"), &r->p, &err) != 0) {
        http_reply_error(req, 400, err.code, "%s", err.message);
        free(r);
        return;
    }
    r->s = s;
    r->req = req;
    http_request_on_cancel(req, sreq_cancel, r);
    if (!s->loaded) {
        r->op = db_query(s->app->pool, state_sql, 0, NULL, state_read, r);
        return;
    }
    sreq_run(r);
}

static void handle_search(struct http_request *req, void *arg)
{
    search_start(req, arg, false);
}

static void handle_search_sql(struct http_request *req, void *arg)
{
    search_start(req, arg, true);
}

struct search *search_new(struct mcxd *app)
{
    struct search *s = xcalloc(1, sizeof(*s));

    s->app = app;
    s->facets = xcalloc(FACET_SLOTS, sizeof(*s->facets));
    return s;
}

void search_free(struct search *s)
{
    if (s == NULL)
        return;
    db_op_cancel(s->state);
    for (size_t i = 0; i < FACET_SLOTS; i++) {
        free(s->facets[i].total);
        free(s->facets[i].facets);
    }
    free(s->facets);
    free(s);
}

void search_routes_add(struct mcxd *app, struct search *s)
{
    router_add(app->router, HTTP_GET, "/api/v1/offers", handle_search, s, 0);
    if (app->cfg->debug_endpoints) /* benchmarks only: shows the SQL a search runs */
        router_add(app->router, HTTP_GET, "/debug/search-sql", handle_search_sql, s, 0);
}

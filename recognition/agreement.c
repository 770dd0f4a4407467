/*
 * agreement.c — agreement body → validated rules-engine view → canonical JSON →
 * SHA-256. The canonical text is written from the engine's view alone, so what the
 * parties approve is exactly what the engine will apply, and nothing else.
 */
#include "recognition/agreement.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "server/json.h"

#define PATH_SIZE 256   /* = sizeof(((struct mcx_error *)0)->path) */
#define PATH_KEY_MAX 40 /* bytes of a user's key shown in a path */

/* Amounts are kept in hundredths: ECTS and percentages need two decimals (2.5
 * ECTS, 12.25 %), and integers compare and print without binary rounding. */
#define CENTI_LIMIT 1000000000000000LL

static const char *const top_fields[] = {
    "title", "parties", "valid_from", "valid_until", "scope", "rules", "grade_conversion", NULL,
};
/* What a GET adds: a client editing what it read may send them back unchanged. */
static const char *const echo_fields[] = {
    "id",         "hash",          "status",  "approvals", "created_at",
    "updated_at", "terminated_on", "version", NULL,
};
static const char *const scope_fields[] = {
    "isced", "eqf_min", "eqf_max", "ects_min", "modes", "requires_qa", NULL,
};
static const char *const elective_fields[] = {"recognise_as", "max_credits_per_term", NULL};
static const char *const course_fields[] = {
    "recognise_as", "offer_id", "home_course", "credits", NULL,
};
static const char *const map_fields[] = {"method", "map", NULL};
static const char *const table_fields[] = {"method", "tables", NULL};
static const char *const row_fields[] = {"grade", "percent", NULL};

/* Sorted bytewise: the canonical order of scope.modes. */
static const char *const mode_names[] = {"blended", "online", "onsite"};

#define PARTIES_WHAT "an array of 2 to 50 distinct institution ids"
#define PARTY_WHAT                                                                                 \
    "an institution id: lowercase letters, digits, '.' and '-', starting with a letter or "        \
    "digit, at most 127 characters"
#define DATE_WHAT "a real calendar date YYYY-MM-DD"
#define CREDITS_WHAT "a number above 0 and at most 300, with at most 2 decimals"
#define GRADE_WHAT "a grade: 1 to 32 bytes without control characters or surrounding spaces"

/* ---- errors and paths ---- */

static int invalid(struct mcx_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* -1 with "PATH: what" (the root is called "body"). */
static int invalid(struct mcx_error *err, const char *path, const char *fmt, ...)
{
    char what[400];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    mcx_error_set(err, "invalid_agreement", "%s: %s", *path != '\0' ? path : "body", what);
    if (err != NULL)
        mcx_strlcpy(err->path, path, sizeof(err->path));
    return -1;
}

static void path_append(char *out, const char *s, size_t n)
{
    size_t len = strlen(out);

    if (n > PATH_SIZE - 1 - len)
        n = PATH_SIZE - 1 - len;
    memcpy(out + len, s, n);
    out[len + n] = '\0';
}

static void path_puts(char *out, const char *s)
{
    path_append(out, s, strlen(s));
}

/* parent.name, for a field name that is ours. */
static void path_field(char out[PATH_SIZE], const char *parent, const char *name)
{
    out[0] = '\0';
    path_puts(out, parent);
    if (*parent != '\0')
        path_puts(out, ".");
    path_puts(out, name);
}

static void path_index(char out[PATH_SIZE], const char *parent, size_t i)
{
    char n[32];

    snprintf(n, sizeof(n), "[%zu]", i);
    out[0] = '\0';
    path_puts(out, parent);
    path_puts(out, n);
}

/* parent["key"]: the key is the user's, so it is escaped and cut short. */
static void path_key(char out[PATH_SIZE], const char *parent, const char *key, size_t len)
{
    size_t cut = len;
    struct buf b;

    if (cut > PATH_KEY_MAX) {
        cut = PATH_KEY_MAX;
        while (cut > 0 && ((unsigned char)key[cut] & 0xc0) == 0x80)
            cut--; /* not inside a UTF-8 sequence */
    }
    buf_init(&b);
    json_escape(&b, key, cut);
    out[0] = '\0';
    path_puts(out, parent);
    path_puts(out, "[");
    if (cut < len) {
        path_append(out, b.data, b.len - 1); /* without the closing quote */
        path_puts(out, "…\"");
    } else {
        path_append(out, b.data, b.len);
    }
    path_puts(out, "]");
    buf_cleanup(&b);
}

/* A field's path: parent.key when the key looks like a field name, else parent["key"]. */
static void path_member(char out[PATH_SIZE], const char *parent, const char *key, size_t len)
{
    bool plain = len >= 1 && len <= PATH_KEY_MAX;

    for (size_t i = 0; i < len && plain; i++)
        plain = (key[i] >= 'a' && key[i] <= 'z') || (key[i] >= 'A' && key[i] <= 'Z') ||
                (key[i] >= '0' && key[i] <= '9') || key[i] == '_';
    if (plain)
        path_field(out, parent, key);
    else
        path_key(out, parent, key, len);
}

/* ---- object shape ---- */

static bool name_in(const char *const *names, const char *key, size_t len)
{
    for (; names != NULL && *names != NULL; names++)
        if (strlen(*names) == len && memcmp(*names, key, len) == 0)
            return true;
    return false;
}

/* Refuses a member not in known (nor in ignored), naming the fields allowed there. */
static int check_fields(const struct json_value *o, const char *path, const char *const *known,
                        const char *const *ignored, const char *what, struct mcx_error *err)
{
    for (size_t i = 0; i < o->u.object.n; i++) {
        const struct json_member *m = &o->u.object.members[i];
        char p[PATH_SIZE], list[200] = "";

        if (name_in(known, m->key, m->keylen) || name_in(ignored, m->key, m->keylen))
            continue;
        for (const char *const *k = known; *k != NULL; k++) {
            if (k != known)
                mcx_strlcpy(list + strlen(list), ", ", sizeof(list) - strlen(list));
            mcx_strlcpy(list + strlen(list), *k, sizeof(list) - strlen(list));
        }
        path_member(p, path, m->key, m->keylen);
        return invalid(err, p, "%s (%s)", what, list);
    }
    return 0;
}

/* Absent and null both mean "not given" for an optional field. */
static bool is_absent(const struct json_value *v)
{
    return v == NULL || json_is_null(v);
}

/* ---- scalar checks ---- */

/*
 * 1..max bytes without control characters (C0, DEL, C1): they are invisible where
 * a registrar reads the agreement, yet would change its hash. UTF-8 validity is
 * json_parse's job.
 */
static bool text_is_valid(const char *s, size_t len, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;

    if (len < 1 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return false;
        if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
            return false;
    }
    return true;
}

/* The engine compares grades without surrounding spaces, so " A" and "A" would be
 * two keys for one grade: refused rather than silently merged. */
static bool grade_is_valid(const char *s, size_t len)
{
    return text_is_valid(s, len, REC_AGREEMENT_MAX_GRADE) && s[0] != ' ' && s[len - 1] != ' ';
}

static const char *text_of(const struct json_value *v, size_t max)
{
    size_t len;
    const char *s = json_string_value(v, &len);

    return s != NULL && text_is_valid(s, len, max) ? s : NULL;
}

/* The rule of `mcx institution add` (server/cli.c), so every party can exist. */
static bool party_is_valid(const char *s, size_t len)
{
    if (len < 1 || len > 127 || strlen(s) != len)
        return false;
    if (strchr("abcdefghijklmnopqrstuvwxyz0123456789", s[0]) == NULL)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-") == len;
}

static bool is_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static int digits_value(const char *s, size_t n)
{
    int v = 0;

    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

/* YYYY-MM-DD naming a day of the proleptic Gregorian calendar (ISO 8601). */
static bool date_is_valid(const char *s, size_t len)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, d, max;

    if (len != 10 || strlen(s) != len || s[4] != '-' || s[7] != '-' || !is_digits(s, 4) ||
        !is_digits(s + 5, 2) || !is_digits(s + 8, 2))
        return false;
    y = digits_value(s, 4);
    m = digits_value(s + 5, 2);
    d = digits_value(s + 8, 2);
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    max = mdays[m - 1];
    if (m == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))
        max = 29;
    return d <= max;
}

static const char *date_of(const struct json_value *v)
{
    size_t len;
    const char *s = json_string_value(v, &len);

    return s != NULL && date_is_valid(s, len) ? s : NULL;
}

/* The canonical text form 8-4-4-4-12 in lowercase: one offer, one spelling. */
static bool uuid_is_valid(const char *s, size_t len)
{
    if (len != 36 || strlen(s) != len)
        return false;
    for (size_t i = 0; i < len; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        bool hex = (s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f');
        if (dash ? s[i] != '-' : !hex)
            return false;
    }
    return true;
}

/*
 * A JSON number's text (RFC 8259 §6 grammar, as json_parse guarantees) as an
 * exact count of hundredths: 0, or -1 when it has more than two decimals or its
 * magnitude passes CENTI_LIMIT. Decimal arithmetic, not strtod: 0.29 must be 29,
 * not 28.999…, and "1e999999999" must not take a billion steps.
 */
static int centi_parse(const char *s, int64_t *out)
{
    int64_t m = 0;       /* significant digits, without trailing zeros */
    long long e = 0;     /* value = m * 10^e */
    long long zeros = 0; /* zeros seen after m's last non-zero digit */
    bool neg = *s == '-', frac = false;

    if (neg)
        s++;
    for (; (*s >= '0' && *s <= '9') || *s == '.'; s++) {
        if (*s == '.') {
            frac = true;
            continue;
        }
        if (frac)
            e--;
        if (*s == '0') {
            zeros += m != 0;
            continue;
        }
        for (; zeros > 0; zeros--) {
            if (m > CENTI_LIMIT / 10)
                return -1;
            m *= 10;
        }
        if (m > CENTI_LIMIT / 10)
            return -1;
        m = m * 10 + (*s - '0');
    }
    e += zeros;
    if (*s == 'e' || *s == 'E') {
        bool eneg = s[1] == '-';
        long long x = 0;

        s += s[1] == '-' || s[1] == '+' ? 2 : 1;
        for (; *s >= '0' && *s <= '9'; s++)
            if (x < 1000000000LL)
                x = x * 10 + (*s - '0');
        e += eneg ? -x : x;
    }
    if (*s != '\0')
        return -1;
    if (m == 0) {
        *out = 0;
        return 0;
    }
    if (e + 2 < 0)
        return -1; /* m ends in a non-zero digit: more than two decimals */
    for (long long k = 0; k < e + 2; k++) {
        if (m > CENTI_LIMIT / 10)
            return -1;
        m *= 10;
    }
    *out = neg ? -m : m;
    return 0;
}

/* v in hundredths when it is a number in [lo, hi] (lo excluded when lo_open). */
static bool centi_of(const struct json_value *v, int64_t lo, int64_t hi, bool lo_open, int64_t *out)
{
    const char *text = json_number_text(v);
    int64_t c;

    if (text == NULL || centi_parse(text, &c) < 0)
        return false;
    if (c < lo || c > hi || (lo_open && c == lo))
        return false;
    *out = c;
    return true;
}

static int strp_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* ---- top-level fields ---- */

static int parse_title(struct rec_agreement_doc *d, const struct json_value *root,
                       struct mcx_error *err)
{
    const struct json_value *v = json_object_get(root, "title");

    d->ag.title = text_of(v, REC_AGREEMENT_MAX_TITLE);
    if (d->ag.title == NULL)
        return invalid(err, "title", "%sa string of 1 to 300 bytes without control characters",
                       v == NULL ? "required, " : "");
    return 0;
}

static int parse_parties(struct rec_agreement_doc *d, const struct json_value *root,
                         struct mcx_error *err)
{
    const struct json_value *v = json_object_get(root, "parties");
    size_t n = json_array_len(v);
    char p[PATH_SIZE];

    if (!json_is_array(v))
        return invalid(err, "parties", "%s" PARTIES_WHAT, v == NULL ? "required, " : "");
    if (n > REC_AGREEMENT_MAX_PARTIES)
        return invalid(err, "parties", "at most 50 institution ids");
    d->parties = xcalloc(n + 1, sizeof(*d->parties));
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = json_string_value(json_array_at(v, i), &len);

        path_index(p, "parties", i);
        if (s == NULL || !party_is_valid(s, len))
            return invalid(err, p, PARTY_WHAT);
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->parties[j], s) == 0)
                return invalid(err, p, "listed twice (also parties[%zu])", j);
        d->parties[i] = s;
    }
    if (n < 2)
        return invalid(err, "parties", "at least two distinct institution ids");
    qsort(d->parties, n, sizeof(*d->parties), strp_cmp);
    d->ag.parties = d->parties;
    d->ag.nparties = n;
    return 0;
}

static bool is_party(const struct rec_agreement_doc *d, const char *s, size_t len)
{
    if (strlen(s) != len)
        return false;
    return bsearch(&s, d->parties, d->ag.nparties, sizeof(*d->parties), strp_cmp) != NULL;
}

static int parse_dates(struct rec_agreement_doc *d, const struct json_value *root,
                       struct mcx_error *err)
{
    const struct json_value *from = json_object_get(root, "valid_from");
    const struct json_value *until = json_object_get(root, "valid_until");

    d->ag.valid_from = date_of(from);
    if (d->ag.valid_from == NULL)
        return invalid(err, "valid_from", "%s" DATE_WHAT, from == NULL ? "required, " : "");
    if (is_absent(until))
        return 0; /* open-ended */
    d->ag.valid_until = date_of(until);
    if (d->ag.valid_until == NULL)
        return invalid(err, "valid_until", DATE_WHAT ", or null for an open-ended agreement");
    /* Same fixed width, so bytewise order is date order. */
    if (strcmp(d->ag.valid_until, d->ag.valid_from) < 0)
        return invalid(err, "valid_until", "a date on or after valid_from");
    return 0;
}

/* ---- scope ---- */

static bool isced_is_valid(const char *s, size_t len)
{
    return len >= 2 && len <= 4 && strlen(s) == len && is_digits(s, len);
}

/* Sorted, without repeats and without codes a broader listed code covers: after
 * sorting, a code's broader cover is always the last code kept. */
static size_t isced_normalise(const char **codes, size_t n)
{
    size_t kept = 0;

    qsort(codes, n, sizeof(*codes), strp_cmp);
    for (size_t i = 0; i < n; i++) {
        if (kept > 0 && rec_isced_covers(codes[kept - 1], codes[i]))
            continue;
        codes[kept++] = codes[i];
    }
    return kept;
}

static int parse_isced(struct rec_agreement_doc *d, const struct json_value *v,
                       struct mcx_error *err)
{
    size_t n = json_array_len(v);
    char p[PATH_SIZE];

    if (is_absent(v))
        return 0;
    if (!json_is_array(v) || n > REC_AGREEMENT_MAX_LIST)
        return invalid(err, "scope.isced", "an array of at most 100 ISCED-F codes");
    d->isced = xcalloc(n + 1, sizeof(*d->isced));
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *s = json_string_value(json_array_at(v, i), &len);

        path_index(p, "scope.isced", i);
        if (s == NULL || !isced_is_valid(s, len))
            return invalid(err, p, "an ISCED-F code of 2, 3 or 4 digits, such as \"0613\"");
        d->isced[i] = s;
    }
    d->ag.scope.isced = d->isced;
    d->ag.scope.nisced = isced_normalise(d->isced, n);
    return 0;
}

static int parse_eqf(const struct json_value *scope, const char *name, int *out,
                     struct mcx_error *err)
{
    const struct json_value *v = json_object_get(scope, name);
    char p[PATH_SIZE];
    int64_t c;

    *out = 0;
    if (is_absent(v))
        return 0;
    /* 6.0 is level 6, so integers are judged by value, not spelling */
    if (!centi_of(v, 100, 800, false, &c) || c % 100 != 0) {
        path_field(p, "scope", name);
        return invalid(err, p, "an integer from 1 to 8");
    }
    *out = (int)(c / 100);
    return 0;
}

static int parse_modes(struct rec_agreement_doc *d, const struct json_value *v,
                       struct mcx_error *err)
{
    size_t n = json_array_len(v), k = 0;
    bool seen[MCX_ARRAY_LEN(mode_names)] = {false};
    char p[PATH_SIZE];

    if (is_absent(v))
        return 0;
    if (!json_is_array(v) || n > REC_AGREEMENT_MAX_LIST)
        return invalid(err, "scope.modes", "an array of modes: online, blended, onsite");
    for (size_t i = 0; i < n; i++) {
        size_t len, j;
        const char *s = json_string_value(json_array_at(v, i), &len);

        for (j = 0; s != NULL && j < MCX_ARRAY_LEN(mode_names); j++)
            if (strlen(mode_names[j]) == len && memcmp(mode_names[j], s, len) == 0)
                break;
        path_index(p, "scope.modes", i);
        if (s == NULL || j == MCX_ARRAY_LEN(mode_names))
            return invalid(err, p, "one of online, blended, onsite");
        seen[j] = true;
    }
    d->modes = xcalloc(MCX_ARRAY_LEN(mode_names), sizeof(*d->modes));
    for (size_t j = 0; j < MCX_ARRAY_LEN(mode_names); j++)
        if (seen[j])
            d->modes[k++] = mode_names[j];
    d->ag.scope.modes = d->modes;
    d->ag.scope.nmodes = k;
    return 0;
}

static int parse_scope(struct rec_agreement_doc *d, const struct json_value *root,
                       struct mcx_error *err)
{
    const struct json_value *v = json_object_get(root, "scope"), *x;
    int64_t c;

    if (is_absent(v))
        return 0; /* no constraint at all */
    if (!json_is_object(v))
        return invalid(err, "scope", "an object, or null for no constraint");
    if (check_fields(v, "scope", scope_fields, NULL, "unknown field", err) < 0 ||
        parse_isced(d, json_object_get(v, "isced"), err) < 0 ||
        parse_eqf(v, "eqf_min", &d->ag.scope.eqf_min, err) < 0 ||
        parse_eqf(v, "eqf_max", &d->ag.scope.eqf_max, err) < 0)
        return -1;
    if (d->ag.scope.eqf_min > 0 && d->ag.scope.eqf_max > 0 &&
        d->ag.scope.eqf_min > d->ag.scope.eqf_max)
        return invalid(err, "scope.eqf_min", "at most scope.eqf_max (%d)", d->ag.scope.eqf_max);
    x = json_object_get(v, "ects_min");
    if (!is_absent(x)) {
        if (!centi_of(x, 0, 100 * REC_AGREEMENT_MAX_CREDITS, false, &c))
            return invalid(err, "scope.ects_min", "a number from 0 to 300 with at most 2 decimals");
        d->ag.scope.ects_min = (double)c / 100; /* 0: no minimum, as for the engine */
    }
    if (parse_modes(d, json_object_get(v, "modes"), err) < 0)
        return -1;
    x = json_object_get(v, "requires_qa");
    if (!is_absent(x) && !json_is_bool(x))
        return invalid(err, "scope.requires_qa", "true or false");
    d->ag.scope.requires_qa = json_bool_value(x);
    return 0;
}

/* ---- rules ---- */

/* An optional amount of credits in (0, 300]; 0 when absent, as the engine reads 0. */
static int parse_credits(const struct json_value *rule, const char *path, const char *name,
                         double *out, struct mcx_error *err)
{
    const struct json_value *v = json_object_get(rule, name);
    char p[PATH_SIZE];
    int64_t c;

    *out = 0;
    if (is_absent(v))
        return 0;
    if (!centi_of(v, 0, 100 * REC_AGREEMENT_MAX_CREDITS, true, &c)) {
        path_field(p, path, name);
        return invalid(err, p, CREDITS_WHAT);
    }
    *out = (double)c / 100;
    return 0;
}

static int parse_course(const struct json_value *v, const char *path, struct rec_rule *r,
                        struct mcx_error *err)
{
    const struct json_value *x;
    char p[PATH_SIZE];
    size_t len;

    if (check_fields(v, path, course_fields, NULL, "not a field of a course rule", err) < 0)
        return -1;
    r->as = REC_AS_COURSE;
    x = json_object_get(v, "offer_id");
    r->offer_id = json_string_value(x, &len);
    if (r->offer_id == NULL || !uuid_is_valid(r->offer_id, len)) {
        path_field(p, path, "offer_id");
        return invalid(err, p, "%sa UUID in lowercase 8-4-4-4-12 form (the offer's id)",
                       x == NULL ? "required, " : "");
    }
    x = json_object_get(v, "home_course");
    r->home_course = text_of(x, REC_AGREEMENT_MAX_COURSE);
    if (r->home_course == NULL) {
        path_field(p, path, "home_course");
        return invalid(err, p, "%sa string of 1 to 100 bytes without control characters",
                       x == NULL ? "required, " : "");
    }
    return parse_credits(v, path, "credits", &r->credits, err);
}

static int parse_rule(const struct json_value *v, const char *path, struct rec_rule *r,
                      struct mcx_error *err)
{
    const struct json_value *as;
    char p[PATH_SIZE];
    const char *s;
    size_t len = 0;

    if (!json_is_object(v))
        return invalid(err, path, "an object");
    as = json_object_get(v, "recognise_as");
    s = json_string_value(as, &len);
    if (s != NULL && len == 6 && strcmp(s, "course") == 0)
        return parse_course(v, path, r, err);
    if (s == NULL || len != 8 || strcmp(s, "elective") != 0) {
        path_field(p, path, "recognise_as");
        return invalid(err, p, "%s\"elective\" or \"course\"", as == NULL ? "required, " : "");
    }
    if (check_fields(v, path, elective_fields, NULL, "not a field of an elective rule", err) < 0)
        return -1;
    r->as = REC_AS_ELECTIVE;
    return parse_credits(v, path, "max_credits_per_term", &r->max_credits_per_term, err);
}

/* The engine applies the first elective rule and the first course rule of an
 * offer; a later one would never apply, so it is refused as the mistake it is. */
static int check_rule_unique(const struct rec_rule *rules, size_t i, struct mcx_error *err)
{
    char p[PATH_SIZE], q[PATH_SIZE];

    path_index(p, "rules", i);
    for (size_t j = 0; j < i; j++) {
        if (rules[i].as == REC_AS_ELECTIVE && rules[j].as == REC_AS_ELECTIVE)
            return invalid(err, p, "a second elective rule: only the first (rules[%zu]) applies",
                           j);
        if (rules[i].as == REC_AS_COURSE && rules[j].as == REC_AS_COURSE &&
            strcmp(rules[i].offer_id, rules[j].offer_id) == 0) {
            path_field(q, p, "offer_id");
            return invalid(err, q,
                           "a second course rule for this offer: only the first (rules[%zu]) "
                           "applies",
                           j);
        }
    }
    return 0;
}

static int parse_rules(struct rec_agreement_doc *d, const struct json_value *root,
                       struct mcx_error *err)
{
    const struct json_value *v = json_object_get(root, "rules");
    size_t n = json_array_len(v);
    char p[PATH_SIZE];

    if (!json_is_array(v) || n < 1 || n > REC_AGREEMENT_MAX_RULES)
        return invalid(err, "rules", "%san array of 1 to 50 rules", v == NULL ? "required, " : "");
    d->rules = xcalloc(n, sizeof(*d->rules));
    for (size_t i = 0; i < n; i++) {
        path_index(p, "rules", i);
        if (parse_rule(json_array_at(v, i), p, &d->rules[i], err) < 0 ||
            check_rule_unique(d->rules, i, err) < 0)
            return -1;
    }
    d->ag.rules = d->rules;
    d->ag.nrules = n;
    return 0;
}

/* ---- grade conversion ---- */

/* The parties object of a map or table: 1 member per listed party at most. */
static int check_party_object(const struct rec_agreement_doc *d, const struct json_value *v,
                              const char *path, const char *what, struct mcx_error *err)
{
    char p[PATH_SIZE];

    if (!json_is_object(v) || v->u.object.n < 1)
        return invalid(err, path, "%san object with %s for at least one party",
                       v == NULL ? "required, " : "", what);
    for (size_t i = 0; i < v->u.object.n; i++) {
        const struct json_member *m = &v->u.object.members[i];

        if (!is_party(d, m->key, m->keylen)) {
            path_key(p, path, m->key, m->keylen);
            return invalid(err, p, "not one of parties");
        }
    }
    return 0;
}

static int map_cmp(const void *a, const void *b)
{
    return strcmp(((const struct rec_grade_map *)a)->institution,
                  ((const struct rec_grade_map *)b)->institution);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct rec_grade_map_entry *)a)->from,
                  ((const struct rec_grade_map_entry *)b)->from);
}

static int table_cmp(const void *a, const void *b)
{
    return strcmp(((const struct rec_grade_table *)a)->institution,
                  ((const struct rec_grade_table *)b)->institution);
}

/* One party's map {GRADE: GRADE, …} into entries (sorted by its grade). */
static int parse_party_map(const struct json_value *v, const char *path,
                           struct rec_grade_map_entry *entries, struct mcx_error *err)
{
    char p[PATH_SIZE];

    for (size_t i = 0; i < v->u.object.n; i++) {
        const struct json_member *m = &v->u.object.members[i];
        size_t len;
        const char *to = json_string_value(m->value, &len);

        path_key(p, path, m->key, m->keylen);
        if (!grade_is_valid(m->key, m->keylen))
            return invalid(err, p, "the key must be " GRADE_WHAT);
        if (to == NULL || !grade_is_valid(to, len))
            return invalid(err, p, GRADE_WHAT);
        entries[i].from = m->key;
        entries[i].to = to;
    }
    qsort(entries, v->u.object.n, sizeof(*entries), entry_cmp);
    return 0;
}

static int parse_map(struct rec_agreement_doc *d, const struct json_value *g, struct mcx_error *err)
{
    const struct json_value *v = json_object_get(g, "map");
    size_t total = 0, at = 0;
    char p[PATH_SIZE];

    if (check_fields(g, "grade_conversion", map_fields, NULL, "not a field of a map conversion",
                     err) < 0 ||
        check_party_object(d, v, "grade_conversion.map", "a grade map", err) < 0)
        return -1;
    for (size_t i = 0; i < v->u.object.n; i++) {
        const struct json_member *m = &v->u.object.members[i];
        size_t n = json_object_len(m->value);

        path_key(p, "grade_conversion.map", m->key, m->keylen);
        if (!json_is_object(m->value) || n < 1 || n > REC_AGREEMENT_MAX_GRADES)
            return invalid(err, p, "an object of 1 to 100 grades, each to its converted grade");
        total += n;
    }
    d->maps = xcalloc(v->u.object.n, sizeof(*d->maps));
    d->entries = xcalloc(total, sizeof(*d->entries));
    for (size_t i = 0; i < v->u.object.n; i++) {
        const struct json_member *m = &v->u.object.members[i];
        struct rec_grade_map *map = &d->maps[i];

        path_key(p, "grade_conversion.map", m->key, m->keylen);
        if (parse_party_map(m->value, p, d->entries + at, err) < 0)
            return -1;
        map->institution = m->key;
        map->entries = d->entries + at;
        map->n = m->value->u.object.n;
        at += map->n;
    }
    qsort(d->maps, v->u.object.n, sizeof(*d->maps), map_cmp);
    d->ag.grades.method = REC_GRADES_MAP;
    d->ag.grades.maps = d->maps;
    d->ag.grades.nmaps = v->u.object.n;
    return 0;
}

static int parse_row(const struct json_value *row, const char *path, struct rec_grade_band *band,
                     int64_t *percent, struct mcx_error *err)
{
    const struct json_value *x;
    char p[PATH_SIZE];
    size_t len;

    if (!json_is_object(row))
        return invalid(err, path, "an object {\"grade\": …, \"percent\": …}");
    if (check_fields(row, path, row_fields, NULL, "unknown field", err) < 0)
        return -1;
    x = json_object_get(row, "grade");
    band->grade = json_string_value(x, &len);
    if (band->grade == NULL || !grade_is_valid(band->grade, len)) {
        path_field(p, path, "grade");
        return invalid(err, p, "%s" GRADE_WHAT, x == NULL ? "required, " : "");
    }
    x = json_object_get(row, "percent");
    if (!centi_of(x, 0, 10000, true, percent)) {
        path_field(p, path, "percent");
        return invalid(err, p,
                       "%sthe percentage of passing students with this grade: above 0, at most "
                       "100, with at most 2 decimals",
                       x == NULL ? "required, " : "");
    }
    band->percent = (double)*percent / 100;
    return 0;
}

/* One party's EGRACONS table: rows best grade first, distinct grades, 100 % ± 0.5
 * (published tables are rounded, so their sums drift a little). */
static int parse_party_table(const struct json_value *v, const char *path,
                             struct rec_grade_band *bands, struct mcx_error *err)
{
    int64_t sum = 0, percent = 0;
    char p[PATH_SIZE], q[PATH_SIZE];

    for (size_t i = 0; i < v->u.array.n; i++) {
        path_index(p, path, i);
        if (parse_row(v->u.array.items[i], p, &bands[i], &percent, err) < 0)
            return -1;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(bands[j].grade, bands[i].grade) == 0) {
                path_field(q, p, "grade");
                return invalid(err, q, "listed twice (also row [%zu])", j);
            }
        }
        sum += percent;
    }
    if (sum < 9950 || sum > 10050)
        return invalid(err, path, "percents summing to 100 (± 0.5), not %lld.%02lld",
                       (long long)(sum / 100), (long long)(sum % 100));
    return 0;
}

static int parse_tables(struct rec_agreement_doc *d, const struct json_value *g,
                        struct mcx_error *err)
{
    const struct json_value *v = json_object_get(g, "tables");
    size_t total = 0, at = 0;
    char p[PATH_SIZE];

    if (check_fields(g, "grade_conversion", table_fields, NULL, "not a field of a table conversion",
                     err) < 0 ||
        check_party_object(d, v, "grade_conversion.tables", "a grading table", err) < 0)
        return -1;
    for (size_t i = 0; i < v->u.object.n; i++) {
        const struct json_member *m = &v->u.object.members[i];
        size_t n = json_array_len(m->value);

        path_key(p, "grade_conversion.tables", m->key, m->keylen);
        if (!json_is_array(m->value) || n < 1 || n > REC_AGREEMENT_MAX_GRADES)
            return invalid(err, p, "an array of 1 to 100 rows, best grade first");
        total += n;
    }
    d->tables = xcalloc(v->u.object.n, sizeof(*d->tables));
    d->bands = xcalloc(total, sizeof(*d->bands));
    for (size_t i = 0; i < v->u.object.n; i++) {
        const struct json_member *m = &v->u.object.members[i];
        struct rec_grade_table *t = &d->tables[i];

        path_key(p, "grade_conversion.tables", m->key, m->keylen);
        if (parse_party_table(m->value, p, d->bands + at, err) < 0)
            return -1;
        t->institution = m->key;
        t->bands = d->bands + at;
        t->nbands = m->value->u.array.n;
        at += t->nbands;
    }
    qsort(d->tables, v->u.object.n, sizeof(*d->tables), table_cmp);
    d->ag.grades.method = REC_GRADES_TABLE;
    d->ag.grades.tables = d->tables;
    d->ag.grades.ntables = v->u.object.n;
    return 0;
}

static int parse_grades(struct rec_agreement_doc *d, const struct json_value *root,
                        struct mcx_error *err)
{
    const struct json_value *v = json_object_get(root, "grade_conversion"), *method;
    size_t len = 0;
    const char *s;

    d->ag.grades.method = REC_GRADES_NONE;
    if (is_absent(v))
        return 0;
    if (!json_is_object(v))
        return invalid(err, "grade_conversion", "an object, or null for no conversion");
    method = json_object_get(v, "method");
    s = json_string_value(method, &len);
    if (s != NULL && len == 3 && strcmp(s, "map") == 0)
        return parse_map(d, v, err);
    if (s != NULL && len == 5 && strcmp(s, "table") == 0)
        return parse_tables(d, v, err);
    return invalid(err, "grade_conversion.method", "%s\"map\" or \"table\"",
                   method == NULL ? "required, " : "");
}

/* ---- canonical form (agreement.h) ---- */

/* x has at most two decimals (the parser made sure): 15, 2.5, 0.25. */
static void write_number(struct json_writer *w, double x)
{
    long long c = llround(x * 100);
    char s[64];

    if (c % 100 == 0)
        snprintf(s, sizeof(s), "%lld", c / 100);
    else if (c % 10 == 0)
        snprintf(s, sizeof(s), "%lld.%lld", c / 100, c % 100 / 10);
    else
        snprintf(s, sizeof(s), "%lld.%02lld", c / 100, c % 100);
    json_raw(w, s, strlen(s));
}

/* An optional amount: the engine reads 0 as "none", so does the canonical form. */
static void write_amount(struct json_writer *w, const char *key, double x)
{
    json_key(w, key);
    if (x > 0)
        write_number(w, x);
    else
        json_null(w);
}

static void write_level(struct json_writer *w, const char *key, int level)
{
    json_key(w, key);
    if (level > 0)
        json_int(w, level);
    else
        json_null(w);
}

static void write_strings(struct json_writer *w, const char *key, const char *const *v, size_t n)
{
    json_key(w, key);
    json_array_begin(w);
    for (size_t i = 0; i < n; i++)
        json_string(w, v[i]);
    json_array_end(w);
}

static void write_rule(struct json_writer *w, const struct rec_rule *r)
{
    json_object_begin(w);
    if (r->as == REC_AS_ELECTIVE) {
        json_kv_string(w, "recognise_as", "elective");
        write_amount(w, "max_credits_per_term", r->max_credits_per_term);
    } else {
        json_kv_string(w, "recognise_as", "course");
        json_kv_string(w, "offer_id", r->offer_id);
        json_kv_string(w, "home_course", r->home_course);
        write_amount(w, "credits", r->credits);
    }
    json_object_end(w);
}

static void write_grades(struct json_writer *w, const struct rec_grade_conversion *g)
{
    json_key(w, "grade_conversion");
    if (g->method == REC_GRADES_NONE) {
        json_null(w);
        return;
    }
    json_object_begin(w);
    if (g->method == REC_GRADES_MAP) {
        json_kv_string(w, "method", "map");
        json_key(w, "map");
        json_object_begin(w);
        for (size_t i = 0; i < g->nmaps; i++) {
            json_key(w, g->maps[i].institution);
            json_object_begin(w);
            for (size_t j = 0; j < g->maps[i].n; j++)
                json_kv_string(w, g->maps[i].entries[j].from, g->maps[i].entries[j].to);
            json_object_end(w);
        }
    } else {
        json_kv_string(w, "method", "table");
        json_key(w, "tables");
        json_object_begin(w);
        for (size_t i = 0; i < g->ntables; i++) {
            json_key(w, g->tables[i].institution);
            json_array_begin(w);
            for (size_t j = 0; j < g->tables[i].nbands; j++) {
                json_object_begin(w);
                json_kv_string(w, "grade", g->tables[i].bands[j].grade);
                json_key(w, "percent");
                write_number(w, g->tables[i].bands[j].percent);
                json_object_end(w);
            }
            json_array_end(w);
        }
    }
    json_object_end(w);
    json_object_end(w);
}

static void canonical_write(const struct rec_agreement *a, struct buf *out)
{
    struct json_writer w;

    json_writer_init(&w, out);
    json_object_begin(&w);
    json_kv_string(&w, "title", a->title);
    write_strings(&w, "parties", a->parties, a->nparties);
    json_kv_string(&w, "valid_from", a->valid_from);
    json_kv_string(&w, "valid_until", a->valid_until); /* NULL: null */
    json_key(&w, "scope");
    json_object_begin(&w);
    write_strings(&w, "isced", a->scope.isced, a->scope.nisced);
    write_level(&w, "eqf_min", a->scope.eqf_min);
    write_level(&w, "eqf_max", a->scope.eqf_max);
    write_amount(&w, "ects_min", a->scope.ects_min);
    write_strings(&w, "modes", a->scope.modes, a->scope.nmodes);
    json_kv_bool(&w, "requires_qa", a->scope.requires_qa);
    json_object_end(&w);
    json_key(&w, "rules");
    json_array_begin(&w);
    for (size_t i = 0; i < a->nrules; i++)
        write_rule(&w, &a->rules[i]);
    json_array_end(&w);
    write_grades(&w, &a->grades);
    json_object_end(&w);
}

static void hash_hex(const struct buf *b, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    /* EVP_Digest fails only when OpenSSL cannot allocate: out of memory aborts. */
    if (EVP_Digest(b->data, b->len, md, &n, EVP_sha256(), NULL) != 1 || n != 32)
        abort();
    for (unsigned int i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* ---- entry points ---- */

static int agreement_build(struct rec_agreement_doc *d, struct mcx_error *err)
{
    const struct json_value *root = d->tree;

    if (!json_is_object(root))
        return invalid(err, "", "a JSON object");
    if (check_fields(root, "", top_fields, echo_fields, "unknown field", err) < 0 ||
        parse_title(d, root, err) < 0 || parse_parties(d, root, err) < 0 ||
        parse_dates(d, root, err) < 0 || parse_scope(d, root, err) < 0 ||
        parse_rules(d, root, err) < 0 || parse_grades(d, root, err) < 0)
        return -1;
    return 0;
}

int rec_agreement_parse(const char *json, size_t len, struct rec_agreement_doc *out,
                        struct mcx_error *err)
{
    memset(out, 0, sizeof(*out));
    buf_init(&out->canonical);
    if (len > REC_AGREEMENT_MAX_BYTES)
        return invalid(err, "", "at most %u bytes", REC_AGREEMENT_MAX_BYTES);
    out->tree = json_parse(json, len, REC_AGREEMENT_MAX_DEPTH, err);
    if (out->tree == NULL)
        return -1;
    if (agreement_build(out, err) < 0) {
        rec_agreement_doc_cleanup(out);
        return -1;
    }
    canonical_write(&out->ag, &out->canonical);
    hash_hex(&out->canonical, out->hash);
    return 0;
}

void rec_agreement_doc_cleanup(struct rec_agreement_doc *d)
{
    if (d == NULL)
        return;
    buf_cleanup(&d->canonical);
    json_value_free(d->tree);
    free(d->parties);
    free(d->isced);
    free(d->modes);
    free(d->rules);
    free(d->maps);
    free(d->entries);
    free(d->tables);
    free(d->bands);
    memset(d, 0, sizeof(*d));
}

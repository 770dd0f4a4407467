/*
 * moodle.c — a Moodle gradebook export read as Moodle writes it (moodle.h): PHP's
 * fputcsv output (grade/export/txt), the teacher's choice of separator, localised
 * decimal marks, "-" for no grade. The whole file is checked before a row is read;
 * then every row gets a status and, when it is not queued, one sentence saying why.
 */
#include "issuance/moodle.h"

#include <openssl/evp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Moodle's user table limits names and ID numbers to 100 and 255 characters; longer
 * cells are no learner's name. Letters and grades are short words. */
#define NAME_MAX_BYTES 255
#define GRADE_MAX_BYTES 64
/* RFC 5321 §4.5.3.1: 64 bytes of local part, 254 in all (the path's 256 less <>). */
#define EMAIL_LOCAL_MAX 64
#define EMAIL_MAX 254
/* How much of a cell a reason or an error message quotes. */
#define QUOTE_MAX 48

#define ELLIPSIS "\xE2\x80\xA6" /* U+2026, in clipped text */

static const char *const default_email[] = {"Email address", "E-mail address", "Email"};
static const char default_date[] = "Last downloaded from this course";
static const char course_total[] = "Course total";

/* Moodle's own headers (lang/en: moodle.php, grades.php, gradeexport_txt.php), used to
 * tell which separator splits the header line into them. */
static const char *const known_headers[] = {
    "First name", "Last name",     "Surname",        "ID number", "Institution",
    "Department", "Email address", "E-mail address", "Email",     default_date,
};

/* ---- UTF-8 and text ---- */

/* Length of the well-formed UTF-8 sequence at s[0..n), else 0 (RFC 3629 §4: no
 * overlong forms, no surrogates, nothing past U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t need;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 2;
    else if (c >= 0xe0 && c <= 0xef)
        need = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 4;
    else
        return 0;
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f) || (c == 0xf0 && s[1] < 0x90) ||
        (c == 0xf4 && s[1] > 0x8f))
        return 0;
    return need;
}

static bool is_control(unsigned char c)
{
    return c < 0x20 || c == 0x7f;
}

static bool has_control(const char *s)
{
    for (; *s != '\0'; s++)
        if (is_control((unsigned char)*s))
            return true;
    return false;
}

/*
 * Copies src[0..len) into dst[size] (size >= 4) in whole UTF-8 characters, control
 * characters as spaces, ending in an ellipsis when it had to cut: what a report or an
 * error message shows must stay valid UTF-8 on one line.
 */
static void text_clip(char *dst, size_t size, const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0;

    while (i < len) {
        size_t n = utf8_seq(s + i, len - i);
        if (n == 0) {
            n = 1; /* never for checked input; '?' keeps the output valid */
            if (o + 1 > size - 1)
                break;
            dst[o++] = '?';
        } else if (o + n > size - 1) {
            break;
        } else if (n == 1 && is_control(s[i])) {
            dst[o++] = ' ';
        } else {
            memcpy(dst + o, s + i, n);
            o += n;
        }
        i += n;
    }
    if (i < len) {
        while (o > 0 && o + strlen(ELLIPSIS) > size - 1) {
            o--;
            while (o > 0 && ((unsigned char)dst[o] & 0xc0) == 0x80)
                o--;
        }
        memcpy(dst + o, ELLIPSIS, strlen(ELLIPSIS));
        o += strlen(ELLIPSIS);
    }
    dst[o] = '\0';
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* s without leading and trailing white space: start in *out, length returned. */
static size_t trim(const char *s, size_t len, const char **out)
{
    while (len > 0 && is_blank(*s)) {
        s++;
        len--;
    }
    while (len > 0 && is_blank(s[len - 1]))
        len--;
    *out = s;
    return len;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* ASCII-only case folding: the C library's would depend on the locale. */
static bool eq_ci_n(const char *a, size_t alen, const char *b, size_t blen)
{
    if (alen != blen)
        return false;
    for (size_t i = 0; i < alen; i++)
        if (lower(a[i]) != lower(b[i]))
            return false;
    return true;
}

static bool eq_ci(const char *a, size_t alen, const char *b)
{
    return eq_ci_n(a, alen, b, strlen(b));
}

static bool starts_ci(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);

    return strlen(s) >= n && eq_ci(s, n, prefix);
}

static bool ends_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && eq_ci(s + n - m, m, suffix);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* ---- errors and reasons ---- */

static int fail(struct mcx_error *err, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* err "invalid_csv" with the sentence clipped whole-character to the message field. */
static int fail(struct mcx_error *err, size_t line, const char *fmt, ...)
{
    char msg[sizeof(err->message)];
    struct buf b;
    va_list ap;

    buf_init(&b);
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    text_clip(msg, sizeof(msg), b.data != NULL ? b.data : "", b.len);
    buf_cleanup(&b);
    mcx_error_set(err, "invalid_csv", "%s", msg);
    if (err != NULL)
        err->line = line > INT32_MAX ? INT32_MAX : (int)line;
    return -1;
}

static void reason_set(struct moodle_row *row, enum moodle_row_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void reason_set(struct moodle_row *row, enum moodle_row_status status, const char *fmt, ...)
{
    struct buf b;
    va_list ap;

    buf_init(&b);
    va_start(ap, fmt);
    buf_vprintf(&b, fmt, ap);
    va_end(ap);
    text_clip(row->reason, sizeof(row->reason), b.data != NULL ? b.data : "", b.len);
    buf_cleanup(&b);
    row->status = status;
}

/* A cell as a reason quotes it: short enough that the sentence around it fits. */
struct quoted {
    char s[QUOTE_MAX];
};

static struct quoted quote(const char *s)
{
    struct quoted q;

    text_clip(q.s, sizeof(q.s), s, strlen(s));
    return q;
}

/* ---- the whole input ---- */

/* A NUL byte or invalid UTF-8 anywhere refuses the file, naming the line: a file in
 * Windows-1252 (a spreadsheet's "CSV" on Windows) would otherwise issue mangled names. */
static int input_check(const char *s, size_t len, struct mcx_error *err)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t line = 1;

    for (size_t i = 0; i < len;) {
        size_t n;
        if (u[i] < 0x80) {
            if (u[i] == '\0')
                return fail(err, line, "line %zu holds a NUL byte: this is not a text file", line);
            if (u[i] == '\n')
                line++;
            i++;
            continue;
        }
        n = utf8_seq(u + i, len - i);
        if (n == 0)
            return fail(err, line,
                        "line %zu is not UTF-8 (byte 0x%02X): Moodle exports UTF-8; if a "
                        "spreadsheet saved the file, save it again as \"CSV UTF-8\"",
                        line, u[i]);
        i += n;
    }
    return 0;
}

/* ---- records (RFC 4180, as PHP's fputcsv writes them) ---- */

struct reader {
    const char *p, *end;
    char sep;
    size_t line;       /* physical line at p, 1-based */
    size_t start_line; /* where the last record began */
    struct buf text;   /* the record's cells, each NUL-terminated */
    size_t off[MOODLE_MAX_COLUMNS];
    size_t n;
};

static void reader_init(struct reader *r, const char *p, const char *end, char sep, size_t line)
{
    r->p = p;
    r->end = end;
    r->sep = sep;
    r->line = line;
    r->start_line = line;
    r->n = 0;
}

static const char *reader_cell(const struct reader *r, size_t i)
{
    return r->text.data + r->off[i];
}

static int cell_append(struct reader *r, const char *s, size_t n, struct mcx_error *err)
{
    size_t have = r->text.len - r->off[r->n];

    if (n > MOODLE_MAX_FIELD_BYTES - have)
        return fail(err, r->line, "line %zu holds a value longer than %u bytes", r->line,
                    MOODLE_MAX_FIELD_BYTES);
    buf_append(&r->text, s, n);
    return 0;
}

/* A run of an odd number of backslashes right before the quote: PHP's fputcsv (escape
 * character '\') writes a \" inside a value without doubling the quote. */
static bool quote_is_escaped(const struct reader *r)
{
    size_t start = r->off[r->n], i = r->text.len, k = 0;

    while (i > start && r->text.data[i - 1] == '\\') {
        i--;
        k++;
    }
    return k % 2 == 1;
}

static int read_quoted(struct reader *r, struct mcx_error *err)
{
    size_t open_line = r->line;

    r->p++;
    for (;;) {
        const char *q = memchr(r->p, '"', (size_t)(r->end - r->p));
        size_t chunk = (size_t)((q != NULL ? q : r->end) - r->p);

        if (cell_append(r, r->p, chunk, err) < 0)
            return -1;
        for (const char *nl = r->p; (nl = memchr(nl, '\n', (size_t)(r->p + chunk - nl))) != NULL;
             nl++)
            r->line++;
        r->p += chunk;
        if (q == NULL)
            return fail(err, open_line,
                        "the quoted value that opens on line %zu never closes (a \" too many "
                        "or too few)",
                        open_line);
        bool last = r->p + 1 == r->end;
        char next = last ? '\0' : r->p[1];
        if (quote_is_escaped(r)) {
            r->p++;
        } else if (next == '"') {
            r->p += 2;
        } else if (last || next == r->sep || next == '\n' || next == '\r') {
            r->p++;
            return 0;
        } else {
            return fail(err, r->line,
                        "line %zu: a \" inside the quoted value that opens on line %zu is "
                        "neither doubled nor the value's end",
                        r->line, open_line);
        }
        if (cell_append(r, "\"", 1, err) < 0)
            return -1;
    }
}

/* An unquoted cell runs to the separator or the line's end; a quote in it is text. */
static int read_plain(struct reader *r, struct mcx_error *err)
{
    const char *s = r->p;

    while (r->p < r->end && *r->p != r->sep && *r->p != '\n' && *r->p != '\r')
        r->p++;
    return cell_append(r, s, (size_t)(r->p - s), err);
}

/* 1: a record (r->n cells), 0: end of input, -1: the file is unusable (err). */
static int reader_next(struct reader *r, struct mcx_error *err)
{
    if (r->p >= r->end)
        return 0;
    r->start_line = r->line;
    r->n = 0;
    buf_reset(&r->text);
    for (;;) {
        if (r->n == MOODLE_MAX_COLUMNS)
            return fail(err, r->start_line, "line %zu has more than %d columns", r->start_line,
                        MOODLE_MAX_COLUMNS);
        r->off[r->n] = r->text.len;
        if (r->p < r->end && *r->p == '"' ? read_quoted(r, err) < 0 : read_plain(r, err) < 0)
            return -1;
        buf_putc(&r->text, '\0');
        r->n++;
        if (r->p >= r->end)
            return 1;
        char c = *r->p++;
        if (c == r->sep)
            continue;
        if (c == '\r' && r->p < r->end && *r->p == '\n')
            r->p++;
        r->line++;
        return 1;
    }
}

/* A record of empty cells: a blank line, or what a spreadsheet writes for an empty row. */
static bool record_is_blank(const struct reader *r)
{
    for (size_t i = 0; i < r->n; i++) {
        const char *s;
        if (trim(reader_cell(r, i), strlen(reader_cell(r, i)), &s) > 0)
            return false;
    }
    return true;
}

/* ---- the header ---- */

/* Skips lines of nothing but white space and separators, counting them. */
static const char *skip_blank_lines(const char *p, const char *end, size_t *line)
{
    for (;;) {
        const char *q = p;
        while (q < end && strchr(" \t,;:", *q) != NULL && *q != '\0')
            q++;
        if (q == end)
            return end;
        if (*q != '\n' && *q != '\r')
            return p;
        if (*q == '\r' && q + 1 < end && q[1] == '\n')
            q++;
        p = q + 1;
        (*line)++;
    }
}

static bool header_is_known(const char *s, size_t len, const struct moodle_mapping *map)
{
    const char *const mapped[] = {map->given_name, map->family_name, map->email,
                                  map->id_number,  map->grade,       map->date};

    for (size_t i = 0; i < MCX_ARRAY_LEN(known_headers); i++)
        if (eq_ci(s, len, known_headers[i]))
            return true;
    for (size_t i = 0; i < MCX_ARRAY_LEN(mapped); i++) {
        const char *m;
        size_t mlen = mapped[i] != NULL ? trim(mapped[i], strlen(mapped[i]), &m) : 0;
        if (mlen > 0 && eq_ci_n(s, len, m, mlen))
            return true;
    }
    return len >= strlen(course_total) && eq_ci(s, strlen(course_total), course_total);
}

/*
 * The separator that splits the header into the most known headers (then into the most
 * cells; then the first of comma, semicolon, tab, colon). Counting cells alone would
 * not do: "Assignment: Essay (Real)" holds a colon in every comma-separated export.
 */
static int separator_detect(struct reader *r, const char *start, const char *end, size_t line,
                            const struct moodle_mapping *map, char *sep, struct mcx_error *err)
{
    static const char candidates[] = {',', ';', '\t', ':'};
    struct mcx_error first_err;
    bool has_failed = false;
    long best_score = -1;
    size_t best_cells = 0;

    for (size_t c = 0; c < sizeof(candidates); c++) {
        struct mcx_error cand_err;
        long score = 0;

        reader_init(r, start, end, candidates[c], line);
        if (reader_next(r, &cand_err) != 1) {
            if (!has_failed)
                first_err = cand_err;
            has_failed = true;
            continue;
        }
        for (size_t i = 0; i < r->n; i++) {
            const char *s;
            size_t n = trim(reader_cell(r, i), strlen(reader_cell(r, i)), &s);
            score += header_is_known(s, n, map);
        }
        if (score > best_score || (score == best_score && r->n > best_cells)) {
            best_score = score;
            best_cells = r->n;
            *sep = candidates[c];
        }
    }
    /* A header too wide for the comma may be one harmless cell for the colon: unless
     * some separator finds Moodle's headers, the failure is the answer. */
    if (has_failed && best_score <= 0) {
        if (err != NULL)
            *err = first_err;
        return -1;
    }
    return 0;
}

enum grade_col {
    GRADE_COL_ANY,
    GRADE_COL_REAL,    /* Moodle's "(Real)" display type: a number */
    GRADE_COL_PERCENT, /* "(Percentage)": "85.00 %" */
    GRADE_COL_LETTER,  /* "(Letter)": whatever the course's letters are */
};

struct columns {
    long given, family, email, id, grade, date; /* -1: absent */
    enum grade_col grade_col;
};

struct header {
    char **names;
    size_t n;
    size_t line;
};

static void header_cleanup(struct header *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->names[i]);
    free(h->names);
}

/* Index of the column named name, -1 when there is none, -2 when there are two. */
static long column_find(const struct header *h, const char *name)
{
    const char *s;
    size_t len = trim(name, strlen(name), &s);
    long found = -1;

    if (len == 0)
        return -1;
    for (size_t i = 0; i < h->n; i++) {
        if (!eq_ci(s, len, h->names[i]))
            continue;
        if (found >= 0)
            return -2;
        found = (long)i;
    }
    return found;
}

/* "what; expected …; the header has: "A", "B", …": everything a teacher needs to see
 * which export settings to change, or which column to map. */
static int column_missing(const struct header *h, const char *what, struct mcx_error *err)
{
    struct buf b;
    int rc;

    buf_init(&b);
    buf_printf(&b,
               "%s; a Moodle gradebook export has First name, Last name (or Surname), Email "
               "address and a grade column such as Course total (Real), and a column mapping "
               "can name others. The header (line %zu) has: ",
               what, h->line);
    for (size_t i = 0; i < h->n && b.len < sizeof(err->message); i++)
        buf_printf(&b, "%s\"%s\"", i > 0 ? ", " : "", quote(h->names[i]).s);
    rc = fail(err, h->line, "%s", b.data);
    buf_cleanup(&b);
    return rc;
}

/* The mapped column, or the first default there is; -1 absent, -2 twice (both with err
 * when required). */
static int column_pick(const struct header *h, const char *mapped, const char *const *defaults,
                       size_t ndefaults, bool required, const char *role, long *out,
                       struct mcx_error *err)
{
    char what[256];
    long i = -1;

    if (mapped != NULL) {
        i = column_find(h, mapped);
        required = true; /* a column the caller named must be there */
        snprintf(what, sizeof(what), "no column \"%s\" (%s, as mapped)", quote(mapped).s, role);
    } else {
        for (size_t d = 0; d < ndefaults && i == -1; d++)
            i = column_find(h, defaults[d]);
        snprintf(what, sizeof(what), "no %s column \"%s\"", role, defaults[0]);
    }
    if (i == -2) {
        snprintf(what, sizeof(what), "two columns are named \"%s\" (%s)",
                 quote(mapped != NULL ? mapped : defaults[0]).s, role);
        return column_missing(h, what, err);
    }
    if (i == -1 && required)
        return column_missing(h, what, err);
    *out = i;
    return 0;
}

/* The grade column by default: the course total, in the display type the rule reads. */
static int grade_column_default(const struct header *h, enum moodle_pass kind, long *out,
                                struct mcx_error *err)
{
    static const char *const by_kind[][3] = {
        {"Course total (Real)", "Course total (Percentage)", "Course total (Letter)"},
        {"Course total (Percentage)", "Course total (Real)", "Course total (Letter)"},
        {"Course total (Letter)", "Course total (Real)", "Course total (Percentage)"},
    };
    const char *const *order = by_kind[kind == MOODLE_PASS_PERCENT   ? 1
                                       : kind == MOODLE_PASS_LETTERS ? 2
                                                                     : 0];

    for (size_t d = 0; d < 3; d++) {
        long i = column_find(h, order[d]);
        if (i == -2)
            return column_missing(h, "two columns are named the same course total", err);
        if (i >= 0) {
            *out = i;
            return 0;
        }
    }
    for (size_t i = 0; i < h->n; i++) {
        if (starts_ci(h->names[i], course_total)) {
            *out = (long)i;
            return 0;
        }
    }
    return column_missing(h, "no grade column \"Course total (Real)\"", err);
}

static int columns_resolve(const struct header *h, const struct moodle_mapping *map,
                           enum moodle_pass kind, struct columns *c, struct mcx_error *err)
{
    static const char *const given[] = {"First name"};
    static const char *const family[] = {"Last name", "Surname"};
    static const char *const id[] = {"ID number"};
    static const char *const date[] = {default_date};
    const char *g;

    if (column_pick(h, map->given_name, given, 1, false, "given name", &c->given, err) < 0 ||
        column_pick(h, map->family_name, family, 2, false, "family name", &c->family, err) < 0 ||
        column_pick(h, map->email, default_email, MCX_ARRAY_LEN(default_email), true, "e-mail",
                    &c->email, err) < 0 ||
        column_pick(h, map->id_number, id, 1, false, "ID number", &c->id, err) < 0 ||
        column_pick(h, map->date, date, 1, false, "completion date", &c->date, err) < 0)
        return -1;
    if (c->given < 0 && c->family < 0)
        return column_missing(h, "no name column \"First name\" or \"Last name\"", err);
    if (map->grade != NULL ? column_pick(h, map->grade, NULL, 0, true, "grade", &c->grade, err) < 0
                           : grade_column_default(h, kind, &c->grade, err) < 0)
        return -1;
    g = h->names[c->grade];
    c->grade_col = ends_ci(g, "(Real)")         ? GRADE_COL_REAL
                   : ends_ci(g, "(Percentage)") ? GRADE_COL_PERCENT
                   : ends_ci(g, "(Letter)")     ? GRADE_COL_LETTER
                                                : GRADE_COL_ANY;
    return 0;
}

static int header_read(struct reader *r, struct header *h, struct mcx_error *err)
{
    int rc = reader_next(r, err);

    if (rc < 0)
        return -1;
    h->line = r->start_line;
    if (rc == 0)
        return fail(err, h->line, "the file is empty: no header line");
    h->n = r->n;
    h->names = xcalloc(r->n, sizeof(*h->names));
    for (size_t i = 0; i < r->n; i++) {
        const char *s;
        size_t n = trim(reader_cell(r, i), strlen(reader_cell(r, i)), &s);
        h->names[i] = xstrndup(s, n);
    }
    return 0;
}

/* ---- grades ---- */

/*
 * A number as Moodle's format_float writes it: [-]digits[mark digits], the mark '.' or,
 * when comma_ok, the language's decimal comma (lt, de, fr…); never a thousands
 * separator, an exponent or a sign other than '-'.
 */
static bool number_parse(const char *s, size_t len, bool comma_ok, double *out)
{
    char tmp[40];
    size_t i = 0, o = 0;
    bool has_mark = false;

    if (len == 0 || len >= sizeof(tmp))
        return false;
    if (s[0] == '-')
        tmp[o++] = s[i++];
    if (i == len || !is_digit(s[i]))
        return false;
    for (; i < len; i++) {
        if (is_digit(s[i])) {
            tmp[o++] = s[i];
        } else if ((s[i] == '.' || (comma_ok && s[i] == ',')) && !has_mark && i + 1 < len &&
                   is_digit(s[i + 1])) {
            has_mark = true;
            tmp[o++] = '.';
        } else {
            return false;
        }
    }
    tmp[o] = '\0';
    *out = strtod(tmp, NULL); /* the C locale: nothing in mcx calls setlocale */
    return true;
}

/* "85.00 %" (Moodle puts a space before the sign; a spreadsheet may drop it or write a
 * no-break space). */
static bool percent_parse(const char *s, size_t len, bool comma_ok, double *out)
{
    static const char *const spaces[] = {" ", "\xC2\xA0", "\xE2\x80\xAF"};
    bool again = true;

    if (len < 2 || s[len - 1] != '%')
        return false;
    len--;
    while (again) {
        again = false;
        for (size_t k = 0; k < MCX_ARRAY_LEN(spaces); k++) {
            size_t n = strlen(spaces[k]);
            if (len >= n && memcmp(s + len - n, spaces[k], n) == 0) {
                len -= n;
                again = true;
            }
        }
    }
    return number_parse(s, len, comma_ok, out);
}

enum grade_kind {
    GRADE_NUMBER,
    GRADE_PERCENT,
    GRADE_TEXT, /* a letter or a scale item */
};

static enum grade_kind grade_classify(const char *s, double *value)
{
    size_t len = strlen(s);

    if (percent_parse(s, len, true, value))
        return GRADE_PERCENT;
    if (number_parse(s, len, true, value))
        return GRADE_NUMBER;
    return GRADE_TEXT;
}

static bool letter_passes(const struct moodle_pass_rule *pass, const char *grade)
{
    for (size_t i = 0; i < pass->nletters; i++)
        if (eq_ci(grade, strlen(grade), pass->letters[i]))
            return true;
    return false;
}

/* True when some passing letter is itself a number ("10", "9" on a 10-point scale):
 * then a numeric grade may be a letter. */
static bool letters_hold_number(const struct moodle_pass_rule *pass)
{
    double v;

    for (size_t i = 0; i < pass->nletters; i++)
        if (number_parse(pass->letters[i], strlen(pass->letters[i]), true, &v))
            return true;
    return false;
}

static void letters_list(const struct moodle_pass_rule *pass, struct buf *b)
{
    for (size_t i = 0; i < pass->nletters; i++)
        buf_printf(b, "%s%s", i > 0 ? ", " : "", pass->letters[i]);
}

/* The grade against its column's display type and the pass rule. */
static void grade_check(struct moodle_row *row, const char *column, enum grade_col col,
                        const struct moodle_pass_rule *pass)
{
    const char *g = row->grade;
    enum grade_kind kind;

    if (g == NULL) {
        reason_set(row, MOODLE_ROW_INVALID, "no grade in %s", column);
        return;
    }
    if (strlen(g) > GRADE_MAX_BYTES || has_control(g)) {
        reason_set(row, MOODLE_ROW_INVALID, "%s holds \"%s\", which is no grade", column,
                   quote(g).s);
        return;
    }
    kind = grade_classify(g, &row->grade_value);
    row->has_grade_value = kind != GRADE_TEXT;
    if (col == GRADE_COL_REAL && kind != GRADE_NUMBER) {
        reason_set(row, MOODLE_ROW_INVALID, "grade \"%s\" in %s is not a number", quote(g).s,
                   column);
        return;
    }
    if (col == GRADE_COL_PERCENT && kind != GRADE_PERCENT) {
        reason_set(row, MOODLE_ROW_INVALID, "grade \"%s\" in %s is not a percentage such as 85 %%",
                   quote(g).s, column);
        return;
    }
    switch (pass->kind) {
    case MOODLE_PASS_NONE:
        break;
    case MOODLE_PASS_NUMBER:
        if (kind != GRADE_NUMBER)
            reason_set(row, MOODLE_ROW_INVALID,
                       "grade \"%s\" in %s is not a number, which the pass mark %g needs",
                       quote(g).s, column, pass->min);
        else if (row->grade_value < pass->min)
            reason_set(row, MOODLE_ROW_BELOW_PASS_MARK, "grade %s in %s is below the pass mark %g",
                       g, column, pass->min);
        break;
    case MOODLE_PASS_PERCENT:
        if (kind != GRADE_PERCENT)
            reason_set(row, MOODLE_ROW_INVALID,
                       "grade \"%s\" in %s is not a percentage, which the pass mark %g%% needs",
                       quote(g).s, column, pass->min);
        else if (row->grade_value < pass->min)
            reason_set(row, MOODLE_ROW_BELOW_PASS_MARK,
                       "grade %s in %s is below the pass mark %g%%", g, column, pass->min);
        break;
    case MOODLE_PASS_LETTERS: {
        struct buf b;
        if (letter_passes(pass, g))
            break;
        buf_init(&b);
        letters_list(pass, &b);
        if (kind != GRADE_TEXT && !letters_hold_number(pass))
            reason_set(row, MOODLE_ROW_INVALID,
                       "grade \"%s\" in %s is a number, and the pass mark lists letters (%s)",
                       quote(g).s, column, b.data);
        else
            reason_set(row, MOODLE_ROW_BELOW_PASS_MARK,
                       "grade %s in %s is not one of the passing letters %s", g, column, b.data);
        buf_cleanup(&b);
        break;
    }
    }
}

/* ---- dates ---- */

static bool date_format(int y, int m, int d, char out[11])
{
    char tmp[32];

    snprintf(tmp, sizeof(tmp), "%04d-%02d-%02d", y, m, d);
    if (!mcx_date_is_valid(tmp))
        return false;
    memcpy(out, tmp, 11);
    return true;
}

/* 1 to max digits at *s as an int; advances *s. */
static bool digits(const char **s, int max, int *out)
{
    int n = 0, v = 0;

    while (is_digit(**s) && n < max) {
        v = v * 10 + (**s - '0');
        (*s)++;
        n++;
    }
    *out = v;
    return n > 0 && !is_digit(**s);
}

/* What may follow a date: nothing, or a time after a space, a comma or 'T'. */
static bool date_tail_ok(const char *s)
{
    return *s == '\0' || *s == ' ' || *s == ',' || *s == 'T';
}

/* Current Moodle writes time() under "Last downloaded from this course". */
static bool date_unix(const char *s, char out[11])
{
    time_t t = 0;
    struct tm tm;
    size_t n = strspn(s, "0123456789");

    if (n == 0 || n > 11 || s[n] != '\0')
        return false;
    for (size_t i = 0; i < n; i++)
        t = t * 10 + (s[i] - '0');
    if (gmtime_r(&t, &tm) == NULL)
        return false;
    return date_format(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, out);
}

/* d/m/Y, d.m.Y (also with a two-digit year, Moodle's strftimedatefullshort) and Y-m-d. */
static bool date_numeric(const char *s, char out[11])
{
    const char *p = s;
    int a, b, c;

    if (!digits(&p, 4, &a))
        return false;
    if (p - s == 4 && *p == '-') {
        p++;
        if (!digits(&p, 2, &b) || *p++ != '-' || !digits(&p, 2, &c) || !date_tail_ok(p))
            return false;
        return date_format(a, b, c, out);
    }
    char mark = *p;
    if (p - s > 2 || (mark != '/' && mark != '.'))
        return false;
    p++;
    if (!digits(&p, 2, &b) || *p++ != mark)
        return false;
    const char *y = p;
    if (!digits(&p, 4, &c) || (p - y != 2 && p - y != 4) || !date_tail_ok(p))
        return false;
    return date_format(p - y == 2 ? 2000 + c : c, b, a, out);
}

static int month_parse(const char *p, size_t n)
{
    static const char months[][10] = {"january",   "february", "march",    "april",
                                      "may",       "june",     "july",     "august",
                                      "september", "october",  "november", "december"};

    /* Any prefix of three letters or more names one month: "Sep", "Sept", "September". */
    for (int i = 0; i < 12; i++) {
        bool same = n >= 3 && n <= strlen(months[i]);
        for (size_t k = 0; same && k < n; k++)
            same = lower(p[k]) == months[i][k];
        if (same)
            return i + 1;
    }
    return 0;
}

/* Moodle's English strftimedatetime, "%A, %d %B %Y, %I:%M %p": "Thursday, 30 May 2024,
 * 03:20 PM"; the weekday and the time are optional, the month may be abbreviated. */
static bool date_english(const char *s, char out[11])
{
    const char *p = s, *ys;
    int d, y, m;
    size_t n = 0;

    if (!is_digit(*p)) {
        p = strchr(s, ','); /* past the weekday */
        if (p == NULL)
            return false;
        p++;
    }
    while (*p == ' ')
        p++;
    if (!digits(&p, 2, &d) || *p++ != ' ')
        return false;
    while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= 'A' && p[n] <= 'Z'))
        n++;
    m = month_parse(p, n);
    p += n;
    if (*p == '.')
        p++;
    if (m == 0 || *p++ != ' ')
        return false;
    ys = p;
    if (!digits(&p, 4, &y) || p - ys != 4 || !date_tail_ok(p))
        return false;
    return date_format(y, m, d, out);
}

static void date_parse(const char *s, char out[11])
{
    out[0] = '\0';
    if (s == NULL)
        return;
    if (!date_unix(s, out) && !date_numeric(s, out) && !date_english(s, out))
        out[0] = '\0';
}

/* ---- learners ---- */

static bool email_domain_ok(const char *d, size_t len)
{
    size_t label = 0, labels = 1;

    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)d[i];
        if (c == '.') {
            if (label == 0 || d[i - 1] == '-')
                return false;
            label = 0;
            labels++;
            continue;
        }
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit((char)c) ||
                  c >= 0x80 || (c == '-' && label > 0);
        if (!ok || ++label > 63)
            return false;
    }
    return label > 0 && d[len - 1] != '-' && labels >= 2;
}

/* What a VLE account's address looks like: one @, a dot-atom local part (RFC 5322
 * §3.4.1; UTF-8 allowed, RFC 6531), a domain of two labels or more. */
static bool email_is_valid(const char *s)
{
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    size_t local;

    if (len > EMAIL_MAX || at == NULL || strchr(at + 1, '@') != NULL)
        return false;
    local = (size_t)(at - s);
    if (local == 0 || local > EMAIL_LOCAL_MAX || s[0] == '.' || at[-1] == '.')
        return false;
    for (size_t i = 0; i < local; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c <= ' ' || c == 0x7f || strchr("\"(),:;<>[\\]", c) != NULL ||
            (c == '.' && s[i + 1] == '.'))
            return false;
    }
    return email_domain_ok(at + 1, len - local - 1);
}

/* E-mail addresses are compared lowercased: Moodle keeps them as typed, and "Ann@X.org"
 * in one export and "ann@x.org" in the next are the same learner. */
static void key_compute(const char *offer_id, const char *kind, const char *id, bool fold,
                        char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    struct buf b;

    buf_init(&b);
    buf_printf(&b, "%s\n%s:", offer_id, kind);
    for (const char *p = id; *p != '\0'; p++)
        buf_putc(&b, fold ? lower(*p) : *p);
    if (EVP_Digest(b.data, b.len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        abort(); /* SHA-256 is built into every OpenSSL: failing is not an input's fault */
    buf_cleanup(&b);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* Learners seen so far, by key: an open-addressing set of row indexes + 1. */
struct seen {
    size_t *slots;
    size_t cap;
    size_t used;
};

static size_t key_hash(const char *key)
{
    size_t h = 0;

    for (int i = 0; i < 16; i++) /* the key is a hash already: its first bytes will do */
        h = h * 16 + (size_t)(key[i] <= '9' ? key[i] - '0' : key[i] - 'a' + 10);
    return h;
}

static void seen_grow(struct seen *s, const struct moodle_row *rows)
{
    size_t cap = s->cap ? s->cap * 2 : 1024;
    size_t *slots = xcalloc(cap, sizeof(*slots));

    for (size_t i = 0; i < s->cap; i++) {
        if (s->slots[i] == 0)
            continue;
        size_t j = key_hash(rows[s->slots[i] - 1].key) & (cap - 1);
        while (slots[j] != 0)
            j = (j + 1) & (cap - 1);
        slots[j] = s->slots[i];
    }
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
}

/* The earlier row with rows[idx]'s key, or none (then idx is remembered). */
static const struct moodle_row *seen_check(struct seen *s, const struct moodle_row *rows,
                                           size_t idx)
{
    size_t j;

    if (2 * (s->used + 1) > s->cap)
        seen_grow(s, rows);
    j = key_hash(rows[idx].key) & (s->cap - 1);
    while (s->slots[j] != 0) {
        if (strcmp(rows[s->slots[j] - 1].key, rows[idx].key) == 0)
            return &rows[s->slots[j] - 1];
        j = (j + 1) & (s->cap - 1);
    }
    s->slots[j] = idx + 1;
    s->used++;
    return NULL;
}

/* ---- rows ---- */

struct import_ctx {
    const char *offer_id;
    const struct moodle_pass_rule *pass;
    size_t ncolumns;
    struct columns col;
    /* The columns' headers as reasons name them: clipped once, not per row. */
    struct quoted given, family, email, id, grade;
    struct seen seen;
};

/* The cell of column i, trimmed and owned, or NULL when absent or empty. */
static char *cell_take(const struct reader *r, long i)
{
    const char *s;
    size_t n;

    if (i < 0 || (size_t)i >= r->n)
        return NULL;
    n = trim(reader_cell(r, (size_t)i), strlen(reader_cell(r, (size_t)i)), &s);
    return n > 0 ? xstrndup(s, n) : NULL;
}

static const char *sep_name(char sep)
{
    return sep == ',' ? "comma" : sep == ';' ? "semicolon" : sep == '\t' ? "tab" : "colon";
}

/* A name or ID number fit to print on a credential; false with the reason set. */
static bool text_check(struct moodle_row *row, const char *value, const char *column)
{
    if (value == NULL)
        return true;
    if (strlen(value) > NAME_MAX_BYTES) {
        reason_set(row, MOODLE_ROW_INVALID, "%s is longer than %d bytes", column, NAME_MAX_BYTES);
        return false;
    }
    if (has_control(value)) {
        reason_set(row, MOODLE_ROW_INVALID, "%s \"%s\" holds a line break or control character",
                   column, quote(value).s);
        return false;
    }
    return true;
}

static bool learner_check(struct import_ctx *c, struct moodle_row *row)
{
    const char *given = c->col.given >= 0 ? c->given.s : NULL;
    const char *family = c->col.family >= 0 ? c->family.s : NULL;
    const char *email = c->email.s;

    if (row->given_name == NULL && row->family_name == NULL) {
        if (given != NULL && family != NULL)
            reason_set(row, MOODLE_ROW_INVALID, "no learner name: %s and %s are empty", given,
                       family);
        else
            reason_set(row, MOODLE_ROW_INVALID, "no learner name: %s is empty",
                       given != NULL ? given : family);
        return false;
    }
    if (!text_check(row, row->given_name, given) || !text_check(row, row->family_name, family) ||
        !text_check(row, row->id_number, c->id.s))
        return false;
    if (row->email == NULL) {
        reason_set(row, MOODLE_ROW_INVALID,
                   "no e-mail address in %s: the credential cannot be delivered", email);
        return false;
    }
    if (!email_is_valid(row->email)) {
        reason_set(row, MOODLE_ROW_INVALID, "%s \"%s\" is not an e-mail address", email,
                   quote(row->email).s);
        return false;
    }
    return true;
}

static void row_classify(struct import_ctx *c, const struct reader *r, struct moodle_row *rows,
                         size_t idx)
{
    struct moodle_row *row = &rows[idx];
    const struct moodle_row *first;
    char *date;

    row->given_name = cell_take(r, c->col.given);
    row->family_name = cell_take(r, c->col.family);
    row->email = cell_take(r, c->col.email);
    row->id_number = cell_take(r, c->col.id);
    row->grade = cell_take(r, c->col.grade);
    if (row->grade != NULL && strcmp(row->grade, "-") == 0) {
        free(row->grade); /* Moodle's "no grade" */
        row->grade = NULL;
    }
    date = cell_take(r, c->col.date);
    date_parse(date, row->date);
    free(date);
    if (row->email != NULL && email_is_valid(row->email))
        key_compute(c->offer_id, "email", row->email, true, row->key);
    else if (row->id_number != NULL && !has_control(row->id_number))
        key_compute(c->offer_id, "id", row->id_number, false, row->key);

    /* A row wider or narrower than the header has its cells shifted: its grade may be
     * someone else's. */
    if (r->n != c->ncolumns) {
        reason_set(row, MOODLE_ROW_INVALID,
                   "the row has %zu cells where the header has %zu: a value holding a %s "
                   "must be quoted",
                   r->n, c->ncolumns, sep_name(r->sep));
        return;
    }
    if (!learner_check(c, row))
        return;
    first = seen_check(&c->seen, rows, idx);
    if (first != NULL) {
        reason_set(row, MOODLE_ROW_INVALID, "the same learner as row %zu (%s)", first->row,
                   quote(row->email).s);
        return;
    }
    grade_check(row, c->grade.s, c->col.grade_col, c->pass);
}

/* ---- the import ---- */

static int rows_read(struct reader *r, struct import_ctx *c, size_t max_rows,
                     struct moodle_import *out, struct mcx_error *err)
{
    size_t cap = 0, rowno = 0;

    for (;;) {
        int rc = reader_next(r, err);
        if (rc <= 0)
            return rc;
        rowno++;
        if (record_is_blank(r))
            continue;
        if (out->nrows == max_rows)
            return fail(err, r->start_line, "the file has more than %zu rows (line %zu)", max_rows,
                        r->start_line);
        if (out->nrows == cap) {
            cap = cap ? cap * 2 : 64;
            out->rows = xrealloc(out->rows, cap * sizeof(*out->rows));
        }
        memset(&out->rows[out->nrows], 0, sizeof(out->rows[0]));
        out->rows[out->nrows].row = rowno;
        out->nrows++;
        row_classify(c, r, out->rows, out->nrows - 1);
    }
}

int moodle_import_parse(const char *csv, size_t len, const char *offer_id,
                        const struct moodle_mapping *map, const struct moodle_pass_rule *pass,
                        size_t max_rows, struct moodle_import *out, struct mcx_error *err)
{
    static const struct moodle_mapping no_map;
    static const struct moodle_pass_rule no_rule;
    const char *p = csv, *end = csv != NULL ? csv + len : NULL;
    struct import_ctx c = {.offer_id = offer_id, .pass = pass != NULL ? pass : &no_rule};
    struct header h = {0};
    struct reader r;
    size_t line = 1;
    char sep = ',';
    int rc = -1;

    memset(out, 0, sizeof(*out));
    if (offer_id == NULL || (csv == NULL && len > 0)) {
        mcx_error_set(err, "invalid_argument", "an offer id and the file are required");
        return -1;
    }
    if (csv == NULL)
        p = end = ""; /* NULL + 0 is undefined, and UBSan says so */
    map = map != NULL ? map : &no_map;
    max_rows = max_rows != 0 ? max_rows : MOODLE_DEFAULT_MAX_ROWS;
    if (len >= 2 && ((p[0] == '\xFF' && p[1] == '\xFE') || (p[0] == '\xFE' && p[1] == '\xFF')))
        return fail(err, 1,
                    "the file is UTF-16 (a spreadsheet's \"Unicode text\"); save it as "
                    "\"CSV UTF-8\"");
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        p += 3; /* the byte order mark spreadsheets write */
    if (input_check(p, (size_t)(end - p), err) < 0)
        return -1;
    p = skip_blank_lines(p, end, &line);
    if (p == end)
        return fail(err, line, "the file is empty: no header line");

    buf_init(&r.text);
    if (separator_detect(&r, p, end, line, map, &sep, err) < 0)
        goto out;
    reader_init(&r, p, end, sep, line);
    if (header_read(&r, &h, err) < 0 || columns_resolve(&h, map, c.pass->kind, &c.col, err) < 0)
        goto out;
    out->ncolumns = h.n;
    text_clip(out->grade_column, sizeof(out->grade_column), h.names[c.col.grade],
              strlen(h.names[c.col.grade]));
    if (c.col.date >= 0)
        text_clip(out->date_column, sizeof(out->date_column), h.names[c.col.date],
                  strlen(h.names[c.col.date]));
    c.ncolumns = h.n;
    c.grade = quote(h.names[c.col.grade]);
    c.email = quote(h.names[c.col.email]);
    c.given = quote(c.col.given >= 0 ? h.names[c.col.given] : "");
    c.family = quote(c.col.family >= 0 ? h.names[c.col.family] : "");
    c.id = quote(c.col.id >= 0 ? h.names[c.col.id] : "ID number");
    rc = rows_read(&r, &c, max_rows, out, err);
out:
    if (rc < 0)
        moodle_import_cleanup(out);
    free(c.seen.slots);
    header_cleanup(&h);
    buf_cleanup(&r.text);
    return rc < 0 ? -1 : 0;
}

void moodle_import_cleanup(struct moodle_import *imp)
{
    if (imp == NULL)
        return;
    for (size_t i = 0; i < imp->nrows; i++) {
        struct moodle_row *row = &imp->rows[i];
        free(row->given_name);
        free(row->family_name);
        free(row->email);
        free(row->id_number);
        free(row->grade);
    }
    free(imp->rows);
    memset(imp, 0, sizeof(*imp));
}

const char *moodle_row_status_name(enum moodle_row_status s)
{
    switch (s) {
    case MOODLE_ROW_OK:
        return "queued";
    case MOODLE_ROW_BELOW_PASS_MARK:
        return "below_pass_mark";
    case MOODLE_ROW_INVALID:
        return "invalid";
    case MOODLE_ROW_ALREADY_ISSUED:
        return "already_issued";
    }
    return "invalid";
}

/* ---- pass rules ---- */

/* err "invalid_parameter": pass mark "<text>" <what>. */
static int pass_fail(struct mcx_error *err, const char *text, const char *what)
{
    mcx_error_set(err, "invalid_parameter", "pass mark \"%s\" %s", quote(text).s, what);
    if (err != NULL)
        mcx_strlcpy(err->path, "pass_mark", sizeof(err->path));
    return -1;
}

/* Splits "A, B+ ,C" into storage: the pointer array first (aligned), then the words. */
static int pass_letters(const char *s, size_t len, struct moodle_pass_rule *out, char *storage,
                        size_t storage_size, struct mcx_error *err)
{
    size_t n = 1, bytes = 0, pad;
    const char **ptrs;
    char *words;

    for (size_t i = 0; i < len; i++)
        n += s[i] == ',';
    if (n > MOODLE_PASS_MAX_LETTERS)
        return pass_fail(err, s, "lists more than 32 letters");
    for (const char *p = s, *stop = s + len; p <= stop;) {
        const char *comma = memchr(p, ',', (size_t)(stop - p)), *w;
        size_t wlen = trim(p, (size_t)((comma != NULL ? comma : stop) - p), &w);
        if (wlen == 0 || wlen > MOODLE_PASS_MAX_LETTER_BYTES)
            return pass_fail(err, s,
                             "is not a number (60), a percentage (60%) or letters (A,B,C) of up "
                             "to 32 bytes each");
        bytes += wlen + 1;
        p = (comma != NULL ? comma : stop) + 1;
    }
    pad = storage == NULL ? 0
                          : (_Alignof(const char *) - (uintptr_t)storage % _Alignof(const char *)) %
                                _Alignof(const char *);
    if (storage == NULL || pad + n * sizeof(*ptrs) + bytes > storage_size) {
        mcx_error_set(err, "invalid_argument", "pass rule storage is too small");
        return -1;
    }
    ptrs = (const char **)(void *)(storage + pad);
    words = storage + pad + n * sizeof(*ptrs);
    out->nletters = 0;
    for (const char *p = s, *stop = s + len; p <= stop;) {
        const char *comma = memchr(p, ',', (size_t)(stop - p)), *w;
        size_t wlen = trim(p, (size_t)((comma != NULL ? comma : stop) - p), &w);
        memcpy(words, w, wlen);
        words[wlen] = '\0';
        ptrs[out->nletters++] = words;
        words += wlen + 1;
        p = (comma != NULL ? comma : stop) + 1;
    }
    out->letters = ptrs;
    out->kind = MOODLE_PASS_LETTERS;
    return 0;
}

int moodle_pass_rule_parse(const char *text, struct moodle_pass_rule *out, char *storage,
                           size_t storage_size, struct mcx_error *err)
{
    const char *s;
    size_t len;
    double v;

    memset(out, 0, sizeof(*out));
    out->kind = MOODLE_PASS_NONE;
    if (text == NULL)
        return 0;
    len = trim(text, strlen(text), &s);
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq((const unsigned char *)s + i, len - i);
        if (n == 0 || (n == 1 && is_control((unsigned char)s[i])))
            return pass_fail(err, text, "is not text");
        i += n;
    }
    if (s[len - 1] == '%') {
        if (!percent_parse(s, len, false, &v) || v < 0 || v > 100)
            return pass_fail(err, text, "is not a percentage from 0 to 100 such as 60%");
        out->kind = MOODLE_PASS_PERCENT;
        out->min = v;
        return 0;
    }
    if (number_parse(s, len, false, &v)) {
        out->kind = MOODLE_PASS_NUMBER;
        out->min = v;
        return 0;
    }
    return pass_letters(s, len, out, storage, storage_size, err);
}

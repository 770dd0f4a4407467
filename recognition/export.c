/*
 * export.c — a student's credit-transfer records as CSV and as EMREX ELMO 1.7
 * (export.h). Both are written straight into a buf, as catalogue/manifest.c writes
 * XML; every value is checked before the first byte, so a document is whole or absent.
 */
#include "recognition/export.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/xmlutil.h"

/* Numbers this large are no credit count; they would only print as long digit runs. */
#define NUMBER_MAX 1e15

/*
 * ELMO's country elements take europass:countryCode, a closed list
 * (elmo/references/EUROPASS_ISOCountries_V1.1.xsd, 197 codes, sorted): XK, TW, HK and
 * other real ISO codes are not in it, and a code outside it fails validation.
 */
static const char europass_countries[][3] = {
    "AD", "AE", "AF", "AG", "AL", "AM", "AO", "AR", "AT", "AU", "AZ", "BA", "BB", "BD", "BE", "BF",
    "BG", "BH", "BI", "BJ", "BN", "BO", "BR", "BS", "BT", "BW", "BY", "BZ", "CA", "CD", "CF", "CG",
    "CH", "CI", "CL", "CM", "CN", "CO", "CR", "CU", "CV", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO",
    "DZ", "EC", "EE", "EG", "ER", "ES", "ET", "FI", "FJ", "FM", "FR", "GA", "GB", "GD", "GE", "GH",
    "GL", "GM", "GN", "GQ", "GR", "GT", "GW", "GY", "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IN",
    "IQ", "IR", "IS", "IT", "JM", "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW",
    "KZ", "LA", "LB", "LC", "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME",
    "MG", "MH", "MK", "ML", "MM", "MN", "MR", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA", "NE",
    "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PG", "PH", "PK", "PL", "PR",
    "PS", "PT", "PW", "PY", "QA", "RO", "RS", "RU", "RW", "SA", "SB", "SC", "SD", "SE", "SG", "SI",
    "SK", "SL", "SM", "SN", "SO", "SR", "ST", "SV", "SY", "SZ", "TD", "TG", "TH", "TJ", "TL", "TM",
    "TN", "TO", "TR", "TT", "TV", "TZ", "UA", "UG", "US", "UY", "UZ", "VA", "VC", "VE", "VN", "VU",
    "WS", "YE", "ZA", "ZM", "ZW",
};

static bool is_set(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static int country_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The Europass code for s ("lt" and "LT" alike) in out, or false when it has none. */
static bool country_code(const char *s, char out[3])
{
    if (s == NULL || strlen(s) != 2)
        return false;
    for (int i = 0; i < 2; i++) {
        char c = s[i];
        out[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
    }
    out[2] = '\0';
    return bsearch(out, europass_countries, MCX_ARRAY_LEN(europass_countries),
                   sizeof(europass_countries[0]), country_cmp) != NULL;
}

/*
 * v as a plain decimal without trailing zeros ("2.5", "5"): both xs:decimal and what
 * a spreadsheet reads as a number, so never an exponent. Six places are finer than any
 * credit count. -1 when v is not finite or absurdly large.
 */
static int number_format(double v, char out[48])
{
    size_t len;

    if (!isfinite(v) || fabs(v) >= NUMBER_MAX)
        return -1;
    snprintf(out, 48, "%.6f", v);
    for (char *c = out; *c; c++)
        if (*c == ',') /* a locale's decimal comma */
            *c = '.';
    len = strlen(out);
    while (out[len - 1] == '0') /* "%.6f" always writes a point before them */
        out[--len] = '\0';
    if (out[len - 1] == '.')
        out[--len] = '\0';
    if (strcmp(out, "-0") == 0)
        mcx_strlcpy(out, "0", 48);
    return 0;
}

/* ---- UTF-8 ---- */

/* s with invalid UTF-8 replaced by U+FFFD: the CSV is declared UTF-8. */
static void utf8_text(struct buf *b, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p != '\0') {
        unsigned long cp;
        size_t n = xmlutil_utf8_decode(p, &cp);

        if (n == 0) {
            buf_puts(b, XMLUTIL_REPLACEMENT);
            p++;
            continue;
        }
        buf_append(b, p, n);
        p += n;
    }
}

/* ---- CSV ---- */

#define CSV_HEADER                                                                                 \
    "transfer_id,request_id,student_id,student_email,home_institution,programme,course,"           \
    "outcome,credits,grade,credential_title,issuer,issuer_name,issuer_country,awarded_on,"         \
    "original_grade,original_ects,eqf,isced,offer_id,decided_at\r\n"

/*
 * A text cell. A leading = + - @ makes spreadsheets evaluate the cell (OWASP "CSV
 * Injection"; TAB and CR too): a ' in front shows it as text. Quoted only when RFC 4180
 * §2 needs it (a comma, quote or line break inside).
 */
static void csv_text(struct buf *b, const char *s)
{
    struct buf cell;

    if (s == NULL || s[0] == '\0')
        return;
    buf_init(&cell);
    if (strchr("=+-@\t\r", s[0]) != NULL)
        buf_putc(&cell, '\'');
    utf8_text(&cell, s);
    if (strpbrk(cell.data, ",\"\r\n") == NULL) {
        buf_append(b, cell.data, cell.len);
    } else {
        buf_putc(b, '"');
        for (const char *c = cell.data; *c; c++) {
            if (*c == '"')
                buf_putc(b, '"');
            buf_putc(b, *c);
        }
        buf_putc(b, '"');
    }
    buf_cleanup(&cell);
}

/* A number as a cell: empty when absent or unwritable. */
static void cell_number(char out[48], double v, bool has)
{
    if (!has || number_format(v, out) < 0)
        out[0] = '\0';
}

/* One row, its cells in CSV_HEADER's order. */
static void csv_row(struct buf *b, const struct rec_learner *l, const struct rec_home *h,
                    const struct rec_transfer *t)
{
    char credits[48], ects[48], eqf[16] = "";

    cell_number(credits, t->credits, t->has_credits);
    cell_number(ects, t->original_ects, t->has_original_ects);
    if (t->eqf != 0)
        snprintf(eqf, sizeof(eqf), "%d", t->eqf);
    /* numbers are our own digits, never a formula: they go in as they are */
    const struct {
        const char *s;
        bool is_number;
    } cells[] = {
        {t->id, false},
        {t->request_id, false},
        {l ? l->id : NULL, false},
        {l ? l->email : NULL, false},
        {h ? h->id : NULL, false},
        {t->programme, false},
        {t->course, false},
        {t->outcome, false},
        {credits, true},
        {t->grade, false},
        {t->title, false},
        {t->issuer_id, false},
        {t->issuer_name, false},
        {t->issuer_country, false},
        {t->awarded_on, false},
        {t->original_grade, false},
        {ects, true},
        {eqf, true},
        {t->isced, false},
        {t->offer_id, false},
        {t->decided_at, false},
    };

    for (size_t i = 0; i < MCX_ARRAY_LEN(cells); i++) {
        if (i > 0)
            buf_putc(b, ',');
        if (cells[i].is_number)
            buf_puts(b, cells[i].s);
        else
            csv_text(b, cells[i].s);
    }
    buf_puts(b, "\r\n");
}

void rec_export_csv(const struct rec_learner *l, const struct rec_home *h,
                    const struct rec_transfer *t, size_t n, struct buf *out)
{
    buf_puts(out, CSV_HEADER);
    for (size_t i = 0; i < n; i++)
        csv_row(out, l, h, &t[i]);
}

/* ---- ELMO: checking the values ---- */

enum outcome { OUT_RECOGNISED, OUT_PARTIAL, OUT_NOT_RECOGNISED, OUT_UNKNOWN };

static enum outcome outcome_parse(const char *s)
{
    if (s == NULL)
        return OUT_UNKNOWN;
    if (strcmp(s, "recognised") == 0)
        return OUT_RECOGNISED;
    if (strcmp(s, "partially_recognised") == 0)
        return OUT_PARTIAL;
    if (strcmp(s, "not_recognised") == 0)
        return OUT_NOT_RECOGNISED;
    return OUT_UNKNOWN;
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* A number of two digits at s, at most max. */
static bool two_digits(const char *s, int max)
{
    return digits(s, 2) && (s[0] - '0') * 10 + (s[1] - '0') <= max;
}

/*
 * xs:dateTime with a time zone, as RFC 3339 writes it: YYYY-MM-DDThh:mm:ss[.f](Z|+hh:mm).
 * Leap second 60 is left out: XML Schema 1.0 has none. The time zone is required, as
 * ELMO's generatedDate "SHOULD contain" one and a record without it is ambiguous.
 */
static bool is_datetime(const char *s)
{
    char date[11];

    if (strlen(s) < 20)
        return false;
    memcpy(date, s, 10);
    date[10] = '\0';
    if (!mcx_date_is_valid(date) || s[10] != 'T' || !two_digits(s + 11, 23) || s[13] != ':' ||
        !two_digits(s + 14, 59) || s[16] != ':' || !two_digits(s + 17, 59))
        return false;
    s += 19;
    if (*s == '.') {
        size_t n = strspn(s + 1, "0123456789");
        if (n == 0)
            return false;
        s += 1 + n;
    }
    if (strcmp(s, "Z") == 0)
        return true;
    return (s[0] == '+' || s[0] == '-') && two_digits(s + 1, 14) && s[3] == ':' &&
           two_digits(s + 4, 59) && s[6] == '\0';
}

/* err with the field's name as its path: "transfers[2].awarded_on". */
static int bad_value(struct mcx_error *err, size_t i, const char *field, const char *what)
{
    mcx_error_set(err, "invalid_argument", "credit transfer %zu: %s %s", i + 1, field, what);
    snprintf(err->path, sizeof(err->path), "transfers[%zu].%s", i, field);
    return -1;
}

static int transfer_check(const struct rec_transfer *t, size_t i, struct mcx_error *err)
{
    char num[48];
    enum outcome o = outcome_parse(t->outcome);

    if (o == OUT_UNKNOWN)
        return bad_value(err, i, "outcome",
                         "is not recognised, partially_recognised or not_recognised");
    if (o == OUT_NOT_RECOGNISED)
        return 0; /* not written */
    if (t->decided_at != NULL && !is_datetime(t->decided_at))
        return bad_value(err, i, "decided_at", "is not an RFC 3339 time with a time zone");
    if (t->awarded_on != NULL && !mcx_date_is_valid(t->awarded_on))
        return bad_value(err, i, "awarded_on", "is not a YYYY-MM-DD date");
    if (t->has_credits && (t->credits < 0 || number_format(t->credits, num) < 0))
        return bad_value(err, i, "credits", "is not a credit count");
    if (t->has_original_ects && (t->original_ects < 0 || number_format(t->original_ects, num) < 0))
        return bad_value(err, i, "original_ects", "is not a credit count");
    if (t->eqf < 0 || t->eqf > 8)
        return bad_value(err, i, "eqf", "is not an EQF level (1-8)");
    return 0;
}

static int elmo_check(const struct rec_home *h, const struct rec_transfer *t, size_t n,
                      const char *generated, struct mcx_error *err)
{
    if (generated == NULL || !is_datetime(generated)) {
        mcx_error_set(err, "invalid_argument",
                      "the generation time is not an RFC 3339 time with a time zone");
        mcx_strlcpy(err->path, "generated", sizeof(err->path));
        return -1;
    }
    if (h == NULL || !is_set(h->id)) {
        /* report/issuer/identifier is required (minOccurs 1) */
        mcx_error_set(err, "invalid_argument", "the home institution has no id");
        mcx_strlcpy(err->path, "home.id", sizeof(err->path));
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (transfer_check(&t[i], i, err) < 0)
            return -1;
    return 0;
}

/* ---- ELMO: writing ---- */

/* <tag>text</tag> on its own line. */
static void put_element(struct buf *b, int indent, const char *tag, const char *text)
{
    buf_printf(b, "%*s<%s>", indent, "", tag);
    xmlutil_escape(b, text, XMLUTIL_QUOTES_DOUBLE);
    buf_printf(b, "</%s>\n", tag);
}

/* <tag type="type">text</tag>: ELMO's identifiers. */
static void put_identifier(struct buf *b, int indent, const char *type, const char *text)
{
    buf_printf(b, "%*s<identifier type=\"%s\">", indent, "", type);
    xmlutil_escape(b, text, XMLUTIL_QUOTES_DOUBLE);
    buf_puts(b, "</identifier>\n");
}

static void write_learner(struct buf *b, const struct rec_learner *l)
{
    const char *given = l ? l->given_names : NULL, *family = l ? l->family_name : NULL;
    struct buf derived;

    buf_init(&derived);
    /* givenNames and familyName are required; the schema asks for "" when unknown */
    if (!is_set(given) && !is_set(family)) {
        if (l != NULL && is_set(l->email) && l->email[0] != '@')
            buf_append(&derived, l->email, strcspn(l->email, "@"));
        else
            buf_puts(&derived, "Unknown");
        given = derived.data;
    }
    buf_puts(b, "  <learner>\n");
    if (l != NULL && is_set(l->id))
        put_identifier(b, 4, "mcx-user", l->id);
    if (l != NULL && is_set(l->email))
        put_identifier(b, 4, "email", l->email);
    put_element(b, 4, "givenNames", given ? given : "");
    put_element(b, 4, "familyName", family ? family : "");
    buf_puts(b, "  </learner>\n");
    buf_cleanup(&derived);
}

static void write_issuer(struct buf *b, const struct rec_home *h)
{
    char cc[3];

    buf_puts(b, "    <issuer>\n");
    /* optional, and "MUST NOT be present" when unknown: a code Europass lacks is left out */
    if (country_code(h->country, cc))
        put_element(b, 6, "country", cc);
    put_identifier(b, 6, "schac", h->id);
    put_element(b, 6, "title", is_set(h->name) ? h->name : h->id);
    if (is_set(h->url)) {
        put_element(b, 6, "url", h->url);
    } else {
        struct buf url;
        buf_init(&url);
        buf_printf(&url, "https://%s/", h->id);
        put_element(b, 6, "url", url.data);
        buf_cleanup(&url);
    }
    buf_puts(b, "    </issuer>\n");
}

/* "Name (id, CC)", "Name", "id (CC)"..., or "" when nothing is known. */
static void issuer_label(struct buf *b, const struct rec_transfer *t)
{
    bool has_name = is_set(t->issuer_name), has_id = is_set(t->issuer_id);
    bool has_cc = is_set(t->issuer_country);

    if (has_name)
        buf_puts(b, t->issuer_name);
    if (has_name && (has_id || has_cc))
        buf_puts(b, " (");
    if (has_id)
        buf_puts(b, t->issuer_id);
    if (has_id && has_cc)
        buf_puts(b, has_name ? ", " : " (");
    if (has_cc)
        buf_puts(b, t->issuer_country);
    if ((has_name && (has_id || has_cc)) || (!has_name && has_id && has_cc))
        buf_putc(b, ')');
}

/* The LOS title: the achievement and where it was obtained, as example.xml titles its
 * externally recognised course ("Identifying ectomycorrhizal fungi (University of
 * Copenhagen)"), so that even a client reading nothing else sees it came from elsewhere. */
static void write_title(struct buf *b, const struct rec_transfer *t)
{
    struct buf title;

    buf_init(&title);
    /* required; the schema's last resort is an empty string */
    buf_puts(&title, is_set(t->title) ? t->title : is_set(t->course) ? t->course : "");
    if (is_set(t->issuer_name))
        buf_printf(&title, "%s(%s)", title.len > 0 ? " " : "", t->issuer_name);
    else if (is_set(t->issuer_id))
        buf_printf(&title, "%s(%s)", title.len > 0 ? " " : "", t->issuer_id);
    put_element(b, 6, "title", title.data);
    buf_cleanup(&title);
}

/* A sentence or two for people: the schema's plain-text description of the node. */
static void write_description(struct buf *b, const struct rec_home *h, const struct rec_transfer *t)
{
    struct buf d, from;
    char num[48];

    buf_init(&d);
    buf_init(&from);
    buf_printf(&d, "%s by %s",
               outcome_parse(t->outcome) == OUT_PARTIAL ? "Partially recognised" : "Recognised",
               is_set(h->name) ? h->name : h->id);
    if (t->decided_at != NULL)
        buf_printf(&d, " on %.10s", t->decided_at);
    if (is_set(t->course))
        buf_printf(&d, " as %s", t->course);
    if (is_set(t->programme))
        buf_printf(&d, " in %s", t->programme);
    buf_putc(&d, '.');
    issuer_label(&from, t);
    if (from.len > 0)
        buf_printf(&d, " Obtained at %s", from.data);
    else
        buf_puts(&d, " Obtained elsewhere");
    if (t->awarded_on != NULL)
        buf_printf(&d, " on %s", t->awarded_on);
    if (is_set(t->original_grade))
        buf_printf(&d, ", grade %s", t->original_grade);
    if (t->has_original_ects && number_format(t->original_ects, num) == 0)
        buf_printf(&d, ", %s ECTS", num);
    buf_putc(&d, '.');
    buf_puts(b, "      <description xml:lang=\"en\">");
    xmlutil_escape(b, d.data, XMLUTIL_QUOTES_DOUBLE);
    buf_puts(b, "</description>\n");
    buf_cleanup(&from);
    buf_cleanup(&d);
}

/*
 * ELMO 1.x has no element for a recognition (ELMO 2.0 adds resultOfRecognition): the
 * decision and the original achievement go in the LOI's extension, which takes elements
 * of any other namespace (CustomExtensionsContainer, processContents="lax"). The shape
 * borrows ELMO's own names (issuer/identifier/title/country) so that it reads familiar.
 */
static void write_extension(struct buf *b, const struct rec_transfer *t)
{
    char num[48], cc[3];

    buf_puts(b, "          <extension>\n"
                "            <recognition xmlns=\"" REC_EXPORT_NS "\">\n");
    put_element(b, 14, "outcome", t->outcome);
    if (t->decided_at != NULL)
        put_element(b, 14, "decidedAt", t->decided_at);
    if (is_set(t->request_id))
        put_element(b, 14, "requestId", t->request_id);
    if (is_set(t->programme))
        put_element(b, 14, "programme", t->programme);
    if (is_set(t->course))
        put_element(b, 14, "course", t->course);
    buf_puts(b, "              <recognisedFrom>\n");
    if (is_set(t->issuer_id) || is_set(t->issuer_name) || is_set(t->issuer_country)) {
        buf_puts(b, "                <issuer>\n");
        if (country_code(t->issuer_country, cc))
            put_element(b, 18, "country", cc);
        if (is_set(t->issuer_id))
            put_identifier(b, 18, "schac", t->issuer_id);
        if (is_set(t->issuer_name))
            put_element(b, 18, "title", t->issuer_name);
        buf_puts(b, "                </issuer>\n");
    }
    if (is_set(t->title))
        put_element(b, 16, "title", t->title);
    if (t->awarded_on != NULL)
        put_element(b, 16, "awardedOn", t->awarded_on);
    if (is_set(t->original_grade))
        put_element(b, 16, "grade", t->original_grade);
    if (t->has_original_ects && number_format(t->original_ects, num) == 0)
        put_element(b, 16, "ects", num);
    buf_puts(b, "              </recognisedFrom>\n"
                "            </recognition>\n"
                "          </extension>\n");
}

/* The learner's relation to the node: the schema's order is identifier, date, status,
 * resultLabel, credit, level, ..., extension. */
static void write_instance(struct buf *b, const struct rec_transfer *t)
{
    char num[48];

    buf_puts(b, "      <specifies>\n        <learningOpportunityInstance>\n");
    if (is_set(t->id))
        put_identifier(b, 10, "mcx-credit-transfer", t->id);
    /* "the date on which the student finished studying": the award, else the decision */
    if (t->awarded_on != NULL)
        put_element(b, 10, "date", t->awarded_on);
    else if (t->decided_at != NULL)
        buf_printf(b, "          <date>%.10s</date>\n", t->decided_at);
    put_element(b, 10, "status", "passed");
    if (is_set(t->grade))
        put_element(b, 10, "resultLabel", t->grade);
    if (t->has_credits && number_format(t->credits, num) == 0)
        buf_printf(b,
                   "          <credit>\n            <scheme>ects</scheme>\n"
                   "            <value>%s</value>\n          </credit>\n",
                   num);
    if (t->eqf > 0)
        buf_printf(b,
                   "          <level>\n            <type>EQF</type>\n"
                   "            <value>%d</value>\n          </level>\n",
                   t->eqf);
    write_extension(b, t);
    buf_puts(b, "        </learningOpportunityInstance>\n      </specifies>\n");
}

/*
 * "Course": EMREX's smallest entity that earns ECTS credits, which is what one
 * recognised credential is; nothing says it has parts, so "Module" would claim more.
 */
static void write_los(struct buf *b, const struct rec_home *h, const struct rec_transfer *t)
{
    buf_puts(b, "    <learningOpportunitySpecification>\n");
    if (is_set(t->offer_id))
        put_identifier(b, 6, "mcx-offer", t->offer_id);
    write_title(b, t);
    put_element(b, 6, "type", "Course");
    if (is_set(t->isced))
        put_element(b, 6, "iscedCode", t->isced);
    write_description(b, h, t);
    write_instance(b, t);
    buf_puts(b, "    </learningOpportunitySpecification>\n");
}

int rec_export_elmo(const struct rec_learner *l, const struct rec_home *h,
                    const struct rec_transfer *t, size_t n, const char *generated, struct buf *out,
                    struct mcx_error *err)
{
    struct mcx_error local;

    if (err == NULL)
        err = &local;
    mcx_error_clear(err);
    if (elmo_check(h, t, n, generated, err) < 0)
        return -1;
    buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<elmo xmlns=\"" REC_ELMO_NS "\">\n");
    put_element(out, 2, "generatedDate", generated);
    write_learner(out, l);
    buf_puts(out, "  <report>\n");
    write_issuer(out, h);
    for (size_t i = 0; i < n; i++)
        if (outcome_parse(t[i].outcome) != OUT_NOT_RECOGNISED)
            write_los(out, h, &t[i]);
    /* the report is issued now, like the document: most servers' issueDate (schema) */
    put_element(out, 4, "issueDate", generated);
    buf_puts(out, "  </report>\n</elmo>\n");
    return 0;
}

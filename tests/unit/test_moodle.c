/*
 * test_moodle.c — the Moodle gradebook import (issuance/moodle.h): a realistic 500-row
 * export with a dozen broken rows (issue 10, acceptance 1), the dialects Moodle and
 * spreadsheets write (BOM, separators, decimal comma, quoting, Surname), column
 * mappings, pass rules, idempotency keys, and hostile files refused with a reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuance/moodle.h"

#define OFFER "8f0c2a4e-1b7d-4c1e-9a55-3f0d6c1e2b77"

/* What grade/export/txt writes (PHP fputcsv: a cell with a space is quoted). */
#define MOODLE_HEADER                                                                              \
    "\"First name\",\"Last name\",\"ID number\",Institution,Department,\"Email address\","         \
    "\"Assignment: Essay (Real)\",\"Quiz: Final test (Real)\",\"Course total (Real)\","            \
    "\"Last downloaded from this course\"\n"

static const char *const given_names[] = {"Eglė",  "Jonas", "Ąžuolas", "María", "Zoë",    "Ieva",
                                          "Tomas", "Laura", "Oriol",   "Rūta",  "Mantas", "Núria"};
static const char *const family_names[] = {"Kazlauskaitė", "Petrauskas",       "O'Brien",
                                           "García",       "\"van der Berg\"", "Šimkus",
                                           "Puig",         "Žukauskas"};

static const struct moodle_row *row_at(const struct moodle_import *imp, size_t rowno)
{
    for (size_t i = 0; i < imp->nrows; i++)
        if (imp->rows[i].row == rowno)
            return &imp->rows[i];
    fail_msg("no row %zu", rowno);
    return NULL;
}

static struct moodle_pass_rule rule(const char *text, char storage[MOODLE_PASS_STORAGE_SIZE])
{
    struct moodle_pass_rule r;
    struct mcx_error err;

    if (moodle_pass_rule_parse(text, &r, storage, MOODLE_PASS_STORAGE_SIZE, &err) != 0)
        fail_msg("pass rule %s: %s", text, err.message);
    return r;
}

/* Parses s with Moodle's headers and a pass mark of 60; asserts success. */
static void parse_ok(const char *s, const char *pass_mark, struct moodle_import *imp)
{
    char storage[MOODLE_PASS_STORAGE_SIZE];
    struct moodle_pass_rule r = rule(pass_mark, storage);
    struct mcx_error err;

    if (moodle_import_parse(s, strlen(s), OFFER, NULL, &r, 0, imp, &err) != 0)
        fail_msg("parse: %s: %s (line %d)", err.code, err.message, err.line);
}

/* Parses s[0..len) and asserts the file is refused with a message holding want. */
static void parse_refused(const char *s, size_t len, const char *want, int line)
{
    struct moodle_import imp;
    struct mcx_error err;

    assert_int_equal(moodle_import_parse(s, len, OFFER, NULL, NULL, 0, &imp, &err), -1);
    assert_string_equal(err.code, "invalid_csv");
    if (strstr(err.message, want) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err.message, want);
    if (line > 0)
        assert_int_equal(err.line, line);
    assert_null(imp.rows);
    assert_int_equal(imp.nrows, 0);
    moodle_import_cleanup(&imp);
}

static void assert_row(const struct moodle_import *imp, size_t rowno, enum moodle_row_status status,
                       const char *reason)
{
    const struct moodle_row *r = row_at(imp, rowno);

    if (r->status != status)
        fail_msg("row %zu: status %s, want %s (%s)", rowno, moodle_row_status_name(r->status),
                 moodle_row_status_name(status), r->reason);
    if (reason != NULL && strstr(r->reason, reason) == NULL)
        fail_msg("row %zu: reason \"%s\" lacks \"%s\"", rowno, r->reason, reason);
}

static size_t count(const struct moodle_import *imp, enum moodle_row_status s)
{
    size_t n = 0;

    for (size_t i = 0; i < imp->nrows; i++)
        n += imp->rows[i].status == s;
    return n;
}

/* ---- the 500-row export (acceptance 1) ---- */

/*
 * 500 learners, all passing a mark of 60 but for 12 rows broken in 12 ways. The row
 * numbers are spread so that an off-by-one anywhere shows.
 */
static char *export_500(size_t *len)
{
    struct buf b;

    buf_init(&b);
    buf_puts(&b, MOODLE_HEADER);
    for (int i = 1; i <= 500; i++) {
        char email[96], grade[32], tail[32];
        const char *given = given_names[i % MCX_ARRAY_LEN(given_names)];
        const char *family = family_names[i % MCX_ARRAY_LEN(family_names)];
        const char *extra = "";

        snprintf(email, sizeof(email), "student%d@stud.vdu.lt", i);
        snprintf(grade, sizeof(grade), "%.2f", 60.0 + (i * 7) % 40 + 0.25);
        snprintf(tail, sizeof(tail), "1717082400");
        switch (i) {
        case 7:
            email[0] = '\0';
            break;
        case 31:
            snprintf(email, sizeof(email), "student31(at)stud.vdu.lt");
            break;
        case 58:
            snprintf(grade, sizeof(grade), "-");
            break;
        case 77:
            snprintf(grade, sizeof(grade), "abc");
            break;
        case 101:
            snprintf(grade, sizeof(grade), "45.00");
            break;
        case 150:
            snprintf(email, sizeof(email), "STUDENT3@Stud.VDU.lt");
            break;
        case 199:
            extra = ",surplus";
            break;
        case 230:
            given = "";
            family = "";
            break;
        case 260:
            snprintf(email, sizeof(email), "student 260@stud.vdu.lt");
            break;
        case 333:
            snprintf(grade, sizeof(grade), "85.00 %%");
            break;
        case 401:
            tail[0] = '\0';
            break;
        case 477:
            snprintf(grade, sizeof(grade), "59.99");
            break;
        }
        buf_printf(&b, "%s,%s,S%04d,\"Vytautas Magnus University\",Informatics,%s,%.2f,%d.50,%s",
                   given, family, i, email, 70.0 + i % 30, 50 + i % 50, grade);
        if (i != 401)
            buf_printf(&b, ",%s", tail);
        buf_printf(&b, "%s\n", extra);
    }
    return buf_steal(&b, len);
}

static void test_export_500(void **state)
{
    struct moodle_import imp;
    char *csv;
    size_t len;

    (void)state;
    csv = export_500(&len);
    parse_ok(csv, "60", &imp);
    assert_int_equal(imp.nrows, 500);
    assert_int_equal(imp.ncolumns, 10);
    assert_string_equal(imp.grade_column, "Course total (Real)");
    assert_string_equal(imp.date_column, "Last downloaded from this course");
    assert_int_equal(count(&imp, MOODLE_ROW_OK), 488);
    assert_int_equal(count(&imp, MOODLE_ROW_BELOW_PASS_MARK), 2);
    assert_int_equal(count(&imp, MOODLE_ROW_INVALID), 10);

    assert_row(&imp, 7, MOODLE_ROW_INVALID,
               "no e-mail address in Email address: the credential cannot be delivered");
    assert_row(&imp, 31, MOODLE_ROW_INVALID,
               "Email address \"student31(at)stud.vdu.lt\" is not an e-mail address");
    assert_row(&imp, 58, MOODLE_ROW_INVALID, "no grade in Course total (Real)");
    assert_row(&imp, 77, MOODLE_ROW_INVALID,
               "grade \"abc\" in Course total (Real) is not a number");
    assert_row(&imp, 101, MOODLE_ROW_BELOW_PASS_MARK,
               "grade 45.00 in Course total (Real) is below the pass mark 60");
    assert_row(&imp, 150, MOODLE_ROW_INVALID, "the same learner as row 3");
    assert_row(&imp, 199, MOODLE_ROW_INVALID,
               "the row has 11 cells where the header has 10: a value holding a comma must be "
               "quoted");
    assert_row(&imp, 230, MOODLE_ROW_INVALID,
               "no learner name: First name and Last name are empty");
    assert_row(&imp, 260, MOODLE_ROW_INVALID, "\"student 260@stud.vdu.lt\" is not an e-mail");
    assert_row(&imp, 333, MOODLE_ROW_INVALID,
               "grade \"85.00 %\" in Course total (Real) is not a number");
    assert_row(&imp, 401, MOODLE_ROW_INVALID, "the row has 9 cells where the header has 10");
    assert_row(&imp, 477, MOODLE_ROW_BELOW_PASS_MARK,
               "grade 59.99 in Course total (Real) is below the pass mark 60");

    for (size_t i = 0; i < imp.nrows; i++) {
        const struct moodle_row *r = &imp.rows[i];
        assert_int_equal(r->row, i + 1);
        if (r->status != MOODLE_ROW_OK) {
            assert_true(r->reason[0] != '\0');
            continue;
        }
        assert_string_equal(r->reason, "");
        assert_non_null(r->given_name);
        assert_non_null(r->family_name);
        assert_non_null(r->email);
        assert_non_null(r->id_number);
        assert_non_null(r->grade);
        assert_true(r->has_grade_value);
        assert_true(r->grade_value >= 60);
        assert_string_equal(r->date, "2024-05-30");
        assert_int_equal(strlen(r->key), 64);
    }
    /* Row 5: i % 12 = 5 → Ieva, i % 8 = 5 → Šimkus; the quoted family name unquoted. */
    assert_string_equal(row_at(&imp, 5)->given_name, "Ieva");
    assert_string_equal(row_at(&imp, 4)->family_name, "van der Berg");
    assert_string_equal(row_at(&imp, 4)->email, "student4@stud.vdu.lt");
    assert_string_equal(row_at(&imp, 4)->id_number, "S0004");
    assert_string_equal(row_at(&imp, 4)->grade, "88.25");
    assert_true(row_at(&imp, 4)->grade_value == 88.25);
    /* The duplicate's key is the first row's: the e-mail is compared lowercased. */
    assert_string_equal(row_at(&imp, 150)->key, row_at(&imp, 3)->key);
    /* No e-mail: the key falls back to the ID number. */
    assert_int_equal(strlen(row_at(&imp, 7)->key), 64);
    moodle_import_cleanup(&imp);
    free(csv);
}

/* Re-importing the same file gives the same keys (the handler then queues nothing);
 * another offer gives other keys; a learner moved to another row keeps theirs. */
static void test_keys_stable(void **state)
{
    struct moodle_import a, b, c;
    struct mcx_error err;
    char *csv;
    size_t len;

    (void)state;
    csv = export_500(&len);
    parse_ok(csv, "60", &a);
    parse_ok(csv, "60", &b);
    assert_int_equal(moodle_import_parse(csv, len, "another-offer", NULL, NULL, 0, &c, &err), 0);
    assert_int_equal(a.nrows, c.nrows);
    for (size_t i = 0; i < a.nrows; i++) {
        assert_string_equal(a.rows[i].key, b.rows[i].key);
        if (a.rows[i].key[0] != '\0')
            assert_string_not_equal(a.rows[i].key, c.rows[i].key);
    }
    /* Every learner has their own key. */
    for (size_t i = 0; i < 20; i++)
        for (size_t j = i + 1; j < 20; j++)
            if (j + 1 != 150)
                assert_string_not_equal(a.rows[i].key, a.rows[j].key);
    moodle_import_cleanup(&a);
    moodle_import_cleanup(&b);
    moodle_import_cleanup(&c);
    free(csv);

    parse_ok("First name,Last name,Email address,Course total (Real)\n"
             "Ann,Lee,ann@example.org,70\nBob,Ray,bob@example.org,80\n",
             NULL, &a);
    parse_ok("Email address,Course total (Real),First name,Last name\n"
             "BOB@example.org,80,Bob,Ray\nann@EXAMPLE.org,70,Ann,Lee\n",
             NULL, &b);
    assert_string_equal(a.rows[0].key, b.rows[1].key);
    assert_string_equal(a.rows[1].key, b.rows[0].key);
    moodle_import_cleanup(&a);
    moodle_import_cleanup(&b);
}

/* ---- dialects ---- */

static void test_bom_crlf(void **state)
{
    struct moodle_import imp;

    (void)state;
    parse_ok(
        "\xEF\xBB\xBF\"First name\",\"Last name\",\"Email address\",\"Course total (Real)\"\r\n"
        "Eglė,Kazlauskaitė,egle@vdu.lt,91.00\r\n"
        "Jonas,Petrauskas,jonas@vdu.lt,61.50\r\n",
        "60", &imp);
    assert_int_equal(imp.nrows, 2);
    assert_int_equal(count(&imp, MOODLE_ROW_OK), 2);
    assert_string_equal(imp.rows[0].given_name, "Eglė");
    assert_string_equal(imp.rows[1].grade, "61.50");
    assert_string_equal(imp.rows[1].date, "");
    assert_string_equal(imp.date_column, "");
    moodle_import_cleanup(&imp);
}

/* A Lithuanian Moodle: semicolons (Excel's separator where ',' is the decimal mark) and
 * grades written with a decimal comma. */
static void test_semicolon_decimal_comma(void **state)
{
    struct moodle_import imp;

    (void)state;
    parse_ok("\"First name\";\"Last name\";\"ID number\";\"Email address\";"
             "\"Quiz: Final test (Real)\";\"Course total (Real)\";"
             "\"Last downloaded from this course\"\n"
             "Rūta;Šimkutė;;ruta@ktu.lt;7,50;85,50;1717082400\n"
             "Mantas;Žukauskas;S2;mantas@ktu.lt;-;59,99;1717082400\n",
             "60", &imp);
    assert_int_equal(imp.ncolumns, 7);
    assert_row(&imp, 1, MOODLE_ROW_OK, NULL);
    assert_true(imp.rows[0].grade_value == 85.5);
    assert_string_equal(imp.rows[0].grade, "85,50");
    assert_null(imp.rows[0].id_number);
    assert_row(&imp, 2, MOODLE_ROW_BELOW_PASS_MARK, "grade 59,99 in Course total (Real)");
    moodle_import_cleanup(&imp);
}

static void test_tab_and_colon(void **state)
{
    struct moodle_import imp;

    (void)state;
    parse_ok("First name\tLast name\tEmail address\tAssignment: Essay (Real)\tCourse total "
             "(Real)\n"
             "Ann\tLee, Jr.\tann@example.org\t50\t75\n",
             "60", &imp);
    assert_int_equal(imp.ncolumns, 5);
    assert_row(&imp, 1, MOODLE_ROW_OK, NULL);
    assert_string_equal(imp.rows[0].family_name, "Lee, Jr.");
    moodle_import_cleanup(&imp);

    /* Colon: fputcsv quotes the grade items, which hold the separator. */
    parse_ok("First name:Last name:Email address:\"Assignment: Essay (Real)\":\"Course total "
             "(Real)\"\n"
             "Ann:Lee:ann@example.org:50:75\n",
             "60", &imp);
    assert_int_equal(imp.ncolumns, 5);
    assert_row(&imp, 1, MOODLE_ROW_OK, NULL);
    assert_true(imp.rows[0].grade_value == 75);
    moodle_import_cleanup(&imp);

    /* Unquoted colons in a comma file do not fool the detection. */
    parse_ok("First name,Last name,Email address,Quiz: A (Real),Quiz: B (Real),Quiz: C "
             "(Real),Course total (Real)\n"
             "Ann,Lee,ann@example.org,1,2,3,75\n",
             "60", &imp);
    assert_int_equal(imp.ncolumns, 7);
    assert_row(&imp, 1, MOODLE_ROW_OK, NULL);
    moodle_import_cleanup(&imp);
}

static void test_quoting(void **state)
{
    struct moodle_import imp;

    (void)state;
    parse_ok(MOODLE_HEADER
             "\"Anne, Marie\",\"O\"\"Neil\",S1,\"A, B and C\",\"Dept\nof\nData\",a@x.org,1,2,70,"
             "1717082400\n"
             "\"Jo\\\"hn\",Smith,S2,,,j@x.org,1,2,80,1717082400\n"
             "\"\",Quiet,S3,,,\"q@x.org\",\"1\",\"2\",\"90\",\"1717082400\"\n"
             "Bob,\"Ray\nJr\",S4,,,b@x.org,1,2,80,1717082400\n",
             "60", &imp);
    assert_int_equal(imp.nrows, 4);
    assert_row(&imp, 1, MOODLE_ROW_OK, NULL);
    assert_string_equal(imp.rows[0].given_name, "Anne, Marie");
    assert_string_equal(imp.rows[0].family_name, "O\"Neil");
    /* PHP's fputcsv leaves \" undoubled; Moodle's export keeps it that way. */
    assert_row(&imp, 2, MOODLE_ROW_OK, NULL);
    assert_string_equal(imp.rows[1].given_name, "Jo\\\"hn");
    assert_row(&imp, 3, MOODLE_ROW_OK, NULL);
    assert_null(imp.rows[2].given_name);
    assert_string_equal(imp.rows[2].family_name, "Quiet");
    /* A line break inside a name is no name to print on a credential. */
    assert_row(&imp, 4, MOODLE_ROW_INVALID, "Last name \"Ray Jr\" holds a line break");
    moodle_import_cleanup(&imp);
}

static void test_surname_and_blank_lines(void **state)
{
    struct moodle_import imp;

    (void)state;
    parse_ok("\n\nFirst name,Surname,Email address,Course total (Real)\n"
             "Ann,Lee,ann@example.org,70\n"
             "\n"
             ",,,\n"
             "Bob,Ray,bob@example.org,80\n"
             "\r\n",
             NULL, &imp);
    /* Blank lines are no rows but keep their numbers: Bob is the spreadsheet's line 5. */
    assert_int_equal(imp.nrows, 2);
    assert_int_equal(imp.rows[0].row, 1);
    assert_int_equal(imp.rows[1].row, 4);
    assert_string_equal(imp.rows[1].family_name, "Ray");
    assert_int_equal(count(&imp, MOODLE_ROW_OK), 2);
    moodle_import_cleanup(&imp);

    /* Only a family name: fine. Header only: no rows. */
    parse_ok("Last name,Email address,Course total (Real)\nLee,ann@example.org,70\n", NULL, &imp);
    assert_row(&imp, 1, MOODLE_ROW_OK, NULL);
    moodle_import_cleanup(&imp);
    parse_ok("Last name,Email address,Course total (Real)\n", NULL, &imp);
    assert_int_equal(imp.nrows, 0);
    moodle_import_cleanup(&imp);
    parse_ok("First name,Email address,Course total (Real)\n,ann@example.org,70\n", NULL, &imp);
    assert_row(&imp, 1, MOODLE_ROW_INVALID, "no learner name: First name is empty");
    moodle_import_cleanup(&imp);
}

static void test_custom_mapping(void **state)
{
    static const char csv[] = "Vardas;Pavardė;El. paštas;Galutinis įvertinimas;Baigta\n"
                              "Ieva;Jonaitė;ieva@vdu.lt;9;2024-06-14\n"
                              "Tomas;Kairys;tomas@vdu.lt;4;14/06/2024\n";
    struct moodle_mapping map = {.given_name = "vardas",
                                 .family_name = " Pavardė ",
                                 .email = "El. paštas",
                                 .grade = "Galutinis įvertinimas",
                                 .date = "Baigta"};
    char storage[MOODLE_PASS_STORAGE_SIZE];
    struct moodle_pass_rule r = rule("5", storage);
    struct moodle_import imp;
    struct mcx_error err;

    (void)state;
    assert_int_equal(moodle_import_parse(csv, strlen(csv), OFFER, &map, &r, 0, &imp, &err), 0);
    assert_string_equal(imp.grade_column, "Galutinis įvertinimas");
    assert_string_equal(imp.date_column, "Baigta");
    assert_row(&imp, 1, MOODLE_ROW_OK, NULL);
    assert_string_equal(imp.rows[0].date, "2024-06-14");
    assert_row(&imp, 2, MOODLE_ROW_BELOW_PASS_MARK,
               "grade 4 in Galutinis įvertinimas is below the pass mark 5");
    assert_string_equal(imp.rows[1].date, "2024-06-14");
    moodle_import_cleanup(&imp);

    /* A mapped column must be there; the message shows what is. */
    map.id_number = "Studento Nr.";
    assert_int_equal(moodle_import_parse(csv, strlen(csv), OFFER, &map, &r, 0, &imp, &err), -1);
    assert_string_equal(err.code, "invalid_csv");
    assert_non_null(strstr(err.message, "no column \"Studento Nr.\" (ID number, as mapped)"));
    assert_non_null(strstr(err.message, "\"Vardas\", \"Pavardė\", \"El. paštas\""));
    assert_int_equal(err.line, 1);
}

static void test_missing_columns(void **state)
{
    struct moodle_import imp;
    struct mcx_error err;
    static const char no_email[] = "First name,Last name,Course total (Real)\nAnn,Lee,70\n";
    static const char no_grade[] = "First name,Last name,Email address,Quiz: A (Real)\n";
    static const char no_name[] = "ID number,Email address,Course total (Real)\n";
    static const char twice[] = "First name,Email address,Email address,Course total (Real)\n";

    (void)state;
    parse_refused(no_email, strlen(no_email), "no e-mail column \"Email address\"", 1);
    parse_refused(no_email, strlen(no_email),
                  "The header (line 1) has: \"First name\", \"Last name\", \"Course total (Real)\"",
                  1);
    parse_refused(no_grade, strlen(no_grade), "no grade column \"Course total (Real)\"", 1);
    parse_refused(no_name, strlen(no_name), "no name column", 1);
    parse_refused(twice, strlen(twice), "two columns are named \"Email address\"", 1);

    /* Any course total will do when the usual ones are absent. */
    parse_ok("First name,Email address,Course total (Real (letter))\nAnn,a@x.org,70 (C)\n", NULL,
             &imp);
    assert_string_equal(imp.grade_column, "Course total (Real (letter))");
    assert_row(&imp, 1, MOODLE_ROW_OK, NULL);
    assert_false(imp.rows[0].has_grade_value);
    moodle_import_cleanup(&imp);
    assert_int_equal(moodle_import_parse("x", 1, NULL, NULL, NULL, 0, &imp, &err), -1);
    assert_string_equal(err.code, "invalid_argument");
}

/* ---- grades and pass rules ---- */

static void test_pass_rule_parse(void **state)
{
    char storage[MOODLE_PASS_STORAGE_SIZE];
    struct moodle_pass_rule r;
    struct mcx_error err;
    char many[200] = "A";

    (void)state;
    assert_int_equal(moodle_pass_rule_parse(NULL, &r, storage, sizeof(storage), &err), 0);
    assert_int_equal(r.kind, MOODLE_PASS_NONE);
    assert_int_equal(moodle_pass_rule_parse("  ", &r, storage, sizeof(storage), &err), 0);
    assert_int_equal(r.kind, MOODLE_PASS_NONE);
    r = rule("60", storage);
    assert_int_equal(r.kind, MOODLE_PASS_NUMBER);
    assert_true(r.min == 60);
    r = rule(" 59.5 ", storage);
    assert_true(r.kind == MOODLE_PASS_NUMBER && r.min == 59.5);
    r = rule("60%", storage);
    assert_true(r.kind == MOODLE_PASS_PERCENT && r.min == 60);
    r = rule("72.5 %", storage);
    assert_true(r.kind == MOODLE_PASS_PERCENT && r.min == 72.5);
    r = rule("A, B+ ,B", storage);
    assert_int_equal(r.kind, MOODLE_PASS_LETTERS);
    assert_int_equal(r.nletters, 3);
    assert_string_equal(r.letters[0], "A");
    assert_string_equal(r.letters[1], "B+");
    assert_string_equal(r.letters[2], "B");
    r = rule("10,9", storage); /* letters: ',' is never a decimal mark here */
    assert_int_equal(r.kind, MOODLE_PASS_LETTERS);
    assert_int_equal(r.nletters, 2);
    r = rule("Pass", storage);
    assert_true(r.kind == MOODLE_PASS_LETTERS && r.nletters == 1);

    const char *bad[] = {"101%",     "-1%",  "%",
                         "abc%",     "A,,B", ",A",
                         "A,",       "1e3%", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                         "A\tB\x01", "\xff"};
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad); i++) {
        if (moodle_pass_rule_parse(bad[i], &r, storage, sizeof(storage), &err) != -1)
            fail_msg("pass rule \"%s\" taken", bad[i]);
        assert_string_equal(err.code, "invalid_parameter");
        assert_string_equal(err.path, "pass_mark");
    }
    for (int i = 0; i < 32; i++)
        strcat(many, ",A");
    assert_int_equal(moodle_pass_rule_parse(many, &r, storage, sizeof(storage), &err), -1);
    assert_non_null(strstr(err.message, "more than 32 letters"));
    assert_int_equal(moodle_pass_rule_parse("A,B", &r, storage, 8, &err), -1);
    assert_string_equal(err.code, "invalid_argument");
}

static void test_percent_rule(void **state)
{
    static const char csv[] = "First name,Last name,Email address,\"Course total (Real)\","
                              "\"Course total (Percentage)\",\"Course total (Letter)\"\n"
                              "Ann,Lee,ann@x.org,170.00,\"85.00 %\",B\n"
                              "Bob,Ray,bob@x.org,110.00,\"55,00 %\",D\n"
                              "Cy,Fox,cy@x.org,120.00,60.00%,C\n"
                              "Di,Orr,di@x.org,120.00,60.00,C\n";
    struct moodle_import imp;

    (void)state;
    /* A percentage rule reads the (Percentage) total though (Real) comes first. */
    parse_ok(csv, "60%", &imp);
    assert_string_equal(imp.grade_column, "Course total (Percentage)");
    assert_row(&imp, 1, MOODLE_ROW_OK, NULL);
    assert_true(imp.rows[0].grade_value == 85);
    assert_string_equal(imp.rows[0].grade, "85.00 %");
    assert_row(&imp, 2, MOODLE_ROW_BELOW_PASS_MARK,
               "grade 55,00 % in Course total (Percentage) is below the pass mark 60%");
    assert_row(&imp, 3, MOODLE_ROW_OK, NULL);
    assert_row(&imp, 4, MOODLE_ROW_INVALID,
               "grade \"60.00\" in Course total (Percentage) is not a percentage");
    moodle_import_cleanup(&imp);

    /* A number rule reads (Real): 170 out of 200 passes 115. */
    parse_ok(csv, "115", &imp);
    assert_string_equal(imp.grade_column, "Course total (Real)");
    assert_int_equal(count(&imp, MOODLE_ROW_OK), 3);
    assert_row(&imp, 2, MOODLE_ROW_BELOW_PASS_MARK,
               "grade 110.00 in Course total (Real) is below the pass mark 115");
    moodle_import_cleanup(&imp);
}

static void test_percent_rule_mismatch(void **state)
{
    static const char csv[] = "First name,Email address,Score\nAnn,ann@x.org,85\n";
    struct moodle_mapping map = {.grade = "Score"};
    char storage[MOODLE_PASS_STORAGE_SIZE];
    struct moodle_pass_rule r = rule("60%", storage);
    struct moodle_import imp;
    struct mcx_error err;

    (void)state;
    assert_int_equal(moodle_import_parse(csv, strlen(csv), OFFER, &map, &r, 0, &imp, &err), 0);
    assert_row(&imp, 1, MOODLE_ROW_INVALID,
               "grade \"85\" in Score is not a percentage, which the pass mark 60% needs");
    moodle_import_cleanup(&imp);
    r = rule("60", storage);
    static const char pct[] = "First name,Email address,Score\nAnn,ann@x.org,85 %\n";
    assert_int_equal(moodle_import_parse(pct, strlen(pct), OFFER, &map, &r, 0, &imp, &err), 0);
    assert_row(&imp, 1, MOODLE_ROW_INVALID, "is not a number, which the pass mark 60 needs");
    moodle_import_cleanup(&imp);
}

static void test_letter_rule(void **state)
{
    static const char csv[] = "First name,Email address,Course total (Real),Course total (Letter)\n"
                              "Ann,ann@x.org,90,A\n"
                              "Bob,bob@x.org,80,b+\n"
                              "Cy,cy@x.org,50,D\n"
                              "Di,di@x.org,-,-\n";
    struct moodle_import imp;

    (void)state;
    parse_ok(csv, "A,B+,B", &imp);
    assert_string_equal(imp.grade_column, "Course total (Letter)");
    assert_row(&imp, 1, MOODLE_ROW_OK, NULL);
    assert_false(imp.rows[0].has_grade_value);
    assert_row(&imp, 2, MOODLE_ROW_OK, NULL); /* letters compare case-insensitively */
    assert_row(&imp, 3, MOODLE_ROW_BELOW_PASS_MARK,
               "grade D in Course total (Letter) is not one of the passing letters A, B+, B");
    assert_row(&imp, 4, MOODLE_ROW_INVALID, "no grade in Course total (Letter)");
    moodle_import_cleanup(&imp);

    /* Letters against numbers: a mistake to show, unless the letters are numbers. */
    struct moodle_mapping map = {.grade = "Final"};
    char storage[MOODLE_PASS_STORAGE_SIZE];
    struct moodle_pass_rule r = rule("A,B", storage);
    struct mcx_error err;
    static const char nums[] = "First name,Email address,Final\nAnn,ann@x.org,9\n";
    assert_int_equal(moodle_import_parse(nums, strlen(nums), OFFER, &map, &r, 0, &imp, &err), 0);
    assert_row(&imp, 1, MOODLE_ROW_INVALID,
               "grade \"9\" in Final is a number, and the pass mark lists letters (A, B)");
    moodle_import_cleanup(&imp);
    r = rule("10,9,8", storage);
    static const char ten[] = "First name,Email address,Final\nAnn,ann@x.org,9\nBob,b@x.org,4\n";
    assert_int_equal(moodle_import_parse(ten, strlen(ten), OFFER, &map, &r, 0, &imp, &err), 0);
    assert_row(&imp, 1, MOODLE_ROW_OK, NULL);
    assert_row(&imp, 2, MOODLE_ROW_BELOW_PASS_MARK, "not one of the passing letters 10, 9, 8");
    moodle_import_cleanup(&imp);
}

static void test_grade_values(void **state)
{
    struct moodle_import imp;

    (void)state;
    parse_ok("First name,Email address,Course total (Real)\n"
             "A,a@x.org,-\n"
             "B,b@x.org,\n"
             "C,c@x.org,1e3\n"
             "D,d@x.org,\"1,234.5\"\n"
             "E,e@x.org,.5\n"
             "F,f@x.org,-5.5\n"
             "G,g@x.org,0\n"
             "H,h@x.org,1234567890123456789012345678901234567890123456789012345678901234567890\n"
             "I,i@x.org,\"9,\"\n",
             NULL, &imp);
    assert_row(&imp, 1, MOODLE_ROW_INVALID, "no grade in Course total (Real)");
    assert_null(imp.rows[0].grade);
    assert_row(&imp, 2, MOODLE_ROW_INVALID, "no grade in Course total (Real)");
    assert_row(&imp, 3, MOODLE_ROW_INVALID, "\"1e3\" in Course total (Real) is not a number");
    assert_row(&imp, 4, MOODLE_ROW_INVALID, "is not a number");
    assert_row(&imp, 5, MOODLE_ROW_INVALID, "is not a number");
    assert_row(&imp, 6, MOODLE_ROW_OK, NULL);
    assert_true(imp.rows[5].grade_value == -5.5);
    assert_row(&imp, 7, MOODLE_ROW_OK, NULL);
    assert_row(&imp, 8, MOODLE_ROW_INVALID, "which is no grade");
    assert_row(&imp, 9, MOODLE_ROW_INVALID, "is not a number");
    moodle_import_cleanup(&imp);
}

/* ---- learners and dates ---- */

static void test_emails(void **state)
{
    static const char *const good[] = {"a@x.lt", "Ann.Lee+mcx@stud.vdu.lt", "o'brien@x-y.ie",
                                       "jūratė@pavyzdys.lt", "a@b.c.d.e"};
    static const char *const bad[] = {"a@x",     "@x.lt",    "a@@x.lt",   "a@b@x.lt", "a..b@x.lt",
                                      ".a@x.lt", "a.@x.lt",  "a@-x.lt",   "a@x-.lt",  "a@x..lt",
                                      "a@x.lt.", "a b@x.lt", "a(b)@x.lt", "a@x_y.lt", "a,b@x.lt"};
    struct moodle_import imp;
    struct buf b;

    (void)state;
    buf_init(&b);
    buf_puts(&b, "First name,Email address,Course total (Real)\n");
    for (size_t i = 0; i < MCX_ARRAY_LEN(good); i++)
        buf_printf(&b, "A,\"%s\",70\n", good[i]);
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad); i++)
        buf_printf(&b, "A,\"%s\",70\n", bad[i]);
    parse_ok(b.data, NULL, &imp);
    for (size_t i = 0; i < MCX_ARRAY_LEN(good); i++)
        assert_row(&imp, i + 1, MOODLE_ROW_OK, NULL);
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad); i++)
        assert_row(&imp, MCX_ARRAY_LEN(good) + i + 1, MOODLE_ROW_INVALID,
                   "is not an e-mail address");
    moodle_import_cleanup(&imp);
    buf_cleanup(&b);
}

static void test_dates(void **state)
{
    static const struct {
        const char *cell, *want;
    } cases[] = {
        {"1717082400", "2024-05-30"},
        {"1717113599", "2024-05-30"}, /* 23:59:59 UTC, whatever the server's zone */
        {"1717113600", "2024-05-31"},
        {"30/05/2024", "2024-05-30"},
        {"3/5/2024", "2024-05-03"},
        {"30/05/24", "2024-05-30"},
        {"30.05.2024", "2024-05-30"},
        {"2024-05-30", "2024-05-30"},
        {"2024-05-30 15:20:00", "2024-05-30"},
        {"2024-05-30T15:20:00Z", "2024-05-30"},
        {"Thursday, 30 May 2024, 03:20 PM", "2024-05-30"},
        {"Thursday, 30 May 2024, 3:20 PM", "2024-05-30"},
        {"1 September 2024", "2024-09-01"},
        {"Sun, 1 Sept. 2024", "2024-09-01"},
        {"31/02/2024", ""},
        {"2024-13-01", ""},
        {"30 Maybe 2024", ""},
        {"never", ""},
        {"-", ""},
        {"", ""},
        {"99999999999", ""}, /* year 5138 */
        {"123456789012", ""},
        {"30/05/2024x", ""},
    };
    struct moodle_import imp;
    struct buf b;

    (void)state;
    buf_init(&b);
    buf_puts(&b, "First name,Email address,Course total (Real),Last downloaded from this course\n");
    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++)
        buf_printf(&b, "A,a%zu@x.org,70,\"%s\"\n", i, cases[i].cell);
    parse_ok(b.data, NULL, &imp);
    assert_int_equal(imp.nrows, MCX_ARRAY_LEN(cases));
    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        if (strcmp(imp.rows[i].date, cases[i].want) != 0)
            fail_msg("date \"%s\": got \"%s\", want \"%s\"", cases[i].cell, imp.rows[i].date,
                     cases[i].want);
        assert_int_equal(imp.rows[i].status, MOODLE_ROW_OK); /* no date is no fault */
    }
    moodle_import_cleanup(&imp);
    buf_cleanup(&b);
}

static void test_status_names(void **state)
{
    (void)state;
    assert_string_equal(moodle_row_status_name(MOODLE_ROW_OK), "queued");
    assert_string_equal(moodle_row_status_name(MOODLE_ROW_BELOW_PASS_MARK), "below_pass_mark");
    assert_string_equal(moodle_row_status_name(MOODLE_ROW_INVALID), "invalid");
    assert_string_equal(moodle_row_status_name(MOODLE_ROW_ALREADY_ISSUED), "already_issued");
}

/* ---- hostile files ---- */

static void test_refused_encodings(void **state)
{
    static const char nul[] = "First name,Email address,Course total (Real)\nAnn,a@x.org,7\0 0\n";
    static const char cp1252[] = "First name,Email address,Course total (Real)\n"
                                 "Ann,a@x.org,70\n"
                                 "Egl\xEB,e@x.org,70\n";
    static const char utf16[] = "\xFF\xFE"
                                "F\0i\0";
    static const char overlong[] = "First name,Email address\n\xC0\xAF\n";
    static const char surrogate[] = "First name,Email address\n\xED\xA0\x80\n";

    (void)state;
    parse_refused(nul, sizeof(nul) - 1, "line 2 holds a NUL byte", 2);
    parse_refused(cp1252, sizeof(cp1252) - 1, "line 3 is not UTF-8 (byte 0xEB)", 3);
    parse_refused(utf16, sizeof(utf16) - 1, "UTF-16", 1);
    parse_refused(overlong, sizeof(overlong) - 1, "not UTF-8", 2);
    parse_refused(surrogate, sizeof(surrogate) - 1, "not UTF-8", 2);
    parse_refused("", 0, "the file is empty", 0);
    parse_refused(NULL, 0, "the file is empty", 0);
    parse_refused("\xEF\xBB\xBF", 3, "the file is empty", 0);
    parse_refused("\n\r\n,,,\n  \n", 10, "the file is empty", 0);
}

static void test_refused_quotes(void **state)
{
    static const char open[] = "First name,Email address,Course total (Real)\n"
                               "Ann,a@x.org,70\n"
                               "\"Bob,b@x.org,70\n"
                               "Cy,c@x.org,70\n";
    static const char stray[] = "First name,Email address,Course total (Real)\n"
                                "Ann,a@x.org,70\n"
                                "\"Bob\"by,b@x.org,70\n";
    static const char header[] = "\"First name,Email address,Course total (Real)\n";

    (void)state;
    parse_refused(open, strlen(open), "the quoted value that opens on line 3 never closes", 3);
    parse_refused(stray, strlen(stray), "line 3: a \" inside the quoted value", 3);
    parse_refused(header, strlen(header), "never closes", 1);
}

static void test_refused_sizes(void **state)
{
    static const char head[] = "First name,Email address,Course total (Real)\n";
    struct moodle_import imp;
    struct mcx_error err;
    struct buf b;
    size_t big = 10u * 1024u * 1024u;

    (void)state;
    /* A 10 MB cell, quoted and not. */
    buf_init(&b);
    buf_puts(&b, head);
    buf_puts(&b, "Ann,a@x.org,\"");
    buf_reserve(&b, big);
    memset(b.data + b.len, 'x', big);
    b.len += big;
    buf_puts(&b, "\"\n");
    parse_refused(b.data, b.len, "line 2 holds a value longer than 1048576 bytes", 2);
    buf_reset(&b);
    buf_puts(&b, head);
    buf_puts(&b, "Ann,");
    buf_reserve(&b, big);
    memset(b.data + b.len, 'x', big);
    b.len += big;
    buf_puts(&b, "\n");
    parse_refused(b.data, b.len, "longer than", 2);

    /* 100k columns, in the header and in a row. */
    buf_reset(&b);
    for (int i = 0; i < 100000; i++)
        buf_printf(&b, "%sc%d", i ? "," : "", i);
    buf_puts(&b, "\n");
    parse_refused(b.data, b.len, "line 1 has more than 200 columns", 1);
    buf_reset(&b);
    buf_puts(&b, head);
    buf_puts(&b, "Ann,a@x.org,70\n");
    for (int i = 0; i < 100000; i++)
        buf_puts(&b, "x,");
    buf_puts(&b, "\n");
    parse_refused(b.data, b.len, "line 3 has more than 200 columns", 3);

    /* 200 columns are fine; the row count is capped. */
    buf_reset(&b);
    buf_puts(&b, "First name,Email address,Course total (Real)");
    for (int i = 3; i < MOODLE_MAX_COLUMNS; i++)
        buf_printf(&b, ",Quiz %d (Real)", i);
    buf_puts(&b, "\n");
    for (int r = 0; r < 6; r++) {
        buf_printf(&b, "A,a%d@x.org,70", r);
        for (int i = 3; i < MOODLE_MAX_COLUMNS; i++)
            buf_puts(&b, ",1");
        buf_puts(&b, "\n");
    }
    assert_int_equal(moodle_import_parse(b.data, b.len, OFFER, NULL, NULL, 6, &imp, &err), 0);
    assert_int_equal(imp.ncolumns, MOODLE_MAX_COLUMNS);
    assert_int_equal(count(&imp, MOODLE_ROW_OK), 6);
    moodle_import_cleanup(&imp);
    assert_int_equal(moodle_import_parse(b.data, b.len, OFFER, NULL, NULL, 5, &imp, &err), -1);
    assert_string_equal(err.code, "invalid_csv");
    assert_non_null(strstr(err.message, "more than 5 rows"));
    assert_int_equal(err.line, 7);
    buf_cleanup(&b);
}

/* Whatever a cell holds, a reason is one line of whole UTF-8 characters. */
static void test_reason_clipped(void **state)
{
    struct moodle_import imp;
    struct buf b;

    (void)state;
    buf_init(&b);
    buf_puts(&b, "First name,Email address,\"Course total (Real)\"\nAnn,a@x.org,\"");
    for (int i = 0; i < 200; i++)
        buf_puts(&b, "ž");
    buf_puts(&b, "\"\nBob,b@x.org,\"x\ny\"\n");
    parse_ok(b.data, NULL, &imp);
    assert_row(&imp, 1, MOODLE_ROW_INVALID, "\u2026\", which is no grade");
    assert_true(strlen(imp.rows[0].reason) < 120);
    assert_row(&imp, 2, MOODLE_ROW_INVALID, "holds \"x y\", which is no grade");
    moodle_import_cleanup(&imp);
    buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_export_500),
        cmocka_unit_test(test_keys_stable),
        cmocka_unit_test(test_bom_crlf),
        cmocka_unit_test(test_semicolon_decimal_comma),
        cmocka_unit_test(test_tab_and_colon),
        cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_surname_and_blank_lines),
        cmocka_unit_test(test_custom_mapping),
        cmocka_unit_test(test_missing_columns),
        cmocka_unit_test(test_pass_rule_parse),
        cmocka_unit_test(test_percent_rule),
        cmocka_unit_test(test_percent_rule_mismatch),
        cmocka_unit_test(test_letter_rule),
        cmocka_unit_test(test_grade_values),
        cmocka_unit_test(test_emails),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_refused_encodings),
        cmocka_unit_test(test_refused_quotes),
        cmocka_unit_test(test_refused_sizes),
        cmocka_unit_test(test_reason_clipped),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

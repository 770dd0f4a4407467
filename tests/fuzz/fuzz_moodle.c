/*
 * fuzz_moodle.c — libFuzzer harness for the Moodle gradebook import
 * (issuance/moodle.h): whatever the bytes, no crash, no leak, no overread; a refused
 * file leaves nothing behind; every row is classified consistently, every text that
 * reaches a report is one line of UTF-8, and a second parse gives the same answer.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "issuance/moodle.h"
#include "server/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what, size_t row)
{
    if (!ok) {
        fprintf(stderr, "fuzz_moodle: %s (row %zu)\n", what, row);
        abort();
    }
}

/* What a report or a credential carries: whole UTF-8, and on one line for reasons. */
static bool text_ok(const char *s, bool one_line)
{
    if (s == NULL)
        return true;
    if (!utf8_is_valid(s, strlen(s)))
        return false;
    for (; one_line && *s != '\0'; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return false;
    return true;
}

static bool key_ok(const char *k)
{
    return k[0] == '\0' || (strlen(k) == 64 && strspn(k, "0123456789abcdef") == 64);
}

static void row_check(const struct moodle_row *r, size_t prev, size_t max_rows)
{
    check(r->row > prev && r->row >= 1, "row numbers not increasing", r->row);
    check(r->status == MOODLE_ROW_OK || r->status == MOODLE_ROW_BELOW_PASS_MARK ||
              r->status == MOODLE_ROW_INVALID,
          "status", r->row);
    check(text_ok(r->reason, true), "reason not one line of UTF-8", r->row);
    check((r->status == MOODLE_ROW_OK) == (r->reason[0] == '\0'), "reason vs status", r->row);
    check(text_ok(r->given_name, false) && text_ok(r->family_name, false) &&
              text_ok(r->email, false) && text_ok(r->id_number, false) && text_ok(r->grade, false),
          "cell not UTF-8", r->row);
    check(r->date[0] == '\0' || mcx_date_is_valid(r->date), "date", r->row);
    check(key_ok(r->key), "key", r->row);
    if (r->status == MOODLE_ROW_OK) {
        check(r->given_name != NULL || r->family_name != NULL, "ok without a name", r->row);
        check(r->email != NULL && strchr(r->email, '@') != NULL, "ok without e-mail", r->row);
        check(r->grade != NULL && r->key[0] != '\0', "ok without grade or key", r->row);
        check(text_ok(r->given_name, true) && text_ok(r->family_name, true) &&
                  text_ok(r->email, true),
              "ok with a control character", r->row);
    }
    (void)max_rows;
}

static void same(const struct moodle_import *a, const struct moodle_import *b)
{
    check(a->nrows == b->nrows && a->ncolumns == b->ncolumns &&
              strcmp(a->grade_column, b->grade_column) == 0,
          "second parse differs", 0);
    for (size_t i = 0; i < a->nrows; i++) {
        const struct moodle_row *x = &a->rows[i], *y = &b->rows[i];
        check(x->row == y->row && x->status == y->status && strcmp(x->reason, y->reason) == 0 &&
                  strcmp(x->key, y->key) == 0 && strcmp(x->date, y->date) == 0,
              "second parse differs", x->row);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const rules[] = {NULL, "60", "60%", "A,B+,B", "10,9", "0"};
    static const struct moodle_mapping maps[] = {
        {0},
        {.given_name = "a", .family_name = "b", .email = "c", .grade = "d", .date = "e"},
        {.grade = "Course total (Letter)", .id_number = "ID number"},
    };
    char storage[MOODLE_PASS_STORAGE_SIZE];
    struct moodle_pass_rule rule;
    struct moodle_import imp, again;
    struct mcx_error err;
    size_t max_rows;
    uint8_t sel;
    int rc;

    if (size < 1)
        return 0;
    /* The first byte picks the options, so the corpus explores them too. */
    sel = data[0];
    data++;
    size--;
    if (moodle_pass_rule_parse(rules[sel % MCX_ARRAY_LEN(rules)], &rule, storage, sizeof(storage),
                               &err) != 0)
        abort();
    max_rows = (sel & 0x80) ? 3 : 0;
    const struct moodle_mapping *map = &maps[(sel >> 3) % MCX_ARRAY_LEN(maps)];

    rc = moodle_import_parse((const char *)data, size, "offer", map, &rule, max_rows, &imp, &err);
    if (rc != 0) {
        check(strcmp(err.code, "invalid_csv") == 0, "error code", 0);
        check(err.message[0] != '\0' && text_ok(err.message, true), "error message", 0);
        check(imp.rows == NULL && imp.nrows == 0, "refused file left rows", 0);
        moodle_import_cleanup(&imp);
        return 0;
    }
    check(imp.nrows <= (max_rows ? max_rows : MOODLE_DEFAULT_MAX_ROWS), "max_rows", 0);
    check(imp.ncolumns >= 1 && imp.ncolumns <= MOODLE_MAX_COLUMNS, "ncolumns", 0);
    check(text_ok(imp.grade_column, true) && imp.grade_column[0] != '\0', "grade column", 0);
    check(text_ok(imp.date_column, true), "date column", 0);
    for (size_t i = 0; i < imp.nrows; i++)
        row_check(&imp.rows[i], i ? imp.rows[i - 1].row : 0, max_rows);
    /* Queued learners are distinct: a learner is never queued twice from one file. */
    for (size_t i = 0; i < imp.nrows && imp.nrows <= 64; i++)
        for (size_t j = i + 1; j < imp.nrows; j++)
            check(imp.rows[i].status != MOODLE_ROW_OK || imp.rows[j].status != MOODLE_ROW_OK ||
                      strcmp(imp.rows[i].key, imp.rows[j].key) != 0,
                  "one learner queued twice", imp.rows[j].row);
    if (moodle_import_parse((const char *)data, size, "offer", map, &rule, max_rows, &again,
                            &err) != 0)
        check(false, "second parse failed", 0);
    same(&imp, &again);
    moodle_import_cleanup(&again);
    moodle_import_cleanup(&imp);
    return 0;
}

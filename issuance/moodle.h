/*
 * moodle.h — reads a Moodle gradebook export ("Export to plain text file") into
 * classified rows: who passed, who did not, which rows are broken and why. The
 * POST /api/v1/credentials/import handler calls it; no I/O and no database here.
 */
#ifndef MCX_MOODLE_H
#define MCX_MOODLE_H

#include <stdbool.h>
#include <stddef.h>

#include "server/util.h"

/* A gradebook export with more columns, or a cell this long, is no gradebook: the file is
 * refused. Moodle writes one column per grade item and display type, so 200 covers
 * courses with dozens of items while bounding the work per line. */
#define MOODLE_MAX_COLUMNS 200
#define MOODLE_MAX_FIELD_BYTES (1024u * 1024u)
/* max_rows 0 means this. */
#define MOODLE_DEFAULT_MAX_ROWS 100000u
/* Pass rules: at most this many letters of at most this many bytes; storage of
 * MOODLE_PASS_STORAGE_SIZE bytes always suffices. */
#define MOODLE_PASS_MAX_LETTERS 32
#define MOODLE_PASS_MAX_LETTER_BYTES 32
#define MOODLE_PASS_STORAGE_SIZE 2048

/* Column headers; every member is optional, NULL meaning Moodle's own header. A name
 * given here must be in the file. Headers compare case-insensitively, trimmed. */
struct moodle_mapping {
    const char *given_name;  /* default "First name" */
    const char *family_name; /* default "Last name", else "Surname" (older Moodle) */
    const char *email;       /* default "Email address" (also "E-mail address", "Email") */
    const char *id_number;   /* default "ID number" (optional) */
    const char *grade;       /* default: a "Course total (…)" column, see moodle_import_parse */
    const char *date;        /* default "Last downloaded from this course" (optional) */
};

enum moodle_pass {
    MOODLE_PASS_NONE,    /* every graded row passes */
    MOODLE_PASS_NUMBER,  /* a number >= min (a "(Real)" column) */
    MOODLE_PASS_PERCENT, /* a percentage >= min (a "(Percentage)" column) */
    MOODLE_PASS_LETTERS, /* one of letters (a "(Letter)" column) */
};

struct moodle_pass_rule {
    enum moodle_pass kind;
    double min;
    const char *const *letters; /* into the storage given to moodle_pass_rule_parse */
    size_t nletters;
};

/*
 * Parses a pass mark as the API takes it: NULL or "" (no rule), "60" or "59.5" (a number:
 * grade >= 60), "60%" or "60 %" (a percentage from 0 to 100), or "A,B+,B" (the letters
 * that pass, compared case-insensitively). '.' is the only decimal mark here — a comma
 * always separates letters, so "10,9" is two letters, not ten point nine. The letters
 * live in storage (MOODLE_PASS_STORAGE_SIZE bytes suffice), which must outlive out.
 * 0, or -1 with err "invalid_parameter" (path "pass_mark").
 */
int moodle_pass_rule_parse(const char *text, struct moodle_pass_rule *out, char *storage,
                           size_t storage_size, struct mcx_error *err);

enum moodle_row_status {
    MOODLE_ROW_OK,              /* passed: to be queued */
    MOODLE_ROW_BELOW_PASS_MARK, /* graded, but the grade does not pass the rule */
    MOODLE_ROW_INVALID,         /* something the teacher must fix; reason says what */
    MOODLE_ROW_ALREADY_ISSUED,  /* never set here: for the caller, who knows the registry */
};

struct moodle_row {
    size_t row; /* 1-based data row number (the header is row 0), as the report shows */
    enum moodle_row_status status;
    char reason[256]; /* below_pass_mark/invalid: one sentence naming the column and value */
    /* Owned, trimmed; NULL when the column is absent or the cell empty. */
    char *given_name, *family_name, *email, *id_number, *grade;
    double grade_value; /* a number or percentage grade as a number (85.5 for "85,50 %") */
    bool has_grade_value;
    char date[11]; /* YYYY-MM-DD from the date column when it reads as a date, else "" */
    /* Idempotency key: hex SHA-256 of offer_id "\n" "email:" lowercased e-mail (else
     * offer_id "\n" "id:" ID number; "" with neither). The same learner in a re-import,
     * whatever their row, gives the same key, so nothing is issued twice. */
    char key[65];
};

struct moodle_import {
    struct moodle_row *rows; /* every non-blank data row, in file order */
    size_t nrows;
    char grade_column[128]; /* the headers used, as written in the file */
    char date_column[128];  /* "" when the file has none */
    size_t ncolumns;        /* of the header */
};

/*
 * Parses a whole gradebook export: UTF-8 (a BOM is skipped), RFC 4180 quoting plus the
 * \" that PHP's fputcsv (which Moodle uses) leaves undoubled — a quote after an odd run
 * of backslashes is text —, CRLF, LF or CR line ends, the separator (comma, semicolon,
 * tab or colon — Moodle lets the teacher choose) detected from the header line: the one
 * that splits it into the most of Moodle's headers. Lines whose cells are all empty
 * are skipped but keep their number, so row R is the spreadsheet's line R+1.
 *
 * The grade column, unless mapped: "Course total (Real)", "Course total (Percentage)",
 * "Course total (Letter)", else the first column starting "Course total"; a percentage
 * rule tries "(Percentage)" first and a letters rule "(Letter)" first.
 *
 * Each row is checked in this order (the first failure is its reason): as many cells as
 * the header; a name (given or family); an e-mail address — required, since the
 * credential is delivered to it, so a row with only an ID number is invalid; not the
 * same e-mail as an earlier row (then invalid, "the same learner as row N"); a grade
 * ("-" is Moodle's "none"), of the column's kind when its header says "(Real)" or
 * "(Percentage)" and of the rule's kind; the pass rule. The date column is optional per
 * row: Unix seconds (UTC), d/m/Y, d.m.Y, Y-m-d or Moodle's English
 * "Thursday, 30 May 2024, 3:20 PM"; anything else leaves date "" (the caller uses today).
 *
 * offer_id: the offer the keys are for; map and pass may be NULL (defaults, no rule);
 * max_rows: data rows allowed (0: MOODLE_DEFAULT_MAX_ROWS).
 * 0 with every row classified (out to be cleaned up), or -1 with out empty and err
 * "invalid_csv" (err->line the line, when one is to blame) when the file is unusable:
 * not UTF-8 (or UTF-16), a NUL byte, no header, a column missing or named twice (the
 * message lists what was expected and the headers found), a quote never closed or a
 * stray quote inside a quoted cell, more than max_rows rows, a line wider than
 * MOODLE_MAX_COLUMNS or a cell longer than MOODLE_MAX_FIELD_BYTES;
 * err "invalid_argument" when offer_id is NULL.
 */
int moodle_import_parse(const char *csv, size_t len, const char *offer_id,
                        const struct moodle_mapping *map, const struct moodle_pass_rule *pass,
                        size_t max_rows, struct moodle_import *out, struct mcx_error *err);

/* Frees what moodle_import_parse allocated; a zeroed or failed import is fine. */
void moodle_import_cleanup(struct moodle_import *imp);

/* The status as the import report writes it: "queued", "below_pass_mark", "invalid",
 * "already_issued". */
const char *moodle_row_status_name(enum moodle_row_status s);

#endif

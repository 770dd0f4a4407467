/*
 * gen_load.c — loading the corpus (gen_load.h). Offers are made a chunk at a time,
 * exported as a LOQ document and published from it exactly as `mcx publish`
 * publishes a file: parsed and validated against the XSDs, duplicates rejected,
 * stored 500 at a time by store_put_many_sql in one transaction per document.
 *
 * Making and validating a chunk costs about as much CPU as PostgreSQL spends
 * storing one, so a producer thread prepares the next chunk while this thread
 * stores the current one (all XML work happens on the producer, all database work
 * here). They meet in a one-slot hand-over: at most three chunks exist at once,
 * so memory stays flat whatever N is.
 */
#include "catalogue/gen_load.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "catalogue/gen.h"
#include "catalogue/loq.h"
#include "catalogue/publish.h"
#include "catalogue/publish_cli.h"
#include "catalogue/store.h"
#include "catalogue/words.h"
#include "server/db.h"
#include "server/json.h"

#define MAX_ERRORS_SHOWN 10

/* The statement of `mcx institution add` (server/cli.c), minus the error when it exists. */
static const char institution_add_sql[] =
    "WITH ins AS ("
    " INSERT INTO institutions (id, name, country, is_home)"
    " VALUES ($1, jsonb_build_object('en', $2::text), $3, false)"
    " ON CONFLICT (id) DO NOTHING RETURNING *)"
    " INSERT INTO audit_log (actor, action, entity, entity_id, after_hash, details)"
    " SELECT $4, 'create', 'institution', ins.id, audit_hash(to_jsonb(ins)),"
    "  jsonb_build_object('name', ins.name, 'country', ins.country, 'is_home', ins.is_home)"
    " FROM ins RETURNING entity_id";

/* One chunk of one institution, made and parsed by the producer. */
struct job {
    size_t k;     /* institution */
    size_t first; /* its first offer, counted within the institution */
    size_t n;     /* offers */
    bool is_last; /* the institution's last chunk */
    struct buf doc;
    struct loq_doc d;
    int rc; /* -1: the export or the parse failed (said on stderr) */
};

struct load {
    struct db_sync *db;
    const struct gen_load_opts *o;
    struct loq_schemas *schemas;
    size_t ninst; /* institutions with offers: min(K, N) */
    /* the hand-over: the producer fills slot, this thread empties it */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *slot;
    bool is_produced; /* the producer made its last job */
    bool is_stopped;  /* this thread gave up: the producer stops too */
    /* producer's: read here only after joining it */
    size_t langs[WORDS_NLANGS];
    /* this thread's */
    struct store_counts c;
    size_t rejected, shown, done, created;
    int64_t t0;
};

static int exec(struct load *l, const char *sql, int n, const char *const *params,
                struct db_result **res)
{
    struct mcx_error err;

    if (db_sync_exec(l->db, sql, n, params, res, &err) == 0)
        return 0;
    fprintf(stderr, "mcx gen-corpus: %s%s\n", err.message,
            strstr(err.message, "does not exist") ? " (is the database migrated? mcx migrate)"
                                                  : "");
    return -1;
}

/* Offers of institution k in a corpus of N over K: k, k+K, … below N. */
static size_t institution_count(size_t N, size_t K, size_t k)
{
    return N / K + (k < N % K);
}

/* ---- the producer: making and validating chunks ---- */

/* The chunk's offers (the corpus's k + (first + j) * K) as a LOQ document. */
static int job_write(struct load *l, struct job *j)
{
    struct offer *offers = xcalloc(j->n, sizeof(*offers));
    const struct offer **list = xcalloc(j->n, sizeof(*list));
    size_t K = l->o->ninstitutions;
    int rc;

    for (size_t x = 0; x < j->n; x++) {
        offer_init(&offers[x]);
        gen_corpus_offer(l->o->seed, j->k + (j->first + x) * K, K, &offers[x]);
        list[x] = &offers[x];
        for (size_t w = 0; w < WORDS_NLANGS; w++)
            l->langs[w] += strcmp(offers[x].languages[0], words_langs[w].code) == 0;
    }
    rc = loq_export(list, j->n, LOQ_VERSION_310, &j->doc);
    for (size_t x = 0; x < j->n; x++)
        offer_cleanup(&offers[x]);
    free(offers);
    free(list);
    return rc;
}

/* What `mcx publish FILE` does with the file's bytes before it stores them. */
static struct job *job_make(struct load *l, size_t k, size_t first, size_t n, bool is_last)
{
    struct loq_limits lim = {PUBLISH_MAX_CATALOGUE_BYTES, LOQ_MAX_DEPTH_DEFAULT};
    struct job *j = xcalloc(1, sizeof(*j));
    struct mcx_error err;

    *j = (struct job){.k = k, .first = first, .n = n, .is_last = is_last, .rc = -1};
    buf_init(&j->doc);
    if (job_write(l, j) != 0) {
        fprintf(stderr, "mcx gen-corpus: the LOQ export failed\n");
        return j;
    }
    if (loq_parse_limited(l->schemas, j->doc.data, j->doc.len, &lim, &j->d, &err) != 0) {
        fprintf(stderr, "mcx gen-corpus: line %d: %s\n", err.line, err.message);
        return j;
    }
    store_reject_duplicates(&j->d);
    j->rc = 0;
    return j;
}

static void job_free(struct job *j)
{
    if (j == NULL)
        return;
    loq_doc_cleanup(&j->d);
    buf_cleanup(&j->doc);
    free(j);
}

/* Waits for the slot to be free; false when the consumer stopped (j is freed then). */
static bool handover_put(struct load *l, struct job *j)
{
    bool is_taken;

    pthread_mutex_lock(&l->mu);
    while (l->slot != NULL && !l->is_stopped)
        pthread_cond_wait(&l->cv, &l->mu);
    is_taken = !l->is_stopped;
    if (is_taken)
        l->slot = j;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    if (!is_taken)
        job_free(j);
    return is_taken;
}

static void *producer_main(void *arg)
{
    struct load *l = arg;
    const struct gen_load_opts *o = l->o;
    bool is_going = true;

    for (size_t k = 0; is_going && k < l->ninst; k++) {
        size_t n = institution_count(o->count, o->ninstitutions, k);
        for (size_t first = 0; is_going && first < n; first += o->chunk) {
            size_t m = n - first < o->chunk ? n - first : o->chunk;
            is_going = handover_put(l, job_make(l, k, first, m, first + m == n));
        }
    }
    pthread_mutex_lock(&l->mu);
    l->is_produced = true;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

/* ---- this thread: storing ---- */

/* The next job, or NULL when the producer is done. */
static struct job *handover_take(struct load *l)
{
    struct job *j;

    pthread_mutex_lock(&l->mu);
    while (l->slot == NULL && !l->is_produced)
        pthread_cond_wait(&l->cv, &l->mu);
    j = l->slot;
    l->slot = NULL;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    return j;
}

static void handover_stop(struct load *l)
{
    pthread_mutex_lock(&l->mu);
    l->is_stopped = true;
    job_free(l->slot);
    l->slot = NULL;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

/* 1 when the institution was added, 0 when it was there, -1 on failure. */
static int institution_ensure(struct load *l, const struct gen_corpus_institution *inst)
{
    const char *params[4] = {inst->id, inst->name, inst->country, l->o->actor};
    struct db_result *res = NULL;
    int rc;

    if (exec(l, institution_add_sql, 4, params, &res) != 0)
        return -1;
    rc = db_result_rows(res) == 1;
    l->created += (size_t)rc;
    db_result_free(res);
    return rc;
}

/* Generated offers are meant to be valid: any that is not is a bug, so say why. */
static void rejects_report(struct load *l, const struct loq_doc *d)
{
    for (size_t i = 0; i < d->nitems; i++) {
        const struct loq_item *it = &d->items[i];
        if (it->ok)
            continue;
        l->rejected++;
        for (size_t k = 0; k < it->nerrors_kept && l->shown < MAX_ERRORS_SHOWN; k++, l->shown++)
            fprintf(stderr, "mcx gen-corpus: offer %s rejected, line %d: %s\n",
                    it->external_id ? it->external_id : "?", it->errors[k].line,
                    it->errors[k].message);
    }
}

static double elapsed(const struct load *l)
{
    return (double)(mcx_now_us() - l->t0) / 1e6;
}

static double rate(const struct load *l)
{
    double secs = elapsed(l);

    return secs > 0 ? (double)l->done / secs : 0;
}

static void progress(const struct load *l, const struct job *j, const char *inst, bool is_new)
{
    size_t n = institution_count(l->o->count, l->o->ninstitutions, j->k);

    if (!j->is_last) {
        fprintf(stderr, "mcx gen-corpus: %s: %zu/%zu offers\n", inst, j->first + j->n, n);
        return;
    }
    fprintf(stderr,
            "mcx gen-corpus: %zu/%zu institutions (%s%s), %zu/%zu offers (%ld accepted, %ld "
            "unchanged), %.0f offers/s\n",
            j->k + 1, l->ninst, inst, is_new ? ", added" : "", l->done, l->o->count, l->c.accepted,
            l->c.unchanged, rate(l));
}

/* Stores a job; its institution is created first when this is its first chunk. */
static int job_store(struct load *l, const struct job *j, bool *is_new)
{
    struct gen_corpus_institution inst;
    int added;

    if (j->rc != 0)
        return -1;
    gen_corpus_institution(j->k, &inst);
    if (j->first == 0) {
        if ((added = institution_ensure(l, &inst)) < 0)
            return -1;
        *is_new = added == 1;
    }
    rejects_report(l, &j->d);
    if (publish_cli_store(l->db, "mcx gen-corpus", inst.id, l->o->actor, &j->doc, &j->d, false,
                          false, &l->c) != 0)
        return -1;
    l->done += j->n;
    progress(l, j, inst.id, *is_new);
    return 0;
}

static int store_all(struct load *l)
{
    struct job *j;
    bool is_new = false;

    while ((j = handover_take(l)) != NULL) {
        int rc = job_store(l, j, &is_new);
        job_free(j);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static void report_write(const struct load *l, FILE *out)
{
    const struct gen_load_opts *o = l->o;
    struct json_writer w;
    struct buf b;

    buf_init(&b);
    json_writer_init(&w, &b);
    json_object_begin(&w);
    json_kv_int(&w, "offers", (int64_t)l->done);
    json_kv_int(&w, "accepted", l->c.accepted);
    json_kv_int(&w, "unchanged", l->c.unchanged);
    json_kv_int(&w, "rejected", (int64_t)l->rejected);
    json_kv_int(&w, "institutions_created", (int64_t)l->created);
    json_key(&w, "institutions");
    json_object_begin(&w);
    for (size_t k = 0; k < l->ninst; k++) {
        struct gen_corpus_institution inst;
        gen_corpus_institution(k, &inst);
        json_kv_int(&w, inst.id, (int64_t)institution_count(o->count, o->ninstitutions, k));
    }
    json_object_end(&w);
    json_key(&w, "languages");
    json_object_begin(&w);
    for (size_t i = 0; i < WORDS_NLANGS; i++)
        json_kv_int(&w, words_langs[i].code, (int64_t)l->langs[i]);
    json_object_end(&w);
    json_key(&w, "seconds");
    json_double(&w, elapsed(l));
    json_object_end(&w);
    fprintf(out, "%s\n", b.data);
    buf_cleanup(&b);
}

int gen_load_run(struct db_sync *db, const struct gen_load_opts *o, FILE *report)
{
    struct load l = {.db = db, .o = o};
    pthread_t producer;
    int rc, err;

    l.ninst = o->ninstitutions < o->count ? o->ninstitutions : o->count;
    l.t0 = mcx_now_us();
    if ((l.schemas = publish_cli_schemas(o->schema_dir, "mcx gen-corpus")) == NULL)
        return 1;
    pthread_mutex_init(&l.mu, NULL);
    pthread_cond_init(&l.cv, NULL);
    if ((err = pthread_create(&producer, NULL, producer_main, &l)) != 0) {
        fprintf(stderr, "mcx gen-corpus: cannot start a thread: %s\n", strerror(err));
        rc = 1;
        goto out;
    }
    rc = store_all(&l);
    if (rc != 0)
        handover_stop(&l);
    pthread_join(producer, NULL);
    if (rc != 0) {
        rc = 1;
        goto out;
    }
    report_write(&l, report);
    fprintf(stderr,
            "mcx gen-corpus: %zu offers in %.1f s (%.0f offers/s): %ld accepted, %ld unchanged, "
            "%zu rejected; %zu institutions created\n",
            l.done, elapsed(&l), rate(&l), l.c.accepted, l.c.unchanged, l.rejected, l.created);
    rc = l.rejected == 0 ? 0 : 1;
out:
    pthread_cond_destroy(&l.cv);
    pthread_mutex_destroy(&l.mu);
    loq_schemas_free(l.schemas);
    return rc;
}

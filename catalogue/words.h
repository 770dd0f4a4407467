/*
 * words.h — the vocabulary of the corpus generator (gen.h, gen_corpus_offer): the
 * subjects of university courses and the sentences around them, in the eight
 * languages of the corpus, written as a real catalogue writes them — inflected
 * forms ("Maschinelles Lernen", "Grundlagen des maschinellen Lernens") and accents
 * included, so that search tests exercise stemming and accent folding.
 *
 * Topics are parallel: topic t is the same subject in every language and belongs
 * to one ISCED-F 2013 detailed field, words_topic_isced[t]; title forms are
 * parallel too, so form f of topic t translates form f of topic t.
 */
#ifndef MCX_WORDS_H
#define MCX_WORDS_H

#include <stddef.h>

#define WORDS_NLANGS 8
#define WORDS_NTOPICS 70
#define WORDS_NTITLE_FORMS 8
#define WORDS_NOPENERS 5
#define WORDS_NMIDDLES 4
#define WORDS_NVERBS 18
#define WORDS_NOBJECTS 18
#define WORDS_NASSESSMENTS 4

/* One subject in one language. */
struct words_topic {
    const char *name; /* on its own, capitalised: "Maschinelles Lernen" */
    const char *of;   /* after "fundamentals of", article included: "des maschinellen Lernens" */
};

/*
 * Templates hold placeholders: %N the topic's name, %O its "of" form, %V a verb (an
 * infinitive), %J the verb's object. A filled template starts with a capital.
 */
struct words_lang {
    const char *code;                  /* ISO 639-1 */
    const struct words_topic *topics;  /* WORDS_NTOPICS, in words_topic_isced's order */
    const char *const *title_forms;    /* WORDS_NTITLE_FORMS, parallel across languages */
    const char *const *openers;        /* WORDS_NOPENERS: a description's first sentence */
    const char *const *middles;        /* WORDS_NMIDDLES: sentences with %V %J */
    const char *const *mode_sentences; /* 3: online, blended, onsite teaching */
    const char *outcome;               /* a learning outcome: "The learner can %V %J." */
    const char *const *verbs;          /* WORDS_NVERBS infinitives */
    const char *const *objects;        /* WORDS_NOBJECTS objects those verbs take */
    const char *const *assessments;    /* WORDS_NASSESSMENTS */
    const char *quality_assurance;
    const char *entry_requirements;
};

/* The ISCED-F 2013 detailed field of each topic (codes of cv/isced-f.xsd). */
extern const char *const words_topic_isced[WORDS_NTOPICS];
/* en, de, fr, es, it, pl, lt, pt */
extern const struct words_lang words_langs[WORDS_NLANGS];

/* The vocabulary of an ISO 639-1 code, or NULL. */
const struct words_lang *words_lang_find(const char *code);

#endif

/*
 * test_agreement.c — agreement bodies (recognition/agreement.h): the DESIGN §5
 * example, the canonical form and its hash (same meaning, same bytes; other
 * meaning, other hash), one refusal per validation rule, and hostile input.
 * Parties approve this hash, so a wrong byte voids or forges an approval.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recognition/agreement.h"

#define UUID "8f0c2a7e-5b1d-4c3e-9a6f-0d2b4e6f8a10"
#define UUID2 "1b9d6bcd-bbfd-4b2d-9b5d-ab8dfbbd4bed"

/* Bodies are written with ' for " (no test string needs an apostrophe). */
#define DESIGN_BODY                                                                                \
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"                \
    "'valid_from':'2026-01-01','valid_until':'2028-12-31',"                                        \
    "'scope':{'isced':['06'],'eqf_min':5,'eqf_max':7,'ects_min':2,'modes':['online','blended'],"   \
    "'requires_qa':true},"                                                                         \
    "'rules':[{'recognise_as':'elective','max_credits_per_term':15},"                              \
    "{'recognise_as':'course','offer_id':'" UUID "','home_course':'INF-2031','credits':3}],"       \
    "'grade_conversion':{'method':'map','map':{'uab.cat':{'A':'10','B':'9','C':'8',"               \
    "'Pass':'pass'}}}}"

#define DESIGN_CANONICAL                                                                           \
    "{\"title\":\"MicroCredX mutual recognition 2026\",\"parties\":[\"uab.cat\",\"vdu.lt\"],"      \
    "\"valid_from\":\"2026-01-01\",\"valid_until\":\"2028-12-31\",\"scope\":{\"isced\":[\"06\"],"  \
    "\"eqf_min\":5,\"eqf_max\":7,\"ects_min\":2,\"modes\":[\"blended\",\"online\"],"               \
    "\"requires_qa\":true},\"rules\":[{\"recognise_as\":\"elective\",\"max_credits_per_term\":"    \
    "15},{\"recognise_as\":\"course\",\"offer_id\":\"" UUID "\",\"home_course\":\"INF-2031\","     \
    "\"credits\":3}],\"grade_conversion\":{\"method\":\"map\",\"map\":{\"uab.cat\":{\"A\":\"10\"," \
    "\"B\":\"9\",\"C\":\"8\",\"Pass\":\"pass\"}}}}"

/* sha256 of DESIGN_CANONICAL, computed outside mcx (Python hashlib). */
#define DESIGN_HASH "a2075499d434c15d0302d760e57436a800ef442f17858bfb4cddab30abb99ef1"

/* A minimal valid body and pieces to vary it. */
#define T "'title':'T'"
#define P "'parties':['a.lt','b.lt']"
#define F "'valid_from':'2026-01-01'"
#define R "'rules':[{'recognise_as':'elective'}]"
#define BASE T "," P "," F "," R
#define WITH(x) "{" BASE "," x "}"
#define RULES(x) "{" T "," P "," F ",'rules':[" x "]}"
#define SCOPE(x) WITH("'scope':{" x "}")
#define GC(x) WITH("'grade_conversion':" x)
#define COURSE(x) RULES("{'recognise_as':'course','offer_id':'" UUID "','home_course':'H'" x "}")
#define MAP(x) GC("{'method':'map','map':" x "}")
#define TABLES(x) GC("{'method':'table','tables':" x "}")
#define ROWS(x) TABLES("{'a.lt':[" x "]}")

#define MINIMAL_CANONICAL                                                                          \
    "{\"title\":\"T\",\"parties\":[\"a.lt\",\"b.lt\"],\"valid_from\":\"2026-01-01\","              \
    "\"valid_until\":null,\"scope\":{\"isced\":[],\"eqf_min\":null,\"eqf_max\":null,"              \
    "\"ects_min\":null,\"modes\":[],\"requires_qa\":false},\"rules\":[{\"recognise_as\":"          \
    "\"elective\",\"max_credits_per_term\":null}],\"grade_conversion\":null}"

#define TABLE_BODY                                                                                 \
    TABLES(                                                                                        \
        "{'b.lt':[{'grade':'A','percent':10},{'grade':'B','percent':25},"                          \
        "{'grade':'C','percent':30},{'grade':'D','percent':25},{'grade':'E','percent':10}],"       \
        "'a.lt':[{'grade':'10','percent':12.5},{'grade':'9','percent':20.25},"                     \
        "{'grade':'8','percent':30},{'grade':'7','percent':25.25},{'grade':'6','percent':12}]}")

static char *unquote(const char *s)
{
    char *t = xstrdup(s);

    for (char *p = t; *p != '\0'; p++)
        if (*p == '\'')
            *p = '"';
    return t;
}

static int parse(const char *body, struct rec_agreement_doc *d, struct mcx_error *err)
{
    char *json = unquote(body);
    int rc = rec_agreement_parse(json, strlen(json), d, err);

    free(json);
    return rc;
}

/* The doc of a body that must parse. */
static void parse_ok(const char *body, struct rec_agreement_doc *d)
{
    struct mcx_error err;

    mcx_error_clear(&err);
    if (parse(body, d, &err) != 0)
        fail_msg("refused: %s\n  body: %s", err.message, body);
}

/* ---- the DESIGN example ---- */

static void test_design_example(void **state)
{
    struct rec_agreement_doc d;
    const struct rec_agreement *a = &d.ag;

    (void)state;
    parse_ok(DESIGN_BODY, &d);
    assert_string_equal(d.canonical.data, DESIGN_CANONICAL);
    assert_int_equal(d.canonical.len, strlen(DESIGN_CANONICAL));
    assert_string_equal(d.hash, DESIGN_HASH);

    assert_null(a->id);
    assert_null(a->terminated_on);
    assert_false(a->active);
    assert_string_equal(a->title, "MicroCredX mutual recognition 2026");
    assert_int_equal(a->nparties, 2);
    assert_string_equal(a->parties[0], "uab.cat");
    assert_string_equal(a->parties[1], "vdu.lt");
    assert_string_equal(a->valid_from, "2026-01-01");
    assert_string_equal(a->valid_until, "2028-12-31");
    assert_int_equal(a->scope.nisced, 1);
    assert_string_equal(a->scope.isced[0], "06");
    assert_int_equal(a->scope.eqf_min, 5);
    assert_int_equal(a->scope.eqf_max, 7);
    assert_true(a->scope.ects_min == 2.0);
    assert_int_equal(a->scope.nmodes, 2);
    assert_string_equal(a->scope.modes[0], "blended");
    assert_string_equal(a->scope.modes[1], "online");
    assert_true(a->scope.requires_qa);

    assert_int_equal(a->nrules, 2);
    assert_int_equal(a->rules[0].as, REC_AS_ELECTIVE);
    assert_true(a->rules[0].max_credits_per_term == 15.0);
    assert_null(a->rules[0].offer_id);
    assert_int_equal(a->rules[1].as, REC_AS_COURSE);
    assert_string_equal(a->rules[1].offer_id, UUID);
    assert_string_equal(a->rules[1].home_course, "INF-2031");
    assert_true(a->rules[1].credits == 3.0);

    assert_int_equal(a->grades.method, REC_GRADES_MAP);
    assert_int_equal(a->grades.nmaps, 1);
    assert_string_equal(a->grades.maps[0].institution, "uab.cat");
    assert_int_equal(a->grades.maps[0].n, 4);
    assert_string_equal(a->grades.maps[0].entries[0].from, "A");
    assert_string_equal(a->grades.maps[0].entries[0].to, "10");
    assert_string_equal(a->grades.maps[0].entries[3].from, "Pass");
    assert_string_equal(a->grades.maps[0].entries[3].to, "pass");
    assert_int_equal(a->grades.ntables, 0);
    rec_agreement_doc_cleanup(&d);
}

/* The doc is usable by the engine as it stands. */
static void test_engine_reads_the_view(void **state)
{
    struct rec_agreement_doc d;
    char out[64];

    (void)state;
    parse_ok(DESIGN_BODY, &d);
    assert_int_equal(rec_grade_convert(&d.ag.grades, "uab.cat", "vdu.lt", "B", out), 0);
    assert_string_equal(out, "9");
    rec_agreement_doc_cleanup(&d);
}

static void test_table_view(void **state)
{
    struct rec_agreement_doc d;
    const struct rec_grade_conversion *g = &d.ag.grades;

    (void)state;
    parse_ok(TABLE_BODY, &d);
    assert_int_equal(g->method, REC_GRADES_TABLE);
    assert_int_equal(g->ntables, 2);
    assert_string_equal(g->tables[0].institution, "a.lt"); /* sorted by party */
    assert_int_equal(g->tables[0].nbands, 5);
    assert_string_equal(g->tables[0].bands[0].grade, "10"); /* rows as given */
    assert_true(g->tables[0].bands[1].percent == 20.25);
    assert_string_equal(g->tables[1].institution, "b.lt");
    assert_string_equal(g->tables[1].bands[4].grade, "E");
    assert_non_null(strstr(d.canonical.data,
                           "\"grade_conversion\":{\"method\":\"table\",\"tables\":{\"a.lt\":[{"
                           "\"grade\":\"10\",\"percent\":12.5},{\"grade\":\"9\",\"percent\":20.25}"
                           ",{\"grade\":\"8\",\"percent\":30},"));
    rec_agreement_doc_cleanup(&d);
}

static void test_minimal_body(void **state)
{
    struct rec_agreement_doc d;

    (void)state;
    parse_ok("{" BASE "}", &d);
    assert_string_equal(d.canonical.data, MINIMAL_CANONICAL);
    assert_null(d.ag.valid_until);
    assert_int_equal(d.ag.scope.nisced, 0);
    assert_int_equal(d.ag.scope.nmodes, 0);
    assert_int_equal(d.ag.scope.eqf_min, 0);
    assert_true(d.ag.scope.ects_min == 0);
    assert_int_equal(d.ag.grades.method, REC_GRADES_NONE);
    assert_true(d.ag.rules[0].max_credits_per_term == 0);
    rec_agreement_doc_cleanup(&d);
}

/* ---- canonical form: same meaning, same hash ---- */

static void assert_same_hash(const char *a, const char *b)
{
    struct rec_agreement_doc x, y;

    parse_ok(a, &x);
    parse_ok(b, &y);
    if (strcmp(x.canonical.data, y.canonical.data) != 0)
        fail_msg("canonical forms differ:\n  %s\n  %s", x.canonical.data, y.canonical.data);
    assert_string_equal(x.hash, y.hash);
    rec_agreement_doc_cleanup(&x);
    rec_agreement_doc_cleanup(&y);
}

static const char *const same_as_design[] = {
    /* key order, whitespace, party order, mode order, grade key order */
    "{\n  'grade_conversion' : { 'map' : { 'uab.cat' : { 'Pass':'pass', 'C':'8', 'A':'10', "
    "'B':'9' } }, 'method':'map' },\n  'rules' : [ { 'max_credits_per_term' : 15, "
    "'recognise_as' : 'elective' }, { 'credits':3, 'home_course':'INF-2031', 'offer_id':'" UUID
    "', 'recognise_as':'course' } ],\n  'scope' : { 'requires_qa':true, 'modes':['blended', "
    "'online'], 'ects_min':2, 'eqf_max':7, 'eqf_min':5, 'isced':['06'] },\n"
    "  'valid_until':'2028-12-31', 'valid_from':'2026-01-01', 'parties':['uab.cat','vdu.lt'],\n"
    "  'title':'MicroCredX mutual recognition 2026'\n}",
    /* numbers spelled differently: 5.0, 2.00, 1.5e1, 300e-2, 7.000000000000000000000 */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31',"
    "'scope':{'isced':['06'],'eqf_min':5.0,'eqf_max':7.000000000000000000000,'ects_min':2.00,"
    "'modes':['online','blended'],'requires_qa':true},"
    "'rules':[{'recognise_as':'elective','max_credits_per_term':1.5e1},"
    "{'recognise_as':'course','offer_id':'" UUID "','home_course':'INF-2031','credits':300e-2}],"
    "'grade_conversion':{'method':'map','map':{'uab.cat':{'A':'10','B':'9','C':'8',"
    "'Pass':'pass'}}}}",
    /* isced repeats and codes "06" already covers; modes repeated */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31',"
    "'scope':{'isced':['0613','06','061','06'],'eqf_min':5,'eqf_max':7,'ects_min':2,"
    "'modes':['online','blended','online'],'requires_qa':true},"
    "'rules':[{'recognise_as':'elective','max_credits_per_term':15},"
    "{'recognise_as':'course','offer_id':'" UUID "','home_course':'INF-2031','credits':3}],"
    "'grade_conversion':{'method':'map','map':{'uab.cat':{'A':'10','B':'9','C':'8',"
    "'Pass':'pass'}}}}",
    /* read-only fields echoed from a GET, and JSON escapes for plain characters */
    "{'id':'42','hash':'" DESIGN_HASH "','status':'active','approvals':[{'institution':'vdu.lt',"
    "'hash':'x','at':'2026-01-02T00:00:00Z'}],'created_at':'x','updated_at':'y',"
    "'terminated_on':null,"
    "'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31',"
    "'scope':{'isced':['06'],'eqf_min':5,'eqf_max':7,'ects_min':2,'modes':['online','blended'],"
    "'requires_qa':true},"
    "'rules':[{'recognise_as':'elective','max_credits_per_term':15},"
    "{'recognise_as':'course','offer_id':'" UUID "','home_course':'INF\\u002d2031','credits':3}],"
    "'grade_conversion':{'method':'map','map':{'uab.cat':{'\\u0041':'10','B':'9','C':'8',"
    "'Pass':'pass'}}}}",
    /* the canonical text itself */
    DESIGN_CANONICAL,
};

static const char *const same_as_minimal[] = {
    "{" BASE "}",
    WITH("'valid_until':null,'scope':null,'grade_conversion':null"),
    WITH("'scope':{}"),
    WITH("'scope':{'isced':[],'eqf_min':null,'eqf_max':null,'ects_min':0,'modes':[],"
         "'requires_qa':false}"),
    WITH("'scope':{'isced':null,'ects_min':0.00,'modes':null,'requires_qa':null}"),
    "{" T ",'parties':['b.lt','a.lt']," F
    ",'rules':[{'max_credits_per_term':null,'recognise_as':'elective'}]}",
};

static void test_same_meaning_same_hash(void **state)
{
    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(same_as_design); i++)
        assert_same_hash(DESIGN_BODY, same_as_design[i]);
    for (size_t i = 0; i < MCX_ARRAY_LEN(same_as_minimal); i++)
        assert_same_hash("{" BASE "}", same_as_minimal[i]);
    /* a course's credits absent or null */
    assert_same_hash(COURSE(""), COURSE(",'credits':null"));
    /* table rows: percent spelling, party order */
    assert_same_hash(ROWS("{'grade':'A','percent':50},{'grade':'B','percent':50}"),
                     ROWS("{'percent':50.0,'grade':'A'},{'grade':'B','percent':5e1}"));
}

/* ---- canonical form: other meaning, other hash ---- */

/* Each is DESIGN_BODY with one change of meaning. */
static const char *const other_than_design[] = {
    /* title */
    "{'title':'MicroCredX mutual recognition 2027','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* a third party */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat','ktu.lt'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* open-ended */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':null,'scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* valid_from a day later */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-02','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* a narrower ISCED-F field */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['061'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* eqf_max 6 */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':6,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* ects_min 2.01 */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2.01,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* onsite too */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended','onsite'],'requires_qa':true},'rules':"
    "[{'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* no QA required */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':false},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* elective cap 14.99 */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':14.99},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* rules swapped: the proposal's rule index changes */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'course','offer_id':'" UUID "','home_course':'INF-2031','credits':3},{"
    "'recognise_as':'elective','max_credits_per_term':15}],'grade_conversion':{'method':'map',"
    "'map':{'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* another home course */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2032','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* the course's own credits instead of 3 */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031'}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* a converted grade */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'uab.cat':{'A':'10','B':'9','C':'7','Pass':'pass'}}}}",
    /* the map is the other party's */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}],'grade_conversion':{'method':'map','map':{"
    "'vdu.lt':{'A':'10','B':'9','C':'8','Pass':'pass'}}}}",
    /* no grade conversion */
    "{'title':'MicroCredX mutual recognition 2026','parties':['vdu.lt','uab.cat'],"
    "'valid_from':'2026-01-01','valid_until':'2028-12-31','scope':{'isced':['06'],'eqf_min':5,"
    "'eqf_max':7,'ects_min':2,'modes':['online','blended'],'requires_qa':true},'rules':[{"
    "'recognise_as':'elective','max_credits_per_term':15},{'recognise_as':'course','offer_id':"
    "'" UUID "','home_course':'INF-2031','credits':3}]}",
};

static void test_other_meaning_other_hash(void **state)
{
    size_t n = MCX_ARRAY_LEN(other_than_design) + 1;
    struct rec_agreement_doc *docs = xcalloc(n, sizeof(*docs));

    (void)state;
    parse_ok(DESIGN_BODY, &docs[0]);
    for (size_t i = 1; i < n; i++)
        parse_ok(other_than_design[i - 1], &docs[i]);
    /* every pair differs, not just each from the original */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(docs[i].hash, docs[j].hash) == 0)
                fail_msg("same hash for variants %zu and %zu:\n  %s", i, j, docs[i].canonical.data);
    for (size_t i = 0; i < n; i++)
        rec_agreement_doc_cleanup(&docs[i]);
    free(docs);
}

static void test_other_meaning_small_bodies(void **state)
{
    static const char *const bodies[] = {
        "{" BASE "}",
        SCOPE("'eqf_min':1"), /* level 1 asks for a stated level; absent does not */
        SCOPE("'ects_min':0.01"),
        SCOPE("'requires_qa':true"),
        SCOPE("'modes':['online','blended','onsite']"),
        SCOPE("'isced':['06','07']"),
        RULES("{'recognise_as':'elective','max_credits_per_term':300}"),
        COURSE(""),
        COURSE(",'credits':0.5"),
        ROWS("{'grade':'A','percent':50},{'grade':'B','percent':50}"),
        ROWS("{'grade':'B','percent':50},{'grade':'A','percent':50}"), /* row order */
        ROWS("{'grade':'A','percent':50.25},{'grade':'B','percent':49.75}"),
        MAP("{'a.lt':{'A':'B'}}"),
        MAP("{'a.lt':{'A':'b'}}"),
        MAP("{'b.lt':{'A':'B'}}"),
        WITH("'valid_until':'2026-01-01'"),
        "{'title':'t'," P "," F "," R "}",
    };
    size_t n = MCX_ARRAY_LEN(bodies);
    struct rec_agreement_doc *docs = xcalloc(n, sizeof(*docs));

    (void)state;
    for (size_t i = 0; i < n; i++)
        parse_ok(bodies[i], &docs[i]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(docs[i].hash, docs[j].hash) == 0)
                fail_msg("same hash for %s and %s", bodies[i], bodies[j]);
    for (size_t i = 0; i < n; i++)
        rec_agreement_doc_cleanup(&docs[i]);
    free(docs);
}

static void test_numbers_normal_form(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"15", "15"},           {"15.0", "15"},        {"1.5e1", "15"},  {"150E-1", "15"},
        {"2.5", "2.5"},         {"2.50", "2.5"},       {"0.25", "0.25"}, {"25e-2", "0.25"},
        {"0.05", "0.05"},       {"300", "300"},        {"0.01", "0.01"}, {"10.10", "10.1"},
        {"1e2", "100"},         {"0.1E+1", "1"},       {"007", NULL},    {"2.505", NULL},
        {"0.001", NULL},        {"-1", NULL},          {"300.01", NULL}, {"1e3", NULL},
        {"1e-999999999", NULL}, {"1e999999999", NULL}, {"0", NULL},      {"-0", NULL},
    };

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(cases); i++) {
        struct rec_agreement_doc d;
        struct mcx_error err;
        char body[256], want[128];
        int rc;

        snprintf(body, sizeof(body), RULES("{'recognise_as':'elective','max_credits_per_term':%s}"),
                 cases[i].in);
        rc = parse(body, &d, &err);
        if (cases[i].out == NULL) {
            if (rc == 0)
                fail_msg("accepted %s", cases[i].in);
            rec_agreement_doc_cleanup(&d);
            continue;
        }
        if (rc != 0)
            fail_msg("refused %s: %s", cases[i].in, err.message);
        snprintf(want, sizeof(want), "\"max_credits_per_term\":%s}", cases[i].out);
        if (strstr(d.canonical.data, want) == NULL)
            fail_msg("%s gave %s", cases[i].in, d.canonical.data);
        rec_agreement_doc_cleanup(&d);
    }
}

/* ---- round trip ---- */

static void assert_round_trip(const char *body)
{
    struct rec_agreement_doc a, b;
    struct mcx_error err;

    parse_ok(body, &a);
    if (rec_agreement_parse(a.canonical.data, a.canonical.len, &b, &err) != 0)
        fail_msg("canonical text refused: %s\n  %s", err.message, a.canonical.data);
    assert_string_equal(a.canonical.data, b.canonical.data);
    assert_string_equal(a.hash, b.hash);
    rec_agreement_doc_cleanup(&a);
    rec_agreement_doc_cleanup(&b);
}

static void test_round_trip(void **state)
{
    (void)state;
    assert_round_trip(DESIGN_BODY);
    assert_round_trip("{" BASE "}");
    assert_round_trip(TABLE_BODY);
    assert_round_trip(COURSE(",'credits':2.5"));
    /* escapes and non-ASCII text survive: \" and \\ are escaped, ü stays UTF-8 */
    assert_round_trip("{'title':'Vilnius \\u2194 Barcelona: \\'\\u00fc\\' \\\\ \\/'," P "," F
                      ",'rules':[{'recognise_as':'course','offer_id':'" UUID
                      "','home_course':'Ä-1 \\u00e9'}]}");
}

static void test_escaped_text(void **state)
{
    struct rec_agreement_doc d;

    (void)state;
    parse_ok("{'title':'a\\u0027b \\'q\\' \\\\ \\u00fc \\/'," P "," F "," R "}", &d);
    /* the JSON writer's escaping: only " and \ are escaped, / and UTF-8 are not */
    assert_non_null(strstr(d.canonical.data, "{\"title\":\"a'b \\\"q\\\" \\\\ \xc3\xbc /\","));
    rec_agreement_doc_cleanup(&d);
}

/* ---- validation: one refusal per rule, naming the path ---- */

struct bad_case {
    const char *path;     /* err->path; "" is the body itself */
    const char *fragment; /* part of the message after "PATH: " */
    const char *body;
};

static const struct bad_case bad_cases[] = {
    /* the body */
    {"", "a JSON object", "['x']"},
    {"", "a JSON object", "null"},
    {"tittle", "unknown field (title, parties,", WITH("'tittle':'x'")},
    {"[\"a b\"]", "unknown field", WITH("'a b':1")},
    {"Title", "unknown field", WITH("'Title':'x'")},
    /* title */
    {"title", "required, a string of 1 to 300 bytes", "{" P "," F "," R "}"},
    {"title", "a string of 1 to 300 bytes without control characters",
     "{'title':''," P "," F "," R "}"},
    {"title", "without control characters", "{'title':'a\\nb'," P "," F "," R "}"},
    {"title", "without control characters", "{'title':'a\\u007fb'," P "," F "," R "}"},
    {"title", "without control characters", "{'title':'a\\u0085b'," P "," F "," R "}"},
    {"title", "a string", "{'title':5," P "," F "," R "}"},
    {"title", "a string", "{'title':null," P "," F "," R "}"},
    /* parties */
    {"parties", "required, an array of 2 to 50", "{" T "," F "," R "}"},
    {"parties", "an array of 2 to 50", "{" T ",'parties':'a.lt'," F "," R "}"},
    {"parties", "at least two distinct institution ids", "{" T ",'parties':['a.lt']," F "," R "}"},
    {"parties", "at least two distinct institution ids", "{" T ",'parties':[]," F "," R "}"},
    {"parties[1]", "an institution id: lowercase letters",
     "{" T ",'parties':['a.lt','VDU.lt']," F "," R "}"},
    {"parties[0]", "an institution id", "{" T ",'parties':['-a.lt','b.lt']," F "," R "}"},
    {"parties[0]", "an institution id", "{" T ",'parties':['a_lt','b.lt']," F "," R "}"},
    {"parties[0]", "an institution id", "{" T ",'parties':['','b.lt']," F "," R "}"},
    {"parties[1]", "an institution id", "{" T ",'parties':['a.lt',7]," F "," R "}"},
    {"parties[2]", "listed twice (also parties[0])",
     "{" T ",'parties':['a.lt','b.lt','a.lt']," F "," R "}"},
    /* dates */
    {"valid_from", "required, a real calendar date YYYY-MM-DD", "{" T "," P "," R "}"},
    {"valid_from", "a real calendar date", "{" T "," P ",'valid_from':'2026-02-30'," R "}"},
    {"valid_from", "a real calendar date", "{" T "," P ",'valid_from':'2025-02-29'," R "}"},
    {"valid_from", "a real calendar date", "{" T "," P ",'valid_from':'1900-02-29'," R "}"},
    {"valid_from", "a real calendar date", "{" T "," P ",'valid_from':'2026-13-01'," R "}"},
    {"valid_from", "a real calendar date", "{" T "," P ",'valid_from':'2026-00-10'," R "}"},
    {"valid_from", "a real calendar date", "{" T "," P ",'valid_from':'2026-1-1'," R "}"},
    {"valid_from", "a real calendar date", "{" T "," P ",'valid_from':'0000-01-01'," R "}"},
    {"valid_from", "a real calendar date", "{" T "," P ",'valid_from':'2026-01-01T00:00'," R "}"},
    {"valid_from", "a real calendar date", "{" T "," P ",'valid_from':null," R "}"},
    {"valid_from", "a real calendar date", "{" T "," P ",'valid_from':20260101," R "}"},
    {"valid_until", "a real calendar date YYYY-MM-DD, or null", WITH("'valid_until':'2028-12-32'")},
    {"valid_until", "a real calendar date", WITH("'valid_until':''")},
    {"valid_until", "a date on or after valid_from", WITH("'valid_until':'2025-12-31'")},
    /* scope */
    {"scope", "an object, or null", WITH("'scope':[]")},
    {"scope.eqf", "unknown field (isced, eqf_min,", SCOPE("'eqf':5")},
    {"scope.isced", "an array of at most 100 ISCED-F codes", SCOPE("'isced':'06'")},
    {"scope.isced[0]", "an ISCED-F code of 2, 3 or 4 digits", SCOPE("'isced':['6']")},
    {"scope.isced[1]", "an ISCED-F code", SCOPE("'isced':['06','06130']")},
    {"scope.isced[0]", "an ISCED-F code", SCOPE("'isced':['0a']")},
    {"scope.isced[0]", "an ISCED-F code", SCOPE("'isced':[613]")},
    {"scope.eqf_min", "an integer from 1 to 8", SCOPE("'eqf_min':0")},
    {"scope.eqf_min", "an integer from 1 to 8", SCOPE("'eqf_min':5.5")},
    {"scope.eqf_min", "an integer from 1 to 8", SCOPE("'eqf_min':'5'")},
    {"scope.eqf_max", "an integer from 1 to 8", SCOPE("'eqf_max':9")},
    {"scope.eqf_max", "an integer from 1 to 8", SCOPE("'eqf_max':true")},
    {"scope.eqf_min", "at most scope.eqf_max (5)", SCOPE("'eqf_min':7,'eqf_max':5")},
    {"scope.ects_min", "a number from 0 to 300 with at most 2 decimals", SCOPE("'ects_min':-1")},
    {"scope.ects_min", "a number from 0 to 300", SCOPE("'ects_min':300.01")},
    {"scope.ects_min", "with at most 2 decimals", SCOPE("'ects_min':2.555")},
    {"scope.ects_min", "a number", SCOPE("'ects_min':'2'")},
    {"scope.modes", "an array of modes: online, blended, onsite", SCOPE("'modes':'online'")},
    {"scope.modes[1]", "one of online, blended, onsite", SCOPE("'modes':['online','hybrid']")},
    {"scope.modes[0]", "one of online, blended, onsite", SCOPE("'modes':['Online']")},
    {"scope.requires_qa", "true or false", SCOPE("'requires_qa':'yes'")},
    {"scope.requires_qa", "true or false", SCOPE("'requires_qa':1")},
    /* rules */
    {"rules", "required, an array of 1 to 50 rules", "{" T "," P "," F "}"},
    {"rules", "an array of 1 to 50 rules", RULES("")},
    {"rules", "an array of 1 to 50 rules", "{" T "," P "," F ",'rules':{}}"},
    {"rules[0]", "an object", RULES("'elective'")},
    {"rules[0].recognise_as", "required, \"elective\" or \"course\"",
     RULES("{'max_credits_per_term':5}")},
    {"rules[0].recognise_as", "\"elective\" or \"course\"", RULES("{'recognise_as':'credit'}")},
    {"rules[0].recognise_as", "\"elective\" or \"course\"", RULES("{'recognise_as':'Course'}")},
    {"rules[0].offer_id", "not a field of an elective rule (recognise_as, max_credits_per_term)",
     RULES("{'recognise_as':'elective','offer_id':'" UUID "'}")},
    {"rules[0].max_credits_per_term", "a number above 0 and at most 300, with at most 2 decimals",
     RULES("{'recognise_as':'elective','max_credits_per_term':0}")},
    {"rules[0].max_credits_per_term", "a number above 0",
     RULES("{'recognise_as':'elective','max_credits_per_term':301}")},
    {"rules[0].max_credits_per_term", "a number above 0",
     RULES("{'recognise_as':'elective','max_credits_per_term':'15'}")},
    {"rules[0].max_credits_per_term", "with at most 2 decimals",
     RULES("{'recognise_as':'elective','max_credits_per_term':1.001}")},
    {"rules[1].offer_id", "required, a UUID",
     RULES("{'recognise_as':'elective'},{'recognise_as':'course','home_course':'H'}")},
    {"rules[0].offer_id", "a UUID in lowercase 8-4-4-4-12 form",
     RULES("{'recognise_as':'course','offer_id':'8F0C2A7E-5B1D-4C3E-9A6F-0D2B4E6F8A10',"
           "'home_course':'H'}")},
    {"rules[0].offer_id", "a UUID",
     RULES("{'recognise_as':'course','offer_id':'8f0c2a7e5b1d4c3e9a6f0d2b4e6f8a10',"
           "'home_course':'H'}")},
    {"rules[0].offer_id", "a UUID",
     RULES("{'recognise_as':'course','offer_id':'8f0c2a7e-5b1d-4c3e-9a6f-0d2b4e6f8a1g',"
           "'home_course':'H'}")},
    {"rules[0].offer_id", "a UUID",
     RULES("{'recognise_as':'course','offer_id':'8f0c\\u2026','home_course':'H'}")},
    {"rules[0].home_course", "required, a string of 1 to 100 bytes",
     RULES("{'recognise_as':'course','offer_id':'" UUID "'}")},
    {"rules[0].home_course", "a string of 1 to 100 bytes without control characters",
     RULES("{'recognise_as':'course','offer_id':'" UUID "','home_course':'a\\nb'}")},
    {"rules[0].home_course", "a string of 1 to 100 bytes",
     RULES("{'recognise_as':'course','offer_id':'" UUID "','home_course':''}")},
    {"rules[0].credits", "a number above 0 and at most 300", COURSE(",'credits':0")},
    {"rules[0].credits", "a number above 0 and at most 300", COURSE(",'credits':300.5")},
    {"rules[0].max_credits_per_term", "not a field of a course rule (recognise_as, offer_id,",
     COURSE(",'max_credits_per_term':5")},
    {"rules[1]", "a second elective rule: only the first (rules[0]) applies",
     RULES("{'recognise_as':'elective'},{'recognise_as':'elective','max_credits_per_term':5}")},
    {"rules[2].offer_id", "a second course rule for this offer: only the first (rules[0])",
     RULES("{'recognise_as':'course','offer_id':'" UUID "','home_course':'A'},"
           "{'recognise_as':'course','offer_id':'" UUID2 "','home_course':'B'},"
           "{'recognise_as':'course','offer_id':'" UUID "','home_course':'C'}")},
    /* grade conversion */
    {"grade_conversion", "an object, or null", GC("'map'")},
    {"grade_conversion.method", "required, \"map\" or \"table\"", GC("{'map':{}}")},
    {"grade_conversion.method", "\"map\" or \"table\"", GC("{'method':'scale'}")},
    {"grade_conversion.tables", "not a field of a map conversion (method, map)",
     GC("{'method':'map','map':{'a.lt':{'A':'B'}},'tables':{}}")},
    {"grade_conversion.map", "required, an object with a grade map for at least one party",
     GC("{'method':'map'}")},
    {"grade_conversion.map", "an object with a grade map for at least one party", MAP("{}")},
    {"grade_conversion.map", "an object with a grade map", MAP("[]")},
    {"grade_conversion.map[\"c.lt\"]", "not one of parties", MAP("{'c.lt':{'A':'B'}}")},
    {"grade_conversion.map[\"a.lt\"]", "an object of 1 to 100 grades", MAP("{'a.lt':{}}")},
    {"grade_conversion.map[\"a.lt\"]", "an object of 1 to 100 grades", MAP("{'a.lt':['A']}")},
    {"grade_conversion.map[\"a.lt\"][\"\"]", "the key must be a grade: 1 to 32 bytes",
     MAP("{'a.lt':{'':'B'}}")},
    {"grade_conversion.map[\"a.lt\"][\" A\"]", "without control characters or surrounding spaces",
     MAP("{'a.lt':{' A':'B'}}")},
    {"grade_conversion.map[\"a.lt\"][\"A\"]", "a grade: 1 to 32 bytes", MAP("{'a.lt':{'A':5}}")},
    {"grade_conversion.map[\"a.lt\"][\"A\"]", "a grade", MAP("{'a.lt':{'A':'B '}}")},
    {"grade_conversion.map[\"a.lt\"][\"A\"]", "a grade", MAP("{'a.lt':{'A':'\\t'}}")},
    {"grade_conversion.map[\"a.lt\"][\"A\"]", "a grade",
     MAP("{'a.lt':{'A':'123456789012345678901234567890123'}}")},
    {"grade_conversion.map", "not a field of a table conversion (method, tables)",
     GC("{'method':'table','tables':{'a.lt':[{'grade':'A','percent':100}]},'map':{}}")},
    {"grade_conversion.tables", "required, an object with a grading table",
     GC("{'method':'table'}")},
    {"grade_conversion.tables", "an object with a grading table for at least one party",
     TABLES("{}")},
    {"grade_conversion.tables[\"x\"]", "not one of parties",
     TABLES("{'x':[{'grade':'A','percent':100}]}")},
    {"grade_conversion.tables[\"a.lt\"]", "an array of 1 to 100 rows, best grade first", ROWS("")},
    {"grade_conversion.tables[\"a.lt\"]", "an array of 1 to 100 rows", TABLES("{'a.lt':{}}")},
    {"grade_conversion.tables[\"a.lt\"][0]", "an object {\"grade\"", ROWS("'A'")},
    {"grade_conversion.tables[\"a.lt\"][0].rank", "unknown field (grade, percent)",
     ROWS("{'grade':'A','percent':100,'rank':1}")},
    {"grade_conversion.tables[\"a.lt\"][0].grade", "required, a grade", ROWS("{'percent':100}")},
    {"grade_conversion.tables[\"a.lt\"][0].grade", "a grade", ROWS("{'grade':10,'percent':100}")},
    {"grade_conversion.tables[\"a.lt\"][0].percent", "required, the percentage",
     ROWS("{'grade':'A'}")},
    {"grade_conversion.tables[\"a.lt\"][1].percent", "above 0, at most 100",
     ROWS("{'grade':'A','percent':100},{'grade':'B','percent':0}")},
    {"grade_conversion.tables[\"a.lt\"][0].percent", "above 0, at most 100",
     ROWS("{'grade':'A','percent':100.5}")},
    {"grade_conversion.tables[\"a.lt\"][0].percent", "with at most 2 decimals",
     ROWS("{'grade':'A','percent':33.333},{'grade':'B','percent':66.667}")},
    {"grade_conversion.tables[\"a.lt\"]", "percents summing to 100 (± 0.5), not 99.49",
     ROWS("{'grade':'A','percent':50},{'grade':'B','percent':49.49}")},
    {"grade_conversion.tables[\"a.lt\"]", "not 100.51",
     ROWS("{'grade':'A','percent':50},{'grade':'B','percent':50.51}")},
    {"grade_conversion.tables[\"a.lt\"][2].grade", "listed twice (also row [0])",
     ROWS("{'grade':'A','percent':40},{'grade':'B','percent':30},{'grade':'A','percent':30}")},
};

static void assert_refused(const char *json, size_t len, const char *path, const char *fragment)
{
    struct rec_agreement_doc d;
    struct mcx_error err;
    char prefix[300];

    mcx_error_clear(&err);
    if (rec_agreement_parse(json, len, &d, &err) == 0) {
        rec_agreement_doc_cleanup(&d);
        fail_msg("accepted (expected %s: %s): %.300s", path, fragment, json);
    }
    rec_agreement_doc_cleanup(&d); /* safe after a failure */
    assert_string_equal(err.code, "invalid_agreement");
    if (strcmp(err.path, path) != 0)
        fail_msg("path %s, expected %s (%s)", err.path, path, err.message);
    snprintf(prefix, sizeof(prefix), "%s: ", *path != '\0' ? path : "body");
    if (strncmp(err.message, prefix, strlen(prefix)) != 0 || strstr(err.message, fragment) == NULL)
        fail_msg("message '%s', expected '%s…%s'", err.message, prefix, fragment);
}

static void assert_refused_sq(const char *body, const char *path, const char *fragment)
{
    char *json = unquote(body);

    assert_refused(json, strlen(json), path, fragment);
    free(json);
}

static void test_validation_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(bad_cases); i++)
        assert_refused_sq(bad_cases[i].body, bad_cases[i].path, bad_cases[i].fragment);
}

/* Bodies too long to write out: built here. */
static void test_validation_lengths(void **state)
{
    struct buf b;
    char id[200];

    (void)state;
    buf_init(&b);

    /* title: 300 bytes pass, 301 do not */
    buf_printf(&b,
               "{\"title\":\"%0300d\",\"parties\":[\"a.lt\",\"b.lt\"],"
               "\"valid_from\":\"2026-01-01\",\"rules\":[{\"recognise_as\":\"elective\"}]}",
               0);
    {
        struct rec_agreement_doc d;
        struct mcx_error err;
        assert_int_equal(rec_agreement_parse(b.data, b.len, &d, &err), 0);
        rec_agreement_doc_cleanup(&d);
    }
    buf_reset(&b);
    buf_printf(&b,
               "{\"title\":\"%0301d\",\"parties\":[\"a.lt\",\"b.lt\"],"
               "\"valid_from\":\"2026-01-01\",\"rules\":[{\"recognise_as\":\"elective\"}]}",
               0);
    assert_refused(b.data, b.len, "title", "1 to 300 bytes");

    /* 51 parties */
    buf_reset(&b);
    buf_puts(&b, "{\"title\":\"T\",\"valid_from\":\"2026-01-01\",\"rules\":[{\"recognise_as\":"
                 "\"elective\"}],\"parties\":[");
    for (int i = 0; i < 51; i++)
        buf_printf(&b, "%s\"p%d.lt\"", i ? "," : "", i);
    buf_puts(&b, "]}");
    assert_refused(b.data, b.len, "parties", "at most 50 institution ids");

    /* a party id of 128 characters (127 pass) */
    memset(id, 'a', sizeof(id));
    id[127] = '\0';
    buf_reset(&b);
    buf_printf(&b,
               "{\"title\":\"T\",\"valid_from\":\"2026-01-01\",\"rules\":[{\"recognise_as\":"
               "\"elective\"}],\"parties\":[\"b.lt\",\"%s\"]}",
               id);
    {
        struct rec_agreement_doc d;
        struct mcx_error err;
        assert_int_equal(rec_agreement_parse(b.data, b.len, &d, &err), 0);
        rec_agreement_doc_cleanup(&d);
    }
    id[127] = 'a';
    id[128] = '\0';
    buf_reset(&b);
    buf_printf(&b,
               "{\"title\":\"T\",\"valid_from\":\"2026-01-01\",\"rules\":[{\"recognise_as\":"
               "\"elective\"}],\"parties\":[\"b.lt\",\"%s\"]}",
               id);
    assert_refused(b.data, b.len, "parties[1]", "at most 127 characters");

    /* 51 rules */
    buf_reset(&b);
    buf_puts(&b, "{\"title\":\"T\",\"parties\":[\"a.lt\",\"b.lt\"],\"valid_from\":\"2026-01-01\","
                 "\"rules\":[");
    for (int i = 0; i < 51; i++)
        buf_printf(&b,
                   "%s{\"recognise_as\":\"course\",\"offer_id\":"
                   "\"00000000-0000-4000-8000-%012d\",\"home_course\":\"C%d\"}",
                   i ? "," : "", i, i);
    buf_puts(&b, "]}");
    assert_refused(b.data, b.len, "rules", "an array of 1 to 50 rules");

    /* home_course: 101 bytes */
    buf_reset(&b);
    buf_printf(&b,
               "{\"title\":\"T\",\"parties\":[\"a.lt\",\"b.lt\"],\"valid_from\":\"2026-01-01\","
               "\"rules\":[{\"recognise_as\":\"course\",\"offer_id\":\"" UUID
               "\",\"home_course\":\"%0101d\"}]}",
               0);
    assert_refused(b.data, b.len, "rules[0].home_course",
                   "a string of 1 to 100 bytes without control characters");

    /* 101 ISCED-F codes */
    buf_reset(&b);
    buf_puts(&b, "{\"title\":\"T\",\"parties\":[\"a.lt\",\"b.lt\"],\"valid_from\":\"2026-01-01\","
                 "\"rules\":[{\"recognise_as\":\"elective\"}],\"scope\":{\"isced\":[");
    for (int i = 0; i < 101; i++)
        buf_printf(&b, "%s\"%04d\"", i ? "," : "", i);
    buf_puts(&b, "]}}");
    assert_refused(b.data, b.len, "scope.isced", "at most 100");

    /* 101 grades in one party's map */
    buf_reset(&b);
    buf_puts(&b, "{\"title\":\"T\",\"parties\":[\"a.lt\",\"b.lt\"],\"valid_from\":\"2026-01-01\","
                 "\"rules\":[{\"recognise_as\":\"elective\"}],\"grade_conversion\":{\"method\":"
                 "\"map\",\"map\":{\"b.lt\":{");
    for (int i = 0; i < 101; i++)
        buf_printf(&b, "%s\"g%d\":\"%d\"", i ? "," : "", i, i);
    buf_puts(&b, "}}}}");
    assert_refused(b.data, b.len, "grade_conversion.map[\"b.lt\"]", "1 to 100 grades");
    buf_cleanup(&b);
}

static void test_valid_edges(void **state)
{
    static const char *const ok[] = {
        "{" T "," P ",'valid_from':'2024-02-29'," R "}",
        "{" T "," P ",'valid_from':'2000-02-29'," R "}",
        "{" T "," P ",'valid_from':'9999-12-31'," R "}",
        WITH("'valid_until':'2026-01-01'"),
        SCOPE("'eqf_min':8,'eqf_max':8,'ects_min':300"),
        SCOPE("'eqf_min':1,'ects_min':0.01,'isced':['0000','99']"),
        COURSE(",'credits':300"),
        COURSE(",'credits':0.01"),
        ROWS("{'grade':'A','percent':50},{'grade':'B','percent':49.5}"),
        ROWS("{'grade':'A','percent':50},{'grade':'B','percent':50.5}"),
        ROWS("{'grade':'A','percent':100}"),
        MAP("{'a.lt':{'A+':'10 (excellent)','B':'9'},'b.lt':{'10':'A'}}"),
        /* two course rules for different offers, and one elective rule */
        RULES("{'recognise_as':'course','offer_id':'" UUID "','home_course':'A'},"
              "{'recognise_as':'elective'},"
              "{'recognise_as':'course','offer_id':'" UUID2 "','home_course':'A'}"),
        /* a party id as a map key is found among parties regardless of order */
        "{" T ",'parties':['z.lt','a.lt','m-1.eu']," F "," R
        ",'grade_conversion':{'method':'map','map':{'m-1.eu':{'A':'B'}}}}",
    };

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(ok); i++) {
        struct rec_agreement_doc d;
        parse_ok(ok[i], &d);
        rec_agreement_doc_cleanup(&d);
    }
}

/* ---- hostile input ---- */

static void assert_not_json(const char *json, size_t len)
{
    struct rec_agreement_doc d;
    struct mcx_error err;

    mcx_error_clear(&err);
    assert_int_equal(rec_agreement_parse(json, len, &d, &err), -1);
    assert_string_equal(err.code, "malformed_json");
    assert_null(d.tree);
    assert_null(d.canonical.data);
    rec_agreement_doc_cleanup(&d);
}

static void test_hostile_deep_nesting(void **state)
{
    size_t n = 100000;
    char *s = xmalloc(2 * n + 64);
    size_t len;

    (void)state;
    memset(s, '[', n);
    memset(s + n, ']', n);
    assert_not_json(s, 2 * n);
    /* deep even inside a field that would be ignored */
    len = (size_t)snprintf(s, 64, "{\"id\":");
    memset(s + len, '[', 20);
    memset(s + len + 20, ']', 20);
    memcpy(s + len + 40, "}", 2);
    assert_not_json(s, strlen(s));
    free(s);
}

static void test_hostile_big_strings(void **state)
{
    size_t n = 1000 * 1000;
    struct buf b;

    (void)state;
    buf_init(&b);
    /* a 1 MB title fits under the body cap and is refused by the title rule */
    buf_puts(&b, "{\"title\":\"");
    for (size_t i = 0; i < n; i++)
        buf_putc(&b, 'x');
    buf_puts(&b, "\",\"parties\":[\"a.lt\",\"b.lt\"],\"valid_from\":\"2026-01-01\","
                 "\"rules\":[{\"recognise_as\":\"elective\"}]}");
    assert_refused(b.data, b.len, "title", "1 to 300 bytes");

    /* a 1 MB unknown key: the path shows 40 bytes of it */
    buf_reset(&b);
    buf_puts(&b, "{\"");
    for (size_t i = 0; i < n; i++)
        buf_putc(&b, 'k');
    buf_puts(&b, "\":1}");
    assert_refused(b.data, b.len, "[\"kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk…\"]",
                   "unknown field");

    /* over the body cap: refused before parsing */
    buf_reset(&b);
    buf_puts(&b, "{\"title\":\"");
    for (size_t i = 0; i < REC_AGREEMENT_MAX_BYTES; i++)
        buf_putc(&b, 'x');
    buf_puts(&b, "\"}");
    assert_refused(b.data, b.len, "", "at most 1048576 bytes");

    /* a number of 100000 digits */
    buf_reset(&b);
    buf_puts(&b, "{\"title\":\"T\",\"parties\":[\"a.lt\",\"b.lt\"],\"valid_from\":\"2026-01-01\","
                 "\"rules\":[{\"recognise_as\":\"elective\"}],\"scope\":{\"ects_min\":1");
    for (size_t i = 0; i < 100000; i++)
        buf_putc(&b, '0');
    buf_puts(&b, "}}");
    assert_refused(b.data, b.len, "scope.ects_min", "a number from 0 to 300");
    buf_cleanup(&b);
}

static void test_hostile_nul_and_controls(void **state)
{
    (void)state;
    assert_refused_sq("{'title':'a\\u0000b'," P "," F "," R "}", "title", "control characters");
    assert_refused_sq("{" T ",'parties':['a.lt\\u0000x','b.lt']," F "," R "}", "parties[0]",
                      "an institution id");
    assert_refused_sq("{" T "," P ",'valid_from':'2026-01-01\\u0000'," R "}", "valid_from",
                      "a real calendar date");
    assert_refused_sq(RULES("{'recognise_as':'elective\\u0000'}"), "rules[0].recognise_as",
                      "\"elective\" or \"course\"");
    assert_refused_sq(RULES("{'recognise_as':'course','offer_id':'" UUID "\\u0000',"
                            "'home_course':'H'}"),
                      "rules[0].offer_id", "a UUID");
    assert_refused_sq(SCOPE("'isced':['06\\u0000']"), "scope.isced[0]", "an ISCED-F code");
    assert_refused_sq(MAP("{'a.lt\\u0000':{'A':'B'}}"), "grade_conversion.map[\"a.lt\\u0000\"]",
                      "not one of parties");
    assert_refused_sq(MAP("{'a.lt':{'A\\u0000':'B'}}"),
                      "grade_conversion.map[\"a.lt\"][\"A\\u0000\"]", "the key must be a grade");
    /* a key that differs from a known one only after a NUL is an unknown field */
    assert_refused_sq(WITH("'scope\\u0000x':{}"), "[\"scope\\u0000x\"]", "unknown field");
    /* raw control bytes are not JSON at all */
    assert_not_json("{\"title\":\"a\tb\"}", 15);
}

static void test_hostile_not_json(void **state)
{
    static const char *const bodies[] = {
        "",
        "   ",
        "{",
        "{\"title\":\"T\",\"title\":\"U\"}",
        ("{\"title\":\"T\",\"parties\":[\"a.lt\",\"b.lt\"],\"valid_from\":\"2026-01-01\","
         "\"rules\":[{\"recognise_as\":\"elective\",\"recognise_as\":\"course\"}]}"),
        "{\"scope\":{\"eqf_min\":1,\"eqf_min\":2}}",
        "{\"grade_conversion\":{\"method\":\"map\",\"map\":{\"a.lt\":{\"A\":\"1\",\"A\":\"2\"}}}}",
        "{\"title\":\"\xff\"}",
        "{\"title\":\"\xc0\xaf\"}",
        "{\"title\":\"\\ud800\"}",
        "{\"title\":\"T\"} {}",
        "{\"title\":\"T\"/* c */}",
        "{'title':'T'}",
        "{\"ects\":NaN}",
        "{\"ects\":Infinity}",
        "{\"ects\":01}",
        "{\"ects\":.5}",
    };

    (void)state;
    for (size_t i = 0; i < MCX_ARRAY_LEN(bodies); i++)
        assert_not_json(bodies[i], strlen(bodies[i]));
    /* a NUL byte in the raw text */
    assert_not_json("{\"title\":\"a\0b\"}", 15);
}

static void test_cleanup_is_safe(void **state)
{
    struct rec_agreement_doc d;

    (void)state;
    rec_agreement_doc_cleanup(NULL);
    memset(&d, 0, sizeof(d));
    rec_agreement_doc_cleanup(&d);
    parse_ok(DESIGN_BODY, &d);
    rec_agreement_doc_cleanup(&d);
    rec_agreement_doc_cleanup(&d);
    assert_null(d.ag.parties);
    assert_null(d.canonical.data);
}

/* ag points into heap storage only, so a doc may be moved. */
static void test_doc_moves(void **state)
{
    struct rec_agreement_doc a, *b = xmalloc(sizeof(*b));

    (void)state;
    parse_ok(DESIGN_BODY, &a);
    memcpy(b, &a, sizeof(a));
    memset(&a, 0xa5, sizeof(a));
    assert_string_equal(b->ag.parties[0], "uab.cat");
    assert_string_equal(b->ag.grades.maps[0].entries[0].from, "A");
    assert_string_equal(b->hash, DESIGN_HASH);
    rec_agreement_doc_cleanup(b);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_example),
        cmocka_unit_test(test_engine_reads_the_view),
        cmocka_unit_test(test_table_view),
        cmocka_unit_test(test_minimal_body),
        cmocka_unit_test(test_same_meaning_same_hash),
        cmocka_unit_test(test_other_meaning_other_hash),
        cmocka_unit_test(test_other_meaning_small_bodies),
        cmocka_unit_test(test_numbers_normal_form),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_escaped_text),
        cmocka_unit_test(test_validation_table),
        cmocka_unit_test(test_validation_lengths),
        cmocka_unit_test(test_valid_edges),
        cmocka_unit_test(test_hostile_deep_nesting),
        cmocka_unit_test(test_hostile_big_strings),
        cmocka_unit_test(test_hostile_nul_and_controls),
        cmocka_unit_test(test_hostile_not_json),
        cmocka_unit_test(test_cleanup_is_safe),
        cmocka_unit_test(test_doc_moves),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

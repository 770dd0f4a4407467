/*
 * loq.c — Europass LOQ XML (3.1.0 and 3.3.1) to and from struct
 * offer. Parsing is hardened for hostile input (no DTD, no network, size and
 * depth caps); validation runs once over the whole tree and each schema error
 * is charged to the learning opportunities it concerns, so one bad offer
 * never rejects the good ones. Which LOQ element holds which offer field is
 * listed above loq_export.
 */
#include "catalogue/loq.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libxml/SAX2.h>
#include <libxml/hash.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
#include <libxml/uri.h>
#include <libxml/xmlschemastypes.h>

#include "catalogue/xmlutil.h"
#include <libxml/xmlschemas.h>

/* ---- vocabularies (schemas/loq/cv) ---- */

#define NS_SKOS "http://www.w3.org/2004/02/skos/core#"
#define NS_DC "http://purl.org/dc/terms/"

#define URI_LANGUAGE "http://publications.europa.eu/resource/authority/language/"
#define URI_COUNTRY "http://publications.europa.eu/resource/authority/country/"
#define URI_CURRENCY "http://publications.europa.eu/resource/authority/currency/"
#define URI_ISCED "http://data.europa.eu/snb/isced-f/"
#define URI_EQF "http://data.europa.eu/snb/eqf/"
#define URI_NQF "http://data.europa.eu/snb/qdr/"
#define URI_ECTS "http://data.europa.eu/snb/education-credit/6fcec5c5af"
#define URI_MODE "http://data.europa.eu/snb/learning-assessment/"

/*
 * Topics of additionalNote/dc:subject, from cv/loq_individuals.xsd. LOQ has
 * no slot for a free quality-assurance text (its `accreditation` needs an
 * accrediting agent we do not know), so QA travels as a note on this topic;
 * entry requirements beyond the one noteLiteral 3.1.0 allows travel the same
 * way.
 */
#define TOPIC_QA                                                                                   \
    "http://data.europa.eu/snb/qualification-topics#accreditation-and-quality-assurance"
#define TOPIC_ASSESSMENT "http://data.europa.eu/snb/qualification-topics#assessment"
#define TOPIC_ENTRY "http://data.europa.eu/snb/qualification-topics#entry-requirements"

/* cv/europass-modes.xsd (scheme learning-assessment/25831c2). */
static const struct {
    enum offer_mode mode;
    const char *code;
} mode_codes[] = {
    {OFFER_MODE_ONLINE, "920fbb3cbe"},  /* Online */
    {OFFER_MODE_BLENDED, "e92d221e4d"}, /* Blended */
    {OFFER_MODE_ONSITE, "9191af2ed9"},  /* Presential */
};

/*
 * ISO 639-1 code + EU authority language code (ISO 639-2/T, all present in
 * cv/language.xsd), five characters per language, sorted by the first.
 * Generated from Debian's iso-codes iso_639-2.json.
 */
static const char language_pairs[] =
    "aaAARabABKaeAVEafAFRakAKAamAMHanARGarARAasASMavAVAayAYMazAZEbaBAKbeBELbgBULbiBISbmBAMbnBEN"
    "boBODbrBREbsBOScaCATceCHEchCHAcoCOScrCREcsCEScuCHUcvCHVcyCYMdaDANdeDEUdvDIVdzDZOeeEWEelELL"
    "enENGeoEPOesSPAetESTeuEUSfaFASffFULfiFINfjFIJfoFAOfrFRAfyFRYgaGLEgdGLAglGLGgnGRNguGUJgvGLV"
    "haHAUheHEBhiHINhoHMOhrHRVhtHAThuHUNhyHYEhzHERiaINAidINDieILEigIBOiiIIIikIPKioIDOisISLitITA"
    "iuIKUjaJPNjvJAVkaKATkgKONkiKIKkjKUAkkKAZklKALkmKHMknKANkoKORkrKAUksKASkuKURkvKOMkwCORkyKIR"
    "laLATlbLTZlgLUGliLIMlnLINloLAOltLITluLUBlvLAVmgMLGmhMAHmiMRImkMKDmlMALmnMONmrMARmsMSAmtMLT"
    "myMYAnaNAUnbNOBndNDEneNEPngNDOnlNLDnnNNOnoNORnrNBLnvNAVnyNYAocOCIojOJIomORMorORIosOSSpaPAN"
    "piPLIplPOLpsPUSptPORquQUErmROHrnRUNroRONruRUSrwKINsaSANscSRDsdSNDseSMEsgSAGsiSINskSLKslSLV"
    "smSMOsnSNAsoSOMsqSQIsrSRPssSSWstSOTsuSUNsvSWEswSWAtaTAMteTELtgTGKthTHAtiTIRtkTUKtlTGLtnTSN"
    "toTONtrTURtsTSOttTATtwTWItyTAHugUIGukUKRurURDuzUZBveVENviVIEvoVOLwaWLNwoWOLxhXHOyiYIDyoYOR"
    "zaZHAzhZHOzuZUL";

/* ISO 3166-1 alpha-2 + EU authority country code (cv/country.xsd), likewise. */
static const char country_pairs[] =
    "ADANDAEAREAFAFGAGATGAIAIAALALBAMARMAOAGOAQATAARARGASASMATAUTAUAUSAWABWAXALAAZAZEBABIHBBBRB"
    "BDBGDBEBELBFBFABGBGRBHBHRBIBDIBJBENBLBLMBMBMUBNBRNBOBOLBQBESBRBRABSBHSBTBTNBVBVTBWBWABYBLR"
    "BZBLZCACANCCCCKCDCODCFCAFCGCOGCHCHECICIVCKCOKCLCHLCMCMRCNCHNCOCOLCRCRICUCUBCVCPVCWCUWCXCXR"
    "CYCYPCZCZEDEDEUDJDJIDKDNKDMDMADODOMDZDZAECECUEEESTEGEGYEHESHERERIESESPETETHFIFINFJFJIFKFLK"
    "FMFSMFOFROFRFRAGAGABGBGBRGDGRDGEGEOGFGUFGGGGYGHGHAGIGIBGLGRLGMGMBGNGINGPGLPGQGNQGRGRCGSSGS"
    "GTGTMGUGUMGWGNBGYGUYHKHKGHMHMDHNHNDHRHRVHTHTIHUHUNIDIDNIEIRLILISRIMIMNININDIOIOTIQIRQIRIRN"
    "ISISLITITAJEJEYJMJAMJOJORJPJPNKEKENKGKGZKHKHMKIKIRKMCOMKNKNAKPPRKKRKORKWKWTKYCYMKZKAZLALAO"
    "LBLBNLCLCALILIELKLKALRLBRLSLSOLTLTULULUXLVLVALYLBYMAMARMCMCOMDMDAMEMNEMFMAFMGMDGMHMHLMKMKD"
    "MLMLIMMMMRMNMNGMOMACMPMNPMQMTQMRMRTMSMSRMTMLTMUMUSMVMDVMWMWIMXMEXMYMYSMZMOZNANAMNCNCLNENER"
    "NFNFKNGNGANINICNLNLDNONORNPNPLNRNRUNUNIUNZNZLOMOMNPAPANPEPERPFPYFPGPNGPHPHLPKPAKPLPOLPMSPM"
    "PNPCNPRPRIPSPSEPTPRTPWPLWPYPRYQAQATREREUROROURSSRBRURUSRWRWASASAUSBSLBSCSYCSDSDNSESWESGSGP"
    "SHSHNSISVNSJSJMSKSVKSLSLESMSMRSNSENSOSOMSRSURSSSSDSTSTPSVSLVSXSXMSYSYRSZSWZTCTCATDTCDTGTGO"
    "THTHATJTJKTKTKLTLTLSTMTKMTNTUNTOTONTRTURTTTTOTVTUVTWTWNTZTZAUAUKRUGUGAUMUMIUSUSAUYURYUZUZB"
    "VAVATVCVCTVEVENVGVGBVIVIRVNVNMVUVUTWFWLFWSWSMYEYEMYTMYTZAZAFZMZMBZWZWE";

/* The ISCED-F 2013 codes cv/isced-f.xsd enumerates, space-separated. */
static const char isced_codes[] =
    " 00 000 0000 001 0011 002 0021 003 0031 009 0099 01 011 0110 0111 0112 0113 0114 0119 "
    "018 0188 02 020 0200 021 0210 0211 0212 0213 0214 0215 0219 022 0220 0221 0222 0223 "
    "0228 0229 023 0230 0231 0232 0239 028 0288 029 0299 03 030 0300 031 0310 0311 0312 "
    "0313 0314 0319 032 0320 0321 0322 0329 038 0388 039 0399 04 040 0400 041 0410 0411 "
    "0412 0413 0414 0415 0416 0417 0419 042 0421 048 0488 049 0499 05 050 0500 051 0510 "
    "0511 0512 0519 052 0520 0521 0522 0529 053 0530 0531 0532 0533 0539 054 0540 0541 "
    "0542 058 0588 059 0599 06 061 0610 0611 0612 0613 0619 068 0688 07 070 0700 071 0710 "
    "0711 0712 0713 0714 0715 0716 0719 072 0720 0721 0722 0723 0724 0729 073 0730 0731 "
    "0732 078 0788 079 0799 08 080 0800 081 0810 0811 0812 0819 082 0821 083 0831 084 0841 "
    "088 0888 089 0899 09 090 0900 091 0910 0911 0912 0913 0914 0915 0916 0917 0919 092 "
    "0920 0921 0922 0923 0929 098 0988 099 0999 10 100 1000 101 1010 1011 1012 1013 1014 "
    "1015 1019 102 1020 1021 1022 1029 103 1030 1031 1032 1039 104 1041 108 1088 109 1099 "
    "99 999 9999 ";

/* The currency codes cv/currency.xsd enumerates (XXX: no currency). */
static const char currency_codes[] =
    "AEDAFNALLAMDANGAOAARSAUDAWGAZNBAMBBDBDTBGNBHDBIFBMDBNDBOBBOVBRLBSDBTNBWPBYNBZDCADCDFCHECHF"
    "CHWCLFCLPCNYCOPCOUCRCCUCCUPCVECZKDJFDKKDOPDZDEGPERNETBEURFJDFKPGBPGELGHSGIPGMDGNFGTQGYDHKD"
    "HNLHRKHTGHUFIDRILSINRIQDIRRISKJMDJODJPYKESKGSKHRKMFKPWKRWKWDKYDKZTLAKLBPLKRLRDLSLLYDMADMDL"
    "MGAMKDMMKMNTMOPMRUMURMVRMWKMXNMXVMYRMZNNADNGNNIONOKNPRNZDOMRPABPENPGKPHPPKRPLNPYGQARRONRSD"
    "RUBRWFSARSBDSCRSDGSEKSGDSHPSLLSOSSRDSSPSTNSVCSYPSZLTHBTJSTMTTNDTOPTRYTTDTWDTZSUAHUGXUSDUSN"
    "UYIUYUUYWUZSVESVNDVUVWSTXAFXAGXAUXBAXBBXBCXBDXCDXDRXOFXPDXPFXPTXSUXTSXUAXXXYERZARZMWZWL";

/*
 * The national qualifications framework of a country (cv/nqf.xsd). A
 * `qualification` must name an NQFLevel and an offer has none, so the export
 * names the provider country's framework itself (a concept of the same
 * scheme). Countries with several frameworks (BE, GB, CH) are left out: their
 * offers export as a plain specification with the EQF level in educationLevel.
 */
static const struct {
    char country[3];
    const char *concept;
} nqf_frameworks[] = {
    {"AL", "c_d3b1f75e"}, {"AT", "c_4538e0af"}, {"BA", "c_da3760bf"}, {"BG", "c_c534839f"},
    {"CY", "c_afce1c3a"}, {"CZ", "c_af98ac9a"}, {"DE", "c_ef113b94"}, {"DK", "c_61ba90ec"},
    {"EE", "c_e9fb041f"}, {"ES", "c_e8c5bfbe"}, {"FI", "c_2d1fde14"}, {"FR", "c_c8bc1cb9"},
    {"GR", "c_0ea90db7"}, {"HR", "c_59d0b819"}, {"HU", "c_009d9566"}, {"IE", "c_01169e3f"},
    {"IS", "c_2e41fe05"}, {"IT", "c_02d8bc18"}, {"LI", "c_bc619568"}, {"LT", "c_a6d433f4"},
    {"LU", "c_20b3be22"}, {"LV", "c_ac40cadc"}, {"ME", "c_776b98db"}, {"MK", "c_2b5d39b2"},
    {"MT", "c_54f4d62a"}, {"NL", "c_5c66dcbc"}, {"NO", "c_ae44d998"}, {"PL", "c_97cf01c4"},
    {"PT", "c_5a1e9f89"}, {"RO", "c_df7373da"}, {"RS", "c_69e1fd15"}, {"SE", "c_d932c882"},
    {"SI", "c_0f8ae85c"}, {"SK", "c_4e6a97ff"}, {"TR", "c_1205be37"},
};

/* ---- small helpers ---- */

/* User text quoted in a message: at most 200 bytes, whole characters. */
struct quote {
    char s[201];
};

static struct quote quote_of(const char *text)
{
    struct quote q;

    xmlutil_copy_utf8(q.s, text ? text : "", sizeof(q.s));
    return q;
}

/* Looks a fixed-width code up in a table of (a, b) pairs of widths wa, wb. */
static const char *pair_find(const char *table, size_t wa, size_t wb, const char *code,
                             size_t wcode, bool by_first)
{
    size_t stride = wa + wb;
    size_t n = strlen(table) / stride;

    if (strlen(code) != wcode)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        const char *row = table + i * stride;
        if (by_first && memcmp(row, code, wa) == 0)
            return row + wa;
        if (!by_first && memcmp(row + wa, code, wb) == 0)
            return row;
    }
    return NULL;
}

/* ISO 639-1 "en" -> "ENG"; a 3-letter code is upper-cased; else NULL. */
static bool lang_to_eu(const char *code, char out[4])
{
    char low[4];
    size_t len = strlen(code);
    const char *hit;

    if (len != 2 && len != 3)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (!isalpha((unsigned char)code[i]))
            return false;
        low[i] = (char)tolower((unsigned char)code[i]);
    }
    low[len] = '\0';
    if (len == 2) {
        if ((hit = pair_find(language_pairs, 2, 3, low, 2, true)) == NULL)
            return false;
        memcpy(out, hit, 3);
    } else {
        for (size_t i = 0; i < 3; i++)
            out[i] = (char)toupper((unsigned char)low[i]);
    }
    out[3] = '\0';
    return true;
}

/*
 * An EU authority language code ("ENG") -> ISO 639-1 ("en") where one exists,
 * else the code lower-cased ("hai"). out must hold 16 bytes; false for
 * codes that are not plain letters or too long.
 */
static bool lang_from_eu(const char *code, char out[16])
{
    char up[16];
    size_t len = strlen(code);
    const char *hit;

    if (len < 2 || len >= sizeof(up))
        return false;
    for (size_t i = 0; i <= len; i++)
        up[i] = (char)toupper((unsigned char)code[i]);
    if (len == 3 && (hit = pair_find(language_pairs, 2, 3, up, 3, false)) != NULL) {
        memcpy(out, hit, 2);
        out[2] = '\0';
        return true;
    }
    for (size_t i = 0; i <= len; i++) {
        if (i < len && !isalnum((unsigned char)code[i]) && code[i] != '_')
            return false;
        out[i] = (char)tolower((unsigned char)code[i]);
    }
    return true;
}

/* A text's language attribute: trimmed, lower-case, 3-letter EU/ISO 639-2
 * codes with a 639-1 equivalent folded to it ("ENG" -> "en"). */
static void lang_attr_normalise(const char *in, char *out, size_t size)
{
    size_t n = 0;
    char eu[16];

    while (xmlutil_is_space((unsigned char)*in))
        in++;
    while (*in != '\0' && n + 1 < size)
        out[n++] = (char)tolower((unsigned char)*in++);
    while (n > 0 && xmlutil_is_space((unsigned char)out[n - 1]))
        n--;
    out[n] = '\0';
    xmlutil_utf8_trim_tail(out);
    n = strlen(out);
    if (n == 3 && lang_from_eu(out, eu) && strlen(eu) == 2)
        mcx_strlcpy(out, eu, size);
}

static bool country_to_eu(const char *alpha2, char out[4])
{
    char up[3];
    const char *hit;

    if (strlen(alpha2) != 2)
        return false;
    up[0] = (char)toupper((unsigned char)alpha2[0]);
    up[1] = (char)toupper((unsigned char)alpha2[1]);
    up[2] = '\0';
    if ((hit = pair_find(country_pairs, 2, 3, up, 2, true)) == NULL)
        return false;
    memcpy(out, hit, 3);
    out[3] = '\0';
    return true;
}

static bool country_from_eu(const char *alpha3, char out[3])
{
    const char *hit = pair_find(country_pairs, 2, 3, alpha3, 3, false);

    if (hit == NULL)
        return false;
    memcpy(out, hit, 2);
    out[2] = '\0';
    return true;
}

static bool isced_known(const char *code)
{
    char key[8];
    size_t len = strlen(code);

    if (len < 2 || len > 4 || strspn(code, "0123456789") != len)
        return false;
    snprintf(key, sizeof(key), " %s ", code);
    return strstr(isced_codes, key) != NULL;
}

/* ISCED-F "field unknown" codes: an export with no field writes 9999. */
static bool isced_is_unknown(const char *code)
{
    return strcmp(code, "99") == 0 || strcmp(code, "999") == 0 || strcmp(code, "9999") == 0;
}

static bool currency_known(const char *code)
{
    size_t n = strlen(currency_codes) / 3;

    if (strlen(code) != 3)
        return false;
    for (size_t i = 0; i < n; i++)
        if (memcmp(currency_codes + 3 * i, code, 3) == 0)
            return true;
    return false;
}

static const char *nqf_for_country(const char *alpha2)
{
    for (size_t i = 0; i < MCX_ARRAY_LEN(nqf_frameworks); i++) {
        if (strcasecmp(nqf_frameworks[i].country, alpha2) == 0)
        return nqf_frameworks[i].concept;
    }
    return NULL;
}

static enum offer_mode mode_from_uri(const char *uri)
{
    if (!xmlutil_has_prefix(uri, URI_MODE))
        return OFFER_MODE_UNKNOWN;
    uri += strlen(URI_MODE);
    for (size_t i = 0; i < MCX_ARRAY_LEN(mode_codes); i++)
        if (strcmp(uri, mode_codes[i].code) == 0)
            return mode_codes[i].mode;
    return OFFER_MODE_UNKNOWN;
}

static const char *mode_code(enum offer_mode m)
{
    for (size_t i = 0; i < MCX_ARRAY_LEN(mode_codes); i++)
        if (mode_codes[i].mode == m)
            return mode_codes[i].code;
    return NULL;
}

/* "http://data.europa.eu/snb/eqf/6" -> 6; 0 for anything else. */
static int eqf_from_uri(const char *uri)
{
    if (!xmlutil_has_prefix(uri, URI_EQF))
        return 0;
    uri += strlen(URI_EQF);
    if (uri[0] >= '1' && uri[0] <= '8' && uri[1] == '\0')
        return uri[0] - '0';
    return 0;
}

static bool is_leap(long y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Exactly YYYY-MM-DD and a real day of the Gregorian calendar. */
static bool date_valid(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    long y, m, d;

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return false;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return false;
    y = strtol(s, NULL, 10);
    m = strtol(s + 5, NULL, 10);
    d = strtol(s + 8, NULL, 10);
    if (y < 1 || m < 1 || m > 12 || d < 1)
        return false;
    return d <= mdays[m - 1] + (m == 2 && is_leap(y));
}

/* The date of an xs:dateTime ("2024-10-17T10:51:20Z" -> "2024-10-17"), else "". */
static void date_from_datetime(const char *s, char out[11])
{
    char day[11];

    out[0] = '\0';
    while (xmlutil_is_space((unsigned char)*s))
        s++;
    if (strlen(s) < 10)
        return;
    memcpy(day, s, 10);
    day[10] = '\0';
    if ((s[10] == '\0' || s[10] == 'T') && date_valid(day))
        memcpy(out, day, 11);
}

/*
 * Whether libxml2's validator accepts s as a value of a built-in type: the
 * export asks the same code that will judge the document (its xs:anyURI and
 * xs:duration rules have quirks no copy would match).
 */
static bool builtin_valid(xmlSchemaValType type, const char *s)
{
    xmlSchemaTypePtr t = xmlSchemaGetBuiltInType(type);

    if (s == NULL || *s == '\0' || t == NULL)
        return false;
    return xmlSchemaValidatePredefinedType(t, (const xmlChar *)s, NULL) == 0;
}

static bool uri_valid(const char *s)
{
    return builtin_valid(XML_SCHEMAS_ANYURI, s);
}

static bool duration_valid(const char *s)
{
    return builtin_valid(XML_SCHEMAS_DURATION, s);
}

/*
 * The shortest decimal that reads back as v; with fixed, never in exponent
 * form (xs:decimal has none: out then needs room for ~350 characters).
 */
static void decimal_format(double v, bool fixed, char *out, size_t size)
{
    if (v == 0)
        v = 0; /* no "-0" */
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, size, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
    if (!fixed || strpbrk(out, "eE") == NULL)
        return;
    for (int prec = 0; prec <= 350; prec++) {
        snprintf(out, size, "%.*f", prec, v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* A decimal number as publishers write it: "3", " 7.5 ", "7,5". */
static bool number_parse(const char *s, double min, double max, double *out)
{
    char *t = xmlutil_trim_dup(s);
    int rc;

    for (char *c = t; *c != '\0'; c++)
        if (*c == ',')
            *c = '.';
    rc = mcx_parse_double(t, min, max, out);
    free(t);
    return rc == 0;
}

/* ---- schemas ---- */

/*
 * The big closed vocabularies, checked by us (hash lookups) before libxml2
 * validates. libxml2 tests an enumeration by walking its facets in order
 * (~0.75 ms for a language code late in the 8 175 of cv/language.xsd), and
 * for a value outside it builds a message listing the whole set with
 * repeated xmlStrcat (~50 ms per bad language URI): a document full of such
 * codes would pin the CPU for hours. So for the time libxml2 validates, a
 * valid code is swapped for the vocabulary's first member (found at once)
 * and put back afterwards, and an invalid one is reported by us and replaced
 * by a member that reads as "unknown".
 */
enum vocab {
    VOCAB_LANGUAGE,
    VOCAB_COUNTRY,
    VOCAB_NUTS,
    VOCAB_ATU,
    VOCAB_FILE_TYPE,
    VOCAB_NQF,
    VOCAB_ISCED,
    VOCAB_CURRENCY,
    VOCAB_COUNT
};

static const struct {
    const char *file;
    const char *name;
    const char *placeholder; /* a member that reads as "unknown"; NULL: the first */
} vocab_files[VOCAB_COUNT] = {
    [VOCAB_LANGUAGE] = {"cv/language.xsd", "language", URI_LANGUAGE "UND"},
    [VOCAB_COUNTRY] = {"cv/country.xsd", "country", URI_COUNTRY "OP_DATPRO"},
    [VOCAB_NUTS] = {"cv/nuts.xsd", "NUTS", NULL},
    [VOCAB_ATU] = {"cv/atu.xsd", "administrative territorial unit", NULL},
    [VOCAB_FILE_TYPE] = {"cv/file-type.xsd", "file type", NULL},
    [VOCAB_NQF] = {"cv/nqf.xsd", "NQF", NULL},
    [VOCAB_ISCED] = {"cv/isced-f.xsd", "ISCED-F", URI_ISCED "9999"},
    [VOCAB_CURRENCY] = {"cv/currency.xsd", "currency", URI_CURRENCY "XXX"},
};

/* LOQ's global coded elements (loq.xsd) and the vocabulary of their uri. */
static const struct {
    const char *element;
    enum vocab vocab, or_vocab; /* or_vocab: a union type, else VOCAB_COUNT */
} coded_elements[] = {
    {"language", VOCAB_LANGUAGE, VOCAB_COUNT},     {"defaultLanguage", VOCAB_LANGUAGE, VOCAB_COUNT},
    {"countryCode", VOCAB_COUNTRY, VOCAB_COUNT},   {"spatialCode", VOCAB_COUNTRY, VOCAB_NUTS},
    {"spatial", VOCAB_COUNTRY, VOCAB_NUTS},        {"limitJurisdiction", VOCAB_ATU, VOCAB_COUNT},
    {"contentType", VOCAB_FILE_TYPE, VOCAB_COUNT}, {"NQFLevel", VOCAB_NQF, VOCAB_COUNT},
    {"ISCEDFCode", VOCAB_ISCED, VOCAB_COUNT},      {"limitField", VOCAB_ISCED, VOCAB_COUNT},
    {"unit", VOCAB_CURRENCY, VOCAB_COUNT},
};

struct loq_schemas {
    xmlSchemaPtr v310;
    xmlSchemaPtr v331;
    xmlHashTablePtr vocab[VOCAB_COUNT]; /* enumeration value -> 1 */
    char *first[VOCAB_COUNT];           /* the first member: libxml2 matches it at once */
    char *placeholder[VOCAB_COUNT];
};

/*
 * libxml2's entity loader is process-wide and takes no user data: the one it
 * had is kept here while loq_schemas_load runs (at startup, single-threaded).
 */
static xmlExternalEntityLoader saved_loader;

/* Schema loading is offline: local files only, whatever the XSDs import. */
static xmlParserInputPtr offline_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    if (url != NULL && strstr(url, "://") != NULL && strncasecmp(url, "file://", 7) != 0)
        return NULL;
    return saved_loader(url, id, ctxt);
}

static void schema_error(void *data, xmlErrorPtr e)
{
    struct mcx_error *err = data;

    if (e == NULL || e->level < XML_ERR_ERROR || err == NULL || err->code[0] != '\0')
        return;
    mcx_error_set(err, "schema_load_failed", "%s:%d: %s", e->file ? e->file : "?", e->line,
                  e->message ? e->message : "error");
}

static xmlSchemaPtr schema_load_one(const char *dir, const char *file, struct mcx_error *err)
{
    char path[4096];
    xmlSchemaParserCtxtPtr pc;
    xmlSchemaPtr schema;

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path)) {
        mcx_error_set(err, "schema_load_failed", "schema directory path too long");
        return NULL;
    }
    if (access(path, R_OK) != 0) {
        mcx_error_set(err, "schema_load_failed", "%s: %s", path, strerror(errno));
        return NULL;
    }
    if ((pc = xmlSchemaNewParserCtxt(path)) == NULL) {
        mcx_error_set(err, "schema_load_failed", "%s: cannot create schema parser", path);
        return NULL;
    }
    xmlSchemaSetParserStructuredErrors(pc, schema_error, err);
    schema = xmlSchemaParse(pc);
    xmlSchemaFreeParserCtxt(pc);
    if (schema == NULL && err != NULL && err->code[0] == '\0')
        mcx_error_set(err, "schema_load_failed", "%s: cannot load schema", path);
    return schema;
}

/* Collects every xs:enumeration/@value of a vocabulary schema. */
static int vocab_load(struct loq_schemas *s, const char *dir, enum vocab v, struct mcx_error *err)
{
    char path[4096];
    xmlDocPtr doc;
    xmlNodePtr top, n;

    snprintf(path, sizeof(path), "%s/%s", dir, vocab_files[v].file);
    if (access(path, R_OK) != 0 ||
        (doc = xmlReadFile(path, NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) == NULL) {
        mcx_error_set(err, "schema_load_failed", "%s: cannot read", path);
        return -1;
    }
    s->vocab[v] = xmlHashCreate(1024);
    top = xmlDocGetRootElement(doc);
    for (n = top; n != NULL;) {
        if (n->type == XML_ELEMENT_NODE && xmlStrEqual(n->name, (const xmlChar *)"enumeration")) {
            char *value = xmlutil_attr_get(n, "value");
            if (value != NULL && s->first[v] == NULL)
                s->first[v] = xstrdup(value);
            if (value != NULL)
                xmlHashAddEntry(s->vocab[v], (const xmlChar *)value, (void *)1);
            free(value);
        }
        if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
            n = n->children;
            continue;
        }
        while (n != top && n->next == NULL)
            n = n->parent;
        n = n == top ? NULL : n->next;
    }
    xmlFreeDoc(doc);
    if (s->first[v] != NULL)
        s->placeholder[v] =
            xstrdup(vocab_files[v].placeholder ? vocab_files[v].placeholder : s->first[v]);
    if (s->placeholder[v] == NULL ||
        xmlHashLookup(s->vocab[v], (const xmlChar *)s->placeholder[v]) == NULL) {
        mcx_error_set(err, "schema_load_failed", "%s: no usable enumeration", path);
        return -1;
    }
    return 0;
}

struct loq_schemas *loq_schemas_load(const char *dir, struct mcx_error *err)
{
    struct loq_schemas *s = xcalloc(1, sizeof(*s));
    struct mcx_error local;

    if (err == NULL)
        err = &local;
    mcx_error_clear(err);
    xmlInitParser();
    /* The loader is process-wide in libxml2: install it only while loading. */
    saved_loader = xmlGetExternalEntityLoader();
    xmlSetExternalEntityLoader(offline_loader);
    s->v310 = schema_load_one(dir, "loq.xsd", err);
    if (s->v310 != NULL)
        s->v331 = schema_load_one(dir, "loq-3.3.1.xsd", err);
    for (int v = 0; v < VOCAB_COUNT && s->v331 != NULL; v++)
        if (vocab_load(s, dir, (enum vocab)v, err) < 0)
            break;
    xmlSetExternalEntityLoader(saved_loader);
    if (s->v310 == NULL || s->v331 == NULL || s->vocab[VOCAB_COUNT - 1] == NULL ||
        s->placeholder[VOCAB_COUNT - 1] == NULL) {
        loq_schemas_free(s);
        return NULL;
    }
    return s;
}

void loq_schemas_free(struct loq_schemas *s)
{
    if (s == NULL)
        return;
    if (s->v310 != NULL)
        xmlSchemaFree(s->v310);
    if (s->v331 != NULL)
        xmlSchemaFree(s->v331);
    for (int v = 0; v < VOCAB_COUNT; v++) {
        if (s->vocab[v] != NULL)
            xmlHashFree(s->vocab[v], NULL);
        free(s->first[v]);
        free(s->placeholder[v]);
    }
    free(s);
}

/* ---- parsing: state ---- */

#define NONE SIZE_MAX
#define MAX_RAW_ERRORS 1000000 /* beyond this the document is rejected whole */
#define MAX_DOC_MESSAGES 10000 /* messages kept for errors outside any entity */
#define MAX_LIST 100           /* languages, ISCED codes per offer */
#define MAX_OUTCOMES 1000
#define MAX_LANGS 64             /* texts per language map */
#define MAX_SAME_ID 16           /* entities sharing one @id that lookups consider */
#define MAX_CHARGE_STEPS 2000000 /* error attribution work before the document fails whole */

/* A schema (or our own) error before it is charged to items. */
struct raw_error {
    xmlNodePtr node; /* where, when libxml2 said (keyref errors come without) */
    int line;
    char *msg;     /* cleaned message */
    char *name;    /* keyref errors: the referring element's local name... */
    char *value;   /* ...and the key it did not find */
    size_t entity; /* the entity it lies in, NONE for the document */
    size_t next;   /* next error of the same entity */
    bool is_copy;  /* a copy made for a second referring element: do not free strings */
    bool dropped;  /* a keyref error already charged through another report */
};

/* A child of a container element: a learning opportunity, an organisation, ... */
struct entity {
    xmlNodePtr node;
    char *id;
    size_t next_same_id; /* other entities with the same @id (other kinds) */
    size_t pos;          /* 1-based among same-name siblings, for error paths */
    size_t item;         /* index in the item list for learningOpportunity, else NONE */
    size_t first_err, last_err, nerr;
    size_t msgs; /* messages kept (LOQ_ITEM_MAX_ERRORS are enough for anyone) */
    size_t stamp;
};

/* An element with an idref attribute. */
struct idref {
    xmlNodePtr node;
    size_t entity;
    char *value;
    size_t next_same;           /* same (value, element name) */
    size_t next_same_line;      /* same (value, element name, line capped at 65535) */
    bool group_done, line_done; /* on chain heads: a keyref error charged them */
};

struct edge {
    size_t from, to; /* entity `from` refers to entity `to` */
};

struct swap {
    xmlNodePtr node;
    char *value; /* the uri attribute as written */
};

struct parse {
    struct xmlutil_reader rd; /* the hardened parse (xmlutil.h) */
    bool too_many_errors, validating;

    const struct loq_schemas *schemas;
    xmlDocPtr doc;
    xmlNodePtr root;
    const char *ns;
    int version;
    size_t doc_msgs; /* messages kept for errors outside entities / without a node */

    struct raw_error *errs;
    size_t nerrs, caperrs;

    struct entity *ents;
    size_t nents, capents;
    xmlHashTablePtr ids; /* @id -> entity index + 1 */

    size_t *los; /* entity index of each learningOpportunity, in order */
    size_t nlos, caplos;

    struct idref *refs;
    size_t nrefs, caprefs;
    xmlHashTablePtr refs_by_value; /* (value, local name) -> idref index + 1 */
    xmlHashTablePtr refs_by_line;  /* (value, local name, line) -> idref index + 1 */

    struct edge *edges;
    size_t nedges, capedges;

    struct swap *swaps; /* coded values swapped out while libxml2 validates */
    size_t nswaps, capswaps;
    size_t *rstart, *rsrc; /* reverse edges, CSR by target */
};

#define GROW(arr, n, cap)                                                                          \
    do {                                                                                           \
        if ((n) == (cap)) {                                                                        \
            (cap) = (cap) ? 2 * (cap) : 16;                                                        \
            (arr) = xrealloc((arr), (cap) * sizeof(*(arr)));                                       \
        }                                                                                          \
    } while (0)

static void *index_to_ptr(size_t i)
{
    return (void *)(uintptr_t)(i + 1);
}

static size_t ptr_to_index(void *p)
{
    return p == NULL ? NONE : (size_t)(uintptr_t)p - 1;
}

static size_t raw_push(struct parse *p)
{
    struct raw_error *r;

    GROW(p->errs, p->nerrs, p->caperrs);
    r = &p->errs[p->nerrs];
    memset(r, 0, sizeof(*r));
    r->entity = NONE;
    r->next = NONE;
    return p->nerrs++;
}

/* The entity an element (or attribute) lies in, NONE outside any. */
static size_t entity_of(const struct parse *p, xmlNodePtr n)
{
    while (n != NULL && n != p->root && n->type != XML_DOCUMENT_NODE) {
        if (n->type == XML_ELEMENT_NODE && n->_private != NULL && n->parent != NULL &&
            n->parent->parent == p->root)
            return ptr_to_index(n->_private);
        n = n->parent;
    }
    return NONE;
}

/*
 * Whether an error's text is still worth keeping: each entity shows at most
 * LOQ_ITEM_MAX_ERRORS, so a document with a million errors costs a million
 * small records, not a million messages.
 */
static bool message_wanted(struct parse *p, xmlNodePtr node)
{
    size_t ent = node != NULL ? entity_of(p, node) : NONE;

    if (ent == NONE)
        return p->doc_msgs++ < MAX_DOC_MESSAGES;
    return p->ents[ent].msgs++ < LOQ_ITEM_MAX_ERRORS;
}

/* ---- parsing: reading the bytes ---- */

static void valid_error(void *data, xmlErrorPtr e);

/*
 * Errors libxml2 raises without a context (encoding conversion, I/O) go to
 * its per-thread default handler, which prints to stderr: for the duration of
 * one loq_parse they come here instead.
 */
static void stray_error(void *data, xmlErrorPtr e)
{
    struct parse *p = data;

    if (p->validating)
        valid_error(p, e);
    else
        xmlutil_reader_record(&p->rd, e);
}

static int root_check(struct parse *p, struct mcx_error *err)
{
    const char *href;

    p->root = xmlDocGetRootElement(p->doc);
    if (p->root == NULL || p->root->ns == NULL ||
        strcmp((const char *)p->root->name, "Courses") != 0)
        goto unsupported;
    href = (const char *)p->root->ns->href;
    if (strcmp(href, LOQ_NS_310) == 0) {
        p->version = LOQ_VERSION_310;
        p->ns = LOQ_NS_310;
    } else if (strcmp(href, LOQ_NS_331) == 0) {
        p->version = LOQ_VERSION_331;
        p->ns = LOQ_NS_331;
    } else {
        goto unsupported;
    }
    return 0;
unsupported:
    mcx_error_set(err, "unsupported_document",
                  "the root element is not a LOQ Courses element (namespace %s or %s)", LOQ_NS_310,
                  LOQ_NS_331);
    err->line = p->root ? (int)xmlGetLineNo(p->root) : 0;
    return -1;
}

/* ---- parsing: the entity index ---- */

/*
 * An attribute as XSD sees an xs:anyURI or token after whiteSpace="collapse":
 * tabs and newlines made spaces, runs of spaces one, none at the ends. Keys
 * and keyrefs compare collapsed values, so the id index must too.
 */
static char *attr_collapsed(xmlNodePtr n, const char *name)
{
    char *v = xmlutil_attr_get(n, name);
    size_t w = 0;
    bool space = false;

    if (v == NULL)
        return NULL;
    for (size_t r = 0; v[r] != '\0'; r++) {
        if (xmlutil_is_space((unsigned char)v[r])) {
            space = w > 0;
            continue;
        }
        if (space)
            v[w++] = ' ';
        space = false;
        v[w++] = v[r];
    }
    v[w] = '\0';
    return v;
}

static void entity_add(struct parse *p, xmlNodePtr node, size_t pos)
{
    struct entity *e;
    size_t idx = p->nents;

    GROW(p->ents, p->nents, p->capents);
    e = &p->ents[p->nents++];
    memset(e, 0, sizeof(*e));
    e->node = node;
    e->pos = pos;
    e->item = NONE;
    e->first_err = e->last_err = e->next_same_id = NONE;
    e->stamp = NONE;
    e->id = attr_collapsed(node, "id");
    node->_private = index_to_ptr(idx);
    /* xmlHashAddEntry grows the table, xmlHashUpdateEntry never does: add first */
    if (e->id != NULL && xmlHashAddEntry(p->ids, (const xmlChar *)e->id, index_to_ptr(idx)) != 0) {
        e->next_same_id = ptr_to_index(xmlHashLookup(p->ids, (const xmlChar *)e->id));
        xmlHashUpdateEntry(p->ids, (const xmlChar *)e->id, index_to_ptr(idx), NULL);
    }
}

/* Every element child of a container is an entity; positions count per name. */
static void entities_index(struct parse *p)
{
    for (xmlNodePtr c = xmlutil_first_element(p->root->children); c; c = xmlutil_next_element(c)) {
        bool lo_container = xmlutil_node_is(c, p->ns, "learningOpportunityReferences");
        xmlHashTablePtr counts = xmlHashCreate(8);

        for (xmlNodePtr e = xmlutil_first_element(c->children); e; e = xmlutil_next_element(e)) {
            const xmlChar *href = e->ns ? e->ns->href : (const xmlChar *)"";
            uintptr_t pos = (uintptr_t)xmlHashLookup2(counts, e->name, href) + 1;

            if (pos == 1)
                xmlHashAddEntry2(counts, e->name, href, (void *)pos);
            else
                xmlHashUpdateEntry2(counts, e->name, href, (void *)pos, NULL);
            entity_add(p, e, (size_t)pos);
            if (lo_container && xmlutil_node_is(e, p->ns, "learningOpportunity")) {
                GROW(p->los, p->nlos, p->caplos);
                p->ents[p->nents - 1].item = p->nlos;
                p->los[p->nlos++] = p->nents - 1;
            }
        }
        xmlHashFree(counts, NULL);
    }
}

static void idref_add(struct parse *p, xmlNodePtr node, size_t entity, char *value)
{
    struct idref *r;
    size_t idx = p->nrefs;
    void *head;
    char line[16];

    GROW(p->refs, p->nrefs, p->caprefs);
    r = &p->refs[p->nrefs++];
    r->node = node;
    r->entity = entity;
    r->value = value;
    r->next_same = r->next_same_line = NONE;
    r->group_done = r->line_done = false;
    if (xmlHashAddEntry2(p->refs_by_value, (const xmlChar *)value, node->name, index_to_ptr(idx)) !=
        0) {
        head = xmlHashLookup2(p->refs_by_value, (const xmlChar *)value, node->name);
        r->next_same = ptr_to_index(head);
        xmlHashUpdateEntry2(p->refs_by_value, (const xmlChar *)value, node->name, index_to_ptr(idx),
                            NULL);
    }
    snprintf(line, sizeof(line), "%u", (unsigned)node->line); /* libxml2 caps it at 65535 too */
    if (xmlHashAddEntry3(p->refs_by_line, (const xmlChar *)value, node->name, (const xmlChar *)line,
                         index_to_ptr(idx)) != 0) {
        head = xmlHashLookup3(p->refs_by_line, (const xmlChar *)value, node->name,
                              (const xmlChar *)line);
        r->next_same_line = ptr_to_index(head);
        xmlHashUpdateEntry3(p->refs_by_line, (const xmlChar *)value, node->name,
                            (const xmlChar *)line, index_to_ptr(idx), NULL);
    }
    /* Dependencies for error attribution; links between opportunities do not count. */
    size_t steps = 0;
    for (size_t t = ptr_to_index(xmlHashLookup(p->ids, (const xmlChar *)value));
         t != NONE && steps++ < MAX_SAME_ID; t = p->ents[t].next_same_id) {
        if (t == entity || p->ents[t].item != NONE)
            continue;
        GROW(p->edges, p->nedges, p->capedges);
        p->edges[p->nedges].from = entity;
        p->edges[p->nedges].to = t;
        p->nedges++;
    }
}

static bool vocab_has(const struct parse *p, enum vocab v, const char *value)
{
    return v != VOCAB_COUNT && xmlHashLookup(p->schemas->vocab[v], (const xmlChar *)value) != NULL;
}

/*
 * A coded element of a big vocabulary: its uri is swapped for the
 * vocabulary's first member until validation ends, then put back, or, when
 * it is not in the vocabulary, reported by us and replaced by a placeholder.
 */
static void coded_check(struct parse *p, xmlNodePtr n)
{
    char *value;
    size_t k;
    enum vocab v;
    bool valid;

    if (n->ns == NULL || strcmp((const char *)n->ns->href, p->ns) != 0)
        return;
    for (k = 0; k < MCX_ARRAY_LEN(coded_elements); k++)
        if (strcmp((const char *)n->name, coded_elements[k].element) == 0)
            break;
    if (k == MCX_ARRAY_LEN(coded_elements) || (value = attr_collapsed(n, "uri")) == NULL)
        return;
    v = coded_elements[k].vocab;
    valid = vocab_has(p, v, value) || vocab_has(p, coded_elements[k].or_vocab, value);
    GROW(p->swaps, p->nswaps, p->capswaps);
    p->swaps[p->nswaps].node = n;
    p->swaps[p->nswaps].value =
        valid ? xmlutil_attr_get(n, "uri") : xstrdup(p->schemas->placeholder[v]);
    p->nswaps++;
    xmlSetProp(n, (const xmlChar *)"uri", (const xmlChar *)p->schemas->first[v]);
    if (valid) {
        /* nothing to report */
    } else if (p->nerrs >= MAX_RAW_ERRORS) {
        p->too_many_errors = true;
    } else {
        size_t i = raw_push(p);
        p->errs[i].node = n;
        if (message_wanted(p, n) &&
            asprintf(&p->errs[i].msg,
                     "Element '%s', attribute 'uri': '%s' is not in the %s vocabulary (%s)",
                     coded_elements[k].element, quote_of(value).s, vocab_files[v].name,
                     vocab_files[v].file) < 0)
            abort(); /* out of memory */
        if (p->errs[i].msg != NULL)
            xmlutil_utf8_trim_tail(p->errs[i].msg);
    }
    free(value);
}

static void coded_restore(struct parse *p)
{
    for (size_t i = 0; i < p->nswaps; i++) {
        xmlSetProp(p->swaps[i].node, (const xmlChar *)"uri", (const xmlChar *)p->swaps[i].value);
        free(p->swaps[i].value);
    }
    free(p->swaps);
    p->swaps = NULL;
    p->nswaps = 0;
}

/*
 * Walks each entity's subtree once (iteratively): idref attributes for the
 * dependency graph, coded values for the vocabulary check.
 */
static void idrefs_collect(struct parse *p)
{
    for (size_t i = 0; i < p->nents; i++) {
        xmlNodePtr top = p->ents[i].node, n = top;

        while (n != NULL) {
            if (n->type == XML_ELEMENT_NODE) {
                char *v = attr_collapsed(n, "idref");
                if (v != NULL)
                    idref_add(p, n, i, v);
                coded_check(p, n);
            }
            if (n->type == XML_ELEMENT_NODE && n->children != NULL) {
                n = n->children;
                continue;
            }
            while (n != top && n->next == NULL)
                n = n->parent;
            n = n == top ? NULL : n->next;
        }
    }
    /* reverse edges, CSR by target */
    p->rstart = xcalloc(p->nents + 1, sizeof(*p->rstart));
    p->rsrc = xcalloc(p->nedges ? p->nedges : 1, sizeof(*p->rsrc));
    for (size_t i = 0; i < p->nedges; i++)
        p->rstart[p->edges[i].to + 1]++;
    for (size_t i = 0; i < p->nents; i++)
        p->rstart[i + 1] += p->rstart[i];
    size_t *fill = xcalloc(p->nents + 1, sizeof(*fill));
    for (size_t i = 0; i < p->nedges; i++) {
        size_t t = p->edges[i].to;
        p->rsrc[p->rstart[t] + fill[t]++] = p->edges[i].from;
    }
    free(fill);
}

/* The entity of `name` kinds with this id, or NULL. */
static xmlNodePtr entity_find(const struct parse *p, const char *id, const char *const *names)
{
    size_t steps = 0;

    if (id == NULL)
        return NULL;
    /* Ids are unique per kind (xs:key): a long chain is an invalid document. */
    for (size_t t = ptr_to_index(xmlHashLookup(p->ids, (const xmlChar *)id));
         t != NONE && steps++ < MAX_SAME_ID; t = p->ents[t].next_same_id)
        for (size_t k = 0; names[k] != NULL; k++)
            if (xmlutil_node_is(p->ents[t].node, p->ns, names[k]))
                return p->ents[t].node;
    return NULL;
}

static xmlNodePtr entity_find_ref(const struct parse *p, xmlNodePtr ref, const char *const *names)
{
    char *id = attr_collapsed(ref, "idref");
    xmlNodePtr n = entity_find(p, id, names);

    free(id);
    return n;
}

/* ---- parsing: validation and attribution ---- */

/* "... key-sequence ['V'] of keyref ..." and "Element '{ns}name': ..." */
static void keyref_parse(const char *msg, char **name, char **value)
{
    const char *a, *b;

    *name = *value = NULL;
    if ((a = strstr(msg, "Element '")) != NULL) {
        a += strlen("Element '");
        if ((b = strchr(a, '\'')) != NULL) {
            const char *close = memchr(a, '}', (size_t)(b - a));
            if (close != NULL)
                a = close + 1;
            *name = xstrndup(a, (size_t)(b - a));
        }
    }
    if ((a = strstr(msg, "key-sequence ['")) != NULL) {
        a += strlen("key-sequence ['");
        if ((b = strstr(a, "'] of keyref")) != NULL)
            *value = xstrndup(a, (size_t)(b - a));
    }
}

static void valid_error(void *data, xmlErrorPtr e)
{
    struct parse *p = data;
    struct raw_error *r;
    size_t i;

    if (e == NULL || e->level < XML_ERR_ERROR)
        return;
    if (p->nerrs >= MAX_RAW_ERRORS) {
        p->too_many_errors = true;
        return;
    }
    i = raw_push(p);
    r = &p->errs[i];
    r->node = e->node;
    r->line = e->line;
    if (message_wanted(p, r->node))
        r->msg = xmlutil_message_clean(e->message);
    if (r->node == NULL)
        keyref_parse(e->message ? e->message : "", &r->name, &r->value);
}

/* Our own error, with no node: the document's. */
static void raw_add_message(struct parse *p, const char *msg)
{
    size_t i = raw_push(p);

    p->errs[i].msg = xstrdup(msg);
}

static void validate(struct parse *p, const struct loq_schemas *s)
{
    xmlSchemaValidCtxtPtr v =
        xmlSchemaNewValidCtxt(p->version == LOQ_VERSION_331 ? s->v331 : s->v310);
    int rc;

    if (v == NULL) {
        raw_add_message(p, "cannot start schema validation");
        return;
    }
    xmlSchemaSetValidStructuredErrors(v, valid_error, p);
    rc = xmlSchemaValidateDoc(v, p->doc);
    xmlSchemaFreeValidCtxt(v);
    if (rc < 0 && p->nerrs == 0)
        raw_add_message(p, "schema validation failed (internal error)");
    if (p->too_many_errors)
        raw_add_message(p, "too many schema errors: document rejected as a whole");
}

static void entity_charge(struct parse *p, size_t err_index)
{
    struct raw_error *r = &p->errs[err_index];
    struct entity *e;

    if (r->entity == NONE)
        return;
    e = &p->ents[r->entity];
    if (e->first_err == NONE)
        e->first_err = err_index;
    else
        p->errs[e->last_err].next = err_index;
    e->last_err = err_index;
    e->nerr++;
}

/* Error i charged to referring element k (a copy of i after the first). */
static void keyref_charge(struct parse *p, size_t i, size_t k, size_t *first)
{
    size_t target = i;

    if (*first != NONE) {
        target = raw_push(p);
        p->errs[target] = p->errs[i];
        p->errs[target].is_copy = true;
        p->errs[target].next = NONE;
    }
    *first = target;
    p->errs[target].node = p->refs[k].node;
    p->errs[target].entity = p->refs[k].entity;
    p->errs[target].line = (int)xmlGetLineNo(p->refs[k].node);
}

/*
 * libxml2 reports a dangling keyref with a line (capped at 65535) but no
 * node. Every element of that name with that idref value fails the same
 * way, so the error goes to all of them on that line, or to all of them when
 * none is on it; each group is charged once (a million dangling references
 * must not cost a million scans of a million elements).
 */
static void keyref_resolve(struct parse *p, size_t i)
{
    char line[24];
    size_t head, first = NONE;

    if (p->errs[i].name == NULL || p->errs[i].value == NULL)
        return;
    snprintf(line, sizeof(line), "%d", p->errs[i].line < 65535 ? p->errs[i].line : 65535);
    head = ptr_to_index(xmlHashLookup3(p->refs_by_line, (const xmlChar *)p->errs[i].value,
                                       (const xmlChar *)p->errs[i].name, (const xmlChar *)line));
    if (head != NONE) {
        if (p->refs[head].line_done)
            goto dropped;
        p->refs[head].line_done = true;
        for (size_t k = head; k != NONE; k = p->refs[k].next_same_line)
            keyref_charge(p, i, k, &first);
        return;
    }
    head = ptr_to_index(xmlHashLookup2(p->refs_by_value, (const xmlChar *)p->errs[i].value,
                                       (const xmlChar *)p->errs[i].name));
    if (head == NONE)
        return; /* no such element: the document's */
    if (p->refs[head].group_done)
        goto dropped;
    p->refs[head].group_done = true;
    for (size_t k = head; k != NONE; k = p->refs[k].next_same)
        keyref_charge(p, i, k, &first);
    return;
dropped:
    p->errs[i].dropped = true;
}

static void errors_locate(struct parse *p)
{
    size_t n = p->nerrs;

    for (size_t i = 0; i < n; i++) {
        if (p->errs[i].node != NULL) {
            p->errs[i].entity = entity_of(p, p->errs[i].node);
            xmlNodePtr el = p->errs[i].node;
            if (el->type == XML_ATTRIBUTE_NODE)
                el = el->parent;
            if (el != NULL && el->type == XML_ELEMENT_NODE)
                p->errs[i].line = (int)xmlGetLineNo(el);
        } else {
            keyref_resolve(p, i);
        }
    }
    for (size_t i = 0; i < p->nerrs; i++)
        entity_charge(p, i);
}

/* "/Courses/learningOpportunityReferences/learningOpportunity[3]/title[2]/@uri" */
static void path_build(const struct parse *p, xmlNodePtr n, char *out, size_t size)
{
    const char *seg[80];
    const char *prefix[80];
    size_t pos[80];
    int k = 0;
    struct buf b;
    const char *attr = NULL;

    out[0] = '\0';
    if (n == NULL)
        return;
    if (n->type == XML_ATTRIBUTE_NODE) {
        attr = (const char *)n->name;
        n = n->parent;
    }
    for (; n != NULL && n->type == XML_ELEMENT_NODE && k < 80; n = n->parent, k++) {
        seg[k] = (const char *)n->name;
        prefix[k] = NULL;
        if (n->ns != NULL && n->ns->prefix != NULL && strcmp((const char *)n->ns->href, p->ns) != 0)
            prefix[k] = (const char *)n->ns->prefix;
        pos[k] = 0;
        if (n->_private != NULL && n->parent != NULL && n->parent->parent == p->root) {
            pos[k] = p->ents[ptr_to_index(n->_private)].pos;
        } else if (n != p->root && n->parent != p->root) {
            pos[k] = xmlutil_sibling_pos(n);
        }
    }
    buf_init(&b);
    xmlutil_path_join(&b, seg, prefix, pos, k);
    if (attr != NULL)
        buf_printf(&b, "/@%s", attr);
    if (b.data != NULL)
        xmlutil_copy_utf8(out, b.data, size);
    buf_cleanup(&b);
}

/*
 * libxml2 charges an attribute's error to its element and names the
 * attribute in the message ("Element 'mode', attribute 'uri': ..."): put it in
 * the path too.
 */
static void path_add_attribute(char *path, size_t size, const struct raw_error *r)
{
    const char *a, *b;
    size_t len = strlen(path);

    if (r->msg == NULL || r->node == NULL || r->node->type != XML_ELEMENT_NODE || len == 0 ||
        !xmlutil_has_prefix(r->msg, "Element '") || (a = strstr(r->msg, "', attribute '")) == NULL)
        return;
    a += strlen("', attribute '");
    if ((b = strchr(a, '\'')) == NULL || b[1] != ':')
        return;
    if ((size_t)snprintf(path + len, size - len, "/@%.*s", (int)(b - a), a) >= size - len)
        xmlutil_utf8_trim_tail(path);
}

/* Appends error r to a list (kept up to LOQ_ITEM_MAX_ERRORS). */
static void error_append(const struct parse *p, struct loq_error **list, size_t *kept,
                         const struct raw_error *r, size_t via_entity)
{
    struct loq_error *e;
    char fallback[300];
    const char *msg = r->msg;

    if (*kept >= LOQ_ITEM_MAX_ERRORS)
        return;
    if (msg == NULL) { /* past the messages kept: say what we still know */
        if (r->value != NULL)
            snprintf(fallback, sizeof(fallback), "no entity has the id '%s'", quote_of(r->value).s);
        else
            snprintf(fallback, sizeof(fallback), "schema error (further messages omitted)");
        msg = fallback;
    }
    *list = xrealloc(*list, (*kept + 1) * sizeof(**list));
    e = &(*list)[(*kept)++];
    memset(e, 0, sizeof(*e));
    e->line = r->line > 0 ? r->line : 0;
    path_build(p, r->node, e->path, sizeof(e->path));
    path_add_attribute(e->path, sizeof(e->path), r);
    if (via_entity != NONE) {
        const struct entity *ent = &p->ents[via_entity];
        if ((size_t)snprintf(
                e->message, sizeof(e->message), "in the %s '%s' this offer refers to: %s",
                (const char *)ent->node->name, quote_of(ent->id).s, msg) >= sizeof(e->message))
            xmlutil_utf8_trim_tail(e->message);
    } else {
        xmlutil_copy_utf8(e->message, msg, sizeof(e->message));
    }
}

static void item_charge(const struct parse *p, struct loq_item *item, size_t entity)
{
    const struct entity *e = &p->ents[entity];
    size_t via = e->item == NONE ? entity : NONE;

    for (size_t i = e->first_err; i != NONE && item->nerrors_kept < LOQ_ITEM_MAX_ERRORS;
         i = p->errs[i].next)
        error_append(p, &item->errors, &item->nerrors_kept, &p->errs[i], via);
    item->nerrors += e->nerr;
    item->ok = false;
}

static void doc_charge(const struct parse *p, struct loq_doc *doc, const struct raw_error *r)
{
    error_append(p, &doc->errors, &doc->nerrors_kept, r, NONE);
    doc->nerrors++;
}

/*
 * Charges each errored entity to every opportunity that reaches it through
 * idrefs (reverse breadth-first walk); what reaches no opportunity, and what
 * lies outside every entity, is the document's.
 */
static void errors_attribute(struct parse *p, struct loq_doc *doc)
{
    size_t *queue = xcalloc(p->nents ? p->nents : 1, sizeof(*queue));
    size_t steps = 0;

    for (size_t i = 0; i < p->nerrs; i++)
        if (p->errs[i].entity == NONE && !p->errs[i].dropped)
            doc_charge(p, doc, &p->errs[i]);
    for (size_t t = 0; t < p->nents; t++) {
        size_t qh = 0, qt = 0;
        bool reached = false;

        if (p->ents[t].nerr == 0)
            continue;
        queue[qt++] = t;
        p->ents[t].stamp = t;
        while (qh < qt && steps < MAX_CHARGE_STEPS) {
            size_t x = queue[qh++];
            steps++;
            if (p->ents[x].item != NONE) {
                item_charge(p, &doc->items[p->ents[x].item], t);
                reached = true;
                continue;
            }
            for (size_t k = p->rstart[x]; k < p->rstart[x + 1]; k++) {
                size_t src = p->rsrc[k];
                if (p->ents[src].stamp != t) {
                    p->ents[src].stamp = t;
                    queue[qt++] = src;
                }
            }
        }
        if (steps >= MAX_CHARGE_STEPS) { /* an adversarial web of shared errors */
            struct raw_error r = {.msg = "schema errors in entities shared by too many offers"};
            doc_charge(p, doc, &r);
            break;
        }
        if (!reached)
            for (size_t i = p->ents[t].first_err; i != NONE; i = p->errs[i].next)
                doc_charge(p, doc, &p->errs[i]);
    }
    free(queue);
    /* Document-level errors fail every item, which shows the first as its reason. */
    for (size_t i = 0; i < doc->nitems && doc->nerrors > 0; i++) {
        struct loq_item *item = &doc->items[i];
        if (item->nerrors_kept < LOQ_ITEM_MAX_ERRORS) {
            item->errors = xrealloc(item->errors, (item->nerrors_kept + 1) * sizeof(*item->errors));
            item->errors[item->nerrors_kept++] = doc->errors[0];
        }
        item->nerrors += doc->nerrors;
        item->ok = false;
    }
}

/* ---- parsing: reading an offer ---- */

static const char *const SPEC_KINDS[] = {"learningAchievementSpecification", "qualification",
                                         "qualificationReference", NULL};
static const char *const ORG_KINDS[] = {"organisation", NULL};
static const char *const LOCATION_KINDS[] = {"location", NULL};
static const char *const OUTCOME_KINDS[] = {"learningOutcome", NULL};
static const char *const ASSESSMENT_KINDS[] = {"learningAssessmentSpecification", NULL};
static const char *const ACCREDITATION_KINDS[] = {"accreditation", NULL};

/* What an opportunity's pieces say before they are merged in priority order. */
struct lo_read {
    const struct parse *p;
    struct offer *o;
    struct lang_map note_assessment;
    struct lang_map note_entry;
    xmlNodePtr assessment;    /* first learningAssessmentSpecification (provenBy) */
    xmlNodePtr accreditation; /* the specification's, else the provider's */
    xmlNodePtr org_accreditation;
    int education_level_eqf;
    size_t cap_outcomes;
};

/* A language-tagged text (rdf:LangStringType: attribute `language`). */
static void lang_text_add(struct lang_map *m, xmlNodePtr n)
{
    char lang[64];
    char *attr, *text;

    if (m->n >= MAX_LANGS || (text = xmlutil_node_text(n)) == NULL)
        return;
    attr = xmlutil_attr_get(n, "language");
    lang_attr_normalise(attr ? attr : "", lang, sizeof(lang));
    lang_map_add(m, lang, text);
    free(attr);
    free(text);
}

static void lang_map_merge(struct lang_map *into, const struct lang_map *from)
{
    for (size_t i = 0; i < from->n && into->n < MAX_LANGS; i++)
        lang_map_add(into, from->items[i].lang, from->items[i].text);
}

static void strv_add_unique(char ***v, size_t *n, const char *s)
{
    if (*n >= MAX_LIST)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i], s) == 0)
            return;
    *v = xrealloc(*v, (*n + 1) * sizeof(**v));
    (*v)[(*n)++] = xstrdup(s);
}

/* The uri attribute of a coded value, after a known prefix; NULL otherwise. */
static char *uri_code(xmlNodePtr n, const char *prefix)
{
    char *uri = attr_collapsed(n, "uri");
    char *code = NULL;

    if (uri == NULL)
        return NULL;
    if (xmlutil_has_prefix(uri, prefix) && uri[strlen(prefix)] != '\0')
        code = xstrdup(uri + strlen(prefix));
    free(uri);
    return code;
}

static char *uri_trimmed(xmlNodePtr n)
{
    return attr_collapsed(n, "uri");
}

static bool is_ns(const struct parse *p, xmlNodePtr n)
{
    return n->ns != NULL && strcmp((const char *)n->ns->href, p->ns) == 0;
}

static bool name_is(xmlNodePtr n, const char *name)
{
    return strcmp((const char *)n->name, name) == 0;
}

/* A NoteType: dc:subject says the topic, each noteLiteral is one language. */
static void note_read(struct lo_read *r, xmlNodePtr note)
{
    struct lang_map *into = NULL;
    char *topic = NULL;

    for (xmlNodePtr c = xmlutil_first_element(note->children); c; c = xmlutil_next_element(c))
        if (xmlutil_node_is(c, NS_DC, "subject") && topic == NULL)
            topic = uri_trimmed(c);
    if (topic == NULL)
        return;
    if (strcmp(topic, TOPIC_QA) == 0)
        into = &r->o->quality_assurance;
    else if (strcmp(topic, TOPIC_ASSESSMENT) == 0)
        into = &r->note_assessment;
    else if (strcmp(topic, TOPIC_ENTRY) == 0)
        into = &r->note_entry;
    free(topic);
    if (into == NULL)
        return;
    for (xmlNodePtr c = xmlutil_first_element(note->children); c; c = xmlutil_next_element(c))
        if (is_ns(r->p, c) && name_is(c, "noteLiteral"))
            lang_text_add(into, c);
}

static void literals_read(const struct parse *p, xmlNodePtr note, struct lang_map *into)
{
    for (xmlNodePtr c = xmlutil_first_element(note->children); c; c = xmlutil_next_element(c))
        if (is_ns(p, c) && name_is(c, "noteLiteral"))
            lang_text_add(into, c);
}

/* homepage (WebResourceType) -> its contentUrl */
static char *web_url(const struct parse *p, xmlNodePtr web)
{
    for (xmlNodePtr c = xmlutil_first_element(web->children); c; c = xmlutil_next_element(c))
        if (is_ns(p, c) && name_is(c, "contentUrl"))
            return xmlutil_node_text(c);
    return NULL;
}

static void date_read(xmlNodePtr n, char out[11])
{
    char *t = xmlutil_node_text(n);

    if (t != NULL)
        date_from_datetime(t, out);
    free(t);
}

static void temporal_read(const struct parse *p, xmlNodePtr t, struct offer *o)
{
    for (xmlNodePtr c = xmlutil_first_element(t->children); c; c = xmlutil_next_element(c)) {
        if (!is_ns(p, c))
            continue;
        if (name_is(c, "startDate") && o->starts[0] == '\0')
            date_read(c, o->starts);
        else if (name_is(c, "endDate") && o->ends[0] == '\0')
            date_read(c, o->ends);
    }
}

/* priceDetail/amount: unit (currency URI) + value (xs:decimal) */
static void price_read(const struct parse *p, xmlNodePtr price, struct offer *o)
{
    for (xmlNodePtr a = xmlutil_first_element(price->children); a; a = xmlutil_next_element(a)) {
        char *currency = NULL, *value = NULL;
        double amount;

        if (!is_ns(p, a) || !name_is(a, "amount"))
            continue;
        for (xmlNodePtr c = xmlutil_first_element(a->children); c; c = xmlutil_next_element(c)) {
            if (is_ns(p, c) && name_is(c, "unit") && currency == NULL)
                currency = uri_code(c, URI_CURRENCY);
            else if (is_ns(p, c) && name_is(c, "value") && value == NULL)
                value = xmlutil_node_text(c);
        }
        if (value != NULL && number_parse(value, 0, 1e12, &amount)) {
            o->has_price = true;
            o->price_amount = amount;
            if (currency != NULL && strlen(currency) == 3 && strcmp(currency, "XXX") != 0)
                mcx_strlcpy(o->currency, currency, sizeof(o->currency));
        }
        free(currency);
        free(value);
        if (o->has_price)
            return;
    }
}

/* creditPoint: framework ECTS + point (an xs:string: numbers parsed defensively) */
static void credit_read(const struct parse *p, xmlNodePtr cp, struct offer *o)
{
    bool ects = false;
    char *point = NULL;
    double v;

    for (xmlNodePtr c = xmlutil_first_element(cp->children); c; c = xmlutil_next_element(c)) {
        if (!is_ns(p, c))
            continue;
        if (name_is(c, "framework")) {
            char *uri = uri_trimmed(c);
            ects = uri != NULL && strcmp(uri, URI_ECTS) == 0;
            free(uri);
        } else if (name_is(c, "point") && point == NULL) {
            point = xmlutil_node_text(c);
        }
    }
    if (ects && point != NULL && number_parse(point, 0, 1000, &v)) {
        o->has_ects = true;
        o->ects = v;
    }
    free(point);
}

static void outcome_read(struct lo_read *r, xmlNodePtr ref)
{
    xmlNodePtr lo = entity_find_ref(r->p, ref, OUTCOME_KINDS);
    struct lang_map m = {0};
    struct offer *o = r->o;

    if (lo == NULL || o->noutcomes >= MAX_OUTCOMES)
        return;
    for (xmlNodePtr c = xmlutil_first_element(lo->children); c; c = xmlutil_next_element(c))
        if (is_ns(r->p, c) && name_is(c, "title"))
            lang_text_add(&m, c);
    if (m.n == 0) /* an outcome with no text says nothing (3.1.0 exports need one) */
        return;
    if (o->noutcomes == r->cap_outcomes) {
        r->cap_outcomes = r->cap_outcomes ? 2 * r->cap_outcomes : 4;
        o->learning_outcomes =
            xrealloc(o->learning_outcomes, r->cap_outcomes * sizeof(*o->learning_outcomes));
    }
    o->learning_outcomes[o->noutcomes++] = m;
}

static void spec_child_read(struct lo_read *r, xmlNodePtr c)
{
    struct offer *o = r->o;
    char *code;
    char lang[16];

    if (name_is(c, "ISCEDFCode")) {
        if ((code = uri_code(c, URI_ISCED)) != NULL && !isced_is_unknown(code))
            strv_add_unique(&o->isced, &o->nisced, code);
        free(code);
    } else if (name_is(c, "language")) {
        /* UND (what exports write when there is none) and OP_DATPRO are no language */
        if ((code = uri_code(c, URI_LANGUAGE)) != NULL && strcmp(code, "UND") != 0 &&
            strcmp(code, "OP_DATPRO") != 0 && lang_from_eu(code, lang))
            strv_add_unique(&o->languages, &o->nlanguages, lang);
        free(code);
    } else if (name_is(c, "creditPoint") && !o->has_ects) {
        credit_read(r->p, c, o);
    } else if (name_is(c, "volumeOfLearning") && o->volume_of_learning == NULL) {
        o->volume_of_learning = xmlutil_node_text(c);
    } else if (name_is(c, "mode") && o->mode == OFFER_MODE_UNKNOWN) {
        char *uri = uri_trimmed(c);
        o->mode = uri ? mode_from_uri(uri) : OFFER_MODE_UNKNOWN;
        free(uri);
    } else if (name_is(c, "entryRequirement")) {
        literals_read(r->p, c, &o->entry_requirements);
    } else if (name_is(c, "learningOutcome")) {
        outcome_read(r, c);
    } else if (name_is(c, "provenBy") && r->assessment == NULL) {
        r->assessment = entity_find_ref(r->p, c, ASSESSMENT_KINDS);
    } else if (name_is(c, "EQFLevel") && o->eqf == 0) {
        char *uri = uri_trimmed(c);
        o->eqf = uri ? eqf_from_uri(uri) : 0;
        free(uri);
    } else if (name_is(c, "educationLevel") && r->education_level_eqf == 0) {
        char *uri = uri_trimmed(c);
        r->education_level_eqf = uri ? eqf_from_uri(uri) : 0;
        free(uri);
    } else if (name_is(c, "accreditation") && r->accreditation == NULL) {
        r->accreditation = entity_find_ref(r->p, c, ACCREDITATION_KINDS);
    } else if (name_is(c, "additionalNote")) {
        note_read(r, c);
    }
}

static void org_read(struct lo_read *r, xmlNodePtr org)
{
    struct offer *o = r->o;

    o->provider_id = attr_collapsed(org, "id");
    for (xmlNodePtr c = xmlutil_first_element(org->children); c; c = xmlutil_next_element(c)) {
        if (!is_ns(r->p, c))
            continue;
        if (name_is(c, "legalName")) {
            lang_text_add(&o->provider_name, c);
        } else if (name_is(c, "homepage") && o->provider_homepage == NULL) {
            o->provider_homepage = web_url(r->p, c);
        } else if (name_is(c, "accreditation") && r->org_accreditation == NULL) {
            r->org_accreditation = entity_find_ref(r->p, c, ACCREDITATION_KINDS);
        } else if (name_is(c, "location") && o->provider_country[0] == '\0') {
            xmlNodePtr loc = entity_find_ref(r->p, c, LOCATION_KINDS);
            for (xmlNodePtr a = loc ? xmlutil_first_element(loc->children) : NULL; a;
                 a = xmlutil_next_element(a)) {
                if (!is_ns(r->p, a) || !name_is(a, "address"))
                    continue;
                for (xmlNodePtr cc = xmlutil_first_element(a->children); cc;
                     cc = xmlutil_next_element(cc)) {
                    char *code;
                    if (!is_ns(r->p, cc) || !name_is(cc, "countryCode"))
                        continue;
                    code = uri_code(cc, URI_COUNTRY);
                    if (code != NULL && o->provider_country[0] == '\0')
                        country_from_eu(code, o->provider_country);
                    free(code);
                }
            }
        }
    }
}

static void titles_read(const struct parse *p, xmlNodePtr n, struct lang_map *into)
{
    if (n == NULL)
        return;
    for (xmlNodePtr c = xmlutil_first_element(n->children); c; c = xmlutil_next_element(c))
        if (is_ns(p, c) && name_is(c, "title"))
            lang_text_add(into, c);
}

/* DESIGN §5: the first identifier's skos:notation, else the id attribute. */
static char *external_id_read(const struct parse *p, xmlNodePtr lo)
{
    for (xmlNodePtr c = xmlutil_first_element(lo->children); c; c = xmlutil_next_element(c)) {
        if (!is_ns(p, c) || !name_is(c, "identifier"))
            continue;
        for (xmlNodePtr n = xmlutil_first_element(c->children); n; n = xmlutil_next_element(n))
            if (xmlutil_node_is(n, NS_SKOS, "notation"))
                return xmlutil_node_text(n);
        break;
    }
    return NULL;
}

static void lo_child_read(struct lo_read *r, xmlNodePtr c, xmlNodePtr *spec, xmlNodePtr *org)
{
    struct offer *o = r->o;

    if (name_is(c, "title")) {
        lang_text_add(&o->title, c);
    } else if (name_is(c, "description")) {
        lang_text_add(&o->description, c);
    } else if (name_is(c, "homepage") && o->homepage == NULL) {
        o->homepage = web_url(r->p, c);
    } else if (name_is(c, "temporal")) {
        temporal_read(r->p, c, o);
    } else if (name_is(c, "mode") && o->mode == OFFER_MODE_UNKNOWN) {
        char *uri = uri_trimmed(c);
        o->mode = uri ? mode_from_uri(uri) : OFFER_MODE_UNKNOWN;
        free(uri);
    } else if (name_is(c, "applicationDeadline") && o->application_deadline[0] == '\0') {
        date_read(c, o->application_deadline);
    } else if (name_is(c, "priceDetail") && !o->has_price) {
        price_read(r->p, c, o);
    } else if (name_is(c, "providedBy") && *org == NULL) {
        *org = entity_find_ref(r->p, c, ORG_KINDS);
    } else if (name_is(c, "learningAchievementSpecification") && *spec == NULL) {
        *spec = entity_find_ref(r->p, c, SPEC_KINDS);
    } else if (name_is(c, "additionalNote")) {
        note_read(r, c);
    }
}

/*
 * One learningOpportunity -> offer. Every lookup tolerates what a
 * schema-invalid document may lack: a failed item still gets what it has.
 */
static void lo_read(const struct parse *p, xmlNodePtr lo, struct offer *o)
{
    struct lo_read r = {.p = p, .o = o};
    xmlNodePtr spec = NULL, org = NULL;

    o->source_id = attr_collapsed(lo, "id");
    o->external_id = external_id_read(p, lo);
    if (o->external_id == NULL && o->source_id != NULL)
        o->external_id = xstrdup(o->source_id);
    for (xmlNodePtr c = xmlutil_first_element(lo->children); c; c = xmlutil_next_element(c))
        if (is_ns(p, c))
            lo_child_read(&r, c, &spec, &org);
    if (spec != NULL)
        for (xmlNodePtr c = xmlutil_first_element(spec->children); c; c = xmlutil_next_element(c))
            if (is_ns(p, c))
                spec_child_read(&r, c);
    if (org != NULL)
        org_read(&r, org);

    if (o->eqf == 0)
        o->eqf = r.education_level_eqf;
    lang_map_merge(&o->entry_requirements, &r.note_entry);
    titles_read(p, r.assessment, &o->assessment);
    if (o->assessment.n == 0)
        lang_map_merge(&o->assessment, &r.note_assessment);
    if (o->quality_assurance.n == 0)
        titles_read(p, r.accreditation ? r.accreditation : r.org_accreditation,
                    &o->quality_assurance);
    lang_map_cleanup(&r.note_assessment);
    lang_map_cleanup(&r.note_entry);
}

/* ---- parsing: the entry point ---- */

static void parse_cleanup(struct parse *p)
{
    for (size_t i = 0; i < p->nerrs; i++) {
        if (p->errs[i].is_copy)
            continue;
        free(p->errs[i].msg);
        free(p->errs[i].name);
        free(p->errs[i].value);
    }
    free(p->errs);
    for (size_t i = 0; i < p->nents; i++)
        free(p->ents[i].id);
    free(p->ents);
    for (size_t i = 0; i < p->nrefs; i++)
        free(p->refs[i].value);
    free(p->refs);
    free(p->los);
    free(p->edges);
    free(p->rstart);
    free(p->rsrc);
    if (p->ids != NULL)
        xmlHashFree(p->ids, NULL);
    if (p->refs_by_value != NULL)
        xmlHashFree(p->refs_by_value, NULL);
    if (p->refs_by_line != NULL)
        xmlHashFree(p->refs_by_line, NULL);
    if (p->doc != NULL)
        xmlFreeDoc(p->doc);
}

static void items_build(struct parse *p, struct loq_doc *out)
{
    out->nitems = p->nlos;
    out->items = xcalloc(p->nlos ? p->nlos : 1, sizeof(*out->items));
    for (size_t i = 0; i < p->nlos; i++) {
        struct loq_item *item = &out->items[i];
        xmlNodePtr lo = p->ents[p->los[i]].node;

        offer_init(&item->offer);
        item->index = (int)i;
        item->line = (int)xmlGetLineNo(lo);
        item->ok = true;
        lo_read(p, lo, &item->offer);
        item->external_id = xstrdup(item->offer.external_id ? item->offer.external_id : "");
    }
}

int loq_parse_limited(const struct loq_schemas *s, const char *data, size_t len,
                      const struct loq_limits *limits, struct loq_doc *out, struct mcx_error *err)
{
    struct parse p;
    struct mcx_error local;
    size_t max_bytes = limits && limits->max_bytes ? limits->max_bytes : LOQ_MAX_BYTES_DEFAULT;
    struct xmlutil_borrowed saved;
    int rc = 0;

    if (err == NULL)
        err = &local;
    mcx_error_clear(err);
    memset(out, 0, sizeof(*out));
    memset(&p, 0, sizeof(p));
    p.rd.max_depth = limits && limits->max_depth > 0 ? limits->max_depth : LOQ_MAX_DEPTH_DEFAULT;
    if (max_bytes > INT32_MAX)
        max_bytes = INT32_MAX;
    if (len > max_bytes) {
        mcx_error_set(err, "too_large", "the document is larger than %zu bytes", max_bytes);
        return -1;
    }
    if (data == NULL || len == 0) {
        mcx_error_set(err, "malformed_xml", "the document is empty");
        return -1;
    }
    if (s == NULL) {
        mcx_error_set(err, "internal", "LOQ schemas are not loaded");
        return -1;
    }
    /* libxml2's default handlers are per thread: borrowed here, given back below */
    xmlutil_handlers_borrow(&saved, stray_error, &p);
    if (xmlutil_read(&p.rd, data, len, "LOQ document", &p.doc, err) < 0 ||
        root_check(&p, err) < 0) {
        rc = -1;
        goto out;
    }
    out->version = p.version;
    p.schemas = s;
    p.ids = xmlHashCreate(256);
    p.refs_by_value = xmlHashCreate(256);
    p.refs_by_line = xmlHashCreate(256);
    entities_index(&p);
    idrefs_collect(&p);
    p.validating = true;
    validate(&p, s);
    p.validating = false;
    coded_restore(&p);
    errors_locate(&p);
    items_build(&p, out);
    errors_attribute(&p, out);
out:
    xmlutil_handlers_return(&saved);
    parse_cleanup(&p);
    return rc;
}

int loq_parse(const struct loq_schemas *s, const char *data, size_t len, struct loq_doc *out,
              struct mcx_error *err)
{
    return loq_parse_limited(s, data, len, NULL, out, err);
}

void loq_doc_cleanup(struct loq_doc *doc)
{
    if (doc == NULL)
        return;
    for (size_t i = 0; i < doc->nitems; i++) {
        offer_cleanup(&doc->items[i].offer);
        free(doc->items[i].external_id);
        free(doc->items[i].errors);
    }
    free(doc->items);
    free(doc->errors);
    memset(doc, 0, sizeof(*doc));
}

/* ---- export ---- */

/*
 * Where each offer field goes (and comes back from), per learningOpportunity L,
 * its specification S (qualification or learningAchievementSpecification),
 * provider organisation O and O's location:
 *
 *   external_id         L/identifier/skos:notation (parse: first identifier, else L/@id)
 *   source_id           L/@id
 *   title, description  L/title, L/description (attribute `language`)
 *   homepage            L/homepage/contentUrl (an empty homepage when none: required)
 *   starts, ends        L/temporal/startDate|endDate (dateTime, local midnight)
 *   application_deadline L/applicationDeadline (the first of several)
 *   price               L/priceDetail/amount/unit (currency URI; XXX = none) + value
 *   mode                L/mode (learning-assessment/920fbb3cbe online, e92d221e4d
 *                       blended, 9191af2ed9 presential); parse: first known of L's
 *                       modes, then S's
 *   languages           S/language (EU authority codes; UND when none: required)
 *   isced               S/ISCEDFCode (9999 "field unknown" when none: required)
 *   eqf                 S/EQFLevel on a qualification (with S/NQFLevel = the
 *                       provider country's framework), else S/educationLevel
 *   ects                S/creditPoint (framework ECTS 6fcec5c5af, point)
 *   volume_of_learning  S/volumeOfLearning
 *   entry_requirements  S/entryRequirement/noteLiteral; 3.1.0 allows one literal,
 *                       further languages go to S/additionalNote (topic entry-requirements)
 *   learning_outcomes   S/learningOutcome -> learningOutcome/title (3.1.0 needs one:
 *                       an outcome with an empty title stands for none)
 *   assessment          S/provenBy -> learningAssessmentSpecification/title
 *                       (parse also reads notes on topic #assessment)
 *   quality_assurance   S/additionalNote, dc:subject qualification-topics#
 *                       accreditation-and-quality-assurance (parse falls back to the
 *                       titles of S's, then O's, accreditation)
 *   provider_*          O/@id, O/legalName, O/homepage/contentUrl,
 *                       O/location -> location/address/countryCode (OP_DATPRO = unknown)
 */

struct org_rec {
    struct offer *first; /* a copy of the provider data of the first offer that named it (a
                            streamed export frees its offers batch by batch) */
    char *id;
    char *location_id;
};

struct exporter {
    int version;
    const char *ns;
    struct buf lo, spec, outcome, assessment, agent, location;
    xmlHashTablePtr lo_ids, notations, org_ids, org_by_provider;
    struct org_rec *orgs;
    size_t norgs, caporgs;
};

static void put_indent(struct buf *b, int depth)
{
    buf_putc(b, '\n');
    for (int i = 0; i < depth; i++)
        buf_puts(b, "  ");
}

/* Decodes one UTF-8 character; returns its length, 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, uint32_t *cp)
{
    uint32_t c = s[0];
    size_t len, i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, c &= 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, c &= 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, c &= 0x07;
    else
        return 0;
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10ffff)) ||
        (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

/*
 * Escapes text for XML 1.0: markup characters as entities, CR (and, in
 * attributes, TAB/LF) as character references so they survive normalisation;
 * characters XML cannot carry at all (other C0 controls, U+FFFE/U+FFFF,
 * invalid UTF-8) become U+FFFD.
 */
static void put_escaped(struct buf *b, const char *text, bool attr)
{
    const unsigned char *s = (const unsigned char *)(text ? text : "");

    while (*s != '\0') {
        uint32_t cp;
        size_t len = utf8_decode(s, &cp);

        if (len == 0 || (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xfffe ||
            cp == 0xffff) {
            buf_puts(b, "\xef\xbf\xbd");
            s += len ? len : 1;
            continue;
        }
        if (cp == '&')
            buf_puts(b, "&amp;");
        else if (cp == '<')
            buf_puts(b, "&lt;");
        else if (cp == '>')
            buf_puts(b, "&gt;");
        else if (cp == '"' && attr)
            buf_puts(b, "&quot;");
        else if (cp == '\r')
            buf_puts(b, "&#13;");
        else if (cp == '\t' && attr)
            buf_puts(b, "&#9;");
        else if (cp == '\n' && attr)
            buf_puts(b, "&#10;");
        else
            buf_append(b, s, len);
        s += len;
    }
}

static void put_open(struct buf *b, int depth, const char *name)
{
    put_indent(b, depth);
    buf_printf(b, "<%s>", name);
}

static void put_close(struct buf *b, int depth, const char *name)
{
    put_indent(b, depth);
    buf_printf(b, "</%s>", name);
}

/* <name attr="value"/> or, with open, <name attr="value"> */
static void put_attr_el(struct buf *b, int depth, const char *name, const char *attr,
                        const char *v1, const char *v2, bool open)
{
    put_indent(b, depth);
    buf_printf(b, "<%s %s=\"", name, attr);
    put_escaped(b, v1, true);
    if (v2 != NULL)
        put_escaped(b, v2, true);
    buf_puts(b, open ? "\">" : "\"/>");
}

static void put_text_el(struct buf *b, int depth, const char *name, const char *lang,
                        const char *text)
{
    put_indent(b, depth);
    buf_printf(b, "<%s", name);
    if (lang != NULL) {
        buf_puts(b, " language=\"");
        put_escaped(b, lang, true);
        buf_putc(b, '"');
    }
    buf_putc(b, '>');
    put_escaped(b, text, false);
    buf_printf(b, "</%s>", name);
}

/* One element per language; with a placeholder, an empty text when the map is
 * empty (for elements the schema requires; parsing drops empty texts). */
static void put_lang_map(struct buf *b, int depth, const char *name, const struct lang_map *m,
                         const char *placeholder_lang)
{
    for (size_t i = 0; i < m->n; i++)
        put_text_el(b, depth, name, m->items[i].lang, m->items[i].text);
    if (m->n == 0 && placeholder_lang != NULL)
        put_text_el(b, depth, name, placeholder_lang, "");
}

static void put_note(struct buf *b, int depth, const char *name, const char *topic,
                     const struct lang_map *m, size_t from, size_t to)
{
    put_open(b, depth, name);
    if (topic != NULL)
        put_attr_el(b, depth + 1, "dc:subject", "uri", topic, NULL, false);
    for (size_t i = from; i < to; i++)
        put_text_el(b, depth + 1, "noteLiteral", m->items[i].lang, m->items[i].text);
    put_close(b, depth, name);
}

/* Notes on a topic: one literal per note in 3.1.0, one note in 3.3.1. */
static void put_topic_notes(const struct exporter *x, struct buf *b, int depth, const char *topic,
                            const struct lang_map *m, size_t from)
{
    if (from >= m->n)
        return;
    if (x->version == LOQ_VERSION_331) {
        put_note(b, depth, "additionalNote", topic, m, from, m->n);
        return;
    }
    for (size_t i = from; i < m->n; i++)
        put_note(b, depth, "additionalNote", topic, m, i, i + 1);
}

/* Characters kept as they are in derived ids; the rest is percent-encoded. */
static void put_id_part(struct buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        if (isalnum(*c) || strchr("-._~:@/!$&()*+,;=", *c) != NULL) {
            buf_putc(b, (char)*c);
        } else {
            buf_putc(b, '%');
            buf_putc(b, hex[*c >> 4]);
            buf_putc(b, hex[*c & 15]);
        }
    }
}

/*
 * An id unique in `used`: the preferred one when it is a usable URI, else
 * prefix + the basis percent-encoded, with ~2, ~3, ... on collision.
 */
static char *id_claim(xmlHashTablePtr used, const char *preferred, const char *prefix,
                      const char *basis)
{
    struct buf b;
    char *id;

    /* "" is a valid xs:anyURI too, and a document may use it as an id */
    if (preferred != NULL && (preferred[0] == '\0' || uri_valid(preferred)) &&
        xmlHashLookup(used, (const xmlChar *)preferred) == NULL) {
        xmlHashAddEntry(used, (const xmlChar *)preferred, (void *)1);
        return xstrdup(preferred);
    }
    buf_init(&b);
    buf_puts(&b, prefix);
    put_id_part(&b, basis ? basis : "");
    for (int n = 2; xmlHashLookup(used, (const xmlChar *)b.data) != NULL; n++) {
        size_t base = strlen(prefix);
        b.len = base;
        b.data[base] = '\0';
        put_id_part(&b, basis ? basis : "");
        buf_printf(&b, "~%d", n);
    }
    id = buf_steal(&b, NULL);
    xmlHashAddEntry(used, (const xmlChar *)id, (void *)1);
    return id;
}

static char *id_derive(const char *prefix, const char *basis, const char *suffix)
{
    struct buf b;

    buf_init(&b);
    buf_puts(&b, prefix);
    put_id_part(&b, basis);
    if (suffix != NULL)
        buf_puts(&b, suffix);
    return buf_steal(&b, NULL);
}

static bool maps_equal(const struct lang_map *a, const struct lang_map *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        bool found = false;
        for (size_t k = 0; k < b->n && !found; k++)
            found = strcmp(a->items[i].lang, b->items[k].lang) == 0 &&
                    strcmp(a->items[i].text, b->items[k].text) == 0;
        if (!found)
            return false;
    }
    return true;
}

static bool same_str(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool same_provider(const struct offer *a, const struct offer *b)
{
    return same_str(a->provider_id, b->provider_id) &&
           strcmp(a->provider_country, b->provider_country) == 0 &&
           same_str(a->provider_homepage, b->provider_homepage) &&
           maps_equal(&a->provider_name, &b->provider_name);
}

static const char *first_lang(const struct lang_map *m)
{
    return m->n > 0 ? m->items[0].lang : "en";
}

static void org_write(struct exporter *x, const struct org_rec *org)
{
    const struct offer *o = org->first;
    char eu[4];

    put_attr_el(&x->agent, 2, "organisation", "id", org->id, NULL, true);
    put_lang_map(&x->agent, 3, "legalName", &o->provider_name, first_lang(&o->title));
    if (o->provider_homepage != NULL && uri_valid(o->provider_homepage)) {
        put_open(&x->agent, 3, "homepage");
        put_text_el(&x->agent, 4, "contentUrl", NULL, o->provider_homepage);
        put_close(&x->agent, 3, "homepage");
    }
    put_attr_el(&x->agent, 3, "location", "idref", org->location_id, NULL, false);
    put_close(&x->agent, 2, "organisation");

    put_attr_el(&x->location, 2, "location", "id", org->location_id, NULL, true);
    put_open(&x->location, 3, "address");
    put_attr_el(&x->location, 4, "countryCode", "uri", URI_COUNTRY,
                country_to_eu(o->provider_country, eu) ? eu : "OP_DATPRO", false);
    put_close(&x->location, 3, "address");
    put_close(&x->location, 2, "location");
}

/* What org_write and same_provider read of an offer, owned by the exporter. */
static struct offer *provider_copy(const struct offer *o)
{
    struct offer *c = xmalloc(sizeof(*c));

    offer_init(c);
    c->provider_id = o->provider_id ? xstrdup(o->provider_id) : NULL;
    c->provider_homepage = o->provider_homepage ? xstrdup(o->provider_homepage) : NULL;
    memcpy(c->provider_country, o->provider_country, sizeof(c->provider_country));
    for (size_t i = 0; i < o->provider_name.n; i++)
        lang_map_add(&c->provider_name, o->provider_name.items[i].lang,
                     o->provider_name.items[i].text);
    if (o->title.n > 0)
        lang_map_add(&c->title, o->title.items[0].lang, ""); /* legalName's default language */
    return c;
}

/* The provider organisation of o: shared with earlier offers of identical provider data. */
static const struct org_rec *org_claim(struct exporter *x, const struct offer *o, const char *lo_id)
{
    struct org_rec *org;

    if (o->provider_id != NULL) {
        size_t i = ptr_to_index(xmlHashLookup(x->org_by_provider, (const xmlChar *)o->provider_id));
        if (i != NONE && same_provider(x->orgs[i].first, o))
            return &x->orgs[i];
    }
    GROW(x->orgs, x->norgs, x->caporgs);
    org = &x->orgs[x->norgs];
    org->first = provider_copy(o);
    org->id = id_claim(x->org_ids, o->provider_id, "urn:mcx:org:", lo_id);
    if (o->provider_id != NULL &&
        xmlHashLookup(x->org_by_provider, (const xmlChar *)o->provider_id) == NULL)
        xmlHashAddEntry(x->org_by_provider, (const xmlChar *)o->provider_id,
                        index_to_ptr(x->norgs));
    org->location_id = id_derive("urn:mcx:location:", org->id, NULL);
    x->norgs++;
    org_write(x, org);
    return org;
}

static void outcomes_write(struct exporter *x, const struct offer *o, const char *lo_id)
{
    size_t written = 0;
    char suffix[32];

    for (size_t i = 0; i <= o->noutcomes; i++) {
        const struct lang_map *m = i < o->noutcomes ? &o->learning_outcomes[i] : NULL;
        char *id;
        if (m != NULL && m->n == 0)
            continue;
        /* after the last one: 3.1.0 requires an outcome, an empty one stands for none */
        if (m == NULL && (written > 0 || x->version == LOQ_VERSION_331))
            break;
        snprintf(suffix, sizeof(suffix), ":%zu", written + 1);
        id = id_derive("urn:mcx:outcome:", lo_id, suffix);
        put_attr_el(&x->spec, 3, "learningOutcome", "idref", id, NULL, false);
        put_attr_el(&x->outcome, 2, "learningOutcome", "id", id, NULL, true);
        if (m != NULL)
            put_lang_map(&x->outcome, 3, "title", m, NULL);
        else
            put_text_el(&x->outcome, 3, "title", first_lang(&o->title), "");
        put_close(&x->outcome, 2, "learningOutcome");
        free(id);
        written++;
    }
}

static void languages_write(struct exporter *x, const struct offer *o)
{
    size_t written = 0;
    char eu[4];

    for (size_t i = 0; i < o->nlanguages; i++) {
        if (o->languages[i] == NULL || !lang_to_eu(o->languages[i], eu) || strcmp(eu, "UND") == 0)
            continue;
        put_attr_el(&x->spec, 3, "language", "uri", URI_LANGUAGE, eu, false);
        written++;
    }
    if (written == 0)
        put_attr_el(&x->spec, 3, "language", "uri", URI_LANGUAGE, "UND", false);
}

static void isced_write(struct exporter *x, const struct offer *o)
{
    size_t written = 0;

    for (size_t i = 0; i < o->nisced; i++) {
        if (o->isced[i] == NULL || !isced_known(o->isced[i]) || isced_is_unknown(o->isced[i]))
            continue;
        put_attr_el(&x->spec, 3, "ISCEDFCode", "uri", URI_ISCED, o->isced[i], false);
        written++;
    }
    if (written == 0)
        put_attr_el(&x->spec, 3, "ISCEDFCode", "uri", URI_ISCED, "9999", false);
}

static void spec_write(struct exporter *x, const struct offer *o, const char *lo_id,
                       const char *spec_id)
{
    struct buf *b = &x->spec;
    const char *nqf = o->eqf >= 1 && o->eqf <= 8 ? nqf_for_country(o->provider_country) : NULL;
    const char *kind = nqf != NULL ? "qualification" : "learningAchievementSpecification";
    char num[64], eqf[2] = {(char)('0' + o->eqf), '\0'};
    char *assess_id = NULL;

    put_attr_el(b, 2, kind, "id", spec_id, NULL, true);
    put_lang_map(b, 3, "title", &o->title, "en");
    put_topic_notes(x, b, 3, TOPIC_QA, &o->quality_assurance, 0);
    if (x->version == LOQ_VERSION_310) /* one literal in entryRequirement, the rest here */
        put_topic_notes(x, b, 3, TOPIC_ENTRY, &o->entry_requirements, 1);
    isced_write(x, o);
    if (o->volume_of_learning != NULL && duration_valid(o->volume_of_learning))
        put_text_el(b, 3, "volumeOfLearning", NULL, o->volume_of_learning);
    if (o->has_ects && isfinite(o->ects) && o->ects >= 0) {
        decimal_format(o->ects, false, num, sizeof(num)); /* point is an xs:string */
        put_open(b, 3, "creditPoint");
        put_attr_el(b, 4, "framework", "uri", URI_ECTS, NULL, false);
        put_text_el(b, 4, "point", NULL, num);
        put_close(b, 3, "creditPoint");
    }
    if (nqf == NULL && o->eqf >= 1 && o->eqf <= 8)
        put_attr_el(b, 3, "educationLevel", "uri", URI_EQF, eqf, false);
    languages_write(x, o);
    if (o->entry_requirements.n > 0)
        put_note(b, 3, "entryRequirement", NULL, &o->entry_requirements, 0,
                 x->version == LOQ_VERSION_310 ? 1 : o->entry_requirements.n);
    outcomes_write(x, o, lo_id);
    if (o->assessment.n > 0) {
        assess_id = id_derive("urn:mcx:assessment:", lo_id, NULL);
        put_attr_el(b, 3, "provenBy", "idref", assess_id, NULL, false);
        put_attr_el(&x->assessment, 2, "learningAssessmentSpecification", "id", assess_id, NULL,
                    true);
        put_lang_map(&x->assessment, 3, "title", &o->assessment, NULL);
        put_close(&x->assessment, 2, "learningAssessmentSpecification");
        free(assess_id);
    }
    if (nqf != NULL) {
        put_attr_el(b, 3, "EQFLevel", "uri", URI_EQF, eqf, false);
        put_attr_el(b, 3, "NQFLevel", "uri", URI_NQF, nqf, false);
    }
    put_close(b, 2, kind);
}

static void datetime_write(struct buf *b, int depth, const char *name, const char *date)
{
    char dt[32];

    if (!date_valid(date))
        return;
    snprintf(dt, sizeof(dt), "%sT00:00:00", date);
    put_text_el(b, depth, name, NULL, dt);
}

static void price_write(struct buf *b, const struct offer *o)
{
    char cur[4] = "XXX", num[400];

    if (!o->has_price || !isfinite(o->price_amount))
        return;
    if (strlen(o->currency) == 3) {
        for (int i = 0; i < 3; i++)
            cur[i] = (char)toupper((unsigned char)o->currency[i]);
        if (!currency_known(cur))
            memcpy(cur, "XXX", 4);
    }
    decimal_format(o->price_amount, true, num, sizeof(num));
    put_open(b, 3, "priceDetail");
    put_open(b, 4, "amount");
    put_attr_el(b, 5, "unit", "uri", URI_CURRENCY, cur, false);
    put_text_el(b, 5, "value", NULL, num);
    put_close(b, 4, "amount");
    put_close(b, 3, "priceDetail");
}

static const char *default_language(const struct offer *o, char eu[4])
{
    for (size_t i = 0; i < o->title.n; i++) {
        char base[8];
        mcx_strlcpy(base, o->title.items[i].lang, sizeof(base));
        base[strcspn(base, "-_")] = '\0';
        if (lang_to_eu(base, eu))
            return eu;
    }
    for (size_t i = 0; i < o->nlanguages; i++)
        if (o->languages[i] != NULL && lang_to_eu(o->languages[i], eu))
            return eu;
    return "UND";
}

static void lo_write(struct exporter *x, const struct offer *o, size_t index)
{
    struct buf *b = &x->lo;
    char basis[32], eu[4];
    const char *ext = o->external_id;
    char *lo_id, *spec_id;
    const struct org_rec *org;
    const char *mode = mode_code(o->mode);

    snprintf(basis, sizeof(basis), "%zu", index + 1);
    lo_id = id_claim(x->lo_ids, o->source_id, "urn:mcx:lo:", ext && *ext ? ext : basis);
    spec_id = id_derive("urn:mcx:spec:", lo_id, NULL);
    org = org_claim(x, o, lo_id);

    put_attr_el(b, 2, "learningOpportunity", "id", lo_id, NULL, true);
    /* xs:unique: a notation may appear once per document */
    if (ext != NULL && *ext != '\0' && xmlHashLookup(x->notations, (const xmlChar *)ext) == NULL) {
        xmlHashAddEntry(x->notations, (const xmlChar *)ext, (void *)1);
        put_open(b, 3, "identifier");
        put_text_el(b, 4, "skos:notation", NULL, ext);
        put_close(b, 3, "identifier");
    }
    put_lang_map(b, 3, "title", &o->title, "en");
    put_lang_map(b, 3, "description", &o->description, NULL);
    if (o->homepage != NULL && uri_valid(o->homepage)) {
        put_open(b, 3, "homepage");
        put_text_el(b, 4, "contentUrl", NULL, o->homepage);
        put_close(b, 3, "homepage");
    } else {
        put_indent(b, 3);
        buf_puts(b, "<homepage/>");
    }
    if (date_valid(o->starts) || date_valid(o->ends)) {
        put_open(b, 3, "temporal");
        datetime_write(b, 4, "startDate", o->starts);
        datetime_write(b, 4, "endDate", o->ends);
        put_close(b, 3, "temporal");
    }
    if (mode != NULL)
        put_attr_el(b, 3, "mode", "uri", URI_MODE, mode, false);
    datetime_write(b, 3, "applicationDeadline", o->application_deadline);
    price_write(b, o);
    put_attr_el(b, 3, "providedBy", "idref", org->id, NULL, false);
    put_attr_el(b, 3, "learningAchievementSpecification", "idref", spec_id, NULL, false);
    put_attr_el(b, 3, "defaultLanguage", "uri", URI_LANGUAGE, default_language(o, eu), false);
    put_close(b, 2, "learningOpportunity");

    spec_write(x, o, lo_id, spec_id);
    free(lo_id);
    free(spec_id);
}

static void container_put(struct buf *out, const char *name, struct buf *content)
{
    if (content->len == 0)
        return;
    buf_printf(out, "\n  <%s>", name);
    buf_append(out, content->data, content->len);
    buf_printf(out, "\n  </%s>", name);
}

/* The sections of a Courses document, in the order the schema wants them. */
static const char *const section_names[6] = {
    "learningOpportunityReferences",
    "learningAchievementSpecificationReferences",
    "learningOutcomeReferences",
    "learningAssessmentSpecificationReferences",
    "agentReferences",
    "locationReferences",
};

static struct buf *exporter_section(struct exporter *x, int i)
{
    struct buf *sections[6] = {&x->lo,         &x->spec,  &x->outcome,
                               &x->assessment, &x->agent, &x->location};
    return sections[i];
}

static int exporter_init(struct exporter *x, int version, size_t n)
{
    if (version == 0)
        version = LOQ_VERSION_310;
    if (version != LOQ_VERSION_310 && version != LOQ_VERSION_331)
        return -1;
    memset(x, 0, sizeof(*x));
    x->version = version;
    x->ns = version == LOQ_VERSION_331 ? LOQ_NS_331 : LOQ_NS_310;
    for (int i = 0; i < 6; i++)
        buf_init(exporter_section(x, i));
    x->lo_ids = xmlHashCreate((int)(n < 1 << 20 ? n : 1 << 20) + 16);
    x->notations = xmlHashCreate((int)(n < 1 << 20 ? n : 1 << 20) + 16);
    x->org_ids = xmlHashCreate(16);
    x->org_by_provider = xmlHashCreate(16);
    return 0;
}

static void exporter_head(const struct exporter *x, struct buf *out)
{
    buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    buf_printf(out,
               "<Courses xmlns=\"%s\" xmlns:dc=\"" NS_DC "\" xmlns:skos=\"" NS_SKOS
               "\" xsdVersion=\"%s\">",
               x->ns, x->version == LOQ_VERSION_331 ? "3.3.1" : "3.1.0");
}

static void exporter_cleanup(struct exporter *x)
{
    for (size_t i = 0; i < x->norgs; i++) {
        free(x->orgs[i].id);
        free(x->orgs[i].location_id);
        offer_cleanup(x->orgs[i].first);
        free(x->orgs[i].first);
    }
    free(x->orgs);
    xmlHashFree(x->lo_ids, NULL);
    xmlHashFree(x->notations, NULL);
    xmlHashFree(x->org_ids, NULL);
    xmlHashFree(x->org_by_provider, NULL);
    for (int i = 0; i < 6; i++)
        buf_cleanup(exporter_section(x, i));
}

int loq_export(const struct offer *const *offers, size_t n, int version, struct buf *out)
{
    struct exporter x;

    if (exporter_init(&x, version, n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (offers[i] != NULL)
            lo_write(&x, offers[i], i);
    exporter_head(&x, out);
    for (int i = 0; i < 6; i++)
        container_put(out, section_names[i], exporter_section(&x, i));
    buf_puts(out, "\n</Courses>\n");
    exporter_cleanup(&x);
    return 0;
}

/* ---- streamed export ---- */

struct loq_stream {
    struct exporter x;
    FILE *files[6]; /* each section's entries so far, off the heap */
    size_t next_index;
    bool has_failed;
};

struct loq_stream *loq_stream_new(int version)
{
    struct loq_stream *st = xcalloc(1, sizeof(*st));

    if (exporter_init(&st->x, version, 1024) != 0) {
        free(st);
        return NULL;
    }
    for (int i = 0; i < 6; i++) {
        if ((st->files[i] = tmpfile()) == NULL) {
            loq_stream_free(st);
            return NULL;
        }
    }
    return st;
}

int loq_stream_add(struct loq_stream *st, const struct offer *const *offers, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (offers[i] != NULL)
            lo_write(&st->x, offers[i], st->next_index++);
    for (int i = 0; i < 6; i++) {
        struct buf *b = exporter_section(&st->x, i);
        if (b->len > 0 && fwrite(b->data, 1, b->len, st->files[i]) != b->len)
            st->has_failed = true;
        buf_reset(b);
    }
    return st->has_failed ? -1 : 0;
}

int loq_stream_finish(struct loq_stream *st, loq_stream_emit_fn emit, void *arg)
{
    struct buf b;

    if (st->has_failed)
        return -1;
    buf_init(&b);
    exporter_head(&st->x, &b);
    for (int i = 0; i < 6; i++) {
        long size;
        if (fflush(st->files[i]) != 0 || (size = ftell(st->files[i])) < 0) {
            buf_cleanup(&b);
            return -1;
        }
        if (size == 0)
            continue;
        buf_printf(&b, "\n  <%s>", section_names[i]);
        emit(arg, b.data, b.len, -1, 0);
        buf_reset(&b);
        emit(arg, NULL, 0, fileno(st->files[i]), (size_t)size);
        buf_printf(&b, "\n  </%s>", section_names[i]);
    }
    buf_puts(&b, "\n</Courses>\n");
    emit(arg, b.data, b.len, -1, 0);
    buf_cleanup(&b);
    return 0;
}

void loq_stream_free(struct loq_stream *st)
{
    if (st == NULL)
        return;
    for (int i = 0; i < 6; i++)
        if (st->files[i] != NULL)
            fclose(st->files[i]);
    exporter_cleanup(&st->x);
    free(st);
}

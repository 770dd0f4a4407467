/*
 * codes.c — the code tables of codes.h and their lookups. The scans are linear: the
 * tables are a few hundred entries, looked up a few times per document.
 */
#include "catalogue/codes.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "server/util.h"

/*
 * ISO 639-1 code + ISO 639-2/T code (the EU language authority's, uppercased),
 * from Debian iso-codes; then the 639-2/B codes that differ, + 639-1.
 */
static const char lang_codes[][6] = {
    "aaaar", "ababk", "aeave", "afafr", "akaka", "amamh", "anarg", "arara", "asasm", "avava",
    "ayaym", "azaze", "babak", "bebel", "bgbul", "bhbih", "bibis", "bmbam", "bnben", "bobod",
    "brbre", "bsbos", "cacat", "ceche", "chcha", "cocos", "crcre", "csces", "cuchu", "cvchv",
    "cycym", "dadan", "dedeu", "dvdiv", "dzdzo", "eeewe", "elell", "eneng", "eoepo", "esspa",
    "etest", "eueus", "fafas", "ffful", "fifin", "fjfij", "fofao", "frfra", "fyfry", "gagle",
    "gdgla", "glglg", "gngrn", "guguj", "gvglv", "hahau", "heheb", "hihin", "hohmo", "hrhrv",
    "hthat", "huhun", "hyhye", "hzher", "iaina", "idind", "ieile", "igibo", "iiiii", "ikipk",
    "ioido", "isisl", "itita", "iuiku", "jajpn", "jvjav", "kakat", "kgkon", "kikik", "kjkua",
    "kkkaz", "klkal", "kmkhm", "knkan", "kokor", "krkau", "kskas", "kukur", "kvkom", "kwcor",
    "kykir", "lalat", "lbltz", "lglug", "lilim", "lnlin", "lolao", "ltlit", "lulub", "lvlav",
    "mgmlg", "mhmah", "mimri", "mkmkd", "mlmal", "mnmon", "mrmar", "msmsa", "mtmlt", "mymya",
    "nanau", "nbnob", "ndnde", "nenep", "ngndo", "nlnld", "nnnno", "nonor", "nrnbl", "nvnav",
    "nynya", "ococi", "ojoji", "omorm", "orori", "ososs", "papan", "pipli", "plpol", "pspus",
    "ptpor", "quque", "rmroh", "rnrun", "roron", "rurus", "rwkin", "sasan", "scsrd", "sdsnd",
    "sesme", "sgsag", "sisin", "skslk", "slslv", "smsmo", "snsna", "sosom", "sqsqi", "srsrp",
    "ssssw", "stsot", "susun", "svswe", "swswa", "tatam", "tetel", "tgtgk", "ththa", "titir",
    "tktuk", "tltgl", "tntsn", "toton", "trtur", "tstso", "tttat", "twtwi", "tytah", "uguig",
    "ukukr", "ururd", "uzuzb", "veven", "vivie", "vovol", "wawln", "wowol", "xhxho", "yiyid",
    "yoyor", "zazha", "zhzho", "zuzul",
};

static const char lang_bibliographic[][6] = {
    "albsq", "armhy", "baqeu", "burmy", "chizh", "czecs", "dutnl", "frefr", "geoka", "gerde",
    "greel", "iceis", "macmk", "maomi", "mayms", "perfa", "rumro", "slosk", "tibbo", "welcy",
};

/* ISO 3166-1 alpha-2 + the EU country authority's code (alpha-3; Kosovo 1A0). */
static const struct {
    char alpha2[3];
    char authority[4];
} countries[] = {
    {"AD", "AND"}, {"AE", "ARE"}, {"AF", "AFG"}, {"AG", "ATG"}, {"AI", "AIA"}, {"AL", "ALB"},
    {"AM", "ARM"}, {"AO", "AGO"}, {"AQ", "ATA"}, {"AR", "ARG"}, {"AS", "ASM"}, {"AT", "AUT"},
    {"AU", "AUS"}, {"AW", "ABW"}, {"AX", "ALA"}, {"AZ", "AZE"}, {"BA", "BIH"}, {"BB", "BRB"},
    {"BD", "BGD"}, {"BE", "BEL"}, {"BF", "BFA"}, {"BG", "BGR"}, {"BH", "BHR"}, {"BI", "BDI"},
    {"BJ", "BEN"}, {"BL", "BLM"}, {"BM", "BMU"}, {"BN", "BRN"}, {"BO", "BOL"}, {"BQ", "BES"},
    {"BR", "BRA"}, {"BS", "BHS"}, {"BT", "BTN"}, {"BV", "BVT"}, {"BW", "BWA"}, {"BY", "BLR"},
    {"BZ", "BLZ"}, {"CA", "CAN"}, {"CC", "CCK"}, {"CD", "COD"}, {"CF", "CAF"}, {"CG", "COG"},
    {"CH", "CHE"}, {"CI", "CIV"}, {"CK", "COK"}, {"CL", "CHL"}, {"CM", "CMR"}, {"CN", "CHN"},
    {"CO", "COL"}, {"CR", "CRI"}, {"CU", "CUB"}, {"CV", "CPV"}, {"CW", "CUW"}, {"CX", "CXR"},
    {"CY", "CYP"}, {"CZ", "CZE"}, {"DE", "DEU"}, {"DJ", "DJI"}, {"DK", "DNK"}, {"DM", "DMA"},
    {"DO", "DOM"}, {"DZ", "DZA"}, {"EC", "ECU"}, {"EE", "EST"}, {"EG", "EGY"}, {"EH", "ESH"},
    {"ER", "ERI"}, {"ES", "ESP"}, {"ET", "ETH"}, {"FI", "FIN"}, {"FJ", "FJI"}, {"FK", "FLK"},
    {"FM", "FSM"}, {"FO", "FRO"}, {"FR", "FRA"}, {"GA", "GAB"}, {"GB", "GBR"}, {"GD", "GRD"},
    {"GE", "GEO"}, {"GF", "GUF"}, {"GG", "GGY"}, {"GH", "GHA"}, {"GI", "GIB"}, {"GL", "GRL"},
    {"GM", "GMB"}, {"GN", "GIN"}, {"GP", "GLP"}, {"GQ", "GNQ"}, {"GR", "GRC"}, {"GS", "SGS"},
    {"GT", "GTM"}, {"GU", "GUM"}, {"GW", "GNB"}, {"GY", "GUY"}, {"HK", "HKG"}, {"HM", "HMD"},
    {"HN", "HND"}, {"HR", "HRV"}, {"HT", "HTI"}, {"HU", "HUN"}, {"ID", "IDN"}, {"IE", "IRL"},
    {"IL", "ISR"}, {"IM", "IMN"}, {"IN", "IND"}, {"IO", "IOT"}, {"IQ", "IRQ"}, {"IR", "IRN"},
    {"IS", "ISL"}, {"IT", "ITA"}, {"JE", "JEY"}, {"JM", "JAM"}, {"JO", "JOR"}, {"JP", "JPN"},
    {"KE", "KEN"}, {"KG", "KGZ"}, {"KH", "KHM"}, {"KI", "KIR"}, {"KM", "COM"}, {"KN", "KNA"},
    {"KP", "PRK"}, {"KR", "KOR"}, {"KW", "KWT"}, {"KY", "CYM"}, {"KZ", "KAZ"}, {"LA", "LAO"},
    {"LB", "LBN"}, {"LC", "LCA"}, {"LI", "LIE"}, {"LK", "LKA"}, {"LR", "LBR"}, {"LS", "LSO"},
    {"LT", "LTU"}, {"LU", "LUX"}, {"LV", "LVA"}, {"LY", "LBY"}, {"MA", "MAR"}, {"MC", "MCO"},
    {"MD", "MDA"}, {"ME", "MNE"}, {"MF", "MAF"}, {"MG", "MDG"}, {"MH", "MHL"}, {"MK", "MKD"},
    {"ML", "MLI"}, {"MM", "MMR"}, {"MN", "MNG"}, {"MO", "MAC"}, {"MP", "MNP"}, {"MQ", "MTQ"},
    {"MR", "MRT"}, {"MS", "MSR"}, {"MT", "MLT"}, {"MU", "MUS"}, {"MV", "MDV"}, {"MW", "MWI"},
    {"MX", "MEX"}, {"MY", "MYS"}, {"MZ", "MOZ"}, {"NA", "NAM"}, {"NC", "NCL"}, {"NE", "NER"},
    {"NF", "NFK"}, {"NG", "NGA"}, {"NI", "NIC"}, {"NL", "NLD"}, {"NO", "NOR"}, {"NP", "NPL"},
    {"NR", "NRU"}, {"NU", "NIU"}, {"NZ", "NZL"}, {"OM", "OMN"}, {"PA", "PAN"}, {"PE", "PER"},
    {"PF", "PYF"}, {"PG", "PNG"}, {"PH", "PHL"}, {"PK", "PAK"}, {"PL", "POL"}, {"PM", "SPM"},
    {"PN", "PCN"}, {"PR", "PRI"}, {"PS", "PSE"}, {"PT", "PRT"}, {"PW", "PLW"}, {"PY", "PRY"},
    {"QA", "QAT"}, {"RE", "REU"}, {"RO", "ROU"}, {"RS", "SRB"}, {"RU", "RUS"}, {"RW", "RWA"},
    {"SA", "SAU"}, {"SB", "SLB"}, {"SC", "SYC"}, {"SD", "SDN"}, {"SE", "SWE"}, {"SG", "SGP"},
    {"SH", "SHN"}, {"SI", "SVN"}, {"SJ", "SJM"}, {"SK", "SVK"}, {"SL", "SLE"}, {"SM", "SMR"},
    {"SN", "SEN"}, {"SO", "SOM"}, {"SR", "SUR"}, {"SS", "SSD"}, {"ST", "STP"}, {"SV", "SLV"},
    {"SX", "SXM"}, {"SY", "SYR"}, {"SZ", "SWZ"}, {"TC", "TCA"}, {"TD", "TCD"}, {"TF", "ATF"},
    {"TG", "TGO"}, {"TH", "THA"}, {"TJ", "TJK"}, {"TK", "TKL"}, {"TL", "TLS"}, {"TM", "TKM"},
    {"TN", "TUN"}, {"TO", "TON"}, {"TR", "TUR"}, {"TT", "TTO"}, {"TV", "TUV"}, {"TW", "TWN"},
    {"TZ", "TZA"}, {"UA", "UKR"}, {"UG", "UGA"}, {"UM", "UMI"}, {"US", "USA"}, {"UY", "URY"},
    {"UZ", "UZB"}, {"VA", "VAT"}, {"VC", "VCT"}, {"VE", "VEN"}, {"VG", "VGB"}, {"VI", "VIR"},
    {"VN", "VNM"}, {"VU", "VUT"}, {"WF", "WLF"}, {"WS", "WSM"}, {"XK", "1A0"}, {"YE", "YEM"},
    {"YT", "MYT"}, {"ZA", "ZAF"}, {"ZM", "ZMB"}, {"ZW", "ZWE"},
};

/* Europass modes of learning and assessment (loq/cv/europass-modes.xsd) that DESIGN §5
 * names; the others (work-based, project-based, research-lab) have no mcx mode. */
static const struct codes_mode modes[] = {
    {OFFER_MODE_ONLINE, "920fbb3cbe", "Online"},
    {OFFER_MODE_BLENDED, "e92d221e4d", "Blended"},
    {OFFER_MODE_ONSITE, "9191af2ed9", "Presential"},
};

/* ---- languages ---- */

bool codes_lang_canonical(const char *in, char *out, size_t size)
{
    size_t n = strlen(in);

    if (size > 0)
        out[0] = '\0';
    if (n < 2 || n >= size)
        return false;
    for (size_t i = 0; i < n; i++) {
        /* ASCII only, whatever the locale calls a letter */
        if ((unsigned char)in[i] > 0x7f || !isalpha((unsigned char)in[i])) {
            out[0] = '\0';
            return false;
        }
        out[i] = (char)tolower((unsigned char)in[i]);
    }
    out[n] = '\0';
    if (n != 3)
        return true;
    for (size_t i = 0; i < MCX_ARRAY_LEN(lang_codes); i++) {
        if (memcmp(lang_codes[i] + 2, out, 3) == 0) {
            memcpy(out, lang_codes[i], 2);
            out[2] = '\0';
            return true;
        }
    }
    for (size_t i = 0; i < MCX_ARRAY_LEN(lang_bibliographic); i++) {
        if (memcmp(lang_bibliographic[i], out, 3) == 0) {
            memcpy(out, lang_bibliographic[i] + 3, 2);
            out[2] = '\0';
            return true;
        }
    }
    return true;
}

bool codes_lang_is_known(const char *code)
{
    size_t n = strlen(code);

    if (n == 3)
        return true;
    for (size_t i = 0; n == 2 && i < MCX_ARRAY_LEN(lang_codes); i++)
        if (memcmp(lang_codes[i], code, 2) == 0)
            return true;
    return false;
}

void codes_lang_authority(const char *code, char *out, size_t size)
{
    if (size == 0)
        return;
    mcx_strlcpy(out, code, size);
    for (char *p = out; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (size_t i = 0; strlen(out) == 2 && i < MCX_ARRAY_LEN(lang_codes); i++) {
        if (memcmp(lang_codes[i], out, 2) == 0) {
            mcx_strlcpy(out, lang_codes[i] + 2, size);
            break;
        }
    }
    for (char *p = out; *p; p++)
        *p = (char)toupper((unsigned char)*p);
}

/* ---- countries ---- */

const char *codes_country_authority(const char *alpha2)
{
    if (alpha2 == NULL || strlen(alpha2) != 2)
        return NULL;
    for (size_t i = 0; i < MCX_ARRAY_LEN(countries); i++)
        if (strcasecmp(countries[i].alpha2, alpha2) == 0)
            return countries[i].authority;
    return NULL;
}

const char *codes_country_alpha2(const char *code)
{
    size_t n = code != NULL ? strlen(code) : 0;

    for (size_t i = 0; (n == 2 || n == 3) && i < MCX_ARRAY_LEN(countries); i++)
        if (strcasecmp(n == 2 ? countries[i].alpha2 : countries[i].authority, code) == 0)
            return countries[i].alpha2;
    return NULL;
}

/* ---- modes ---- */

const struct codes_mode *codes_mode_find(enum offer_mode mode)
{
    for (size_t i = 0; i < MCX_ARRAY_LEN(modes); i++)
        if (modes[i].mode == mode)
            return &modes[i];
    return NULL;
}

enum offer_mode codes_mode_of_uri(const char *uri)
{
    size_t n = strlen(CODES_URI_MODE);

    if (uri == NULL || strncmp(uri, CODES_URI_MODE, n) != 0)
        return OFFER_MODE_UNKNOWN;
    for (size_t i = 0; i < MCX_ARRAY_LEN(modes); i++)
        if (strcmp(uri + n, modes[i].id) == 0)
            return modes[i].mode;
    return OFFER_MODE_UNKNOWN;
}

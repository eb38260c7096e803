/*
 * record_registry.c - the field registry of DOMAIN.md §4 (types, fields,
 * kinds, enum codes, ranges, required fields, date order) and the rule of
 * each field kind: real calendar dates, the BSN elfproef and onderwijsnummer,
 * code patterns (woongemeente, brin, swv, schooljaar).
 *
 * The tables here are the single source of truth for what a record may
 * hold; docs/records.md mirrors them. There is no free-text field and there
 * must never be one (DOMAIN.md §4.1). Diagnostics name the field and the
 * rule; this file must never put a value into a message.
 */
#include <stdio.h>
#include <string.h>

#include "record_registry.h"

/* ---- enumerations (DOMAIN.md §2.3, §2.4, §4.2-4.8, §5, §6) ---- */

static const char *const s_onderwijssoort[] = {
    "po", "sbo", "so", "vo", "vso", "pro", "mbo", "geen_onderwijs", "onbekend", NULL};
static const char *const s_plicht[] = {"leerplichtig", "kwalificatieplichtig", "niet_leerplichtig",
                                       NULL};
static const char *const s_oorzaak[] = {
    "kindgebonden", "systeemgebonden", "schoolgebonden", "onderwijs_zorgsysteem", "onbekend", NULL};
static const char *const s_dagbesteding[] = {"geen",
                                             "deels_onderwijs",
                                             "onderwijs_op_afstand",
                                             "thuisdocent",
                                             "overbrugging",
                                             "zorginstelling",
                                             "alternatief_traject",
                                             "onbekend",
                                             NULL};
static const char *const s_wachtlijst[] = {"geen",   "jeugdhulp", "so_vso", "zorginstelling",
                                           "intake", "onbekend",  NULL};
static const char *const s_hulpverlening[] = {"geen",      "jgz",      "toegang", "smw",
                                              "jeugdhulp", "onbekend", NULL};
static const char *const s_belastbaarheid[] = {"geen_advies", "volledig", "gedeeltelijk", "niet",
                                               NULL};
static const char *const s_regiehouder[] = {
    "school", "leerplicht", "gemeentelijke_toegang", "swv", "jeugdhulp", "niet_belegd", NULL};
static const char *const s_criterium[] = {"wettelijk_16u",
                                          "vroeg_10u",
                                          "signaalverzuim",
                                          "geoorloofd_lt50",
                                          "ziek_3x_2mnd",
                                          "ziek_10d",
                                          "ziek_4d_maand",
                                          "ziek_opvallend",
                                          "ziek_4x_12w",
                                          "ziek_2w",
                                          NULL};
static const char *const s_definitie[] = {
    "inspectie", "langdurig_relatief", "negentig_procent", "vier_weken",   "eerste_dag",
    "breed",     "nul_procent",        "breed_5a",         "drie_maanden", NULL};
static const char *const s_artikel[] = {"art_3a", "art_3b",  "art_5a", "art_5b",
                                        "art_5c", "art_11g", "art_15", NULL};
static const char *const s_mas_route[] = {"vrijwillige_jeugdhulp", "jeugdhulp_verplicht_kader",
                                          "halt", "strafrecht", NULL};
static const char *const s_gv_reden[] = {"ziek", "lestijdverkorting", "verlof", "overig", NULL};
static const char *const s_gv_status[] = {"open", "gesloten", NULL};
static const char *const s_afsluitreden[] = {"boven_50_pct",
                                             "verhuisd",
                                             "niet_meer_leerplichtig",
                                             "vrijstelling",
                                             "toestemming_ingetrokken",
                                             NULL};
static const char *const s_duur[] = {"korter_dan_4_weken", "4_weken_tot_3_maanden",
                                     "3_tot_6_maanden", "langer_dan_6_maanden", NULL};
static const char *const s_uitstroom[] = {"opgelost", "verhuisd", "niet_meer_leerplichtig",
                                          "foutieve_melding", NULL};
static const char *const s_soort[] = {"absoluut", "wettelijk", "overig", "luxe", NULL};
static const char *const s_vm_reden[] = {"frequent_te_laat", "licht",  "signaal",
                                         "ziekteverzuim",    "overig", NULL};
static const char *const s_afhandeling[] = {"open",
                                            "afgedaan",
                                            "andere_school",
                                            "foutieve_melding",
                                            "naar_school",
                                            "niet_meer_leerplichtig",
                                            "overdracht_volgend_schooljaar",
                                            "start_ander_werkproces",
                                            "verhuisd",
                                            "verzuim_geoorloofd",
                                            "einde_lesrooster_eindexamen",
                                            NULL};
static const char *const s_besluit[] = {"in_behandeling", "van_rechtswege",  "toegekend",
                                        "afgewezen",      "ingetrokken",     "niet_rechtsgeldig",
                                        "niet_akkoord",   "andere_gemeente", NULL};

/* ---- code patterns of the pupil fields (DOMAIN.md §4.2) ---- */

static int s_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int s_digits(const char *s, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        if (!s_is_digit(s[i]))
            return 0;
    return 1;
}

static int s_is_woongemeente(const char *s)
{
    return strlen(s) == 4 && s_digits(s, 4);
}

static int s_is_brin(const char *s)
{
    size_t n = strlen(s), i;

    if ((n != 4 && n != 6) || !s_digits(s, 2) || (n == 6 && !s_digits(s + 4, 2)))
        return 0;
    for (i = 2; i < 4; i++)
        if (!s_is_digit(s[i]) && !(s[i] >= 'A' && s[i] <= 'Z'))
            return 0;
    return 1;
}

static int s_is_swv(const char *s)
{
    return strlen(s) == 6 && (strncmp(s, "PO", 2) == 0 || strncmp(s, "VO", 2) == 0) &&
           s_digits(s + 2, 4);
}

static int s_number(const char *s, size_t n)
{
    int v = 0;
    size_t i;

    for (i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    return v;
}

static int s_is_schooljaar(const char *s)
{
    if (strlen(s) != 9 || !s_digits(s, 4) || s[4] != '-' || !s_digits(s + 5, 4))
        return 0;
    return s_number(s + 5, 4) == s_number(s, 4) + 1 && s_number(s, 4) >= 1900 &&
           s_number(s, 4) <= 2198;
}

/* ---- fields ---- */

#define ENUM(n, c)                                                                                 \
    {                                                                                              \
        .name = n, .kind = KT_FIELD_ENUM, .codes = c                                               \
    }
#define DATE(n)                                                                                    \
    {                                                                                              \
        .name = n, .kind = KT_FIELD_DATE                                                           \
    }
#define BOOL(n)                                                                                    \
    {                                                                                              \
        .name = n, .kind = KT_FIELD_BOOL                                                           \
    }
#define INT(n, lo, hi)                                                                             \
    {                                                                                              \
        .name = n, .kind = KT_FIELD_INT, .min = lo, .max = hi                                      \
    }
#define STRING(n, fn, r)                                                                           \
    {                                                                                              \
        .name = n, .kind = KT_FIELD_STRING, .check = fn, .rule = r                                 \
    }

/* Pupil fields, in every type (DOMAIN.md §4.2). */
static const struct kt_field_def F_leerling_id = {.name = "leerling_id", .kind = KT_FIELD_PUPIL};
static const struct kt_field_def F_geboortedatum = DATE("geboortedatum");
static const struct kt_field_def F_woongemeente =
    STRING("woongemeente", s_is_woongemeente, "a CBS gemeentecode (4 digits)");
static const struct kt_field_def F_brin = STRING(
    "brin", s_is_brin, "a BRIN code (2 digits, 2 capitals or digits, optional 2-digit vestiging)");
static const struct kt_field_def F_swv =
    STRING("swv", s_is_swv, "an SWV code (PO or VO + 4 digits)");
static const struct kt_field_def F_schooljaar =
    STRING("schooljaar", s_is_schooljaar, "a schooljaar (YYYY-YYYY, consecutive years)");
static const struct kt_field_def F_onderwijssoort = ENUM("onderwijssoort", s_onderwijssoort);
static const struct kt_field_def F_plicht = ENUM("plicht", s_plicht);
static const struct kt_field_def F_startkwalificatie = BOOL("startkwalificatie");

#define PUPIL_FIELDS                                                                               \
    &F_leerling_id, &F_geboortedatum, &F_woongemeente, &F_brin, &F_swv, &F_schooljaar,             \
        &F_onderwijssoort, &F_plicht, &F_startkwalificatie

/* Shared by several types. */
static const struct kt_field_def F_begindatum = DATE("begindatum");
static const struct kt_field_def F_einddatum = DATE("einddatum");
static const struct kt_field_def F_peildatum = DATE("peildatum");
static const struct kt_field_def F_aanwezigheid_pct = INT("aanwezigheid_pct", 0, 100);
static const struct kt_field_def F_criterium = ENUM("criterium", s_criterium);
static const struct kt_field_def F_oorzaak = ENUM("oorzaak", s_oorzaak);
static const struct kt_field_def F_dagbesteding = ENUM("dagbesteding", s_dagbesteding);
static const struct kt_field_def F_wachtlijst = ENUM("wachtlijst", s_wachtlijst);
static const struct kt_field_def F_hulpverlening = ENUM("hulpverlening", s_hulpverlening);
static const struct kt_field_def F_regiehouder = ENUM("regiehouder", s_regiehouder);
static const struct kt_field_def F_plan_van_aanpak = BOOL("plan_van_aanpak");

/* §4.3 geoorloofd_verzuim. Upper bounds: 700 weeks is longer than leer- and
 * kwalificatieplicht together; 1000 reports is far beyond any real window. */
static const struct kt_field_def F_weken_aaneengesloten = INT("weken_aaneengesloten", 0, 700);
static const struct kt_field_def F_gv_reden = ENUM("reden", s_gv_reden);
static const struct kt_field_def F_ziekmeldingen = INT("ziekmeldingen", 0, 1000);
static const struct kt_field_def F_belastbaarheid = ENUM("belastbaarheid", s_belastbaarheid);
static const struct kt_field_def F_status = ENUM("status", s_gv_status);
static const struct kt_field_def F_afsluitreden = ENUM("afsluitreden", s_afsluitreden);

static const struct kt_field_def *const s_geoorloofd_verzuim[] = {
    PUPIL_FIELDS,     &F_begindatum,       &F_einddatum,
    &F_peildatum,     &F_aanwezigheid_pct, &F_weken_aaneengesloten,
    &F_gv_reden,      &F_ziekmeldingen,    &F_criterium,
    &F_oorzaak,       &F_dagbesteding,     &F_wachtlijst,
    &F_hulpverlening, &F_belastbaarheid,   &F_regiehouder,
    &F_status,        &F_afsluitreden,
};

/* §4.4 thuiszitter */
static const struct kt_field_def F_definitie = ENUM("definitie", s_definitie);
static const struct kt_field_def F_ingeschreven = BOOL("ingeschreven");
static const struct kt_field_def F_geoorloofd = BOOL("geoorloofd");
static const struct kt_field_def F_geschorst = BOOL("geschorst");
static const struct kt_field_def F_vrijstelling_artikel = ENUM("vrijstelling_artikel", s_artikel);
static const struct kt_field_def F_duur = ENUM("duur", s_duur);
static const struct kt_field_def F_passend_aanbod = BOOL("passend_aanbod");
static const struct kt_field_def F_eerste_contact = DATE("eerste_contact");
static const struct kt_field_def F_eerste_gesprek = DATE("eerste_gesprek");
static const struct kt_field_def F_doelen_gesteld = DATE("doelen_gesteld");
static const struct kt_field_def F_voor_criterium = BOOL("voor_criterium");
static const struct kt_field_def F_uitstroom = ENUM("uitstroom", s_uitstroom);

static const struct kt_field_def *const s_thuiszitter[] = {
    PUPIL_FIELDS,
    &F_definitie,
    &F_ingeschreven,
    &F_geoorloofd,
    &F_geschorst,
    &F_vrijstelling_artikel,
    &F_begindatum,
    &F_einddatum,
    &F_peildatum,
    &F_aanwezigheid_pct,
    &F_duur,
    &F_oorzaak,
    &F_dagbesteding,
    &F_wachtlijst,
    &F_hulpverlening,
    &F_regiehouder,
    &F_plan_van_aanpak,
    &F_passend_aanbod,
    &F_eerste_contact,
    &F_eerste_gesprek,
    &F_doelen_gesteld,
    &F_voor_criterium,
    &F_uitstroom,
};

/* §4.5 verzuimmelding. minuten: 4 weeks hold at most 40320 minutes;
 * te_laat: 1000 is far beyond the lessons of any 4-week window. */
static const struct kt_field_def F_melddatum = DATE("melddatum");
static const struct kt_field_def F_soort = ENUM("soort", s_soort);
static const struct kt_field_def F_vm_reden = ENUM("reden", s_vm_reden);
static const struct kt_field_def F_periode_start = DATE("periode_start");
static const struct kt_field_def F_periode_eind = DATE("periode_eind");
static const struct kt_field_def F_minuten = INT("minuten", 0, 40320);
static const struct kt_field_def F_te_laat = INT("te_laat", 0, 1000);
static const struct kt_field_def F_afhandeling = ENUM("afhandeling", s_afhandeling);
static const struct kt_field_def F_mas_route = ENUM("mas_route", s_mas_route);

static const struct kt_field_def *const s_verzuimmelding[] = {
    PUPIL_FIELDS, &F_melddatum, &F_soort,     &F_vm_reden,    &F_periode_start, &F_periode_eind,
    &F_minuten,   &F_te_laat,   &F_criterium, &F_afhandeling, &F_mas_route,
};

/* §4.6 vrijstelling */
static const struct kt_field_def F_artikel = ENUM("artikel", s_artikel);
static const struct kt_field_def F_ingediend_op = DATE("ingediend_op");
static const struct kt_field_def F_besluitdatum = DATE("besluitdatum");
static const struct kt_field_def F_besluit = ENUM("besluit", s_besluit);
static const struct kt_field_def F_geldig_van = DATE("geldig_van");
static const struct kt_field_def F_geldig_tot = DATE("geldig_tot");
static const struct kt_field_def F_artsverklaring = BOOL("artsverklaring");
static const struct kt_field_def F_onderwijskundig_advies = BOOL("onderwijskundig_advies");
static const struct kt_field_def F_bewijs_buitenland = BOOL("bewijs_buitenland");

static const struct kt_field_def *const s_vrijstelling[] = {
    PUPIL_FIELDS,         &F_artikel,         &F_ingediend_op,
    &F_besluitdatum,      &F_besluit,         &F_geldig_van,
    &F_geldig_tot,        &F_artsverklaring,  &F_onderwijskundig_advies,
    &F_bewijs_buitenland, &F_plan_van_aanpak, &F_regiehouder,
};

static const struct kt_date_order s_episode[] = {{"begindatum", "einddatum"}};
static const struct kt_date_order s_periode[] = {{"periode_start", "periode_eind"}};
static const struct kt_date_order s_besluit_order[] = {{"ingediend_op", "besluitdatum"},
                                                       {"geldig_van", "geldig_tot"}};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define TYPE(n, f, req, ord)                                                                       \
    {                                                                                              \
        n, f, NELEM(f), req, ord, NELEM(ord)                                                       \
    }

static const struct kt_type_def s_types[] = {
    TYPE("geoorloofd_verzuim", s_geoorloofd_verzuim, "begindatum", s_episode),
    TYPE("thuiszitter", s_thuiszitter, "definitie", s_episode),
    TYPE("verzuimmelding", s_verzuimmelding, "soort", s_periode),
    TYPE("vrijstelling", s_vrijstelling, "artikel", s_besluit_order),
};

_Static_assert(NELEM(s_thuiszitter) <= KT_RECORD_FIELDS_MAX, "raise KT_RECORD_FIELDS_MAX");
_Static_assert(NELEM(s_geoorloofd_verzuim) <= KT_RECORD_FIELDS_MAX, "raise KT_RECORD_FIELDS_MAX");
_Static_assert(KT_PSEUDONYM_BYTES <= KT_RECORD_VALUE_BYTES, "a pseudonym must fit a text value");

const struct kt_type_def *kt_record_reg_type_at(size_t i)
{
    return i < NELEM(s_types) ? &s_types[i] : NULL;
}

const struct kt_type_def *kt_record_reg_find_type(const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < NELEM(s_types); i++)
        if (strcmp(s_types[i].name, name) == 0)
            return &s_types[i];
    return NULL;
}

int kt_record_reg_field_index(const struct kt_type_def *t, const char *name)
{
    size_t i;

    for (i = 0; name != NULL && i < t->nfields; i++)
        if (strcmp(t->fields[i]->name, name) == 0)
            return (int)i;
    return -1;
}

int kt_record_reg_is_name(const char *s)
{
    size_t i;

    if (s == NULL)
        return 0;
    for (i = 0; i <= KT_RECORD_NAME_MAX && s[i] != '\0'; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || s_is_digit(s[i]) || s[i] == '_'))
            return 0;
    return i >= 1 && i <= KT_RECORD_NAME_MAX;
}

/* ---- value rules ---- */

static int s_is_date(const char *s)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int y, m, dd, leap, max;

    if (strlen(s) != 10 || !s_digits(s, 4) || s[4] != '-' || !s_digits(s + 5, 2) || s[7] != '-' ||
        !s_digits(s + 8, 2))
        return 0;
    y = s_number(s, 4);
    m = s_number(s + 5, 2);
    dd = s_number(s + 8, 2);
    if (y < 1900 || y > 2199 || m < 1 || m > 12 || dd < 1)
        return 0;
    leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    max = mdays[m - 1] + (m == 2 && leap);
    return dd <= max;
}

/* The weighted sum 9·d1 + 8·d2 + ... + 2·d8 − d9 of DOMAIN.md §4.2; 0 if s
 * is not exactly 9 digits. */
static int s_elf_sum(const char *s, int *sum)
{
    int i;

    if (s == NULL || strlen(s) != KT_LEERLING_ID_BYTES || !s_digits(s, KT_LEERLING_ID_BYTES))
        return 0;
    *sum = 0;
    for (i = 0; i < 8; i++)
        *sum += (9 - i) * (s[i] - '0');
    *sum -= s[8] - '0';
    return 1;
}

int kt_record_is_bsn(const char *s)
{
    int sum;

    return s_elf_sum(s, &sum) && sum % 11 == 0 && strcmp(s, "000000000") != 0;
}

int kt_record_is_onderwijsnummer(const char *s)
{
    int sum;

    /* starts with 10, so the sum is positive and % is the true residue */
    return s_elf_sum(s, &sum) && strncmp(s, "10", 2) == 0 && sum % 11 == 5;
}

int kt_record_is_pseudonym(const char *s)
{
    static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
    size_t i, n = sizeof(KT_PSEUDONYM_PREFIX) - 1;

    if (s == NULL || strlen(s) != KT_PSEUDONYM_CHARS || strncmp(s, KT_PSEUDONYM_PREFIX, n) != 0)
        return 0;
    for (i = n; i < KT_PSEUDONYM_CHARS; i++)
        if (strchr(b32, s[i]) == NULL) /* s[i] is never NUL here: strlen checked */
            return 0;
    /* 26 characters carry 130 bits for 128: the last one's low 2 bits are 0,
     * so each pseudonym has exactly one spelling. */
    return (strchr(b32, s[KT_PSEUDONYM_CHARS - 1]) - b32) % 4 == 0;
}

kt_pupil_id_form_t kt_record_pupil_id_form(const char *s)
{
    if (kt_record_is_bsn(s) || kt_record_is_onderwijsnummer(s))
        return KT_PUPIL_ID_NUMBER;
    if (kt_record_is_pseudonym(s))
        return KT_PUPIL_ID_PSEUDONYM;
    return KT_PUPIL_ID_INVALID;
}

static int s_code_known(const char *const *codes, const char *v)
{
    for (; *codes != NULL; codes++)
        if (strcmp(*codes, v) == 0)
            return 1;
    return 0;
}

static int s_enum_diag(const struct kt_field_def *f, kt_diag_t *d)
{
    char list[KT_DIAG_BYTES] = "";
    const char *const *c;
    size_t used = 0;

    for (c = f->codes; *c != NULL && used < sizeof(list); c++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", c == f->codes ? "" : ", ", *c);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    return kt_diag_set(d, KT_EINVAL, "field '%s': not a code of %s (allowed: %s)", f->name, f->name,
                       list);
}

int kt_record_reg_check_text(const struct kt_field_def *f, const char *value, kt_diag_t *d)
{
    switch (f->kind) {
    case KT_FIELD_ENUM:
        return s_code_known(f->codes, value) ? 0 : s_enum_diag(f, d);
    case KT_FIELD_DATE:
        if (s_is_date(value))
            return 0;
        return kt_diag_set(d, KT_EINVAL,
                           "field '%s': not a real date (YYYY-MM-DD, years 1900-2199)", f->name);
    case KT_FIELD_STRING:
        if (f->check(value))
            return 0;
        return kt_diag_set(d, KT_EINVAL, "field '%s': not %s", f->name, f->rule);
    case KT_FIELD_PUPIL:
        /* The pseudonym form is what a partner receives under an
         * identifier = "pseudoniem" rule; the message names the forms an
         * operator types. */
        if (kt_record_pupil_id_form(value) != KT_PUPIL_ID_INVALID)
            return 0;
        return kt_diag_set(d, KT_EINVAL,
                           "field '%s': neither a valid BSN (elfproef) nor a valid onderwijsnummer",
                           f->name);
    case KT_FIELD_INT:
        return kt_diag_set(d, KT_EMALFORMED, "field '%s': expects an integer, not text", f->name);
    case KT_FIELD_BOOL:
        return kt_diag_set(d, KT_EMALFORMED, "field '%s': expects true or false, not text",
                           f->name);
    }
    return kt_diag_set(d, KT_EINVAL, "field '%s': unknown kind", f->name);
}

int kt_record_reg_check_int(const struct kt_field_def *f, int64_t value, kt_diag_t *d)
{
    if (f->kind != KT_FIELD_INT)
        return kt_diag_set(d, KT_EMALFORMED, "field '%s': expects %s, not an integer", f->name,
                           f->kind == KT_FIELD_BOOL ? "true or false" : "text");
    if (value < f->min || value > f->max)
        return kt_diag_set(d, KT_EINVAL, "field '%s': out of range (%lld..%lld)", f->name,
                           (long long)f->min, (long long)f->max);
    return 0;
}

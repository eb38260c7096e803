/*
 * register.c - the AVG art. 30 register built from a loaded policy set
 * (include/keten/register.h, docs/policy.md "The art. 30 register").
 *
 * Owns the grouping of rules into processing activities, the categories of
 * personal data per registry field and the fixed statements of the security
 * measures keten enforces. It reads only the policy set and the node
 * configuration: no files, no store, no record, so it can never put a pupil
 * into the register. It must never describe a measure the code does not
 * enforce: each statement names the document that specifies it.
 */
#include <stdlib.h>
#include <string.h>

#include "keten/register.h"

/* ---- categories ---- */

static const struct {
    const char *code;
    const char *label;
    int special;
} s_cats[KT_REGISTER_CAT_COUNT] = {
    [KT_REGISTER_CAT_IDENTIFICATIE] = {"identificatie",
                                       "identificatiegegevens (BSN of onderwijsnummer, "
                                       "geboortedatum, woongemeente)",
                                       0},
    [KT_REGISTER_CAT_ONDERWIJS] = {"onderwijs", "onderwijsgegevens (school, inschrijving, plicht)",
                                   0},
    [KT_REGISTER_CAT_VERZUIM] = {"verzuim", "verzuim- en aanwezigheidsgegevens", 0},
    [KT_REGISTER_CAT_GEZONDHEID] = {"gezondheid",
                                    "gezondheidsgerelateerde codes (bijzonder persoonsgegeven, "
                                    "AVG art. 9; alleen codes, geen medische details)",
                                    1},
    [KT_REGISTER_CAT_BEGELEIDING] = {"begeleiding", "begeleidings- en zorgtrajectgegevens (codes)",
                                     0},
    [KT_REGISTER_CAT_VRIJSTELLING] = {"vrijstelling", "vrijstellingsgegevens (Leerplichtwet)", 0},
    [KT_REGISTER_CAT_HANDHAVING] = {"handhaving", "handhavingsgegevens leerplicht (codes)", 0},
};

/* Every registry field by name; a field means the same in every type. The
 * reden codes include ziek / ziekteverzuim, so reden is health-related. */
static const struct {
    const char *field;
    kt_register_cat_t cat;
} s_field_cats[] = {
    {"leerling_id", KT_REGISTER_CAT_IDENTIFICATIE},
    {"geboortedatum", KT_REGISTER_CAT_IDENTIFICATIE},
    {"woongemeente", KT_REGISTER_CAT_IDENTIFICATIE},
    {"brin", KT_REGISTER_CAT_ONDERWIJS},
    {"swv", KT_REGISTER_CAT_ONDERWIJS},
    {"schooljaar", KT_REGISTER_CAT_ONDERWIJS},
    {"onderwijssoort", KT_REGISTER_CAT_ONDERWIJS},
    {"plicht", KT_REGISTER_CAT_ONDERWIJS},
    {"startkwalificatie", KT_REGISTER_CAT_ONDERWIJS},
    {"ingeschreven", KT_REGISTER_CAT_ONDERWIJS},
    {"begindatum", KT_REGISTER_CAT_VERZUIM},
    {"einddatum", KT_REGISTER_CAT_VERZUIM},
    {"peildatum", KT_REGISTER_CAT_VERZUIM},
    {"aanwezigheid_pct", KT_REGISTER_CAT_VERZUIM},
    {"weken_aaneengesloten", KT_REGISTER_CAT_VERZUIM},
    {"criterium", KT_REGISTER_CAT_VERZUIM},
    {"definitie", KT_REGISTER_CAT_VERZUIM},
    {"geoorloofd", KT_REGISTER_CAT_VERZUIM},
    {"geschorst", KT_REGISTER_CAT_VERZUIM},
    {"duur", KT_REGISTER_CAT_VERZUIM},
    {"melddatum", KT_REGISTER_CAT_VERZUIM},
    {"soort", KT_REGISTER_CAT_VERZUIM},
    {"periode_start", KT_REGISTER_CAT_VERZUIM},
    {"periode_eind", KT_REGISTER_CAT_VERZUIM},
    {"minuten", KT_REGISTER_CAT_VERZUIM},
    {"te_laat", KT_REGISTER_CAT_VERZUIM},
    {"reden", KT_REGISTER_CAT_GEZONDHEID},
    {"ziekmeldingen", KT_REGISTER_CAT_GEZONDHEID},
    {"belastbaarheid", KT_REGISTER_CAT_GEZONDHEID},
    {"artsverklaring", KT_REGISTER_CAT_GEZONDHEID},
    {"oorzaak", KT_REGISTER_CAT_BEGELEIDING},
    {"dagbesteding", KT_REGISTER_CAT_BEGELEIDING},
    {"wachtlijst", KT_REGISTER_CAT_BEGELEIDING},
    {"hulpverlening", KT_REGISTER_CAT_BEGELEIDING},
    {"regiehouder", KT_REGISTER_CAT_BEGELEIDING},
    {"plan_van_aanpak", KT_REGISTER_CAT_BEGELEIDING},
    {"passend_aanbod", KT_REGISTER_CAT_BEGELEIDING},
    {"eerste_contact", KT_REGISTER_CAT_BEGELEIDING},
    {"eerste_gesprek", KT_REGISTER_CAT_BEGELEIDING},
    {"doelen_gesteld", KT_REGISTER_CAT_BEGELEIDING},
    {"voor_criterium", KT_REGISTER_CAT_BEGELEIDING},
    {"uitstroom", KT_REGISTER_CAT_BEGELEIDING},
    {"status", KT_REGISTER_CAT_BEGELEIDING},
    {"afsluitreden", KT_REGISTER_CAT_BEGELEIDING},
    {"artikel", KT_REGISTER_CAT_VRIJSTELLING},
    {"vrijstelling_artikel", KT_REGISTER_CAT_VRIJSTELLING},
    {"ingediend_op", KT_REGISTER_CAT_VRIJSTELLING},
    {"besluitdatum", KT_REGISTER_CAT_VRIJSTELLING},
    {"besluit", KT_REGISTER_CAT_VRIJSTELLING},
    {"geldig_van", KT_REGISTER_CAT_VRIJSTELLING},
    {"geldig_tot", KT_REGISTER_CAT_VRIJSTELLING},
    {"onderwijskundig_advies", KT_REGISTER_CAT_VRIJSTELLING},
    {"bewijs_buitenland", KT_REGISTER_CAT_VRIJSTELLING},
    {"afhandeling", KT_REGISTER_CAT_HANDHAVING},
    {"mas_route", KT_REGISTER_CAT_HANDHAVING},
};

const char *kt_register_cat_code(kt_register_cat_t cat)
{
    return (unsigned)cat < KT_REGISTER_CAT_COUNT ? s_cats[cat].code : NULL;
}

const char *kt_register_cat_label(kt_register_cat_t cat)
{
    return (unsigned)cat < KT_REGISTER_CAT_COUNT ? s_cats[cat].label : NULL;
}

int kt_register_cat_special(kt_register_cat_t cat)
{
    return (unsigned)cat < KT_REGISTER_CAT_COUNT && s_cats[cat].special;
}

int kt_register_field_cat(const char *type, const char *field, kt_register_cat_t *cat)
{
    kt_field_kind_t kind;
    size_t i;

    if (type == NULL || field == NULL || kt_record_field_kind(type, field, &kind) != 0)
        return KT_ENOENT;
    for (i = 0; i < sizeof(s_field_cats) / sizeof(s_field_cats[0]); i++) {
        if (strcmp(s_field_cats[i].field, field) == 0) {
            *cat = s_field_cats[i].cat;
            return 0;
        }
    }
    return KT_ENOENT;
}

int kt_register_type_special(const char *type)
{
    /* Illness-related absence is health data; a 5a vrijstelling rests on
     * physical or mental unfitness (DOMAIN.md §3). */
    return type != NULL &&
           (strcmp(type, "geoorloofd_verzuim") == 0 || strcmp(type, "vrijstelling") == 0);
}

const char *kt_register_avg_article(kt_grondslag_t g)
{
    switch (g) {
    case KT_GRONDSLAG_TOESTEMMING:
        return "6(1)(a)";
    case KT_GRONDSLAG_WETTELIJKE_PLICHT:
        return "6(1)(c)";
    case KT_GRONDSLAG_PUBLIEKE_TAAK:
        return "6(1)(e)";
    }
    return "?";
}

/* ---- security measures ---- */

static const kt_register_measure_t s_measures[] = {
    {"signatures",
     "Elk record en elke ontvangstbevestiging is ondertekend met de Ed25519-sleutel van de "
     "node die het maakte; ook een derde kan achteraf nagaan wie wat verstuurde.",
     "docs/protocol.md §3, §7"},
    {"sealed_envelopes",
     "Records reizen in een verzegelde envelop (X25519, XSalsa20-Poly1305) die alleen de "
     "ontvangende node kan openen, opgevuld tot vaste groottes.",
     "docs/protocol.md §4"},
    {"curvezmq",
     "Nodes verbinden via CurveZMQ; alleen geconfigureerde partnersleutels worden toegelaten en "
     "de ondertekenaar van elk bericht moet de geauthenticeerde partner zijn.",
     "docs/protocol.md §6"},
    {"replay", "Dubbele en te oude berichten worden geweigerd.", "docs/protocol.md §8"},
    {"encryption_at_rest",
     "Opgeslagen records zijn versleuteld (XChaCha20-Poly1305) met een eigen sleutel per "
     "leerling; wordt die sleutel gewist, dan is elke kopie van de gegevens van die leerling "
     "onleesbaar, ook in back-ups (crypto-shredding).",
     "docs/protocol.md §9"},
    {"audit_log",
     "Elke beslissing staat in een hash-geketend auditlog (BLAKE2b) zonder wijzig- of "
     "verwijderpad, met door de node ondertekende checkpoints die partners bewaren; een "
     "leerling staat erin als gesleuteld pseudoniem, nooit met BSN of veldwaarden.",
     "include/keten/audit.h, DESIGN §9"},
    {"default_deny",
     "Standaard weigeren: zonder beleidsregel voor partner, recordtype en richting op de dag "
     "zelf gaat niets weg en wordt niets aangenomen.",
     "docs/policy.md §1, §4"},
    {"field_allowlist",
     "Per partner en recordtype geldt een lijst van toegestane velden: andere velden worden "
     "voor verzending verwijderd, een ontvangen record met een ander veld wordt geweigerd.",
     "docs/policy.md §4"},
    {"consent_gate",
     "Een record op grondslag toestemming, en een thuiszitter met geoorloofd verzuim, gaat "
     "pas weg bij een geldige toestemming voor die leerling, ontvanger en dat doel; bij "
     "intrekking of verloop krijgen de ontvangers een ondertekende terugtrekking.",
     "docs/consent.md, docs/policy.md §6"},
    {"no_free_text",
     "Records kennen geen vrije tekst en geen medische details: elk veld is een code, getal, "
     "datum, ja/nee of identificatie.",
     "docs/records.md"},
    {"retention",
     "Records worden na de bewaartermijn van hun beleidsregel automatisch verwijderd; een "
     "beleidsregel zonder bewaartermijn wordt geweigerd.",
     "docs/policy.md §3, docs/protocol.md §10"},
    {"access_control",
     "De lokale bediening herkent de aanroeper via de kernel (SO_PEERCRED) en staat elke "
     "opdracht alleen toe aan operators of auditors volgens de configuratie.",
     "docs/protocol.md §10"},
    {"file_modes",
     "Geheime sleutels die anderen kunnen lezen, en configuratie- en beleidsbestanden die "
     "anderen kunnen wijzigen, worden geweigerd.",
     "docs/protocol.md §1, docs/policy.md §2"},
};

size_t kt_register_measure_count(void)
{
    return sizeof(s_measures) / sizeof(s_measures[0]);
}

const kt_register_measure_t *kt_register_measure_at(size_t i)
{
    return i < kt_register_measure_count() ? &s_measures[i] : NULL;
}

/* ---- building ---- */

static kt_role_t s_role(const kt_conf_t *conf, const char *partner)
{
    const kt_conf_partner_t *p = conf != NULL ? kt_conf_partner(conf, partner) : NULL;

    return p != NULL ? p->role : 0;
}

static int s_cmp_str(const char *a, const char *b)
{
    int c = strcmp(a, b);

    return c < 0 ? -1 : c > 0;
}

/* Activity key, then send before receive, partner, version. */
static int s_cmp_party(const void *pa, const void *pb)
{
    const kt_policy_rule_t *a = ((const kt_register_party_t *)pa)->rule;
    const kt_policy_rule_t *b = ((const kt_register_party_t *)pb)->rule;
    int c;

    if ((c = s_cmp_str(a->type, b->type)) != 0 || (c = s_cmp_str(a->doel, b->doel)) != 0)
        return c;
    if (a->grondslag != b->grondslag)
        return a->grondslag < b->grondslag ? -1 : 1;
    if (a->dir != b->dir)
        return a->dir < b->dir ? -1 : 1;
    if ((c = s_cmp_str(a->partner, b->partner)) != 0)
        return c;
    return a->version < b->version ? -1 : a->version > b->version;
}

static int s_same_activity(const kt_policy_rule_t *a, const kt_policy_rule_t *b)
{
    return strcmp(a->type, b->type) == 0 && strcmp(a->doel, b->doel) == 0 &&
           a->grondslag == b->grondslag;
}

/* The union of the parties' fields, grouped by category in registry order. */
static void s_groups(kt_register_activity_t *a)
{
    size_t i, j, k, nf = kt_record_field_count(a->type);
    kt_register_cat_t cat;

    for (k = 0; k < KT_REGISTER_CAT_COUNT; k++) {
        kt_register_group_t *g = &a->groups[a->ngroups];

        g->cat = (kt_register_cat_t)k;
        g->nfields = 0;
        for (i = 0; i < nf; i++) {
            const char *f = kt_record_field_name(a->type, i);
            int used = 0;

            if (kt_register_field_cat(a->type, f, &cat) != 0 || cat != (kt_register_cat_t)k)
                continue;
            for (j = 0; j < a->nparties && !used; j++)
                used = kt_policy_allows_field(a->parties[j].rule, f);
            if (used && g->nfields < KT_POLICY_FIELDS_MAX)
                g->fields[g->nfields++] = f;
        }
        if (g->nfields > 0) {
            a->ngroups++;
            if (kt_register_cat_special(g->cat))
                a->special = 1;
        }
    }
}

static void s_fill_activity(kt_register_activity_t *a, kt_register_party_t *parties, size_t n)
{
    size_t i;

    memset(a, 0, sizeof(*a));
    a->type = parties[0].rule->type;
    a->doel = parties[0].rule->doel;
    a->grondslag = parties[0].rule->grondslag;
    a->parties = parties;
    a->nparties = n;
    a->special = kt_register_type_special(a->type);
    for (i = 0; i < n; i++) {
        const kt_policy_rule_t *r = parties[i].rule;

        if (r->dir == KT_POLICY_SEND)
            a->nsend++;
        else
            a->nreceive++;
        if (r->toestemming_door == KT_DOOR_WET)
            a->consent |= KT_REGISTER_DOOR_WET;
        else if (r->toestemming_door == KT_DOOR_OUDERS_EN_LEERLING)
            a->consent |= KT_REGISTER_DOOR_OUDERS_EN_LEERLING;
        else if (strcmp(r->type, "thuiszitter") == 0)
            a->consent |= KT_REGISTER_DOOR_GEOORLOOFD;
    }
    s_groups(a);
}

/*
 * Collects the rules that pass keep() as parties, sorts them and splits them
 * into activities. Parties are one allocation owned by the first activity
 * (*parties_out); activities another.
 */
typedef int (*s_keep_fn)(const kt_policy_set_t *set, const kt_policy_rule_t *r, const char *date);

static int s_activities(const kt_policy_set_t *set, const kt_conf_t *conf, const char *date,
                        s_keep_fn keep, kt_register_party_t **parties_out,
                        kt_register_activity_t **out, size_t *nout)
{
    size_t i, n = 0, na = 0, start, nrules = kt_policy_set_rule_count(set);
    kt_register_party_t *p = NULL;
    kt_register_activity_t *a = NULL;

    *parties_out = NULL;
    *out = NULL;
    *nout = 0;
    if (nrules == 0)
        return 0;
    if ((p = calloc(nrules, sizeof(*p))) == NULL || (a = calloc(nrules, sizeof(*a))) == NULL) {
        free(p);
        return KT_ENOMEM;
    }
    for (i = 0; i < nrules; i++) {
        const kt_policy_rule_t *r = kt_policy_set_rule_at(set, i);

        if (keep(set, r, date)) {
            p[n].rule = r;
            p[n].role = s_role(conf, r->partner);
            n++;
        }
    }
    if (n == 0) {
        free(p);
        free(a);
        return 0;
    }
    qsort(p, n, sizeof(*p), s_cmp_party);
    for (start = 0, i = 1; i <= n; i++) {
        if (i == n || !s_same_activity(p[start].rule, p[i].rule)) {
            s_fill_activity(&a[na++], &p[start], i - start);
            start = i;
        }
    }
    *parties_out = p;
    *out = a;
    *nout = na;
    return 0;
}

/* In force: exactly the rule enforcement would take on that date. */
static int s_in_force(const kt_policy_set_t *set, const kt_policy_rule_t *r, const char *date)
{
    return kt_policy_rule(set, r->partner, r->dir, r->type, date) == r;
}

static int s_announced(const kt_policy_set_t *set, const kt_policy_rule_t *r, const char *date)
{
    (void)set;
    return strcmp(r->valid_from, date) > 0;
}

static int s_cmp_announced(const void *pa, const void *pb)
{
    const kt_register_version_t *a = pa, *b = pb;
    int c;

    if ((c = s_cmp_str(a->valid_from, b->valid_from)) != 0 ||
        (c = s_cmp_str(a->partner, b->partner)) != 0)
        return c;
    return a->version < b->version ? -1 : a->version > b->version;
}

static void s_version_from_rule(kt_register_version_t *v, const kt_policy_rule_t *r, kt_role_t role)
{
    v->partner = r->partner;
    v->role = role;
    v->version = r->version;
    v->valid_from = r->valid_from;
    v->valid_until = r->valid_until;
    v->reference = r->reference;
    v->file = r->file;
    v->line = r->line;
}

struct kt_register_priv {
    kt_register_t pub; /* first: the public view */
    kt_register_party_t *parties, *upcoming_parties;
};

static int s_versions(struct kt_register_priv *reg, const kt_policy_set_t *set,
                      const kt_conf_t *conf)
{
    kt_register_t *r = &reg->pub;
    size_t i, j, np = kt_policy_set_partner_count(set), nrules = kt_policy_set_rule_count(set);

    if (np > 0 && (r->versions = calloc(np, sizeof(*r->versions))) == NULL)
        return KT_ENOMEM;
    for (i = 0; i < np; i++) {
        const char *partner = kt_policy_set_partner(set, i);
        const kt_policy_version_t *v = kt_policy_version(set, partner, r->date);
        kt_register_version_t *o;

        if (v == NULL)
            continue;
        o = &r->versions[r->nversions++];
        o->partner = v->partner;
        o->role = s_role(conf, partner);
        o->version = v->version;
        o->valid_from = v->valid_from;
        o->valid_until = v->valid_until;
        o->reference = v->reference;
        o->file = v->file;
        o->line = v->line;
        o->reconcile_counts = v->reconcile_counts;
        o->suppress_below = v->suppress_below;
        o->reconcile_lists = v->reconcile_lists;
    }
    /* Announced versions, one entry per (partner, version), from their rules;
     * the version's own position, as explain names it. */
    if (nrules > 0 && (r->announced = calloc(nrules, sizeof(*r->announced))) == NULL)
        return KT_ENOMEM;
    for (i = 0; i < nrules; i++) {
        const kt_policy_rule_t *rule = kt_policy_set_rule_at(set, i);
        const kt_policy_version_t *v;
        int seen = 0;

        if (!s_announced(set, rule, r->date))
            continue;
        for (j = 0; j < r->nannounced && !seen; j++)
            seen = strcmp(r->announced[j].partner, rule->partner) == 0 &&
                   r->announced[j].version == rule->version;
        if (seen)
            continue;
        s_version_from_rule(&r->announced[r->nannounced], rule, s_role(conf, rule->partner));
        v = kt_policy_version(set, rule->partner, rule->valid_from);
        if (v != NULL && v->version == rule->version) {
            r->announced[r->nannounced].file = v->file;
            r->announced[r->nannounced].line = v->line;
        }
        r->nannounced++;
    }
    if (r->nannounced > 1)
        qsort(r->announced, r->nannounced, sizeof(*r->announced), s_cmp_announced);
    return 0;
}

int kt_register_build(kt_register_t **out, const kt_policy_set_t *set, const kt_conf_t *conf,
                      kt_role_t role, const char *policies_dir, const char *date)
{
    struct kt_register_priv *reg;
    kt_register_t *r;
    int rc;

    *out = NULL;
    if (set == NULL || date == NULL || !kt_policy_is_date(date))
        return KT_EINVAL;
    if ((reg = calloc(1, sizeof(*reg))) == NULL)
        return KT_ENOMEM;
    r = &reg->pub;
    memcpy(r->date, date, KT_POLICY_DATE_BYTES - 1);
    r->node = conf != NULL ? conf->id : "";
    r->role = role;
    r->policies_dir = policies_dir != NULL ? policies_dir : "";
    if ((rc = s_versions(reg, set, conf)) != 0 ||
        (rc = s_activities(set, conf, r->date, s_in_force, &reg->parties, &r->activities,
                           &r->nactivities)) != 0 ||
        (rc = s_activities(set, conf, r->date, s_announced, &reg->upcoming_parties, &r->upcoming,
                           &r->nupcoming)) != 0) {
        kt_register_destroy(&r);
        return rc;
    }
    *out = r;
    return 0;
}

void kt_register_destroy(kt_register_t **p)
{
    struct kt_register_priv *reg;

    if (p == NULL || *p == NULL)
        return;
    reg = (struct kt_register_priv *)*p;
    free(reg->pub.versions);
    free(reg->pub.announced);
    free(reg->pub.activities);
    free(reg->pub.upcoming);
    free(reg->parties);
    free(reg->upcoming_parties);
    free(reg);
    *p = NULL;
}

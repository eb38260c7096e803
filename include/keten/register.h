/*
 * register.h - the AVG art. 30 record of processing activities (register
 * van verwerkingsactiviteiten), built from the policies in force.
 *
 * kt_register_build turns a loaded policy set (and, when given, the node
 * configuration) into plain data: one processing activity per (record type,
 * doel, grondslag) with every partner that receives or sends it under a rule
 * in force on the date, the categories of personal data the rules allow
 * (grouped by the field registry), retention and who must consent; the same
 * for the rules of versions that come into force later (aangekondigd); and
 * the fixed list of security measures keten enforces. Nothing is written by
 * hand and nothing about a pupil is read: the register holds codes, field
 * names, partner ids, file positions and dates only.
 *
 * Formatting (Markdown, JSON) is the client's (client/cmd_register.c).
 * Everything is sorted, so the same policies give the same register.
 */
#ifndef KETEN_REGISTER_H
#define KETEN_REGISTER_H

#include <stddef.h>

#include "keten/conf.h"
#include "keten/error.h"
#include "keten/keys.h"
#include "keten/policy.h"

/* Categories of personal data (AVG art. 30 lid 1 onder c), from the field
 * registry. GEZONDHEID is special-category data (AVG art. 9): codes only. */
typedef enum {
    KT_REGISTER_CAT_IDENTIFICATIE = 0, /* leerling_id, geboortedatum, woongemeente */
    KT_REGISTER_CAT_ONDERWIJS,         /* school, SWV, schooljaar, onderwijssoort, plicht */
    KT_REGISTER_CAT_VERZUIM,           /* absence and attendance facts */
    KT_REGISTER_CAT_GEZONDHEID,        /* health-related codes (belastbaarheid, ...) */
    KT_REGISTER_CAT_BEGELEIDING,       /* support, care route and case progress codes */
    KT_REGISTER_CAT_VRIJSTELLING,      /* exemption (Leerplichtwet) facts */
    KT_REGISTER_CAT_HANDHAVING,        /* leerplicht enforcement codes */
    KT_REGISTER_CAT_COUNT
} kt_register_cat_t;

const char *kt_register_cat_code(kt_register_cat_t cat);  /* "identificatie", ...; NULL past end */
const char *kt_register_cat_label(kt_register_cat_t cat); /* Dutch description */
int kt_register_cat_special(kt_register_cat_t cat);       /* 1 for AVG art. 9 data */
/* The category of a registry field; KT_ENOENT for a type or field the
 * registry does not have, or one this table does not place (a test keeps
 * the table complete). */
int kt_register_field_cat(const char *type, const char *field, kt_register_cat_t *cat) KT_WUR;
/* 1 if every record of this type is special-category data (DOMAIN.md §3:
 * geoorloofd_verzuim, and vrijstelling for art. 5a). */
int kt_register_type_special(const char *type);

/* A security measure keten enforces (art. 30 lid 1 onder g), with the
 * document that specifies it. */
typedef struct kt_register_measure {
    const char *code; /* stable key, "signatures", ... */
    const char *text; /* one Dutch sentence */
    const char *ref;  /* "docs/protocol.md §3" */
} kt_register_measure_t;

size_t kt_register_measure_count(void);
const kt_register_measure_t *kt_register_measure_at(size_t i); /* NULL past the end */

/* One policy version (borrowed strings, valid while the set lives). */
typedef struct kt_register_version {
    const char *partner;
    kt_role_t role; /* 0: unknown (no node configuration, or not configured) */
    int version;
    const char *valid_from;
    const char *valid_until; /* "" when open-ended */
    const char *reference;   /* NULL when none */
    const char *file;
    int line;
    /* the version's reconcile group (policy.h): what the partner may do with
     * our registries; all 0 when the version has none */
    int reconcile_counts, suppress_below, reconcile_lists;
} kt_register_version_t;

/* A partner under one rule of an activity. */
typedef struct kt_register_party {
    kt_role_t role;               /* as above */
    const kt_policy_rule_t *rule; /* borrowed: partner, dir, version, dates, retention, fields */
} kt_register_party_t;

typedef struct kt_register_group {
    kt_register_cat_t cat;
    const char *fields[KT_POLICY_FIELDS_MAX]; /* registry order, borrowed */
    size_t nfields;
} kt_register_group_t;

/* consent_by bits: who may have to consent under this activity. */
#define KT_REGISTER_DOOR_WET 0x1u                /* a rule says toestemming_door = wet */
#define KT_REGISTER_DOOR_OUDERS_EN_LEERLING 0x2u /* ... = ouders_en_leerling */
#define KT_REGISTER_DOOR_GEOORLOOFD                                                                \
    0x4u /* thuiszitter off toestemming: geoorloofd waits (as wet) */

typedef struct kt_register_activity {
    const char *type;
    const char *doel;
    kt_grondslag_t grondslag;
    int special;                  /* the type or one of its fields is AVG art. 9 data */
    unsigned consent;             /* KT_REGISTER_DOOR_* */
    kt_register_party_t *parties; /* sorted: send before receive, partner, version */
    size_t nparties;
    size_t nsend, nreceive;
    kt_register_group_t groups[KT_REGISTER_CAT_COUNT]; /* non-empty ones, category order */
    size_t ngroups;                                    /* union of the parties' fields */
} kt_register_activity_t;

typedef struct kt_register {
    char date[KT_POLICY_DATE_BYTES];
    const char *node;                /* the node id, "" without a configuration */
    kt_role_t role;                  /* 0 when unknown */
    const char *policies_dir;        /* as loaded; borrowed */
    kt_register_version_t *versions; /* in force on date, sorted by partner */
    size_t nversions;
    kt_register_activity_t *activities; /* rules in force, sorted by type, doel, grondslag */
    size_t nactivities;
    kt_register_version_t *announced; /* versions starting after date: by date, partner, version */
    size_t nannounced;
    kt_register_activity_t *upcoming; /* the rules of announced versions, grouped the same way */
    size_t nupcoming;
} kt_register_t;

/*
 * Builds the register of the policies in set on date ("YYYY-MM-DD"). conf
 * may be NULL (no node id, partner roles unknown); role is the node's own
 * (0 when unknown). The register borrows from set, conf and policies_dir:
 * they must outlive it. KT_EINVAL for an invalid date, KT_ENOMEM.
 */
int kt_register_build(kt_register_t **out, const kt_policy_set_t *set, const kt_conf_t *conf,
                      kt_role_t role, const char *policies_dir, const char *date) KT_WUR;
void kt_register_destroy(kt_register_t **p); /* idempotent */

/* "6(1)(a)", "6(1)(c)", "6(1)(e)": the AVG article of a grondslag. */
const char *kt_register_avg_article(kt_grondslag_t g);

#endif

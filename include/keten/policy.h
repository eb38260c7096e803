/*
 * policy.h - per-partner policy files (docs/policy.md) into an immutable set
 * of rules, and the pure decisions made from them. Default deny: no file, no
 * version in force or no rule for a type and direction means nothing moves.
 *
 * A node's policy directory holds one libconfig file per partner,
 * <partner-id>.conf. Each file holds versions with validity dates; each
 * version holds send and receive rules, one per record type and direction:
 * grondslag, doel, allowed fields, identifier form, retention and (for
 * toestemming) who must consent. Loading checks everything and collects
 * every error as "FILE:LINE: message" (kt_conf_errors_t, as conf.h); after
 * loading nothing here does I/O, allocates or fails on a valid set.
 *
 * Order for an outgoing record, per recipient (the exchange hook):
 *   rule = kt_policy_rule(set, partner, KT_POLICY_SEND, type, date)  NULL -> refuse
 *   kt_policy_needs_consent(rule, rec)       -> consent gate, with
 *   kt_policy_consent_by(rule, rec, date)    -> whose consent counts
 *   kt_policy_apply_send(rule, rec, pseudonym, &stripped)  -> strip, pseudonymise
 * The consent questions are asked BEFORE apply_send: they read geboortedatum,
 * geoorloofd and ingeschreven, which the rule may strip.
 * For an incoming record: rule = kt_policy_rule(set, sender, KT_POLICY_RECEIVE,
 * ...) NULL -> reject; kt_policy_check_receive(rule, rec) -> reject or store.
 *
 * Diagnostics name files, lines, partners, types, fields and codes, never a
 * record value.
 */
#ifndef KETEN_POLICY_H
#define KETEN_POLICY_H

#include <stddef.h>

#include "keten/conf.h"
#include "keten/error.h"
#include "keten/keys.h"
#include "keten/record.h"

#define KT_POLICY_FILE_MAX 262144    /* largest policy file read (256 KiB) */
#define KT_POLICY_FILES_MAX 4096     /* partners per directory */
#define KT_POLICY_ERRORS_MAX 100     /* errors collected before giving up */
#define KT_POLICY_RETENTION_MIN 1    /* days */
#define KT_POLICY_RETENTION_MAX 3650 /* days: ten years */
#define KT_POLICY_REFERENCE_MAX 200  /* bytes of a version's reference */
#define KT_POLICY_DATE_BYTES 11      /* "YYYY-MM-DD" + NUL */
#define KT_POLICY_FIELDS_MAX 64      /* fields of one type (the registry has at most 32) */

typedef enum { KT_POLICY_SEND = 1, KT_POLICY_RECEIVE = 2 } kt_policy_dir_t;

typedef enum {
    KT_GRONDSLAG_TOESTEMMING = 1,       /* AVG 6(1)(a): consent-gated */
    KT_GRONDSLAG_WETTELIJKE_PLICHT = 2, /* AVG 6(1)(c) */
    KT_GRONDSLAG_PUBLIEKE_TAAK = 3,     /* AVG 6(1)(e) */
} kt_grondslag_t;

/* identifier = "bsn" (leerling_id as is) or "pseudoniem" (pairwise). */
typedef enum { KT_IDENT_BSN = 1, KT_IDENT_PSEUDONIEM = 2 } kt_policy_ident_t;

/* toestemming_door: "wet" = parents under 16, the pupil from 16
 * (Uitvoeringswet AVG art. 5); "ouders_en_leerling" = from 16 both. */
typedef enum {
    KT_DOOR_NONE = 0, /* grondslag is not toestemming */
    KT_DOOR_WET = 1,
    KT_DOOR_OUDERS_EN_LEERLING = 2,
} kt_policy_door_t;

/* kt_policy_consent_by: a set of consent.gegeven_door codes. */
#define KT_GEGEVEN_OUDERS 0x1u
#define KT_GEGEVEN_LEERLING 0x2u
#define KT_GEGEVEN_OUDERS_EN_LEERLING 0x4u

/* One rule: borrowed from its set, valid while the set lives. */
typedef struct kt_policy_rule {
    const char *partner;
    kt_policy_dir_t dir;
    const char *type;
    kt_grondslag_t grondslag;
    const char *doel; /* a consent.doel code (DOMAIN.md §4.7) */
    kt_policy_ident_t identifier;
    int retention_days;
    kt_policy_door_t toestemming_door;
    const char *const *fields; /* allowed field names, registry order */
    size_t nfields;
    /* the version it belongs to */
    int version;
    char valid_from[KT_POLICY_DATE_BYTES];
    char valid_until[KT_POLICY_DATE_BYTES]; /* "" when open-ended; inclusive */
    const char *reference;                  /* NULL when the version has none */
    /* where it was written, for audit and explain */
    const char *file;
    int line;
} kt_policy_rule_t;

typedef struct kt_policy_set kt_policy_set_t;

/* The roles the loader needs for DOMAIN.md §8 rule 12 (mas_route only
 * between gemeenten): role_of answers 0 with *role set, or KT_ENOENT for a
 * partner this node does not know (a policy file for it is an error). With
 * role_of NULL every partner's role is unknown and mas_route is refused
 * everywhere. self is this node's role, 0 when unknown. */
typedef struct kt_policy_roles {
    int (*role_of)(void *ctx, const char *partner, kt_role_t *role);
    void *ctx;
    kt_role_t self;
} kt_policy_roles_t;

/* Roles from a loaded node configuration (conf must outlive the load). */
void kt_policy_roles_from_conf(kt_policy_roles_t *out, const kt_conf_t *conf);

/* Loads every DIR/<partner-id>.conf (other names and subdirectories are
 * ignored). A missing or empty directory is a valid, empty set. On failure
 * returns KT_ECONFIG (KT_EPERM if a file is writable by group or others,
 * KT_ENOMEM, ...), *out stays NULL and errs holds every message. roles may
 * be NULL (all unknown). */
int kt_policy_load(kt_policy_set_t **out, const char *dir, const kt_policy_roles_t *roles,
                   kt_conf_errors_t *errs) KT_WUR;
/* The same for one file's text in memory, named name (".../<partner>.conf"),
 * without the file-mode check: for tests and tooling. */
int kt_policy_parse(kt_policy_set_t **out, const char *name, const char *text, size_t len,
                    const kt_policy_roles_t *roles, kt_conf_errors_t *errs) KT_WUR;
void kt_policy_set_destroy(kt_policy_set_t **p); /* idempotent */

size_t kt_policy_set_partner_count(const kt_policy_set_t *set);
const char *kt_policy_set_partner(const kt_policy_set_t *set, size_t i); /* sorted; NULL past end */
size_t kt_policy_set_rule_count(const kt_policy_set_t *set);             /* all versions */
const kt_policy_rule_t *kt_policy_set_rule_at(const kt_policy_set_t *set, size_t i);

/* One version of a partner's policy (borrowed from its set). */
typedef struct kt_policy_version {
    const char *partner;
    int version;
    char valid_from[KT_POLICY_DATE_BYTES];
    char valid_until[KT_POLICY_DATE_BYTES]; /* "" when open-ended; inclusive */
    const char *reference;                  /* NULL when none */
    const char *file;
    int line;
    size_t nsend, nreceive; /* its rules */
    /* reconciliation with this partner (reconcile = { ... }; default: none) */
    int reconcile_counts;        /* 1: count vectors may be exchanged */
    int suppress_below;          /* counts 1 .. suppress_below - 1 are not sent; 0: none */
    int reconcile_lists;         /* KT_POLICY_LISTS_*: what the partner may learn of our lists */
    int reconcile_max_ids;       /* the largest set it may send in a list comparison */
    int reconcile_per_day;       /* sessions it may start with us per 24 hours */
    const char *reconcile_names; /* our lists it may compare with, comma-joined; NULL: any */
} kt_policy_version_t;

#define KT_POLICY_RECONCILE_MAX_IDS 100000 /* = KT_PSI_MAX_IDS: the default and the ceiling */
#define KT_POLICY_RECONCILE_PER_DAY 20
#define KT_POLICY_RECONCILE_NAMES_MAX 512

/* 1 if the version's reconcile.list_names lets the partner use our list. */
int kt_policy_reconcile_allows_list(const kt_policy_version_t *v, const char *list);

#define KT_POLICY_LISTS_NONE 0
#define KT_POLICY_LISTS_CARDINALITY 1 /* only the sizes */
#define KT_POLICY_LISTS_MEMBERSHIP 2  /* also which of its own pupils we lack */

/* The partner's version in force on date, or NULL (no file, no version
 * covers the date, or an invalid date). */
const kt_policy_version_t *kt_policy_version(const kt_policy_set_t *set, const char *partner,
                                             const char *date);
/* 1 if the set has a policy file for partner. */
int kt_policy_has_partner(const kt_policy_set_t *set, const char *partner);

/* The rule in force on date ("YYYY-MM-DD") for this partner, direction and
 * type, or NULL: default deny (also for an invalid date). */
const kt_policy_rule_t *kt_policy_rule(const kt_policy_set_t *set, const char *partner,
                                       kt_policy_dir_t dir, const char *type, const char *date);

/* Partners with a send rule for type in force on date (fan-out), sorted.
 * Fills out[0 .. min(n, cap)) with borrowed ids; returns n. */
size_t kt_policy_recipients(const kt_policy_set_t *set, const char *type, const char *date,
                            const char **out, size_t cap);

/* 1 if the rule lists field. */
int kt_policy_allows_field(const kt_policy_rule_t *rule, const char *field);

/* Field names (borrowed from the registry) a decision touched. */
typedef struct kt_policy_names {
    const char *name[KT_POLICY_FIELDS_MAX];
    size_t count;
} kt_policy_names_t;

/*
 * Makes rec fit a send rule: unsets every set field the rule does not allow
 * (their names into *stripped, may be NULL) and, under identifier =
 * "pseudoniem", replaces leerling_id by pseudonym (from
 * kt_envelope_peer_pseudonym for this partner). KT_EINVAL if the rule is for
 * another type or direction, the pseudonym is missing or malformed, or
 * leerling_id is not a BSN/onderwijsnummer; rec is then unchanged.
 */
int kt_policy_apply_send(const kt_policy_rule_t *rule, kt_record_t *rec, const char *pseudonym,
                         kt_policy_names_t *stripped, kt_diag_t *d) KT_WUR;

/* A received record against a receive rule: KT_EDENIED naming the first set
 * field outside the allowed set, a leerling_id in the other form than the
 * rule's identifier, or a rule for another type. 0 if it may be stored. */
int kt_policy_check_receive(const kt_policy_rule_t *rule, const kt_record_t *rec,
                            kt_diag_t *d) KT_WUR;

/* 1 if a consent gates this record under this rule: grondslag toestemming,
 * or a thuiszitter record that is (or may be) geoorloofd under any other
 * grondslag (DOMAIN.md §8 rule 2): geoorloofd=true, or geoorloofd not set
 * while the pupil is (or may be) enrolled. */
int kt_policy_needs_consent(const kt_policy_rule_t *rule, const kt_record_t *rec);

/* Which consent.gegeven_door values satisfy the gate for this pupil on date
 * (*by: KT_GEGEVEN_* bits). Age from geboortedatum, 16 on the 16th
 * birthday (29 February: 1 March in other years). Under 16: ouders or
 * ouders_en_leerling; from 16: leerling or ouders_en_leerling under "wet",
 * only ouders_en_leerling under "ouders_en_leerling". Without geboortedatum
 * only ouders_en_leerling: the age is unknown, and only that consent is
 * right at every age. A non-toestemming rule gating a geoorloofd thuiszitter
 * uses "wet". KT_EINVAL for an invalid date. */
int kt_policy_consent_by(const kt_policy_rule_t *rule, const kt_record_t *rec, const char *date,
                         unsigned *by) KT_WUR;
/* 1 if the gegeven_door code is in by. */
int kt_policy_consent_accepts(unsigned by, const char *gegeven_door);

/* 1 if s is a real date "YYYY-MM-DD" (years 1900-2199), as policies and
 * records use. */
int kt_policy_is_date(const char *s);

/* Codes as written in policy files. */
const char *kt_policy_dir_name(kt_policy_dir_t dir);    /* "send", "receive" */
const char *kt_policy_grondslag_name(kt_grondslag_t g); /* "toestemming", ... */
const char *kt_policy_ident_name(kt_policy_ident_t i);  /* "bsn", "pseudoniem" */
const char *kt_policy_door_name(kt_policy_door_t door); /* "wet", ...; "" for NONE */
const char *kt_policy_gegeven_name(unsigned bit);       /* "ouders", ...; NULL */

#endif

/*
 * consent.h - the consent registry (DOMAIN.md §3 "Who consents", §4.7, §8
 * rules 1-4): grant, withdraw, list, find the consent that opens a gate,
 * expire, purge.
 *
 * A consent is one decision (akkoord or niet_akkoord) of the parents, the
 * pupil or both, for one pupil (as a subject pseudonym, never the BSN), one
 * recipient node, one doel and a set of record types, valid from gegeven_op
 * through geldig_tot inclusive. Only an akkoord that is neither withdrawn
 * nor expired opens a gate (kt_consent_find_active). A niet_akkoord is
 * recorded so the school can show the refusal; it never releases anything
 * and never leaves the node. Recording either needs ouders_vooraf_geinformeerd
 * (privacy rule 3). A pupil has at most one decision in force per recipient
 * and doel: to change it, withdraw it and record a new one.
 *
 * Dates are local calendar dates "YYYY-MM-DD" (the node's time zone, in
 * practice Europe/Amsterdam). On geldig_tot the consent still holds; on the
 * day after it does not.
 *
 * Writes run inside the caller's transaction (kt_store_begin); calling them
 * without one is a programmer error. Diagnostics name fields and codes and
 * consent ids, never a leerling_id.
 */
#ifndef KETEN_CONSENT_H
#define KETEN_CONSENT_H

#include <stddef.h>
#include <stdint.h>

#include "keten/error.h"
#include "keten/keys.h"
#include "keten/store.h"
#include "keten/vault.h"

#define KT_CONSENT_ID_BYTES 16
#define KT_CONSENT_ID_HEX (2 * KT_CONSENT_ID_BYTES + 1)
#define KT_DATE_BYTES 11           /* "YYYY-MM-DD" + NUL */
#define KT_CONSENT_CODE_MAX 32     /* longest doel code */
#define KT_CONSENT_TYPES_MAX 8     /* record types in one consent */
#define KT_CONSENT_TYPES_TEXT 256  /* "type,type,..." + NUL */
#define KT_CONSENT_EVIDENCE_MAX 64 /* [A-Za-z0-9._/-]{1,64} */

/* Who gave it. The values are bits, so a set of accepted givers is their
 * OR; they equal policy.h's KT_GEGEVEN_* bits, so the set from
 * kt_policy_consent_by goes into kt_consent_query_t.accepted as it is
 * (tests/unit/test_consent.c checks this). */
typedef enum {
    KT_CONSENT_BY_OUDERS = 1 << 0,   /* "ouder(s)/verzorger(s)" */
    KT_CONSENT_BY_LEERLING = 1 << 1, /* the pupil, from 16 */
    KT_CONSENT_BY_BOTH = 1 << 2,     /* "leerling en ouders" */
} kt_consent_door_t;
#define KT_CONSENT_BY_ALL (KT_CONSENT_BY_OUDERS | KT_CONSENT_BY_LEERLING | KT_CONSENT_BY_BOTH)

typedef enum { KT_CONSENT_AKKOORD = 0, KT_CONSENT_NIET_AKKOORD = 1 } kt_consent_decision_t;

typedef enum {
    KT_CONSENT_ACTIVE = 0,
    KT_CONSENT_WITHDRAWN = 1,
    KT_CONSENT_EXPIRED = 2,
} kt_consent_state_t;

/* What kt_consent_grant records. Strings are borrowed and checked there. */
typedef struct kt_consent_grant {
    uint8_t subject[KT_SUBJECT_BYTES];
    const char *recipient;    /* a node id */
    const char *doel;         /* a DOMAIN.md §4.7 doel code */
    const char *const *types; /* record types covered, 1..KT_CONSENT_TYPES_MAX */
    size_t ntypes;
    const char *door;       /* "ouders", "leerling", "ouders_en_leerling" */
    const char *decision;   /* "akkoord" (NULL means akkoord) or "niet_akkoord" */
    int informed;           /* ouders_vooraf_geinformeerd: must be 1 */
    const char *evidence;   /* NULL, or a reference such as a form number */
    const char *gegeven_op; /* YYYY-MM-DD */
    const char *geldig_tot; /* YYYY-MM-DD, after gegeven_op */
} kt_consent_grant_t;

/* One stored consent (a copy: owns nothing). */
typedef struct kt_consent {
    uint8_t id[KT_CONSENT_ID_BYTES];
    uint8_t subject[KT_SUBJECT_BYTES];
    char recipient[KT_NODE_ID_MAX + 1];
    char doel[KT_CONSENT_CODE_MAX + 1];
    char types[KT_CONSENT_TYPES_TEXT]; /* sorted, comma-separated */
    kt_consent_door_t door;
    kt_consent_decision_t decision;
    char evidence[KT_CONSENT_EVIDENCE_MAX + 1]; /* "" when none */
    char gegeven_op[KT_DATE_BYTES];
    char geldig_tot[KT_DATE_BYTES];
    char ingetrokken_op[KT_DATE_BYTES]; /* "" until withdrawn */
    kt_consent_state_t state;           /* as stored; see kt_consent_state_on */
    int64_t created;                    /* unix seconds */
} kt_consent_t;

/* The gate's question: is there an akkoord for this pupil, recipient, doel
 * and record type on this date, given by someone the rule accepts? */
typedef struct kt_consent_query {
    const uint8_t *subject; /* KT_SUBJECT_BYTES */
    const char *recipient;
    const char *doel;
    const char *record_type;
    const char *date;  /* YYYY-MM-DD: the sending date */
    unsigned accepted; /* OR of kt_consent_door_t (= KT_GEGEVEN_*); 0 accepts nobody */
} kt_consent_query_t;

/* consent.c: codes and dates (pure) */

int kt_consent_doel_known(const char *doel); /* 1 or 0 */
const char *kt_consent_doel_at(size_t i);    /* the codes in DOMAIN.md order; NULL past the end */
int kt_consent_door_parse(const char *s, kt_consent_door_t *out) KT_WUR;
const char *kt_consent_door_name(kt_consent_door_t door);
const char *kt_consent_decision_name(kt_consent_decision_t dec);
const char *kt_consent_state_name(kt_consent_state_t st);
/* 1 if s is a real calendar date YYYY-MM-DD (years 1900-2199). */
int kt_consent_date_valid(const char *s);
/* Today's local date. */
void kt_consent_today(char out[KT_DATE_BYTES]);
/* 1 if s is a valid evidence reference: [A-Za-z0-9._/-]{1,64}. */
int kt_consent_evidence_valid(const char *s);
/* 1 if type is in the comma-separated set types. */
int kt_consent_types_has(const char *types, const char *type);
/* The state of c on date: withdrawn once withdrawn, expired once stored as
 * expired or once date is after geldig_tot, else active. */
kt_consent_state_t kt_consent_state_on(const kt_consent_t *c, const char *date);
/* 1 if c answers q: akkoord, stored state active, not withdrawn,
 * gegeven_op <= date <= geldig_tot, same subject, recipient and doel, the
 * type covered and the giver accepted. */
int kt_consent_matches(const kt_consent_t *c, const kt_consent_query_t *q);

/* consent.c: the registry */

/* Checks every field and stores the consent; *id is its new id. Creates the
 * subject's key if it has none (the consent row references it). Errors:
 * KT_EINVAL with a sentence naming the field, KT_EEXIST when the pupil
 * already has a decision in force for this recipient and doel. */
int kt_consent_grant(uint8_t id[KT_CONSENT_ID_BYTES], kt_store_t *st, const kt_vault_t *v,
                     const kt_consent_grant_t *g, kt_diag_t *d) KT_WUR;

/* Withdraws a consent on date. KT_ENOENT for an unknown id; KT_EINVAL when
 * it is already withdrawn or expired, or date is before gegeven_op. */
int kt_consent_withdraw(kt_store_t *st, const uint8_t id[KT_CONSENT_ID_BYTES], const char *date,
                        kt_diag_t *d) KT_WUR;

/* One consent; KT_ENOENT if there is none with this id. */
int kt_consent_get(kt_store_t *st, const uint8_t id[KT_CONSENT_ID_BYTES], kt_consent_t *out,
                   kt_diag_t *d) KT_WUR;

/* Every consent (subject NULL) or those of one subject, newest first. *rows
 * is malloc'd (NULL when n is 0); free() it. */
int kt_consent_list(kt_store_t *st, const uint8_t *subject, kt_consent_t **rows, size_t *n,
                    kt_diag_t *d) KT_WUR;

/* The id of the akkoord that answers q (kt_consent_matches), or
 * KT_ENOCONSENT. Reads only. */
int kt_consent_find_active(uint8_t id[KT_CONSENT_ID_BYTES], kt_store_t *st,
                           const kt_consent_query_t *q, kt_diag_t *d) KT_WUR;

/* Marks every active consent whose geldig_tot is before date as expired
 * and returns the ids of the akkoord ones among them (those may have let
 * records out: the caller sends retractions). Each is returned once: a
 * second run on the same or a later date returns only new expiries. *ids is
 * malloc'd (NULL when n is 0); free() it. */
int kt_consent_expire(kt_store_t *st, const char *date, uint8_t (**ids)[KT_CONSENT_ID_BYTES],
                      size_t *n, kt_diag_t *d) KT_WUR;

/* Deletes withdrawn and expired consents that ended (ingetrokken_op, or
 * geldig_tot) before cutoff; *n is how many. Retention is the caller's
 * decision. Afterwards kt_subject_forget may succeed for their subjects. */
int kt_consent_purge(kt_store_t *st, const char *cutoff, size_t *n, kt_diag_t *d) KT_WUR;

#endif

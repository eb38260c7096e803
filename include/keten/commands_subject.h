/*
 * commands_subject.h - the privacy officer's view of one pupil, and the
 * export of a signed record.
 *
 *   subject-show  (auditor)            {"leerling": ID}
 *       everything this node holds about the pupil — the records sent and
 *       received with their fields, the consent decisions, and every audit
 *       entry about them (what, to or from whom, when, basis, consent,
 *       policy version) — for an AVG art. 15 request. The request itself is
 *       audited (subject_access) before anything is answered.
 *   record-export (operator, auditor)  {"id": HEX, "partner"|"sender": ID}
 *       the signed container of one record as sent or received, base64 in
 *       "signed", with the signer's node id, so a third party can check it
 *       with `ketenctl record verify`. Audited (exported).
 *
 * Requests and replies are in docs/protocol.md ("Subject access").
 */
#ifndef KETEN_COMMANDS_SUBJECT_H
#define KETEN_COMMANDS_SUBJECT_H

#include "keten/commands.h"
#include "keten/control.h"

/* Registers both commands; c must outlive ctl. */
int kt_commands_subject_register(kt_control_t *ctl, kt_commands_t *c) KT_WUR;

#endif

/*
 * e164.h - the one rule for phone and fax numbers: ITU-T E.164 as stored
 * and sent, "+" then 8 to 15 digits, the first (country code) not 0.
 *
 * Nothing else is accepted: no spaces, dashes, dots or brackets. Those are
 * E.123 presentation for people; a citizen record holds the number itself
 * (README: "phone and fax in E.164"), and gateways want it bare. Until this
 * file the fax channel quietly stripped separators and the SMS channel
 * refused them, so one record could be a bad address on one channel and
 * good on the other; now both refuse it (flagged as a bad address), and the
 * record is fixed where it is written.
 *
 * Knows nothing of Herald.
 */
#ifndef HERALD_E164_H
#define HERALD_E164_H

/* 1 if s is an E.164 number by the rule above, else 0 (NULL: 0). */
int e164_valid(const char *s);

#endif

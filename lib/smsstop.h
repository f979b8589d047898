/*
 * smsstop.h - is an SMS reply a request to stop (issue #16)? As the
 * carriers and Twilio read it: the whole message, trimmed of white space
 * and trailing punctuation (. ! ?), compared without case, is one of the
 * words STOP, UNSUBSCRIBE, STOPIO (Welsh) or a configured one ([channel.sms]
 * stop_keywords), optionally followed by the word ALL ("stop all"). A
 * sentence that merely starts with one ("stop by the office") is a reply,
 * not a refusal.
 */
#ifndef HERALD_SMSSTOP_H
#define HERALD_SMSSTOP_H

#include <stddef.h>

#define SMSSTOP_WORDS "STOP,UNSUBSCRIBE,STOPIO"
#define SMSSTOP_WORD_MAX 32

/* 1 when text asks to stop, by the rule above; extra is the configured
 * list (comma or space separated, may be NULL). */
int smsstop_match(const char *text, const char *extra);
/* 0 when list is a valid stop_keywords value: words of letters and digits
 * (ASCII), each at most SMSSTOP_WORD_MAX, separated by commas and spaces;
 * else -1 with the reason in err. */
int smsstop_check(const char *list, char *err, size_t errlen);

#endif

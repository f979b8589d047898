/* test_bounce_read.c - heraldctl bounce's report reader (tools/bounce_read.c)
 * on a real Postfix DSN (captured from t_bounce_postfix's private Postfix,
 * the returned message's body cut), its 4.x.x variant, an ARF complaint,
 * the VERP token from the envelope recipient, and what is no report. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/bounce_read.h"

static const char postfix_dsn[] =
    "Return-Path: <MAILER-DAEMON>\n"
    "Received: by mx.herald-test.example (Postfix)\n"
    "	id EA282A7B858; Sun,  6 Dec 2026 08:12:09 +0000 (UTC)\n"
    "Date: Sun,  6 Dec 2026 08:12:09 +0000 (UTC)\n"
    "From: Mail Delivery System <MAILER-DAEMON@mx.herald-test.example>\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "To: bounce+hr750ecd504d52f5ffb9359bb3@bounces.example\n"
    "Auto-Submitted: auto-replied\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status;\n"
    "	boundary=\"E6805A7B854.1796544729/mx.herald-test.example\"\n"
    "Message-Id: <20261206081209.EA282A7B858@mx.herald-test.example>\n"
    "\n"
    "This is a MIME-encapsulated message.\n"
    "\n"
    "--E6805A7B854.1796544729/mx.herald-test.example\n"
    "Content-Description: Notification\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "This is the mail system at host mx.herald-test.example.\n"
    "\n"
    "I'm sorry to have to inform you that your message could not\n"
    "be delivered to one or more recipients. It's attached below.\n"
    "\n"
    "For further assistance, please send mail to postmaster.\n"
    "\n"
    "If you do so, please include this problem report. You can\n"
    "delete your own text from the attached returned message.\n"
    "\n"
    "                   The mail system\n"
    "\n"
    "<ada@example.org>: host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <ada@example.org>:\n"
    "    Recipient address rejected: User unknown (in reply to RCPT TO command)\n"
    "\n"
    "--E6805A7B854.1796544729/mx.herald-test.example\n"
    "Content-Description: Delivery report\n"
    "Content-Type: message/delivery-status\n"
    "\n"
    "Reporting-MTA: dns; mx.herald-test.example\n"
    "X-Postfix-Queue-ID: E6805A7B854\n"
    "X-Postfix-Sender: rfc822; bounce+hr750ecd504d52f5ffb9359bb3@bounces.example\n"
    "Arrival-Date: Sun,  6 Dec 2026 08:12:09 +0000 (UTC)\n"
    "\n"
    "Final-Recipient: rfc822; ada@example.org\n"
    "Original-Recipient: rfc822;ada@example.org\n"
    "Action: failed\n"
    "Status: 5.1.1\n"
    "Remote-MTA: dns; 127.0.0.1\n"
    "Diagnostic-Code: smtp; 550 5.1.1 <ada@example.org>: Recipient address rejected:\n"
    "    User unknown\n"
    "\n"
    "--E6805A7B854.1796544729/mx.herald-test.example\n"
    "Content-Description: Undelivered Message\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Return-Path: <bounce+hr750ecd504d52f5ffb9359bb3@bounces.example>\n"
    "Received: from vm (localhost [127.0.0.1])\n"
    "	by mx.herald-test.example (Postfix) with ESMTP id E6805A7B854\n"
    "	for <ada@example.org>; Sun,  6 Dec 2026 08:12:09 +0000 (UTC)\n"
    "Date: Sun, 06 Dec 2026 08:12:09 +0000\n"
    "From: \"Herald\" <noreply@gov.example>\n"
    "To: \"Ada Lovelace\" <ada@example.org>\n"
    "Subject: Reminder: your appointment on 1 December at 10:00\n"
    "Message-ID: <hr750ecd504d52f5ffb9359bb3@gov.example>\n"
    "MIME-Version: 1.0\n"
    "Auto-Submitted: auto-generated\n"
    "X-Herald-Reference: HX-RXNZ-ARAN\n"
    "Content-Type: text/plain\n"
    "\n"
    "(body cut)\n"
    "\n"
    "--E6805A7B854.1796544729/mx.herald-test.example--\n"
    "\n";

static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	char *out = malloc(strlen(s) + strlen(to) + 1);

	assert_non_null(p);
	memcpy(out, s, (size_t)(p - s));
	strcpy(out + (p - s), to);
	strcat(out, p + strlen(from));
	return out;
}

static void real_postfix_dsn(void **state)
{
	struct bounce_report r;

	(void)state;
	assert_int_equal(bounce_read(postfix_dsn, strlen(postfix_dsn), NULL, &r), 0);
	assert_int_equal(r.kind, BOUNCE_PERMANENT);
	assert_string_equal(r.token, "hr750ecd504d52f5ffb9359bb3"); /* from To: */
	assert_string_equal(r.status, "5.1.1");
	/* unfolded, the address masked */
	assert_string_equal(r.diag, "smtp; 550 5.1.1 <a***@example.org>: Recipient address "
				    "rejected: User unknown");
}

static void delay_report(void **state)
{
	char *a = replace(postfix_dsn, "Status: 5.1.1", "Status: 4.4.1");
	char *b = replace(a, "Action: failed", "Action: delayed");
	struct bounce_report r;

	(void)state;
	assert_int_equal(bounce_read(b, strlen(b), NULL, &r), 0);
	assert_int_equal(r.kind, BOUNCE_DELAY);
	assert_string_equal(r.status, "4.4.1");
	free(a);
	free(b);
}

static void token_from_envelope(void **state)
{
	char *a = replace(postfix_dsn, "To: bounce+hr750ecd504d52f5ffb9359bb3@bounces.example",
			  "To: postmaster@gov.example");
	struct bounce_report r;
	char tok[BOUNCE_TOKEN_MAX];

	(void)state;
	assert_int_equal(
	    bounce_read(a, strlen(a), "bounce+hr0123456789abcdef01234567@bounces.example", &r), 0);
	assert_string_equal(r.token, "hr0123456789abcdef01234567");
	assert_int_equal(bounce_read(a, strlen(a), NULL, &r), 0);
	assert_string_equal(r.token, ""); /* recorded nowhere: ignored */
	/* a token is exactly "hr" and 24 lowercase hex digits */
	assert_int_equal(bounce_token_of("bounce+hr0123@x.example", tok), -1);
	assert_int_equal(bounce_token_of("bounce+hr0123456789ABCDEF01234567@x", tok), -1);
	assert_int_equal(bounce_token_of("bounce+hr0123456789abcdef012345678@x", tok), -1);
	assert_int_equal(bounce_token_of("<BOUNCE+hr0123456789abcdef01234567@x>", tok), 0);
	free(a);
}

static const char arf[] = "From: fbl@isp.example\n"
			  "To: abuse@gov.example\n"
			  "MIME-Version: 1.0\n"
			  "Content-Type: multipart/report; report-type=feedback-report; "
			  "boundary=\"b\"\n\n"
			  "--b\nContent-Type: text/plain\n\nabuse report\n"
			  "--b\nContent-Type: message/feedback-report\n\n"
			  "Feedback-Type: abuse\nUser-Agent: fbl/1\nVersion: 1\n\n"
			  "--b\nContent-Type: message/rfc822\n\n"
			  "From: noreply@gov.example\n"
			  "Message-ID: <hrabcdefabcdefabcdefabcdef@gov.example>\n"
			  "Subject: x\n\nbody\n"
			  "--b--\n";

static void arf_complaint(void **state)
{
	struct bounce_report r;

	(void)state;
	assert_int_equal(bounce_read(arf, strlen(arf), NULL, &r), 0);
	assert_int_equal(r.kind, BOUNCE_COMPLAINT);
	assert_string_equal(r.status, "abuse");
	assert_string_equal(r.token, "hrabcdefabcdefabcdefabcdef");
}

static void not_reports(void **state)
{
	static const char ooo[] = "From: a@b.example\nSubject: away\n\nback Monday\n";
	char *nostatus = replace(postfix_dsn, "Status: 5.1.1", "X-Status: 5.1.1");
	char *badstatus = replace(postfix_dsn, "Status: 5.1.1", "Status: 9.9");
	struct bounce_report r;

	(void)state;
	assert_int_equal(bounce_read(ooo, strlen(ooo), NULL, &r), 0);
	assert_int_equal(r.kind, BOUNCE_NONE);
	assert_int_equal(bounce_read("", 0, NULL, &r), -1);
	assert_int_equal(bounce_read("junk\n", 5, NULL, &r), -1);
	assert_int_equal(bounce_read(nostatus, strlen(nostatus), NULL, &r), -1);
	assert_int_equal(bounce_read(badstatus, strlen(badstatus), NULL, &r), -1);
	free(nostatus);
	free(badstatus);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(real_postfix_dsn),	   cmocka_unit_test(delay_report),
	    cmocka_unit_test(token_from_envelope), cmocka_unit_test(arf_complaint),
	    cmocka_unit_test(not_reports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

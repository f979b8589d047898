/* letter.h - render a paper letter (A4 PDF, window-envelope address) with
 * cairo + pango. Shared by the print and fax channels; knows nothing about
 * queues or transports. Thread-safe: every call builds its own surface. */
#ifndef HERALD_LETTER_H
#define HERALD_LETTER_H

#include <stddef.h>
#include <time.h>

#include <herald/channel.h>

/* What goes on the page. Strings are UTF-8 (invalid bytes are replaced),
 * borrowed for the duration of the call; NULL means "leave it out". */
struct letter {
	const char *name;      /* recipient name, first line in the window */
	const char *address;   /* postal address, lines separated by '\n' */
	const char *sender;    /* sender block, lines separated by '|' */
	const char *locale;    /* "cy", "cy-GB" -> Welsh; anything else English */
	const char *reference; /* transaction reference */
	const char *subject;   /* heading */
	const char *body;      /* text; a blank line separates paragraphs,
				*word* is bold */
	const char *font;      /* pango family list, NULL = LETTER_FONT */
	int large_print;       /* body >= 16 pt */
	time_t date;	       /* 0 = now (local time) */
};

#define LETTER_FONT "DejaVu Sans"

/* Fill l from a message: name from meta "citizen.name", address from m->to,
 * heading from meta "fm.subject" (else m->subject), large print when meta
 * "citizen.accessibility" is "large-print". Pointers borrow from m. */
void letter_from_msg(struct letter *l, const struct herald_msg *m, const char *sender);
/* dst as a copy of src that owns its strings (name, address, sender,
 * locale, reference, subject, body, font): what a job takes to a worker
 * thread. 0, or -1 out of memory with nothing left allocated. Free the
 * strings with letter_release. */
int letter_dup(struct letter *dst, const struct letter *src);
void letter_release(struct letter *l);
/* Value of key in a NULL-terminated key, value list, or NULL. */
const char *letter_meta(const char *const *meta, const char *key);
/* 1 when the address has at least one non-blank line. */
int letter_has_address(const char *address);

/* Render to a malloc'ed PDF in *pdf / *len (free() it). 0 or -1 with a reason
 * in err. *pages (may be NULL) receives the page count. */
int letter_render_mem(const struct letter *l, unsigned char **pdf, size_t *len, int *pages,
		      char *err, size_t errlen);
/* Render to a file (created or truncated). */
int letter_render_file(const struct letter *l, const char *path, int *pages, char *err,
		       size_t errlen);

/* For programs about to exit (letterdump, tests): free the calling thread's
 * pango font map and the fonts it caches, so a leak checker sees only real
 * leaks (and fontconfig's one-off config parsing leak: see
 * tests/integration/paper_lsan.supp). A thread that rendered frees its own
 * font map when it exits. */
void letter_process_cleanup(void);

/* ---- helpers, exposed for the unit tests ---------------------------------- */

/* 1 for a Welsh locale ("cy", "cy-GB", "cy_GB.UTF-8"), else 0. */
int letter_is_welsh(const char *locale);
/* "22 November 2026" / "22 Tachwedd 2026" for t in local time. -1 if out is
 * too small. */
int letter_format_date(time_t t, const char *locale, char *out, size_t outlen);
/* Pango markup for one paragraph: everything escaped, *word* -> <b>word</b>
 * (an asterisk opens only before a non-space and closes only after one; an
 * unmatched asterisk stays literal), control characters -> space. Malloc'ed;
 * NULL on allocation failure. */
char *letter_para_markup(const char *text, size_t len);
/* Split "A|B|C" into at most max trimmed, non-empty lines, copied into
 * buf (bufsize bytes); lines[i] point into buf. Returns the count. */
int letter_split_sender(const char *sender, char *buf, size_t bufsize, const char **lines, int max);

#endif

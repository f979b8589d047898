/*
 * letter.c - render a citizen letter as an A4 PDF with cairo + pango.
 *
 * Page geometry (millimetres from the top-left corner of the A4 sheet):
 *
 *   window      The address is placed for the left window of a DL or C5
 *               window envelope: window 20 mm from the left, 45 mm from the
 *               top, 90 x 45 mm (DL 110 x 220 mm envelope, window 15 mm from
 *               its bottom edge, sheet folded in three at 99 / 198 mm).
 *               The text sits 5 mm inside it so it stays visible when the
 *               sheet slides: x 25..105, y 50..85 (80 x 35 mm). Name first,
 *               then every address line; the font shrinks (not below 7 pt)
 *               until the block fits.
 *   sender      right column x 115..190, from y 20, right-aligned: sender
 *               lines, then the date and the reference.
 *   heading     x 25..190 from y 100 (below the window), bold.
 *   body        x 25..190, to y 272 on every page; page 2+ start at y 25
 *               with the reference repeated small at the top right.
 *   footer      "Page 1 of 2" / "Tudalen 1 o 2", centred, baseline y 284.
 *   fold marks  5 mm ticks at the left edge, y 99 and 198.
 *
 * Text: every string goes through pango (font fallback via fontconfig), so
 * Welsh, Arabic (bidi) and CJK come out as real glyphs; the PDF carries a
 * ToUnicode map so pdftotext gives the text back. Invalid UTF-8 is replaced,
 * control characters become spaces. Body paragraphs are pango markup built by
 * letter_para_markup(), so nothing in a body can inject markup.
 */
#include "letter.h"

#include <cairo-pdf.h>
#include <cairo.h>
#include <ctype.h>
#include <errno.h>
#include <glib.h>
#include <pango/pangocairo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

#define MM(x) ((x)*72.0 / 25.4)
#define PAGE_W MM(210.0)
#define PAGE_H MM(297.0)

#define WIN_X MM(25.0)
#define WIN_Y MM(50.0)
#define WIN_W MM(80.0)
#define WIN_H MM(35.0)
#define SENDER_X MM(115.0)
#define SENDER_W MM(75.0)
#define SENDER_Y MM(20.0)
#define BODY_X MM(25.0)
#define BODY_W MM(165.0)
#define HEAD_Y MM(100.0)
#define BODY_BOTTOM MM(272.0)
#define CONT_TOP MM(25.0)
#define FOOT_BASE MM(284.0)

#define SENDER_MAX 8 /* more would run into the heading in large print */

struct sizes {
	double body, heading, small, address, footer;
};

static const struct sizes size_normal = {11.0, 13.0, 10.0, 11.0, 9.0};
static const struct sizes size_large = {16.0, 19.0, 14.0, 13.0, 14.0};

/* ---- small text helpers ---------------------------------------------------- */

const char *letter_meta(const char *const *meta, const char *key)
{
	if (!meta || !key)
		return NULL;
	for (size_t i = 0; meta[i] && meta[i + 1]; i += 2)
		if (strcmp(meta[i], key) == 0)
			return meta[i + 1];
	return NULL;
}

int letter_has_address(const char *address)
{
	if (!address)
		return 0;
	for (const unsigned char *p = (const unsigned char *)address; *p; p++)
		if (!isspace(*p))
			return 1;
	return 0;
}

void letter_from_msg(struct letter *l, const struct herald_msg *m, const char *sender)
{
	const char *acc = letter_meta(m->meta, "citizen.accessibility");
	const char *subj = letter_meta(m->meta, "fm.subject");

	memset(l, 0, sizeof(*l));
	l->name = letter_meta(m->meta, "citizen.name");
	l->address = m->to;
	l->sender = sender;
	l->locale = m->locale;
	l->reference = m->reference;
	l->subject = subj && *subj ? subj : m->subject;
	l->body = m->body;
	l->large_print = acc && strstr(acc, "large-print") != NULL;
}

int letter_dup(struct letter *dst, const struct letter *src)
{
	const char *const in[] = {src->name,	  src->address, src->sender, src->locale,
				  src->reference, src->subject, src->body,   src->font};
	char *out[sizeof(in) / sizeof(in[0])] = {NULL};

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		if (in[i] && !(out[i] = strdup(in[i]))) {
			while (i-- > 0)
				free(out[i]);
			return -1;
		}
	*dst = *src;
	dst->name = out[0], dst->address = out[1], dst->sender = out[2], dst->locale = out[3];
	dst->reference = out[4], dst->subject = out[5], dst->body = out[6], dst->font = out[7];
	return 0;
}

void letter_release(struct letter *l)
{
	/* the strings letter_dup made: const only to the renderer */
	free((char *)l->name);
	free((char *)l->address);
	free((char *)l->sender);
	free((char *)l->locale);
	free((char *)l->reference);
	free((char *)l->subject);
	free((char *)l->body);
	free((char *)l->font);
	memset(l, 0, sizeof(*l));
}

int letter_is_welsh(const char *locale)
{
	return locale && (locale[0] == 'c' || locale[0] == 'C') &&
	       (locale[1] == 'y' || locale[1] == 'Y') &&
	       (locale[2] == '\0' || locale[2] == '-' || locale[2] == '_' || locale[2] == '.');
}

int letter_format_date(time_t t, const char *locale, char *out, size_t outlen)
{
	static const char *const en[12] = {"January",	"February", "March",	"April",
					   "May",	"June",	    "July",	"August",
					   "September", "October",  "November", "December"};
	static const char *const cy[12] = {"Ionawr", "Chwefror", "Mawrth",     "Ebrill",
					   "Mai",    "Mehefin",	 "Gorffennaf", "Awst",
					   "Medi",   "Hydref",	 "Tachwedd",   "Rhagfyr"};
	struct tm tm;
	int n;

	if (!out || outlen == 0 || !localtime_r(&t, &tm) || tm.tm_mon < 0 || tm.tm_mon > 11)
		return -1;
	n = snprintf(out, outlen, "%d %s %d", tm.tm_mday,
		     letter_is_welsh(locale) ? cy[tm.tm_mon] : en[tm.tm_mon], tm.tm_year + 1900);
	return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

int letter_split_sender(const char *sender, char *buf, size_t bufsize, const char **lines, int max)
{
	size_t used = 0;
	int n = 0;

	if (!sender || !buf || bufsize == 0)
		return 0;
	while (*sender && n < max) {
		const char *end = strchr(sender, '|');
		size_t len = end ? (size_t)(end - sender) : strlen(sender);
		const char *s = sender;

		while (len && isspace((unsigned char)*s)) {
			s++;
			len--;
		}
		while (len && isspace((unsigned char)s[len - 1]))
			len--;
		if (len && used + len + 1 <= bufsize) {
			memcpy(buf + used, s, len);
			buf[used + len] = '\0';
			lines[n++] = buf + used;
			used += len + 1;
		}
		if (!end)
			break;
		sender = end + 1;
	}
	return n;
}

/* Pango markup of n bytes of text: GLib's g_markup_escape_text, which
 * wants valid UTF-8 (invalid bytes become U+FFFD first), after each
 * control character but '\n' and '\t' (which no markup may carry, not
 * even as a character reference) became a space. */
static void markup_escape(struct buf *b, const char *s, size_t n)
{
	char *plain, *esc;

	if (n == 0)
		return;
	plain = g_utf8_make_valid(s, (gssize)n);
	for (char *q = plain; *q; q++) {
		unsigned char c = (unsigned char)*q;
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			*q = ' ';
	}
	esc = g_markup_escape_text(plain, -1);
	buf_add(b, esc, strlen(esc));
	g_free(esc);
	g_free(plain);
}

static int is_space_byte(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

char *letter_para_markup(const char *text, size_t len)
{
	struct buf b = BUF_INIT;
	size_t i = 0, lit = 0;

	buf_add(&b, "", 0);
	while (text && i < len) {
		size_t j;

		if (text[i] != '*' || i + 1 >= len || is_space_byte(text[i + 1]) ||
		    text[i + 1] == '*') {
			i++;
			continue;
		}
		/* an opener: look for the closer */
		for (j = i + 2; j < len; j++)
			if (text[j] == '*' && !is_space_byte(text[j - 1]))
				break;
		if (j >= len) {
			i++;
			continue;
		}
		markup_escape(&b, text + lit, i - lit);
		buf_add(&b, "<b>", 3);
		markup_escape(&b, text + i + 1, j - i - 1);
		buf_add(&b, "</b>", 4);
		i = lit = j + 1;
	}
	if (text && lit < len)
		markup_escape(&b, text + lit, len - lit);
	if (b.oom) {
		free(b.data);
		return NULL;
	}
	return b.data;
}

/* A valid-UTF-8 copy of s with '\r' dropped and other control characters
 * (except '\n', and '\t' when keep_tab) turned into spaces. g_free() it. */
static char *clean_text(const char *s)
{
	char *v = g_utf8_make_valid(s ? s : "", -1);
	char *w = v;

	for (char *r = v; *r; r++) {
		unsigned char c = (unsigned char)*r;
		if (c == '\r')
			continue;
		*w++ = ((c < 0x20 && c != '\n') || c == 0x7f) ? ' ' : (char)c;
	}
	*w = '\0';
	return v;
}

/* ---- layout ---------------------------------------------------------------- */

struct placed {
	PangoLayout *layout;
	int line, page;
	double x, base;
};

struct render {
	cairo_t *cr;
	PangoContext *pctx;
	const struct sizes *sz;
	const char *family;
	int welsh;
	PangoLayout **paras;
	size_t nparas, capparas;
	struct placed *lines;
	size_t nlines, caplines;
	int pages;
	int oom;
};

static PangoLayout *make_layout(struct render *r, double size, int bold, double width)
{
	PangoLayout *lay = pango_layout_new(r->pctx);
	PangoFontDescription *fd = pango_font_description_from_string(r->family);

	pango_font_description_set_absolute_size(fd, size * PANGO_SCALE);
	if (bold)
		pango_font_description_set_weight(fd, PANGO_WEIGHT_BOLD);
	pango_layout_set_font_description(lay, fd);
	pango_font_description_free(fd);
	if (width > 0) {
		pango_layout_set_width(lay, (int)(width * PANGO_SCALE));
		pango_layout_set_wrap(lay, PANGO_WRAP_WORD_CHAR);
	}
	return lay;
}

static double layout_height(PangoLayout *lay)
{
	int w, h;
	pango_layout_get_size(lay, &w, &h);
	return (double)h / PANGO_SCALE;
}

/*
 * Draw one laid-out line with its left end at x and its baseline at base.
 * pango_cairo_show_layout_line() would do, but it hands cairo right-to-left
 * runs in logical order, each glyph placed leftwards of the previous one;
 * text extractors (poppler's pdftotext, screen readers) then guess word
 * breaks from the gaps and scramble Arabic. So glyphs go to cairo in visual
 * order (left to right) as clusters that carry their own characters, reversed
 * inside right-to-left clusters, which is what extractors expect of a PDF.
 */
static void show_line(cairo_t *cr, PangoLayoutLine *line, const char *text, double x, double base)
{
	for (GSList *l = line ? line->runs : NULL; l; l = l->next) {
		PangoGlyphItem *run = l->data;
		PangoItem *item = run->item;
		PangoGlyphString *gs = run->glyphs;
		int rtl = item->analysis.level & 1, ng = 0, nc = 0, n = gs->num_glyphs;
		cairo_glyph_t *glyphs = n ? malloc(sizeof(*glyphs) * (size_t)n) : NULL;
		cairo_text_cluster_t *clusters = n ? malloc(sizeof(*clusters) * (size_t)n) : NULL;
		GString *utf8 = g_string_new(NULL);

		if (n && (!glyphs || !clusters))
			goto next;
		for (int i = 0; i < n;) {
			int start = gs->log_clusters[i], j = i, end, cng = 0;
			const char *ct;

			while (j < n && gs->log_clusters[j] == start)
				j++;
			/* the cluster's bytes run to the next cluster in logical order */
			if (rtl)
				end = i > 0 ? gs->log_clusters[i - 1] : item->length;
			else
				end = j < n ? gs->log_clusters[j] : item->length;
			if (end < start)
				end = start;
			for (int k = i; k < j; k++) {
				const PangoGlyphInfo *g = &gs->glyphs[k];
				if (g->glyph != PANGO_GLYPH_EMPTY &&
				    !(g->glyph & PANGO_GLYPH_UNKNOWN_FLAG)) {
					glyphs[ng].index = g->glyph;
					glyphs[ng].x =
					    x + (double)g->geometry.x_offset / PANGO_SCALE;
					glyphs[ng].y =
					    base + (double)g->geometry.y_offset / PANGO_SCALE;
					ng++;
					cng++;
				}
				x += (double)g->geometry.width / PANGO_SCALE;
			}
			ct = text + item->offset + start;
			if (rtl) {
				const char *p = ct + (end - start);
				while (p > ct) {
					const char *q = g_utf8_prev_char(p);
					g_string_append_len(utf8, q, p - q);
					p = q;
				}
			} else {
				g_string_append_len(utf8, ct, end - start);
			}
			if (end > start || cng) {
				clusters[nc].num_bytes = end - start;
				clusters[nc].num_glyphs = cng;
				nc++;
			}
			i = j;
		}
		if (ng) {
			cairo_set_scaled_font(cr, pango_cairo_font_get_scaled_font(
						      PANGO_CAIRO_FONT(item->analysis.font)));
			cairo_show_text_glyphs(cr, utf8->str, (int)utf8->len, glyphs, ng, clusters,
					       nc, 0);
		}
	next:
		free(glyphs);
		free(clusters);
		g_string_free(utf8, TRUE);
	}
}

/* Draw a whole layout with its top-left corner at (x, y). */
static void draw_at(cairo_t *cr, PangoLayout *lay, double x, double y)
{
	PangoLayoutIter *it = pango_layout_get_iter(lay);
	const char *text = pango_layout_get_text(lay);

	do {
		PangoRectangle log;
		pango_layout_iter_get_line_extents(it, NULL, &log);
		show_line(cr, pango_layout_iter_get_line_readonly(it), text,
			  x + (double)log.x / PANGO_SCALE,
			  y + (double)pango_layout_iter_get_baseline(it) / PANGO_SCALE);
	} while (pango_layout_iter_next_line(it));
	pango_layout_iter_free(it);
}

static int add_para(struct render *r, PangoLayout *lay)
{
	if (r->nparas == r->capparas) {
		size_t cap = r->capparas ? r->capparas * 2 : 16;
		PangoLayout **p = realloc(r->paras, cap * sizeof(*p));
		if (!p)
			return -1;
		r->paras = p;
		r->capparas = cap;
	}
	r->paras[r->nparas++] = lay;
	return 0;
}

static int add_line(struct render *r, const struct placed *pl)
{
	if (r->nlines == r->caplines) {
		size_t cap = r->caplines ? r->caplines * 2 : 64;
		struct placed *p = realloc(r->lines, cap * sizeof(*p));
		if (!p)
			return -1;
		r->lines = p;
		r->caplines = cap;
	}
	r->lines[r->nlines++] = *pl;
	return 0;
}

/* Split the body into paragraphs (blank lines), one layout each. */
static int build_paras(struct render *r, const char *body)
{
	const char *p = body;

	while (*p) {
		const char *start, *end, *q;
		char *markup, *text = NULL;
		PangoAttrList *attrs = NULL;
		PangoLayout *lay;

		/* skip blank lines */
		for (;;) {
			q = p;
			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '\n')
				p = q + 1;
			else
				break;
		}
		if (!*p)
			break;
		start = p;
		end = p;
		/* a paragraph runs until a line holding only blanks */
		while (*p) {
			const char *nl = strchr(p, '\n');
			const char *next = nl ? nl + 1 : p + strlen(p);
			end = nl ? nl : next;
			p = next;
			if (!nl)
				break;
			q = p;
			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '\n' || *q == '\0')
				break;
		}
		while (end > start && is_space_byte(end[-1]))
			end--;
		if (end == start)
			continue;
		markup = letter_para_markup(start, (size_t)(end - start));
		if (!markup)
			return -1;
		lay = make_layout(r, r->sz->body, 0, BODY_W);
		/* parse here rather than pango_layout_set_markup: should pango
		 * ever refuse the markup, the paragraph still prints as text */
		if (pango_parse_markup(markup, -1, 0, &attrs, &text, NULL, NULL)) {
			pango_layout_set_text(lay, text, -1);
			pango_layout_set_attributes(lay, attrs);
			pango_attr_list_unref(attrs);
			g_free(text);
		} else {
			pango_layout_set_text(lay, start, (int)(end - start));
		}
		free(markup);
		if (add_para(r, lay) != 0) {
			g_object_unref(lay);
			return -1;
		}
	}
	return 0;
}

/* Place every body line on a page, from y top on page 0. */
static int paginate(struct render *r, double top)
{
	double y = top, gap = r->sz->body * 0.6;
	int page = 0;

	for (size_t i = 0; i < r->nparas; i++) {
		PangoLayout *lay = r->paras[i];
		PangoLayoutIter *it = pango_layout_get_iter(lay);
		int idx = 0, nl = pango_layout_get_line_count(lay);
		double page_top = page ? CONT_TOP : top;

		do {
			PangoRectangle log;
			struct placed pl;
			double lh, base;

			pango_layout_iter_get_line_extents(it, NULL, &log);
			lh = (double)log.height / PANGO_SCALE;
			base = (double)(pango_layout_iter_get_baseline(it) - log.y) / PANGO_SCALE;
			/* new page when the line does not fit, or (orphan control)
			 * when only the first line of a longer paragraph would */
			if (y > page_top && (y + lh > BODY_BOTTOM ||
					     (idx == 0 && nl > 1 && y + 2 * lh > BODY_BOTTOM))) {
				page++;
				y = page_top = CONT_TOP;
			}
			pl.layout = lay;
			pl.line = idx;
			pl.page = page;
			pl.x = BODY_X + (double)log.x / PANGO_SCALE;
			pl.base = y + base;
			if (add_line(r, &pl) != 0) {
				pango_layout_iter_free(it);
				return -1;
			}
			y += lh;
			idx++;
		} while (pango_layout_iter_next_line(it));
		pango_layout_iter_free(it);
		y += gap;
	}
	r->pages = page + 1;
	return 0;
}

/* The address block in the window, shrunk until it fits. */
static void draw_address(struct render *r, const char *name, const char *address)
{
	GString *s = g_string_new(NULL);
	const char *p = address ? address : "";
	double size = r->sz->address;
	PangoLayout *lay;

	if (name && *name) {
		const char *a = name;
		while (*a == ' ' || *a == '\n')
			a++;
		g_string_append(s, a);
		while (s->len && is_space_byte(s->str[s->len - 1]))
			g_string_truncate(s, s->len - 1);
	}
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		const char *a = p;
		while (len && isspace((unsigned char)*a)) {
			a++;
			len--;
		}
		while (len && isspace((unsigned char)a[len - 1]))
			len--;
		if (len) {
			if (s->len)
				g_string_append_c(s, '\n');
			g_string_append_len(s, a, (gssize)len);
		}
		p = nl ? nl + 1 : p + strlen(p);
	}
	for (;;) {
		lay = make_layout(r, size, 0, WIN_W);
		/* left-aligned whatever the script: the window is read left to right */
		pango_layout_set_auto_dir(lay, FALSE);
		pango_layout_set_text(lay, s->str, -1);
		if (layout_height(lay) <= WIN_H || size <= 7.0)
			break;
		g_object_unref(lay);
		size -= 0.5;
	}
	draw_at(r->cr, lay, WIN_X, WIN_Y);
	g_object_unref(lay);
	g_string_free(s, TRUE);
}

/* Right-aligned text in the sender column; returns the y below it. */
static double draw_right(struct render *r, const char *text, double size, int bold, double y)
{
	PangoLayout *lay = make_layout(r, size, bold, SENDER_W);
	double h;

	pango_layout_set_alignment(lay, PANGO_ALIGN_RIGHT);
	pango_layout_set_auto_dir(lay, FALSE);
	pango_layout_set_text(lay, text, -1);
	draw_at(r->cr, lay, SENDER_X, y);
	h = layout_height(lay);
	g_object_unref(lay);
	return y + h;
}

static void draw_footer(struct render *r, int page)
{
	char text[64];
	PangoLayout *lay = make_layout(r, r->sz->footer, 0, PAGE_W);

	snprintf(text, sizeof(text), r->welsh ? "Tudalen %d o %d" : "Page %d of %d", page + 1,
		 r->pages);
	pango_layout_set_alignment(lay, PANGO_ALIGN_CENTER);
	pango_layout_set_text(lay, text, -1);
	draw_at(r->cr, lay, 0, FOOT_BASE - (double)pango_layout_get_baseline(lay) / PANGO_SCALE);
	g_object_unref(lay);
}

static void draw_fold_marks(cairo_t *cr)
{
	cairo_set_line_width(cr, 0.4);
	cairo_move_to(cr, MM(4.0), MM(99.0));
	cairo_line_to(cr, MM(9.0), MM(99.0));
	cairo_move_to(cr, MM(4.0), MM(198.0));
	cairo_line_to(cr, MM(9.0), MM(198.0));
	cairo_stroke(cr);
}

static cairo_status_t mem_write(void *closure, const unsigned char *data, unsigned int len)
{
	struct buf *b = closure;
	buf_add(b, data, len);
	return b->oom ? CAIRO_STATUS_NO_MEMORY : CAIRO_STATUS_SUCCESS;
}

/* The letter's texts, cleaned (clean_text), and what page one shows. */
struct letter_text {
	char *name, *addr, *sender, *ref, *subject, *body;
	char date[64], sbuf[1024];
	const char *slines[SENDER_MAX];
	int nsender;
	PangoLayout *head; /* the subject as a heading, or NULL */
};

static void text_free(struct letter_text *t)
{
	if (t->head)
		g_object_unref(t->head);
	g_free(t->name);
	g_free(t->addr);
	g_free(t->sender);
	g_free(t->ref);
	g_free(t->subject);
	g_free(t->body);
}

/* "Our reference: X" right-aligned at y (nothing when there is none). */
static void draw_reference(struct render *r, const char *ref, double y)
{
	char line[320];

	if (!*ref)
		return;
	snprintf(line, sizeof(line), "%s: %s", r->welsh ? "Ein cyfeirnod" : "Our reference", ref);
	draw_right(r, line, r->sz->small, 0, y);
}

/* Page one's head: sender block, date, reference, window, heading. */
static void draw_first_head(struct render *r, const struct letter_text *t)
{
	double y = SENDER_Y;

	for (int i = 0; i < t->nsender; i++)
		y = draw_right(r, t->slines[i], r->sz->small, i == 0, y);
	y += r->sz->small;
	y = draw_right(r, t->date, r->sz->small, 0, y);
	draw_reference(r, t->ref, y);
	draw_address(r, t->name, t->addr);
	if (t->head)
		draw_at(r->cr, t->head, BODY_X, HEAD_Y);
	draw_fold_marks(r->cr);
}

static void draw_page(struct render *r, const struct letter_text *t, int page)
{
	cairo_set_source_rgb(r->cr, 0, 0, 0);
	if (page == 0)
		draw_first_head(r, t);
	else
		draw_reference(r, t->ref, MM(12.0));
	for (size_t i = 0; i < r->nlines; i++) {
		const struct placed *pl = &r->lines[i];
		if (pl->page != page)
			continue;
		show_line(r->cr, pango_layout_get_line_readonly(pl->layout, pl->line),
			  pango_layout_get_text(pl->layout), pl->x, pl->base);
	}
	draw_footer(r, page);
	cairo_show_page(r->cr);
}

/* Cairo and pango for surf, and the layout: heading and body first, as
 * the page count goes on every page. 0, or -1 with err. */
static int render_setup(struct render *r, struct letter_text *t, const struct letter *l,
			cairo_surface_t *surf, char *err, size_t errlen)
{
	double top = HEAD_Y;

	if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errlen, "PDF surface: %s",
			 cairo_status_to_string(cairo_surface_status(surf)));
		return -1;
	}
	r->cr = cairo_create(surf);
	r->pctx = pango_cairo_create_context(r->cr);
	/* vector output: keep the font's own advances (pango rounds them to
	 * whole points by default, which opens gaps extractors read as spaces) */
	pango_context_set_round_glyph_positions(r->pctx, FALSE);
	/* blocks that turn auto_dir off (window, sender) read left to right */
	pango_context_set_base_dir(r->pctx, PANGO_DIRECTION_LTR);
	if (*t->subject) {
		t->head = make_layout(r, r->sz->heading, 1, BODY_W);
		pango_layout_set_text(t->head, t->subject, -1);
		top += layout_height(t->head) + r->sz->body;
	}
	if (build_paras(r, t->body) != 0 || paginate(r, top) != 0) {
		snprintf(err, errlen, "out of memory laying out the letter");
		return -1;
	}
	if (letter_format_date(l->date ? l->date : time(NULL), l->locale, t->date,
			       sizeof(t->date)) != 0)
		t->date[0] = '\0';
	t->nsender =
	    letter_split_sender(t->sender, t->sbuf, sizeof(t->sbuf), t->slines, SENDER_MAX);
	return 0;
}

static int render(const struct letter *l, cairo_surface_t *surf, int *pages, char *err,
		  size_t errlen)
{
	struct render r = {0};
	struct letter_text t = {
	    .name = clean_text(l->name),
	    .addr = clean_text(l->address),
	    .sender = clean_text(l->sender),
	    .ref = clean_text(l->reference),
	    .subject = clean_text(l->subject),
	    .body = clean_text(l->body),
	};
	int rc = -1;
	cairo_status_t cst;

	r.sz = l->large_print ? &size_large : &size_normal;
	r.family = l->font && *l->font ? l->font : LETTER_FONT;
	r.welsh = letter_is_welsh(l->locale);
	if (render_setup(&r, &t, l, surf, err, errlen) != 0)
		goto fail;
	for (int page = 0; page < r.pages; page++)
		draw_page(&r, &t, page);
	cst = cairo_status(r.cr);
	if (cst == CAIRO_STATUS_SUCCESS) {
		cairo_surface_finish(surf);
		cst = cairo_surface_status(surf);
	}
	if (cst != CAIRO_STATUS_SUCCESS) {
		snprintf(err, errlen, "PDF rendering: %s", cairo_status_to_string(cst));
		goto fail;
	}
	if (pages)
		*pages = r.pages;
	rc = 0;
fail:
	for (size_t i = 0; i < r.nparas; i++)
		g_object_unref(r.paras[i]);
	free(r.paras);
	free(r.lines);
	if (r.pctx)
		g_object_unref(r.pctx);
	if (r.cr)
		cairo_destroy(r.cr);
	text_free(&t);
	return rc;
}

int letter_render_mem(const struct letter *l, unsigned char **pdf, size_t *len, int *pages,
		      char *err, size_t errlen)
{
	struct buf b = BUF_INIT;
	cairo_surface_t *surf = cairo_pdf_surface_create_for_stream(mem_write, &b, PAGE_W, PAGE_H);
	int rc;

	*pdf = NULL;
	*len = 0;
	rc = render(l, surf, pages, err, errlen);
	cairo_surface_destroy(surf);
	if (rc == 0 && (b.oom || !b.data)) {
		snprintf(err, errlen, "out of memory writing the PDF");
		rc = -1;
	}
	if (rc != 0) {
		free(b.data);
		return -1;
	}
	*pdf = (unsigned char *)b.data;
	*len = b.len;
	return 0;
}

int letter_render_file(const struct letter *l, const char *path, int *pages, char *err,
		       size_t errlen)
{
	unsigned char *pdf;
	size_t len;
	FILE *fp;
	int rc = -1;

	if (letter_render_mem(l, &pdf, &len, pages, err, errlen) != 0)
		return -1;
	fp = fopen(path, "wb");
	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if (fwrite(pdf, 1, len, fp) != len) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		fclose(fp);
		goto fail;
	}
	if (fclose(fp) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	rc = 0;
fail:
	free(pdf);
	return rc;
}

void letter_process_cleanup(void)
{
	/* Not FcFini() nor cairo_debug_reset_static_data(): both assert
	 * while cairo still caches font faces (which is no leak). */
	pango_cairo_font_map_set_default(NULL);
}

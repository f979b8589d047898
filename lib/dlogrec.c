/* dlogrec.c - a delivery record's two forms, text and JSON (see dlogrec.h). */
#include "dlogrec.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

static const char *dash(const char *v)
{
	return v && *v ? v : "-";
}

/* Appending to a caller buffer, cut at its end (always NUL-terminated). */
struct out {
	char *p, *end; /* end: the last byte, kept for the NUL */
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (n > (size_t)(o->end - o->p))
		n = (size_t)(o->end - o->p);
	memcpy(o->p, s, n);
	o->p += n;
}

static void out_str(struct out *o, const char *s)
{
	out_put(o, s, strlen(s));
}

/* An outside value: escaped (text_log_escape), "-" when empty. */
static void out_esc(struct out *o, const char *s)
{
	o->p += text_log_escape(dash(s), o->p, (size_t)(o->end - o->p) + 1);
}

static void out_fixed3(struct out *o, double v)
{
	char num[64];
	out_put(o, num, fmt_fixed3(v, num, sizeof(num)));
}

size_t dlog_rec_text(const struct dlog_rec *r, char *buf, size_t len)
{
	struct out o = {buf, buf + len - 1};
	char num[24];

	if (len == 0)
		return 0;
	out_str(&o, dash(r->ts));
	out_put(&o, " ", 1);
	out_esc(&o, r->event_id);
	out_put(&o, ": tx=", 5);
	out_esc(&o, r->tx);
	out_put(&o, ", citizen=", 10);
	out_esc(&o, r->citizen);
	out_put(&o, ", channel=", 10);
	out_esc(&o, r->channel);
	out_put(&o, ", to=", 5);
	out_esc(&o, r->to);
	out_put(&o, ", attempt=", 10);
	out_put(&o, num, fmt_int(r->attempt, num));
	if (r->possible_dup)
		out_put(&o, ", dup=possible", 14);
	out_put(&o, ", delay=", 8);
	out_fixed3(&o, r->delay);
	out_put(&o, ", delays=", 9);
	out_esc(&o, r->delays);
	out_put(&o, ", dsn=", 6);
	out_esc(&o, r->dsn);
	if (r->fulfilled_in >= 0) {
		out_put(&o, ", fulfilled_in=", 15);
		out_fixed3(&o, r->fulfilled_in);
	}
	out_put(&o, ", status=", 9);
	out_esc(&o, r->status);
	if (r->reason && *r->reason) {
		out_put(&o, " (", 2);
		out_esc(&o, r->reason);
		out_put(&o, ")", 1);
	}
	*o.p = '\0'; /* out_esc escaped every line break from outside */
	return (size_t)(o.p - buf);
}

/* Append a JSON string: escapes quotes, backslashes and controls; bytes
 * that are not valid UTF-8 become '?'. */
static void put_json_str(char **p, char *end, const char *s)
{
	if (*p < end)
		*(*p)++ = '"';
	while (s && *s && *p < end - 8) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			*(*p)++ = '\\';
			*(*p)++ = (char)c;
			s++;
		} else if (c < 0x20) {
			memcpy(*p, "\\u00", 4);
			/* two hex digits and a NUL (room: end - 8) */
			OPENSSL_buf2hexstr_ex(*p + 4, 3, NULL, &c, 1, '\0');
			*p += 6;
			s++;
		} else if (c < 0x80) {
			*(*p)++ = (char)c;
			s++;
		} else {
			size_t n = strnlen(s, 4);
			long bad = utf8_invalid_at(s, n);
			size_t seq = (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : 4;
			if (bad == 0 || seq > n) {
				*(*p)++ = '?';
				s++;
			} else {
				memcpy(*p, s, seq);
				*p += seq;
				s += seq;
			}
		}
	}
	if (*p < end)
		*(*p)++ = '"';
}

static void put_raw(char **p, char *end, const char *s)
{
	size_t n = strlen(s);
	if (*p + n > end)
		n = (size_t)(end - *p);
	memcpy(*p, s, n);
	*p += n;
}

static void put_field(char **p, char *end, const char *key, const char *v)
{
	put_raw(p, end, ",\"");
	put_raw(p, end, key);
	put_raw(p, end, "\":");
	put_json_str(p, end, v ? v : "");
}

size_t dlog_rec_json(const struct dlog_rec *r, char *buf, size_t len)
{
	char *p = buf, *end = buf + len - 1, num[64];

	put_raw(&p, end, "{\"ts\":");
	put_json_str(&p, end, r->ts);
	put_field(&p, end, "event_id", r->event_id);
	put_field(&p, end, "tx", r->tx);
	put_field(&p, end, "citizen", r->citizen);
	put_field(&p, end, "service", r->service);
	if (r->channel)
		put_field(&p, end, "channel", r->channel);
	else
		put_raw(&p, end, ",\"channel\":null");
	put_field(&p, end, "to", r->to ? r->to : "-");
	put_raw(&p, end, ",\"attempt\":");
	fmt_int(r->attempt, num);
	put_raw(&p, end, num);
	if (r->possible_dup)
		put_raw(&p, end, ",\"possible_duplicate\":true");
	put_raw(&p, end, ",\"delay\":");
	fmt_fixed6(r->delay, num, sizeof(num));
	put_raw(&p, end, num);
	put_field(&p, end, "delays", r->delays_fine ? r->delays_fine : r->delays);
	put_field(&p, end, "dsn", r->dsn && *r->dsn ? r->dsn : "-");
	put_field(&p, end, "status", r->status);
	put_field(&p, end, "reason", r->reason);
	if (r->ref && *r->ref)
		put_field(&p, end, "ref", r->ref);
	if (r->fulfilled_in >= 0) {
		put_raw(&p, end, ",\"fulfilled_in\":");
		fmt_fixed3(r->fulfilled_in, num, sizeof(num));
		put_raw(&p, end, num);
	}
	put_raw(&p, end, "}");
	*p = '\0';
	return (size_t)(p - buf);
}

static const char *jstr(const json_t *rec, const char *k)
{
	return json_string_value(json_object_get(rec, k));
}

/* "0.000120/0.000250/-" (the JSON form's microseconds) as the text form
 * gives it, in milliseconds: "0.000/0.000/-". */
static const char *delays_ms(const char *fine, char *out, size_t len)
{
	size_t n = 0;

	if (!fine)
		return NULL;
	while (*fine && n + 24 < len) {
		char *e;
		double v = strtod(fine, &e);
		if (e == fine || v < 0) { /* "-" or not a number: as it is */
			e = (char *)fine + strcspn(fine, "/");
			memcpy(out + n, fine,
			       (size_t)(e - fine) < len - n - 1 ? (size_t)(e - fine) : 0);
			n += (size_t)(e - fine) < len - n - 1 ? (size_t)(e - fine) : 0;
		} else {
			n += fmt_fixed3(v, out + n, len - n);
		}
		fine = e;
		if (*fine == '/')
			out[n++] = *fine++;
		else if (*fine)
			break;
	}
	out[n] = '\0';
	return out;
}

void dlog_format_text(const json_t *rec, char *buf, size_t len)
{
	char dms[96];
	json_t *fi = json_object_get(rec, "fulfilled_in");
	struct dlog_rec r = {
	    .ts = jstr(rec, "ts"),
	    .event_id = jstr(rec, "event_id"),
	    .tx = jstr(rec, "tx"),
	    .citizen = jstr(rec, "citizen"),
	    .service = jstr(rec, "service"),
	    .channel = jstr(rec, "channel"),
	    .to = jstr(rec, "to"),
	    .delays = delays_ms(jstr(rec, "delays"), dms, sizeof(dms)),
	    .dsn = jstr(rec, "dsn"),
	    .status = jstr(rec, "status"),
	    .reason = jstr(rec, "reason"),
	    .ref = jstr(rec, "ref"),
	    .attempt = (int)json_integer_value(json_object_get(rec, "attempt")),
	    .possible_dup = json_is_true(json_object_get(rec, "possible_duplicate")),
	    .delay = json_number_value(json_object_get(rec, "delay")),
	    .fulfilled_in = json_is_number(fi) ? json_number_value(fi) : -1.0,
	};
	dlog_rec_text(&r, buf, len);
}

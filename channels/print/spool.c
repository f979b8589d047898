/*
 * spool.c - the print channel's spool mode: hand letters to a print-and-post
 * house through a folder.
 *
 * For each letter two files appear in the folder, in this order:
 *   <stem>.pdf    the letter
 *   <stem>.json   its manifest, one line of JSON:
 *     {"event_id","file":"<stem>.pdf","bytes","pages","sha256","reference",
 *      "citizen_id","template","locale","large_print","attempt","created"}
 * where <stem> is the event id made safe for a file name (spool_stem).
 *
 * Nothing half-written is ever visible under those names: each file is
 * written to a hidden temporary (".<stem>.pdf.XXXXXX" in the same folder, so
 * rename stays on one file system), fsync'ed, renamed into place, and the
 * folder is fsync'ed. The manifest is renamed only after the PDF is durable,
 * so a print house that picks up "*.json" (and ignores dot files) always
 * finds the complete PDF next to it, and can check bytes and sha256. A
 * re-sent event replaces both files atomically. The manifest holds no
 * contact details: the address is only in the PDF.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "print.h"

void spool_stem(const char *event_id, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen == 0)
		return;
	for (const char *p = event_id ? event_id : ""; *p && n + 1 < outlen && n < 120; p++) {
		char c = *p;
		int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			 (c >= '0' && c <= '9') || c == '-' || c == '_' || (c == '.' && n > 0);
		out[n++] = ok ? c : '_';
	}
	if (n == 0 && outlen > 1)
		out[n++] = '_';
	out[n] = '\0';
}

/* Write data to dir/final through a hidden temporary: write, fsync, rename. */
static int write_atomic(const char *dir, const char *final, const void *data, size_t len, char *err,
			size_t errlen)
{
	char tmp[4096], dst[4096];
	const char *p = data;
	size_t left = len;
	int fd = -1;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, final) >= sizeof(tmp) ||
	    (size_t)snprintf(dst, sizeof(dst), "%s/%s", dir, final) >= sizeof(dst)) {
		snprintf(err, errlen, "spool path too long");
		return -1;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
		return -1;
	}
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "write %s: %s", tmp, strerror(w < 0 ? errno : EIO));
			goto fail;
		}
		p += w;
		left -= (size_t)w;
	}
	/* readable by the print house's group, not by everyone: letters carry
	 * personal data */
	if (fchmod(fd, 0640) != 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "fsync %s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (close(fd) != 0) {
		fd = -1;
		snprintf(err, errlen, "close %s: %s", tmp, strerror(errno));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, dst) != 0) {
		snprintf(err, errlen, "rename %s: %s", dst, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

static int fsync_dir(const char *dir, char *err, size_t errlen)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0 || fsync(fd) != 0) {
		snprintf(err, errlen, "fsync %s: %s", dir, strerror(errno));
		rc = -1;
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

int spool_write(const char *dir, const struct print_job *j, const unsigned char *pdf, size_t len,
		int pages, char *err, size_t errlen)
{
	char stem[160], pdfname[200], jsonname[200], hex[2 * EVP_MAX_MD_SIZE + 1], ts[32];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	time_t now = time(NULL);
	struct tm tm;
	json_t *o = NULL;
	char *line = NULL;
	int rc = -1;

	spool_stem(j->name ? j->name : j->event_id, stem, sizeof(stem));
	snprintf(pdfname, sizeof(pdfname), "%s.pdf", stem);
	snprintf(jsonname, sizeof(jsonname), "%s.json", stem);
	if (!EVP_Digest(pdf, len, md, &mdlen, EVP_sha256(), NULL)) {
		snprintf(err, errlen, "sha256 failed");
		goto fail;
	}
	for (unsigned i = 0; i < mdlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	hex[2 * mdlen] = '\0';
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	o = json_pack("{s:s, s:s, s:I, s:i, s:s, s:s?, s:s?, s:s?, s:s?, s:b, s:i, s:s}",
		      "event_id", j->event_id ? j->event_id : "", "file", pdfname, "bytes",
		      (json_int_t)len, "pages", pages, "sha256", hex, "reference", j->l.reference,
		      "citizen_id", j->citizen_id, "template", j->template_name, "locale",
		      j->l.locale, "large_print", j->l.large_print, "attempt", (int)j->attempt,
		      "created", ts);
	line = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (!line) {
		snprintf(err, errlen, "manifest: out of memory");
		goto fail;
	}
	{
		size_t n = strlen(line);
		char *nl = realloc(line, n + 2);
		if (!nl) {
			snprintf(err, errlen, "manifest: out of memory");
			goto fail;
		}
		line = nl;
		line[n] = '\n';
		line[n + 1] = '\0';
	}
	/* the PDF must be durable before the manifest that announces it */
	if (write_atomic(dir, pdfname, pdf, len, err, errlen) != 0 ||
	    fsync_dir(dir, err, errlen) != 0 ||
	    write_atomic(dir, jsonname, line, strlen(line), err, errlen) != 0 ||
	    fsync_dir(dir, err, errlen) != 0)
		goto fail;
	rc = 0;
fail:
	free(line);
	json_decref(o);
	return rc;
}

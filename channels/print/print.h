/* print.h - pieces of the print channel shared by print.c (plugin and
 * worker), ipp.c (CUPS over IPP) and spool.c (print-house spool folder). */
#ifndef HERALD_PRINT_H
#define HERALD_PRINT_H

#include <stddef.h>
#include <stdint.h>

#include "letter.h"

/* One letter to print, copied out of the herald_msg at submit(). */
struct print_job {
	uint64_t msg_id;
	unsigned attempt;
	char *event_id, *citizen_id, *template_name;
	/* the spool file stem and CUPS job name: the host's provider
	 * reference (v2 host), else the event id */
	char *name;
	struct letter l; /* owns its strings (letter_dup) */
};

/* ---- spool.c ---- */

/* File name stem for an event id: [A-Za-z0-9._-] kept, anything else '_',
 * never starting with '.', at most 120 characters (so "<stem>.pdf"
 * fits a result ref). */
void spool_stem(const char *event_id, char *out, size_t outlen);
/* Write <dir>/<stem>.pdf, then the one-line manifest <dir>/<stem>.json,
 * each through a hidden temporary file, fsync and rename, then fsync the
 * folder. 0, or -1 with a reason in err. */
int spool_write(const char *dir, const struct print_job *j, const unsigned char *pdf, size_t len,
		int pages, char *err, size_t errlen);

/* ---- ipp.c ---- */

struct pipp;
/* A CUPS server (host, port) and queue. cancel points at a flag that, once
 * non-zero, makes every blocking call give up soon. */
struct pipp *pipp_new(const char *host, int port, const char *queue, int *cancel);
void pipp_free(struct pipp **p);
/* Create a job named name and send the PDF. Returns the job id (> 0), or 0
 * with a reason in err and *permanent set when retrying cannot help. */
int pipp_submit(struct pipp *p, const char *name, const unsigned char *pdf, size_t len,
		int *permanent, char *err, size_t errlen);

enum pipp_state {
	PIPP_UNREACHABLE = 0, /* could not ask (server down, timeout) */
	PIPP_PENDING,	      /* pending, held, processing, stopped */
	PIPP_COMPLETED,
	PIPP_ABORTED, /* aborted or canceled */
	PIPP_UNKNOWN, /* CUPS no longer knows the job */
};
/* Ask CUPS for a job's state; a human reason (state, reasons, message) goes
 * to msg. */
enum pipp_state pipp_job_state(struct pipp *p, int job_id, char *msg, size_t msglen);

#endif

/*
 * cmd_keygen.c - heraldctl keygen [-d DIR] [--server] [--force] NAME
 *
 * A CURVE key pair (libzmq's zmq_curve_keypair, Z85): DIR/NAME.key, the
 * secret key (mode 0600: it stays with the publisher, or with heraldd for
 * --server), DIR/NAME.pub, the public key, and for a service the skeleton
 * policy DIR/NAME.conf to put into heraldd's services.d (lib/service.h:
 * every key a policy accepts, the optional ones commented out).
 * Existing files are kept unless --force.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "heraldctl.h"
#include "service.h"

static int write_file(const char *path, mode_t mode, int force, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | (force ? 0 : O_EXCL), mode);
	size_t len = strlen(text);

	if (fd < 0) {
		fprintf(stderr, "heraldctl keygen: %s: %s%s\n", path, strerror(errno),
			errno == EEXIST ? " (--force replaces it)" : "");
		return -1;
	}
	/* an existing file keeps its mode through O_TRUNC: set it */
	if (fchmod(fd, mode) != 0 || write(fd, text, len) != (ssize_t)len) {
		fprintf(stderr, "heraldctl keygen: %s: %s\n", path, strerror(errno));
		close(fd);
		return -1;
	}
	return close(fd);
}

int cmd_keygen(struct ctl *c, int argc, char **argv)
{
	static const struct option longopts[] = {{"server", no_argument, NULL, 's'},
						 {"force", no_argument, NULL, 'f'},
						 {NULL, 0, NULL, 0}};
	const char *dir = ".", *name;
	int server = 0, force = 0, opt, rc = 1;
	char pub[SERVICE_Z85_LEN + 1], sec[SERVICE_Z85_LEN + 1];
	char path[4096], text[2048];

	(void)c;
	while ((opt = getopt_long(argc, argv, "d:sfh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd': dir = optarg; break;
		case 's': server = 1; break;
		case 'f': force = 1; break;
		default:
			fprintf(stderr,
				"usage: heraldctl keygen [-d DIR] [--server] [--force] NAME\n");
			return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: heraldctl keygen [-d DIR] [--server] [--force] NAME\n");
		return 2;
	}
	name = argv[optind];
	if (!service_name_valid(name)) {
		fprintf(stderr,
			"heraldctl keygen: '%s' is not a service name (1-64 of a-z, 0-9, '-' and "
			"'_', starting with a letter or digit)\n",
			name);
		return 2;
	}
	if (zmq_curve_keypair(pub, sec) != 0) {
		fprintf(stderr, "heraldctl keygen: %s (libzmq without CURVE?)\n",
			zmq_strerror(zmq_errno()));
		return 2;
	}
	snprintf(path, sizeof(path), "%s/%s.key", dir, name);
	snprintf(text, sizeof(text), "%s\n", sec);
	if (write_file(path, 0600, force, text) != 0)
		goto out;
	printf("secret key: %s (keep it private%s)\n", path,
	       server ? "; [ingest] curve_secret_key_file" : "; heraldctl publish -k");
	snprintf(path, sizeof(path), "%s/%s.pub", dir, name);
	snprintf(text, sizeof(text), "%s\n", pub);
	if (write_file(path, 0644, force, text) != 0)
		goto out;
	printf("public key: %s (%s)\n", path,
	       server ? "publishers' --server-key" : "in the policy file");
	if (!server) {
		char *skel = service_skeleton(name, pub);
		snprintf(path, sizeof(path), "%s/%s.conf", dir, name);
		if (!skel || write_file(path, 0644, force, skel) != 0) {
			free(skel);
			goto out;
		}
		free(skel);
		printf("policy:     %s (copy into heraldd's [services] dir, then SIGHUP)\n", path);
	}
	rc = 0;
out:
	memset(sec, 0, sizeof(sec));
	memset(text, 0, sizeof(text));
	return rc;
}

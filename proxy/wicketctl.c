/* wicketctl: the operator's control tool. Checks the command locally with
 * the daemon's own parser, sends it as one line over the control socket,
 * prints the answer and maps it to an exit status (docs/control.md). */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctlproto.h"
#include "version.h"

#define DEFAULT_SOCKET "/run/wicket/control.sock"
#define DEFAULT_TIMEOUT 10	/* seconds without progress */
#define MAX_TIMEOUT 3600

enum {
	EXIT_OK = 0,
	EXIT_SERVER = 1,	/* wicketd answered `error` */
	EXIT_USAGE = 2,		/* bad command line or argument */
	EXIT_CONNECT = 3,	/* cannot reach wicketd, or the answer broke off */
};

/* Print usage to stdout (asked for) or stderr (a mistake) and exit. */
static void
usage(int code)
{
	fprintf(code == EXIT_OK ? stdout : stderr,
	    "usage: wicketctl [-s SOCKET] [-t SECONDS] COMMAND [ARG...]\n"
	    "       wicketctl -V | --version | -h | --help\n"
	    "commands:\n"
	    "  allow MAC [DURATION]   admit a client for DURATION: seconds, or a\n"
	    "                         number with s, m, h or d as in wicket.conf\n"
	    "                         (1..%u s; default session_timeout)\n"
	    "  deny MAC               end a client's session\n"
	    "  list [--json]          every session with its client's addresses\n"
	    "  show [--json] MAC|IP   one client: identity and session\n"
	    "  stats [--json | --prometheus]\n"
	    "                         the counters: connections, requests by verdict,\n"
	    "                         sessions, registry, sniffer, control socket\n"
	    "  reload                 re-read the configuration file\n"
	    "options:\n"
	    "  -s SOCKET      control socket (default %s)\n"
	    "  -t SECONDS     give up after this long without progress (default %d)\n"
	    "  -V, --version  print the version\n"
	    "  -h, --help     print this help\n"
	    "exit status: 0 ok, 1 wicketd refused, 2 usage, 3 cannot connect\n",
	    CTL_MAX_SECONDS, DEFAULT_SOCKET, DEFAULT_TIMEOUT);
	exit(code);
}

/* Join the command words into one request line, refusing words the line
 * format cannot carry (empty, or holding blanks or control bytes). */
static int
join_args(int argc, char **argv, char *line, size_t size)
{
	size_t len = 0;

	for (int i = 0; i < argc; i++) {
		size_t n = strlen(argv[i]);
		if (n == 0) {
			fprintf(stderr, "wicketctl: empty argument\n");
			return -1;
		}
		for (size_t k = 0; k < n; k++) {
			unsigned char c = (unsigned char)argv[i][k];
			if (c <= 0x20 || c == 0x7f) {
				fprintf(stderr, "wicketctl: argument %d contains a blank or "
				    "control character\n", i + 1);
				return -1;
			}
		}
		if (len + n + 2 > size) {
			fprintf(stderr, "wicketctl: command too long (more than %u "
			    "bytes)\n", CTL_LINE_MAX);
			return -1;
		}
		if (i > 0)
			line[len++] = ' ';
		memcpy(line + len, argv[i], n);
		len += n;
	}
	line[len] = '\0';
	return (int)len;
}

/* Connect to the control socket with timeouts on every later read and
 * write; the fd, or -1 with a message naming the path. */
static int
ctl_connect(const char *path, int timeout)
{
	struct timeval tv = { timeout, 0 };
	struct sockaddr_un sun;
	int fd, e;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "wicketctl: socket path %s is too long\n", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "wicketctl: socket: %s\n", strerror(errno));
		return -1;
	}
	/* a full backlog makes connect wait: bounded by SO_SNDTIMEO */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		fprintf(stderr, "wicketctl: setsockopt: %s\n", strerror(errno));
		close(fd);
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
		return fd;
	e = errno;
	close(fd);
	if (e == ENOENT)
		fprintf(stderr, "wicketctl: cannot connect to %s: no such socket "
		    "(is wicketd running? see control_socket, or use -s)\n", path);
	else if (e == ECONNREFUSED)
		fprintf(stderr, "wicketctl: cannot connect to %s: connection "
		    "refused (wicketd is not running)\n", path);
	else if (e == EAGAIN || e == EWOULDBLOCK || e == EINPROGRESS)
		fprintf(stderr, "wicketctl: cannot connect to %s: timed out after "
		    "%ds\n", path, timeout);
	else
		fprintf(stderr, "wicketctl: cannot connect to %s: %s\n", path,
		    strerror(e));
	return -1;
}

/* Send the request line and its LF. A peer that closed first (EPIPE)
 * may have said why (too many connections): the caller reads that. */
static int
ctl_send(int fd, const char *line, size_t len, const char *path)
{
	char buf[CTL_LINE_MAX + 2];
	size_t off = 0;

	memcpy(buf, line, len);
	buf[len++] = '\n';
	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return 0;
		if (n <= 0) {
			fprintf(stderr, "wicketctl: %s: send: %s\n", path,
			    n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
			    ? "timed out" : strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

/* Read the answer: the status line, payload lines (to stdout for ok, to
 * stderr for error) and the empty line that ends it. The exit status. */
static int
ctl_answer(int fd, const char *path)
{
	FILE *in = fdopen(fd, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int status = -1, rc = EXIT_CONNECT;
	bool done = false;

	if (in == NULL) {
		fprintf(stderr, "wicketctl: fdopen: %s\n", strerror(errno));
		close(fd);
		return EXIT_CONNECT;
	}
	errno = 0;
	while ((n = getline(&line, &cap, in)) > 0) {
		bool lf = line[n - 1] == '\n';
		if (lf)
			line[--n] = '\0';
		if (status < 0) {
			if (strcmp(line, "ok") == 0) {
				status = EXIT_OK;
			} else if (strncmp(line, "error ", 6) == 0) {
				status = EXIT_SERVER;
				fprintf(stderr, "wicketctl: %s\n", line + 6);
			} else {
				fprintf(stderr, "wicketctl: %s: unexpected answer "
				    "from wicketd\n", path);
				break;
			}
		} else if (n == 0 && lf) {
			done = true;
			break;
		} else {
			FILE *out = status == EXIT_OK ? stdout : stderr;
			fputs(line, out);
			fputc('\n', out);
		}
		errno = 0;
	}
	if (done) {
		rc = status;
	} else if (status >= 0 || n < 0) {
		if (ferror(in) && (errno == EAGAIN || errno == EWOULDBLOCK))
			fprintf(stderr, "wicketctl: %s: timed out waiting for "
			    "wicketd\n", path);
		else if (ferror(in))
			fprintf(stderr, "wicketctl: %s: %s\n", path, strerror(errno));
		else
			fprintf(stderr, "wicketctl: %s: connection closed before "
			    "the end of the answer\n", path);
	}
	free(line);
	fclose(in);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "wicketctl: writing the output: %s\n", strerror(errno));
		return EXIT_CONNECT;
	}
	return rc;
}

/* Parse options, check the command, talk to wicketd. */
int
main(int argc, char **argv)
{
	const char *path = DEFAULT_SOCKET;
	char line[CTL_LINE_MAX + 1], err[256], *end;
	struct ctl_cmd cmd;
	long timeout = DEFAULT_TIMEOUT;
	int ch, len, fd;

	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};

	/* '+': stop at the command, so that its --json is not an option here */
	while ((ch = getopt_long(argc, argv, "+s:t:Vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			path = optarg;
			break;
		case 't':
			errno = 0;
			timeout = strtol(optarg, &end, 10);
			if (errno != 0 || *optarg == '\0' || *end != '\0' ||
			    timeout < 1 || timeout > MAX_TIMEOUT) {
				fprintf(stderr, "wicketctl: bad timeout \"%s\" "
				    "(expected 1..%d seconds)\n", optarg, MAX_TIMEOUT);
				return EXIT_USAGE;
			}
			break;
		case 'V':
			printf("wicketctl %s\n", WICKET_VERSION);
			return EXIT_OK;
		case 'h':
			usage(EXIT_OK);
			break;
		default:
			usage(EXIT_USAGE);
		}
	}
	if (optind >= argc)
		usage(EXIT_USAGE);
	if (*path == '\0') {
		fprintf(stderr, "wicketctl: empty socket path\n");
		return EXIT_USAGE;
	}
	len = join_args(argc - optind, argv + optind, line, sizeof(line));
	if (len < 0)
		return EXIT_USAGE;
	/* A command this wicketctl knows is checked here (exit 2 before
	 * connecting); any other word goes to wicketd, which may be newer,
	 * and whose refusal is exit 1. */
	if (ctlproto_is_command(argv[optind]) &&
	    ctlproto_parse(line, (size_t)len, &cmd, err, sizeof(err)) < 0) {
		fprintf(stderr, "wicketctl: %s\n", err);
		return EXIT_USAGE;
	}
	fd = ctl_connect(path, (int)timeout);
	if (fd < 0)
		return EXIT_CONNECT;
	if (ctl_send(fd, line, (size_t)len, path) < 0) {
		close(fd);
		return EXIT_CONNECT;
	}
	return ctl_answer(fd, path);
}

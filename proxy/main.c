/* main: wicketd's entry point -- command line, configuration, the event
 * loop, signals (TERM/INT stop gracefully, HUP reopens the audit log and
 * reloads).
 * wicketd never forks: run it under a supervisor (docs/deployment.md). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "audit.h"
#include "conf.h"
#include "garden.h"
#include "gate.h"
#include "grant.h"
#include "log.h"
#include "origdst.h"
#include "portal.h"
#include "privs.h"
#include "radius.h"
#include "syslogw.h"
#include "tls.h"
#include "token.h"
#include "version.h"

static struct gate gate;
static const char *conf_path = WICKET_CONF;

/* Print usage and exit with the given code. */
static void
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: wicketd [-d] [-n] [-V] [-f FILE]\n"
	    "  -f FILE  configuration file (default %s)\n"
	    "  -n       check the configuration and exit (0 ok, 1 errors)\n"
	    "  -d       stay in the foreground and log to stderr\n"
	    "  -V       print the version and exit\n", conf_path);
	exit(code);
}

/* `wicketd -n`: what start-up refuses beyond the syntax -- the key file
 * (size, mode), the terms (presence, size, fit), the interface, the TLS
 * certificate and key (load, validity, name, mode, match) -- checked
 * by the same functions start-up calls, reported as FILE:LINE: key: why. */
static int
check_files(const struct wk_conf *c, const char *path)
{
	struct conf_errors errs;
	char err[512];

	memset(&errs, 0, sizeof(errs));
	(void)portal_conf_check(c, path, &errs);
	(void)radius_conf_check(c, path, &errs);
	(void)tls_conf_check(c, path, &errs);
	if (ident_conf_check(c, err, sizeof(err)) < 0)
		conf_key_error(&errs, c, path, "interface", err);
	fputs(errs.text, stderr);
	return errs.count == 0 ? 0 : -1;
}

#define STOP_GRACE_SECS 3 /* answers in flight may finish this long */

static bool done;            /* leave the loop after this pass */
static struct event *ev_grace;

/* Connections a graceful stop still waits for: port 80's and TLS's. */
static unsigned
open_connections(void)
{
	return gate.nconns + tls_open_connections(&gate);
}

/* The grace period of a stop is over: close whatever is left. */
static void
on_grace(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_info("stop: closing %u connections still open after %d s", open_connections(),
	    STOP_GRACE_SECS);
	done = true;
}

/* SIGTERM/SIGINT: a graceful stop. No new connections; idle ones close,
 * answers in flight finish (for up to STOP_GRACE_SECS), then the loop
 * ends and everything is written out. A second signal stops at once. */
static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	struct timeval tv = { STOP_GRACE_SECS, 0 };

	(void)what;
	(void)arg;
	if (gate.stopping) {
		done = true;
		return;
	}
	log_info("signal %d: stopping", (int)sig);
	gate.stopping = true;
	listener_stop(&gate);
	tls_stop_accepting(&gate);
	conn_stop_all(&gate);
	if (open_connections() > 0 && (ev_grace == NULL || evtimer_add(ev_grace, &tv) < 0))
		done = true;
}

/* Run the event loop one pass at a time: after each pass the audit
 * lines it produced are written together (one write). Returns 0 when
 * stopped, -1 when the loop failed. */
static int
run_loop(void)
{
	for (;;) {
		int rc = event_base_loop(gate.base, EVLOOP_ONCE);
		audit_flush();
		if (rc < 0)
			return -1;
		if (rc == 1 || done || (gate.stopping && open_connections() == 0))
			return 0;
	}
}

/* SIGHUP: reopen the audit log (logrotate) and reload the configuration. */
static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	char err[4096];

	(void)sig;
	(void)what;
	(void)arg;
	gate_reload(&gate, err, sizeof(err));
}

/* Parse options, load the configuration and run the event loop. */
int
main(int argc, char **argv)
{
	bool check = false, fg = false;
	struct event *ev_term, *ev_int, *ev_hup;
	struct conf_errors errs;
	struct wk_conf *c;
	int ch;

	while ((ch = getopt(argc, argv, "f:ndVh")) != -1) {
		switch (ch) {
		case 'f': conf_path = optarg; break;
		case 'n': check = true; break;
		case 'd': fg = true; break;
		case 'V': printf("wicketd %s\n", WICKET_VERSION); return 0;
		case 'h': usage(0); break;
		default: usage(1);
		}
	}
	if (optind != argc)
		usage(1);
	c = gate_conf_load(conf_path, &errs, true);
	if (check) {
		char perr[1024];
		int rc = c == NULL || check_files(c, conf_path) < 0 ? 1 : 0;
		if (rc == 0 && privs_check(c, perr, sizeof(perr)) < 0) {
			fprintf(stderr, "%s: %s\n", conf_path, perr);
			rc = 1;
		}
		if (rc == 0)
			printf("%s: configuration ok\n", conf_path);
		free(c);
		return rc;
	}
	if (c == NULL)
		return 1;
	log_init("wicketd", fg, WK_LOG_INFO);
	gate.conf_path = conf_path;
	gate_apply_conf(&gate, c);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return 1;
	gate.base = event_base_new();
	if (gate.base == NULL) {
		log_err("event_base_new failed");
		return 1;
	}
	if (audit_open(c->audit_log) < 0)
		return 1;
	if (syslogw_configure(c->audit_syslog, c->audit_syslog_socket) < 0) {
		log_err("audit_syslog: cannot use %s", c->audit_syslog_socket);
		return 1;
	}
	origdst_refresh_local();
	gate.garden = garden_new(gate.base);
	if (gate.garden == NULL) {
		log_err("cannot create the DNS resolver");
		return 1;
	}
	garden_configure(gate.garden, c);
	/* Identity before grants (the firewall mirror needs addresses),
	 * grants before the portal and the control socket that use them. */
	/* radius_init before grant_start: the accounting queue is restored
	 * from the state file with the sessions; radius_start after. */
	if (radius_init(&gate) < 0 || ident_start(&gate) < 0 ||
	    grant_start(&gate) < 0 || portal_start(&gate) < 0 ||
	    radius_start(&gate) < 0)
		return 1;
	if (listener_open_all(&gate, conn_accept, conn_shed) < 0 || tls_start(&gate) < 0 ||
	    control_start(&gate) < 0)
		return 1;
	/* Everything that needs root is open: give it up (proxy/privs.c). */
	if (privs_drop(&gate) < 0)
		return 1;
	ev_term = evsignal_new(gate.base, SIGTERM, on_stop, NULL);
	ev_int = evsignal_new(gate.base, SIGINT, on_stop, NULL);
	ev_hup = evsignal_new(gate.base, SIGHUP, on_hup, NULL);
	ev_grace = evtimer_new(gate.base, on_grace, NULL);
	if (!ev_term || !ev_int || !ev_hup || !ev_grace || evsignal_add(ev_term, NULL) < 0 ||
	    evsignal_add(ev_int, NULL) < 0 || evsignal_add(ev_hup, NULL) < 0) {
		log_err("cannot install signal handlers");
		return 1;
	}
	log_info("wicketd %s started", WICKET_VERSION);
	if (gate.conf->forward == FORWARD_KERNEL)
		log_info("forward kernel: admitted clients' new port-80 connections bypass "
		    "wicketd (wicket-firewall -F kernel): no audit lines for them");
	if (run_loop() < 0) {
		log_err("event loop failed");
		return 1;
	}
	/* Names still being looked up (RADIUS servers, walled_garden_host):
	 * cancelled, and one more pass lets libevent finish (free) them (its
	 * deferred callbacks). */
	if (radius_dns_cancel(&gate) + garden_dns_cancel(gate.garden) > 0)
		(void)event_base_loop(gate.base, EVLOOP_NONBLOCK);
	conn_free_all(&gate);
	tls_stop(&gate);
	control_stop(&gate);
	listener_close_all(&gate);
	garden_free(gate.garden);
	portal_stop(&gate);
	grant_stop(&gate); /* its last compaction dumps radius.c's records */
	radius_stop(&gate);
	ident_stop(&gate);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_free(ev_grace);
	event_base_free(gate.base);
	audit_close();
	syslogw_close();
	token_cache_wipe();
	free(gate.conf);
	return 0;
}

/* main: wicketd's entry point -- command line, configuration, the event
 * loop, signals (TERM/INT stop, HUP reopens the audit log and reloads).
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
#include "version.h"

static struct gate gate;
static const char *conf_path = "/etc/wicket/proxy.conf";

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

/* Derive the framer limits and other cached values from a config. */
void
gate_apply_conf(struct gate *g, struct wk_conf *c)
{
	enum wk_log_level lvl;

	g->conf = c;
	g->limits.max_request_line = c->max_request_line;
	g->limits.max_header_bytes = c->max_header_bytes;
	g->limits.max_headers = c->max_headers;
	g->limits.max_body_bytes = c->max_body_bytes;
	for (size_t i = 0; i < c->n_require_length; i++)
		g->methods[i] = c->require_length[i];
	g->limits.require_length = g->methods;
	g->limits.n_require_length = c->n_require_length;
	if (log_level_parse(c->log_level, &lvl) == 0)
		log_set_level(lvl);
}

/* Load a configuration into a fresh struct; NULL with the messages in
 * errs (and on stderr when asked). */
static struct wk_conf *
load_conf(const char *path, struct conf_errors *errs, bool print)
{
	struct wk_conf *c = malloc(sizeof(*c));

	if (c == NULL)
		return NULL;
	conf_defaults(c);
	if (conf_load(c, path, errs) < 0) {
		if (print) {
			fputs(errs->text, stderr);
			if (errs->count > 0 && errs->len == sizeof(errs->text) - 1)
				fprintf(stderr, "%s: (more errors not shown)\n", path);
		}
		free(c);
		return NULL;
	}
	return c;
}

/* Reload the configuration file (SIGHUP, wicketctl reload). A file with
 * errors is refused and the running configuration stays; listen
 * addresses are bound at start only. Returns 0, or -1 with err set. */
int
gate_reload(struct gate *g, char *err, size_t errlen)
{
	struct conf_errors errs;
	struct wk_conf *c, *old = g->conf;

	audit_reopen();
	origdst_refresh_local();
	c = load_conf(g->conf_path, &errs, false);
	if (c == NULL) {
		snprintf(err, errlen, "%s", errs.text[0] ? errs.text : "out of memory");
		log_err("reload failed; keeping the running configuration: %s", err);
		return -1;
	}
	/* Connections read the configuration through g->conf at each
	 * request, so the old one can go once the new one is in place. */
	gate_apply_conf(g, c);
	garden_configure(g->garden, c);
	if (portal_reconfigure(g) < 0 || grant_reconfigure(g) < 0)
		log_warn("reload: portal or firewall refresh failed (see above)");
	free(old);
	log_info("configuration %s reloaded", g->conf_path);
	return 0;
}

/* SIGTERM/SIGINT: leave the loop; connections are freed afterwards. */
static void
on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	log_info("signal %d: stopping", (int)sig);
	event_base_loopexit(gate.base, NULL);
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
	c = load_conf(conf_path, &errs, true);
	if (check) {
		if (c != NULL)
			printf("%s: configuration ok\n", conf_path);
		return c == NULL ? 1 : 0;
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
	origdst_refresh_local();
	gate.garden = garden_new(gate.base);
	if (gate.garden == NULL) {
		log_err("cannot create the DNS resolver");
		return 1;
	}
	garden_configure(gate.garden, c);
	/* Identity before grants (the firewall mirror needs addresses),
	 * grants before the portal and the control socket that use them. */
	if (ident_start(&gate) < 0 || grant_start(&gate) < 0 ||
	    portal_start(&gate) < 0)
		return 1;
	if (listener_open_all(&gate) < 0 || control_start(&gate) < 0)
		return 1;
	ev_term = evsignal_new(gate.base, SIGTERM, on_stop, NULL);
	ev_int = evsignal_new(gate.base, SIGINT, on_stop, NULL);
	ev_hup = evsignal_new(gate.base, SIGHUP, on_hup, NULL);
	if (!ev_term || !ev_int || !ev_hup || evsignal_add(ev_term, NULL) < 0 ||
	    evsignal_add(ev_int, NULL) < 0 || evsignal_add(ev_hup, NULL) < 0) {
		log_err("cannot install signal handlers");
		return 1;
	}
	log_info("wicketd %s started", WICKET_VERSION);
	if (event_base_dispatch(gate.base) < 0) {
		log_err("event loop failed");
		return 1;
	}
	conn_free_all(&gate);
	control_stop(&gate);
	listener_close_all(&gate);
	garden_free(gate.garden);
	portal_stop(&gate);
	grant_stop(&gate);
	ident_stop(&gate);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_base_free(gate.base);
	audit_close();
	free(gate.conf);
	return 0;
}

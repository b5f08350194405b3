/* gate: the daemon-wide configuration as a library -- loading a file into
 * a fresh struct, deriving the framer limits from it, and reload (SIGHUP,
 * wicketctl reload) -- so that main.c and control.c both call it and
 * neither depends on the other. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "conf.h"
#include "garden.h"
#include "gate.h"
#include "grant.h"
#include "log.h"
#include "origdst.h"
#include "portal.h"
#include "radius.h"
#include "syslogw.h"
#include "tls.h"

/* Derive the framer limits and other cached values from a config. */
void
gate_apply_conf(struct gate *g, struct wk_conf *c)
{
	enum wk_log_level lvl;

	g->conf = c;
	g->conf_gen++;
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
	listener_reconfigure(g);
}

/* Count one request record with the verdict its audit line carries, at
 * the place the line is written: `stats` and the audit log then agree by
 * construction (docs/control.md, "stats"). */
void
gate_count_request(struct gate *g, enum verdict v)
{
	g->st.requests++;
	switch (v) {
	case V_FORWARD: g->st.forwarded++; break;
	case V_DENY: g->st.denied++; break;
	case V_PROBE: g->st.probes++; break;
	case V_PORTAL: g->st.portal++; break;
	}
}

/* Load a configuration into a fresh struct; NULL with the messages in
 * errs (and on stderr when asked). */
struct wk_conf *
gate_conf_load(const char *path, struct conf_errors *errs, bool print)
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

/* Append a "label: a, b, c" line naming keys to out. */
static size_t
gate_key_line(char *out, size_t size, size_t len, const char *label,
    const char *const *names, size_t n)
{
	int w;

	if (n == 0 || len >= size)
		return len;
	w = snprintf(out + len, size - len, "%s:", label);
	for (size_t i = 0; w >= 0 && i < n && len + (size_t)w < size; i++) {
		len += (size_t)w;
		w = snprintf(out + len, size - len, "%s %s", i > 0 ? "," : "", names[i]);
	}
	if (w >= 0 && len + (size_t)w < size) {
		len += (size_t)w;
		w = snprintf(out + len, size - len, "\n");
		if (w >= 0 && len + (size_t)w < size)
			len += (size_t)w;
	}
	return len < size ? len : size - 1;
}

/* A refused reload: say why, and that nothing changed. -1. */
static int
gate_reload_refused(char *out, size_t size, const char *why)
{
	snprintf(out, size, "reload refused, nothing changed:\n%s", why);
	log_err("reload of the configuration refused, nothing changed: %s", why);
	return -1;
}

/* Re-read what the modules load from files (key, terms, template,
 * certificate) and refresh what follows the configuration (sessions'
 * limits, the firewall sets); 0, or -1 when one of them failed. */
static int
gate_reconfigure(struct gate *g)
{
	int rc = 0;

	garden_configure(g->garden, g->conf);
	if (syslogw_configure(g->conf->audit_syslog, g->conf->audit_syslog_socket) < 0)
		rc = -1;
	if (portal_reconfigure(g) < 0)
		rc = -1;
	if (grant_reconfigure(g) < 0)
		rc = -1;
	if (tls_reconfigure(g) < 0)
		rc = -1;
	if (radius_reconfigure(g) < 0)
		rc = -1;
	return rc;
}

/* Reload the configuration file (SIGHUP, wicketctl reload), honestly:
 * every changed key is either applied or named as needing a restart (its
 * running value is kept), and a reload that cannot be applied in full
 * changes nothing. The audit log is reopened first in any case (that is
 * rotation, not configuration). out gets the report (what was applied,
 * what needs a restart) or, on -1, why the reload was refused. */
int
gate_reload(struct gate *g, char *out, size_t outlen)
{
	struct conf_errors errs;
	struct wk_conf *c, *old = g->conf;
	struct conf_diff d;
	char err[1024];
	int afd = -1, prev = -1;
	bool audit_moves;
	size_t len;

	audit_reopen();
	origdst_refresh_local();
	c = gate_conf_load(g->conf_path, &errs, false);
	if (c == NULL)
		return gate_reload_refused(out, outlen, errs.text[0] ? errs.text
		    : "out of memory");
	conf_reload_merge(old, c, &d);
	/* A new value that depends on a key kept at its running value (portal
	 * radius and a new radius_auth) cannot run until the restart. */
	if (conf_recheck(c, g->conf_path, &errs) < 0) {
		size_t n = strlen(errs.text);
		snprintf(errs.text + n, sizeof(errs.text) - n, "(with the running "
		    "values of the keys that need a restart; restart instead)\n");
		free(c);
		return gate_reload_refused(out, outlen, errs.text);
	}
	/* The files a reload reads again must load now, or nothing changes
	 * (the interface, the RADIUS secret and the listeners are fixed at
	 * start and keep their running values). */
	memset(&errs, 0, sizeof(errs));
	if (portal_conf_check(c, g->conf_path, &errs) < 0 ||
	    tls_conf_check(c, g->conf_path, &errs) < 0) {
		free(c);
		return gate_reload_refused(out, outlen, errs.text);
	}
	audit_moves = strcmp(old->audit_log, c->audit_log) != 0;
	if (audit_moves && (afd = audit_open_new(c->audit_log, err, sizeof(err))) < 0) {
		free(c);
		return gate_reload_refused(out, outlen, err);
	}
	if (audit_moves)
		prev = audit_swap(c->audit_log, afd);
	gate_apply_conf(g, c);
	if (gate_reconfigure(g) < 0) {
		/* Something could not take the new values after all: put the
		 * running configuration back in every module. */
		if (audit_moves)
			audit_close_fd(audit_swap(old->audit_log, prev));
		gate_apply_conf(g, old);
		if (gate_reconfigure(g) < 0)
			log_err("reload: restoring the running configuration failed too");
		free(c);
		return gate_reload_refused(out, outlen, "a module could not apply "
		    "it (the log says which); the running configuration was restored");
	}
	if (audit_moves)
		audit_close_fd(prev);
	/* allow_ip, allow_mac and the walled garden may have shrunk: open
	 * relays are decided again against the new configuration. */
	conn_client_ended(g, NULL);
	free(old);
	len = (size_t)snprintf(out, outlen, "configuration %s reloaded%s\n",
	    g->conf_path, d.n_applied + d.n_restart == 0 ? " (no change)" : "");
	if (len >= outlen)
		len = outlen > 0 ? outlen - 1 : 0;
	len = gate_key_line(out, outlen, len, "applied", d.applied, d.n_applied);
	len = gate_key_line(out, outlen, len, "needs a restart (running value kept)",
	    d.restart, d.n_restart);
	log_info("%.*s", (int)(len > 0 ? len - 1 : 0), out);
	if (d.n_restart > 0)
		log_warn("reload: %zu changed key(s) need a restart to take effect",
		    d.n_restart);
	return 0;
}

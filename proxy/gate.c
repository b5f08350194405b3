/* gate: the daemon-wide configuration as a library -- loading a file into
 * a fresh struct, deriving the framer limits from it, and reload (SIGHUP,
 * wicketctl reload) -- so that main.c and control.c both call it and
 * neither depends on the other. */
#include <stdio.h>
#include <stdlib.h>

#include "audit.h"
#include "conf.h"
#include "garden.h"
#include "gate.h"
#include "grant.h"
#include "log.h"
#include "origdst.h"
#include "portal.h"
#include "tls.h"

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
	c = gate_conf_load(g->conf_path, &errs, false);
	if (c == NULL) {
		snprintf(err, errlen, "%s", errs.text[0] ? errs.text : "out of memory");
		log_err("reload failed; keeping the running configuration: %s", err);
		return -1;
	}
	/* Connections read the configuration through g->conf at each
	 * request, so the old one can go once the new one is in place. */
	gate_apply_conf(g, c);
	garden_configure(g->garden, c);
	if (portal_reconfigure(g) < 0 || grant_reconfigure(g) < 0 ||
	    tls_reconfigure(g) < 0)
		log_warn("reload: portal, firewall or TLS refresh failed (see above)");
	/* allow_ip, allow_mac and the walled garden may have shrunk: open
	 * relays are decided again against the new configuration. */
	conn_client_ended(g, NULL);
	free(old);
	log_info("configuration %s reloaded", g->conf_path);
	return 0;
}

/* tls: the gate's HTTPS listener (tls_listen, tls_cert, tls_key,
 * portal_host): the portal pages and the RFC 8908 API over TLS 1.2+, in
 * the same event loop, with the certificate reloaded on SIGHUP. */
#ifndef WK_TLS_H
#define WK_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "conf.h"

struct gate;

int tls_conf_check(const struct wk_conf *c, const char *fname,
    struct conf_errors *errs);
int tls_start(struct gate *g);
int tls_reconfigure(struct gate *g);
void tls_stop_accepting(struct gate *g);
unsigned tls_open_connections(const struct gate *g);
void tls_stop(struct gate *g);
void tls_origin(const struct wk_conf *c, char *out, size_t size);
/* Close a connection the shared limiter gave up, if it is a TLS one
 * (owner as tls.c bound it); false for any other owner. */
bool tls_shed(struct gate *g, void *owner);

#endif

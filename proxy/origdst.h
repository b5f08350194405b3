/* origdst: the destination a client was really talking to before the
 * router's REDIRECT, and whether that destination is the gate itself.
 * The only file that speaks netfilter socket options. */
#ifndef WK_ORIGDST_H
#define WK_ORIGDST_H

#include <stdbool.h>

#include "addr.h"

int origdst_get(int fd, const struct sockaddr *local, union wk_sockaddr *out);
int origdst_refresh_local(void);
bool origdst_is_local(const struct wk_ip *ip);

#endif

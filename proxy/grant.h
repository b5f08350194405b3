/* grant: the one way sessions change. Admission from any source (ctl,
 * splash, signed grant) and revocation go through here: session table,
 * durable store (fsync before the acknowledgement), nftables mirror and
 * audit events stay in step. */
#ifndef WK_GRANT_H
#define WK_GRANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "session.h"

struct gate;

int grant_start(struct gate *g);
void grant_stop(struct gate *g);
int grant_reconfigure(struct gate *g);

/* Admit mac for seconds (0: session_timeout) from src; for a signed grant
 * nonce/until are recorded in the replay cache in the same durable write.
 * Returns 0 once the admission is on disk, or -1 with a reason in err. */
int grant_admit(struct gate *g, const struct wk_mac *mac, uint64_t seconds,
    enum session_source src, const char *nonce, uint64_t until, char *err,
    size_t errlen);
/* grant_admit for a client at address from (may be NULL): splash and
 * signed admissions are limited per MAC, splash ones also per address
 * (admissions_per_minute; errno EAGAIN and *retry the seconds to wait),
 * and a splash from an address holding splash_sessions_per_ip sessions
 * ends its oldest. errno also tells EALREADY (nonce replayed), ENOSPC
 * (table or replay cache full), EIO (state file or firewall). */
int grant_admit_from(struct gate *g, const struct wk_mac *mac,
    const struct wk_ip *from, uint64_t seconds, enum session_source src,
    const char *nonce, uint64_t until, uint64_t *retry, char *err,
    size_t errlen);
/* grant_admit with the session's own idle timeout and quota (0: the
 * configured ones), in the same durable record (RADIUS Access-Accept). */
int grant_admit_limited(struct gate *g, const struct wk_mac *mac,
    uint64_t seconds, uint64_t idle_limit, uint64_t bytes_limit,
    enum session_source src, char *err, size_t errlen);
/* Revoke mac's session: closed for HTTP and in the firewall at once,
 * whatever the disk says; 0 when the state file took it too, -1 with err
 * saying what did not happen (or that there is no session). */
int grant_revoke(struct gate *g, const struct wk_mac *mac, char *err,
    size_t errlen);
/* How far a revocation went, for callers that answer for it themselves
 * (a RADIUS Disconnect). The session is closed for HTTP in every case but
 * the last; what is late is retried every second. */
enum grant_revoked {
	GRANT_REVOKED,           /* closed in the firewall, recorded */
	GRANT_REVOKED_PENDING,   /* closed in the firewall; the record pending */
	GRANT_REVOKED_FW_LATE,   /* recorded; the firewall not closed yet */
	GRANT_REVOKED_BOTH_LATE, /* neither the firewall nor the record yet */
	GRANT_NO_SESSION,        /* no admitted session: nothing changed */
};
enum grant_revoked grant_revoke_how(struct gate *g, const struct wk_mac *mac);
/* Give an admitted session its own hard end, idle timeout and quota:
 * written durably first, applied only then (a refused write changes
 * nothing; errno EIO). */
int grant_set_limits(struct gate *g, const struct wk_mac *mac, uint64_t expires,
    uint64_t idle_limit, uint64_t bytes_limit, char *err, size_t errlen);
/* The open state file (radius.c journals its accounting queue there). */
struct store *grant_store(struct gate *g);
/* True when mac has a live session now (per request; no I/O). */
bool grant_check(struct gate *g, const struct wk_mac *mac);
/* Count bytes relayed for mac's session (quota, idle). */
void grant_account(struct gate *g, const struct wk_mac *mac, uint64_t bytes);
/* Count bytes the nftables counters saw for mac's session. */
void grant_account_counted(struct gate *g, const struct wk_mac *mac,
    uint64_t bytes);
/* A client's addresses changed (ident): refresh its firewall entries. */
void grant_addresses_changed(struct gate *g, const struct wk_mac *mac);

/* The session clock (monotonic seconds, never steps) and its offset to
 * the wall clock now (wall = session + offset). */
uint64_t grant_now(void);
int64_t grant_wall_off(void);

#endif

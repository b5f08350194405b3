/* control: the control socket shell -- the listening Unix socket (directory,
 * stale-socket recovery, mode 0600), one bufferevent per wicketctl client
 * with its limits, and the commands' effects; the protocol is ctlproto.c. */
#include "control.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "clock.h"
#include "audit.h"
#include "ctlproto.h"
#include "gate.h"
#include "grant.h"
#include "log.h"
#include "registry.h"
#include "session.h"
#include "syslogw.h"

#define CONTROL_BACKLOG 1024	/* a burst of wicketctl waits in the queue, not EAGAIN */
#define CONTROL_LINGER_SECS 2	/* after the answer, for the peer's EOF */
#define CONTROL_ERR_MAX 4608	/* gate_reload's error text and then some */
#define CONTROL_STATS_MAX 65536	/* stats --prometheus with every HELP line */
#define CONTROL_BUSY "error too many control connections\n\n"
#define CONTROL_EPERM "error permission denied\n\n"

struct control;
struct ctl_refusal;

/* One wicketctl connection: it sends one request line, gets one answer,
 * and is closed once the answer is flushed. */
struct ctl_client {
	struct control *ctl;
	struct ctl_client *prev, *next;
	struct bufferevent *bev;
	struct event *deadline;	/* the request line must arrive in time */
	bool answered;		/* the request was read: no more reading */
	bool closing;		/* the whole answer is queued */
	bool lingering;		/* answer sent, write side shut: drain, then free */
	/* a `list` in progress: a snapshot of the MACs, rendered in chunks */
	bool listing, json;
	struct wk_mac *snap;
	size_t nsnap, pos, written;
};

struct control {
	struct gate *g;
	struct evconnlistener *lev;
	struct event *resume;	/* re-enables accepting after EMFILE */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	struct ctl_client *clients;
	unsigned nclients;
	struct ctl_refusal *refusing; /* refused, waiting for their EOF */
	unsigned nrefusing;
	bool refuse_full;  /* accepting paused: CONTROL_MAX_REFUSING linger */
	uint64_t requests, errors, rejected;
};

static void control_client_fill(struct ctl_client *c);

/* Close one control connection and free everything it holds. */
static void
control_client_free(struct ctl_client *c)
{
	struct control *ctl = c->ctl;

	if (c->prev)
		c->prev->next = c->next;
	else
		ctl->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	ctl->nclients--;
	if (c->deadline)
		event_free(c->deadline);
	if (c->bev)
		bufferevent_free(c->bev);
	free(c->snap);
	free(c);
}

/* Queue bytes of the answer; false (connection dropped) when out of memory. */
static bool
control_client_add(struct ctl_client *c, const char *buf, size_t n)
{
	if (n == 0)
		return true;
	if (evbuffer_add(bufferevent_get_output(c->bev), buf, n) == 0)
		return true;
	log_warn("control: out of memory for an answer");
	control_client_free(c);
	return false;
}

/* The answer is complete: close once the output has drained. */
static void
control_client_finish(struct ctl_client *c)
{
	c->closing = true;
	c->listing = false;
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	if (bufferevent_enable(c->bev, EV_WRITE) < 0)
		control_client_free(c);
}

/* Answer with an error status line (the whole answer) and close. */
static void
control_client_error(struct ctl_client *c, const char *reason)
{
	char buf[CONTROL_ERR_MAX];

	c->ctl->errors++;
	if (control_client_add(c, buf, ctlproto_error(reason, buf, sizeof(buf))))
		control_client_finish(c);
}

/* Answer ok with an optional payload (lines, each ending in LF) and close. */
static void
control_client_ok(struct ctl_client *c, const char *payload, size_t n)
{
	char buf[8];

	if (!control_client_add(c, buf, ctlproto_ok(buf, sizeof(buf))) ||
	    !control_client_add(c, payload, n) ||
	    !control_client_add(c, buf, ctlproto_end(buf, sizeof(buf))))
		return;
	control_client_finish(c);
}

/* The two clocks of the formatters, read now. */
static struct ctl_clock
control_clock(void)
{
	struct ctl_clock clk;
	int64_t wall = clock_wall_ms();

	clk.wall_ms = wall > 0 ? (uint64_t)wall : 0;
	clk.mono_ms = clock_mono_ms();
	return clk;
}

/* allow MAC [SECONDS]: admit through grant.c, which answers only once the
 * grant is on disk, so an `ok` is never lost (issue 5, persistence). */
static void
control_do_allow(struct ctl_client *c, const struct ctl_cmd *cmd)
{
	struct gate *g = c->ctl->g;
	char err[256], mac[WK_MAC_STRLEN], ts[CTL_TS_LEN], line[128];
	const struct session *s;
	int n;

	if (g->grants == NULL || g->sessions == NULL) {
		control_client_error(c, "sessions are not enabled in this daemon");
		return;
	}
	err[0] = '\0';
	if (grant_admit(g, &cmd->mac, cmd->seconds, SESSION_SRC_CTL, NULL, 0,
	    err, sizeof(err)) < 0) {
		control_client_error(c, err[0] ? err : "grant failed");
		return;
	}
	addr_mac_format(&cmd->mac, mac);
	s = session_find(g->sessions, &cmd->mac);
	if (s != NULL && s->expires != SESSION_FOREVER) {
		ctlproto_time((uint64_t)((int64_t)s->expires + grant_wall_off()), ts);
		n = snprintf(line, sizeof(line), "admitted %s until %s (%llus)\n",
		    mac, ts, (unsigned long long)(s->expires - s->start));
	} else {
		n = snprintf(line, sizeof(line), "admitted %s\n", mac);
	}
	control_client_ok(c, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
}

/* deny MAC: revoke durably and close the client in the firewall. */
static void
control_do_deny(struct ctl_client *c, const struct ctl_cmd *cmd)
{
	struct gate *g = c->ctl->g;
	char err[256], mac[WK_MAC_STRLEN], line[64];
	int n;

	if (g->grants == NULL || g->sessions == NULL) {
		control_client_error(c, "sessions are not enabled in this daemon");
		return;
	}
	err[0] = '\0';
	if (grant_revoke(g, &cmd->mac, err, sizeof(err)) < 0) {
		control_client_error(c, err[0] ? err : "revoke failed");
		return;
	}
	addr_mac_format(&cmd->mac, mac);
	n = snprintf(line, sizeof(line), "revoked %s\n", mac);
	control_client_ok(c, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
}

/* reload: re-read the configuration; the answer names what was applied
 * and what needs a restart, or why nothing changed. */
static void
control_do_reload(struct ctl_client *c)
{
	char out[CONTROL_ERR_MAX];

	out[0] = '\0';
	if (gate_reload(c->ctl->g, out, sizeof(out)) < 0) {
		control_client_error(c, out[0] ? out : "reload failed");
		return;
	}
	control_client_ok(c, out, strlen(out));
}

/* show MAC|IP: the registry record and the session of one client; for an
 * IP, the MAC bound to it now. */
static void
control_do_show(struct ctl_client *c, const struct ctl_cmd *cmd)
{
	struct gate *g = c->ctl->g;
	struct ctl_clock clk = control_clock();
	struct ctl_view v = { .why = SESSION_R_UNKNOWN };
	struct client_ident ci;
	struct session s;
	const struct session *sp = NULL;
	char buf[CTL_OUT_LINE];
	size_t n;

	v.mac = cmd->mac;
	if (cmd->by_ip) {
		if (!ident_lookup_ip(g, &cmd->ip, clk.mono_ms, &ci)) {
			control_client_error(c, "not found");
			return;
		}
		v.mac = ci.mac;
		v.ci = &ci;
		v.query = &cmd->ip;
	}
	if (g->reg != NULL && registry_lookup_mac(g->reg, &v.mac, clk.mono_ms, &ci))
		v.ci = &ci;
	if (g->sessions != NULL)
		sp = session_find(g->sessions, &v.mac);
	if (sp != NULL) {
		s = *sp;
		session_shift(&s, grant_wall_off()); /* shown in wall time */
		v.s = &s;
		session_check(g->sessions, &v.mac, grant_now(), &v.why);
	}
	if (v.ci == NULL && v.s == NULL) {
		control_client_error(c, "not found");
		return;
	}
	n = ctlproto_show(cmd->json, &v, &clk, buf, sizeof(buf));
	if (n == 0) {
		control_client_error(c, "answer too large");
		return;
	}
	control_client_ok(c, buf, n);
}

/* Counts the session table by state for `stats`. */
static void
control_count_state(const struct session *s, void *arg)
{
	struct ctl_stats *st = arg;

	if (s->state == SESSION_REVOKED)
		st->revoked++;
	else if (s->state != SESSION_ADMITTED)
		st->expired++;
}

/* stats [--json | --prometheus]: the gate's counters (stats.h), sessions
 * by state, the registry, the sniffer and this socket. */
static void
control_do_stats(struct ctl_client *c, const struct ctl_cmd *cmd)
{
	static char buf[CONTROL_STATS_MAX];
	struct control *ctl = c->ctl;
	struct gate *g = ctl->g;
	struct ctl_stats st;
	struct audit_stats as;
	size_t n;

	memset(&st, 0, sizeof(st));
	st.gate = g->st;
	st.connections = g->nconns;
	st.paused = g->paused;
	if (g->sessions != NULL) {
		st.have_sessions = true;
		st.sessions = session_count(g->sessions);
		st.admitted = session_count_admitted(g->sessions);
		session_foreach(g->sessions, control_count_state, &st);
	}
	if (g->reg != NULL) {
		st.have_registry = true;
		registry_stats(g->reg, &st.reg);
	}
	st.have_sniffer = ident_sniff_stats(g, &st.sniff);
	syslogw_get_stats(&st.syslog);
	st.ctl_clients = ctl->nclients;
	st.ctl_requests = ctl->requests;
	st.ctl_errors = ctl->errors;
	st.ctl_rejected = ctl->rejected;
	audit_get_stats(&as);
	st.audit_lines = as.queued;
	st.audit_written = as.written;
	st.audit_dropped = as.dropped;
	n = ctlproto_stats(cmd->prometheus ? CTL_PROMETHEUS : cmd->json ? CTL_JSON
	    : CTL_TEXT, &st, buf, sizeof(buf));
	if (n == 0) {
		control_client_error(c, "answer too large");
		return;
	}
	control_client_ok(c, buf, n);
}

/* Collects the MACs of the session table for a list snapshot. */
struct control_collect {
	struct wk_mac *macs;
	size_t n, max;
};

/* session_foreach callback: remember one MAC. */
static void
control_collect_one(const struct session *s, void *arg)
{
	struct control_collect *cc = arg;

	if (cc->n < cc->max)
		cc->macs[cc->n++] = s->mac;
}

/* list [--json]: snapshot the MACs (6 bytes each), then render the
 * sessions in chunks as the client drains its output, so that a table of
 * any size streams with bounded memory and never stalls the loop. */
static void
control_do_list(struct ctl_client *c, const struct ctl_cmd *cmd)
{
	struct gate *g = c->ctl->g;
	struct control_collect cc = { NULL, 0, 0 };
	char buf[CTL_OUT_LINE];

	if (g->sessions != NULL && (cc.max = session_count(g->sessions)) > 0) {
		cc.macs = calloc(cc.max, sizeof(*cc.macs));
		if (cc.macs == NULL) {
			control_client_error(c, "out of memory");
			return;
		}
		session_foreach(g->sessions, control_collect_one, &cc);
	}
	c->snap = cc.macs;
	c->nsnap = cc.n;
	c->pos = c->written = 0;
	c->json = cmd->json;
	c->listing = true;
	if (!control_client_add(c, buf, ctlproto_ok(buf, sizeof(buf))) ||
	    !control_client_add(c, buf, ctlproto_list_begin(c->json, buf, sizeof(buf))))
		return;
	control_client_fill(c);
}

/* Render list items until the output holds CONTROL_CHUNK bytes or the
 * snapshot is done; a session gone since the snapshot is skipped. */
static void
control_client_fill(struct ctl_client *c)
{
	struct gate *g = c->ctl->g;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct ctl_clock clk = control_clock();
	uint64_t now = grant_now();
	int64_t off = grant_wall_off();
	char buf[CTL_OUT_LINE];
	struct client_ident ci;
	struct session s;
	size_t n;

	while (c->pos < c->nsnap && evbuffer_get_length(out) < CONTROL_CHUNK) {
		struct ctl_view v = { .mac = c->snap[c->pos++] };
		const struct session *sp;

		if (g->sessions == NULL)
			break;
		if ((sp = session_find(g->sessions, &v.mac)) == NULL)
			continue;
		s = *sp;
		session_shift(&s, off); /* shown in wall time */
		v.s = &s;
		session_check(g->sessions, &v.mac, now, &v.why);
		if (g->reg != NULL && registry_lookup_mac(g->reg, &v.mac,
		    clk.mono_ms, &ci))
			v.ci = &ci;
		n = ctlproto_list_item(c->json, c->written, &v, &clk, buf, sizeof(buf));
		if (n == 0)
			continue;
		if (!control_client_add(c, buf, n))
			return;
		c->written++;
	}
	if (c->pos < c->nsnap && g->sessions != NULL) {
		bufferevent_setwatermark(c->bev, EV_WRITE, CONTROL_LOW_MARK, 0);
		return;
	}
	free(c->snap);
	c->snap = NULL;
	c->nsnap = c->pos = 0;
	if (!control_client_add(c, buf, ctlproto_list_end(c->json, c->written,
	    buf, sizeof(buf))) ||
	    !control_client_add(c, buf, ctlproto_end(buf, sizeof(buf))))
		return;
	control_client_finish(c);
}

/* The request is in (or refused): stop the deadline and stop reading.
 * Both calls only fail for an event that was never set up, which
 * control_on_accept rules out, so their results carry no news. */
static void
control_client_stop_reading(struct ctl_client *c)
{
	c->answered = true;
	c->ctl->requests++;
	(void)event_del(c->deadline);
	(void)bufferevent_disable(c->bev, EV_READ);
}

/* Handle the request line: parse strictly, then run the command. */
static void
control_client_request(struct ctl_client *c, const char *line, size_t len)
{
	struct ctl_cmd cmd;
	char err[256];

	control_client_stop_reading(c);
	if (ctlproto_parse(line, len, &cmd, err, sizeof(err)) < 0) {
		control_client_error(c, err);
		return;
	}
	switch (cmd.op) {
	case CTL_ALLOW: control_do_allow(c, &cmd); break;
	case CTL_DENY: control_do_deny(c, &cmd); break;
	case CTL_LIST: control_do_list(c, &cmd); break;
	case CTL_SHOW: control_do_show(c, &cmd); break;
	case CTL_STATS: control_do_stats(c, &cmd); break;
	case CTL_RELOAD: control_do_reload(c); break;
	}
}

/* Take the request line out of the input once it is complete (or the
 * peer half-closed after it); refuse a line longer than CTL_LINE_MAX. */
static void
control_client_take(struct ctl_client *c, bool eof)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer_ptr lf = evbuffer_search(in, "\n", 1, NULL);
	size_t len = evbuffer_get_length(in);
	char line[CTL_LINE_MAX + 3];

	if (lf.pos >= 0)
		len = (size_t)lf.pos + 1;
	else if (len > CTL_LINE_MAX + 1)
		len = CTL_LINE_MAX + 2;	/* too long whatever follows */
	else if (!eof)
		return;	/* wait for the rest of the line */
	if (len > CTL_LINE_MAX + 2) {
		control_client_stop_reading(c);
		control_client_error(c, "request too long (more than 512 bytes)");
		return;
	}
	if (evbuffer_remove(in, line, len) != (int)len) {
		control_client_free(c);
		return;
	}
	control_client_request(c, line, len);
}

/* Input arrived: look for the request line. */
static void
control_on_read(struct bufferevent *bev, void *arg)
{
	struct ctl_client *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (c->lingering && evbuffer_drain(in, evbuffer_get_length(in)) < 0)
		control_client_free(c);
	else if (!c->lingering && !c->answered)
		control_client_take(c, false);
}

/* The answer is flushed: shut our write side and wait briefly for the
 * peer's EOF, discarding its input, so that unread bytes (a request that
 * was too long) do not turn our close into a reset that loses the answer. */
static void
control_client_linger(struct ctl_client *c)
{
	struct timeval tv = { CONTROL_LINGER_SECS, 0 };
	struct evbuffer *in = bufferevent_get_input(c->bev);

	c->closing = false;
	c->lingering = true;
	if (shutdown(bufferevent_getfd(c->bev), SHUT_WR) < 0 ||
	    evbuffer_drain(in, evbuffer_get_length(in)) < 0 ||
	    evtimer_add(c->deadline, &tv) < 0 ||
	    bufferevent_enable(c->bev, EV_READ) < 0)
		control_client_free(c);
}

/* Output drained below the mark: stream more of a list, or close once
 * the answer is out. */
static void
control_on_write(struct bufferevent *bev, void *arg)
{
	struct ctl_client *c = arg;

	if (c->listing)
		control_client_fill(c);
	else if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		control_client_linger(c);
}

/* EOF, error or write timeout. A half-close right after an unterminated
 * line still gets its answer; anything else ends the connection. */
static void
control_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_client *c = arg;

	if ((what & BEV_EVENT_EOF) && (what & BEV_EVENT_READING) &&
	    !c->answered && !c->lingering &&
	    evbuffer_get_length(bufferevent_get_input(bev)) > 0) {
		control_client_take(c, true);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		log_debug("control: client stopped reading; dropped");
	control_client_free(c);
}

/* The request line did not arrive in CONTROL_IDLE_SECS: say so and close,
 * so that a stuck wicketctl holds a slot for a bounded time only. */
static void
control_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_client *c = arg;
	char reason[64];

	(void)fd;
	(void)what;
	if (c->lingering) {
		control_client_free(c);
		return;
	}
	c->answered = true;
	(void)bufferevent_disable(c->bev, EV_READ);
	snprintf(reason, sizeof(reason), "timeout: no request within %d seconds",
	    CONTROL_IDLE_SECS);
	control_client_error(c, reason);
}

/* A refused connection waiting for its peer's EOF (see control_refuse). */
struct ctl_refusal {
	struct control *ctl;
	struct ctl_refusal *prev, *next;
	struct event *ev;
	evutil_socket_t fd;
};

/* Read and discard what the peer sent; true once it is at EOF (or gone). */
static bool
control_drain(evutil_socket_t fd)
{
	char buf[1024];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		;
	return n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

/* Close a lingering refused connection and free it. */
static void
control_refusal_free(struct ctl_refusal *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		r->ctl->refusing = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->ctl->nrefusing--;
	event_free(r->ev);
	close(r->fd);
	if (r->ctl->refuse_full && r->ctl->nrefusing < CONTROL_MAX_REFUSING) {
		r->ctl->refuse_full = false;
		if (evconnlistener_enable(r->ctl->lev) < 0)
			log_err("control: cannot resume accepting");
	}
	free(r);
}

/* A lingering refused connection: its request arrived (discard it), it
 * closed, or it did not within CONTROL_REFUSE_LINGER_MS. */
static void
control_on_refusal(evutil_socket_t fd, short what, void *arg)
{
	struct ctl_refusal *r = arg;

	/* At the deadline too, take what arrived meanwhile: a close with it
	 * still queued would reset the peer before it read the answer. */
	if (control_drain(fd) || (what & EV_TIMEOUT))
		control_refusal_free(r);
}

/* Refuse a connection we will not serve with a one-line answer that the
 * peer can always read. A close with the peer's request still unread in
 * our receive queue makes the kernel report ECONNRESET to the peer (RFC
 * 9112 §9.6 describes the same for TCP), and a client that reads until
 * EOF then loses the answer: 452 of 936 refused clients read nothing
 * that way (issue 12). So: send, shut our write side (the peer sees the
 * answer, then EOF), discard what it sent, and close only at its EOF --
 * waiting in the loop, never blocking, at most CONTROL_MAX_REFUSING at
 * once for CONTROL_REFUSE_LINGER_MS. When that many linger, accepting
 * pauses until one goes: further clients wait in the listen queue (their
 * connect blocks, as wicketctl's does) instead of being closed on before
 * they wrote, which reset 1 in ~1,000 of them. */
static void
control_refuse(struct control *ctl, evutil_socket_t fd, const char *msg)
{
	struct timeval tv = { 0, CONTROL_REFUSE_LINGER_MS * 1000 };
	struct ctl_refusal *r;

	if (send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("control: refusal not sent: %s", strerror(errno));
	if (shutdown(fd, SHUT_WR) < 0 || control_drain(fd) ||
	    ctl->nrefusing >= CONTROL_MAX_REFUSING ||
	    (r = calloc(1, sizeof(*r))) == NULL) {
		close(fd);
		return;
	}
	r->ctl = ctl;
	r->fd = fd;
	r->ev = event_new(ctl->g->base, fd, EV_READ | EV_PERSIST,
	    control_on_refusal, r);
	if (r->ev == NULL || event_add(r->ev, &tv) < 0) {
		if (r->ev != NULL)
			event_free(r->ev);
		free(r);
		close(fd);
		return;
	}
	ctl->nrefusing++;
	r->next = ctl->refusing;
	if (r->next)
		r->next->prev = r;
	ctl->refusing = r;
	if (ctl->nrefusing >= CONTROL_MAX_REFUSING && !ctl->refuse_full) {
		ctl->refuse_full = true;
		if (evconnlistener_disable(ctl->lev) < 0)
			log_err("control: cannot pause accepting");
	}
}

/* Only root and the daemon's own user may drive it, whatever the socket's
 * mode says (defence in depth after a privilege drop). */
static bool
control_peer_allowed(evutil_socket_t fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return false;
	return uc.uid == 0 || uc.uid == geteuid();
}

/* A new control connection: check who it is and the limit, then wait for
 * its request line with bounded input and a deadline. */
static void
control_on_accept(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct control *ctl = arg;
	struct timeval idle = { CONTROL_IDLE_SECS, 0 };
	struct timeval wr = { CONTROL_WRITE_SECS, 0 };
	struct ctl_client *c;

	(void)l;
	(void)sa;
	(void)salen;
	if (!control_peer_allowed(fd)) {
		ctl->rejected++;
		control_refuse(ctl, fd, CONTROL_EPERM);
		return;
	}
	if (ctl->nclients >= CONTROL_MAX_CLIENTS) {
		ctl->rejected++;
		control_refuse(ctl, fd, CONTROL_BUSY);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->next = ctl->clients;
	if (c->next)
		c->next->prev = c;
	ctl->clients = c;
	ctl->nclients++;
	c->bev = bufferevent_socket_new(ctl->g->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		close(fd);
	c->deadline = evtimer_new(ctl->g->base, control_on_deadline, c);
	if (c->bev == NULL || c->deadline == NULL || evtimer_add(c->deadline, &idle) < 0) {
		log_warn("control: cannot set up a connection");
		control_client_free(c);
		return;
	}
	bufferevent_setcb(c->bev, control_on_read, control_on_write,
	    control_on_event, c);
	/* Never buffer more than the longest legal line and its CRLF. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, CTL_LINE_MAX + 2);
	if (bufferevent_set_timeouts(c->bev, NULL, &wr) < 0 ||
	    bufferevent_enable(c->bev, EV_READ) < 0) {
		control_client_free(c);
		return;
	}
}

/* Accepting resumes a second after the process ran out of descriptors. */
static void
control_on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct control *ctl = arg;

	(void)fd;
	(void)what;
	if (!ctl->refuse_full && evconnlistener_enable(ctl->lev) < 0)
		log_err("control: cannot resume accepting");
}

/* accept failed (EMFILE and friends): pause instead of spinning. */
static void
control_on_accept_error(struct evconnlistener *l, void *arg)
{
	static struct log_rate rl = LOG_RATE(3, 10000);
	struct control *ctl = arg;
	struct timeval tv = { 1, 0 };
	int err = EVUTIL_SOCKET_ERROR();

	ctl->rejected++;
	log_warn_rated(&rl, "control: accept: %s", evutil_socket_error_to_string(err));
	if (evconnlistener_disable(l) < 0 || evtimer_add(ctl->resume, &tv) < 0)
		log_err("control: cannot pause accepting");
}

/* Create the socket's directory and its missing parents (mode 0750). */
static int
control_mkdirs(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t n = strlen(path);
	char *slash;

	if (n >= sizeof(dir))
		return -1;
	memcpy(dir, path, n + 1);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char save = *p;
		*p = '\0';
		if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
			log_err("control socket: mkdir %s: %s", dir, strerror(errno));
			return -1;
		}
		*p = save;
		if (save == '\0')
			break;
	}
	return 0;
}

/* Deal with whatever is at path already: nothing is fine, a socket nobody
 * answers on is stale and removed, a live one or anything else refuses. */
static int
control_clear_stale(const struct sockaddr_un *sun, socklen_t len)
{
	const char *path = sun->sun_path;
	struct stat st;
	int fd, rc, e;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		log_err("control socket %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_err("control socket %s: exists and is not a socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("control socket: socket: %s", strerror(errno));
		return -1;
	}
	rc = connect(fd, (const struct sockaddr *)sun, len);
	e = errno;
	close(fd);
	if (rc == 0 || e == EAGAIN || e == EINPROGRESS) {
		log_err("control socket %s: another process answers on it "
		    "(is wicketd already running?)", path);
		return -1;
	}
	if (e != ECONNREFUSED && e != ENOENT) {
		log_err("control socket %s: %s", path, strerror(e));
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		log_err("control socket %s: cannot remove the stale socket: %s",
		    path, strerror(errno));
		return -1;
	}
	log_info("control socket %s: removed a stale socket", path);
	return 0;
}

/* Bind the listening socket with mode 0600 from the start (umask around
 * bind, then chmod to be explicit); the fd or -1. */
static int
control_bind(struct control *ctl, const struct sockaddr_un *sun, socklen_t len)
{
	struct stat st;
	mode_t old;
	int fd, rc;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_err("control socket: socket: %s", strerror(errno));
		return -1;
	}
	old = umask(0177);
	rc = bind(fd, (const struct sockaddr *)sun, len);
	umask(old);
	if (rc < 0) {
		log_err("control socket %s: bind: %s", ctl->path, strerror(errno));
		goto fail;
	}
	if (chmod(ctl->path, 0600) < 0 || stat(ctl->path, &st) < 0) {
		log_err("control socket %s: %s", ctl->path, strerror(errno));
		unlink(ctl->path);
		goto fail;
	}
	ctl->dev = st.st_dev;
	ctl->ino = st.st_ino;
	return fd;
fail:
	close(fd);
	return -1;
}

/* Open the control socket at conf->control_socket and serve it in the
 * loop. The path is fixed at start (a reload does not move it). An empty
 * control_socket turns the control socket off. */
int
control_start(struct gate *g)
{
	const char *path = g->conf->control_socket;
	struct control *ctl;
	struct sockaddr_un sun;
	socklen_t len;
	int fd = -1;

	if (path[0] == '\0') {
		log_info("control socket off");
		return 0;
	}
	if (strlen(path) >= sizeof(sun.sun_path)) {
		log_err("control socket %s: path longer than %zu bytes", path,
		    sizeof(sun.sun_path) - 1);
		return -1;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL)
		return -1;
	ctl->g = g;
	memcpy(ctl->path, path, strlen(path) + 1);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
	if (control_mkdirs(path) < 0 || control_clear_stale(&sun, len) < 0 ||
	    (fd = control_bind(ctl, &sun, len)) < 0)
		goto fail;
	ctl->resume = evtimer_new(g->base, control_on_resume, ctl);
	if (ctl->resume == NULL)
		goto fail_unlink;
	ctl->lev = evconnlistener_new(g->base, control_on_accept, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, CONTROL_BACKLOG, fd);
	if (ctl->lev == NULL) {
		log_err("control socket %s: listen: %s", path, strerror(errno));
		goto fail_unlink;
	}
	evconnlistener_set_error_cb(ctl->lev, control_on_accept_error);
	g->ctl = ctl;
	log_info("control socket %s", path);
	return 0;
fail_unlink:
	unlink(ctl->path);
	close(fd);
fail:
	if (ctl->resume)
		event_free(ctl->resume);
	free(ctl);
	return -1;
}

/* Close every control connection and the socket; remove the socket file
 * only if it is still ours (a newer daemon may have replaced it). */
void
control_stop(struct gate *g)
{
	struct control *ctl = g->ctl;
	struct stat st;

	if (ctl == NULL)
		return;
	while (ctl->clients != NULL)
		control_client_free(ctl->clients);
	while (ctl->refusing != NULL)
		control_refusal_free(ctl->refusing);
	if (ctl->lev)
		evconnlistener_free(ctl->lev);
	if (ctl->resume)
		event_free(ctl->resume);
	if (stat(ctl->path, &st) == 0 && st.st_dev == ctl->dev &&
	    st.st_ino == ctl->ino && unlink(ctl->path) < 0)
		log_warn("control socket %s: unlink: %s", ctl->path, strerror(errno));
	free(ctl);
	g->ctl = NULL;
}

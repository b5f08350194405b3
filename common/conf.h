/* conf: wicketd's configuration -- the struct every module reads, and a
 * table-driven parser of "key value" lines that reports every problem as
 * FILE:LINE: message. Pure: it reads a buffer, never the clock or network. */
#ifndef WK_CONF_H
#define WK_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

#define CONF_MAX_LISTEN 16
#define CONF_MAX_LIST 64
#define CONF_MAX_IFACES 16	/* LAN interfaces (`interface` lines) */
#define CONF_IFNAME 16		/* IFNAMSIZ */
#define CONF_MAX_METHODS 16
#define CONF_STR 256
#define CONF_PATH 4096
#define CONF_URL 1024
#define CONF_MAX_KEYS 128 /* entries of the key table (conf.c checks) */

enum conf_probe_answer { PROBE_302, PROBE_511 };
enum conf_firewall { FIREWALL_NONE, FIREWALL_NFT };
/* Who carries admitted clients' port 80: wicketd (proxy) or the kernel
 * (the ruleset lets their connections bypass the REDIRECT). */
enum conf_forward { FORWARD_PROXY, FORWARD_KERNEL };
enum conf_radius_fail { RADIUS_FAIL_CLOSED, RADIUS_FAIL_OPEN };
enum conf_portal { PORTAL_MODE_SPLASH, PORTAL_MODE_RADIUS };
#define CONF_MAX_RADIUS 4 /* servers per radius_auth / radius_acct */
#define CONF_HOSTNAME 254 /* a DNS name (253 characters) + NUL */

/* One radius_auth / radius_acct server: an address literal (name empty,
 * sa its address and port) or a host name that radius.c resolves on the
 * event loop (sa zero, port the port). docs/radius.md, "Server names". */
struct conf_radsrv {
	union wk_sockaddr sa;
	uint16_t port;
	char name[CONF_HOSTNAME];
};

struct wk_conf {
	/* listener and gate identity */
	union wk_sockaddr listen[CONF_MAX_LISTEN];
	size_t n_listen;
	char gateway_id[65];         /* TOKEN_GW_MAX characters */
	char portal_url[CONF_URL];   /* empty: the gate's own pages */
	char audit_log[CONF_PATH];   /* empty or "-": stderr */
	char audit_syslog[16];       /* a facility, or "none" */
	char audit_syslog_socket[108]; /* the local syslog socket (sun_path) */
	char log_level[16];
	uint32_t max_connections;
	/* per-client limits (docs/security.md, "Limits"); rate 0: none */
	uint32_t client_connections;   /* at once, per IP and per MAC */
	uint32_t client_connect_rate;  /* new connections per second */
	uint32_t client_connect_burst;
	uint32_t client_511_rate;      /* 511 and probe 302 answers per second */
	uint32_t client_511_burst;
	/* request framing (RFC 9112) */
	uint32_t max_request_line;
	uint32_t max_header_bytes;
	uint32_t max_headers;
	uint64_t max_body_bytes;
	char require_length[CONF_MAX_METHODS][33];
	size_t n_require_length;
	uint32_t header_timeout;
	/* OS connectivity probes: path -> 302 to the portal */
	char probe_path[CONF_MAX_LIST][128];
	size_t n_probe_path;
	enum conf_probe_answer probe_answer;
	/* forwarding */
	struct wk_cidr allow_ip[CONF_MAX_LIST];
	size_t n_allow_ip;
	struct wk_cidr walled_garden[CONF_MAX_LIST];
	size_t n_walled_garden;
	char walled_garden_host[CONF_MAX_LIST][CONF_STR];
	size_t n_walled_garden_host;
	uint32_t upstream_connect_timeout;
	uint32_t idle_timeout;
	uint32_t splice_pipes;       /* pool bound; 0: bodies are copied */
	/* identity */
	char interface[CONF_MAX_IFACES][CONF_IFNAME];	/* LAN interfaces, in order */
	size_t n_interface;
	struct wk_mac allow_mac[CONF_MAX_LIST];
	size_t n_allow_mac;
	uint32_t max_clients;
	uint32_t neighbour_ttl;
	uint32_t conflict_window;
	uint32_t learn_rate;		/* ARP/NDP frames per second per source */
	uint32_t learn_new_rate;	/* new clients per second per LAN interface */
	/* sessions and grants */
	uint32_t session_timeout;
	uint32_t session_idle_timeout;
	uint64_t session_bytes;
	uint32_t admissions_per_minute; /* splash/signed, per MAC and per address */
	uint32_t splash_sessions_per_ip;
	char control_socket[CONF_PATH];
	char grant_key[CONF_PATH];
	uint32_t max_grant_seconds;
	char state_file[CONF_PATH];
	char splash_terms[CONF_PATH];
	enum conf_firewall firewall;
	enum conf_forward forward;
	char nft_table[64];
	/* TLS listener, CAPPORT API (RFC 8908) and the splash page */
	union wk_sockaddr tls_listen[CONF_MAX_LISTEN];
	size_t n_tls_listen;
	char tls_cert[CONF_PATH];
	char tls_key[CONF_PATH];
	char portal_host[CONF_STR];  /* the name in the certificate */
	char venue_info_url[CONF_URL];
	bool portal_can_extend;      /* portal_url grants extensions */
	char splash_template[CONF_PATH];
	char network_name[128];
	/* RADIUS (docs/radius.md) */
	struct conf_radsrv radius_auth[CONF_MAX_RADIUS]; /* primary, then fallbacks */
	size_t n_radius_auth;
	struct conf_radsrv radius_acct[CONF_MAX_RADIUS];
	size_t n_radius_acct;
	char radius_secret_file[CONF_PATH];
	uint32_t radius_timeout;      /* seconds per try */
	uint32_t radius_retries;      /* retransmissions per server */
	char nas_identifier[64];      /* empty: gateway_id */
	bool radius_mac_auth;
	uint32_t radius_mac_cache;    /* seconds a MAC-auth answer is reused */
	enum conf_radius_fail radius_fail;
	bool radius_require_message_authenticator; /* Access replies without one dropped */
	uint32_t radius_interim;      /* Interim-Update period unless the server says */
	union wk_sockaddr radius_coa[2];
	size_t n_radius_coa;
	struct wk_cidr radius_coa_client[CONF_MAX_LIST];
	size_t n_radius_coa_client;
	uint32_t radius_coa_window;   /* Event-Timestamp tolerance, seconds */
	enum conf_portal portal;      /* splash (click-through) or radius (login) */
	/* privileges (proxy/privs.c) */
	char user[64];               /* empty: keep the starting user */
	char group[64];              /* empty: the user's primary group */
	bool run_as_root;            /* allow uid 0 after start-up */
	bool seccomp;                /* system-call allow-list after start-up */
	/* where each key was last set (0: default), for later checks' messages */
	unsigned key_line[CONF_MAX_KEYS];
};

/* The keys a reload changes (conf_reload_merge), by name. */
struct conf_diff {
	const char *applied[CONF_MAX_KEYS];
	size_t n_applied;
	const char *restart[CONF_MAX_KEYS];	/* running value kept */
	size_t n_restart;
};

/* Errors collected while parsing: one "FILE:LINE: message" per line. */
struct conf_errors {
	char text[4096];
	size_t len;
	unsigned count;
};

void conf_defaults(struct wk_conf *c);
int conf_parse(struct wk_conf *c, const char *text, size_t len,
    const char *fname, struct conf_errors *errs);
int conf_load(struct wk_conf *c, const char *path, struct conf_errors *errs);
size_t conf_nkeys(void);
const char *conf_key_name(size_t i);
const char *conf_key_default(size_t i);
bool conf_key_restart(size_t i);
bool conf_key_same(const struct wk_conf *a, const struct wk_conf *b, size_t i);
void conf_key_copy(struct wk_conf *dst, const struct wk_conf *src, size_t i);
void conf_reload_merge(const struct wk_conf *running, struct wk_conf *next,
    struct conf_diff *out);
int conf_parse_duration(const char *v, uint64_t *secs);
int conf_syslog_facility(const char *name);
int conf_recheck(const struct wk_conf *c, const char *fname, struct conf_errors *errs);
void conf_key_error(struct conf_errors *errs, const struct wk_conf *c,
    const char *fname, const char *key, const char *why);

#endif

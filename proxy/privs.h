/* privs: the daemon's privileges after start-up -- the change to `user` and
 * `group`, the two capabilities kept when the configuration uses them,
 * NO_NEW_PRIVS and the optional seccomp allow-list. The decisions are pure
 * functions (unit-tested); the system calls are in privs_drop. */
#ifndef WK_PRIVS_H
#define WK_PRIVS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "conf.h"

struct gate;

/* Capabilities the running daemon keeps, as bits (1 << CAP_...). */
#define PRIVS_NET_ADMIN (UINT64_C(1) << 12)	/* CAP_NET_ADMIN: nftables */
#define PRIVS_NET_RAW (UINT64_C(1) << 13)	/* CAP_NET_RAW: ARP/NDP capture */

/* Who to become: the outcome of privs_plan. */
struct privs_plan {
	bool change_id;		/* setresgid/setresuid to uid/gid */
	uid_t uid;
	gid_t gid;
	uint64_t keep;		/* PRIVS_NET_ADMIN | PRIVS_NET_RAW */
};

/* The account named by `user`/`group`, looked up by the shell. */
struct privs_account {
	bool have_user, have_group;	/* the names resolved */
	uid_t uid;
	gid_t user_gid;			/* the user's primary group */
	gid_t gid;			/* the `group` key's group */
};

uint64_t privs_needed(const struct wk_conf *c);
int privs_plan(const struct wk_conf *c, uid_t euid, const struct privs_account *a,
    struct privs_plan *out, char *err, size_t errlen);
bool privs_dir_writable(const struct stat *dir, uid_t uid, gid_t gid);
bool privs_file_readable(const struct stat *st, uid_t uid, gid_t gid);
int privs_check(const struct wk_conf *c, char *err, size_t errlen);
int privs_seccomp_install(char *err, size_t errlen);
int privs_drop(struct gate *g);

#endif

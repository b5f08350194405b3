/* test_privs: the privilege decisions of proxy/privs.c as tables -- which
 * capabilities a configuration keeps, who the daemon becomes (and when it
 * refuses), and the directory-writability rule the drop checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "privs.h"

/* firewall nft keeps NET_ADMIN, interface keeps NET_RAW, nothing else. */
static void
test_needed(void **state)
{
	struct wk_conf c;

	(void)state;
	conf_defaults(&c);
	assert_int_equal(privs_needed(&c), 0);
	c.firewall = FIREWALL_NFT;
	assert_int_equal(privs_needed(&c), PRIVS_NET_ADMIN);
	snprintf(c.interface[0], sizeof(c.interface[0]), "br-lan");
	c.n_interface = 1;
	assert_int_equal(privs_needed(&c), PRIVS_NET_ADMIN | PRIVS_NET_RAW);
	c.firewall = FIREWALL_NONE;
	assert_int_equal(privs_needed(&c), PRIVS_NET_RAW);
}

/* One row of the plan table. */
struct plan_row {
	const char *user, *group;
	bool run_as_root;
	uid_t euid;
	struct privs_account acct;
	int rc;
	bool change_id;
	uid_t uid;
	gid_t gid;
	const char *err;	/* substring of the message when rc < 0 */
};

/* Who the daemon becomes for each combination of keys, ids and accounts. */
static void
test_plan(void **state)
{
	static const struct plan_row rows[] = {
		/* no user: root needs run_as_root; anyone else just stays */
		{ "", "", false, 0, { 0 }, -1, false, 0, 0, "started as root with no user" },
		{ "", "", true, 0, { 0 }, 0, false, 0, 0, NULL },
		{ "", "", false, 999, { 0 }, 0, false, 999, 0, NULL },
		{ "", "wheel", false, 999, { 0 }, -1, false, 0, 0, "set user as well" },
		/* root with a user: change to it, primary group or the named one */
		{ "wicket", "", false, 0, { true, false, 999, 998, 0 }, 0, true, 999, 998, NULL },
		{ "wicket", "net", false, 0, { true, true, 999, 998, 50 }, 0, true, 999, 50, NULL },
		{ "nosuch", "", false, 0, { 0 }, -1, false, 0, 0, "user nosuch: no such user" },
		{ "wicket", "nosuch", false, 0, { true, false, 999, 998, 0 }, -1, false, 0, 0,
		  "group nosuch: no such group" },
		/* user root: only with run_as_root, and then no change */
		{ "root", "", false, 0, { true, false, 0, 0, 0 }, -1, false, 0, 0, "is root" },
		{ "root", "", true, 0, { true, false, 0, 0, 0 }, 0, false, 0, 0, NULL },
		/* not root (systemd User=): the same user is fine, another is not */
		{ "wicket", "", false, 999, { true, false, 999, 998, 0 }, 0, false, 999, 998, NULL },
		{ "wicket", "", false, 1000, { true, false, 999, 998, 0 }, -1, false, 0, 0,
		  "cannot switch from uid 1000 without root" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct plan_row *r = &rows[i];
		struct wk_conf c;
		struct privs_plan p;
		char err[512] = "";
		int rc;

		conf_defaults(&c);
		snprintf(c.user, sizeof(c.user), "%s", r->user);
		snprintf(c.group, sizeof(c.group), "%s", r->group);
		c.run_as_root = r->run_as_root;
		c.firewall = FIREWALL_NFT;
		rc = privs_plan(&c, r->euid, &r->acct, &p, err, sizeof(err));
		if (rc != r->rc)
			fail_msg("row %zu: rc %d, expected %d (%s)", i, rc, r->rc, err);
		if (rc < 0) {
			if (strstr(err, r->err) == NULL)
				fail_msg("row %zu: message '%s' lacks '%s'", i, err, r->err);
			continue;
		}
		if (p.change_id != r->change_id || p.uid != r->uid ||
		    (r->user[0] != '\0' && p.gid != r->gid))
			fail_msg("row %zu: change %d uid %u gid %u", i, p.change_id,
			    (unsigned)p.uid, (unsigned)p.gid);
		assert_int_equal(p.keep, PRIVS_NET_ADMIN);
	}
}

/* The kernel's permission rule: owner bits for the owner, group bits for
 * the group, the others' bits otherwise; search permission is needed too. */
static void
test_dir_writable(void **state)
{
	static const struct {
		uid_t owner;
		gid_t group;
		mode_t mode;
		uid_t uid;
		gid_t gid;
		bool ok;
	} rows[] = {
		{ 999, 999, 0750, 999, 999, true },
		{ 999, 999, 0550, 999, 999, false },	/* owner without write */
		{ 999, 999, 0670, 999, 999, false },	/* owner without search */
		{ 0, 999, 0770, 999, 999, true },	/* through the group */
		{ 0, 999, 0750, 999, 999, false },
		{ 0, 0, 0755, 999, 999, false },	/* root's directory */
		{ 0, 0, 01777, 999, 999, true },	/* /tmp-like */
		{ 999, 0, 0577, 999, 0, false },	/* owner bits win over others' */
		{ 0, 0, 0700, 0, 0, true },		/* root may */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct stat st;

		memset(&st, 0, sizeof(st));
		st.st_mode = S_IFDIR | rows[i].mode;
		st.st_uid = rows[i].owner;
		st.st_gid = rows[i].group;
		if (privs_dir_writable(&st, rows[i].uid, rows[i].gid) != rows[i].ok)
			fail_msg("row %zu: expected %d", i, rows[i].ok);
	}
	{
		struct stat st;

		memset(&st, 0, sizeof(st));
		st.st_mode = S_IFREG | 0777;
		assert_false(privs_dir_writable(&st, 999, 999));
	}
}

/* Readability by the same rule: a 0600 root key is not readable by the
 * user, one owned by it (or 0640 in its group) is. */
static void
test_file_readable(void **state)
{
	static const struct {
		uid_t owner;
		gid_t group;
		mode_t mode;
		bool ok;
	} rows[] = {
		{ 0, 0, 0600, false }, { 999, 0, 0600, true }, { 0, 999, 0640, true },
		{ 0, 999, 0600, false }, { 0, 0, 0644, true }, { 999, 999, 0060, false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct stat st;

		memset(&st, 0, sizeof(st));
		st.st_mode = S_IFREG | rows[i].mode;
		st.st_uid = rows[i].owner;
		st.st_gid = rows[i].group;
		if (privs_file_readable(&st, 999, 999) != rows[i].ok)
			fail_msg("row %zu: expected %d", i, rows[i].ok);
	}
}

/* Run fn in a child under the allow-list; its exit status. */
static int
seccomp_child(int (*fn)(void))
{
	char err[256];
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (privs_seccomp_install(err, sizeof(err)) < 0)
			_exit(99);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	return WEXITSTATUS(st);
}

/* Calls the daemon makes pass. */
static int
allowed_calls(void)
{
	struct timespec ts;

	return getpid() > 0 && clock_gettime(CLOCK_MONOTONIC, &ts) == 0 &&
	    write(STDOUT_FILENO, "", 0) == 0 ? 0 : 1;
}

/* A call outside the list (chroot) ends the process with status 70. */
static int
refused_call(void)
{
	(void)syscall(SYS_chroot, "/");
	return 0;
}

/* The allow-list lets the daemon's calls through and stops others. */
static void
test_seccomp(void **state)
{
	(void)state;
	assert_int_equal(seccomp_child(allowed_calls), 0);
	assert_int_equal(seccomp_child(refused_call), 70);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_needed),
		cmocka_unit_test(test_plan),
		cmocka_unit_test(test_dir_writable),
		cmocka_unit_test(test_file_readable),
		cmocka_unit_test(test_seccomp),
	};
	return cmocka_run_group_tests_name("privs", tests, NULL, NULL);
}

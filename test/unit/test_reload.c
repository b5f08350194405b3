/* test_reload: what a reload changes (conf_reload_merge) -- unchanged
 * files change nothing, a changed key lands in "applied" or "needs a
 * restart" as the table says, a key that needs a restart keeps its running
 * value, and list and string keys compare by value, not by leftover bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"

/* Parse text over the defaults into c (it must be valid). */
static void
load(struct wk_conf *c, const char *text)
{
	struct conf_errors e;

	conf_defaults(c);
	if (conf_parse(c, text, strlen(text), "t.conf", &e) != 0)
		fail_msg("t.conf: %s", e.text);
}

/* True when name is among the n names. */
static bool
has(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* One row: a running file, the reloaded one, and what must be reported. */
struct merge_row {
	const char *running, *next;
	const char *applied[4], *restart[4];	/* NULL-terminated */
};

/* Each change is reported in the right list, and only the changes. */
static void
test_merge_table(void **state)
{
	static const struct merge_row rows[] = {
		{ "listen 0.0.0.0:3990\n", "listen 0.0.0.0:3990\n", { NULL }, { NULL } },
		{ "listen 0.0.0.0:3990\n", "listen 0.0.0.0:3990\nheader_timeout 5\n",
		  { "header_timeout", NULL }, { NULL } },
		{ "listen 0.0.0.0:3990\n", "listen 0.0.0.0:3991\n", { NULL }, { "listen", NULL } },
		{ "listen 0.0.0.0:3990\n", "listen 0.0.0.0:3990\nlisten [::]:3990\n",
		  { NULL }, { "listen", NULL } },
		{ "listen 0.0.0.0:3990\ninterface eth0\n", "listen 0.0.0.0:3990\ninterface eth1\n"
		  "audit_log /tmp/a\n", { "audit_log", NULL }, { "interface", NULL } },
		/* the same value written differently is no change */
		{ "listen 0.0.0.0:3990\nheader_timeout 60\n", "listen 0.0.0.0:3990\nheader_timeout 1m\n",
		  { NULL }, { NULL } },
		/* a list: another order is a change, the same elements are not */
		{ "listen 0.0.0.0:3990\nrequire_length POST PUT\n",
		  "listen 0.0.0.0:3990\nrequire_length POST\nrequire_length PUT\n", { NULL }, { NULL } },
		{ "listen 0.0.0.0:3990\nrequire_length POST PUT\n",
		  "listen 0.0.0.0:3990\nrequire_length PUT POST\n", { "require_length", NULL }, { NULL } },
		/* removing a key is a change back to the default */
		{ "listen 0.0.0.0:3990\ngrant_key /etc/k\nuser wicket\n", "listen 0.0.0.0:3990\n",
		  { "grant_key", NULL }, { "user", NULL } },
		{ "listen 0.0.0.0:3990\nseccomp no\nfirewall nft\n", "listen 0.0.0.0:3990\n",
		  { NULL }, { "firewall", "seccomp", NULL } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct merge_row *r = &rows[i];
		struct wk_conf a, b;
		struct conf_diff d;
		size_t na = 0, nr = 0;

		load(&a, r->running);
		load(&b, r->next);
		conf_reload_merge(&a, &b, &d);
		while (r->applied[na] != NULL)
			if (!has(d.applied, d.n_applied, r->applied[na++]))
				fail_msg("row %zu: %s not applied", i, r->applied[na - 1]);
		while (r->restart[nr] != NULL)
			if (!has(d.restart, d.n_restart, r->restart[nr++]))
				fail_msg("row %zu: %s not reported as needing a restart", i,
				    r->restart[nr - 1]);
		if (d.n_applied != na || d.n_restart != nr)
			fail_msg("row %zu: %zu applied, %zu restart; expected %zu, %zu", i,
			    d.n_applied, d.n_restart, na, nr);
		/* after the merge, nothing is left to restart for */
		for (size_t k = 0; k < conf_nkeys(); k++)
			if (conf_key_restart(k) && !conf_key_same(&a, &b, k))
				fail_msg("row %zu: %s kept its new value", i, conf_key_name(k));
	}
}

/* Bytes after a string's end and elements past a list's count are not
 * part of the value. */
static void
test_compare_by_value(void **state)
{
	struct wk_conf a, b;

	(void)state;
	load(&a, "listen 0.0.0.0:3990\nstate_file /var/lib/x\n");
	load(&b, "listen 0.0.0.0:3990\nstate_file /var/lib/x\n");
	memset(b.state_file + strlen(b.state_file) + 1, 'z', 8);
	b.listen[5] = b.listen[0]; /* past n_listen */
	for (size_t k = 0; k < conf_nkeys(); k++)
		if (!conf_key_same(&a, &b, k))
			fail_msg("%s differs", conf_key_name(k));
}

/* Every key of the table compares equal with itself and is copied whole. */
static void
test_copy_every_key(void **state)
{
	struct wk_conf a, b;

	(void)state;
	load(&a, "listen 127.0.0.1:1\nlisten [::1]:2\nprobe_path /x /y\nallow_mac 02:00:00:00:00:01\n"
	    "gateway_id gw-1\nheader_timeout 7\nrun_as_root yes\nfirewall nft\n");
	conf_defaults(&b);
	for (size_t k = 0; k < conf_nkeys(); k++) {
		assert_true(conf_key_same(&a, &a, k));
		conf_key_copy(&b, &a, k);
		if (!conf_key_same(&a, &b, k))
			fail_msg("%s not copied", conf_key_name(k));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_merge_table),
		cmocka_unit_test(test_compare_by_value),
		cmocka_unit_test(test_copy_every_key),
	};
	return cmocka_run_group_tests_name("reload", tests, NULL, NULL);
}

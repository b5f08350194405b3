/* test_docs: the manual page wicket.conf(5) documents every key of the
 * configuration table in common/conf.c with its default and whether a
 * reload applies it, and names no key the table does not have. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"

#define MAN_MAX (1 << 17)

/* Read a file of the tree into a static NUL-terminated buffer. */
static const char *
docs_read(const char *path)
{
	static char buf[MAN_MAX];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		fail_msg("cannot open %s", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* Copy s with the roff escapes the page uses for plain characters
 * ("\-" for '-', "\&" for nothing) resolved. */
static void
docs_unescape(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < size; i++) {
		if (s[i] == '\\' && i + 1 < n && s[i + 1] == '-') {
			out[o++] = '-';
			i++;
		} else if (s[i] == '\\' && i + 1 < n && s[i + 1] == '&') {
			i++;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = '\0';
}

/* The body of the ".It Ic KEY" entry (up to the next .It or .El),
 * unescaped into out; false when the page has no such entry. */
static bool
docs_entry(const char *page, const char *key, char *out, size_t size)
{
	char head[128];
	const char *p = page, *end, *e2;

	snprintf(head, sizeof(head), "\n.It Ic %s", key);
	for (;;) {
		p = strstr(p, head);
		if (p == NULL)
			return false;
		p += strlen(head);
		if (*p == ' ' || *p == '\n')
			break;
	}
	end = strstr(p, "\n.It ");
	e2 = strstr(p, "\n.El");
	if (end == NULL || (e2 != NULL && e2 < end))
		end = e2;
	if (end == NULL)
		end = p + strlen(p);
	docs_unescape(p, (size_t)(end - p), out, size);
	return true;
}

/* Every table key has an entry with its default and its reload class. */
static void
test_manpage_documents_every_key(void **state)
{
	const char *page = docs_read(SRCDIR "/docs/man/wicket.conf.5");
	static char body[16384];
	char want[1200];

	(void)state;
	for (size_t i = 0; i < conf_nkeys(); i++) {
		const char *k = conf_key_name(i), *d = conf_key_default(i);
		const char *live = "reload applies it.";
		const char *restart = "a change needs a restart.";
		bool r = conf_key_restart(i);

		if (!docs_entry(page, k, body, sizeof(body)))
			fail_msg("wicket.conf.5 has no entry '.It Ic %s'", k);
		if (d[0] == '\0') {
			if (strstr(body, "Default: empty;") == NULL &&
			    strstr(body, "Default: none;") == NULL)
				fail_msg("wicket.conf.5: %s: expected 'Default: empty;' "
				    "or 'Default: none;'", k);
		} else {
			snprintf(want, sizeof(want), "\nDefault\n.Ql %s ;\n", d);
			if (strstr(body, want) == NULL)
				fail_msg("wicket.conf.5: %s: expected the default as "
				    "'Default' / '.Ql %s ;'", k, d);
		}
		if (strstr(body, r ? restart : live) == NULL ||
		    strstr(body, r ? live : restart) != NULL)
			fail_msg("wicket.conf.5: %s: the table says %s, so the entry "
			    "must say '%s' (and not the other)", k,
			    r ? "RESTART" : "LIVE", r ? restart : live);
	}
}

/* Every entry of the page is a key of the table (no stale documentation). */
static void
test_manpage_names_only_real_keys(void **state)
{
	const char *page = docs_read(SRCDIR "/docs/man/wicket.conf.5");
	const char *p = page;

	(void)state;
	while ((p = strstr(p, "\n.It Ic ")) != NULL) {
		char name[64];
		size_t n = 0;
		bool found = false;

		p += strlen("\n.It Ic ");
		while (p[n] != '\0' && p[n] != ' ' && p[n] != '\n' && n + 1 < sizeof(name)) {
			name[n] = p[n];
			n++;
		}
		name[n] = '\0';
		for (size_t i = 0; i < conf_nkeys() && !found; i++)
			found = strcmp(conf_key_name(i), name) == 0;
		if (!found)
			fail_msg("wicket.conf.5 documents '%s', which is not a key", name);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_manpage_documents_every_key),
		cmocka_unit_test(test_manpage_names_only_real_keys),
	};
	return cmocka_run_group_tests_name("docs", tests, NULL, NULL);
}

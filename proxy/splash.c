/* splash: how the gate's pages look. One stylesheet for every page (a
 * phone-sized layout: viewport meta, readable type, touch targets of at
 * least 44 CSS px, WCAG 2.2 §2.5.8 asks 24 and Apple's and Google's guides
 * 44/48), and the splash template engine: {{name}} placeholders, plain
 * text HTML-escaped, HTML parts (terms, form) inserted as built. Pure. */
#include "splash.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "reply.h"

/* The stylesheet every page of the gate carries (also {{style}}). */
const char splash_style[] =
    ":root{color-scheme:light dark}"
    "body{margin:0;background:#eef2f5;color:#1b2228;"
    "font:1.0625rem/1.55 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif}"
    "main{box-sizing:border-box;max-width:34rem;margin:0 auto;padding:1.5rem 1.25rem 2.5rem}"
    "h1{font-size:1.6rem;line-height:1.25;margin:.25rem 0 1rem}"
    ".card{background:#fff;border-radius:14px;padding:1.25rem 1.25rem 1.5rem;"
    "box-shadow:0 1px 4px rgba(0,0,0,.12)}"
    ".terms{max-height:55vh;overflow:auto}"
    "button,.button{display:block;box-sizing:border-box;width:100%;min-height:48px;"
    "margin-top:1.25rem;padding:.75rem 1rem;border:0;border-radius:10px;"
    "background:#0a62c2;color:#fff;font:inherit;font-weight:600;text-align:center;"
    "text-decoration:none;cursor:pointer}"
    "button:focus-visible,.button:focus-visible{outline:3px solid #e89b00;outline-offset:2px}"
    "input[type=text],input[type=password]{box-sizing:border-box;width:100%;"
    "min-height:48px;padding:.5rem .75rem;font:inherit;border:1px solid #8a96a3;"
    "border-radius:8px}"
    "a{color:#0a62c2}.note{font-size:.9rem;color:#56626d}"
    "@media (prefers-color-scheme:dark){body{background:#101418;color:#e4e8eb}"
    ".card{background:#1b2127}a{color:#74b6ff}.note{color:#a3adb6}}";

/* The built-in splash, written with the same placeholders an operator's
 * template uses (docs/capport.md). */
const char splash_default_template[] =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>{{title}}</title>\n<style>{{style}}</style></head>\n"
    "<body><main>\n<h1>{{title}}</h1>\n<div class=\"card\">\n"
    "<div class=\"terms\">\n{{terms}}</div>\n{{form}}\n</div>\n"
    "<p class=\"note\">Your device gets access to the network once you "
    "continue.</p>\n</main></body></html>\n";

/* The placeholders a template may use; {{form}} is required. */
enum splash_ph { PH_TITLE, PH_NAME, PH_TERMS, PH_FORM, PH_URL, PH_STYLE, PH_NONE };
static const char *const ph_names[] = {
	[PH_TITLE] = "title", [PH_NAME] = "network_name", [PH_TERMS] = "terms",
	[PH_FORM] = "form", [PH_URL] = "url", [PH_STYLE] = "style",
};

/* Which placeholder the name n bytes at s is (PH_NONE: unknown). */
static enum splash_ph
splash_ph_find(const char *s, size_t n)
{
	for (int i = 0; i < PH_NONE; i++)
		if (strlen(ph_names[i]) == n && memcmp(ph_names[i], s, n) == 0)
			return (enum splash_ph)i;
	return PH_NONE;
}

/* Find the next placeholder at or after *pos: its start (the "{{") in
 * *at, the index after "}}" in *end, and which one. Returns false when
 * none is left; PH_NONE with *at set for a malformed or unknown one. */
static bool
splash_next(const char *tpl, size_t len, size_t pos, size_t *at, size_t *end,
    enum splash_ph *ph)
{
	const char *o = NULL, *c;
	size_t i;

	for (i = pos; i + 1 < len; i++)
		if (tpl[i] == '{' && tpl[i + 1] == '{') {
			o = tpl + i;
			break;
		}
	if (o == NULL)
		return false;
	*at = i;
	*ph = PH_NONE;
	*end = len;
	for (c = o + 2; c + 1 < tpl + len; c++)
		if (c[0] == '}' && c[1] == '}') {
			const char *s = o + 2, *e = c;
			while (s < e && *s == ' ')
				s++;
			while (e > s && e[-1] == ' ')
				e--;
			*ph = splash_ph_find(s, (size_t)(e - s));
			*end = (size_t)(c + 2 - tpl);
			break;
		}
	return true;
}

/* Check an operator's template: every {{...}} is a known placeholder,
 * {{form}} appears exactly once (without it nobody could get in), no NUL,
 * at most SPLASH_TEMPLATE_MAX bytes. 0, or -1 with a reason. */
int
splash_template_check(const char *tpl, size_t len, char *err, size_t errlen)
{
	size_t pos = 0, at, end, forms = 0, line;
	enum splash_ph ph;

	if (len > SPLASH_TEMPLATE_MAX) {
		snprintf(err, errlen, "larger than 64 KiB");
		return -1;
	}
	if (memchr(tpl, '\0', len) != NULL) {
		snprintf(err, errlen, "contains a NUL byte");
		return -1;
	}
	while (splash_next(tpl, len, pos, &at, &end, &ph)) {
		if (ph == PH_NONE) {
			line = 1;
			for (size_t i = 0; i < at; i++)
				line += tpl[i] == '\n';
			snprintf(err, errlen, "line %zu: unknown or unclosed placeholder "
			    "'%.*s' (known: {{title}} {{network_name}} {{terms}} {{form}} "
			    "{{url}} {{style}})", line, (int)(end - at > 40 ? 40 : end - at),
			    tpl + at);
			return -1;
		}
		forms += ph == PH_FORM;
		pos = end;
	}
	if (forms != 1) {
		snprintf(err, errlen, "needs {{form}} exactly once (found %zu): it is "
		    "where the accept or login form goes", forms);
		return -1;
	}
	return 0;
}

/* Append n bytes; false on overflow. */
static bool
splash_put(char *out, size_t size, size_t *o, const char *s, size_t n)
{
	if (n >= size - *o)
		return false;
	memcpy(out + *o, s, n);
	*o += n;
	return true;
}

/* Append plain text HTML-escaped (safe in text and quoted attributes). */
static bool
splash_put_text(char *out, size_t size, size_t *o, const char *s)
{
	size_t k = reply_html_escape(out + *o, size - *o, s);

	if (k >= size - *o)
		return false;
	*o += k;
	return true;
}

/* Fill a (checked) template: text placeholders escaped, HTML ones as
 * they are. Returns the length (NUL-terminated), or 0 when it does not
 * fit or the template has an unknown placeholder. */
size_t
splash_render(char *out, size_t size, const char *tpl, size_t len,
    const struct splash_vars *v)
{
	size_t o = 0, pos = 0, at, end;
	enum splash_ph ph;
	bool ok = size > 0;

	while (ok && splash_next(tpl, len, pos, &at, &end, &ph)) {
		ok = splash_put(out, size, &o, tpl + pos, at - pos);
		switch (ph) {
		case PH_TITLE: ok = ok && splash_put_text(out, size, &o, v->title); break;
		case PH_NAME: ok = ok && splash_put_text(out, size, &o, v->network_name); break;
		case PH_URL: ok = ok && splash_put_text(out, size, &o, v->url); break;
		case PH_TERMS:
			ok = ok && splash_put(out, size, &o, v->terms_html, strlen(v->terms_html));
			break;
		case PH_FORM:
			ok = ok && splash_put(out, size, &o, v->form_html, strlen(v->form_html));
			break;
		case PH_STYLE:
			ok = ok && splash_put(out, size, &o, splash_style, sizeof(splash_style) - 1);
			break;
		case PH_NONE: ok = false; break;
		}
		pos = end;
	}
	ok = ok && splash_put(out, size, &o, tpl + pos, len - pos);
	if (!ok)
		return 0;
	out[o] = '\0';
	return o;
}

/* The most bytes splash_render writes for a checked template (its NUL
 * included) when every placeholder expands to at most m's sizes: a
 * template may repeat a placeholder, so the buffer follows the template. */
size_t
splash_render_max(const char *tpl, size_t len, const struct splash_max *m)
{
	size_t pos = 0, at, end, total = len + 1;
	enum splash_ph ph;

	while (splash_next(tpl, len, pos, &at, &end, &ph)) {
		size_t add = 0;
		switch (ph) {
		case PH_TITLE: add = m->title; break;
		case PH_NAME: add = m->network_name; break;
		case PH_TERMS: add = m->terms; break;
		case PH_FORM: add = m->form; break;
		case PH_URL: add = m->url; break;
		case PH_STYLE: add = sizeof(splash_style) - 1; break;
		case PH_NONE: break;
		}
		if (add > SIZE_MAX - total)
			return SIZE_MAX; /* a 32-bit router: saturate, never wrap */
		total += add;
		pos = end;
	}
	return total;
}

/* The shell of the gate's other pages (messages, errors): the same
 * styling, a title (plain text, escaped) and inner HTML. Returns the
 * length, or 0 when it does not fit. */
size_t
splash_page(char *out, size_t size, const char *title, const char *inner)
{
	char et[512];
	int n;

	if (reply_html_escape(et, sizeof(et), title) >= sizeof(et))
		return 0;
	n = snprintf(out, size,
	    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	    "<title>%s</title>\n<style>%s</style></head>\n"
	    "<body><main>\n<h1>%s</h1>\n<div class=\"card\">\n%s\n</div>\n</main></body></html>\n",
	    et, splash_style, et, inner);
	return (n < 0 || (size_t)n >= size) ? 0 : (size_t)n;
}

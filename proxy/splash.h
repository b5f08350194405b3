/* splash: the look of the gate's pages, pure -- the page shell with its
 * phone-readable styling, and the splash template: the operator's HTML
 * (splash_template) or the built-in one, with {{placeholders}} filled
 * from plain text (escaped here) or from HTML the portal built. */
#ifndef WK_SPLASH_H
#define WK_SPLASH_H

#include <stdbool.h>
#include <stddef.h>

#define SPLASH_TEMPLATE_MAX 65536 /* splash_template file, bytes */

/* What a splash template's placeholders are filled with. */
struct splash_vars {
	const char *title;        /* {{title}}: plain text (network_name or "Welcome") */
	const char *network_name; /* {{network_name}}: plain text, may be "" */
	const char *terms_html;   /* {{terms}}: HTML, built from splash_terms */
	const char *form_html;    /* {{form}}: HTML, the accept or login form */
	const char *url;          /* {{url}}: plain text, the URL the user wanted */
};

/* The most bytes each placeholder can expand to (escaping included), for
 * splash_render_max. {{style}} is the stylesheet's own length. */
struct splash_max {
	size_t title, network_name, terms, form, url;
};

extern const char splash_default_template[];
extern const char splash_style[];

int splash_template_check(const char *tpl, size_t len, char *err, size_t errlen);
size_t splash_render(char *out, size_t size, const char *tpl, size_t len,
    const struct splash_vars *v);
size_t splash_render_max(const char *tpl, size_t len, const struct splash_max *m);
size_t splash_page(char *out, size_t size, const char *title, const char *inner);

#endif

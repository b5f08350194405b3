/* version: the release string printed by -V. */
#ifndef WK_VERSION_H
#define WK_VERSION_H
#define WICKET_VERSION "0.1.0"
#endif

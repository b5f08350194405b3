/* wicketctl: the operator's control tool; talks to wicketd's control
 * socket. The commands arrive with the sessions issue. */
#include <stdio.h>
#include <string.h>

#include "version.h"

/* Print the version; the control commands are not served yet. */
int
main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "-V") == 0) {
		printf("wicketctl %s\n", WICKET_VERSION);
		return 0;
	}
	fprintf(stderr, "wicketctl: the control socket is not available yet\n");
	return 2;
}

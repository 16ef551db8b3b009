#include "direct.h"
#include "trace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void direct_exec(const char *exe, char **argv)
{
	const char *name = argv[0];
	struct stat st;
	int err;

	TRACE("exec %s directly", exe);
	execv(exe, argv);
	err = errno;
	if (err == ENOEXEC) {
		/* Not a binary and no #!: a shell script, as execvp assumes. */
		size_t n = 0;
		char **sh;

		while (argv[n])
			n++;
		sh = malloc((n + 2) * sizeof(*sh));
		if (sh) {
			sh[0] = (char *)"/bin/sh";
			sh[1] = (char *)exe;
			memcpy(sh + 2, argv + 1, n * sizeof(*sh)); /* includes NULL */
			execv("/bin/sh", sh);
			err = errno;
		}
	}
	if (err == EACCES && stat(exe, &st) == 0 && S_ISDIR(st.st_mode))
		err = EISDIR;
	say("%s: %s", name, strerror(err));
	exit(err == ENOENT ? 127 : 126);
}

void direct_not_found(const char *cmd, int eacces)
{
	if (eacces) {
		say("%s: %s", cmd, strerror(EACCES));
		exit(126);
	}
	say("%s: command not found", cmd);
	exit(127);
}

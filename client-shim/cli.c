#include "cli.h"
#include "daemon.h"
#include "resolve.h"
#include "trace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const words[] = {
	"link", "unlink", "links", "shell-init", "exec", "service", "logs", "doctor", "help", "coprocess-check", NULL
};

int cli_is_word(const char *word)
{
	int i;

	for (i = 0; words[i]; i++)
		if (strcmp(word, words[i]) == 0)
			return 1;
	return 0;
}

void cli_exec(char **argv)
{
	char *node, *script, *self, **args;
	size_t n = 0;

	while (argv[n])
		n++;
	node = daemon_find_node();
	script = daemon_find_file("/daemon/dist/cli/main.js");
	self = resolve_self_path();
	if (!node || !script || !self) {
		say("%s: %s", argv[0], !node ? "cannot find node (set WARM_NODE or put node on PATH)"
			: !script ? "cannot find warm's daemon files next to the shim (WARM_DEBUG=1 says where it looked)"
			: "cannot find the shim's own path");
		exit(1);
	}
	args = malloc((n + 5) * sizeof(*args));
	if (!args) {
		say("%s: %s", argv[0], strerror(ENOMEM));
		exit(1);
	}
	args[0] = node;
	args[1] = script;
	args[2] = (char *)"--shim";
	args[3] = self;
	memcpy(args + 4, argv, (n + 1) * sizeof(*args)); /* includes NULL */
	TRACE("exec %s %s --shim %s %s", node, script, self, argv[0]);
	execv(node, args);
	say("%s: %s: %s", argv[0], node, strerror(errno));
	exit(1);
}

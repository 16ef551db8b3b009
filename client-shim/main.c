/* warm: the client shim. Invoked as `warm <command> args...` or, through a
 * symlink named after a tool, as that tool. It hands the run (argv, env,
 * cwd, umask and its own fds 0-2) to the warm daemon and exits with the
 * tool's status; if anything fails before the tool starts, it runs the
 * command itself instead. */
#include "cli.h"
#include "client.h"
#include "direct.h"
#include "native.h"
#include "resolve.h"
#include "trace.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef WARM_VERSION
#error "WARM_VERSION must be defined (the Makefile takes it from package.json)"
#endif

static const char usage_text[] =
	"usage: warm <command> [args...]     run a command through the warm daemon\n"
	"       warm node [node-flags] script [args...]\n"
	"       warm -- <command> [args...]  run a command even if named like a word below\n"
	"       warm status [--json]         show the daemon's state\n"
	"       warm stop [--now]            stop the daemon and its warm processes (running\n"
	"                                    tools finish first; --now ends them)\n"
	"       warm link [TOOL...]          put warm links for tools in warm's bin dir\n"
	"       warm unlink TOOL...          remove them\n"
	"       warm links                   list them, what each runs and whether warm\n"
	"       warm shell-init bash|zsh|fish  print the shell code to eval in an rc file\n"
	"       warm exec [--tools a,b] -- CMD...  run CMD with its children's tools warm\n"
	"       warm service install|uninstall  a systemd user service for the daemon\n"
	"       warm logs [-f] [--json]      the daemon's log\n"
	"       warm doctor                  check the setup and say how to fix it\n"
	"       warm help [WORD]             help for one word\n"
	"       warm coprocess-check -- CMD...  check a coprocess against the protocol\n"
	"       warm --version | --help\n"
	"A symlink to warm named <tool> acts as `warm <tool>`.\n"
	"Environment: WARM_DISABLE=1 runs commands directly; WARM_DEBUG=1 traces\n"
	"each step to stderr; WARM_NODE is the node that starts the daemon.\n";

static int usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

/* Runs argv (argv[0] is the command word); never returns. */
static void run(char **argv) __attribute__((noreturn));
static void run(char **argv)
{
	const char *cmd = argv[0];
	char *exe = NULL;
	int r;

	r = resolve_command(cmd, &exe);
	if (r != RESOLVE_OK)
		direct_not_found(cmd, r == RESOLVE_EACCES);
	TRACE("%s resolved to %s", cmd, exe);
	if (env_flag("WARM_DISABLE"))
		TRACE("WARM_DISABLE is set");
	else if (strchr(cmd, '/') && !resolve_runnable(exe))
		TRACE("%s is not a runnable file", exe); /* let exec say why */
	else if (!native_direct(exe))
		client_run(WARM_VERSION, exe, argv);
	direct_exec(exe, argv);
}

int main(int argc, char **argv)
{
	const char *base = "";
	int i;

	trace_init();
	if (argc > 0 && argv[0]) {
		const char *slash = strrchr(argv[0], '/');

		base = slash ? slash + 1 : argv[0];
	}
	/* Multi-call: a symlink named after a tool runs that tool. */
	if (*base && strcmp(base, "warm") != 0) {
		TRACE("invoked as %s", base);
		argv[0] = (char *)base;
		run(argv);
	}

	if (argc < 2)
		return usage(stderr, 2);
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			if (i + 1 >= argc)
				return usage(stderr, 2);
			run(argv + i + 1);
		}
		if (a[0] != '-')
			break;
		if (strcmp(a, "--version") == 0) {
			printf("warm %s\n", WARM_VERSION);
			return 0;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
			return usage(stdout, 0);
		say("unknown option %s", a);
		return 2;
	}
	if (i >= argc)
		return usage(stderr, 2);

	if (cli_is_word(argv[i]))
		cli_exec(argv + i);
	if (strcmp(argv[i], "status") == 0) {
		int json = 0, j;

		for (j = i + 1; j < argc; j++) {
			if (strcmp(argv[j], "--json") == 0) {
				json = 1;
			} else {
				say("status: unknown argument %s", argv[j]);
				return 2;
			}
		}
		return client_status(json);
	}
	if (strcmp(argv[i], "stop") == 0) {
		int now = i + 1 < argc && strcmp(argv[i + 1], "--now") == 0;

		if (i + 1 + now < argc) {
			say("stop: unknown argument %s", argv[i + 1 + now]);
			return 2;
		}
		return client_stop(now);
	}
	run(argv + i);
	return 0; /* not reached */
}

/* An example coprocess CLI in C: prints its argv (as hex when not printable),
 * cwd, umask, EX_* variables and stdin with --stdin; EX_EXIT / EX_SIGNAL pick
 * how it ends; with EX_GATE=file it first prints its pid and waits for that
 * file. The warm patch is the include and two lines in main. */
#include "warm_coprocess.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

static int tool_main(int argc, char **argv, void *ctx)
{
	char cwd[4096];
	mode_t mask = umask(0);
	int i;

	(void)ctx;
	umask(mask);
	if (getenv("EX_GATE")) {
		printf("pid %ld\n", (long)getpid());
		fflush(stdout);
		while (access(getenv("EX_GATE"), F_OK) != 0)
			usleep(10000);
	}
	printf("argc %d\n", argc);
	for (i = 1; i < argc; i++) {
		const unsigned char *p;

		printf("arg ");
		for (p = (const unsigned char *)argv[i]; *p; p++)
			printf(*p > 0x20 && *p < 0x7f && *p != '\\' ? "%c" : "\\x%02x", *p);
		printf("\n");
	}
	printf("cwd %s\numask %03o\n", getcwd(cwd, sizeof(cwd)) ? cwd : "?", (unsigned)mask);
	for (char **e = environ; *e; e++)
		if (!strncmp(*e, "EX_", 3))
			printf("env %s\n", *e);
	printf("tty %d%d%d\n", isatty(0), isatty(1), isatty(2));
	fprintf(stderr, "to stderr\n");
	if (argc > 1 && !strcmp(argv[1], "--stdin")) {
		int c;

		while ((c = getchar()) != EOF)
			putchar(c);
	}
	fflush(stdout);
	if (getenv("EX_SIGNAL"))
		raise(atoi(getenv("EX_SIGNAL")));
	return getenv("EX_EXIT") ? atoi(getenv("EX_EXIT")) : 0;
}

int main(int argc, char **argv)
{
	static const char *const env[] = { "EX_DECLARED", NULL };
	struct warm_coprocess_options opt = { getenv("EX_SERIAL") ? "serial" : "fork", NULL, env };

	warm_coprocess_serve(tool_main, NULL, &opt);
	return tool_main(argc, argv, NULL);
}

#include "native.h"
#include "trace.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The first bytes of exe: 1 for ELF, 0 for anything else (a script), -1 if unreadable. */
static int is_elf(const char *exe)
{
	unsigned char magic[4];
	ssize_t n;
	int fd = open(exe, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0)
		return -1;
	n = read(fd, magic, sizeof(magic));
	close(fd);
	if (n < 0)
		return -1;
	return n == 4 && memcmp(magic, "\177ELF", 4) == 0;
}

/* node, nodejs, node20, python3, python3.11...: the daemon's interpreters (a prefix is enough to ask it). */
static int interpreter_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	return strncmp(base, "node", 4) == 0 || strncmp(base, "python", 6) == 0;
}

/* 0 when the config file is absent or does not mention "coprocess"; 1 otherwise (or if it cannot be told). */
static int config_may_declare_coprocess(void)
{
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char path[PATH_MAX], buf[65536];
	ssize_t n;
	size_t len = 0;
	int fd;

	/* As the daemon finds it (daemon/src/paths.ts): a relative XDG path is ignored. */
	if (xdg && xdg[0] == '/')
		n = snprintf(path, sizeof(path), "%s/warm/config.json", xdg);
	else if (home && home[0] == '/')
		n = snprintf(path, sizeof(path), "%s/.config/warm/config.json", home);
	else
		return 1;
	if (n < 0 || (size_t)n >= sizeof(path))
		return 1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return access(path, F_OK) == 0; /* there but unreadable: the daemon says */
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	if (n < 0 || len == sizeof(buf) - 1)
		return 1; /* a read error, or a config too big to look through */
	buf[len] = '\0';
	return strlen(buf) != len || strstr(buf, "coprocess") != NULL;
}

int native_direct(const char *exe)
{
	char *real;
	int interp;

	if (is_elf(exe) != 1 || interpreter_name(exe))
		return 0;
	real = realpath(exe, NULL);
	if (!real)
		return 0;
	interp = interpreter_name(real);
	free(real);
	if (interp || config_may_declare_coprocess())
		return 0;
	TRACE("%s is a native executable (ELF), not an interpreter warm runs warm, and the config declares no coprocess: running it directly", exe);
	return 1;
}

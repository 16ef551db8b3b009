/* Checks warm_coprocess.c's frame reader and parser against
 * protocol-spec/coprocess-vectors.txt: each frame goes through a real
 * socketpair and wc_recv_frame, then wc_parse; each frame to the shim is
 * written by wc_shim_frame; prints "ok <name>" lines. */
#include "warm_coprocess.c"

static void render(FILE *f, const struct wc_bytes *b)
{
	size_t i;

	fputs(" b\"", f);
	for (i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c >= 0x20 && c <= 0x7e)
			fputc(c, f);
		else
			fprintf(f, "\\x%02x", c);
	}
	fputc('"', f);
}

static int decode(const unsigned char *frame, size_t n, struct wc_msg *m)
{
	int sv[2], fds[WC_MAX_FDS], nfds, r;
	char *text;
	size_t len;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		_exit(wc_send_all(sv[1], (const char *)frame, n) ? 1 : 0);
	}
	close(sv[1]);
	r = wc_recv_frame(sv[0], &text, &len, fds, &nfds);
	close(sv[0]);
	waitpid(pid, NULL, 0);
	if (r != 0)
		return -1;
	r = wc_parse(text, len, m);
	free(text);
	return r;
}

int main(int argc, char **argv)
{
	FILE *in = fopen(argc > 1 ? argv[1] : "../../protocol-spec/coprocess-vectors.txt", "r");
	static char line[1 << 20];
	static unsigned char frame[1 << 20];
	char *want = NULL, name[256] = "";
	size_t n = 0, wlen = 0;
	int reject = 0, shim = 0, failed = 0;

	if (!in)
		return 2;
	while (fgets(line, sizeof(line), in)) {
		line[strcspn(line, "\n")] = '\0';
		if (!strncmp(line, "run ", 4) || !strncmp(line, "reject ", 7) || !strncmp(line, "shim ", 5)) {
			reject = line[1] == 'e';
			shim = line[0] == 's';
			snprintf(name, sizeof(name), "%s", strchr(line, ' ') + 1);
			n = wlen = 0;
			free(want);
			want = calloc(1, 1);
		} else if (!strncmp(line, "frame ", 6)) {
			const char *h;

			for (h = line + 6; h[0] && h[1]; h += 2)
				sscanf(h, "%2hhx", &frame[n++]);
		} else if (!strcmp(line, "end") && shim) {
			unsigned char mine[40];
			unsigned long v = 0;
			size_t len = 0;
			enum wc_shim kind = WC_STARTED;

			if (sscanf(want, "started %lu", &v) == 1)
				kind = WC_STARTED;
			else if (sscanf(want, "exit code %lu", &v) == 1)
				kind = WC_EXIT_CODE;
			else if (sscanf(want, "exit signal %lu", &v) == 1)
				kind = WC_EXIT_SIGNAL;
			else
				n = (size_t)-1;
			len = wc_shim_frame(mine, kind, v);
			printf("%s %s\n", len == n && !memcmp(mine, frame, n) ? "ok" : "FAIL", name);
			failed |= !(len == n && !memcmp(mine, frame, n));
		} else if (!strcmp(line, "end")) {
			struct wc_msg m;
			int ok = decode(frame, n, &m) == 0;

			if (reject) {
				ok = !ok;
			} else if (ok) {
				char *got;
				size_t glen, i;
				FILE *f = open_memstream(&got, &glen);

				fputs("argv", f);
				for (i = 0; i < m.argc; i++)
					render(f, &m.argv[i]);
				fputs("\nenv", f);
				for (i = 0; i < m.envc; i++)
					render(f, &m.env[i]);
				fputs("\ncwd", f);
				render(f, &m.cwd);
				fprintf(f, "\numask %lld\n", m.umask);
				fclose(f);
				ok = glen == wlen && !memcmp(got, want, wlen);
				if (!ok)
					printf("got:\n%swant:\n%s", got, want);
				free(got);
				wc_msg_free(&m);
			}
			printf("%s %s\n", ok ? "ok" : "FAIL", name);
			failed |= !ok;
		} else if (line[0] && line[0] != '#') {
			size_t l = strlen(line);

			want = realloc(want, wlen + l + 2);
			memcpy(want + wlen, line, l);
			wlen += l;
			want[wlen++] = '\n';
			want[wlen] = '\0';
		}
	}
	free(want);
	return failed;
}

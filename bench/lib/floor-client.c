/* The design floor's client (bench/lib/design-floor.ts): wakes the
 * pre-started node waiting in $BENCH_FLOOR_DIR with one byte on its req FIFO
 * and waits for the one byte on rep that process writes when its run ends. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void)
{
	const char *dir = getenv("BENCH_FLOOR_DIR");
	char path[4096], c;
	int req, rep;

	if (!dir)
		return 2;
	snprintf(path, sizeof(path), "%s/req", dir);
	/* Non-blocking: with no server waiting this fails (ENXIO) rather than hangs. */
	req = open(path, O_WRONLY | O_NONBLOCK);
	snprintf(path, sizeof(path), "%s/rep", dir);
	rep = open(path, O_RDONLY);
	if (req < 0 || rep < 0 || write(req, "x", 1) != 1)
		return 2;
	return read(rep, &c, 1) == 1 ? 0 : 1;
}

/* The protocol's own cost: a C coprocess whose tool does nothing and exits 0
 * (run directly, it is a /bin/true). */
#include "../../coprocess/c/warm_coprocess.h"

static int noop(int argc, char **argv, void *ctx)
{
	(void)argc;
	(void)argv;
	(void)ctx;
	return 0;
}

int main(int argc, char **argv)
{
	warm_coprocess_serve(noop, 0, 0);
	return noop(argc, argv, 0);
}

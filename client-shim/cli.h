/* warm's own words that are not on a run's path (link, exec, doctor, ...):
 * implemented in TypeScript, so the shim execs node on them. */
#ifndef WARM_CLI_H
#define WARM_CLI_H

/* True when word is one of those words. */
int cli_is_word(const char *word);

/* Execs `node <root>/daemon/dist/cli/main.js --shim <own path> word args...`
 * (argv[0] is the word); prints why and exits 1 when it cannot. */
void cli_exec(char **argv) __attribute__((noreturn));

#endif

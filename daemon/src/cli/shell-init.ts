// `warm shell-init bash|zsh|fish`: the code a shell's rc file evals: warm's
// links dir first on PATH and completion for warm's own words. It runs no
// process (only the shell's builtins), so a shell starts no slower.
import { dataDirs } from "./dirs";
import { WORDS as CLI_WORDS } from "./main";
import { UsageError, type Context } from "./word";

export const help = `NAME
    warm shell-init - shell code that puts warm's links on PATH

SYNOPSIS
    warm shell-init bash|zsh|fish

DESCRIPTION
    Prints code for the shell's rc file:
        bash, in ~/.bashrc:   eval "$(warm shell-init bash)"
        zsh, in ~/.zshrc:     eval "$(warm shell-init zsh)"   (after compinit)
        fish, in config.fish: warm shell-init fish | source
    It puts warm's links directory ($XDG_DATA_HOME/warm/bin, see warm link)
    first on PATH, so linked tools run warm, and completes warm's words. The
    printed code starts no process.
`;

// The shim's own words, then those it hands to node (main.ts).
const WORDS = ["status", "stop", ...Object.keys(CLI_WORDS)];

/** A word in single quotes for sh-like shells (bash, zsh). */
function sq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A word in single quotes for fish (which escapes \\ and ' inside them). */
function fq(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

const words = WORDS.join(" ");

function posix(dir: string): string {
  return `# warm (warm help shell-init): its links first on PATH
case ":$PATH" in
  :${sq(dir)}:*|:${sq(dir)}) ;;
  *) PATH=${sq(dir)}"\${PATH:+:$PATH}"; export PATH ;;
esac
`;
}

function bash(dir: string): string {
  return `${posix(dir)}_warm_complete() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[1]}
  if [ "$COMP_CWORD" -eq 1 ]; then COMPREPLY=($(compgen -W '${words} --help --version --' -- "$cur")); return; fi
  case $prev in
    shell-init) COMPREPLY=($(compgen -W 'bash zsh fish' -- "$cur")) ;;
    service) COMPREPLY=($(compgen -W 'install uninstall' -- "$cur")) ;;
    help) COMPREPLY=($(compgen -W '${words}' -- "$cur")) ;;
    logs) COMPREPLY=($(compgen -W '-f --json' -- "$cur")) ;;
    unlink) COMPREPLY=($(compgen -f -- ${sq(dir)}/"$cur")); COMPREPLY=("\${COMPREPLY[@]##*/}") ;;
    link|exec|--) COMPREPLY=($(compgen -c -- "$cur")) ;;
  esac
}
complete -o default -F _warm_complete warm
`;
}

function zsh(dir: string): string {
  return `${posix(dir)}_warm() {
  if (( CURRENT == 2 )); then compadd -- ${words} --help --version --; return; fi
  case $words[2] in
    shell-init) compadd -- bash zsh fish ;;
    service) compadd -- install uninstall ;;
    help) compadd -- ${words} ;;
    logs) compadd -- -f --json ;;
    unlink) compadd -- ${sq(dir)}/*(N:t) ;;
    link|exec|--) _command_names ;;
  esac
}
if (( $+functions[compdef] )); then compdef _warm warm; else compctl -k '(${words})' warm; fi
`;
}

function fish(dir: string): string {
  return `# warm (warm help shell-init): its links first on PATH
if test "$PATH[1]" != ${fq(dir)}
  set -gx PATH ${fq(dir)} $PATH
end
complete -c warm -f
complete -c warm -n __fish_use_subcommand -a '${words}'
complete -c warm -n '__fish_seen_subcommand_from shell-init' -a 'bash zsh fish'
complete -c warm -n '__fish_seen_subcommand_from service' -a 'install uninstall'
complete -c warm -n '__fish_seen_subcommand_from help' -a '${words}'
complete -c warm -n '__fish_seen_subcommand_from logs' -a '-f --json'
complete -c warm -n '__fish_seen_subcommand_from link exec' -a '(__fish_complete_command)'
`;
}

const SHELLS: Record<string, (dir: string) => string> = { bash, zsh, fish };

export function run(args: string[], _ctx: Context): number {
  const shell = args[0];
  if (args.length !== 1 || !Object.hasOwn(SHELLS, shell)) {
    throw new UsageError(`${args.length === 1 ? `unknown shell "${shell}"` : "name one shell"}: warm shell-init bash|zsh|fish`);
  }
  process.stdout.write(SHELLS[shell](dataDirs().bin));
  return 0;
}

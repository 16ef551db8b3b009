import type { Context } from "./word";
export const help = "todo\n";
export function run(_args: string[], _ctx: Context): number {
  return 1;
}

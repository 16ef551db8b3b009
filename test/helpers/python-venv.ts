// A virtualenv whose site-packages holds fixture modules: only installed
// code is ever preloaded (a script's own directory is the user's project),
// so the preloading tests install their modules there.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fixture, PYTHON } from "./warm-env";

export function venvWith(dir: string, name: string, modules: string[]): { python: string; site: string } {
  const venv = join(dir, name);
  const made = spawnSync(PYTHON, ["-m", "venv", "--without-pip", venv], { encoding: "utf8" });
  assert.equal(made.status, 0, made.stderr);
  const python = join(venv, "bin", "python3");
  const site = spawnSync(python, ["-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], { encoding: "utf8" }).stdout.trim();
  for (const m of modules) copyFileSync(fixture(`python/${m}`), join(site, m));
  return { python, site };
}

/**
 * A venv with the fixture package `pkg` installed, and the fixture script
 * `cli` copied into a directory of its own under `work`: not next to the
 * package, as a script's own directory comes first on sys.path (its `pkg`
 * would be the user's code).
 */
export function venvWithPackage(dir: string, work: string, pkg: string, cli: string): { python: string; site: string; script: string; cwd: string } {
  const { python, site } = venvWith(dir, `venv-${pkg}`, []);
  cpSync(fixture(`python/${pkg}`), join(site, pkg), { recursive: true });
  const cwd = join(work, pkg);
  mkdirSync(cwd, { recursive: true });
  const script = join(cwd, cli);
  copyFileSync(fixture(`python/${cli}`), script);
  return { python, site, script, cwd };
}

// A warm process has no controlling terminal, so open("/dev/tty") fails
// with ENXIO even when the caller sits at one. When the tool tries, the
// daemon is told (it runs the tool directly for terminal callers from then
// on) and the error says why instead of a bare ENXIO.
import * as fs from "node:fs";
import { encodeFrame } from "./wire";

const HINT =
  " (warm: this tool opens /dev/tty, which a warm process cannot have; it will run directly at a terminal from now on, or set \"terminal\": \"direct\" for it in warm's config)";

export function watchDevTty(link: number): void {
  let told = false;
  const tell = (error: unknown) => {
    if ((error as NodeJS.ErrnoException)?.code !== "ENXIO") return error;
    if (!told) {
      told = true;
      try {
        fs.writeSync(link, encodeFrame({ t: "needs_tty" }));
      } catch {
        // the daemon is gone
      }
    }
    (error as Error).message += HINT;
    return error;
  };
  const isDevTty = (path: unknown) => path === "/dev/tty" || (Buffer.isBuffer(path) && path.toString() === "/dev/tty");

  const openSync = fs.openSync as (...a: unknown[]) => number;
  (fs as { openSync: unknown }).openSync = function (path: unknown, ...rest: unknown[]) {
    try {
      return openSync.call(fs, path, ...rest);
    } catch (error) {
      throw isDevTty(path) ? tell(error) : error;
    }
  };

  const open = fs.open;
  (fs as { open: unknown }).open = function (path: fs.PathLike, ...rest: unknown[]) {
    const callback = rest[rest.length - 1];
    if (isDevTty(path) && typeof callback === "function") {
      rest[rest.length - 1] = (error: unknown, fd: number) => (callback as (e: unknown, fd: number) => void)(error ? tell(error) : error, fd);
    }
    return (open as (...a: unknown[]) => void).call(fs, path, ...rest);
  };

  const promisesOpen = fs.promises.open;
  (fs.promises as { open: unknown }).open = async function (path: fs.PathLike, ...rest: unknown[]) {
    try {
      return await (promisesOpen as (...a: unknown[]) => Promise<unknown>).call(fs.promises, path, ...rest);
    } catch (error) {
      throw isDevTty(path) ? tell(error) : error;
    }
  };
}

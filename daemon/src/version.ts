// warm's version, as package.json states it; the shim embeds the same string.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const WARM_VERSION: string = (JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")) as { version: string }).version;

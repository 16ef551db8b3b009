// How a warm process ends when it never ran the tool (the daemon let it go,
// it was not usable, or a message made no sense): without the 'exit' event.
// Listeners that preloaded modules registered belong to a run; directly they
// run once, at that run's end. Run here, they would act for a run that never
// happened (yarn's v8-compile-cache saved its code cache from warm
// processes let go, a file the next warm process had read while loading,
// which dropped it). Node's own process.reallyExit (taken before any module
// can wrap it, as signal-exit 3 does) is process.exit without the event.
const reallyExit = (process as unknown as { reallyExit(code: number): never }).reallyExit.bind(process);

export function exitUnused(code: number): never {
  return reallyExit(code);
}

// Proxy traps that make a stand-in act as the object another one is now:
// reads, writes, deletes, keys, descriptors and its prototype (so
// `instanceof` holds). A method it inherits is bound to that object, so a
// call through the stand-in (CoffeeScript's require.main._compile) runs on
// the real one: the code it compiles finds `module === require.main`.

/** Traps forwarding to `real()`, asked anew at each use. The proxy's own target stays an empty object. */
export function forwardingTraps(real: () => object): Required<Pick<ProxyHandler<object>, "get" | "set" | "has" | "deleteProperty" | "defineProperty" | "ownKeys" | "getOwnPropertyDescriptor" | "getPrototypeOf" | "setPrototypeOf">> {
  const bound = new WeakMap<object, Map<PropertyKey, [fn: unknown, bound: unknown]>>();
  return {
    get: (_t, prop) => {
      const target = real();
      const value: unknown = Reflect.get(target, prop);
      // Own values (exports may be a function) and the constructor keep their identity.
      if (typeof value !== "function" || prop === "constructor" || Object.hasOwn(target, prop)) return value;
      let byProp = bound.get(target);
      if (!byProp) bound.set(target, (byProp = new Map()));
      const cached = byProp.get(prop);
      if (cached && cached[0] === value) return cached[1];
      const fn = (value as (...a: unknown[]) => unknown).bind(target);
      byProp.set(prop, [value, fn]);
      return fn;
    },
    set: (_t, prop, value) => Reflect.set(real(), prop, value),
    has: (_t, prop) => Reflect.has(real(), prop),
    deleteProperty: (_t, prop) => Reflect.deleteProperty(real(), prop),
    defineProperty: (_t, prop, desc) => Reflect.defineProperty(real(), prop, desc),
    ownKeys: () => Reflect.ownKeys(real()),
    getOwnPropertyDescriptor: (_t, prop) => {
      const desc = Reflect.getOwnPropertyDescriptor(real(), prop);
      // A proxy may call a property non-configurable only if its own target has it so.
      if (desc) desc.configurable = true;
      return desc;
    },
    getPrototypeOf: () => Reflect.getPrototypeOf(real()),
    setPrototypeOf: (_t, proto) => Reflect.setPrototypeOf(real(), proto),
  };
}

/**
 * A stand-in's traps while preloading and after: once `preloading()` is
 * false they forward (as above); before, each use is noted (the module that
 * did it is not preloaded) and acts on the stand-in's own empty target.
 * A stand-in overrides those of them it answers while preloading.
 */
export function forwardOnceLoaded(real: () => object, preloading: () => boolean, note: (trap: string) => void): ProxyHandler<object> {
  const after = forwardingTraps(real) as Record<string, (...args: unknown[]) => unknown>;
  const reflect = Reflect as unknown as Record<string, (...args: unknown[]) => unknown>;
  const handler: Record<string, (...args: unknown[]) => unknown> = {};
  for (const trap of Object.keys(after)) {
    handler[trap] = (...args) => {
      if (!preloading()) return after[trap](...args);
      note(trap);
      return reflect[trap](...args);
    };
  }
  return handler as ProxyHandler<object>;
}

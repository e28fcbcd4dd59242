// Maps indexed by user text: only own properties count, so a name like "constructor" or
// "__proto__" never reads (or writes) Object.prototype.

/** The map's own entry under key, or undefined. */
export function own<T>(map: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(map, key) ? map[key] : undefined;
}

/** A key every plain object already has through Object.prototype ("constructor", "toString"…). */
export const isPrototypeKey = (key: string): boolean => key in Object.prototype;

// The name rule, below every layer: instance and template names (core/labels.ts re-exports it;
// the store checks the names it loads against it).

/** Instance names, and template names (a generated instance name is the template's plus a suffix). */
export const NAME_RE = /^[a-z][a-z0-9-]{1,39}$/;
export const NAME_HINT =
  'names are 2-40 characters: lowercase letters, digits and dashes, starting with a letter';

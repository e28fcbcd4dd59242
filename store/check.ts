// What the schema cannot say about a loaded document: each instance filed under its own name,
// names that follow the name rule, ports in range and unique, and the port map naming each
// instance's port. A document failing one of them opens read-only (store.ts), saying which record.
import { NAME_RE } from '../lib/names.ts';
import type { StoreDoc } from './schema.ts';

const shown = (s: string): string => JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}…` : s);

/**
 * The first inconsistency, as a clause completing "it …", or null when the document holds together.
 * `raw` is the parsed JSON before the schema: a key such as `__proto__` is dropped by the schema, so
 * it is looked for there.
 */
export function inconsistency(doc: StoreDoc, raw?: unknown): string | null {
  const rawInstances =
    typeof raw === 'object' && raw !== null ? (raw as { instances?: unknown }).instances : undefined;
  if (typeof rawInstances === 'object' && rawInstances !== null) {
    for (const key of Object.keys(rawInstances)) {
      if (!Object.hasOwn(doc.instances, key))
        return `holds instance ${shown(key)}, which is not a valid instance name`;
    }
  }
  // A port is unique per host: the one host's, or each Swarm node's.
  const portOwner = new Map<string, string>();
  for (const [key, record] of Object.entries(doc.instances)) {
    const at = `instance ${shown(key)}`;
    if (record.name !== key) return `holds ${at} whose name is ${shown(record.name)}`;
    if (!NAME_RE.test(key)) return `holds ${at}, which is not a valid instance name`;
    const { port } = record;
    if (!Number.isInteger(port) || port < 1 || port > 65_535) {
      return `holds ${at} on port ${port}, outside 1-65535`;
    }
    const node = record.node?.id;
    const hostPort = `${node ?? ''}/${port}`;
    const other = portOwner.get(hostPort);
    if (other !== undefined) return `holds ${at} on port ${port}, which instance ${shown(other)} also has`;
    portOwner.set(hostPort, key);
    const nodePorts = doc.nodePorts ?? {};
    const table = node === undefined ? doc.ports : Object.hasOwn(nodePorts, node) ? nodePorts[node] : {};
    const entry = table && Object.hasOwn(table, String(port)) ? table[String(port)] : undefined;
    if (entry?.instance !== key || entry.state === 'set-aside') {
      const holder = entry === undefined ? 'nothing' : entry.instance ? shown(entry.instance) : entry.state;
      return `holds ${at} on port ${port}, but its port map entry names ${holder}`;
    }
  }
  for (const table of [doc.ports, ...Object.values(doc.nodePorts ?? {})]) {
    for (const key of Object.keys(table)) {
      const port = Number(key);
      if (port < 1 || port > 65_535) return `holds port map entry ${key}, outside 1-65535`;
    }
  }
  return null;
}

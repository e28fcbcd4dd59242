// The Docker labels others can rely on (PRODUCT.md), in one place.
import type { ContainerSummary, Labels } from '../engine/types.ts';

export const LABEL = {
  managed: 'org.spreadserve.managed',
  scope: 'org.spreadserve.scope',
  instance: 'org.spreadserve.instance',
  owner: 'org.spreadserve.owner',
  template: 'org.spreadserve.template',
  port: 'org.spreadserve.port',
  /** On one-off build containers, so reconcile never mistakes them for instances. */
  build: 'org.spreadserve.build',
} as const;

/** Instance names, and template names: the rule lives in lib/ (the store checks it too). */
export { NAME_HINT, NAME_RE } from '../lib/names.ts';

export const containerName = (instance: string): string => `spreadserve-${instance}`;

/** The filter that selects exactly this bot's instance containers. */
export const managedFilter = (scope: string): Labels => ({ [LABEL.managed]: 'true', [LABEL.scope]: scope });

export function instanceLabels(args: {
  scope: string;
  instance: string;
  owner: string;
  template: string;
  port: number;
}): Labels {
  return {
    ...managedFilter(args.scope),
    [LABEL.instance]: args.instance,
    [LABEL.owner]: args.owner,
    [LABEL.template]: args.template,
    [LABEL.port]: String(args.port),
  };
}

/** Containers by the instance name on their label (containers without one are left out). */
export function byInstance(containers: readonly ContainerSummary[]): Map<string, ContainerSummary> {
  const byName = new Map<string, ContainerSummary>();
  for (const c of containers) {
    const name = c.labels[LABEL.instance];
    if (name) byName.set(name, c);
  }
  return byName;
}

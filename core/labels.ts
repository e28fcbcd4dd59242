// The Docker labels others can rely on (PRODUCT.md), in one place.
import type { Labels } from '../engine/types.ts';

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

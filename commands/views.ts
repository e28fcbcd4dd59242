// Store records and Docker's view -> the InstanceView replies carry.

import type { Core } from '../core/context.ts';
import type { InstanceRecord, ObservedInstance, ObservedState } from '../core/instances.ts';
import type { InstanceView } from './reply.ts';

export function instanceView(services: Core, record: InstanceRecord, state?: ObservedState): InstanceView {
  return {
    name: record.name,
    owner: record.owner,
    template: record.template,
    port: record.port,
    ...(record.node ? { node: record.node.name } : {}),
    url: services.instances.url(record),
    state: state ?? record.state,
    createdAt: record.createdAt,
    lastActivityAt: record.lastActivityAt,
    expiresAt: record.expiresAt,
    warning: record.warning && { reason: record.warning.reason, deadline: record.warning.deadline },
  };
}

export const observedView = (services: Core, o: ObservedInstance): InstanceView =>
  instanceView(services, o.record, o.state);

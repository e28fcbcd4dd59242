// What the swarm engine sends (pure: plain data, no dockerode): the service spec of an instance,
// and placement constraints read and applied the way Swarm reads them.
import { UserError } from '../lib/errors.ts';
import { toEnvList } from './docker-data.ts';
import { DEFAULT_PIDS_LIMIT, INSTANCE_CAPS, ROTATED_LOG } from './docker-hardening.ts';
import type { ContainerSpec, EngineNode, Labels } from './types.ts';

/** The tmpfs a read-only instance writes to (64 MB, as on one host). Docker mounts a service's
 * tmpfs with noexec, nosuid and nodev by default. */
const READ_ONLY_TMPFS_BYTES = 64 * 1024 * 1024;
/** A hostname is one DNS label: at most 63 characters. */
const MAX_HOSTNAME = 63;

/** The body of POST /services/create, as far as this bot sets it (Engine API 1.41). */
export interface ServiceSpecBody {
  Name: string;
  Labels: Labels;
  TaskTemplate: {
    ContainerSpec: {
      Image: string;
      Labels: Labels;
      Env: string[];
      Args?: string[];
      Hostname: string;
      User?: string;
      Init: boolean;
      ReadOnly?: boolean;
      Mounts?: { Type: 'tmpfs'; Target: string; TmpfsOptions: { SizeBytes: number } }[];
      CapabilityDrop: string[];
      CapabilityAdd: string[];
    };
    Resources: { Limits: { MemoryBytes?: number; NanoCPUs?: number; Pids: number } };
    RestartPolicy: { Condition: 'none' };
    Placement: { Constraints: string[] };
    LogDriver: { Name: string; Options: Record<string, string> };
  };
  Mode: { Replicated: { Replicas: number } };
  EndpointSpec: {
    Ports: { Protocol: 'tcp'; TargetPort: number; PublishedPort: number; PublishMode: 'host' }[];
  };
}

/**
 * An instance as a Swarm service: one replica, never restarted (a task that ends leaves the
 * service at 0/1 and reconcile closes the instance), placed on the node the bot chose, its port
 * published on that node only (host mode: the routing mesh needs IPVS, which hosts like this one
 * lack, and would hide which node serves).
 *
 * The hardening of docker-hardening.ts, as far as Swarm can say it: all capabilities dropped but
 * NET_BIND_SERVICE (API 1.41, Engine 20.10), a pids limit, an init as PID 1, a read-only root with
 * a tmpfs /tmp, the rotated json-file log, memory and CPU limits. NOT applied, because a service
 * spec of API 1.41 has no field for them: no-new-privileges (Privileges.NoNewPrivileges came with
 * API 1.46), MemorySwap (the node's default applies, which may allow swap up to the memory
 * limit again), the bind address (host-mode publishing always binds 0.0.0.0 and [::]) and the
 * bot's own bridge network (a service cannot join a node-local bridge: instances use each node's
 * default bridge).
 */
export function serviceSpecOf(spec: ContainerSpec): ServiceSpecBody {
  return {
    Name: spec.name,
    Labels: spec.labels,
    TaskTemplate: {
      ContainerSpec: {
        Image: spec.image,
        Labels: spec.labels,
        Env: toEnvList(spec.env),
        // Args replaces the image's CMD and keeps its ENTRYPOINT, as Cmd does for a container
        // (a service's Command would replace the ENTRYPOINT).
        ...(spec.command ? { Args: spec.command } : {}),
        Hostname: spec.name.slice(0, MAX_HOSTNAME),
        ...(spec.user ? { User: spec.user } : {}),
        // Without an init a removed service takes ~12 s to stop, with one ~1.8 s (FACTS).
        Init: true,
        ...(spec.readOnly
          ? {
              ReadOnly: true,
              Mounts: [{ Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { SizeBytes: READ_ONLY_TMPFS_BYTES } }],
            }
          : {}),
        CapabilityDrop: ['ALL'],
        CapabilityAdd: [...INSTANCE_CAPS],
      },
      Resources: {
        Limits: {
          ...(spec.memoryBytes !== undefined ? { MemoryBytes: spec.memoryBytes } : {}),
          ...(spec.nanoCpus !== undefined ? { NanoCPUs: spec.nanoCpus } : {}),
          Pids: spec.pidsLimit ?? DEFAULT_PIDS_LIMIT,
        },
      },
      RestartPolicy: { Condition: 'none' },
      Placement: { Constraints: spec.node ? [`node.id==${spec.node}`] : [] },
      LogDriver: { Name: ROTATED_LOG.Type, Options: { ...ROTATED_LOG.Config } },
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: {
      Ports: [
        {
          Protocol: 'tcp',
          TargetPort: spec.containerPort,
          PublishedPort: spec.hostPort,
          PublishMode: 'host',
        },
      ],
    },
  };
}

// ---- placement constraints --------------------------------------------------------------------

export interface Constraint {
  /** As written, for sentences. */
  text: string;
  /** What it reads off a node: its id, hostname, role or one label. */
  read: (node: EngineNode) => string | undefined;
  equal: boolean;
  value: string;
}

const CONSTRAINT_RE = /^\s*([^\s=!]+)\s*(==|!=)\s*(.*?)\s*$/;
const LABEL_PREFIX = 'node.labels.';

/**
 * Reads constraints in Swarm's syntax ("node.labels.zone==a", "node.role!=manager"): the keys
 * node.id, node.hostname, node.role and node.labels.<key>. Anything else is a UserError naming it.
 */
export function parseConstraints(texts: readonly string[]): Constraint[] {
  return texts.map((text) => {
    const m = CONSTRAINT_RE.exec(text);
    const key = m?.[1] ?? '';
    const known = (k: string) => key.toLowerCase() === k;
    let read: Constraint['read'] | undefined;
    if (known('node.id')) read = (n) => n.id;
    else if (known('node.hostname')) read = (n) => n.name;
    else if (known('node.role')) read = (n) => n.role;
    else if (key.toLowerCase().startsWith(LABEL_PREFIX) && key.length > LABEL_PREFIX.length) {
      const label = key.slice(LABEL_PREFIX.length);
      read = (n) => n.labels[label];
    }
    if (!m || read === undefined || m[3] === '') {
      throw new UserError(
        'usage',
        `The placement constraint "${text}" is not one this bot reads; write node.id, node.hostname, node.role or node.labels.<key>, then == or !=, then a value (e.g. node.labels.zone==a).`,
      );
    }
    return { text, read, equal: m[2] === '==', value: m[3] ?? '' };
  });
}

/** Whether a node satisfies every constraint, as Swarm judges it: values compared without regard
 * to case, and a missing label satisfies only != . */
export function satisfies(node: EngineNode, constraints: readonly Constraint[]): boolean {
  return constraints.every((c) => {
    const actual = c.read(node);
    if (actual === undefined) return !c.equal;
    const same = actual.toLowerCase() === c.value.toLowerCase();
    return c.equal ? same : !same;
  });
}

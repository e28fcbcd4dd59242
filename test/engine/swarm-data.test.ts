// The plain parts of the swarm engine (no Docker): the service spec of an instance, placement
// constraints as Swarm reads them, nodes' addresses, what a task's state means for an instance,
// and a launch's outcome from its task's own error. The real swarm is in swarm-engine.swarm.test.ts.

import { describe, expect, it } from 'vitest';
import { launchOutcome, nodeOf, stateOf, streamError, type TaskView } from '../../engine/swarm-data.ts';
import { deliverySentence } from '../../engine/swarm-images.ts';
import { parseConstraints, satisfies, serviceSpecOf } from '../../engine/swarm-spec.ts';
import type { ContainerSpec, EngineNode } from '../../engine/types.ts';
import { UserError } from '../../lib/errors.ts';

const SPEC: ContainerSpec = {
  name: 'spreadserve-alice-demo',
  image: 'spreadserve/demo:latest',
  labels: { 'org.spreadserve.instance': 'alice-demo' },
  env: { SS_OWNER: 'U1' },
  command: ['/run.sh', '--port', '80'],
  containerPort: 80,
  hostPort: 30001,
  bindIp: '0.0.0.0',
  memoryBytes: 256 * 1024 * 1024,
  nanoCpus: 500_000_000,
  readOnly: true,
  user: '1000:1000',
  node: 'n1',
};

const node = (over: Partial<EngineNode> = {}): EngineNode => ({
  id: 'n1',
  name: 'alpha',
  address: '10.0.0.1',
  role: 'worker',
  labels: { zone: 'a' },
  available: true,
  ...over,
});

const task = (over: Partial<TaskView> = {}): TaskView => ({
  id: 't1',
  serviceId: 's1',
  nodeId: 'n1',
  state: 'running',
  desired: 'running',
  err: '',
  message: 'started',
  since: Date.now() - 5000,
  createdAt: Date.now() - 6000,
  containerId: 'c1',
  exitCode: null,
  ...over,
});

describe('serviceSpecOf', () => {
  it('makes an instance a one-replica, never-restarted service on its node, port published in host mode', () => {
    // Given a full instance spec
    // When it becomes a service spec
    const body = serviceSpecOf(SPEC);
    // Then the labels are on the service and its container, the command replaces CMD (Args)
    expect(body.Labels).toEqual(SPEC.labels);
    expect(body.TaskTemplate.ContainerSpec).toMatchObject({
      Image: SPEC.image,
      Labels: SPEC.labels,
      Env: ['SS_OWNER=U1'],
      Args: SPEC.command,
      User: '1000:1000',
      Init: true,
      ReadOnly: true,
      CapabilityDrop: ['ALL'],
      CapabilityAdd: ['NET_BIND_SERVICE'],
    });
    expect(body.TaskTemplate.ContainerSpec.Mounts).toEqual([
      { Type: 'tmpfs', Target: '/tmp', TmpfsOptions: { SizeBytes: 64 * 1024 * 1024 } },
    ]);
    // And the limits, the restart policy, the placement, the log and the port are Swarm's
    expect(body.TaskTemplate.Resources.Limits).toEqual({
      MemoryBytes: SPEC.memoryBytes,
      NanoCPUs: 500_000_000,
      Pids: 256,
    });
    expect(body.TaskTemplate.RestartPolicy).toEqual({ Condition: 'none' });
    expect(body.TaskTemplate.Placement.Constraints).toEqual(['node.id==n1']);
    expect(body.TaskTemplate.LogDriver).toEqual({
      Name: 'json-file',
      Options: { 'max-size': '10m', 'max-file': '3' },
    });
    expect(body.Mode).toEqual({ Replicated: { Replicas: 1 } });
    expect(body.EndpointSpec.Ports).toEqual([
      { Protocol: 'tcp', TargetPort: 80, PublishedPort: 30001, PublishMode: 'host' },
    ]);
  });

  it('leaves the image command, user, root and node alone when the spec does not set them', () => {
    // Given a minimal spec
    const { command: _c, user: _u, readOnly: _r, node: _n, ...minimal } = SPEC;
    // When it becomes a service spec
    const body = serviceSpecOf(minimal);
    // Then no Args, User, ReadOnly or mounts are sent, and no constraint
    expect(body.TaskTemplate.ContainerSpec).not.toHaveProperty('Args');
    expect(body.TaskTemplate.ContainerSpec).not.toHaveProperty('User');
    expect(body.TaskTemplate.ContainerSpec).not.toHaveProperty('Mounts');
    expect(body.TaskTemplate.Placement.Constraints).toEqual([]);
  });
});

describe('placement constraints', () => {
  it('reads Swarm syntax and judges nodes as Swarm does', () => {
    // Given a node labelled zone=a
    const n = node();
    const ok = (texts: string[]) => satisfies(n, parseConstraints(texts));
    // Then keys, == and != and values without regard to case are read as Swarm reads them
    expect(ok(['node.labels.zone==a'])).toBe(true);
    expect(ok(['node.labels.zone == A'])).toBe(true);
    expect(ok(['node.labels.zone!=a'])).toBe(false);
    expect(ok(['node.hostname==ALPHA', 'node.role==worker', 'node.id!=n2'])).toBe(true);
    expect(ok(['node.role==manager'])).toBe(false);
    // And a missing label satisfies only !=
    expect(ok(['node.labels.gpu==yes'])).toBe(false);
    expect(ok(['node.labels.gpu!=yes'])).toBe(true);
  });

  it('refuses a key or form it does not read, naming it', () => {
    // When a constraint uses engine labels, no operator or no value
    for (const text of ['engine.labels.os==linux', 'node.labels.zone', 'node.role==', 'node.labels.==a']) {
      // Then it is a usage error quoting it
      const err = (() => {
        try {
          parseConstraints([text]);
          return null;
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).kind).toBe('usage');
      expect((err as UserError).message).toContain(`"${text}"`);
    }
  });
});

describe('nodes and task states', () => {
  it('takes a node address from configuration, else its own, else its manager address', () => {
    // Given a manager reporting 0.0.0.0, and a worker reporting its address
    const answer = (hostname: string, addr: string) => ({
      ID: hostname,
      Description: { Hostname: hostname },
      Spec: { Role: 'manager', Availability: 'active', Labels: { zone: 'a' } },
      Status: { State: 'ready', Addr: addr },
      ManagerStatus: { Addr: '10.1.0.5:2377' },
    });
    // Then each gets the address the host can reach
    expect(nodeOf(answer('m', '0.0.0.0'), {}).address).toBe('10.1.0.5');
    expect(nodeOf(answer('w', '10.1.0.6'), {}).address).toBe('10.1.0.6');
    expect(nodeOf(answer('w', '10.1.0.6'), { w: 'w.example.com' }).address).toBe('w.example.com');
    expect(nodeOf(answer('m', '0.0.0.0'), {})).toMatchObject({
      role: 'manager',
      available: true,
      down: false,
    });
  });

  it('maps tasks to instance states, a lost node first', () => {
    const nodes = new Map([
      ['n1', { ...node(), down: false }],
      ['n2', { ...node({ id: 'n2', name: 'beta' }), down: true }],
    ]);
    // Then a running task is running, a starting one created, a missing one created
    expect(stateOf(task(), nodes)).toMatchObject({
      state: 'running',
      status: expect.stringMatching(/^Up .* on alpha$/),
    });
    expect(stateOf(task({ state: 'preparing' }), nodes)).toEqual({
      state: 'created',
      status: 'Starting on alpha',
    });
    expect(stateOf(undefined, nodes).state).toBe('created');
    // And a task on a down node is lost, whatever state it last reported
    expect(stateOf(task({ nodeId: 'n2', desired: 'shutdown' }), nodes)).toEqual({
      state: 'exited',
      status: 'Lost: node beta is down',
    });
    // And an ended task is exited with its own reason
    expect(stateOf(task({ state: 'failed', err: 'task: non-zero exit (3)' }), nodes)).toEqual({
      state: 'exited',
      status: 'Failed on alpha: task: non-zero exit (3)',
    });
    expect(stateOf(task({ desired: 'shutdown' }), nodes).state).toBe('exited');
  });
});

describe('launchOutcome', () => {
  it('turns the task error into port-taken, unhealthy, or waiting', () => {
    const outcome = (t: Partial<TaskView> | undefined, giveUp = false) =>
      launchOutcome(t ? task(t) : undefined, SPEC, 'alpha', giveUp);
    // Then a running task is done, and one not yet there is waited for
    expect(outcome({})).toEqual({ kind: 'running' });
    expect(outcome(undefined)).toEqual({ kind: 'waiting' });
    expect(outcome({ state: 'starting', err: '' })).toEqual({ kind: 'waiting' });
    // And a port held by a process, a container, or another service on the node is port-taken
    for (const [state, err] of [
      ['failed', 'Bind for 0.0.0.0:30001 failed: port is already allocated'],
      ['rejected', 'listen tcp4 0.0.0.0:30001: bind: address already in use'],
      ['pending', 'no suitable node (host-mode port already in use on 1 node)'],
    ] as const) {
      const o = outcome({ state, err });
      expect(o.kind === 'failed' && o.error.kind).toBe('port-taken');
      expect(o.kind === 'failed' && o.error.message).toBe(
        'Host port 30001 on node alpha is already in use by another process, container or service.',
      );
    }
    // And a rejected task, or one pending too long, fails with its own error and the node
    const rejected = outcome({ state: 'rejected', err: 'No such image: spreadserve/demo:latest' });
    expect(rejected.kind === 'failed' && rejected.error.message).toBe(
      'spreadserve-alice-demo could not start on node alpha: No such image: spreadserve/demo:latest.',
    );
    expect(outcome({ state: 'pending', err: 'no suitable node (scheduling constraints)' }).kind).toBe(
      'waiting',
    );
    expect(outcome({ state: 'pending', err: 'no suitable node (scheduling constraints)' }, true).kind).toBe(
      'failed',
    );
  });

  it('finds the daemon error frame in a multiplexed log stream', () => {
    // Given a stdout frame then an error frame (type 3)
    const frame = (type: number, text: string) => {
      const payload = Buffer.from(text);
      const header = Buffer.alloc(8);
      header.writeUInt8(type, 0);
      header.writeUInt32BE(payload.length, 4);
      return Buffer.concat([header, payload]);
    };
    const buf = Buffer.concat([
      frame(1, 'hello\n'),
      frame(3, 'Error grabbing logs: node x is not available\n'),
    ]);
    // Then the error is found, and a stream without one has none
    expect(streamError(buf)).toBe('Error grabbing logs: node x is not available');
    expect(streamError(frame(1, 'hello\n'))).toBeNull();
  });
});

describe('how images reach the nodes (templates)', () => {
  it('names the nodes images are copied to, and those that must hold them already', () => {
    expect(deliverySentence(['n1', 'n2'], [])).toBe(
      'Images are copied from the swarm manager to n1, n2 before their first instance there (no registry).',
    );
    expect(deliverySentence(['n1'], ['n2'])).toBe(
      'Images are copied from the swarm manager to n1 before their first instance there (no registry); ' +
        'n2 must hold them already (set SPREADSERVE_NODE_ENDPOINTS).',
    );
    expect(deliverySentence([], ['n1'])).toMatch(
      /^No node has an engine endpoint, so images are never copied/,
    );
  });
});

// The swarm fixture itself (test/support/swarm-fixture.ts), through the manager's Engine API: the
// two nodes are Ready and Active, each node's own socket is that node, a one-replica service
// published in host mode answers from the host on the worker's address, a second service takes the
// same port on the manager at the same time, and a worker whose dockerd is killed goes Down and
// comes back Ready by itself once restarted. Ports 25300-25339 are this file's.
import type Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BASE_IMAGE, httpGet, waitForHttp200 } from '../support/docker.ts';
import {
  killNode,
  nodeHost,
  restartNode,
  type SwarmNode,
  swarmEngine,
  waitForNode,
} from '../support/swarm-fixture.ts';

const swarm = inject('swarm');
const manager = swarmEngine(swarm);
const PORT = 25300;
const LABEL_KEY = 'spreadserve.test';
const LABELS = { [LABEL_KEY]: 'swarm-fixture' };

const nodeNamed = (name: string): SwarmNode => {
  const node = swarm.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no node ${name}`);
  return node;
};
const managerNode = () => swarm.nodes.find((n) => n.role === 'manager') ?? nodeNamed('ssmgr');
const workerNode = () => swarm.nodes.find((n) => n.role === 'worker') ?? nodeNamed('sswork');

/** What `GET /nodes` and `GET /tasks` say (the parts read here). */
interface NodeView {
  ID: string;
  Description: { Hostname: string };
  Spec: { Role: string; Availability: string };
  Status: { State: string; Addr: string };
  ManagerStatus?: { Leader?: boolean };
}
interface TaskView {
  NodeID: string;
  Status: { State: string; Err?: string };
  Spec: { ContainerSpec: { Init?: boolean } };
}

/** An instance as issue 13 makes one: one replica, no restarts, an init, host-mode port, one node. */
function webService(name: string, node: SwarmNode): Docker.CreateServiceOptions {
  return {
    Name: name,
    Labels: LABELS,
    TaskTemplate: {
      ContainerSpec: {
        Image: BASE_IMAGE,
        Command: [
          'sh',
          '-c',
          `mkdir -p /www && echo ${name} > /www/index.html && exec httpd -f -p 80 -h /www`,
        ],
        Init: true,
        Labels: LABELS,
      },
      RestartPolicy: { Condition: 'none' },
      Placement: { Constraints: [`node.id == ${node.id}`] },
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Ports: [{ Protocol: 'tcp', TargetPort: 80, PublishedPort: PORT, PublishMode: 'host' }] },
  };
}

/** Removes this file's services (an interrupted earlier run's too) and waits, bounded, for their tasks. */
async function removeServices(): Promise<void> {
  const filters = { label: [`${LABEL_KEY}=${LABELS[LABEL_KEY]}`] };
  for (const service of await manager.listServices({ filters })) {
    await manager.getService(service.ID).remove();
  }
  for (let i = 0; i < 100; i++) {
    const tasks: TaskView[] = await manager.listTasks({ filters: { label: filters.label } });
    if (tasks.length === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function tasksOf(serviceName: string): Promise<TaskView[]> {
  return manager.listTasks({ filters: { service: [serviceName] } });
}

describe('the two-node test swarm', () => {
  beforeAll(removeServices);
  afterAll(removeServices);

  it('has a manager and a worker, both Ready and Active, each with its own engine', async () => {
    // Given the swarm the global setup built
    // When the manager lists its nodes
    const nodes: NodeView[] = await manager.listNodes();
    // Then there are exactly two, as the fixture describes them, Ready and Active
    expect(nodes.map((n) => n.Description.Hostname).sort()).toEqual(['ssmgr', 'sswork']);
    for (const described of swarm.nodes) {
      const seen = nodes.find((n) => n.ID === described.id);
      expect(seen?.Description.Hostname).toBe(described.name);
      expect(seen?.Spec.Role).toBe(described.role);
      expect(seen?.Status.State).toBe('ready');
      expect(seen?.Spec.Availability).toBe('active');
      expect(seen?.Status.Addr).toBe(described.address);
    }
    expect(nodes.find((n) => n.ID === managerNode().id)?.ManagerStatus?.Leader).toBe(true);
    // And each node's own socket is that node's engine, with the base image loaded
    for (const described of swarm.nodes) {
      expect(nodeHost(swarm, described.name)).toBe(described.host);
      const engine = swarmEngine(swarm, described.name);
      const info: { Name: string; Swarm: { NodeID: string } } = await engine.info();
      expect(info.Name).toBe(described.name);
      expect(info.Swarm.NodeID).toBe(described.id);
      await expect(engine.getImage(BASE_IMAGE).inspect()).resolves.toBeTruthy();
    }
  });

  it('runs a one-replica host-mode service on the worker that answers from the host', async () => {
    // Given the worker
    const worker = workerNode();
    // When a service like an instance is created there on port 25300
    await manager.createService(webService('ssfix-worker', worker));
    // Then the host gets HTTP 200 on the worker's address, from that service
    const body = await waitForHttp200(`http://${worker.address}:${PORT}/`, {
      deadlineMs: 20_000,
      tries: 200,
    });
    expect(body.trim()).toBe('ssfix-worker');
    // And its one task runs on the worker, with an init process
    const tasks = await tasksOf('ssfix-worker');
    expect(tasks).toHaveLength(1);
    expect(tasks[0]?.NodeID).toBe(worker.id);
    expect(tasks[0]?.Status.State).toBe('running');
    expect(tasks[0]?.Spec.ContainerSpec.Init).toBe(true);
    // And nothing answers that port on the manager yet
    expect(await httpGet(`http://${managerNode().address}:${PORT}/`, 1000)).toBeNull();
  });

  it('serves the same port from a second service on the manager at the same time', async () => {
    // Given the worker's service on port 25300 (the previous test)
    const mgr = managerNode();
    // When a second service takes port 25300 on the manager
    await manager.createService(webService('ssfix-manager', mgr));
    // Then each node answers on that port with its own service
    const body = await waitForHttp200(`http://${mgr.address}:${PORT}/`, { deadlineMs: 20_000, tries: 200 });
    expect(body.trim()).toBe('ssfix-manager');
    expect((await httpGet(`http://${workerNode().address}:${PORT}/`))?.body.trim()).toBe('ssfix-worker');
    const tasks = await tasksOf('ssfix-manager');
    expect(tasks.map((t) => [t.NodeID, t.Status.State])).toEqual([[mgr.id, 'running']]);
  });

  it('shows a killed worker Down, and Ready again once restarted', async () => {
    // Given the worker, Ready
    const worker = workerNode();
    await waitForNode(swarm, worker.name, 'ready', 5000);
    // When its dockerd is killed with SIGKILL
    await killNode(swarm, worker.name);
    // Then its engine no longer answers, and the manager marks it Down within seconds (1 s heartbeat)
    await expect(swarmEngine(swarm, worker.name).ping()).rejects.toThrow();
    const downMs = await waitForNode(swarm, worker.name, 'down', 15_000);
    // When it is started again with the same command line
    await restartNode(swarm, worker.name);
    // Then it rejoins the swarm by itself, Ready, under the same node id
    const readyMs = await waitForNode(swarm, worker.name, 'ready', 20_000);
    const info: { Swarm: { NodeID: string } } = await swarmEngine(swarm, worker.name).info();
    expect(info.Swarm.NodeID).toBe(worker.id);
    console.log(`swarm fixture: worker Down ${downMs} ms after kill -9, Ready ${readyMs} ms after restart`);
  });
});

// A real two-node Docker Swarm on this one machine, for the swarm tests (issue 13). Two extra
// dockerds, each in a network namespace of its own with a hostname of its own (ssmgr, the manager,
// and sswork, the worker; the manager runs tasks too), joined by a bridge that lives in a third
// "hub" namespace: a bridge in the root namespace would send node-to-node frames through the main
// engine's FORWARD chain (policy DROP) and lose them (FACTS "Swarm"). The host reaches the nodes
// through a veth, 10.231.0.1/24, nodes at .11 and .12: addresses that exist only in namespaces
// made here, where host-mode published ports answer. Of the main engine only `docker save` is used.
//
// swarm-global-setup.ts builds it once per run and provides the serializable SwarmInfo; the
// functions below work from any test worker given it. Teardown is a kill -9 of the nodes and the
// same cleanup that follows an interrupted run (runc state, shims, mounts, namespaces, cgroups), so
// it works after killNode, a crash or Ctrl-C alike, and again and again. One run at a time: the
// names are fixed, so startSwarm holds a kernel lock on /tmp/sssw.lock while the swarm exists.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { tryLock, unlock } from '../../lib/lock.ts';
import { BASE_IMAGE, requireDocker } from './docker.ts';
import {
  forgetDeadContainerd,
  isLive,
  pidsMentioning,
  pings,
  removeEngineLeftovers,
  sleep,
} from './engine-sandbox.ts';

const run = promisify(execFile);

export interface SwarmNode {
  /** Its hostname, as `docker node ls` shows it: ssmgr or sswork. */
  name: string;
  /** Its swarm node id. */
  id: string;
  role: 'manager' | 'worker';
  /** Where the host reaches it (host-mode published ports answer here), e.g. 10.231.0.12. */
  address: string;
  /** DOCKER_HOST of its own dockerd: unix:///tmp/sssw/<name>/docker.sock. */
  host: string;
}

export interface SwarmInfo {
  /** Where the nodes keep their sockets, data and exec roots, logs (one directory each). */
  dir: string;
  /** DOCKER_HOST of the manager's dockerd: the swarm's Engine API. */
  managerHost: string;
  nodes: SwarmNode[];
}

export const SWARM_DIR = '/tmp/sssw';
const LOCK_FILE = '/tmp/sssw.lock';
/** Namespaces, links and cgroup parents made here are named sssw-*; nothing else is. */
const PREFIX = 'sssw-';
const HUB_NS = `${PREFIX}hub`;
const BRIDGE = `${PREFIX}br`;
const HOST_LINK = `${PREFIX}host`;
const HOST_ADDRESS = '10.231.0.1';
const SWARM_PORT = 2377;
const LAYOUT = [
  { name: 'ssmgr', role: 'manager', address: '10.231.0.11' },
  { name: 'sswork', role: 'worker', address: '10.231.0.12' },
] as const;

/**
 * How long a node's dockerd may take to answer. A restart after kill -9 removes the stale
 * sandboxes first: ~10 s at a load average of 20 on 2 cores, and over 30 s was seen at 35.
 */
const READY_TIMEOUT_MS = 60_000;
/** How long the nodes may take to show Ready (or Down) on the manager. */
const NODE_STATE_TIMEOUT_MS = 30_000;
const POLL_MS = 50;
/** Bound on each docker CLI call (image save and load). */
const CLI_TIMEOUT_MS = 60_000;

/** What the manager's `GET /nodes` says of a node (the part used here). */
interface NodeView {
  ID: string;
  Description?: { Hostname?: string };
  Spec?: { Role?: string; Availability?: string };
  Status?: { State?: string };
}

const netnsOf = (name: string): string => `${PREFIX}${name}`;
const socketOf = (dir: string, name: string): string => path.join(dir, name, 'docker.sock');

/** The node called `name` (its hostname); throws on a name the swarm does not have. */
function nodeOf(info: SwarmInfo, name: string): SwarmNode {
  const node = info.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`the test swarm has no node ${name} (it has ${info.nodes.map((n) => n.name)})`);
  return node;
}

/** DOCKER_HOST (unix://...) of that node's own dockerd. */
export function nodeHost(info: SwarmInfo, name: string): string {
  return nodeOf(info, name).host;
}

/** A dockerode client of a node's own dockerd (the manager's by default: the swarm's API). */
export function swarmEngine(info: SwarmInfo, name?: string): Docker {
  const host = name === undefined ? info.managerHost : nodeHost(info, name);
  return new Docker({ socketPath: host.slice('unix://'.length) });
}

/** Throws one sentence saying why this machine cannot build the swarm, if it cannot. */
async function requireSwarmMachine(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'The swarm tests build a two-node Docker Swarm from extra dockerds in network namespaces and must run as root (as CI does).',
    );
  }
  const dirs = (process.env.PATH ?? '').split(':').filter(Boolean);
  for (const tool of ['ip', 'nsenter', 'unshare', 'hostname', 'dockerd', 'docker', 'runc', 'umount']) {
    const found = dirs.some((d) => {
      try {
        accessSync(path.join(d, tool), constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
    if (!found) {
      throw new Error(
        `The swarm tests need \`${tool}\` on the PATH to build their two-node swarm, and it is missing.`,
      );
    }
  }
  await requireDocker(); // the main engine holds the images the nodes get
}

/**
 * Pids of the processes in the node's namespace: its dockerd, containerd, shims and docker-proxy
 * (containers have namespaces of their own). Asking `ip netns pids` costs ~0.2 s where a scan of
 * every command line (pidsMentioning) costs seconds on a machine with thousands of processes.
 * Once the namespace is gone, nothing of the node can be in it: then the scan, to be sure.
 */
async function nodeProcesses(dir: string, name: string): Promise<number[]> {
  const ns = netnsOf(name);
  if (!existsSync(`/run/netns/${ns}`)) {
    return existsSync(path.join(dir, name)) ? pidsMentioning(`${path.join(dir, name)}/`) : [];
  }
  const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
  return stdout
    .split('\n')
    .filter(Boolean)
    .map(Number)
    .filter((pid) => pid !== process.pid);
}

/** Pids of the node's dockerd: the one process whose command line names its socket. */
async function daemonPids(dir: string, name: string): Promise<number[]> {
  const needle = `unix://${socketOf(dir, name)}`;
  return (await nodeProcesses(dir, name)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
    } catch {
      return false; // gone meanwhile
    }
  });
}

const killAll = (pids: number[]): void => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
};

/** Waits (bounded) until none of `pids` runs; a zombie counts as gone. */
async function awaitGone(pids: number[], timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(isLive) && Date.now() < deadline) await sleep(POLL_MS);
}

/**
 * Starts the node's dockerd: in its namespace (nsenter, not `ip netns exec`, which remounts /sys
 * and hides the cgroups), under its own hostname (a UTS namespace of its own), on its own socket,
 * roots, pid file, config file and cgroup parent, preferring local images over pulls (nothing
 * may pull here). Resolves when it answers. The same command line every time, so it finds its
 * swarm state again after a kill.
 */
async function startDaemon(dir: string, name: string): Promise<void> {
  const nodeDir = path.join(dir, name);
  const logPath = path.join(nodeDir, 'dockerd.log');
  const log = openSync(logPath, 'a');
  const child = spawn(
    'nsenter',
    [
      `--net=/run/netns/${netnsOf(name)}`,
      'unshare',
      '--uts',
      'sh',
      '-c',
      'hostname "$1" && shift && exec "$@"',
      'sh',
      name,
      'dockerd',
      '-H',
      `unix://${socketOf(dir, name)}`,
      '--data-root',
      path.join(nodeDir, 'data'),
      '--exec-root',
      path.join(nodeDir, 'exec'),
      '--pidfile',
      path.join(nodeDir, 'docker.pid'),
      '--config-file',
      path.join(nodeDir, 'daemon.json'),
      '--cgroup-parent',
      netnsOf(name),
    ],
    { stdio: ['ignore', log, log], env: { ...process.env, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' } },
  );
  closeSync(log); // the child has its own copy
  // Any process may start a node (restartNode runs in test workers); it must not keep one alive.
  child.unref();
  let exited = '';
  child.once('exit', (code, signal) => {
    exited = ` (it exited: ${signal ?? `code ${code}`})`;
  });
  const started = Date.now();
  while (!exited && Date.now() - started < READY_TIMEOUT_MS) {
    if (await pings(socketOf(dir, name), 1000)) return;
    await sleep(POLL_MS);
  }
  // The log goes with the teardown: its last lines go into the error.
  const tail = readFileSync(logPath, 'utf8').trimEnd().split('\n').slice(-5).join('\n');
  throw new Error(
    `the swarm node ${name}'s dockerd did not answer within ${Date.now() - started} ms${exited}; ${logPath} ends:\n${tail}`,
  );
}

/** `ip` commands, one per line, in one process (`-n ns`: inside that namespace). */
async function ipBatch(commands: string[], ns?: string): Promise<void> {
  const child = execFile('ip', [...(ns ? ['-n', ns] : []), '-batch', '-']);
  let stderr = '';
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin?.end(`${commands.join('\n')}\n`);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`ip ${ns ? `-n ${ns} ` : ''}-batch failed: ${stderr.trim()}`);
}

/**
 * The hub namespace and its bridge, the host's veth into it (10.231.0.1), and each node's
 * namespace with an eth0 on the bridge: four `ip` processes, each one a batch. Link names follow
 * `name` and `dev` (a bare `br` would read as `broadcast`).
 */
async function makeNetwork(): Promise<void> {
  await ipBatch([
    `netns add ${HUB_NS}`,
    ...LAYOUT.map(({ name }) => `netns add ${netnsOf(name)}`),
    `link add name ${HOST_LINK} type veth peer name host netns ${HUB_NS}`,
    `addr add ${HOST_ADDRESS}/24 dev ${HOST_LINK}`,
    `link set dev ${HOST_LINK} up`,
    // In the hub a node's end is named after the node; in the node it is its eth0.
    ...LAYOUT.map(
      ({ name }) => `link add name ${name} netns ${HUB_NS} type veth peer name eth0 netns ${netnsOf(name)}`,
    ),
  ]);
  await ipBatch(
    [
      'link set dev lo up',
      `link add name ${BRIDGE} type bridge`,
      `link set dev ${BRIDGE} up`,
      `link set dev host master ${BRIDGE} up`,
      ...LAYOUT.map(({ name }) => `link set dev ${name} master ${BRIDGE} up`),
    ],
    HUB_NS,
  );
  await Promise.all(
    LAYOUT.map(({ name, address }) =>
      ipBatch(
        [`addr add ${address}/24 dev eth0`, 'link set dev eth0 up', 'link set dev lo up'],
        netnsOf(name),
      ),
    ),
  );
}

/** Names in a directory of the kernel's (namespaces, links); none when it cannot be read. */
function namesIn(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Kills what runs in a namespace of ours, if it exists, then deletes it. */
async function removeNamespace(ns: string): Promise<void> {
  if (!existsSync(`/run/netns/${ns}`)) return;
  const { stdout } = await run('ip', ['netns', 'pids', ns]).catch(() => ({ stdout: '' }));
  killAll(stdout.split('\n').filter(Boolean).map(Number));
  await run('ip', ['netns', 'del', ns]).catch(() => undefined);
}

/** What of a swarm is still there: mounts under `dir`, sssw-* namespaces and links, `dir`. */
function leftovers(dir: string): string[] {
  const mounts = readFileSync('/proc/mounts', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[1] ?? '')
    .filter((m) => m.startsWith(`${dir}/`));
  return [
    ...mounts.map((m) => `mount ${m}`),
    ...namesIn('/run/netns')
      .filter((ns) => ns.startsWith(PREFIX))
      .map((ns) => `namespace ${ns}`),
    ...namesIn('/sys/class/net')
      .filter((link) => link.startsWith(PREFIX))
      .map((link) => `link ${link}`),
    ...(existsSync(dir) ? [`directory ${dir}`] : []),
  ];
}

/**
 * Removes everything a swarm of this fixture may have left, whether it was torn down, killed or
 * interrupted: all the nodes' processes first, then each node's runc state (its containers),
 * mounts, namespace, files and cgroup parent, then any sssw-* namespace or link, the directory.
 * Throws, naming them, when things are still there afterwards. The caller holds the run's lock.
 */
async function removeSwarm(dir: string): Promise<void> {
  // All of a node's processes (dockerd, containerd, shims, docker-proxy) at once: with dockerd
  // gone nothing starts a container meanwhile, and the containers go with their runc state below.
  const processes = (await Promise.all(LAYOUT.map(({ name }) => nodeProcesses(dir, name)))).flat();
  killAll(processes);
  await awaitGone(processes);
  await Promise.all(
    LAYOUT.map(
      ({ name }) =>
        removeEngineLeftovers(
          path.join(dir, name),
          netnsOf(name),
          () => removeNamespace(netnsOf(name)),
          async () => [], // killed above
        ).catch(() => undefined), // what stays is named below
    ),
  );
  // Whatever else is named sssw-: the hub (and with it the host's veth), an older layout's leftovers.
  for (const ns of namesIn('/run/netns')) if (ns.startsWith(PREFIX)) await removeNamespace(ns);
  for (const link of namesIn('/sys/class/net')) {
    if (link.startsWith(PREFIX)) await run('ip', ['link', 'del', link]).catch(() => undefined);
  }
  rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  // The kernel takes the host's veth away with the hub's namespace, a moment later.
  let left = leftovers(dir);
  for (let i = 0; i < 40 && left.length > 0; i++) {
    await sleep(POLL_MS);
    left = leftovers(dir);
  }
  if (left.length > 0) throw new Error(`the test swarm could not be removed: ${left.join(', ')} left`);
}

/** Takes the run's lock for this process (startSwarm's hold counts), or throws naming its holder. */
function lockRun(): void {
  const holder = tryLock(LOCK_FILE);
  if (holder !== null) {
    throw new Error(`Another swarm test run (process ${holder}) is using ${SWARM_DIR}; let it finish first.`);
  }
}

/**
 * Removes what an interrupted earlier run left (startSwarm does this first). Refuses while
 * another process's run holds the lock: it would pull its swarm from under it.
 */
export async function cleanSwarmLeftovers(): Promise<void> {
  lockRun();
  try {
    await removeSwarm(SWARM_DIR);
  } finally {
    unlock(LOCK_FILE);
  }
}

/** Loads an image of the main engine into every node (docker save, then load on each at once). */
export async function loadImage(info: SwarmInfo, tag: string): Promise<void> {
  const tar = path.join(info.dir, `image-${randomBytes(4).toString('hex')}.tar`);
  try {
    await run('docker', ['save', '-o', tar, tag], { timeout: CLI_TIMEOUT_MS });
    await Promise.all(
      info.nodes.map((n) => run('docker', ['-H', n.host, 'load', '-i', tar], { timeout: CLI_TIMEOUT_MS })),
    );
  } finally {
    rmSync(tar, { force: true });
  }
}

/** The manager's view of the nodes, by hostname. */
async function nodeViews(info: SwarmInfo): Promise<Map<string, NodeView>> {
  const views: NodeView[] = await swarmEngine(info).listNodes();
  return new Map(views.map((v) => [v.Description?.Hostname ?? v.ID, v]));
}

/**
 * Waits until the manager shows the node in `state` ('ready', or 'down' after killNode);
 * resolves with the time it took in ms, throws after `timeoutMs` naming the last state seen.
 */
export async function waitForNode(
  info: SwarmInfo,
  name: string,
  state: 'ready' | 'down',
  timeoutMs = NODE_STATE_TIMEOUT_MS,
): Promise<number> {
  nodeOf(info, name);
  const started = Date.now();
  let last = 'unknown';
  while (Date.now() - started < timeoutMs) {
    try {
      last = (await nodeViews(info)).get(name)?.Status?.State ?? 'absent';
      if (last === state) return Date.now() - started;
    } catch (err) {
      last = `no answer from the manager (${err instanceof Error ? err.message : String(err)})`;
    }
    await sleep(200);
  }
  throw new Error(`swarm node ${name} did not become ${state} within ${timeoutMs} ms (last: ${last})`);
}

/**
 * Builds the swarm: cleans what an earlier run left, makes the namespaces, starts both dockerds,
 * inits the swarm on the manager (1 s dispatcher heartbeat, so a lost node shows Down in ~3 s),
 * joins the worker, loads the base image into both nodes, and resolves once both are Ready.
 * Throws one sentence when this machine cannot (not root, a tool missing, no main engine).
 */
export async function startSwarm(): Promise<SwarmInfo> {
  await requireSwarmMachine();
  lockRun(); // held until teardownSwarm, or until this process ends however it ends
  const dir = SWARM_DIR;
  const info: SwarmInfo = {
    dir,
    managerHost: `unix://${socketOf(dir, 'ssmgr')}`,
    nodes: LAYOUT.map((n) => ({ ...n, id: '', host: `unix://${socketOf(dir, n.name)}` })),
  };
  try {
    await removeSwarm(dir); // what an interrupted earlier run left
    for (const { name } of LAYOUT) {
      mkdirSync(path.join(dir, name, 'data'), { recursive: true });
      writeFileSync(path.join(dir, name, 'daemon.json'), '{}\n');
    }
    await makeNetwork();
    await Promise.all(LAYOUT.map(({ name }) => startDaemon(dir, name)));
    const [manager, worker] = info.nodes.map((n) => swarmEngine(info, n.name));
    const [managerNode, workerNode] = info.nodes;
    if (!manager || !worker || !managerNode || !workerNode) throw new Error('the layout has two nodes');
    const joined = (async () => {
      await manager.swarmInit({
        ListenAddr: `${managerNode.address}:${SWARM_PORT}`,
        AdvertiseAddr: `${managerNode.address}:${SWARM_PORT}`,
        Spec: { Dispatcher: { HeartbeatPeriod: 1_000_000_000 } },
      });
      const swarm: { JoinTokens: { Worker: string } } = await manager.swarmInspect();
      await worker.swarmJoin({
        ListenAddr: `${workerNode.address}:${SWARM_PORT}`,
        AdvertiseAddr: `${workerNode.address}:${SWARM_PORT}`,
        RemoteAddrs: [`${managerNode.address}:${SWARM_PORT}`],
        JoinToken: swarm.JoinTokens.Worker,
      });
    })();
    await Promise.all([joined, loadImage(info, BASE_IMAGE)]);
    for (const node of info.nodes) await waitForNode(info, node.name, 'ready');
    const views = await nodeViews(info);
    for (const node of info.nodes) node.id = views.get(node.name)?.ID ?? '';
    return info;
  } catch (err) {
    await removeSwarm(dir).catch(() => undefined); // the first error says more
    unlock(LOCK_FILE);
    throw err;
  }
}

/**
 * kill -9 of the node's dockerd (its containerd follows it; its shims and containers stay, as
 * after a crash). Resolves once it is gone and its pid files are cleared, ready for restartNode.
 */
export async function killNode(info: SwarmInfo, name: string): Promise<void> {
  nodeOf(info, name);
  const pids = await daemonPids(info.dir, name);
  if (pids.length === 0) throw new Error(`swarm node ${name}'s dockerd is not running`);
  killAll(pids);
  await awaitGone(pids);
  if (pids.some(isLive)) throw new Error(`swarm node ${name}'s dockerd survived SIGKILL for 5 s`);
  // A zombie still "exists" to dockerd's pid file check, as its containerd does to its own.
  rmSync(path.join(info.dir, name, 'docker.pid'), { force: true });
  await forgetDeadContainerd(path.join(info.dir, name, 'exec'));
}

/**
 * Starts the node's dockerd again with the same command line; resolves when it answers. It
 * rejoins the swarm by itself (waitForNode(info, name, 'ready') waits for that).
 */
export async function restartNode(info: SwarmInfo, name: string): Promise<void> {
  nodeOf(info, name);
  if ((await daemonPids(info.dir, name)).length > 0)
    throw new Error(`swarm node ${name}'s dockerd is already running`);
  await startDaemon(info.dir, name);
}

/**
 * Removes the swarm entirely and releases the run's lock; works after kills and again after
 * itself. Throws, naming them, if mounts, namespaces or links are still there afterwards.
 */
export async function teardownSwarm(info: SwarmInfo): Promise<void> {
  lockRun();
  try {
    await removeSwarm(info.dir);
  } finally {
    unlock(LOCK_FILE); // this call's hold
    unlock(LOCK_FILE); // startSwarm's, when it was this process's
  }
}

/** The containers carrying `label` on one node's own engine. */
export function nodeContainers(
  info: SwarmInfo,
  name: string,
  label: string,
): Promise<Docker.ContainerInfo[]> {
  return swarmEngine(info, name).listContainers({ all: true, filters: { label: [label] } });
}

/** Polls a node until it holds no container carrying `label` (at most `tries` looks, `everyMs`
 * apart): what is left then. A node back from a kill stops its old containers by itself. */
export async function untilNoContainers(
  info: SwarmInfo,
  name: string,
  label: string,
  { tries = 60, everyMs = 500 } = {},
): Promise<Docker.ContainerInfo[]> {
  let left = await nodeContainers(info, name, label);
  for (let i = 1; i < tries && left.length > 0; i++) {
    await sleep(everyMs);
    left = await nodeContainers(info, name, label);
  }
  return left;
}

/**
 * Removes what a test file (or an interrupted earlier run of it) left on the swarm: the services
 * carrying `label`, waiting (bounded) for their tasks to stop, then every container carrying
 * `label` or one of `moreLabels` on each node.
 */
export async function removeLabelled(
  info: SwarmInfo,
  label: string,
  moreLabels: string[] = [],
): Promise<void> {
  const manager = swarmEngine(info);
  for (const s of await manager.listServices({ filters: { label: [label] } })) {
    await manager
      .getService(s.ID)
      .remove()
      .catch(() => undefined);
  }
  for (let i = 0; i < 100; i++) {
    const tasks = await manager.listTasks({ filters: { label: [label], 'desired-state': ['running'] } });
    if (tasks.length === 0) break;
    await sleep(200);
  }
  for (const node of info.nodes) {
    for (const l of [label, ...moreLabels]) {
      for (const c of await nodeContainers(info, node.name, l).catch(() => [])) {
        await swarmEngine(info, node.name)
          .getContainer(c.Id)
          .remove({ force: true })
          .catch(() => undefined);
      }
    }
  }
}

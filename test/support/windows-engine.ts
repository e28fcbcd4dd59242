// A stand-in for a Windows Server 2022 Docker engine, on 127.0.0.1, at the Engine API boundary.
// No Windows engine can run on this machine, so this is the one place where the engine is stood
// in for (as Slack is by slack-stand-in.ts): the real DockerEngine (dockerode) talks HTTP to it
// exactly as it would to dockerd on a Windows host. It answers /_ping, /version and /info as a
// Windows engine does, records every request (POST /containers/create bodies above all),
// answers create 201 {Id, Warnings: []}, start 204, and inspect, list, remove, logs and image
// inspect just enough for a launch through the core to complete. Anything else is answered 404
// and recorded, so a test sees a call it did not expect.
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

// The answers of a Windows Server 2022 host, shaped after the Engine API reference (v1.41,
// https://docs.docker.com/engine/api/v1.41/: SystemVersion for GET /version, SystemInfo for GET
// /info), with the values a Windows Server 2022 Datacenter host with Docker Engine 24 reports
// (OSType "windows", the windowsfilter driver, the nat network, process isolation by default).
export const WINDOWS_VERSION = {
  Platform: { Name: 'Docker Engine - Community' },
  Components: [
    {
      Name: 'Engine',
      Version: '24.0.7',
      Details: {
        ApiVersion: '1.43',
        Arch: 'amd64',
        BuildTime: '2023-10-26T09:08:44.000000000+00:00',
        Experimental: 'false',
        GitCommit: '311b9ff',
        GoVersion: 'go1.20.10',
        KernelVersion: '10.0 20348 (20348.1.amd64fre.fe_release.210507-1500)',
        MinAPIVersion: '1.24',
        Os: 'windows',
      },
    },
  ],
  Version: '24.0.7',
  ApiVersion: '1.43',
  MinAPIVersion: '1.24',
  GitCommit: '311b9ff',
  GoVersion: 'go1.20.10',
  Os: 'windows',
  Arch: 'amd64',
  KernelVersion: '10.0 20348 (20348.1.amd64fre.fe_release.210507-1500)',
  BuildTime: '2023-10-26T09:08:44.000000000+00:00',
};

export const WINDOWS_INFO = {
  ID: 'W7QZ:3M2X:5TQK:ZJ4B:OKVN:HQ2P:6SUD:LKCE:2YRB:4MXD:XK7C:PJ2T',
  Containers: 0,
  ContainersRunning: 0,
  ContainersPaused: 0,
  ContainersStopped: 0,
  Images: 2,
  Driver: 'windowsfilter',
  DriverStatus: null,
  Plugins: {
    Volume: ['local'],
    Network: ['ics', 'internal', 'l2bridge', 'l2tunnel', 'nat', 'null', 'overlay', 'private', 'transparent'],
    Authorization: null,
    Log: ['awslogs', 'etwlogs', 'fluentd', 'gcplogs', 'gelf', 'json-file', 'local', 'splunk', 'syslog'],
  },
  MemoryLimit: false,
  SwapLimit: false,
  CpuCfsPeriod: false,
  CpuCfsQuota: false,
  CPUShares: false,
  CPUSet: false,
  PidsLimit: false,
  IPv4Forwarding: true,
  BridgeNfIptables: true,
  BridgeNfIp6tables: true,
  Debug: false,
  NFd: -1,
  OomKillDisable: false,
  NGoroutines: -1,
  SystemTime: '2026-11-29T10:00:00.0000000Z',
  LoggingDriver: 'json-file',
  CgroupDriver: '',
  NEventsListener: 0,
  KernelVersion: '10.0 20348 (20348.1.amd64fre.fe_release.210507-1500)',
  OperatingSystem: 'Windows Server 2022 Datacenter Version 2009 (OS Build 20348.2113)',
  OSVersion: '10.0 20348 (20348.1.amd64fre.fe_release.210507-1500)',
  OSType: 'windows',
  Architecture: 'x86_64',
  IndexServerAddress: 'https://index.docker.io/v1/',
  NCPU: 4,
  MemTotal: 17_178_869_760,
  DockerRootDir: 'C:\\ProgramData\\docker',
  Name: 'WIN-SPREADSERVE01',
  Labels: [],
  ExperimentalBuild: false,
  ServerVersion: '24.0.7',
  Runtimes: {},
  DefaultRuntime: '',
  Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '' },
  LiveRestoreEnabled: false,
  Isolation: 'process',
  InitBinary: '',
  SecurityOptions: null,
};

export interface RecordedCall {
  method: string;
  /** Without the query string or an API version prefix. */
  path: string;
  query: URLSearchParams;
  /** Parsed JSON body, when one was sent. */
  body?: unknown;
  /** The status the stand-in answered. */
  status: number;
}

interface StoodInContainer {
  id: string;
  name: string;
  body: Record<string, unknown>;
  state: 'created' | 'running';
  created: string;
  startedAt: string;
}

export interface WindowsEngineOptions {
  /** Image tags that exist on this "host" (answered by GET /images/{name}/json). */
  images?: string[];
  /** Called when a container is started: a test plays its web server from here. */
  onStart?: (body: Record<string, unknown>) => Promise<void> | void;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

/** A request body as JSON when it is JSON, else its text. */
function parsed(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export class WindowsEngineStandIn {
  readonly calls: RecordedCall[] = [];
  private readonly containers = new Map<string, StoodInContainer>();
  private readonly server = http.createServer((req, res) => void this.answer(req, res));

  constructor(private readonly options: WindowsEngineOptions = {}) {}

  /** Listens on 127.0.0.1:`port` (0: any free port); returns the DOCKER_HOST to reach it. */
  async start(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', resolve);
    });
    return `tcp://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** The bodies of every POST /containers/create, in order. */
  createBodies(): Record<string, unknown>[] {
    return this.calls
      .filter((c) => c.method === 'POST' && c.path === '/containers/create')
      .map((c) => c.body as Record<string, unknown>);
  }

  reset(): void {
    this.calls.length = 0;
  }

  private find(idOrName: string): StoodInContainer | undefined {
    return this.containers.get(idOrName) ?? [...this.containers.values()].find((c) => c.name === idOrName);
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const path = url.pathname.replace(/^\/v\d+\.\d+/, '');
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const call: RecordedCall = {
      method: req.method ?? 'GET',
      path,
      query: url.searchParams,
      ...(text ? { body: parsed(text) } : {}),
      status: 404,
    };
    this.calls.push(call);
    const reply = await this.route(call);
    call.status = reply.status;
    if (reply.json === undefined) {
      res.writeHead(reply.status, reply.text === undefined ? {} : { 'Content-Type': 'text/plain' });
      res.end(reply.text);
      return;
    }
    res.writeHead(reply.status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(reply.json));
  }

  private async route(call: RecordedCall): Promise<{ status: number; json?: unknown; text?: string }> {
    const { method, path } = call;
    const missing = {
      status: 404,
      json: { message: `stand-in: no route or no such object: ${method} ${path}` },
    };
    if (method === 'GET' && path === '/_ping') return { status: 200, text: 'OK' };
    if (method === 'GET' && path === '/version') return { status: 200, json: WINDOWS_VERSION };
    if (method === 'GET' && path === '/info') return { status: 200, json: WINDOWS_INFO };
    if (method === 'GET' && path === '/containers/json')
      return { status: 200, json: this.listed(call.query) };
    if (method === 'POST' && path === '/containers/create') {
      const id = randomBytes(32).toString('hex');
      const body = (call.body ?? {}) as Record<string, unknown>;
      const name = call.query.get('name') ?? id.slice(0, 12);
      const created = new Date().toISOString();
      this.containers.set(id, { id, name, body, state: 'created', created, startedAt: ZERO_TIME });
      return { status: 201, json: { Id: id, Warnings: [] } };
    }
    const image = /^\/images\/(.+)\/json$/.exec(path);
    if (method === 'GET' && image) {
      const tag = decodeURIComponent(image[1] ?? '');
      if (!this.options.images?.includes(tag)) return missing;
      const Id = `sha256:${randomBytes(32).toString('hex')}`;
      return {
        status: 200,
        json: { Id, Size: 5_400_000_000, Created: new Date().toISOString(), Config: {} },
      };
    }
    const container = /^\/containers\/([^/]+)(\/[a-z]+)?$/.exec(path);
    const found = container ? this.find(decodeURIComponent(container[1] ?? '')) : undefined;
    if (!container || !found) return missing;
    const action = `${method} ${container[2] ?? ''}`;
    if (action === 'POST /start') {
      found.state = 'running';
      found.startedAt = new Date().toISOString();
      await this.options.onStart?.(found.body);
      return { status: 204 };
    }
    if (action === 'GET /json') return { status: 200, json: this.inspected(found) };
    if (action === 'GET /logs') return { status: 200, text: '' };
    if (action === 'DELETE ') {
      this.containers.delete(found.id);
      return { status: 204 };
    }
    return missing;
  }

  private inspected(c: StoodInContainer) {
    return {
      Id: c.id,
      Name: `/${c.name}`,
      Created: c.created,
      Config: { Image: c.body.Image, Labels: c.body.Labels ?? {}, Env: c.body.Env ?? [] },
      State: { Status: c.state, ExitCode: 0, StartedAt: c.startedAt, FinishedAt: ZERO_TIME },
    };
  }

  /** GET /containers/json: those carrying every `label=k=v` of the filters. */
  private listed(query: URLSearchParams) {
    const filters = JSON.parse(query.get('filters') ?? '{}') as { label?: string[] };
    const wanted = filters.label ?? [];
    return [...this.containers.values()]
      .filter((c) => {
        const labels = (c.body.Labels ?? {}) as Record<string, string>;
        return wanted.every((l) => {
          const eq = l.indexOf('=');
          return eq < 0 ? l in labels : labels[l.slice(0, eq)] === l.slice(eq + 1);
        });
      })
      .map((c) => ({
        Id: c.id,
        Names: [`/${c.name}`],
        Image: c.body.Image,
        Labels: c.body.Labels ?? {},
        State: c.state,
        Status: c.state === 'running' ? 'Up Less than a second' : 'Created',
        Created: Math.floor(Date.parse(c.created) / 1000),
      }));
  }
}

// loadConfig(env) is pure: the defaults, one clear message per bad variable, and
// .env.example documenting exactly the variables the schema knows, with their defaults.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  CONFIG_VARIABLES,
  type Config,
  ConfigError,
  environment,
  loadConfig,
  parsePortRanges,
} from '../../core/config.ts';
import { dockerConnection } from '../../core/context.ts';
import { DockerEngine } from '../../engine/docker.ts';

// ---- builders -------------------------------------------------------------------------

const ENV_EXAMPLE = new URL('../../.env.example', import.meta.url);

/** The variables .env.example sets, parsed the way `node --env-file` reads them. */
function envExample(): Record<string, string> {
  const parsed = parseEnv(readFileSync(ENV_EXAMPLE, 'utf8'));
  return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, v ?? '']));
}

/** The ConfigError thrown by loadConfig(env); fails the test when none is thrown. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error(`expected loadConfig(${JSON.stringify(env)}) to throw`);
}

/** The message's line about one variable ("  NAME: ..."), or undefined. */
function lineAbout(err: ConfigError, variable: string): string | undefined {
  return err.message.split('\n').find((line) => line.trim().startsWith(`${variable}:`));
}

const DEFAULTS: Config = {
  slack: {},
  httpPort: 3000,
  dockerTlsVerify: false,
  dockerCallTimeoutMs: 10_000,
  ssh: {},
  dataFile: './data/spreadserve.json',
  templatesFile: './spreadserve.templates.yml',
  ports: [{ from: 8080, to: 9079 }],
  bindIp: '0.0.0.0',
  networkSize: 1000,
  engine: 'docker',
  placement: [],
  nodeAddresses: {},
  nodeEndpoints: {},
  publicUrl: 'http://localhost',
  scope: 'default',
  admins: [],
  users: [],
  maxInstancesPerUser: 3,
  reclaim: {
    cron: '*/5 * * * *',
    idleTimeoutMs: 7_200_000,
    idleWarningMs: 900_000,
    idleBytesFloor: 16_384,
    dryRun: false,
    sampler: 'auto',
  },
  buildTimeoutMs: 1_800_000,
  logLevel: 'info',
};

// ---- tests ----------------------------------------------------------------------------

describe('loadConfig defaults', () => {
  it('gives the documented defaults for an empty environment', () => {
    // given no variables; when loaded
    const config = loadConfig({});

    // then every value is the documented default
    expect(config).toEqual(DEFAULTS);
    expect(config.slack.botToken).toBeUndefined();
    expect(config.dockerHost).toBeUndefined();
    expect(config.reclaim.maxLifetimeMs).toBeUndefined();
    expect(config.opsChannel).toBeUndefined();
  });

  it('makes the default pool one range of 1000 ports', () => {
    const [range, ...rest] = loadConfig({}).ports;
    expect(rest).toEqual([]);
    expect(range!.to - range!.from + 1).toBe(1000);
  });

  it('ignores variables the schema does not know', () => {
    expect(loadConfig({ PATH: '/usr/bin', HOME: '/root', NODE_ENV: 'test' })).toEqual(DEFAULTS);
  });
});

describe('loadConfig with values', () => {
  it('reads every kind of value', () => {
    // given a full environment
    const config = loadConfig({
      SLACK_SIGNING_SECRET: 'secret',
      SLACK_BOT_TOKEN: 'xoxb-123',
      SLACK_APP_TOKEN: 'xapp-456',
      SLACK_API_URL: 'http://127.0.0.1:9999/api/',
      HTTP_PORT: '3100',
      SPREADSERVE_PORTS: '9000-9009, 8080',
      SPREADSERVE_BIND_IP: '127.0.0.1',
      SPREADSERVE_NETWORK_SIZE: '500',
      SPREADSERVE_PUBLIC_URL: 'https://servers.example.com/',
      SPREADSERVE_ADMINS: 'U0123ABC, S0456DEF',
      SPREADSERVE_USERS: 'W0999ZZZ',
      MAX_INSTANCES_PER_USER: '0',
      RECLAIM_CRON: '0 */10 * * * *',
      IDLE_TIMEOUT: '90s',
      IDLE_WARNING: '1m',
      IDLE_BYTES_FLOOR: '1024',
      MAX_LIFETIME: '1d',
      RECLAIM_DRY_RUN: 'yes',
      SPREADSERVE_SAMPLER: 'stats',
      BUILD_TIMEOUT: '1h',
      OPS_CHANNEL: 'C0123ABC',
      LOG_LEVEL: 'debug',
    });

    // then each is parsed into its typed form
    expect(config.slack).toEqual({
      signingSecret: 'secret',
      botToken: 'xoxb-123',
      appToken: 'xapp-456',
      apiUrl: 'http://127.0.0.1:9999/api/',
    });
    expect(config.httpPort).toBe(3100);
    expect(config.networkSize).toBe(500);
    expect(config.ports).toEqual([
      { from: 8080, to: 8080 },
      { from: 9000, to: 9009 },
    ]);
    expect(config.bindIp).toBe('127.0.0.1');
    expect(config.publicUrl).toBe('https://servers.example.com');
    expect(config.admins).toEqual(['U0123ABC', 'S0456DEF']);
    expect(config.users).toEqual(['W0999ZZZ']);
    expect(config.maxInstancesPerUser).toBe(0);
    expect(config.reclaim).toEqual({
      cron: '0 */10 * * * *',
      idleTimeoutMs: 90_000,
      idleWarningMs: 60_000,
      idleBytesFloor: 1024,
      maxLifetimeMs: 86_400_000,
      dryRun: true,
      sampler: 'stats',
    });
    expect(config.buildTimeoutMs).toBe(3_600_000);
    expect(config.opsChannel).toBe('C0123ABC');
    expect(config.logLevel).toBe('debug');
  });

  it('treats empty optional variables as unset', () => {
    expect(
      loadConfig({
        SLACK_SIGNING_SECRET: '',
        SLACK_BOT_TOKEN: '',
        SLACK_APP_TOKEN: '',
        SLACK_API_URL: '',
        DOCKER_HOST: '',
        SPREADSERVE_ADMINS: '',
        SPREADSERVE_USERS: '',
        MAX_LIFETIME: '',
        RECLAIM_DRY_RUN: '',
        OPS_CHANNEL: '',
      }),
    ).toEqual(DEFAULTS);
  });

  it('accepts an IPv6 bind address and public URL host', () => {
    const config = loadConfig({ SPREADSERVE_BIND_IP: '::', SPREADSERVE_PUBLIC_URL: 'http://[::1]' });
    expect(config.bindIp).toBe('::');
    expect(config.publicUrl).toBe('http://[::1]');
  });
});

describe('loadConfig with a bad value', () => {
  const cases: { variable: string; value: string; expects: RegExp }[] = [
    { variable: 'HTTP_PORT', value: 'abc', expects: /expected a TCP port number, got "abc"/ },
    { variable: 'HTTP_PORT', value: '70000', expects: /expected a TCP port 0-65535/ },
    {
      variable: 'SPREADSERVE_PORTS',
      value: '9000-8000',
      expects: /expected port ranges like 8080-9079.*"9000-8000"/,
    },
    {
      variable: 'SPREADSERVE_PORTS',
      value: '8080-8090,8085-8095',
      expects: /expected port ranges like 8080-9079/,
    },
    { variable: 'SPREADSERVE_PORTS', value: '0-10', expects: /ports 1-65535/ },
    { variable: 'SPREADSERVE_PORTS', value: '', expects: /expected port ranges/ },
    { variable: 'SPREADSERVE_NETWORK_SIZE', value: '1024', expects: /expected a whole number 1-1023/ },
    { variable: 'SPREADSERVE_NETWORK_SIZE', value: '0', expects: /expected a whole number 1-1023/ },
    {
      variable: 'SPREADSERVE_NETWORK_SIZE',
      value: 'many',
      expects: /expected a whole number 1-1023, got "many"/,
    },
    {
      variable: 'IDLE_TIMEOUT',
      value: '5x',
      expects: /expected a number and a unit, like 90s, 30m, 2h or 1d, got "5x"/,
    },
    { variable: 'IDLE_WARNING', value: '0s', expects: /expected a number and a unit/ },
    { variable: 'MAX_LIFETIME', value: 'forever', expects: /expected a number and a unit.* or empty/ },
    { variable: 'BUILD_TIMEOUT', value: '1.5h', expects: /expected a number and a unit/ },
    {
      variable: 'SPREADSERVE_ADMINS',
      value: 'bob',
      expects: /expected Slack user or user-group ids.*got "bob"/,
    },
    { variable: 'SPREADSERVE_USERS', value: 'U0123ABC, alice', expects: /got "alice"/ },
    { variable: 'RECLAIM_DRY_RUN', value: 'maybe', expects: /expected true or false/ },
    { variable: 'SLACK_BOT_TOKEN', value: 'abc', expects: /expected a bot token starting with xoxb-/ },
    {
      variable: 'SLACK_APP_TOKEN',
      value: 'xoxb-1',
      expects: /expected an app-level token starting with xapp-/,
    },
    { variable: 'SLACK_API_URL', value: 'not a url', expects: /expected a URL/ },
    { variable: 'SPREADSERVE_BIND_IP', value: 'nope', expects: /expected an IP address like 0.0.0.0/ },
    { variable: 'SPREADSERVE_PUBLIC_URL', value: 'localhost', expects: /expected an http\(s\) URL/ },
    { variable: 'SPREADSERVE_PUBLIC_URL', value: 'http://localhost:8000', expects: /without port or path/ },
    {
      variable: 'SPREADSERVE_PUBLIC_URL',
      value: 'https://example.com/servers',
      expects: /without port or path/,
    },
    { variable: 'SPREADSERVE_PUBLIC_URL', value: 'ftp://example.com', expects: /expected an http\(s\) URL/ },
    { variable: 'SPREADSERVE_SCOPE', value: 'Has Spaces', expects: /expected a short lowercase id/ },
    { variable: 'MAX_INSTANCES_PER_USER', value: '-1', expects: /expected a whole number \(0 = no limit\)/ },
    { variable: 'IDLE_BYTES_FLOOR', value: '16 KiB', expects: /expected a number of bytes/ },
    {
      variable: 'RECLAIM_CRON',
      value: 'every 5 minutes',
      expects: /expected a cron expression like "\*\/5 \* \* \* \*"/,
    },
    { variable: 'OPS_CHANNEL', value: 'general', expects: /expected a Slack channel id like C0123ABC/ },
    {
      variable: 'DOCKER_HOST',
      value: 'ftp://x',
      expects: /expected unix:\/\/\/path\/to\/docker\.sock, tcp:\/\/host:port or ssh:\/\/user@host/,
    },
    { variable: 'DOCKER_HOST', value: 'not an address', expects: /expected unix:\/\/\/path/ },
    { variable: 'OPS_CHANNEL', value: '#ops', expects: /expected a Slack channel id/ },
    { variable: 'LOG_LEVEL', value: 'loud', expects: /"info"/ },
    { variable: 'SPREADSERVE_DATA', value: '', expects: /.+/ },
  ];

  for (const { variable, value, expects } of cases) {
    it(`${variable}=${JSON.stringify(value)} is named in the error with what it expects`, () => {
      // given one bad variable; when loaded
      const err = configError({ [variable]: value });

      // then the message has one line, naming that variable and what it expects
      const lines = err.message.split('\n').slice(1);
      expect(lines).toHaveLength(1);
      expect(lineAbout(err, variable)).toMatch(expects);
    });
  }

  it('names every bad variable in one message', () => {
    // given several bad variables at once, and one good one
    const bad = {
      HTTP_PORT: 'abc',
      SPREADSERVE_PORTS: '9000-8000',
      IDLE_TIMEOUT: '5x',
      SPREADSERVE_ADMINS: 'bob',
      RECLAIM_DRY_RUN: 'maybe',
      SLACK_BOT_TOKEN: 'abc',
      SPREADSERVE_BIND_IP: 'nope',
      OPS_CHANNEL: 'general',
      RECLAIM_CRON: 'often',
    };
    const err = configError({ ...bad, LOG_LEVEL: 'debug' });

    // then one error names each bad one (and not the good one)
    const named = err.message
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(':')[0]);
    expect(named.sort()).toEqual(Object.keys(bad).sort());
    expect(err.message).toMatch(/^Invalid configuration:\n/);
  });
});

describe('parsePortRanges', () => {
  it('sorts ranges and accepts single ports', () => {
    expect(parsePortRanges('9000-9001,80')).toEqual([
      { from: 80, to: 80 },
      { from: 9000, to: 9001 },
    ]);
  });

  it('rejects overlapping, reversed, out-of-range and malformed ranges', () => {
    for (const text of [
      '8080-8090,8090-8100',
      '80,80',
      '9000-8000',
      '0-10',
      '65535-65536',
      '80-',
      'a-b',
      '80;81',
    ]) {
      expect(parsePortRanges(text), text).toBeNull();
    }
  });
});

describe('.env.example', () => {
  it('sets exactly the variables the schema knows', () => {
    // given the variables .env.example sets and those of the schema
    const documented = new Set(Object.keys(envExample()));
    const known = new Set<string>(CONFIG_VARIABLES);

    // then neither has one the other lacks
    expect([...known].filter((v) => !documented.has(v))).toEqual([]);
    expect([...documented].filter((v) => !known.has(v))).toEqual([]);
  });

  it('has a comment line right above each variable', () => {
    const lines = readFileSync(ENV_EXAMPLE, 'utf8').split('\n');
    for (const variable of CONFIG_VARIABLES) {
      const at = lines.findIndex((line) => line.startsWith(`${variable}=`));
      expect(at, variable).toBeGreaterThan(0);
      expect(lines[at - 1], variable).toMatch(/^# \S/);
    }
  });

  it('loads, and gives exactly the defaults', () => {
    expect(loadConfig(envExample())).toEqual(DEFAULTS);
  });
});

describe('environment()', () => {
  it('reads a .env file under the process environment, which wins', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'ss-env-'));
    const file = path.join(dir, '.env');
    writeFileSync(file, '# comment\nHTTP_PORT=4000\nSPREADSERVE_PORTS=9000-9009\n');
    const env = environment({ HTTP_PORT: '5000' }, file);
    expect(loadConfig(env)).toMatchObject({ httpPort: 5000, ports: [{ from: 9000, to: 9009 }] });
  });

  it('bounds every quick engine call by DOCKER_CALL_TIMEOUT', () => {
    // given a host with thousands of containers, whose operator raised the bound
    const config = loadConfig({ DOCKER_CALL_TIMEOUT: '45s' });
    // when the engine is made from the configuration, then its quick calls get that bound
    expect(config.dockerCallTimeoutMs).toBe(45_000);
    expect(new DockerEngine(dockerConnection(config)).timeouts.quickMs).toBe(45_000);
    // and a value that is no duration is named
    expect(() => loadConfig({ DOCKER_CALL_TIMEOUT: 'soon' })).toThrow(/DOCKER_CALL_TIMEOUT: expected/);
  });

  it('takes the DOCKER_HOST forms the docker CLI takes', () => {
    for (const host of [
      'unix:///var/run/docker.sock',
      'tcp://127.0.0.1:2375',
      'tcp://docker',
      'localhost:2375',
      'ssh://deploy@docker.example.com',
      'ssh://docker.example.com:2222',
    ]) {
      expect(loadConfig({ DOCKER_HOST: host }).dockerHost).toBe(host);
    }
  });

  it('is the process environment alone when there is no .env file', () => {
    const env = { HTTP_PORT: '5000' };
    expect(environment(env, '/nonexistent/.env')).toBe(env);
  });
});

describe('the Swarm settings', () => {
  it('read placement constraints, per-node addresses and endpoints', () => {
    const config = loadConfig({
      SPREADSERVE_ENGINE: 'swarm',
      SPREADSERVE_PLACEMENT: 'node.labels.zone==a; node.role!=manager',
      SPREADSERVE_NODE_ADDRESSES: 'n1=n1.example.com',
      SPREADSERVE_NODE_ENDPOINTS: 'n1=tcp://10.0.0.11:2376,n2=unix:///run/n2.sock',
    });
    expect(config.engine).toBe('swarm');
    expect(config.placement).toEqual(['node.labels.zone==a', 'node.role!=manager']);
    expect(config.nodeAddresses.n1).toBe('n1.example.com');
    expect(config.nodeEndpoints).toEqual({ n1: 'tcp://10.0.0.11:2376', n2: 'unix:///run/n2.sock' });
  });

  it.each([
    ['SPREADSERVE_ENGINE', 'kubernetes', /expected one of/i],
    [
      'SPREADSERVE_PLACEMENT',
      'zone=a',
      /expected Swarm constraints like node\.labels\.spreadserve==yes.*got "zone=a"/,
    ],
    [
      'SPREADSERVE_NODE_ADDRESSES',
      '=10.0.0.1',
      /expected node=address pairs separated by commas, got "=10.0.0.1"/,
    ],
    [
      'SPREADSERVE_NODE_ENDPOINTS',
      'n1=http://x:1',
      /expected node=engine pairs separated by commas, got "n1=http:\/\/x:1"/,
    ],
  ])('refuses %s=%s in one line naming it', (variable, value, expects) => {
    expect(lineAbout(configError({ [variable]: value }), variable)).toMatch(expects);
  });
});

// The templates file: the real one loads; every error names the template and the field.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError } from '../../core/config.ts';
import {
  assertRunsOn,
  limitName,
  loadTemplates,
  parseMemory,
  parseTemplates,
  policyFor,
  policySource,
  TEMPLATE_DEFAULTS,
} from '../../core/templates.ts';
import type { EnginePlatform } from '../../engine/types.ts';
import { UserError } from '../../lib/errors.ts';

// ---- builders -------------------------------------------------------------------------

const PROJECT = fileURLToPath(new URL('../..', import.meta.url));
const REAL_FILE = path.join(PROJECT, 'spreadserve.templates.yml');
const BASE = '/srv/spreadserve';

/** A valid template entry; override or remove (undefined) fields. */
function template(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const t: Record<string, unknown> = {
    description: 'test server',
    image: 'spreadserve/test:1.0',
    build: { strategy: 'dockerfile', context: './templates/test', dockerfile: 'Dockerfile' },
    containerPort: 80,
    env: { SSROOT: '/spreadserve' },
    command: ['/spreadserve/start.sh'],
    healthPath: '/',
    memory: '256m',
    cpus: 0.5,
    ...overrides,
  };
  for (const [k, v] of Object.entries(t)) if (v === undefined) delete t[k];
  return t;
}

/** The YAML text of a templates file holding these templates. */
function file(templates: Record<string, unknown>): string {
  return stringify({ templates });
}

/** The ConfigError message parseTemplates throws for this text. */
function errorFor(text: string): string {
  try {
    parseTemplates(text, BASE);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).message;
  }
  throw new Error('expected parseTemplates to throw');
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'spreadserve-templates-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

// ---- tests ----------------------------------------------------------------------------

describe('the real spreadserve.templates.yml', () => {
  it('loads the demo template', async () => {
    // given the project's templates file; when loaded
    const templates = await loadTemplates(REAL_FILE);

    // then it holds demo, serving on port 80, with an absolute build context that exists
    const demo = templates.get('demo');
    expect(demo).toBeDefined();
    expect(demo!.name).toBe('demo');
    expect(demo!.containerPort).toBe(80);
    expect(demo!.image).toMatch(/^spreadserve\/demo:/);
    expect(demo!.build).toBeDefined();
    expect(path.isAbsolute(demo!.build!.context)).toBe(true);
    expect(existsSync(demo!.build!.context)).toBe(true);
    expect(demo!.build!.context.startsWith(PROJECT)).toBe(true);
    expect(demo!.memoryBytes).toBe(256 * 1024 * 1024);
    expect(demo!.healthPath.startsWith('/')).toBe(true);
    expect(Object.values(demo!.env).every((v) => typeof v === 'string')).toBe(true);
  });

  it("keeps demo first (the default of `launch`) and holds the tech note's Windows template after it", async () => {
    // given the project's templates file; when loaded
    const templates = await loadTemplates(REAL_FILE);

    // then demo is the first, a Linux template
    expect([...templates.keys()][0]).toBe('demo');
    expect(templates.get('demo')!.platform).toBe('linux');
    // and the Windows template is the note's: a commit build adding the installer, run with /S,
    // dbaseweb.cmd with SSROOT and SSROOTX, port 80 inside, process isolation, a long first start
    const win = templates.get('spreadserve-windows')!;
    expect(win).toMatchObject({
      platform: 'windows',
      isolation: 'process',
      containerPort: 80,
      command: ['c:\\spreadserve\\ss0.3.1\\sh\\dbaseweb.cmd'],
      env: { SSROOT: 'c:\\spreadserve\\ss0.3.1', SSROOTX: 'c:\\spreadserve\\ss0.3.1\\x' },
      memoryBytes: 2 * 1024 ** 3,
      readOnly: false,
      build: {
        strategy: 'commit',
        context: path.join(PROJECT, 'templates', 'windows'),
        install: ['C:\\spreadserve\\setup\\SpreadServeSetup-0.3.1.exe', '/S'],
      },
    });
    expect(win.startTimeoutMs).toBeGreaterThan(templates.get('demo')!.startTimeoutMs);
    // and its Dockerfile is on a current Server Core and adds the installer the install step runs
    const dockerfile = readFileSync(path.join(win.build!.context, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^FROM mcr\.microsoft\.com\/windows\/servercore:ltsc2022$/m);
    expect(dockerfile).toMatch(
      /^ADD SpreadServeSetup-0\.3\.1\.exe C:\\spreadserve\\setup\\SpreadServeSetup-0\.3\.1\.exe$/m,
    );
    // and the README beside it says where the installer goes
    expect(readFileSync(path.join(win.build!.context, 'README.md'), 'utf8')).toContain(
      'templates/windows/SpreadServeSetup-0.3.1.exe',
    );
  });
});

describe('parseTemplates', () => {
  it('reads a valid template into its typed form', () => {
    // given one template with every field set
    const text = file({
      web: template({ env: { SSROOT: '/spreadserve', WORKERS: 4 }, memory: '1g', cpus: 1.5 }),
    });

    // when parsed
    const web = parseTemplates(text, BASE).get('web')!;

    // then paths are resolved, env values are strings, sizes are bytes and CPUs nano-CPUs
    expect(web).toMatchObject({
      name: 'web',
      description: 'test server',
      image: 'spreadserve/test:1.0',
      build: { strategy: 'dockerfile', context: '/srv/spreadserve/templates/test', dockerfile: 'Dockerfile' },
      containerPort: 80,
      env: { SSROOT: '/spreadserve', WORKERS: '4' },
      command: ['/spreadserve/start.sh'],
      healthPath: '/',
      memoryBytes: 1024 ** 3,
      nanoCpus: 1_500_000_000,
    });
  });

  it('fills the defaults of the optional fields', () => {
    const text = file({
      min: template({ description: undefined, build: undefined, containerPort: undefined, env: undefined }),
    });
    const min = parseTemplates(text, BASE).get('min')!;
    expect(min.description).toBe('');
    expect(min.build).toBeUndefined();
    expect(min.containerPort).toBe(80);
    expect(min.env).toEqual({});
  });

  it('gives a template without limits the defaults, and keeps the ones it sets', () => {
    const text = file({
      bare: template({ memory: undefined, cpus: undefined }),
      own: template({ memory: '1g', cpus: 2, pids: 64, readOnly: true, user: '1000:1000' }),
    });
    const set = parseTemplates(text, BASE);
    expect(set.get('bare')).toMatchObject({
      memoryBytes: 512 * 1024 ** 2,
      nanoCpus: 1e9,
      pidsLimit: TEMPLATE_DEFAULTS.pids,
      readOnly: false,
    });
    expect(set.get('bare')?.user).toBeUndefined();
    expect(set.get('own')).toMatchObject({
      memoryBytes: 1024 ** 3,
      nanoCpus: 2e9,
      pidsLimit: 64,
      readOnly: true,
      user: '1000:1000',
    });
  });

  it('refuses a user that is not numeric, too few pids and too little memory', () => {
    const message = errorFor(file({ demo: template({ user: 'root; rm -rf /', pids: 3, memory: '1m' }) }));
    expect(message).toMatch(/field user: expected a numeric user/);
    expect(message).toMatch(/field pids:/);
    expect(message).toMatch(/field memory: expected a size like 256m or 1g \(at least 6m\)/);
  });

  it('makes a template Linux unless it says windows, and reads isolation and a Windows user', () => {
    // given a Linux template and a Windows one with isolation and a Windows user name
    const text = file({
      web: template(),
      win: template({ platform: 'windows', isolation: 'hyperv', user: 'ContainerUser' }),
    });

    // when parsed, then each has its platform, and only the Windows one an isolation
    const set = parseTemplates(text, BASE);
    expect(set.get('web')).toMatchObject({ platform: 'linux' });
    expect(set.get('web')).not.toHaveProperty('isolation');
    expect(set.get('win')).toMatchObject({ platform: 'windows', isolation: 'hyperv', user: 'ContainerUser' });
  });

  it('takes Swarm placement constraints, and refuses one not in Swarm syntax, naming the field', () => {
    const set = parseTemplates(file({ web: template({ placement: ['node.hostname==n1'] }) }), BASE);
    expect(set.get('web')?.placement).toEqual(['node.hostname==n1']);
    expect(errorFor(file({ web: template({ placement: ['zone=a'] }) }))).toMatch(
      /template "web", field placement\.0: expected Swarm constraints like node\.labels\.spreadserve==yes/,
    );
  });

  it('refuses what a platform does not have, naming the field', () => {
    // isolation on Linux; a Windows user name on Linux
    const linux = errorFor(file({ web: template({ isolation: 'process', user: 'ContainerUser' }) }));
    expect(linux).toMatch(
      /template "web", field isolation: isolation is for Windows templates \(platform: windows\)/,
    );
    expect(linux).toMatch(/template "web", field user: expected a numeric user/);
    // a read-only root, a pids limit and a numeric user on Windows, all in one message
    const windows = errorFor(
      file({ win: template({ platform: 'windows', readOnly: true, pids: 64, user: '1000' }) }),
    );
    expect(windows).toMatch(/template "win", field readOnly: Windows containers have no read-only root/);
    expect(windows).toMatch(/template "win", field pids: Windows containers take no processes limit/);
    expect(windows).toMatch(/template "win", field user: expected a Windows user name like ContainerUser/);
    // an unknown isolation
    expect(errorFor(file({ win: template({ platform: 'windows', isolation: 'vm' }) }))).toMatch(
      /template "win", field isolation: .*"process"\|"hyperv"/,
    );
    // an unknown platform
    expect(errorFor(file({ mac: template({ platform: 'macos' }) }))).toMatch(
      /template "mac", field platform: .*"linux"\|"windows"/,
    );
  });

  it('accepts the commit strategy with an install command', () => {
    const text = file({
      demo: template({ build: { strategy: 'commit', context: '.', install: ['/install/ss031.sh', '/S'] } }),
    });
    expect(parseTemplates(text, BASE).get('demo')!.build).toEqual({
      strategy: 'commit',
      context: BASE,
      dockerfile: 'Dockerfile',
      install: ['/install/ss031.sh', '/S'],
    });
  });

  const bad: {
    what: string;
    templates: Record<string, unknown>;
    name: string;
    field?: string;
    says: RegExp;
  }[] = [
    {
      what: 'a containerPort that is not a number',
      templates: { demo: template({ containerPort: 'eighty' }) },
      name: 'demo',
      field: 'containerPort',
      says: /expected number/,
    },
    {
      what: 'a containerPort out of range',
      templates: { demo: template({ containerPort: 70000 }) },
      name: 'demo',
      field: 'containerPort',
      says: /65535/,
    },
    {
      what: 'the commit strategy without install',
      templates: { demo: template({ build: { strategy: 'commit', context: '.' } }) },
      name: 'demo',
      field: 'build.install',
      says: /the commit strategy needs an install command/,
    },
    {
      what: 'an unknown build strategy',
      templates: { demo: template({ build: { strategy: 'magic', context: '.' } }) },
      name: 'demo',
      field: 'build.strategy',
      says: /dockerfile|commit/,
    },
    {
      what: 'a bad image tag',
      templates: { demo: template({ image: 'Not An Image!' }) },
      name: 'demo',
      field: 'image',
      says: /expected an image tag like spreadserve\/demo:0.3.1/,
    },
    {
      what: 'a bad template name',
      templates: { Bad_Name: template() },
      name: 'Bad_Name',
      says: /template names look like demo or my-server/,
    },
    {
      what: 'a bad memory size',
      templates: { demo: template({ memory: '12x' }) },
      name: 'demo',
      field: 'memory',
      says: /expected a size like 256m or 1g/,
    },
    {
      what: 'a health path without a leading slash',
      templates: { demo: template({ healthPath: 'health' }) },
      name: 'demo',
      field: 'healthPath',
      says: /"\/"/,
    },
    {
      what: 'a bad environment variable name',
      templates: { demo: template({ env: { 'BAD-NAME': 'x' } }) },
      name: 'demo',
      field: 'env.BAD-NAME',
      says: /environment variable names look like SSROOT/,
    },
    {
      what: 'an environment value that is neither string nor number',
      templates: { demo: template({ env: { DEBUG: true } }) },
      name: 'demo',
      field: 'env.DEBUG',
      says: /expected a string or a number/,
    },
    {
      what: 'a missing image',
      templates: { demo: template({ image: undefined }) },
      name: 'demo',
      field: 'image',
      says: /expected string/,
    },
    {
      what: 'an idle timeout that is no duration',
      templates: { gpu: template({ idleTimeout: '30 minutes' }) },
      name: 'gpu',
      field: 'idleTimeout',
      says: /expected a number and a unit, like 90s, 30m, 2h or 1d/,
    },
    {
      what: 'an idle timeout given as a bare number',
      templates: { gpu: template({ idleTimeout: 30 }) },
      name: 'gpu',
      field: 'idleTimeout',
      says: /expected a number and a unit/,
    },
    {
      what: 'a bad max lifetime',
      templates: { gpu: template({ maxLifetime: '0h' }) },
      name: 'gpu',
      field: 'maxLifetime',
      says: /expected a number and a unit/,
    },
    {
      what: 'a warning not shorter than the idle timeout',
      templates: { gpu: template({ idleTimeout: '30m', idleWarning: '1h' }) },
      name: 'gpu',
      field: 'idleWarning',
      says: /the warning must be shorter than idleTimeout/,
    },
    {
      what: 'a negative per-user limit',
      templates: { gpu: template({ maxPerUser: -1 }) },
      name: 'gpu',
      field: 'maxPerUser',
      says: /expected a whole number \(0 = no limit\)/,
    },
    {
      what: 'a per-user limit given as text',
      templates: { gpu: template({ maxPerUser: 'two' }) },
      name: 'gpu',
      field: 'maxPerUser',
      says: /expected a whole number \(0 = no limit\)/,
    },
    {
      what: 'a fractional bytes floor',
      templates: { gpu: template({ bytesFloor: 1.5 }) },
      name: 'gpu',
      field: 'bytesFloor',
      says: /expected a whole number of bytes/,
    },
    {
      what: 'a misspelt field',
      templates: { demo: template({ memmory: '256m' }) },
      name: 'demo',
      says: /Unrecognized key: "memmory"/,
    },
    {
      what: 'a misspelt build field',
      templates: { demo: template({ build: { context: '.', dockerfil: 'Dockerfile' } }) },
      name: 'demo',
      field: 'build',
      says: /Unrecognized key: "dockerfil"/,
    },
  ];

  for (const { what, templates, name, field, says } of bad) {
    it(`names the template${field ? ' and the field' : ''} for ${what}`, () => {
      // given a file with one bad template; when parsed
      const message = errorFor(file(templates));

      // then one line names the template (and the field) and says what is expected
      const prefix = `template "${name}"${field ? `, field ${field}` : ''}:`;
      const line = message.split('\n').find((l) => l.trim().startsWith(prefix));
      expect(line, message).toBeDefined();
      expect(line).toMatch(says);
    });
  }

  it('reports every bad field of every template in one message', () => {
    const message = errorFor(
      file({
        one: template({ containerPort: 'eighty', memory: '12x' }),
        two: template({ image: 'Bad Tag' }),
        ok: template(),
      }),
    );
    expect(message).toContain('template "one", field containerPort:');
    expect(message).toContain('template "one", field memory:');
    expect(message).toContain('template "two", field image:');
    expect(message).not.toContain('template "ok"');
  });

  it('says when the text is not YAML', () => {
    const message = errorFor('templates: [unclosed\n  demo: {');
    expect(message).toMatch(/^The templates file is not valid YAML: /);
  });

  it('says when the YAML is not a templates file', () => {
    expect(errorFor('just some words')).toMatch(/top level: .*expected object/);
    expect(errorFor('')).toMatch(/top level: .*expected object/);
    expect(errorFor('servers: {}\n')).toMatch(/templates: .*expected record/);
  });
});

describe('per-template policies', () => {
  const defaults = {
    maxInstancesPerUser: 3,
    reclaim: {
      idleTimeoutMs: 7_200_000,
      idleWarningMs: 900_000,
      idleBytesFloor: 16_384,
      maxLifetimeMs: 86_400_000,
    },
  };

  it("reads a template's own settings, and fills the others from the global ones", () => {
    // given one template setting all five, one setting two, one setting none
    const templates = parseTemplates(
      file({
        gpu: template({
          idleTimeout: '30m',
          idleWarning: '5m',
          maxLifetime: '8h',
          maxPerUser: 1,
          bytesFloor: 65536,
        }),
        half: template({ idleTimeout: '4h', maxPerUser: 0 }),
        plain: template(),
      }),
      BASE,
    );

    // when their effective policies are asked for
    const gpu = policyFor(templates, 'gpu', defaults);
    const half = policyFor(templates, 'half', defaults);
    const plain = policyFor(templates, 'plain', defaults);

    // then each setting is the template's own where it has one, else the global one
    expect(gpu).toMatchObject({
      template: 'gpu',
      idleTimeoutMs: 30 * 60_000,
      idleWarningMs: 5 * 60_000,
      maxLifetimeMs: 8 * 3_600_000,
      maxPerUser: 1,
      idleBytesFloor: 65_536,
    });
    expect([...gpu.own].sort()).toEqual(
      ['idleBytesFloor', 'idleTimeoutMs', 'idleWarningMs', 'maxLifetimeMs', 'maxPerUser'].sort(),
    );
    expect(half).toMatchObject({ idleTimeoutMs: 4 * 3_600_000, idleWarningMs: 900_000, maxPerUser: 0 });
    expect([...half.own].sort()).toEqual(['idleTimeoutMs', 'maxPerUser']);
    expect(plain).toMatchObject({ idleTimeoutMs: 7_200_000, maxLifetimeMs: 86_400_000, maxPerUser: 3 });
    expect(plain.own.size).toBe(0);
    // and sentences name where a limit came from
    expect(limitName(gpu, 'maxLifetimeMs')).toBe('maxLifetime of template gpu');
    expect(limitName(plain, 'maxLifetimeMs')).toBe('MAX_LIFETIME');
    expect(policySource(gpu, 'idleTimeoutMs')).toBe('template gpu');
    expect(policySource(half, 'idleWarningMs')).toBe('default');
  });

  it('reads the commented gpu example in spreadserve.templates.yml as it says', () => {
    // given the example's lines, uncommented
    const lines = readFileSync(REAL_FILE, 'utf8').split('\n');
    const example = lines.filter((l) => l.startsWith('#   ')).map((l) => l.slice(2));

    // when parsed as a templates file, then it holds the policy its comments describe
    const templates = parseTemplates(['templates:', ...example].join('\n'), BASE);
    expect(templates.get('gpu')?.policy).toEqual({
      idleTimeoutMs: 30 * 60_000,
      idleWarningMs: 5 * 60_000,
      maxLifetimeMs: 8 * 3_600_000,
      maxPerUser: 1,
      idleBytesFloor: 65_536,
    });
    // and demo, first, sets none of its own
    expect(parseTemplates(readFileSync(REAL_FILE, 'utf8'), BASE).get('demo')?.policy).toEqual({});
  });

  it('gives an instance whose template left the file the global settings', () => {
    const templates = parseTemplates(file({ plain: template() }), BASE);
    const gone = policyFor(templates, 'retired', defaults);
    expect(gone).toMatchObject({ template: 'retired', idleTimeoutMs: 7_200_000, maxPerUser: 3 });
    expect(gone.own.size).toBe(0);
  });

  it("compares a template's own warning with its own idle timeout only", () => {
    // a warning alone is checked against nothing in the file (the global IDLE_TIMEOUT may change)
    expect(() => parseTemplates(file({ gpu: template({ idleWarning: '3h' }) }), BASE)).not.toThrow();
    // a shorter warning than the timeout is fine
    expect(() =>
      parseTemplates(file({ gpu: template({ idleTimeout: '30m', idleWarning: '29m' }) }), BASE),
    ).not.toThrow();
    // a bad idle timeout is said once, not also as a comparison
    const message = errorFor(file({ gpu: template({ idleTimeout: 'soon', idleWarning: '5m' }) }));
    expect(message).toContain('template "gpu", field idleTimeout: expected a number and a unit');
    expect(message).not.toContain('shorter than');
    // an equal one is not
    expect(errorFor(file({ gpu: template({ idleTimeout: '30m', idleWarning: '30m' }) }))).toContain(
      'template "gpu", field idleWarning: the warning must be shorter than idleTimeout',
    );
  });
});

describe('loadTemplates', () => {
  it('names the file and SPREADSERVE_TEMPLATES when the file is missing', async () => {
    // given a path where no file exists
    const missing = path.join(tempDir(), 'nope.yml');

    // when loaded, then the error names the file, the reason and the variable to set
    await expect(loadTemplates(missing)).rejects.toThrow(ConfigError);
    await expect(loadTemplates(missing)).rejects.toThrow(
      new RegExp(`${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(ENOENT\\).*SPREADSERVE_TEMPLATES`),
    );
  });

  it('resolves build contexts against the file, and names the file in errors', async () => {
    // given a templates file in a temp folder
    const dir = tempDir();
    const good = path.join(dir, 'good.yml');
    writeFileSync(good, file({ web: template() }));
    const bad = path.join(dir, 'bad.yml');
    writeFileSync(bad, file({ web: template({ containerPort: 'eighty' }) }));

    // when loaded, then the context is under that folder
    const web = (await loadTemplates(good)).get('web')!;
    expect(web.build!.context).toBe(path.join(dir, 'templates', 'test'));
    // and an invalid file's error names it
    await expect(loadTemplates(bad)).rejects.toThrow(`templates file ${bad} is invalid`);
  });
});

describe('assertRunsOn', () => {
  const engine = (os: 'linux' | 'windows'): EnginePlatform => ({
    os,
    osVersion: '',
    kernelVersion: '',
    engineVersion: '24.0.7',
    host: 'tcp://docker.example:2376',
  });
  const [demo, win] = ['linux', 'windows'].map(
    (platform) => [...parseTemplates(file({ [`t-${platform}`]: template({ platform }) }), BASE).values()][0]!,
  );

  it('lets a template run on an engine of its platform', () => {
    expect(() => assertRunsOn(demo!, engine('linux'))).not.toThrow();
    expect(() => assertRunsOn(win!, engine('windows'))).not.toThrow();
  });

  it('refuses the other platform in one sentence naming the engine', () => {
    expect(() => assertRunsOn(win!, engine('linux'))).toThrow(
      new UserError(
        'usage',
        'Template t-windows needs a Windows Docker host; this engine (tcp://docker.example:2376) runs Linux.',
      ),
    );
    expect(() => assertRunsOn(demo!, engine('windows'))).toThrow(
      'Template t-linux needs a Linux Docker host; this engine (tcp://docker.example:2376) runs Windows.',
    );
  });
});

describe('parseMemory', () => {
  it('reads sizes with and without units', () => {
    expect(parseMemory('256m')).toBe(256 * 1024 ** 2);
    expect(parseMemory('1G')).toBe(1024 ** 3);
    expect(parseMemory('512k')).toBe(512 * 1024);
    expect(parseMemory('1048576')).toBe(1_048_576);
  });

  it('rejects anything else', () => {
    for (const text of ['12x', '', 'm', '1.5g', '-1m', '256mb']) expect(parseMemory(text), text).toBeNull();
  });
});

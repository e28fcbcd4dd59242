// manifest.yml: valid under Slack's published v1 app-manifest schema (a copy kept in
// test/support/slack/ with its source and licence), its usage hint generated from the command registry, and its bot scopes
// exactly what the code in bot/ needs for the Web API methods it calls.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { COMMANDS } from '../../commands/index.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');
const SCHEMA = path.join(ROOT, 'test/support/slack/manifest.schema.v1.json');

interface Manifest {
  features: {
    app_home: { home_tab_enabled: boolean };
    slash_commands: { command: string; usage_hint: string; description: string }[];
  };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    event_subscriptions: { bot_events: string[] };
    interactivity: { is_enabled: boolean };
    socket_mode_enabled: boolean;
  };
}

const text = readFileSync(path.join(ROOT, 'manifest.yml'), 'utf8');
const manifest = parse(text) as Manifest;

/** The usage hint, from the registry: every command, in help's order. */
const usageHint = (): string => `<${COMMANDS.map((c) => c.name).join('|')}> [args]`;

/** Bot scopes always asked for (PRODUCT.md, issue 3), whatever the code calls today. */
const BASE_SCOPES = ['commands', 'chat:write', 'im:write', 'usergroups:read', 'users:read'];

/** The bot-token scope each Web API method needs (null: none); from Slack's method reference. */
const SCOPE_OF: Record<string, string | null> = {
  'auth.test': null,
  'views.publish': null,
  'views.open': null,
  'views.update': null,
  'chat.postMessage': 'chat:write',
  'chat.postEphemeral': 'chat:write',
  'chat.update': 'chat:write',
  'chat.delete': 'chat:write',
  'conversations.open': 'im:write',
  'usergroups.users.list': 'usergroups:read',
  'usergroups.list': 'usergroups:read',
  'users.info': 'users:read',
  'users.list': 'users:read',
};

/** Every `client.<family>.<method>(` in bot/*.ts, calls split over lines included. */
function webApiCalls(): string[] {
  const dir = path.join(ROOT, 'bot');
  const calls = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(path.join(dir, file), 'utf8').replace(/\s*\n\s*\./g, '.');
    for (const m of source.matchAll(/\bclient\.([a-z][A-Za-z]*(?:\.[a-zA-Z]+)+)\s*\(/g)) calls.add(m[1]!);
  }
  return [...calls].sort();
}

describe('manifest.yml', () => {
  it("is valid under Slack's v1 app-manifest schema", () => {
    // The schema is draft-07 (ajv's default class). Keywords of its own: `regex`, checked here as
    // a pattern; `_note` and `requires`, annotations. `format: uri` is not checked (ajv-formats is
    // not installed). Strict mode stays on, so any other unknown keyword fails loudly; only its
    // type hints are off (the schema puts minItems on an untyped `items` in a hermes section).
    const schema = JSON.parse(readFileSync(SCHEMA, 'utf8')) as Record<string, unknown>;
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const ajv = new Ajv({ allErrors: true, validateFormats: false, strictTypes: false });
    ajv.addKeyword({
      keyword: 'regex',
      type: 'string',
      schemaType: 'string',
      validate: (pattern: string, data: string) => new RegExp(pattern).test(data),
    });
    ajv.addKeyword('_note');
    ajv.addKeyword('requires');
    const validate = ajv.compile(schema);
    const valid = validate(manifest);
    expect(validate.errors ?? [], ajv.errorsText(validate.errors)).toEqual([]);
    expect(valid).toBe(true);

    // and the check has teeth: the same manifest with three mistakes fails on each
    const broken = structuredClone(manifest) as Manifest & Record<string, unknown>;
    broken.features.slash_commands[0]!.command = 'spreadserve';
    (
      broken as unknown as { display_information: { background_color: string } }
    ).display_information.background_color = 'blue';
    broken.settings = { ...broken.settings, socket_mode: true } as Manifest['settings'];
    expect(validate(broken)).toBe(false);
    const paths = (validate.errors ?? []).map((e) => `${e.instancePath} ${e.keyword}`);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/features/slash_commands/0/command pattern',
        '/display_information/background_color regex',
        '/settings additionalProperties',
      ]),
    );
  });

  it('has one /spreadserve command whose usage hint lists every command of the registry', () => {
    expect(manifest.features.slash_commands.map((c) => c.command)).toEqual(['/spreadserve']);
    const hint = manifest.features.slash_commands[0]!.usage_hint;
    expect(hint).toBe(usageHint());
    for (const c of COMMANDS) expect(hint).toMatch(new RegExp(`[<|]${c.name}[|>]`));
  });

  it('asks for exactly the base scopes and those of every Web API method the bot calls', () => {
    const calls = webApiCalls();
    // the grep finds what the bot is known to call
    expect(calls).toEqual(expect.arrayContaining(['views.publish', 'usergroups.users.list']));
    const unknown = calls.filter((m) => !(m in SCOPE_OF));
    expect(unknown, `add the scope of ${unknown.join(', ')} to SCOPE_OF`).toEqual([]);
    const needed = calls.map((m) => SCOPE_OF[m]).filter((s): s is string => typeof s === 'string');
    const expected = [...new Set([...BASE_SCOPES, ...needed])].sort();
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual(expected);
  });

  it('has interactivity, the App Home tab and the app_home_opened event, in Socket Mode', () => {
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.features.app_home.home_tab_enabled).toBe(true);
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(['app_home_opened']);
    expect(manifest.settings.socket_mode_enabled).toBe(true);
    // and says what to change for HTTP mode
    expect(text).toMatch(/# For HTTP mode instead: set socket_mode_enabled to false/);
    expect(text).toContain('https://<host>/slack/events');
  });
});

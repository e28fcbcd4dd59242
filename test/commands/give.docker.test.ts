// `give <name> <@user>` (issue 14, hand-off), through the real core and once through the real Bolt
// app over HTTP with the Slack stand-in: the owner or an admin hands an instance on; the receiver's
// quota holds; bad input is one sentence and changes nothing; afterwards stop, extend, logs and
// list follow the new owner; both owners are told; the audit trail shows it; and a restart on the
// same store keeps the new owner (the container, and so its owner label, stays the launcher's).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConsoleNotifier } from '../../cli/notifier.ts';
import { dispatch } from '../../commands/index.ts';
import type { Reply } from '../../commands/reply.ts';
import { createServices, type Services } from '../../core/context.ts';
import { LABEL } from '../../core/labels.ts';
import type { Actor } from '../../core/policy.ts';
import { DockerEngine } from '../../engine/docker.ts';
import { silentLogger } from '../../lib/log.ts';
import { type BotBed, startBotBed, textOf } from '../support/bot.ts';
import { dockerSync, scopeContainers } from '../support/docker.ts';
import { admin, alice, bob, buildImage, prepareScope } from '../support/services.ts';

const SCOPE = 'test-give';
const BOT_SCOPE = 'test-give-bot';
const FIRST = 25160;
const BOT_FIRST = 25170;
const carol = { id: 'UCAROL', role: 'user' as const };

type Bed = Awaited<ReturnType<typeof prepareScope>>;
let bed: Bed;
let services: Services;
/** What the terminal notifier printed: its hand-off lines tell both owners. */
const printed: string[] = [];

const open = () =>
  createServices(bed.config, {
    engine: new DockerEngine(),
    log: silentLogger(),
    templates: bed.templates,
    notifier: new ConsoleNotifier((text) => printed.push(text)),
  });

const as = (actor: Actor) => (text: string) =>
  dispatch(text, { actor, services, prefix: '', log: services.log });

/** The message of a reply as one string: summary and details. */
const said = (reply: Reply) => [reply.summary, ...(reply.details ?? [])].join(' ');

/** Everything a refused give must not touch: owners, ports, containers and the audit trail. */
function snapshot() {
  const doc = services.store.read();
  return {
    owners: Object.fromEntries(Object.values(doc.instances).map((i) => [i.name, i.owner])),
    ports: JSON.stringify(doc.ports),
    containers: scopeContainers(SCOPE).length,
    audit: doc.audit.length,
  };
}

const ownerLabel = (instance: string) =>
  dockerSync('inspect', '--format', `{{index .Config.Labels "${LABEL.owner}"}}`, `spreadserve-${instance}`);

beforeAll(async () => {
  bed = await prepareScope({
    scope: SCOPE,
    ports: `${FIRST}-${FIRST + 9}`,
    env: {
      MAX_INSTANCES_PER_USER: '2',
      SPREADSERVE_ADMINS: admin.id,
      SPREADSERVE_USERS: 'UALICE,UBOB,UCAROL',
    },
  });
  services = await open();
  await services.start();
  await buildImage(services);
  await services.instances.launch({ actor: alice, name: 'give-a' });
}, 300_000);

afterAll(async () => {
  await services?.stop();
  await bed?.cleanup();
});

describe('give through the core', () => {
  it('refuses bad input in one sentence and changes nothing', async () => {
    // given alice's give-a and the state before
    const before = snapshot();
    const cases: [Actor, string, string, RegExp][] = [
      [alice, 'give', 'usage', /usage: give <name> <@user>/],
      [alice, 'give give-a', 'usage', /usage: give <name> <@user>/],
      [alice, 'give give-a notauser', 'usage', /^"notauser" is not a user: mention them/],
      [alice, 'give give-a @bob', 'usage', /^"@bob" is not a user/],
      [alice, 'give __proto__ <@UBOB>', 'usage', /^"__proto__" is not a valid name/],
      [alice, 'give constructor <@UBOB>', 'usage', /^"constructor" is a reserved word/],
      [alice, 'give give-a <@UALICE>', 'usage', /^You cannot give give-a to yourself/],
      [alice, 'give give-a <@UALICE|alice>', 'usage', /^You cannot give give-a to yourself/],
      [alice, 'give give-a <@UBOB> <@UCAROL>', 'usage', /usage: give <name> <@user>/],
      [alice, 'give give-a cli:bob', 'usage', /^cli:bob is a terminal user/],
      [alice, 'give ghost <@UBOB>', 'not-found', /^There is no instance named ghost/],
      [
        admin,
        'give give-a <@UALICE>',
        'usage',
        /^give-a already belongs to UALICE; give it to someone else\.$/,
      ],
      // given UDAVE, who is not in SPREADSERVE_USERS
      [
        alice,
        'give give-a <@UDAVE>',
        'forbidden',
        /^UDAVE may not use SpreadServe, so cannot be given give-a/,
      ],
      // given bob, who neither owns give-a nor is an admin
      [
        bob,
        'give give-a <@UCAROL>',
        'forbidden',
        /^Only UALICE \(its owner\) or an admin may give away give-a\.$/,
      ],
    ];
    for (const [actor, text, kind, message] of cases) {
      // when it is typed
      const reply = await as(actor)(text);
      // then one refusal of the right kind, and nothing changed
      expect(reply.ok, text).toBe(false);
      expect(reply.errorKind, text).toBe(kind);
      expect(said(reply), text).toMatch(message);
      expect(snapshot(), text).toEqual(before);
    }
  });

  it('hands an instance from its owner to another user, tells both and audits it', async () => {
    // given give-a, launched by alice
    const containerBefore = services.store.read().instances['give-a']?.containerId;
    // when alice gives it to bob by mention
    const reply = await as(alice)('give give-a <@UBOB|bob>');
    // then bob owns it in the store, the same container still runs it
    expect(reply.ok).toBe(true);
    expect(reply.summary).toBe('give-a now belongs to UBOB (was UALICE).');
    const record = services.store.read().instances['give-a'];
    expect(record?.owner).toBe(bob.id);
    expect(record?.containerId).toBe(containerBefore);
    expect(scopeContainers(SCOPE, { instance: 'give-a' })).toHaveLength(1);
    // and the container's owner label still names its launcher (Docker cannot relabel; see README)
    expect(ownerLabel('give-a')).toBe(alice.id);
    // and both were told (the terminal notifier prints one line for both)
    expect(printed.join('')).toContain('give-a now belongs to UBOB (was UALICE; given by UALICE).');
    // and the audit trail shows the give, by alice, from alice to bob
    const last = services.store.read().audit.at(-1);
    expect(last).toMatchObject({
      actor: alice.id,
      action: 'give',
      instance: 'give-a',
      reason: 'from UALICE to UBOB',
    });
    const history = await as(carol)('history give-a');
    expect(JSON.stringify(history)).toContain('"action":"give"');
  });

  it('lets the new owner stop, extend and read logs, and no longer the old one', async () => {
    // given give-a, now bob's
    // when alice tries what an owner may do
    for (const text of ['extend give-a 1h', 'logs give-a', 'stop give-a']) {
      const refused = await as(alice)(text);
      // then she is refused, naming bob as the owner
      expect(refused.errorKind, text).toBe('forbidden');
      expect(refused.summary, text).toMatch(/^Only UBOB \(its owner\) or an admin may /);
    }
    // and bob may extend it and read its logs
    expect((await as(bob)('extend give-a 1h')).ok).toBe(true);
    expect((await as(bob)('logs give-a --lines 5')).ok).toBe(true);
    // and list follows the store: it is bob's, not alice's
    expect(JSON.stringify(await as(bob)('list mine'))).toContain('give-a');
    expect(JSON.stringify(await as(alice)('list mine'))).not.toContain('give-a');
    // and the container still runs
    expect(scopeContainers(SCOPE, { instance: 'give-a' })).toHaveLength(1);
  });

  it('refuses a give that would take the receiver past their quota, and changes nothing', async () => {
    // given bob at his quota of 2 (give-a and give-b) and alice's give-c
    await services.instances.launch({ actor: bob, name: 'give-b' });
    await services.instances.launch({ actor: alice, name: 'give-c' });
    const before = snapshot();
    // when alice gives give-c to bob
    const reply = await as(alice)('give give-c <@UBOB>');
    // then it is refused in one sentence and give-c is still alice's
    expect(reply.ok).toBe(false);
    expect(reply.errorKind).toBe('quota');
    expect(reply.summary).toBe('UBOB already runs 2 of their 2 instances; they must stop one first.');
    expect(snapshot()).toEqual(before);
  }, 60_000);

  it("lets an admin give another user's instance, and tells both", async () => {
    // given alice's give-c
    printed.length = 0;
    // when an admin gives it to carol
    const reply = await as(admin)('give give-c UCAROL');
    // then carol owns it, both were told who did it, and the audit names the admin
    expect(reply.ok).toBe(true);
    expect(services.store.read().instances['give-c']?.owner).toBe(carol.id);
    expect(printed.join('')).toContain('give-c now belongs to UCAROL (was UALICE; given by UADMIN).');
    expect(services.store.read().audit.at(-1)).toMatchObject({
      actor: admin.id,
      action: 'give',
      instance: 'give-c',
      reason: 'from UALICE to UCAROL',
    });
  });

  it('keeps the new owners after a restart on the same store, with nothing adopted or recreated', async () => {
    // given the containers before the restart
    const containers = [...scopeContainers(SCOPE)].sort();
    // when the bot restarts on the same store (new services, same file) and reconciles
    await services.stop();
    services = await open();
    await services.start();
    // then the owners are still the new ones, though the owner labels name the launcher
    const doc = services.store.read();
    expect(doc.instances['give-a']?.owner).toBe(bob.id);
    expect(doc.instances['give-c']?.owner).toBe(carol.id);
    expect(ownerLabel('give-c')).toBe(alice.id);
    // and nothing was recreated or adopted
    expect([...scopeContainers(SCOPE)].sort()).toEqual(containers);
    expect(doc.audit.some((e) => e.action === 'adopt')).toBe(false);
    // and the permissions follow the store: alice may not stop give-a, bob may
    expect((await as(alice)('stop give-a')).errorKind).toBe('forbidden');
    expect((await as(bob)('stop give-a')).ok).toBe(true);
    expect(scopeContainers(SCOPE, { instance: 'give-a' })).toEqual([]);
  }, 60_000);
});

describe('give through Slack', () => {
  const ALICE = 'UALICE';
  const BOB = 'UBOB';
  let b: BotBed;

  /** Sends `text`, returns the line the user is told: on the ack, or else the first response. */
  async function answer(text: string, user: string): Promise<string> {
    const s = await b.slash(text, user);
    expect(s.ack.status).toBe(200);
    const ack = s.ack.json as { text?: string } | undefined;
    if (ack?.text !== undefined && !ack.text.startsWith('⏳')) return ack.text;
    return textOf(await b.waitForResponse(s.id, (r) => !textOf(r).startsWith('⏳'), 30_000));
  }

  /** The text of each DM the bot posted in the stand-in's DM channel with `user`. */
  const dmsTo = (user: string) =>
    b.slack
      .calls('chat.postMessage')
      .filter((c) => c.body.channel === `D${user}`)
      .map((c) => String(c.body.text));

  beforeAll(async () => {
    b = await startBotBed({
      scope: BOT_SCOPE,
      ports: `${BOT_FIRST}-${BOT_FIRST + 9}`,
      env: { SPREADSERVE_ADMINS: 'UADMIN' },
    });
    await buildImage(b.bed.services);
  }, 300_000);

  afterAll(async () => {
    await b?.close();
  });

  it('hands an instance on by mention, DMs both owners, and stop then follows the new owner', async () => {
    // given alice's instance, launched from Slack
    expect(await answer('launch demo --name gb-one', ALICE)).toMatch(/is up at/);
    // when alice gives it to bob with a mention, as Slack sends it escaped
    const line = await answer('give gb-one <@UBOB|bob>', ALICE);
    // then she is told bob has it
    expect(line).toContain('gb-one now belongs to UBOB (was UALICE).');
    // and both got a DM through the Web API
    const toAlice = await b.slack.waitFor(() => dmsTo(ALICE).find((t) => t.includes('gb-one')));
    const toBob = await b.slack.waitFor(() => dmsTo(BOB).find((t) => t.includes('gb-one')));
    expect(toAlice).toMatch(/^You gave \*gb-one\* to <@UBOB>; it is theirs/);
    expect(toBob).toMatch(/^<@UALICE> gave you \*gb-one\*: <http:\/\/127\.0\.0\.1:25170\|/);
    // and a plain "@bob" (Slack not escaping mentions) is one sentence, not a give
    expect(await answer('give gb-one @carol', BOB)).toMatch(/"@carol" is not a user/);
    // and alice may no longer stop it, while bob may
    expect(await answer('stop gb-one', ALICE)).toMatch(/Only UBOB \(its owner\) or an admin may stop gb-one/);
    expect(await answer('stop gb-one', BOB)).toMatch(/Stopped gb-one/);
    expect(scopeContainers(BOT_SCOPE, { instance: 'gb-one' })).toEqual([]);
  }, 120_000);
});

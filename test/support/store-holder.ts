// A process that opens a store and holds it, for the ownership tests (test/store/ownership.test.ts).
// Run as `node --import tsx test/support/store-holder.ts <file>` (one process, so SIGKILL hits it).
// It says on stdout, one line each: `open writable` or `open read-only <message>`, `writable` when a
// read-only open has taken the store over, `log <message>` for what the store logs, `wrote <name>`
// after each `write <name>` line read on stdin (`failed <message>` if the update fails).
import { createInterface } from 'node:readline';
import { Store } from '../../store/store.ts';

const file = process.argv[2];
if (!file) throw new Error('usage: store-holder.ts <store file>');
const say = (line: string) => process.stdout.write(`${line}\n`);

const store = await Store.open(file, {
  log: { info: (_c, message) => say(`log ${message}`), warn: (_c, message) => say(`log ${message}`) },
  takeOverEveryMs: 100,
});
say(store.writable ? 'open writable' : `open read-only ${store.readOnlyMessage}`);
if (!store.writable) {
  const poll = setInterval(() => {
    if (!store.writable) return;
    clearInterval(poll);
    say('writable');
  }, 20);
}

// stdin (a pipe from the test) keeps the process alive until the test kills it or closes it.
for await (const line of createInterface({ input: process.stdin })) {
  const [command, name] = line.split(' ');
  if (command !== 'write' || !name) continue;
  try {
    await store.update((doc) => {
      doc.audit.push({ at: Date.now(), actor: 'cli:holder', action: 'launch', instance: name });
    });
    say(`wrote ${name}`);
  } catch (err) {
    say(`failed ${(err as Error).message}`);
  }
}
await store.close();

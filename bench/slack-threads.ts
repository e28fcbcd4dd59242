// The threads of bench/slack.ts besides the bot's: the "Slack" worker (bench/slack-client.ts),
// driven through its request/answer protocol, and the floor, a bare node:http server on its own
// event loop as the bot is on its.
import { Worker } from 'node:worker_threads';
import type { ClientAnswer, ClientRequest } from './slack-protocol.ts';

/** A worker running a .ts module: tsx's loader is registered in the worker before the import. */
export function tsWorker(file: URL): Worker {
  const api = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(file.href)}); })`;
  return new Worker(boot, { eval: true });
}

export class SlackSide {
  private seq = 0;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private failed: Error | undefined;

  constructor(readonly worker: Worker) {
    worker.on('message', (answer: ClientAnswer) => {
      const waiting = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      if (answer.ok) waiting?.resolve(answer.value);
      else waiting?.reject(new Error(`bench slack client: ${answer.error}`));
    });
    const failAll = (err: Error) => {
      this.failed = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    worker.on('error', failAll);
    worker.on('exit', (code) => failAll(new Error(`the bench slack client exited (code ${code})`)));
  }

  call<T>(request: ClientRequest): Promise<T> {
    if (this.failed) return Promise.reject(this.failed);
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ id, request });
    });
  }
}

/** The floor: a bare node:http server reading the body and answering 200, in its own thread. */
const FLOOR_SOURCE = `
const http = require('node:http');
const { parentPort } = require('node:worker_threads');
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{}');
  });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
parentPort.on('message', () => server.close(() => process.exit(0)));
`;

export interface Floor {
  url: string;
  /** Milliseconds its event loop has been active (not waiting for I/O) so far. */
  activeMs(): number;
  close(): Promise<void>;
}

export async function startFloor(): Promise<Floor> {
  const worker = new Worker(FLOOR_SOURCE, { eval: true });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  return {
    url: `http://127.0.0.1:${port}`,
    activeMs: () => worker.performance.eventLoopUtilization().active,
    async close() {
      worker.postMessage('close');
      const exited = new Promise((r) => worker.once('exit', r));
      await Promise.race([exited, new Promise((r) => setTimeout(r, 2_000))]);
      await worker.terminate();
    },
  };
}

// Images on every node without a registry: before an instance is placed on a node whose own
// engine the bot can reach (SPREADSERVE_NODE_ENDPOINTS), the image is copied there from the
// manager when the node lacks it (the manager's `docker save` streamed into the node's `docker
// load`), once per (node, image id). A node without an endpoint must hold the image already; a
// registry that builds push to and services pull from by digest is future work.
import { UserError } from '../lib/errors.ts';

/** What the distribution needs of the engines (engine/swarm.ts gives the real calls). */
export interface ImageTransfer {
  /** The image id of `tag` on the manager, or null when it lacks it. */
  managerImageId(tag: string): Promise<string | null>;
  /** The image id of `tag` on a node's own engine, or null when it lacks it. */
  nodeImageId(node: string, tag: string): Promise<string | null>;
  /** Streams `tag` from the manager into the node's engine. */
  copy(node: string, tag: string): Promise<void>;
}

/** How images reach the nodes, in one sentence for `templates`: by copy to the nodes with an
 * endpoint; the others must hold them already. */
export function deliverySentence(withEndpoint: readonly string[], without: readonly string[]): string {
  const copied =
    withEndpoint.length > 0
      ? `Images are copied from the swarm manager to ${withEndpoint.join(', ')} before their first instance there (no registry)`
      : 'No node has an engine endpoint, so images are never copied (no registry)';
  if (without.length === 0) return `${copied}.`;
  return `${copied}; ${without.join(', ')} must hold them already (set SPREADSERVE_NODE_ENDPOINTS).`;
}

export class ImageDistribution {
  /** (node, image id) pairs known to be there, or being copied there now (one copy shared). */
  private readonly present = new Map<string, Promise<void>>();

  constructor(private readonly transfer: ImageTransfer) {}

  /** Makes sure `node` (a hostname with an endpoint) holds `tag` as the manager has it. */
  async ensure(node: string, tag: string): Promise<void> {
    const managerId = await this.transfer.managerImageId(tag);
    if (managerId === null) {
      // Nothing to copy from: the node may still hold an image of that name (loaded by hand).
      if ((await this.transfer.nodeImageId(node, tag)) !== null) return;
      throw new UserError(
        'not-found',
        `The image ${tag} is neither on the swarm manager nor on node ${node}; build it on the manager first.`,
      );
    }
    const key = `${node}\u0000${managerId}`;
    const known = this.present.get(key);
    if (known) return known;
    const arriving = (async () => {
      if ((await this.transfer.nodeImageId(node, tag)) === managerId) return;
      await this.transfer.copy(node, tag);
      const copied = await this.transfer.nodeImageId(node, tag);
      if (copied !== managerId) {
        throw new Error(`Copying ${tag} (${managerId}) to node ${node} left ${copied ?? 'no image'} there.`);
      }
    })();
    this.present.set(key, arriving);
    // A failed copy is tried again next time; the image removed from the node later is not seen
    // here (the task then fails with "No such image", and its sentence says so).
    arriving.catch(() => {
      if (this.present.get(key) === arriving) this.present.delete(key);
    });
    return arriving;
  }
}

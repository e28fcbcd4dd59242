// The bot's own bridge networks on one engine (plain logic; docker.ts makes the calls). Each is
// created when missing, labelled, with inter-container traffic off; one creation in flight per
// name (Docker 20.10's CheckDuplicate is not atomic: concurrent creates make namesakes), forgotten
// when it fails or the network vanished. A network of that name found with other labels is not
// the bot's: another scope's may be a namesake (scope `a-2`'s first network and scope `a`'s second
// are both `spreadserve-a-2`), and joining it would mix scopes, so the launch is refused.
import { UserError } from '../lib/errors.ts';
import type { Labels } from './types.ts';

/** The body of POST /networks/create for one of the bot's networks. */
export interface BridgeNetworkBody {
  Name: string;
  Driver: 'bridge';
  CheckDuplicate: true;
  Labels: Labels;
  Options: Record<string, string>;
}

export interface NetworkCalls {
  /** Creates the network; false when one of that name already exists (Docker's 409). */
  create(body: BridgeNetworkBody): Promise<boolean>;
  /** The labels of the network of that name; null when there is none. */
  labelsOf(name: string): Promise<Labels | null>;
}

export const bridgeNetworkBody = (name: string, labels: Labels): BridgeNetworkBody => ({
  Name: name,
  Driver: 'bridge',
  CheckDuplicate: true,
  Labels: labels,
  Options: { 'com.docker.network.bridge.enable_icc': 'false' },
});

export class OwnNetworks {
  /** Networks created or found, by name. */
  private readonly known = new Map<string, Promise<void>>();

  constructor(private readonly calls: NetworkCalls) {}

  /** Resolves once the network exists and is the bot's (carries every one of `labels`). */
  ensure({ name, labels }: { name: string; labels: Labels }): Promise<void> {
    const known = this.known.get(name);
    if (known) return known;
    const ensured = this.createOrCheck(name, labels);
    ensured.catch(() => this.forget(name));
    this.known.set(name, ensured);
    return ensured;
  }

  /** The network vanished (or must be looked at again): the next `ensure` asks the engine. */
  forget(name: string): void {
    this.known.delete(name);
  }

  private async createOrCheck(name: string, labels: Labels): Promise<void> {
    if (await this.calls.create(bridgeNetworkBody(name, labels))) return;
    // Removed since the 409: the container's start then fails with "network not found", and
    // createAndStart creates it again.
    const found = await this.calls.labelsOf(name);
    if (found === null) return;
    if (Object.entries(labels).some(([key, value]) => found[key] !== value)) {
      throw new UserError(
        'conflict',
        `The Docker network ${name} exists but is not this bot's (its labels differ), so no instance joins it; remove or rename that network, or choose another SPREADSERVE_SCOPE.`,
      );
    }
  }
}

// The template catalogue: each template with its image as Docker has it and its last build,
// for the `templates` command.
import type { ContainerEngine, ImageInfo } from '../engine/types.ts';
import type { BuildRecord } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import type { Template, TemplateSet } from './templates.ts';

export interface CatalogueEntry {
  template: Template;
  /** null: not built yet. */
  image: ImageInfo | null;
  lastBuild?: Pick<BuildRecord, 'by' | 'startedAt' | 'outcome' | 'durationMs'>;
}

export class TemplateCatalogue {
  constructor(private readonly deps: { templates: TemplateSet; engine: ContainerEngine; store: Store }) {}

  /** On Swarm, how built images reach the nodes (one sentence); undefined on one host, or when
   * the nodes cannot be listed now. */
  async imageDelivery(): Promise<string | undefined> {
    return this.deps.engine.imageDelivery?.().catch(() => undefined);
  }

  /** Every template, in the templates file's order. */
  async entries(): Promise<CatalogueEntry[]> {
    const { templates, engine, store } = this.deps;
    const builds = store.read().builds;
    return Promise.all(
      [...templates.values()].map(async (template) => ({
        template,
        image: await engine.inspectImage(template.image),
        lastBuild: builds.findLast((b) => b.template === template.name),
      })),
    );
  }
}

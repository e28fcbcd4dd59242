import { z } from 'zod';
import type { SavedTemplate } from '../core/saved-templates.ts';
import { type EffectivePolicy, POLICY_FIELDS } from '../core/templates.ts';
import { defineCommand } from './define.ts';
import { positional } from './parse.ts';
import type { TemplatePolicyView, TemplateView } from './reply.ts';

export const templates = defineCommand({
  name: 'templates',
  usage: 'templates',
  summary: 'Show the templates, whether each image is built, its last build, and its reclaim policy.',
  who: 'anyone',
  flags: {},
  schema: z.object({ positional: positional(0, 'templates'), flags: z.object({}) }),
  async run(_args, ctx) {
    const { catalogue } = ctx.services;
    const [entries, delivery] = await Promise.all([catalogue.entries(), catalogue.imageDelivery()]);
    const views = entries.map(
      ({ template: t, image, lastBuild: last }): TemplateView => ({
        name: t.name,
        description: t.description,
        image: t.image,
        strategy: t.build?.strategy ?? 'dockerfile',
        platform: t.platform,
        built: image !== null,
        sizeBytes: image?.sizeBytes,
        imageCreatedAt: image?.createdAt,
        lastBuild: last && {
          by: last.by,
          at: last.startedAt,
          outcome: last.outcome,
          durationMs: last.durationMs,
        },
        limits: {
          memoryBytes: t.memoryBytes,
          cpus: t.nanoCpus / 1e9,
          // Each platform's own: no processes limit on Windows, isolation only there.
          ...(t.platform === 'linux' ? { pids: t.pidsLimit } : {}),
          readOnly: t.readOnly,
          ...(t.isolation !== undefined ? { isolation: t.isolation } : {}),
          ...(t.user !== undefined ? { user: t.user } : {}),
        },
        policy: policyView(ctx.services.instances.policyOf(t.name)),
        ...savedView(ctx.services.snapshots.saved.get(t.name)),
      }),
    );
    const built = views.filter((v) => v.built).length;
    return {
      kind: 'templates',
      ok: true,
      visibility: 'ephemeral',
      summary: `${views.length} template${views.length === 1 ? '' : 's'}, ${built} built${delivery ? ` (${delivery.replace(/\.$/, '')})` : ''}:`,
      templates: views,
    };
  },
});

/** Where a saved template came from; nothing for one of the templates file. */
function savedView(entry: SavedTemplate | undefined): Pick<TemplateView, 'saved'> {
  return entry ? { saved: { ...entry.origin } } : {};
}

/** A template's effective policy as the reply carries it. */
function policyView(p: EffectivePolicy): TemplatePolicyView {
  return {
    idleTimeoutMs: p.idleTimeoutMs,
    idleWarningMs: p.idleWarningMs,
    bytesFloor: p.idleBytesFloor,
    ...(p.maxLifetimeMs !== undefined ? { maxLifetimeMs: p.maxLifetimeMs } : {}),
    maxPerUser: p.maxPerUser,
    own: [...p.own].map((field) => POLICY_FIELDS[field].field),
  };
}

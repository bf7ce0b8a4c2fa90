/** @module A worker thread of `innerStages` and `startRankingStage`: builds the stages it claims, with settings rebuilt from the plain input. */
import { innerStage, rankingStage, type InnerStage, type RankingStage, type StageJobs } from './inner-stage.ts';
import { serveJobs } from './job-pool.ts';
import { stageSettings, type StageSettings } from './settings.ts';

let settings: Promise<StageSettings> | undefined;
await serveJobs<StageJobs>(
  async (j, { input, kind }, note) => {
    settings ??= stageSettings(input);
    return kind === 'inner' ? innerStage(input, await settings, j, note) : rankingStage(input, await settings, note);
  },
  (value) => {
    if ('set' in (value as object)) {
      const { set } = value as InnerStage;
      return [set.data.buffer as ArrayBuffer, set.labels.buffer as ArrayBuffer];
    }
    const { candidates: c, data } = value as RankingStage;
    return [data.buffer, c.offsets.buffer, c.items.buffer, c.features.buffer] as ArrayBuffer[];
  },
);

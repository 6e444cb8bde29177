/**
 * How a run's use of another run's artifact reads (`ArtifactUse`: it loaded
 * a model with `load_model("models:/churn@production")`, a table with
 * `load_table("3/features")`…): the texts of the "Used" and "Used by"
 * sections of a run's detail and of a model version's lineage, and of the
 * compare view's table of them. No DOM here, so jest tests it as it is.
 */

import { formatTimestamp } from '../model';
import { IArtifactUse, IArtifactUsers } from './types';

/** The fields of a use that say what was used, as the compare view has them too. */
export type UsedArtifact = Pick<
  IArtifactUse,
  | 'ref'
  | 'how'
  | 'kind'
  | 'name'
  | 'source_run_id'
  | 'source_number'
  | 'source_experiment'
  | 'source_exists'
  | 'model'
  | 'version'
>;

/**
 * `#3 of Default`, `#3` without an experiment; a run without a number (not in
 * this store: deleted since, or not pushed with the run that used it) by the
 * start of its id: `run 1a2b3c4d`.
 */
export function runRefText(
  number: number | null,
  experiment: string | null,
  id: string
): string {
  if (number === null) {
    return `run ${id.slice(0, 8)}`;
  }
  return experiment ? `#${number} of ${experiment}` : `#${number}`;
}

/**
 * `churn v2`: the registered version a `models:/` reference resolved to when
 * it was used (its alias may have moved since); `null` for an artifact
 * reached through its run (`3/model`).
 */
export function useVersionText(
  use: Pick<IArtifactUse, 'model' | 'version'>
): string | null {
  if (use.model === null || use.model === '') {
    return null;
  }
  return use.version === null ? use.model : `${use.model} v${use.version}`;
}

/** `model 'model' of #3 of Default`: what was used, and the run that logged it. */
export function useSourceText(use: UsedArtifact): string {
  const run = runRefText(
    use.source_number,
    use.source_experiment,
    use.source_run_id
  );
  return `${use.kind} '${use.name}' of ${run}`;
}

/**
 * What is missing of what was used: `(not in this store)` when the run that
 * logged it is not here (deleted since, or the using run was pushed without
 * it), `(artifact deleted)` when only the artifact is gone; `null` when both
 * are still there.
 */
export function useGoneText(
  use: Pick<IArtifactUse, 'source_number' | 'source_exists'>
): string | null {
  if (use.source_number === null) {
    return '(not in this store)';
  }
  return use.source_exists ? null : '(artifact deleted)';
}

/** `load_model('models:/churn@production')`: the call that used it. */
export function useCallText(use: Pick<IArtifactUse, 'how' | 'ref'>): string {
  const quoted = use.ref.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
  return `${use.how}('${quoted}')`;
}

/**
 * The tooltip of a use: the call, when, and the content digest of what it
 * read (`load_model('models:/churn@production') at 10:04:05 · digest 3f2a…`).
 */
export function useTitle(
  use: Pick<IArtifactUse, 'how' | 'ref' | 'used_at' | 'digest'>,
  now: Date = new Date()
): string {
  const call = use.used_at
    ? `${useCallText(use)} at ${formatTimestamp(use.used_at, now)}`
    : useCallText(use);
  return use.digest ? `${call} \u00b7 digest ${use.digest.slice(0, 12)}` : call;
}

/** `… 3 more` when only some of the runs that used it are listed. */
export function moreUsersText(users: IArtifactUsers): string | null {
  const more = users.count - users.runs.length;
  return more > 0 ? `\u2026 ${more.toLocaleString('en-US')} more` : null;
}

/**
 * A compare cell of what a run used: `churn v2 · #3` through the registry,
 * else the artifact and its run (`features · #3`).
 */
export function usedEntryText(use: UsedArtifact): string {
  const what = useVersionText(use) ?? use.name;
  const run =
    use.source_number === null
      ? `run ${use.source_run_id.slice(0, 8)}`
      : `#${use.source_number}`;
  return `${what} \u00b7 ${run}`;
}

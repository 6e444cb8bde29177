/**
 * The tag actions as the user goes through them: pick or type the tag,
 * read what will change ("Move @gold from 9a8b… to 3f2a…?"), confirm, then
 * it happens. A refusal from the server is shown with its message.
 */

import { deleteThen, pointNameFlow } from '../confirm';
import { deleteTag, setTag } from './api';
import { tagChange, tagChoices, tagDeleteQuestion } from './format';
import { IDatasetDetail, IDatasetVersion, ITagResult } from './types';

/**
 * Point a tag at `version` of `detail` in one action: type or pick the tag
 * (those of other versions offered), confirm the move, then POST it. The
 * result, or `null` when cancelled, unchanged or refused (the refusal
 * shown).
 */
export async function moveTagFlow(
  detail: IDatasetDetail,
  version: IDatasetVersion
): Promise<ITagResult | null> {
  return pointNameFlow(
    {
      title: `Tag ${detail.dataset.name}@${version.short}`,
      label: 'Tag (an existing one moves here)',
      placeholder: 'gold',
      okLabel: 'Next'
    },
    tagChoices(detail, version),
    typed => tagChange(detail, typed, version),
    change => setTag(detail.dataset.name, change.tag, version.hash),
    change => `Cannot tag @${change.tag}`
  );
}

/** Delete `tag` (on `version`) after confirmation; whether it was. */
export function deleteTagFlow(
  name: string,
  tag: string,
  version: IDatasetVersion
): Promise<boolean> {
  return deleteThen(
    tagDeleteQuestion(name, tag, version),
    () => deleteTag(name, tag),
    `Cannot delete @${tag}`
  );
}

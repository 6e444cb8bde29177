/**
 * The tag actions as the user goes through them: pick or type the tag,
 * read what will change ("Move @gold from 9a8b… to 3f2a…?"), confirm, then
 * it happens. A refusal from the server is shown with its message.
 */

import { Dialog, Notification } from '@jupyterlab/apputils';

import { askName, confirmThen } from '../confirm';
import { deleteTag, setTag } from './api';
import { TagChange, tagChange, tagChoices, tagDeleteQuestion } from './format';
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
  const choices = tagChoices(detail, version);
  const change = await askName<Exclude<TagChange, { kind: 'invalid' }>>(
    {
      title: `Tag ${detail.dataset.name}@${version.short}`,
      label: 'Tag (an existing one moves here)',
      placeholder: 'gold',
      okLabel: 'Next'
    },
    choices,
    choices[0] ?? '',
    typed => {
      const change = tagChange(detail, typed, version);
      return change.kind === 'invalid'
        ? { error: change.message }
        : { value: change };
    }
  );
  if (change === null) {
    return null;
  }
  if (change.kind === 'noop') {
    Notification.info(change.message, { autoClose: 4000 });
    return null;
  }
  return confirmThen(
    change,
    Dialog.okButton({ label: change.accept }),
    () => setTag(detail.dataset.name, change.tag, version.hash),
    `Cannot tag @${change.tag}`
  );
}

/** Delete `tag` (on `version`) after confirmation; whether it was. */
export async function deleteTagFlow(
  name: string,
  tag: string,
  version: IDatasetVersion
): Promise<boolean> {
  const done = await confirmThen(
    tagDeleteQuestion(name, tag, version),
    Dialog.warnButton({ label: 'Delete' }),
    async () => {
      await deleteTag(name, tag);
      return true;
    },
    `Cannot delete @${tag}`
  );
  return done ?? false;
}

/**
 * The tag actions as the user goes through them: pick or type the tag,
 * read what will change ("Move @gold from 9a8b… to 3f2a…?"), confirm, then
 * it happens. A refusal from the server is shown with its message.
 */

import { Dialog, InputDialog, Notification } from '@jupyterlab/apputils';

import { confirmThen } from '../confirm';
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
  const choices = tagChoices(detail, version);
  let label = 'Tag (an existing one moves here)';
  let typed = choices[0] ?? '';
  for (;;) {
    const options = {
      title: `Tag ${detail.dataset.name}@${version.short}`,
      label,
      placeholder: 'gold',
      okLabel: 'Next'
    };
    const answer =
      choices.length > 0
        ? await InputDialog.getItem({
            ...options,
            items: choices,
            current: typed,
            editable: true
          })
        : await InputDialog.getText({ ...options, text: typed });
    if (!answer.button.accept) {
      return null;
    }
    typed = answer.value ?? '';
    const change = tagChange(detail, typed, version);
    if (change.kind === 'invalid') {
      label = change.message;
      continue;
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

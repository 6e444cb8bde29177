/**
 * The tag actions as the user goes through them: pick or type the tag,
 * read what will change ("Move @gold from 9a8b… to 3f2a…?"), confirm, then
 * it happens. A refusal from the server is shown with its message.
 */

import {
  Dialog,
  InputDialog,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';

import { deleteTag, setTag } from './api';
import { tagChange, tagChoices, tagDeleteQuestion } from './format';
import { IDatasetDetail, IDatasetVersion, ITagResult } from './types';

function messageOf(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

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
    const confirm = await showDialog({
      title: change.title,
      body: change.body,
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({ label: change.accept })
      ]
    });
    if (!confirm.button.accept) {
      return null;
    }
    try {
      return await setTag(detail.dataset.name, change.tag, version.hash);
    } catch (reason) {
      await showErrorMessage(`Cannot tag @${change.tag}`, {
        message: messageOf(reason)
      });
      return null;
    }
  }
}

/** Delete `tag` (on `version`) after confirmation; whether it was. */
export async function deleteTagFlow(
  name: string,
  tag: string,
  version: IDatasetVersion
): Promise<boolean> {
  const question = tagDeleteQuestion(name, tag, version);
  const confirm = await showDialog({
    title: question.title,
    body: question.body,
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
  });
  if (!confirm.button.accept) {
    return false;
  }
  try {
    await deleteTag(name, tag);
    return true;
  } catch (reason) {
    await showErrorMessage(`Cannot delete @${tag}`, {
      message: messageOf(reason)
    });
    return false;
  }
}

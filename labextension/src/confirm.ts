/**
 * The dialogs of an action the user goes through: a name asked for until it
 * is valid, then the question of what will change, then the action; a refusal
 * from the server is shown with its message, never dropped. The registry's
 * alias actions and the datasets' tag actions go through them.
 */

import {
  Dialog,
  InputDialog,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';

/** The message of a refusal (an APIError carries the server's). */
export function messageOf(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}

/** What a confirmation asks: a title and a sentence. */
export interface IQuestion {
  title: string;
  body: string;
}

/**
 * Ask `question` with `button` beside Cancel, then run `act`. Its result, or
 * `null` when cancelled or refused (the refusal shown under `failure`).
 */
export async function confirmThen<T>(
  question: IQuestion,
  button: Dialog.IButton,
  act: () => Promise<T>,
  failure: string
): Promise<T | null> {
  const confirm = await showDialog({
    title: question.title,
    body: question.body,
    buttons: [Dialog.cancelButton(), button]
  });
  if (!confirm.button.accept) {
    return null;
  }
  try {
    return await act();
  } catch (reason) {
    await showErrorMessage(failure, { message: messageOf(reason) });
    return null;
  }
}

/**
 * Ask for a name (a model's, an alias, a tag), the names in `choices` offered in
 * an editable list when there are any, until `check` accepts what was typed:
 * its complaint replaces the dialog's label, the text kept for correcting.
 * What `check` made of it, or `null` when cancelled.
 */
export async function askName<T>(
  dialog: {
    title: string;
    label: string;
    placeholder: string;
    okLabel: string;
  },
  choices: string[],
  initial: string,
  check: (typed: string) => { value: T } | { error: string }
): Promise<T | null> {
  let label = dialog.label;
  let typed = initial;
  for (;;) {
    const options = { ...dialog, label };
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
    const checked = check(typed);
    if ('value' in checked) {
      return checked.value;
    }
    label = checked.error;
  }
}

/** A name (a dataset's tag, a model's alias) pointed somewhere: the question. */
export interface IPointing extends IQuestion {
  kind: 'move' | 'create';
  /** The confirming button's label. */
  accept: string;
}

/** What pointing a name somewhere would do. */
export type PointerChange<C extends IPointing> =
  { kind: 'invalid'; message: string } | { kind: 'noop'; message: string } | C;

/**
 * Point a name at something in one action: type or pick it (`choices`
 * offered), read what will change, confirm, then `apply`. The result, or
 * `null` when cancelled, unchanged (said in a notification) or refused (the
 * refusal shown under `failure(change)`).
 */
export async function pointNameFlow<C extends IPointing, T>(
  dialog: Parameters<typeof askName>[0],
  choices: string[],
  change: (typed: string) => PointerChange<C>,
  apply: (change: C) => Promise<T>,
  failure: (change: C) => string
): Promise<T | null> {
  const chosen = await askName<Exclude<PointerChange<C>, { kind: 'invalid' }>>(
    dialog,
    choices,
    choices[0] ?? '',
    typed => {
      const made = change(typed);
      return made.kind === 'invalid'
        ? { error: made.message }
        : { value: made as Exclude<PointerChange<C>, { kind: 'invalid' }> };
    }
  );
  if (chosen === null) {
    return null;
  }
  if (chosen.kind === 'noop') {
    Notification.info(chosen.message, { autoClose: 4000 });
    return null;
  }
  const pointing = chosen as C;
  return confirmThen(
    pointing,
    Dialog.okButton({ label: pointing.accept }),
    () => apply(pointing),
    failure(pointing)
  );
}

/**
 * Ask `question`, then `remove`: whether it was removed (a refusal shown
 * under `failure`).
 */
export async function deleteThen(
  question: IQuestion,
  remove: () => Promise<void>,
  failure: string
): Promise<boolean> {
  const done = await confirmThen(
    question,
    Dialog.warnButton({ label: 'Delete' }),
    async () => {
      await remove();
      return true;
    },
    failure
  );
  return done ?? false;
}

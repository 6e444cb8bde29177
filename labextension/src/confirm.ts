/**
 * An action the user confirms before it happens: the question shown (what
 * will change), then the action; a refusal from the server is shown with its
 * message, never dropped. The registry's alias actions and the datasets' tag
 * actions go through it.
 */

import { Dialog, showDialog, showErrorMessage } from '@jupyterlab/apputils';

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

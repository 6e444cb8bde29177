/**
 * The registry's actions as the user goes through them: each asks what it
 * needs (a model name, an alias), says what it is about to do, then does it.
 * A refusal from the server is shown with its message, never dropped.
 */

import { Notification, showErrorMessage } from '@jupyterlab/apputils';

import { askName, deleteThen, messageOf, pointNameFlow } from '../confirm';
import { deleteAlias, listModels, registerModel, setAlias } from './api';
import {
  aliasChange,
  aliasChoices,
  aliasDeleteQuestion,
  checkModelName
} from './format';
import { IModelDetail, IRegisteredVersion } from './types';

/**
 * Register the model artifact `artifact` of run `runId`: ask for the
 * registered model's name (existing ones offered), then POST it. The version
 * registered, or `null` when cancelled or refused (the refusal shown).
 */
export async function registerFlow(
  runId: string,
  artifact: string
): Promise<IRegisteredVersion | null> {
  let names: string[];
  try {
    names = (await listModels()).map(m => m.name);
  } catch (reason) {
    await showErrorMessage('Cannot list the registered models', {
      message: messageOf(reason)
    });
    return null;
  }
  const name = await askName(
    {
      title: `Register ${artifact}`,
      label: 'Register as model (an existing name adds a version to it)',
      placeholder: 'churn',
      okLabel: 'Register'
    },
    names,
    names.length === 1 ? names[0] : '',
    typed => {
      const checked = checkModelName(typed);
      return 'error' in checked ? checked : { value: checked.name };
    }
  );
  if (name === null) {
    return null;
  }
  try {
    const version = await registerModel(name, runId, artifact);
    Notification.success(
      `Registered ${artifact} as ${version.model} v${version.version} (${version.ref})`,
      { autoClose: 5000 }
    );
    return version;
  } catch (reason) {
    await showErrorMessage(`Cannot register ${artifact}`, {
      message: messageOf(reason)
    });
    return null;
  }
}

/**
 * Set an alias on `version` of the model `detail`, in one action: type or
 * pick the alias (the aliases of other versions offered), confirm the move
 * ("Move @production from v1 to v2?"), then PUT it. The model afterwards, or
 * `null` when cancelled or refused (the refusal shown).
 */
export async function setAliasFlow(
  detail: IModelDetail,
  version: number
): Promise<IModelDetail | null> {
  return pointNameFlow(
    {
      title: `Set an alias on ${detail.name} v${version}`,
      label: 'Alias (an existing one moves here)',
      placeholder: 'production',
      okLabel: 'Next'
    },
    aliasChoices(detail, version),
    typed => aliasChange(detail, typed, version),
    change => setAlias(detail.name, change.alias, version),
    change => `Cannot set @${change.alias}`
  );
}

/**
 * Delete `alias` of `model` (on `version`) after confirmation; whether it
 * was deleted (a refusal shown).
 */
export function deleteAliasFlow(
  model: string,
  alias: string,
  version: number
): Promise<boolean> {
  return deleteThen(
    aliasDeleteQuestion(model, alias, version),
    () => deleteAlias(model, alias),
    `Cannot delete @${alias}`
  );
}

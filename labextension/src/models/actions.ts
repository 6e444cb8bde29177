/**
 * The registry's actions as the user goes through them: each asks what it
 * needs (a model name, an alias), says what it is about to do, then does it.
 * A refusal from the server is shown with its message, never dropped.
 */

import { Notification, showErrorMessage } from '@jupyterlab/apputils';

import { askName, deleteThen, messageOf, pointNameFlow } from '../confirm';
import {
  deleteAlias,
  deleteModel,
  listModels,
  registerModel,
  setAlias
} from './api';
import {
  aliasChange,
  aliasChoices,
  aliasDeleteQuestion,
  checkModelName,
  modelDeleteQuestion
} from './format';
import { IModelDetail, IModelListItem, IRegisteredVersion } from './types';

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

/**
 * Delete the model `name` after confirmation; whether it was deleted (a
 * refusal shown). The question is built from the registry as it is now, not
 * as the section last showed it, so the aliases it names (and deletes with
 * the model) are the model's; one set meanwhile makes the server refuse.
 */
export async function deleteModelFlow(name: string): Promise<boolean> {
  let model: IModelListItem | undefined;
  try {
    model = (await listModels()).find(m => m.name === name);
  } catch (reason) {
    await showErrorMessage(`Cannot delete ${name}`, {
      message: messageOf(reason)
    });
    return false;
  }
  if (!model) {
    await showErrorMessage(`Cannot delete ${name}`, {
      message: `${name} is no longer registered.`
    });
    return false;
  }
  const question = modelDeleteQuestion(model);
  return deleteThen(
    question,
    () => deleteModel(name, question.force),
    `Cannot delete ${name}`
  );
}

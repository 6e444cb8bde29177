/**
 * The registry's actions as the user goes through them: each asks what it
 * needs (a model name, an alias, a description, tags), says what it is about
 * to do, then does it. A refusal from the server is shown with its message,
 * never dropped.
 */

import {
  InputDialog,
  Notification,
  showErrorMessage
} from '@jupyterlab/apputils';

import { askName, deleteThen, messageOf, pointNameFlow } from '../confirm';
import {
  deleteAlias,
  deleteModel,
  listModels,
  registerModel,
  setAlias,
  updateModel,
  updateModelVersion
} from './api';
import {
  aliasChange,
  aliasChoices,
  aliasDeleteQuestion,
  checkModelName,
  modelDeleteQuestion,
  tagsPrompt,
  typedTagsChange
} from './format';
import {
  IModelDetail,
  IModelListItem,
  IRegisteredVersion,
  IRegistryUpdate
} from './types';

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

/**
 * Ask for a description, `current` prefilled; the text typed, or `null`
 * when cancelled or left as it was (nothing to send then).
 */
async function askDescription(
  title: string,
  current: string
): Promise<string | null> {
  const answer = await InputDialog.getText({
    title,
    label: 'Description (empty clears it)',
    placeholder: 'What it is, what it was trained on\u2026',
    text: current,
    okLabel: 'Save'
  });
  if (!answer.button.accept) {
    return null;
  }
  const typed = (answer.value ?? '').trim();
  return typed === current.trim() ? null : typed;
}

/** PATCH `update` onto `version` of `model`; the version after, or `null` (the refusal shown). */
async function patchVersion(
  model: string,
  version: number,
  update: IRegistryUpdate
): Promise<IRegisteredVersion | null> {
  try {
    return await updateModelVersion(model, version, update);
  } catch (reason) {
    await showErrorMessage(`Cannot change ${model} v${version}`, {
      message: messageOf(reason)
    });
    return null;
  }
}

/**
 * Describe `version` of `model`: its description prefilled, then PATCH it.
 * The version after (without its run's fields), or `null` when cancelled,
 * unchanged or refused (the refusal shown).
 */
export async function describeVersionFlow(
  model: string,
  version: Pick<IRegisteredVersion, 'version' | 'description'>
): Promise<IRegisteredVersion | null> {
  const description = await askDescription(
    `Describe ${model} v${version.version}`,
    version.description
  );
  if (description === null) {
    return null;
  }
  return patchVersion(model, version.version, { description });
}

/** PATCH `update` onto the model `name`; the model after, or `null` (the refusal shown). */
async function patchModel(
  name: string,
  update: IRegistryUpdate
): Promise<IModelDetail | null> {
  try {
    return await updateModel(name, update);
  } catch (reason) {
    await showErrorMessage(`Cannot change ${name}`, {
      message: messageOf(reason)
    });
    return null;
  }
}

/**
 * The Tags… dialog of `subject` (`churn v2`, or the model `churn`): its
 * `tags` prefilled as `key=value, …`, the text typed read back, and only
 * the difference handed to `save`, for one PATCH (a key removed from the
 * text is deleted). Tags the one-line text cannot show (a ',' in a value)
 * are named and kept. A typo is shown, nothing sent. What `save` answers,
 * or `null` when cancelled, unchanged or refused.
 */
async function tagsFlow<T>(
  subject: string,
  placeholder: string,
  tags: { [key: string]: string },
  save: (change: { [key: string]: string | null }) => Promise<T | null>
): Promise<T | null> {
  const prompt = tagsPrompt(tags);
  const answer = await InputDialog.getText({
    title: `Tags of ${subject}`,
    label: prompt.label,
    placeholder,
    text: prompt.text,
    okLabel: 'Save'
  });
  if (!answer.button.accept) {
    return null;
  }
  const typed = typedTagsChange(prompt.editable, answer.value ?? '');
  if ('error' in typed) {
    await showErrorMessage(`Cannot tag ${subject}`, { message: typed.error });
    return null;
  }
  if (Object.keys(typed.change).length === 0) {
    Notification.info(`The tags of ${subject} are unchanged.`, {
      autoClose: 4000
    });
    return null;
  }
  return save(typed.change);
}

/**
 * Tag `version` of `model` through the Tags… dialog. The version after
 * (without its run's fields), or `null` when cancelled, unchanged or refused.
 */
export function tagVersionFlow(
  model: string,
  version: Pick<IRegisteredVersion, 'version' | 'tags'>
): Promise<IRegisteredVersion | null> {
  return tagsFlow(
    `${model} v${version.version}`,
    'validation=passed, owner=ana',
    version.tags,
    tags => patchVersion(model, version.version, { tags })
  );
}

/**
 * Describe the model `detail`: its description prefilled, then PATCH it.
 * The model after, or `null` when cancelled, unchanged or refused.
 */
export async function describeModelFlow(
  detail: Pick<IModelDetail, 'name' | 'description'>
): Promise<IModelDetail | null> {
  const description = await askDescription(
    `Describe ${detail.name}`,
    detail.description
  );
  if (description === null) {
    return null;
  }
  return patchModel(detail.name, { description });
}

/**
 * Tag the model `detail` itself (its team, its task: what holds for every
 * version) through the same Tags… dialog as a version's. The model after,
 * or `null` when cancelled, unchanged or refused.
 */
export function tagModelFlow(
  detail: Pick<IModelDetail, 'name' | 'tags'>
): Promise<IModelDetail | null> {
  return tagsFlow(
    detail.name,
    'team=growth, task=classification',
    detail.tags,
    tags => patchModel(detail.name, { tags })
  );
}

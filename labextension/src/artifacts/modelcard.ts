/**
 * What a model artifact shows when opened: how it was saved (format,
 * library and version, Python), whether loading it can run code, the
 * registered versions it is, a Register… action, and the code that loads it.
 */

import { Clipboard } from '@jupyterlab/apputils';

import { h } from '../dom';
import { factList } from '../sections';
import {
  isUnsafe,
  loadCode,
  modelFacts,
  signatureOf,
  untrustedTypes,
  versionLabel
} from './format';
import { IArtifact, IRunModelVersion } from './types';

/** The "unsafe" badge: loading runs code unless trusted. */
export function unsafeBadge(): HTMLElement {
  return h('span', {
    class: 'jp-mltrack-badge jp-mltrack-badge-unsafe',
    text: 'unsafe',
    title:
      'Saved with pickle: loading it can run any code. mltrack.load_model refuses it unless told trusted=True.'
  });
}

/** A registered version and its aliases: `churn v2 @production`. */
export function versionChip(v: IRunModelVersion): HTMLElement {
  return h(
    'span',
    {
      class: 'jp-mltrack-version-chip',
      'data-model': v.model,
      'data-version': v.version,
      title: v.ref
    },
    h('span', { class: 'jp-mltrack-version-label', text: versionLabel(v) }),
    v.aliases.map(alias =>
      h('span', { class: 'jp-mltrack-alias', text: `@${alias}` })
    )
  );
}

/**
 * The code that loads the model, with a Copy button: by the registry when it
 * is registered (a version with an alias first, so the code follows the
 * alias), else by its run. The server writes the call, `trusted=` included.
 */
export function loadSnippet(
  artifact: IArtifact,
  versions: IRunModelVersion[]
): HTMLElement | null {
  const code = loadCode(artifact, versions);
  if (code === null) {
    return null;
  }
  const copy = h('button', {
    class: 'jp-mltrack-button jp-mltrack-load-copy',
    text: 'Copy',
    title: 'Copy this code to the clipboard'
  });
  copy.addEventListener('click', () => {
    Clipboard.copyToSystem(code);
    copy.textContent = 'Copied';
    window.setTimeout(() => (copy.textContent = 'Copy'), 1500);
  });
  return h(
    'div',
    { class: 'jp-mltrack-model-load' },
    h(
      'div',
      { class: 'jp-mltrack-model-load-head' },
      h('span', { class: 'jp-mltrack-muted-inline', text: 'Load it' }),
      copy
    ),
    h('pre', { class: 'jp-mltrack-code-text', text: code })
  );
}

/** The model card of `artifact` (`versions`: its registered versions). */
export function modelCard(
  artifact: IArtifact,
  versions: IRunModelVersion[],
  onRegister: () => void
): HTMLElement {
  const register = h('button', {
    class: 'jp-mltrack-button jp-mltrack-register',
    text: 'Register\u2026',
    title:
      'Add this model to the registry as a new version of a named model (created if new)'
  });
  register.addEventListener('click', onRegister);
  const untrusted = untrustedTypes(artifact);
  const signature = signatureOf(artifact);
  return h(
    'div',
    { class: 'jp-mltrack-model-card' },
    factList(modelFacts(artifact), 'jp-mltrack-model-facts'),
    isUnsafe(artifact) ? unsafeBadge() : null,
    untrusted.length > 0
      ? h('div', {
          class: 'jp-mltrack-model-untrusted',
          text: `Types to trust when loading: ${untrusted.join(', ')}`
        })
      : null,
    h(
      'div',
      { class: 'jp-mltrack-model-registered' },
      h('span', { class: 'jp-mltrack-muted-inline', text: 'Registered: ' }),
      versions.length > 0
        ? versions.map(versionChip)
        : h('span', { class: 'jp-mltrack-muted-inline', text: 'not yet' }),
      register
    ),
    loadSnippet(artifact, versions),
    signature !== null
      ? h(
          'details',
          { class: 'jp-mltrack-model-signature' },
          h('summary', { text: 'Signature' }),
          h('pre', {
            class: 'jp-mltrack-code-text',
            text: JSON.stringify(signature, null, 2)
          })
        )
      : null
  );
}

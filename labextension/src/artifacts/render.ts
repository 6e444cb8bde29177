/**
 * A file's preview drawn by JupyterLab's own renderers (rendermime): text,
 * markdown, a JSON tree, images, and plotly figures through the renderer
 * the plotly package installs (plotly.js is never bundled here).
 */

import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { h } from '../dom';
import { chooseMime, previewNote, trustedMime } from './format';
import { IArtifactPreview } from './types';

/**
 * Replace what `panel` shows with `preview`: its note (a reason, a cut
 * text) and its content, rendered. A newer call clears what an older one
 * is still drawing. Rendering failures throw, the panel left empty.
 */
export async function renderPreview(
  rendermime: IRenderMimeRegistry,
  panel: Panel,
  preview: IArtifactPreview
): Promise<void> {
  clearPanel(panel);
  const mime = chooseMime(preview.bundle, rendermime.mimeTypes);
  const note =
    previewNote(preview) ??
    (mime === null
      ? `No renderer for ${preview.media_type} here; download the file.`
      : null);
  if (note) {
    panel.addWidget(
      new Widget({
        node: h('div', {
          class: 'jp-mltrack-muted jp-mltrack-artifact-note',
          text: note
        })
      })
    );
  }
  if (!preview.bundle || mime === null) {
    return;
  }
  const renderer = rendermime.createRenderer(mime);
  renderer.addClass('jp-mltrack-artifact-rendered');
  renderer.node.dataset.mime = mime;
  // Attached before it renders: a figure sizes itself to the panel.
  panel.addWidget(renderer);
  try {
    await renderer.renderModel(
      new MimeModel({ data: preview.bundle as any, trusted: trustedMime(mime) })
    );
  } catch (reason) {
    clearPanel(panel);
    throw reason;
  }
}

/** Dispose of every widget of `panel`. */
export function clearPanel(panel: Panel): void {
  for (const widget of panel.widgets.slice()) {
    widget.dispose();
  }
}

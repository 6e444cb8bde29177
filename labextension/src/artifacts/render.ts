/**
 * A file's preview drawn by JupyterLab's own renderers (rendermime): text,
 * markdown, a JSON tree, images, and plotly figures through the renderer
 * the plotly package installs (plotly.js is never bundled here). The run
 * detail's Artifacts section, the compare view's Artifacts tab and the
 * charts all draw through `drawBundle`.
 */

import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import { Panel, Widget } from '@lumino/widgets';

import { h } from '../dom';
import { chooseMime, enlargement, previewNote, trustedMime } from './format';
import { IArtifactPreview, IMimeBundle } from './types';

/**
 * Draw `mime` of `bundle` in `panel` by rendermime's renderer for it, in
 * place of what the panel shows: the old content stays until the new one
 * is drawn (no flash of an empty panel), then goes. The renderer is attached
 * before it renders (a figure sizes itself to the panel), trusted only where
 * trust runs nothing (`trustedMime`), and tagged with `data-mime`. `false`
 * when `stale()` says a newer draw began meanwhile (this one is then
 * dropped); a failure is thrown, the panel left as it was.
 */
export async function drawBundle(
  rendermime: IRenderMimeRegistry,
  panel: Panel,
  bundle: IMimeBundle,
  mime: string,
  className: string,
  stale: () => boolean = () => false
): Promise<boolean> {
  const renderer = rendermime.createRenderer(mime);
  renderer.addClass(className);
  renderer.node.dataset.mime = mime;
  const model = new MimeModel({ data: bundle, trusted: trustedMime(mime) });
  try {
    panel.addWidget(renderer);
    await renderer.renderModel(model);
  } catch (reason) {
    renderer.dispose();
    throw reason;
  }
  if (stale()) {
    renderer.dispose();
    return false;
  }
  renderer.node.querySelectorAll('img').forEach(enlargeWhenSmall);
  for (const widget of panel.widgets.slice()) {
    if (widget !== renderer) {
      widget.dispose();
    }
  }
  return true;
}

/**
 * Show `preview` in `panel`, in place of what it shows: its note (a reason,
 * a cut text) above its content, rendered by the best renderer JupyterLab
 * has for it (`chooseMime`). A draw `stale()` says was overtaken is
 * dropped. Rendering failures throw, the panel left as it was.
 */
export async function renderPreview(
  rendermime: IRenderMimeRegistry,
  panel: Panel,
  preview: IArtifactPreview,
  stale: () => boolean = () => false
): Promise<void> {
  const mime = chooseMime(preview.bundle, rendermime.mimeTypes);
  const note =
    previewNote(preview) ??
    (mime === null
      ? `No renderer for ${preview.media_type} here; download the file.`
      : null);
  if (preview.bundle && mime !== null) {
    const drawn = await drawBundle(
      rendermime,
      panel,
      preview.bundle,
      mime,
      'jp-mltrack-artifact-rendered',
      stale
    );
    if (!drawn) {
      return;
    }
  } else {
    clearPanel(panel);
  }
  if (note) {
    panel.insertWidget(
      0,
      new Widget({
        node: h('div', {
          class: 'jp-mltrack-muted jp-mltrack-artifact-note',
          text: note
        })
      })
    );
  }
}

/**
 * Show a small picture enlarged by a whole number, its pixels kept sharp
 * (`image-rendering: pixelated`: smoothing blurs a tiny image into mush),
 * once its size is known.
 */
function enlargeWhenSmall(img: HTMLImageElement): void {
  const apply = () => {
    const scale = enlargement(img.naturalWidth, img.naturalHeight);
    if (scale > 1) {
      img.style.width = `${img.naturalWidth * scale}px`;
      img.classList.add('jp-mltrack-enlarged');
    }
  };
  if (img.complete && img.naturalWidth > 0) {
    apply();
  } else {
    img.addEventListener('load', apply, { once: true });
  }
}

/** Dispose of every widget of `panel`. */
export function clearPanel(panel: Panel): void {
  for (const widget of panel.widgets.slice()) {
    widget.dispose();
  }
}

import { LabIcon } from '@jupyterlab/ui-components';

const runsSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 3h2v16h16v2H3z"/>
    <path d="M7.5 15.6 6.1 14.2l4.4-4.4 3 3 5.1-5.1 1.4 1.4-6.5 6.5-3-3z"/>
    <circle cx="19.2" cy="6.5" r="1.8"/>
  </g>
</svg>`;

/** Icon of the Runs sidebar. */
export const runsIcon = new LabIcon({
  name: 'jupyter-mltrack:runs',
  svgstr: runsSvg
});

const pipelineSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 3h8v7H3z"/>
    <path d="M6 10h2v6h3.5v-2.5L15 17l-3.5 3.5V18H6z"/>
    <path d="M16 13h5v8h-5z"/>
  </g>
</svg>`;

/** Icon of "Export to Pipeline" (a notebook step flowing into a script). */
export const pipelineIcon = new LabIcon({
  name: 'jupyter-mltrack:pipeline',
  svgstr: pipelineSvg
});

const modelSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2 3 7v10l9 5 9-5V7zm0 2.3L18.9 8 12 11.7 5.1 8zM5 9.7l6 3.3v6.6l-6-3.3zm8 9.9V13l6-3.3v6.6z"/>
  </g>
</svg>`;

/** Icon of a model artifact and of the Models section (a cube). */
export const modelIcon = new LabIcon({
  name: 'jupyter-mltrack:model',
  svgstr: modelSvg
});

const sweepSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M3 3h2v16h16v2H3z"/>
    <path d="M7 16h3v-5h4V8h3V6h2v4h-3v3h-4v5H7z"/>
    <circle cx="8.5" cy="9" r="1.5"/>
    <circle cx="12.5" cy="15.5" r="1.5"/>
    <circle cx="16" cy="16" r="1.5"/>
  </g>
</svg>`;

/**
 * Icon of a sweep's charts: trials as points under the best-so-far line, a
 * staircase (its optimisation history).
 */
export const sweepIcon = new LabIcon({
  name: 'jupyter-mltrack:sweep',
  svgstr: sweepSvg
});

const datasetSvg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M12 2C7.6 2 4 3.3 4 5v14c0 1.7 3.6 3 8 3s8-1.3 8-3V5c0-1.7-3.6-3-8-3zm0 2c3.9 0 6 1.1 6 1s-2.1 1-6 1-6-1.1-6-1 2.1-1 6-1zM6 7.3C7.5 7.8 9.6 8 12 8s4.5-.2 6-.7V11c0 .1-2.1 1-6 1s-6-.9-6-1zm0 6C7.5 13.8 9.6 14 12 14s4.5-.2 6-.7V19c0 .1-2.1 1-6 1s-6-.9-6-1z"/>
  </g>
</svg>`;

/** Icon of the Datasets view (a database). */
export const datasetIcon = new LabIcon({
  name: 'jupyter-mltrack:dataset',
  svgstr: datasetSvg
});

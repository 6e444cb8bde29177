/**
 * Notebooks the browser tests upload: the same empty notebook for each, so
 * every test starts from a code cell with a known id and the Python kernel.
 */

import { expect, IJupyterLabPageFixture } from '@jupyterlab/galata';

/**
 * Upload `content` as the notebook at `path`, open it and make it the active
 * tab; its name.
 */
export async function openUploaded(
  page: IJupyterLabPageFixture,
  path: string,
  content: string
): Promise<string> {
  const name = path.split('/').pop()!;
  await page.contents.uploadContent(content, 'text', path);
  await page.notebook.openByPath(path);
  await page.notebook.activate(name);
  return name;
}

/** A notebook with one empty code cell (id `cellId`) and the default Python kernel. */
export function emptyNotebook(cellId: string): string {
  return JSON.stringify({
    cells: [
      {
        cell_type: 'code',
        execution_count: null,
        id: cellId,
        metadata: {},
        outputs: [],
        source: []
      }
    ],
    metadata: {
      kernelspec: {
        display_name: 'Python 3 (ipykernel)',
        language: 'python',
        name: 'python3'
      },
      language_info: { name: 'python' }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

/**
 * A notebook with these code cells (ids `cell-0`, `cell-1`, …), none run yet.
 * Uploading the code beats typing it: the editor would auto-indent blocks.
 */
export function notebookWithCells(sources: string[]): string {
  return JSON.stringify({
    cells: sources.map((source, i) => ({
      cell_type: 'code',
      execution_count: null,
      id: `cell-${i}`,
      metadata: {},
      outputs: [],
      source: source.split(/(?<=\n)/)
    })),
    metadata: {
      kernelspec: {
        display_name: 'Python 3 (ipykernel)',
        language: 'python',
        name: 'python3'
      },
      language_info: { name: 'python' }
    },
    nbformat: 4,
    nbformat_minor: 5
  });
}

/**
 * Upload a notebook of `cells` at `path`, open it and run its first cell,
 * which seeds the test server's store straight through the Python API and
 * ends by printing `seeded`: done once it has (the kernel's start included).
 */
export async function seedStore(
  page: IJupyterLabPageFixture,
  path: string,
  cells: string[]
): Promise<void> {
  await openUploaded(page, path, notebookWithCells(cells));
  await page.notebook.runCell(0);
  await expect(page.locator('.jp-OutputArea-output').first()).toContainText(
    'seeded',
    { timeout: 30000 }
  );
}

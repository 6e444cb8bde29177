import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  Notification,
  WidgetTracker,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { Widget } from '@lumino/widgets';

import { compareTracker, openCompare } from './compare';
import { RunDetailWidget } from './detail';
import { DatasetsPanel } from './datasets/panel';
import { OPEN_DATASET_EVENT, OPEN_RUN_EVENT, h } from './dom';
import { openGroupsChart, refreshGroupsChart } from './groups/chart';
import { exportPipeline } from './handler';
import { datasetIcon, pipelineIcon, runsIcon, sweepIcon } from './icons';
import {
  EXPORT_TITLE,
  IExportRequest,
  IExportResult,
  nextExportStep,
  withTargets
} from './pipeline';
import { openLineage } from './models/lineage';
import { ModelsSection } from './models/section';
import { MAX_COMPARE, MIN_COMPARE } from './selection';
import { DEFAULT_SETTINGS, ISidebarSettings, RunsSidebar } from './sidebar';
import { openSweepCharts, refreshSweepCharts } from './sweeps/panel';
import { isSweep } from './sweeps/sweep';

/** Plugin id (also the id of the settings schema). */
const PLUGIN_ID = 'jupyter-mltrack:plugin';

/** Command ids. */
export namespace CommandIDs {
  export const openSidebar = 'mltrack:open-sidebar';
  export const refresh = 'mltrack:refresh';
  export const openRun = 'mltrack:open-run';
  export const toggleAllExperiments = 'mltrack:toggle-all-experiments';
  export const exportNotebook = 'mltrack:export-notebook';
  export const exportRun = 'mltrack:export-run';
  /**
   * Compare runs: `ids` (and `baseline`) when given, else the runs checked
   * in the sidebar; from a run's context menu (`fromContextMenu`), that run
   * as the baseline with the checked ones.
   */
  export const compareRuns = 'jupyter-mltrack:compare-runs';
  /**
   * The Datasets view: on `name` (and version `hash`) when given, else on
   * what it showed last.
   */
  export const openDatasets = 'jupyter-mltrack:open-datasets';
  /**
   * A sweep's charts (optimization history, parameter importance): `id`
   * when given, else the sweep row right-clicked.
   */
  export const sweepCharts = 'jupyter-mltrack:sweep-charts';
}

const CATEGORY = 'ML Tracking';

/**
 * The runs sidebar, run detail and commands of jupyter_mltrack.
 */
const plugin: JupyterFrontEndPlugin<void> = {
  id: PLUGIN_ID,
  description:
    'A live list of the runs tracked with %%track, with their params, metrics and outputs.',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  optional: [
    ILabShell,
    INotebookTracker,
    ISettingRegistry,
    ICommandPalette,
    ILayoutRestorer
  ],
  activate: (
    app: JupyterFrontEnd,
    rendermime: IRenderMimeRegistry,
    labShell: ILabShell | null,
    notebooks: INotebookTracker | null,
    settingRegistry: ISettingRegistry | null,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    const { commands, shell } = app;

    // The registered models, at the foot of the sidebar (src/models/).
    const showRun = (id: string) =>
      void commands.execute(CommandIDs.openRun, { id });
    const models = new ModelsSection({
      openRun: showRun,
      openLineage: (name, version) =>
        void openLineage(app, rendermime, name, version, showRun)
    });
    // Under the models, the button that opens the Datasets view (src/datasets/).
    const datasetsButton = h(
      'button',
      {
        class: 'jp-mltrack-datasets-open',
        title: 'Open the Datasets view: named datasets, their versions and tags'
      },
      datasetIcon.element({ tag: 'span' }),
      h('span', { class: 'jp-mltrack-datasets-open-title', text: 'Datasets' })
    );
    datasetsButton.addEventListener(
      'click',
      () => void commands.execute(CommandIDs.openDatasets, {})
    );
    const sidebar = new RunsSidebar({
      getNotebookPath: () => notebooks?.currentWidget?.context.path ?? null,
      getKernelId: () =>
        notebooks?.currentWidget?.sessionContext.session?.kernel?.id ?? null,
      bottom: h(
        'div',
        { class: 'jp-mltrack-sidebar-foot' },
        models.node,
        h('div', { class: 'jp-mltrack-datasets-entry' }, datasetsButton)
      )
    });
    sidebar.title.icon = runsIcon;
    sidebar.title.caption = 'Runs';
    shell.add(sidebar, 'left', { rank: 650, type: 'ML Runs' });
    if (restorer) {
      restorer.add(sidebar, sidebar.id);
    }

    // Follow the active notebook (and its renames).
    if (notebooks) {
      let current = notebooks.currentWidget;
      const onPathChanged = () => sidebar.notebookChanged();
      current?.context.pathChanged.connect(onPathChanged);
      notebooks.currentChanged.connect((_, widget) => {
        current?.context.pathChanged.disconnect(onPathChanged);
        current = widget;
        current?.context.pathChanged.connect(onPathChanged);
        sidebar.notebookChanged();
      });
    }

    // Run details in the main area.
    const details = new WidgetTracker<RunDetailWidget>({
      namespace: 'jupyter-mltrack-run'
    });
    if (restorer) {
      void restorer.restore(details, {
        command: CommandIDs.openRun,
        args: widget => ({ id: widget.runId }),
        name: widget => widget.runId
      });
    }

    const openRun = async (id: string): Promise<RunDetailWidget> => {
      const existing = details.find(w => w.runId === id);
      if (existing) {
        shell.activateById(existing.id);
        void existing.load();
        return existing;
      }
      const widget = new RunDetailWidget({
        runId: id,
        rendermime,
        onExport: runId =>
          void commands.execute(CommandIDs.exportRun, { id: runId })
      });
      widget.changed.connect(() => void sidebar.refresh());
      void details.add(widget);
      // Details share one tab area, split to the right of the notebook.
      const sibling = details.currentWidget;
      shell.add(
        widget,
        'main',
        sibling && sibling.isAttached
          ? { ref: sibling.id, mode: 'tab-after' }
          : { mode: 'split-right' }
      );
      shell.activateById(widget.id);
      await widget.load();
      return widget;
    };

    // The Datasets view: one per page, in the main area; back after a reload,
    // on the dataset and version it showed.
    let datasetsPanel: DatasetsPanel | null = null;
    const datasetsTracker = new WidgetTracker<DatasetsPanel>({
      namespace: 'jupyter-mltrack-datasets'
    });
    if (restorer) {
      void restorer.restore(datasetsTracker, {
        command: CommandIDs.openDatasets,
        args: panel => ({ name: panel.shown.name, hash: panel.shown.hash }),
        name: () => 'datasets'
      });
    }
    const openDatasets = async (
      name: string | null,
      hash: string | null
    ): Promise<DatasetsPanel> => {
      if (!datasetsPanel || datasetsPanel.isDisposed) {
        datasetsPanel = new DatasetsPanel({ openRun: showRun });
        datasetsPanel.shownChanged.connect(
          panel => void datasetsTracker.save(panel)
        );
        void datasetsTracker.add(datasetsPanel);
        shell.add(datasetsPanel, 'main', { mode: 'tab-after' });
      }
      shell.activateById(datasetsPanel.id);
      if (name) {
        await datasetsPanel.showDataset(name, hash);
      } else {
        await datasetsPanel.refresh();
      }
      return datasetsPanel;
    };
    commands.addCommand(CommandIDs.openDatasets, {
      label: 'Show Datasets',
      caption: 'Named, versioned datasets: versions, tags, rows and diffs',
      icon: datasetIcon,
      execute: args =>
        openDatasets(
          (args.name as string | undefined) ?? null,
          (args.hash as string | undefined) ?? null
        )
    });
    // A run's input got as `team/churn@<hash>` opens that version.
    document.body.addEventListener(OPEN_DATASET_EVENT, event => {
      const ref = (event as CustomEvent<{ ref?: string }>).detail?.ref ?? '';
      const at = ref.lastIndexOf('@');
      if (at > 0) {
        void commands.execute(CommandIDs.openDatasets, {
          name: ref.slice(0, at),
          hash: ref.slice(at + 1)
        });
      }
    });

    sidebar.runSelected.connect((_, id) => void openRun(id));
    sidebar.runsChanged.connect((_, model) => {
      details.forEach(widget => widget.maybeReload(model.find(widget.runId)));
      models.storeChanged(model.revision);
      datasetsPanel?.storeChanged(model.revision);
      refreshSweepCharts(id => model.find(id));
    });

    // The run card's number opens the run.
    document.body.addEventListener(OPEN_RUN_EVENT, event => {
      const id = (event as CustomEvent<{ runId?: string }>).detail?.runId;
      if (id) {
        void commands.execute(CommandIDs.openRun, { id });
      }
    });

    commands.addCommand(CommandIDs.openSidebar, {
      label: 'Show ML Runs',
      caption: 'Open the mltrack runs sidebar',
      icon: runsIcon,
      execute: () => {
        if (labShell) {
          labShell.activateById(sidebar.id);
        } else {
          shell.activateById(sidebar.id);
        }
      }
    });
    commands.addCommand(CommandIDs.refresh, {
      label: 'Refresh ML Runs',
      caption: 'Reload the list of tracked runs',
      execute: () => sidebar.refresh()
    });
    commands.addCommand(CommandIDs.toggleAllExperiments, {
      label: 'Show Runs of All Experiments',
      isToggled: () => sidebar.allExperiments,
      execute: () => {
        sidebar.allExperiments = !sidebar.allExperiments;
      }
    });
    commands.addCommand(CommandIDs.openRun, {
      label: args => (args.id ? `Open Run ${args.id}` : 'Open Run'),
      execute: args => {
        const id = args.id as string | undefined;
        if (!id) {
          return;
        }
        sidebar.selected = id;
        return openRun(id);
      }
    });

    // Export to pipeline: the notebook toolbar, the File menu and the palette
    // (the first two through schema/plugin.json) export the active notebook;
    // a run's context menu in the sidebar and its detail export that run.
    const activeNotebook = () => {
      const current = notebooks?.currentWidget ?? null;
      // Only the notebook in front: the File menu must not export another one.
      return current && current === shell.currentWidget ? current : null;
    };
    let exporting = false;
    const runExport = async (request: IExportRequest): Promise<void> => {
      if (exporting) {
        return;
      }
      exporting = true;
      try {
        await exportFlow(request);
      } finally {
        exporting = false;
      }
    };
    const exportFlow = async (first: IExportRequest): Promise<void> => {
      let request = first;
      // At most: ask for targets, then confirm the overwrite, then succeed.
      for (let attempt = 0; attempt < 4; attempt++) {
        const step = nextExportStep(request, await exportPipeline(request));
        switch (step.kind) {
          case 'done':
            await openPipeline(step.open, step.replaced);
            Notification.success(step.notice, {
              autoClose: 8000,
              actions: [
                {
                  label: 'Details',
                  callback: () => void showSummary(step.result)
                }
              ]
            });
            void sidebar.refresh();
            return;
          case 'confirm-overwrite': {
            const answer = await showDialog({
              title: step.title,
              body: step.question,
              buttons: [
                Dialog.cancelButton(),
                Dialog.warnButton({ label: 'Overwrite' })
              ]
            });
            if (!answer.button.accept) {
              return;
            }
            request = step.retry;
            break;
          }
          case 'ask-targets': {
            let next: IExportRequest | null = null;
            let error = '';
            let typed = '';
            while (next === null) {
              // Empty at first; after a refusal, what the user typed.
              const answer = await InputDialog.getText({
                title: step.title,
                label: error ? `${error} ${step.question}` : step.question,
                placeholder: 'e.g. model, score',
                text: typed,
                okLabel: 'Export'
              });
              if (!answer.button.accept) {
                return;
              }
              typed = answer.value ?? '';
              const parsed = withTargets(step.request, typed);
              if ('error' in parsed) {
                error = parsed.error;
              } else {
                next = parsed.request;
              }
            }
            request = next;
            break;
          }
          case 'error':
            await showErrorMessage(step.title, { message: step.message });
            return;
        }
      }
    };
    const openPipeline = async (path: string, replaced: boolean) => {
      const widget = (await commands.execute('docmanager:open', {
        path
      })) as IOpenedDocument | undefined;
      // A pipeline.py already open shows the old text: reload it unless the
      // user has unsaved edits in it.
      const context = widget?.context;
      if (replaced && context && !context.model.dirty) {
        await context.revert();
      }
    };
    const showSummary = (result: IExportResult) =>
      showDialog({
        title: EXPORT_TITLE,
        body: new Widget({
          node: h('pre', {
            class: 'jp-mltrack-export-summary',
            text: result.summary
          })
        }),
        buttons: [Dialog.okButton()]
      });

    commands.addCommand(CommandIDs.exportNotebook, {
      label: 'Export to Pipeline',
      caption:
        'Export to pipeline: write pipeline.py, params.yaml and requirements.txt beside the notebook, from what ran in it',
      icon: pipelineIcon,
      isEnabled: () => activeNotebook() !== null,
      execute: () => {
        const notebook = activeNotebook();
        if (!notebook) {
          return;
        }
        return runExport({
          notebook: app.serviceManager.contents.localPath(
            notebook.context.path
          ),
          kernel: notebook.sessionContext.session?.kernel?.id ?? null
        });
      }
    });
    const hitRunId = (): string | null =>
      app.contextMenuHitTest(node => !!node.dataset?.runId)?.dataset.runId ??
      null;
    commands.addCommand(CommandIDs.exportRun, {
      label: 'Export Run to Pipeline',
      caption:
        'Write pipeline.py, params.yaml and requirements.txt for this run beside its notebook',
      icon: pipelineIcon,
      execute: args => {
        const id = (args.id as string | undefined) || hitRunId();
        if (!id) {
          return;
        }
        return runExport({ run: id });
      }
    });
    // Compare runs: the sidebar's Compare (N) button, the palette and a
    // run's context menu (through schema/plugin.json).
    const compareTarget = (
      args: ICompareArgs
    ): { runs: string[]; baseline: string | null; clicked: string | null } => {
      const given = args.ids ?? args.runs;
      const ids = Array.isArray(given)
        ? (given as unknown[]).filter(
            (id): id is string => typeof id === 'string' && id !== ''
          )
        : [];
      if (ids.length > 0) {
        const baseline =
          typeof args.baseline === 'string' && ids.includes(args.baseline)
            ? args.baseline
            : ids[0];
        return { runs: ids, baseline, clicked: null };
      }
      // Only a context-menu invocation may look at what was right-clicked:
      // the application remembers the last right-click forever.
      const clicked = args.fromContextMenu ? hitRunId() : null;
      return { ...sidebar.selection.compareTarget(clicked), clicked };
    };
    commands.addCommand(CommandIDs.compareRuns, {
      label: args => {
        const { runs, clicked } = compareTarget(args);
        if (
          !args.fromContextMenu &&
          runs.length > 0 &&
          (args.ids ?? args.runs)
        ) {
          return `Compare ${runs.length} Runs`;
        }
        if (clicked && !sidebar.selection.has(clicked)) {
          const number = sidebar.model.find(clicked)?.number;
          const name = number === undefined ? 'Run' : `Run #${number}`;
          return `Compare ${name} with Selected Runs (${runs.length})`;
        }
        return `Compare Selected Runs (${runs.length})`;
      },
      caption:
        'Compare the runs checked in the Runs sidebar side by side: parameters, metrics, charts, code, data, outputs, packages and why a metric changed',
      icon: runsIcon,
      isEnabled: args => {
        const { runs } = compareTarget(args);
        return runs.length >= MIN_COMPARE && runs.length <= MAX_COMPARE;
      },
      execute: async args => {
        const { runs, baseline } = compareTarget(args);
        if (runs.length < MIN_COMPARE || runs.length > MAX_COMPARE) {
          return;
        }
        try {
          return await openCompare(
            app,
            rendermime,
            runs,
            baseline ? { baseline } : undefined
          );
        } catch (reason) {
          await showErrorMessage('Compare Runs', reason as Error);
          return undefined;
        }
      }
    });
    // Open comparisons come back after a reload.
    if (restorer) {
      void restorer.restore(compareTracker, {
        command: CommandIDs.compareRuns,
        args: view => ({
          ids: view.runIds,
          baseline: view.model.baselineId ?? null
        }),
        name: view => view.runIds.join(',')
      });
    }
    sidebar.compareRequested.connect(
      () => void commands.execute(CommandIDs.compareRuns)
    );
    // A sweep's charts: its row's button and its context menu (through
    // schema/plugin.json, on sweep rows only).
    commands.addCommand(CommandIDs.sweepCharts, {
      label: 'Sweep Charts',
      caption:
        "Open the sweep's charts: each trial's value by trial number with the best so far, and what its metric depends on",
      icon: sweepIcon,
      execute: async args => {
        const id = (args.id as string | undefined) || hitRunId();
        const run = id ? sidebar.model.find(id) : undefined;
        if (!id || (run && !isSweep(run))) {
          return;
        }
        try {
          return await openSweepCharts(app, rendermime, id, run ?? null);
        } catch (reason) {
          await showErrorMessage('Sweep Charts', reason as Error);
          return undefined;
        }
      }
    });
    sidebar.sweepChartsRequested.connect(
      (_, id) => void commands.execute(CommandIDs.sweepCharts, { id })
    );
    // The sidebar's groups, charted in the main area (and drawn again while
    // it shows the groups on screen and they change).
    sidebar.groupsChartRequested.connect(
      (_, request) => void openGroupsChart(app, rendermime, request)
    );
    sidebar.groupsChanged.connect((_, query) => refreshGroupsChart(query));
    sidebar.selectionChanged.connect(() =>
      commands.notifyCommandChanged(CommandIDs.compareRuns)
    );

    const exportStateChanged = () =>
      commands.notifyCommandChanged(CommandIDs.exportNotebook);
    notebooks?.currentChanged.connect(exportStateChanged);
    labShell?.currentChanged.connect(exportStateChanged);

    if (palette) {
      for (const command of [
        CommandIDs.openSidebar,
        CommandIDs.refresh,
        CommandIDs.toggleAllExperiments,
        CommandIDs.exportNotebook,
        CommandIDs.compareRuns,
        CommandIDs.openDatasets
      ]) {
        palette.addItem({ command, category: CATEGORY });
      }
    }

    if (settingRegistry) {
      const apply = (settings: ISettingRegistry.ISettings) => {
        const composite = settings.composite as Partial<ISidebarSettings>;
        sidebar.configure({
          refreshInterval:
            typeof composite.refreshInterval === 'number'
              ? composite.refreshInterval
              : DEFAULT_SETTINGS.refreshInterval,
          showAllExperiments: !!composite.showAllExperiments,
          keyMetrics: Array.isArray(composite.keyMetrics)
            ? composite.keyMetrics
            : [],
          metricReducers:
            composite.metricReducers &&
            typeof composite.metricReducers === 'object' &&
            !Array.isArray(composite.metricReducers)
              ? composite.metricReducers
              : {},
          defaultMetricReducer:
            typeof composite.defaultMetricReducer === 'string'
              ? composite.defaultMetricReducer
              : DEFAULT_SETTINGS.defaultMetricReducer
        });
      };
      settingRegistry
        .load(PLUGIN_ID)
        .then(settings => {
          apply(settings);
          settings.changed.connect(apply);
        })
        .catch(reason => {
          console.error('mltrack: failed to load settings', reason);
        });
    }
  }
};

/** Arguments of the compare command (all optional). */
interface ICompareArgs {
  readonly [key: string]: unknown;
  /** Run ids to compare, instead of the sidebar's selection. */
  readonly ids?: unknown;
  /** Same as `ids` (the name the compare view's own code uses). */
  readonly runs?: unknown;
  /** The baseline, one of `ids`. */
  readonly baseline?: unknown;
  /** Set by the run context menu: compare the right-clicked run. */
  readonly fromContextMenu?: unknown;
}

/** What `docmanager:open` gives back, as far as the export needs it. */
interface IOpenedDocument {
  context?: {
    model: { dirty: boolean };
    revert(): Promise<void>;
  };
}

export default plugin;

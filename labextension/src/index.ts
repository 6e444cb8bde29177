import {
  ILabShell,
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette, WidgetTracker } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { RunDetailWidget } from './detail';
import { OPEN_RUN_EVENT } from './dom';
import { runsIcon } from './icons';
import { DEFAULT_SETTINGS, ISidebarSettings, RunsSidebar } from './sidebar';

/** Plugin id (also the id of the settings schema). */
const PLUGIN_ID = 'jupyter-mltrack:plugin';

/** Command ids. */
export namespace CommandIDs {
  export const openSidebar = 'mltrack:open-sidebar';
  export const refresh = 'mltrack:refresh';
  export const openRun = 'mltrack:open-run';
  export const toggleAllExperiments = 'mltrack:toggle-all-experiments';
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

    const sidebar = new RunsSidebar({
      getNotebookPath: () => notebooks?.currentWidget?.context.path ?? null,
      getKernelId: () =>
        notebooks?.currentWidget?.sessionContext.session?.kernel?.id ?? null
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
      const widget = new RunDetailWidget({ runId: id, rendermime });
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

    sidebar.runSelected.connect((_, id) => void openRun(id));
    sidebar.runsChanged.connect((_, model) => {
      details.forEach(widget => widget.maybeReload(model.find(widget.runId)));
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

    if (palette) {
      for (const command of [
        CommandIDs.openSidebar,
        CommandIDs.refresh,
        CommandIDs.toggleAllExperiments
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
            : []
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

export default plugin;

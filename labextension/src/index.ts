import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { IEditorLanguageRegistry, jupyterHighlightStyle } from '@jupyterlab/codemirror';
import { INotebookTracker, NotebookActions } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';

import { NbopsPanel } from './panel';

const ICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
<g class="jp-icon3" fill="#616161"><circle cx="6" cy="6" r="3"/><circle cx="18" cy="6" r="3"/>
<circle cx="12" cy="18" r="3"/><rect x="5" y="8" width="2" height="6" transform="rotate(-30 6 11)"/>
<rect x="17" y="8" width="2" height="6" transform="rotate(30 18 11)"/></g></svg>`;

export const nbopsIcon = new LabIcon({ name: 'nbops:icon', svgstr: ICON_SVG });

const REFRESH_AFTER_RUN_MS = [700, 2500, 6000];
const BADGE_POLL_MS = 30000;

/** The CSS of JupyterLab's highlight style: CodeMirror mounts it with the first editor; the
 * sidebar may highlight before any editor exists. */
let highlightMounted = false;
function mountHighlightStyle(): void {
  const rules = jupyterHighlightStyle.module?.getRules();
  if (highlightMounted || !rules) {
    return;
  }
  highlightMounted = true;
  const style = document.createElement('style');
  style.dataset.nbops = 'highlight';
  style.textContent = rules;
  document.head.append(style);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'nbops-jupyterlab:sidebar',
  description: 'The nbops catalog beside the notebook',
  autoStart: true,
  optional: [INotebookTracker, IEditorLanguageRegistry],
  activate: (app: JupyterFrontEnd, tracker: INotebookTracker | null, languages: IEditorLanguageRegistry | null) => {
    const panel = new NbopsPanel({
      highlight: async (code: string, language: string, el: HTMLElement) => {
        mountHighlightStyle();
        const lang = languages?.findBest(language) ?? null;
        if (!languages || !lang) {
          el.textContent = code;
          return;
        }
        await languages.highlight(code, lang, el);
      },
      openNotebook: async (path: string, content: Record<string, unknown>) => {
        const contents = app.serviceManager.contents;
        const dir = path.split('/').slice(0, -1).join('/');
        if (dir) {
          await contents.get(dir, { content: false }).catch(() => contents.save(dir, { type: 'directory' }));
        }
        await contents.save(path, { type: 'notebook', format: 'json', content });
        await app.commands.execute('docmanager:open', { path });
      },
      currentNotebook: () => tracker?.currentWidget?.context.path ?? null,
      insertCode: (text: string) => {
        const nb = tracker?.currentWidget;
        if (!nb) {
          return false;
        }
        NotebookActions.insertBelow(nb.content);
        nb.content.activeCell?.model.sharedModel.setSource(text);
        return true;
      },
      jumpToCell: (cellId: string) => {
        const nb = tracker?.currentWidget?.content;
        const index = nb ? nb.widgets.findIndex(c => c.model.id === cellId) : -1;
        if (!nb || index < 0) {
          return false;
        }
        nb.activeCellIndex = index;
        void nb.scrollToItem(index);
        return true;
      }
    });
    panel.title.icon = nbopsIcon;
    app.shell.add(panel, 'left', { rank: 600 });
    // A %%track cell's run is committed as the cell ends, or shortly after (in the
    // background): look again a few times after each execution, and every 15 s.
    const refreshSoon = () => {
      for (const delay of REFRESH_AFTER_RUN_MS) {
        window.setTimeout(() => void panel.refreshOverview(), delay);
      }
    };
    window.setInterval(() => void panel.refreshOverview(), 15000);
    // The alert badge on the tab counts firing alerts even while the panel is closed
    // (or shows a detail view, when the overview's refreshes pause).
    void panel.refreshBadge();
    window.setInterval(() => void panel.refreshBadge(), BADGE_POLL_MS);
    tracker?.currentChanged.connect(refreshSoon);
    NotebookActions.executed.connect(refreshSoon);
    app.commands.addCommand('nbops:open-sidebar', {
      label: 'Show the nbops sidebar',
      execute: () => app.shell.activateById(panel.id)
    });
  }
};

export default plugin;

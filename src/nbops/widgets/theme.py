"""Light or dark: the plotly template that matches JupyterLab's theme.

``theme='auto'`` starts light and asks the browser: a tiny anywidget reads
JupyterLab's ``data-jp-theme-light`` attribute on ``<body>`` and syncs ``dark``
back; the dashboard then switches its figures' template. Without a frontend
(nbconvert, tests, a terminal) it stays light.
"""

from __future__ import annotations

from enum import StrEnum

import anywidget
import traitlets

from nbops.errors import NbopsError
from nbops.widgets.figures import DARK, LIGHT


class Theme(StrEnum):
    AUTO = "auto"
    LIGHT = "light"
    DARK = "dark"


def check_theme(theme: str) -> Theme:
    try:
        return Theme(theme)
    except ValueError:
        raise NbopsError(f"unknown theme {theme!r}", hint="use 'auto', 'light' or 'dark'") from None


def template_for(dark: bool) -> str:
    return DARK if dark else LIGHT


class ThemeProbe(anywidget.AnyWidget):
    """Invisible widget whose ``dark`` trait follows JupyterLab's light/dark theme.

    It also reports when its views are shown and removed (``views``), so a dashboard
    refreshes only while someone can see it.
    """

    _esm = """
    function render({ model, el }) {
      el.style.display = "none";
      const read = () => {
        const light = document.body.dataset.jpThemeLight;
        if (light === undefined) return;
        const dark = light === "false";
        if (model.get("dark") !== dark) { model.set("dark", dark); model.save_changes(); }
      };
      read();
      const obs = new MutationObserver(read);
      obs.observe(document.body, { attributes: true, attributeFilter: ["data-jp-theme-light"] });
      model.send({ view: "shown" });
      return () => { obs.disconnect(); model.send({ view: "removed" }); };
    }
    export default { render };
    """
    dark = traitlets.Bool(False).tag(sync=True)
    views = traitlets.Int(0)  # views shown in a frontend right now

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.on_msg(self._on_view_msg)

    def _on_view_msg(self, _: object, content: dict[str, str], buffers: object) -> None:
        change = {"shown": 1, "removed": -1}.get(content.get("view", ""), 0)
        self.views = max(0, self.views + change)

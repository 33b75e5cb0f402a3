// A tiny DOM builder for the panel.

type Child = Node | string | null | undefined | false;

export function h(
  tag: string,
  attrs: Record<string, string | boolean | ((ev: Event) => void)> = {},
  ...children: (Child | Child[])[]
): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'function') {
      el.addEventListener(k.replace(/^on/, ''), v);
    } else if (v === true) {
      el.setAttribute(k, '');
    } else if (v !== false) {
      el.setAttribute(k, v);
    }
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined && c !== false) {
      el.append(c);
    }
  }
  return el;
}

export function table(head: string[], rows: (Child | Child[])[][], cls = 'nbops-table'): HTMLElement {
  return h(
    'table',
    { class: cls },
    h('thead', {}, h('tr', {}, head.map(x => h('th', {}, x)))),
    h('tbody', {}, rows.map(r => h('tr', {}, r.map(c => h('td', {}, c)))))
  );
}

export function button(label: string, onclick: () => void, cls = ''): HTMLElement {
  return h('button', { class: `jp-Button nbops-button ${cls}`.trim(), type: 'button', onclick }, label);
}

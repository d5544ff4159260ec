// Start points, loaded only where a site uses them: the help launcher (chat, call, browse with
// you) and the dialog that shows the session ID to read out. Drawn in the built-in UI's shadow
// root (ui.js hands over its helpers).
import { state } from './core.js';

const CSS = `.big{font-size:34px;font-weight:700;letter-spacing:.08em;text-align:center;
padding:10px;background:#eef2f6;border-radius:10px;font-variant-numeric:tabular-nums}
.ln{position:fixed;bottom:16px;display:grid;gap:8px;justify-items:end}.ln.left{justify-items:start}
.ln>button{border-radius:22px;padding:10px 18px;box-shadow:0 4px 18px #0003}
.menu{display:grid;gap:2px;padding:6px;background:#fff;border-radius:12px;
box-shadow:0 6px 24px #0004;min-width:200px}.menu>*{background:none;text-align:left;
border-radius:8px}.menu>:hover{background:#eef2f6}`;

/**
 * @param {{api: {stop: Function, showId: Function},
 *   opts: {launcher?: {side?: string, chat?: string|Function, call?: string}},
 *   h: Function, t: Function, dialog: Function, region: HTMLElement, show: Function}} ui
 */
export function mount({ api, opts, h, t, dialog, region, show }) {
  region.append(h('style', {}, CSS));
  let idDlg = null,
    idBig,
    idSt;
  function fillId() {
    idBig.textContent = state.session ? state.session.spaced || state.session.id : t('starting');
    idSt.textContent = state.session ? t('startWait') : '';
  }
  function showId() {
    if (!idDlg) {
      idBig = h('p.big', { 'aria-label': t('id') });
      idSt = h('p.sm', { 'aria-live': 'polite' });
      idDlg = dialog(
        'cb-id-h',
        h('h2', { id: 'cb-id-h' }, t('startTitle')),
        h('p', {}, t('startText')),
        idBig,
        idSt,
        h(
          'div.row',
          {},
          h(
            'button',
            {
              type: 'button',
              onclick: () => {
                idDlg.close();
                api.stop();
              },
            },
            t('cancel'),
          ),
          h('button.p', { type: 'button', onclick: () => idDlg.close() }, t('close')),
        ),
      );
      idDlg.dataset.part = 'id-dialog';
    }
    fillId();
    idDlg.open || idDlg.showModal();
  }

  let ln = null;
  if (opts.launcher) {
    const o = opts.launcher,
      menu = h('div.menu', { role: 'menu', hidden: '', id: 'cb-menu' });
    const close = () => {
      menu.hidden = true;
      btn.setAttribute('aria-expanded', 'false');
    };
    const item = (text, f, href) =>
      menu.append(
        h(
          href ? 'a' : 'button',
          {
            role: 'menuitem',
            ...(href ? { href } : { type: 'button' }),
            onclick: () => {
              close();
              if (f) f();
            },
          },
          text,
        ),
      );
    if (o.chat)
      item(t('chat'), () =>
        typeof o.chat === 'function'
          ? o.chat()
          : /** @type {HTMLElement | null} */ (document.querySelector(o.chat))?.click(),
      );
    if (o.call)
      item(t('call') + ' ' + o.call, null, 'tel:' + String(o.call).replace(/[^\d+]/g, ''));
    item(t('browse'), () => api.showId());
    const btn = h(
      'button.p',
      {
        type: 'button',
        'aria-haspopup': 'menu',
        'aria-expanded': 'false',
        'aria-controls': 'cb-menu',
        onclick: () => {
          const open = menu.hidden;
          menu.hidden = !open;
          btn.setAttribute('aria-expanded', String(open));
          open && menu.firstChild.focus();
        },
      },
      t('help'),
    );
    ln = h('div.ln', { 'data-part': 'launcher' }, menu, btn);
    ln.classList.toggle('left', o.side === 'left');
    ln.style[o.side === 'left' ? 'left' : 'right'] = '16px';
    ln.addEventListener('keydown', (e) => {
      if (e.key !== 'Escape' || menu.hidden) return;
      close();
      btn.focus();
    });
    region.append(ln);
  }

  return {
    showId,
    /**
     * With the toolbar (`live`: a session is on): the launcher steps aside, the ID dialog follows
     * the session.
     */
    paint(live) {
      if (ln) show(ln, !live);
      if (idDlg && idDlg.open) fillId();
    },
    /** The agent joined, or the session ended: the ID is no longer needed. */
    close() {
      if (idDlg) idDlg.close();
    },
  };
}

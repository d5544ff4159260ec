/**
 * What a console's sign-in card offers besides the password form: a button per
 * OpenID provider the server is set up with, and no form at all where passwords
 * are turned off. Shared by the agent and the administration consoles.
 */

/**
 * @typedef {{ passwords: boolean, providers: { id: string, name: string }[] }} SignInOptions
 */

/**
 * @param {'agent' | 'admin'} console the console to come back to after the provider
 * @param {HTMLElement} list where the provider buttons go
 * @param {HTMLElement} form the password form, hidden when passwords are off
 */
export async function offerSignIns(console, list, form) {
  const options = await signInOptions();
  if (!options) return;
  form.hidden = !options.passwords;
  list.replaceChildren();
  for (const p of options.providers) {
    const a = document.createElement('a');
    a.className = 'btn btn-primary wide sso';
    a.href = `/auth/oidc/${encodeURIComponent(p.id)}/start?console=${console}`;
    a.textContent = `Sign in with ${p.name}`;
    list.append(a);
  }
  list.hidden = options.providers.length === 0;
}

/** What the server offers, asked once per page (it does not change while the server runs). */
/** @type {SignInOptions | null} */
let known = null;

/** @returns {Promise<SignInOptions | null>} */
async function signInOptions() {
  if (known) return known;
  try {
    const r = await fetch('/auth/options', { credentials: 'same-origin' });
    if (r.ok) known = await r.json();
  } catch {}
  return known;
}

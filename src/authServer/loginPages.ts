/** The local authorization server's pages: plain HTML forms, no script, labelled controls (keyboard-usable). */

/** HTML-escapes text for element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export interface Choice {
  readonly value: string;
  readonly label: string;
}

function select(name: string, label: string, choices: readonly Choice[], selected?: string): string {
  const options = choices
    .map(
      (c) =>
        `<option value="${escapeHtml(c.value)}"${c.value === selected ? ' selected' : ''}>${escapeHtml(c.label)}</option>`
    )
    .join('');
  return `<p><label for="${name}">${escapeHtml(label)}</label><br><select id="${name}" name="${name}" required>${options}</select></p>`;
}

function page(title: string, body: string, stylesheet: string): string {
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<title>${escapeHtml(title)}</title><link rel="icon" href="data:,"><link rel="stylesheet" href="${escapeHtml(stylesheet)}"></head>` +
    `<body><main><h1>${escapeHtml(title)}</h1>${body}</main></body></html>`
  );
}

export const PAGE_CSS = `body{font-family:system-ui,sans-serif;margin:0;background:#f6f7f9;color:#111}
main{max-width:32rem;margin:2rem auto;padding:1.5rem;background:#fff;border:1px solid #ccd}
h1{font-size:1.3rem}select,input,button{font-size:1rem;padding:.4rem;max-width:100%}
button{background:#0b5cad;color:#fff;border:0;padding:.5rem 1rem;cursor:pointer}
button:focus,select:focus,input:focus{outline:3px solid #f5a623;outline-offset:2px}
.note{color:#333;font-size:.9rem}.error{color:#a00}`;

export interface LoginPageInput {
  readonly title: string;
  readonly action: string;
  readonly hidden: Readonly<Record<string, string>>;
  readonly practitioners: readonly Choice[];
  /** Present when the request asks for a patient to be picked (standalone launch, or the launcher). */
  readonly patients?: readonly Choice[];
  readonly apps?: readonly Choice[];
  /** The patient chosen beforehand (the launcher's `?patient=` link printed at start). */
  readonly selectedPatient?: string;
  readonly askPasscode: boolean;
  readonly note?: string;
  readonly error?: string;
  readonly stylesheet: string;
  readonly submitLabel: string;
  /**
   * The patients who may sign in as themselves (a standalone launch asking for patient scopes). Present: a second
   * form, "I am the patient", is shown beside the practitioner's.
   */
  readonly patientUsers?: readonly Choice[];
}

/** The practitioner login with the patient picker: the EHR-launch simulator and the standalone authorize page. */
export function loginPage(input: LoginPageInput): string {
  const hidden = Object.entries(input.hidden)
    .map(([k, v]) => `<input type="hidden" name="${escapeHtml(k)}" value="${escapeHtml(v)}">`)
    .join('');
  const body =
    (input.error ? `<p class="error" role="alert">${escapeHtml(input.error)}</p>` : '') +
    (input.note ? `<p class="note">${escapeHtml(input.note)}</p>` : '') +
    `<form method="post" action="${escapeHtml(input.action)}">${hidden}` +
    (input.apps ? select('app', 'App to launch', input.apps) : '') +
    select('practitioner', 'Practitioner (who is signing in)', input.practitioners) +
    (input.askPasscode
      ? `<p><label for="passcode">Passcode</label><br><input id="passcode" name="passcode" type="password" autocomplete="current-password" required></p>`
      : '') +
    (input.patients ? select('patient', 'Patient', input.patients, input.selectedPatient) : '') +
    `<p><button type="submit">${escapeHtml(input.submitLabel)}</button></p></form>` +
    (input.patientUsers ? patientForm(input, hidden) : '');
  return page(input.title, body, input.stylesheet);
}

/**
 * The patient's own sign-in: the patient picks their own name from the seeded demo patients (this is a simulator,
 * not an identity provider; a real deployment signs patients in at the hospital's portal). The token it leads to names
 * the patient as `fhirUser` and as the launch context, so no patient is picked.
 */
function patientForm(input: LoginPageInput, hidden: string): string {
  return (
    `<h2>I am the patient</h2>` +
    `<p class="note">Demo logins: one per synthetic patient. You see only your own record.</p>` +
    `<form method="post" action="${escapeHtml(input.action)}">${hidden}` +
    select('patient_user', 'Your name (demo login)', input.patientUsers ?? []) +
    (input.askPasscode
      ? `<p><label for="patient-passcode">Passcode</label><br><input id="patient-passcode" name="passcode" type="password" autocomplete="current-password" required></p>`
      : '') +
    `<p><button type="submit" id="patient-sign-in">Sign in as the patient</button></p></form>`
  );
}

export function errorPage(title: string, text: string, stylesheet: string): string {
  return page(title, `<p class="error" role="alert">${escapeHtml(text)}</p>`, stylesheet);
}

import FHIR from 'fhirclient';
import { CLIENT_ID, PATIENT_SCOPES } from './config';

// The patient's own door: a standalone launch (iss only, SMART App Launch "Standalone launch") asking for patient
// scopes; the patient signs in as themselves at the authorization server and lands on the same app, which shows the
// patient's page because the token's fhirUser is a Patient. PKCE and the state key as in launch.ts.
void FHIR.oauth2
  .authorize({
    clientId: CLIENT_ID,
    scope: PATIENT_SCOPES,
    redirectUri: 'index.html',
    pkceMode: 'required',
    stateKey: crypto.randomUUID(),
  })
  .catch((err: unknown) => {
    const main = document.querySelector('main');
    if (main) {
      main.textContent = `Sign-in failed: ${err instanceof Error ? err.message : String(err)}`;
      main.setAttribute('role', 'alert');
    }
  });

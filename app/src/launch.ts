import FHIR from 'fhirclient';
import { CLIENT_ID, SCOPES } from './config';

// EHR launch (iss + launch in the URL) or standalone (iss only). PKCE is required, and the state key is a random
// UUID (122 bits), stronger than the library's default; fhirclient keeps it in sessionStorage, bound to this tab,
// and refuses a redirect whose state it does not hold.
void FHIR.oauth2
  .authorize({
    clientId: CLIENT_ID,
    scope: SCOPES,
    redirectUri: 'index.html',
    pkceMode: 'required',
    stateKey: crypto.randomUUID(),
  })
  .catch((err: unknown) => {
    const main = document.querySelector('main');
    if (main) {
      main.textContent = `Launch failed: ${err instanceof Error ? err.message : String(err)}`;
      main.setAttribute('role', 'alert');
    }
  });

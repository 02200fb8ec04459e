import { loadProtocolLibrary } from '../../protocols/protocolLibrary';
import { buildMatcherDevice, EVIDENCE_MATCHER_VERSION } from './matcherDevice';

test('the matcher Device says what it is: version, status, intended use and where its model card is', () => {
  const device = buildMatcherDevice(loadProtocolLibrary(), undefined);
  expect(device.status).toBe('active');
  expect(device.version?.[0]?.value).toMatch(
    new RegExp(`^${EVIDENCE_MATCHER_VERSION.replace(/\./g, '\\.')}\\+[0-9a-f]{12}$`)
  );
  const card = device.note?.[0]?.text ?? '';
  expect(card).toMatch(/Intended use: to draft recovery care-plan proposals/);
  expect(card).toMatch(/Not for diagnosis/);
  expect(card).toContain('src/evidence/match/MODEL_CARD.md');
});

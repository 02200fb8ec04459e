/**
 * Codes the matcher can read when a Condition arrives coded without a display or text. Each code is listed only
 * because it was found with this display in a public HL7 FHIR artefact (never recalled from memory):
 * - SNOMED CT: HL7 International Patient Summary IG (github HL7/fhir-ips, commit 57c3299),
 *   input/fsh/valuesets/ProblemsSnomedCtIpsFreeSet.fsh, ValueSet "Problems - SNOMED CT IPS Free Set" expansion.
 * - ICD-10 (WHO): PH Road Safety FHIR IG (github UPM-NTHC/PH-RoadSafetyIG, commit 69f6168),
 *   input/fsh/generated-terminology/valuesets/SILPH___ICD10_Nature_of_Injury__VS_.fsh, expansion of system
 *   http://hl7.org/fhir/sid/icd102019en; FHIR R4 terminologies-systems.html names http://hl7.org/fhir/sid/icd-10 for
 *   WHO ICD-10, so the code is read under either system.
 * The display is what the concept reader (src/evidence/notes) then reads: a code points to a protocol only through
 * the same concepts as text does, so coded and free-text Conditions cannot disagree.
 */
export const SNOMED_CT = 'http://snomed.info/sct';
export const ICD_10_SYSTEMS: readonly string[] = [
  'http://hl7.org/fhir/sid/icd-10',
  'http://hl7.org/fhir/sid/icd102019en',
];

const SNOMED_DISPLAYS: Readonly<Record<string, string>> = Object.freeze({
  '44465007': 'Sprain of ankle',
  '481000119104': 'Strain of hamstring muscle',
  '840539006': 'COVID-19',
  '33173003': 'Closed fracture of clavicle',
});

const ICD_10_DISPLAYS: Readonly<Record<string, string>> = Object.freeze({
  'S06.0': 'Concussion',
});

/** The verified display of a code, or undefined for a code this table does not hold. */
export function verifiedDisplay(system: string | undefined, code: string | undefined): string | undefined {
  if (!system || !code) {
    return undefined;
  }
  if (system === SNOMED_CT) {
    return SNOMED_DISPLAYS[code];
  }
  return ICD_10_SYSTEMS.includes(system) ? ICD_10_DISPLAYS[code] : undefined;
}

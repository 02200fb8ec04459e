/**
 * The recovery concepts the note reader recognises, with the words clinicians and patients use for them. Project
 * concepts, deliberately without SNOMED CT codes: a code is only attached where the hospital's own Conditions and
 * Procedures carry one (matching uses their text and codes as they come). `indications` names the protocol library's
 * indications (fhir-profiles/protocols, CodeSystem recovery-protocol-indication) a concept points to.
 */
export type ConceptKind =
  'body-site' | 'injury' | 'procedure' | 'symptom' | 'functional-limit' | 'goal' | 'contraindication';

export interface ConceptEntry {
  readonly key: string;
  readonly kind: ConceptKind;
  readonly display: string;
  /** Phrases as written; matched on wink-nlp lemmas, so "sprained ankles" matches "ankle sprain"'s words in order. */
  readonly phrases: readonly string[];
  readonly indications?: readonly string[];
}

export const CONCEPT_LEXICON: readonly ConceptEntry[] = Object.freeze([
  // Body sites
  { key: 'knee', kind: 'body-site', display: 'Knee', phrases: ['knee', 'knees'] },
  { key: 'ankle', kind: 'body-site', display: 'Ankle', phrases: ['ankle', 'ankles'] },
  { key: 'hamstring', kind: 'body-site', display: 'Hamstring', phrases: ['hamstring', 'posterior thigh'] },
  { key: 'shoulder', kind: 'body-site', display: 'Shoulder', phrases: ['shoulder'] },
  { key: 'hip', kind: 'body-site', display: 'Hip', phrases: ['hip'] },
  { key: 'lower-back', kind: 'body-site', display: 'Lower back', phrases: ['lower back', 'low back', 'lumbar'] },
  { key: 'achilles', kind: 'body-site', display: 'Achilles tendon', phrases: ['achilles', 'heel cord'] },
  { key: 'head', kind: 'body-site', display: 'Head', phrases: ['head'] },
  { key: 'heart', kind: 'body-site', display: 'Heart', phrases: ['heart', 'cardiac', 'coronary'] },
  // Injuries and conditions
  {
    key: 'acl-injury',
    kind: 'injury',
    display: 'Anterior cruciate ligament injury',
    phrases: ['acl', 'anterior cruciate ligament', 'cruciate ligament', 'acl tear', 'acl rupture'],
    indications: ['acl-reconstruction'],
  },
  {
    key: 'ankle-sprain',
    kind: 'injury',
    display: 'Ankle sprain',
    phrases: [
      'ankle sprain',
      'sprained ankle',
      'sprain of ankle',
      'twisted ankle',
      'inversion injury',
      'rolled ankle',
      'lateral ligament sprain',
      'ankle ligament injury',
    ],
    indications: ['ankle-sprain'],
  },
  {
    key: 'hamstring-strain',
    kind: 'injury',
    display: 'Hamstring strain',
    phrases: [
      'hamstring strain',
      'hamstring tear',
      'pulled hamstring',
      'strained hamstring',
      'hamstring injury',
      'strain of hamstring',
    ],
    indications: ['hamstring-strain'],
  },
  {
    key: 'concussion',
    kind: 'injury',
    display: 'Concussion',
    phrases: [
      'concussion',
      'concussed',
      'mild traumatic brain injury',
      'mtbi',
      'head injury',
      'sport-related concussion',
    ],
    indications: ['concussion-return-to-sport'],
  },
  {
    key: 'rotator-cuff-tear',
    kind: 'injury',
    display: 'Rotator cuff tear',
    phrases: ['rotator cuff', 'supraspinatus tear', 'cuff tear', 'tear of rotator cuff'],
    indications: ['rotator-cuff-repair'],
  },
  {
    key: 'knee-osteoarthritis',
    kind: 'injury',
    display: 'Knee osteoarthritis',
    phrases: ['knee osteoarthritis', 'osteoarthritis of the knee', 'knee arthritis'],
    indications: ['total-knee-replacement'],
  },
  {
    key: 'hip-osteoarthritis',
    kind: 'injury',
    display: 'Hip osteoarthritis',
    phrases: ['hip osteoarthritis', 'osteoarthritis of the hip', 'hip arthritis'],
    indications: ['total-hip-replacement'],
  },
  {
    key: 'low-back-pain',
    kind: 'injury',
    display: 'Low back pain',
    phrases: ['low back pain', 'lower back pain', 'lumbago', 'back pain', 'non-specific low back pain'],
    indications: ['low-back-pain'],
  },
  {
    key: 'achilles-tendinopathy',
    kind: 'injury',
    display: 'Achilles tendinopathy',
    phrases: ['achilles tendinopathy', 'achilles tendinitis', 'achilles tendonitis', 'achilles tendinosis'],
    indications: ['achilles-tendinopathy'],
  },
  {
    key: 'myocardial-infarction',
    kind: 'injury',
    display: 'Myocardial infarction or coronary event',
    phrases: [
      'myocardial infarction',
      'heart attack',
      'acute coronary syndrome',
      'nstemi',
      'stemi',
      'heart failure',
      'angina',
    ],
    indications: ['cardiac-rehabilitation'],
  },
  {
    key: 'viral-illness',
    kind: 'injury',
    display: 'Viral illness',
    phrases: [
      'viral illness',
      'viral infection',
      'covid',
      'covid-19',
      'influenza',
      'flu',
      'upper respiratory tract infection',
      'respiratory infection',
      'glandular fever',
    ],
    indications: ['return-to-exercise-after-viral-illness'],
  },
  {
    key: 'overreaching',
    kind: 'injury',
    display: 'Overreaching or under-recovery',
    phrases: [
      'overreaching',
      'overtraining',
      'under-recovery',
      'under recovery',
      'underperformance',
      'relative energy deficiency',
      'training load too high',
    ],
    indications: ['overreaching-under-recovery'],
  },
  {
    key: 'fracture',
    kind: 'injury',
    display: 'Fracture',
    phrases: ['fracture', 'fractured', 'broken bone', 'broken collarbone'],
  },
  // Procedures
  {
    key: 'acl-reconstruction',
    kind: 'procedure',
    display: 'ACL reconstruction',
    phrases: ['acl reconstruction', 'aclr', 'anterior cruciate ligament reconstruction', 'acl repair', 'acl graft'],
    indications: ['acl-reconstruction'],
  },
  {
    key: 'rotator-cuff-repair',
    kind: 'procedure',
    display: 'Rotator cuff repair',
    phrases: ['rotator cuff repair', 'cuff repair', 'arthroscopic cuff repair'],
    indications: ['rotator-cuff-repair'],
  },
  {
    key: 'knee-replacement',
    kind: 'procedure',
    display: 'Total knee replacement',
    phrases: ['knee replacement', 'total knee arthroplasty', 'tka', 'tkr', 'knee arthroplasty'],
    indications: ['total-knee-replacement'],
  },
  {
    key: 'hip-replacement',
    kind: 'procedure',
    display: 'Total hip replacement',
    phrases: ['hip replacement', 'total hip arthroplasty', 'tha', 'thr', 'hip arthroplasty'],
    indications: ['total-hip-replacement'],
  },
  {
    key: 'coronary-revascularisation',
    kind: 'procedure',
    display: 'Coronary revascularisation',
    phrases: ['cabg', 'coronary artery bypass', 'bypass surgery', 'pci', 'angioplasty', 'coronary stent'],
    indications: ['cardiac-rehabilitation'],
  },
  // Symptoms and findings
  { key: 'pain', kind: 'symptom', display: 'Pain', phrases: ['pain', 'painful', 'ache', 'aching', 'sore', 'soreness'] },
  { key: 'swelling', kind: 'symptom', display: 'Swelling', phrases: ['swelling', 'swollen', 'oedema', 'edema'] },
  { key: 'effusion', kind: 'symptom', display: 'Joint effusion', phrases: ['effusion'] },
  {
    key: 'instability',
    kind: 'symptom',
    display: 'Joint instability',
    phrases: ['instability', 'giving way', 'unstable'],
  },
  { key: 'headache', kind: 'symptom', display: 'Headache', phrases: ['headache', 'headaches'] },
  { key: 'dizziness', kind: 'symptom', display: 'Dizziness', phrases: ['dizziness', 'dizzy', 'vertigo'] },
  {
    key: 'fatigue',
    kind: 'symptom',
    display: 'Fatigue',
    phrases: ['fatigue', 'tired', 'tiredness', 'exhausted', 'lethargy'],
  },
  { key: 'fever', kind: 'symptom', display: 'Fever', phrases: ['fever', 'febrile', 'pyrexia', 'temperature'] },
  {
    key: 'systemic-symptoms',
    kind: 'symptom',
    display: 'Systemic symptoms of infection',
    phrases: [
      'systemic symptoms',
      'infection',
      'muscle aches',
      'body aches',
      'myalgia',
      'chills',
      'vomiting',
      'diarrhoea',
      'diarrhea',
    ],
  },
  { key: 'chest-pain', kind: 'symptom', display: 'Chest pain', phrases: ['chest pain', 'chest tightness'] },
  {
    key: 'breathlessness',
    kind: 'symptom',
    display: 'Breathlessness',
    phrases: ['breathless', 'breathlessness', 'shortness of breath', 'dyspnoea', 'dyspnea'],
  },
  { key: 'palpitations', kind: 'symptom', display: 'Palpitations', phrases: ['palpitations', 'palpitation'] },
  {
    key: 'poor-sleep',
    kind: 'symptom',
    display: 'Poor sleep',
    phrases: ['poor sleep', 'insomnia', 'sleeping badly', 'sleep disturbance'],
  },
  {
    key: 'numbness',
    kind: 'symptom',
    display: 'Numbness or tingling',
    phrases: ['numbness', 'tingling', 'pins and needles'],
  },
  // Functional limits
  {
    key: 'limited-rom',
    kind: 'functional-limit',
    display: 'Reduced range of motion',
    phrases: ['reduced range of motion', 'limited range of motion', 'stiffness', 'stiff', 'reduced rom'],
  },
  {
    key: 'weight-bearing-limit',
    kind: 'functional-limit',
    display: 'Limited weight bearing',
    phrases: ['unable to weight bear', 'non weight bearing', 'partial weight bearing', 'crutches', 'limp', 'limping'],
  },
  {
    // "reduced limp" reports progress, not a limit: read as its own concept so it does not count as limping.
    key: 'gait-improving',
    kind: 'functional-limit',
    display: 'Walking improving',
    phrases: ['reduced limp', 'slight limp', 'less limp', 'limp improving', 'improving gait'],
  },
  {
    key: 'full-weight-bearing',
    kind: 'functional-limit',
    display: 'Full weight bearing',
    phrases: ['full weight bearing', 'fully weight bearing', 'weight bearing fully', 'bearing full weight'],
  },
  {
    key: 'walking-unaided',
    kind: 'functional-limit',
    display: 'Walking without aids',
    phrases: [
      'walking without aid',
      'walking without crutches',
      'walks without crutches',
      'off crutches',
      'walking normally',
      'normal gait',
    ],
  },
  {
    key: 'cannot-run',
    kind: 'functional-limit',
    display: 'Unable to run',
    phrases: ['unable to run', 'cannot run', "can't run"],
  },
  {
    key: 'overhead-limit',
    kind: 'functional-limit',
    display: 'Unable to lift overhead',
    phrases: ['unable to lift overhead', 'cannot reach overhead', 'difficulty reaching overhead'],
  },
  {
    key: 'stairs-limit',
    kind: 'functional-limit',
    display: 'Difficulty with stairs',
    phrases: ['difficulty with stairs', 'trouble with stairs', 'unable to climb stairs'],
  },
  // Goals
  {
    key: 'return-to-sport',
    kind: 'goal',
    display: 'Return to sport',
    phrases: ['return to sport', 'return to play', 'back to football', 'back to competition', 'return to competition'],
  },
  {
    key: 'return-to-running',
    kind: 'goal',
    display: 'Return to running',
    phrases: ['return to running', 'run again', 'back to running', 'marathon'],
  },
  { key: 'return-to-work', kind: 'goal', display: 'Return to work', phrases: ['return to work', 'back to work'] },
  {
    key: 'walk-independently',
    kind: 'goal',
    display: 'Walk independently',
    phrases: ['walk independently', 'walk without aid', 'walk without crutches'],
  },
  // Contraindications and red flags
  {
    key: 'dvt',
    kind: 'contraindication',
    display: 'Deep vein thrombosis',
    phrases: ['dvt', 'deep vein thrombosis', 'blood clot'],
  },
  {
    key: 'infection-wound',
    kind: 'contraindication',
    display: 'Wound infection',
    phrases: ['wound infection', 'infected wound', 'cellulitis', 'wound discharge', 'discharging wound'],
  },
  {
    key: 'calf-pain',
    kind: 'contraindication',
    display: 'Calf pain or swelling',
    phrases: ['calf pain', 'calf swelling'],
  },
  // Concussion red flags (the concussion protocol's phase 1 stop rule lists them).
  {
    key: 'neck-pain',
    kind: 'contraindication',
    display: 'Neck pain or tenderness',
    phrases: ['neck pain', 'neck tenderness'],
  },
  { key: 'double-vision', kind: 'contraindication', display: 'Double vision', phrases: ['double vision', 'diplopia'] },
  { key: 'seizure', kind: 'contraindication', display: 'Seizure', phrases: ['seizure', 'seizures', 'convulsion'] },
  {
    key: 'deteriorating-consciousness',
    kind: 'contraindication',
    display: 'Deteriorating consciousness',
    phrases: ['deteriorating consciousness', 'increasingly drowsy', 'loss of consciousness'],
  },
  { key: 'repeated-vomiting', kind: 'contraindication', display: 'Repeated vomiting', phrases: ['repeated vomiting'] },
  { key: 'myocarditis', kind: 'contraindication', display: 'Myocarditis', phrases: ['myocarditis', 'pericarditis'] },
  {
    key: 'cauda-equina',
    kind: 'contraindication',
    display: 'Cauda equina syndrome',
    phrases: ['cauda equina', 'saddle anaesthesia', 'saddle anesthesia'],
  },
  { key: 'unstable-angina', kind: 'contraindication', display: 'Unstable angina', phrases: ['unstable angina'] },
]);

#!/usr/bin/python3
"""Trains the project's tiny sentence-embedding model and writes it in the layout transformers.js reads.

    npx tsx scripts/buildEmbeddingTrainingPairs.ts ../shared/data/medquad /tmp/tinyemb/pairs.jsonl
    /usr/bin/python3 scripts/trainEmbeddingModel.py /tmp/tinyemb/pairs.jsonl fixtures/tiny-embedding-model

Why it exists: no pretrained embedding model can be downloaded on the project's machines, yet the dense path of the
retrieval engine (src/evidence/retrieval/denseEncoder.ts) must be exercised end to end. This builds a BERT-shaped
encoder small enough to live in the repository (< 5 MB) and nothing more: it is a test fixture, not a clinical-grade
embedding model (see MODEL_CARD.md in the output folder).

Steps, all seeded (SEED) and single-threaded so a rebuild gives the same files:
  1. WordPiece vocabulary learnt from the training text (BPE merges with the "##" continuation prefix, as the Hugging
     Face WordPiece trainer does), lower case, accents stripped: the same normalisation and pre-tokenisation as the
     tokenizer.json written at the end (BertNormalizer + BertPreTokenizer), re-implemented here so that training and
     transformers.js see the same token ids (checked by reference_embeddings.json, which the jest test compares).
  2. Word embeddings initialised from a truncated SVD of the TF-IDF token-by-answer matrix (latent semantic analysis),
     so that tokens seen rarely in the pairs still start near related tokens.
  3. A learnt, importance-weighted bag of word pieces (TinyEncoder: no self-attention, see why there), trained
     contrastively (InfoNCE, in-batch negatives, both directions) on MedQuAD question (+ focus or a synonym) <-> answer,
     plus inverse-cloze pairs (a sentence of an answer <-> the rest) because consumer questions describe situations
     rather than name the topic. Mean pooling over the attention mask and L2 normalisation, exactly as loadDenseEncoder
     asks transformers.js to pool.
  4. ONNX export (opset 14): inputs input_ids, attention_mask, token_type_ids (int64, dynamic batch and sequence),
     output last_hidden_state [batch, sequence, hidden]; config.json (model_type "bert"), tokenizer.json,
     tokenizer_config.json, vocab.txt.
"""

import os

# One thread for every BLAS, before numpy and torch load: the machine's cores are shared.
os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('OPENBLAS_NUM_THREADS', '1')
os.environ.setdefault('MKL_NUM_THREADS', '1')

import collections
import heapq
import json
import math
import random
import re
import sys
import time
import unicodedata

import numpy as np
import torch
from torch import nn

SEED = 20240611
VOCAB_SIZE = 8192
HIDDEN = 128
MAX_LENGTH = 256  # model_max_length: transformers.js truncates to this, so training does too
QUERY_MAX = 96
EPOCHS = 20
BATCH = 64
LEARNING_RATE = 2e-3
TEMPERATURE = 0.05
DEV_FRACTION = 0.05
TIME_BUDGET_S = 13 * 60
SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
PAD, UNK, CLS, SEP, MASK = range(5)


# ---------------------------------------------------------------- tokenisation (mirrors @huggingface/tokenizers)


def _is_control(ch):
    if ch in '\t\n\r':
        return False
    return unicodedata.category(ch) in ('Cc', 'Cf', 'Co', 'Cs')


def _is_punctuation(ch):
    # BertPreTokenizer: \p{P} plus the ASCII symbol ranges (so "$", "+", "<", "^", "`", "|" and "~" split too)
    cp = ord(ch)
    if 0x21 <= cp <= 0x2F or 0x3A <= cp <= 0x40 or 0x5B <= cp <= 0x60 or 0x7B <= cp <= 0x7E:
        return True
    return unicodedata.category(ch).startswith('P')


def _is_cjk(cp):
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def normalize(text):
    """BertNormalizer(clean_text, handle_chinese_chars, lowercase, strip_accents)."""
    out = []
    for ch in text:
        cp = ord(ch)
        if cp == 0 or cp == 0xFFFD or _is_control(ch):
            continue
        if ch.isspace():
            out.append(' ')
        elif _is_cjk(cp):
            out.append(' ' + ch + ' ')
        else:
            out.append(ch)
    text = ''.join(out).lower()
    text = unicodedata.normalize('NFD', text)
    return ''.join(ch for ch in text if unicodedata.category(ch) != 'Mn')


def pre_tokenize(text):
    """BertPreTokenizer: runs of non-space non-punctuation, and each punctuation character alone."""
    words, current = [], []
    for ch in text.strip():
        if ch.isspace():
            if current:
                words.append(''.join(current))
                current = []
        elif _is_punctuation(ch):
            if current:
                words.append(''.join(current))
                current = []
            words.append(ch)
        else:
            current.append(ch)
    if current:
        words.append(''.join(current))
    return words


def words_of(text):
    return pre_tokenize(normalize(text))


def learn_wordpiece_vocab(word_counts, size):
    """BPE merges over characters with the "##" prefix on non-initial pieces, until the vocabulary has `size` tokens."""
    vocab = list(SPECIALS)
    seen = set(vocab)
    # Every character seen, initial and continuing, plus printable ASCII, so ordinary text never maps to [UNK].
    alphabet = set(chr(c) for c in range(0x21, 0x7F))
    for w in word_counts:
        alphabet.update(w)
    for ch in sorted(alphabet):
        for tok in (ch, '##' + ch):
            if tok not in seen:
                vocab.append(tok)
                seen.add(tok)
    words = [[w[0]] + ['##' + c for c in w[1:]] for w in word_counts]
    freqs = list(word_counts.values())
    pair_counts = collections.Counter()
    where = collections.defaultdict(set)
    for i, pieces in enumerate(words):
        for a, b in zip(pieces, pieces[1:]):
            pair_counts[(a, b)] += freqs[i]
            where[(a, b)].add(i)
    # Lazy max-heap of (-count, pair): stale entries are skipped when popped. Ties go to the smaller pair, so the
    # result does not depend on dict order.
    heap = [(-c, pair) for pair, c in pair_counts.items()]
    heapq.heapify(heap)
    while len(vocab) < size and heap:
        neg, (a, b) = heapq.heappop(heap)
        if pair_counts.get((a, b), 0) != -neg:
            continue
        if -neg < 2:
            break
        merged = a + b[2:]
        if merged not in seen:
            vocab.append(merged)
            seen.add(merged)
        touched = set()
        for i in sorted(where[(a, b)]):
            pieces = words[i]
            for x, y in zip(pieces, pieces[1:]):
                pair_counts[(x, y)] -= freqs[i]
                where[(x, y)].discard(i)
                touched.add((x, y))
            new, j = [], 0
            while j < len(pieces):
                if j + 1 < len(pieces) and pieces[j] == a and pieces[j + 1] == b:
                    new.append(merged)
                    j += 2
                else:
                    new.append(pieces[j])
                    j += 1
            words[i] = new
            for x, y in zip(new, new[1:]):
                pair_counts[(x, y)] += freqs[i]
                where[(x, y)].add(i)
                touched.add((x, y))
        pair_counts.pop((a, b), None)
        where.pop((a, b), None)
        touched.discard((a, b))
        for pair in touched:
            c = pair_counts.get(pair, 0)
            if c > 0:
                heapq.heappush(heap, (-c, pair))
            else:
                pair_counts.pop(pair, None)
    return vocab


class WordPiece:
    """Greedy longest-match-first WordPiece, as @huggingface/tokenizers WordPieceTokenizer.encode."""

    def __init__(self, vocab):
        self.vocab = vocab
        self.ids = {t: i for i, t in enumerate(vocab)}
        self.cache = {}

    def word_ids(self, word):
        if word in self.cache:
            return self.cache[word]
        if len(word) > 100:
            return [UNK]
        out, start = [], 0
        while start < len(word):
            end, found = len(word), None
            while start < end:
                sub = word[start:end] if start == 0 else '##' + word[start:end]
                if sub in self.ids:
                    found = self.ids[sub]
                    break
                end -= 1
            if found is None:
                out = [UNK]
                break
            out.append(found)
            start = end
        self.cache[word] = out
        return out

    def pieces(self, text):
        """Token ids without [CLS]/[SEP]. Pieces of texts joined by whitespace or punctuation concatenate, because the
        pre-tokenizer splits there; training builds its views from cached pieces instead of re-tokenising."""
        return [i for w in words_of(text) for i in self.word_ids(w)]

    def encode(self, text, max_length=MAX_LENGTH):
        return wrap(self.pieces(text), max_length)


def wrap(ids, max_length=MAX_LENGTH):
    """[CLS] ids [SEP], truncated as transformers.js truncates (model_max_length counts the special tokens)."""
    return [CLS] + ids[: max_length - 2] + [SEP]


# ---------------------------------------------------------------- model


class TinyEncoder(nn.Module):
    """BERT-shaped on the outside (BERT's inputs, `last_hidden_state` out), a weighted bag of words inside.

    Each token's output is gate(token) * proj(LayerNorm(word + token_type)). Mean pooling in transformers.js then
    gives an importance-weighted average, the gate learning what IDF does for BM25 (stop words count little). Self-
    attention was tried first and dropped: with the CPU build of torch here a single layer cost ~30x more per step,
    which did not fit the training budget, and word order matters little for matching questions to answers.
    """

    def __init__(self, vocab_size):
        super().__init__()
        self.word = nn.Embedding(vocab_size, HIDDEN, padding_idx=PAD)
        self.token_type = nn.Embedding(2, HIDDEN)
        self.gate = nn.Embedding(vocab_size, 1)
        self.ln = nn.LayerNorm(HIDDEN, eps=1e-12)
        self.proj = nn.Linear(HIDDEN, HIDDEN)
        self.drop = nn.Dropout(0.1)
        nn.init.normal_(self.token_type.weight, std=0.02)
        nn.init.eye_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.ln(self.word(input_ids) + self.token_type(token_type_ids))
        # The mask is applied by the pooling; multiplying here keeps attention_mask a graph input, as BERT's is.
        weight = nn.functional.softplus(self.gate(input_ids)) * attention_mask.unsqueeze(-1).to(x.dtype)
        return self.proj(self.drop(x)) * weight


    def pooled_fast(self, ids, mask):
        """Same vectors as `pooled` (the projection is linear, so it commutes with the weighted sum), without
        projecting every token: what makes training fit the time budget on this machine's generic BLAS."""
        x = self.drop(self.ln(self.word(ids) + self.token_type(torch.zeros_like(ids))))
        weight = nn.functional.softplus(self.gate(ids)) * mask.unsqueeze(-1).to(x.dtype)
        n = mask.sum(1, keepdim=True).to(x.dtype).clamp(min=1e-9)
        summed = nn.functional.linear((x * weight).sum(1), self.proj.weight) + weight.sum(1) * self.proj.bias
        return nn.functional.normalize(summed / n, dim=-1)


def pooled(model, ids, mask):
    """Mean pooling over the attention mask and L2 normalisation of the full graph, as transformers.js does it."""
    hidden = model(ids, mask, torch.zeros_like(ids))
    m = mask.unsqueeze(-1).to(hidden.dtype)
    mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    return nn.functional.normalize(mean, dim=-1)


def batch_tensor(seqs):
    width = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), width, dtype=torch.long)
    mask = torch.zeros(len(seqs), width, dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s)
        mask[i, : len(s)] = 1
    return ids, mask


# ---------------------------------------------------------------- data


def sentences(text):
    return [s for s in re.split(r'(?<=[.?!])\s+', text) if len(s.split()) >= 5]


def encode_pair(tok, pair):
    return {
        'question': tok.pieces(pair['question']),
        'focus': tok.pieces(pair['focus']),
        'synonyms': [tok.pieces(x) for x in pair['synonyms']],
        'answer': tok.pieces(pair['answer']),
        'sentences': [tok.pieces(x) for x in sentences(pair['answer'])],
    }


def query_view(enc, colon, rng):
    """The question side: the question, sometimes with the focus or a synonym, since consumers name things variously."""
    r = rng.random()
    if r < 0.25 and enc['synonyms']:
        return wrap(enc['question'] + rng.choice(enc['synonyms']), QUERY_MAX)
    if r < 0.4:
        return wrap(enc['focus'] + colon + enc['question'], QUERY_MAX)
    return wrap(enc['question'], QUERY_MAX)


def document_view(enc, rng):
    """The answer side; half the time with the question as title, as the retrieval corpus stores documents."""
    if rng.random() < 0.5:
        return wrap(enc['question'] + enc['answer'])
    return wrap(enc['answer'])


def inverse_cloze(enc, rng):
    """A sentence of the answer as the query, the rest (usually without it) as the document: consumer questions
    describe situations, and the question-answer pairs alone teach mostly "the topic's name"."""
    sents = enc['sentences']
    if len(sents) < 3:
        return None
    i = rng.randrange(len(sents))
    rest = sents[:i] + sents[i + 1 :] if rng.random() < 0.9 else sents
    return wrap(sents[i], QUERY_MAX), wrap(enc['focus'] + [t for x in rest for t in x])


def lsa_init(texts, vocab_size):
    """Rows of ~U*S from the TF-IDF token-by-text matrix (texts as token ids), scaled to unit RMS; and the idf."""
    counts = np.zeros((vocab_size, len(texts)), dtype=np.float32)
    for j, t in enumerate(texts):
        for i in t:
            counts[i, j] += 1
    df = (counts > 0).sum(1)
    idf = np.log((1 + len(texts)) / (1 + df)) + 1
    tfidf = np.log1p(counts) * idf[:, None]
    tfidf /= np.linalg.norm(tfidf, axis=0, keepdims=True) + 1e-9
    # One step of the randomised range finder (Halko, Martinsson & Tropp 2011) instead of a full SVD: the generic BLAS
    # of this torch build makes a full or even a low-rank SVD of an 8k x 3k matrix take minutes on one core.
    x = torch.from_numpy(tfidf.astype(np.float32))
    y = x.T @ (x @ torch.randn(x.shape[1], HIDDEN))
    q, _ = torch.linalg.qr(y)
    emb = (x @ q).numpy()
    emb /= emb.std() + 1e-9
    rng = np.random.default_rng(SEED)
    unseen = df == 0
    emb[unseen] = rng.normal(0, 1, size=(unseen.sum(), HIDDEN))
    emb[PAD] = 0
    return torch.tensor(emb, dtype=torch.float32), torch.tensor(np.log(idf), dtype=torch.float32)


# ---------------------------------------------------------------- export


def write_folder(out, model, vocab, card):
    os.makedirs(os.path.join(out, 'onnx'), exist_ok=True)
    model.eval()
    ids = torch.tensor([[CLS, 10, 11, 12, SEP], [CLS, 13, SEP, PAD, PAD]])
    mask = (ids != PAD).long()
    torch.onnx.export(
        model,
        (ids, mask, torch.zeros_like(ids)),
        os.path.join(out, 'onnx', 'model.onnx'),
        input_names=['input_ids', 'attention_mask', 'token_type_ids'],
        output_names=['last_hidden_state'],
        dynamic_axes={
            'input_ids': {0: 'batch_size', 1: 'sequence_length'},
            'attention_mask': {0: 'batch_size', 1: 'sequence_length'},
            'token_type_ids': {0: 'batch_size', 1: 'sequence_length'},
            'last_hidden_state': {0: 'batch_size', 1: 'sequence_length'},
        },
        opset_version=14,
        do_constant_folding=True,
    )
    config = {
        'architectures': ['BertModel'],
        'model_type': 'bert',
        'vocab_size': len(vocab),
        'hidden_size': HIDDEN,
        # No attention layers (see TinyEncoder); transformers.js reads these only for decoders' caches.
        'num_hidden_layers': 0,
        'num_attention_heads': 1,
        'intermediate_size': HIDDEN,
        'hidden_act': 'gelu',
        'hidden_dropout_prob': 0.1,
        'attention_probs_dropout_prob': 0.1,
        'max_position_embeddings': MAX_LENGTH,
        'type_vocab_size': 2,
        'layer_norm_eps': 1e-12,
        'pad_token_id': PAD,
        'position_embedding_type': 'absolute',
        'recovery_twin': card,
    }
    special = lambda i: {  # noqa: E731
        'id': i,
        'content': SPECIALS[i],
        'single_word': False,
        'lstrip': False,
        'rstrip': False,
        'normalized': False,
        'special': True,
    }
    tokenizer = {
        'version': '1.0',
        'truncation': None,
        'padding': None,
        'added_tokens': [special(i) for i in range(len(SPECIALS))],
        'normalizer': {
            'type': 'BertNormalizer',
            'clean_text': True,
            'handle_chinese_chars': True,
            'strip_accents': None,
            'lowercase': True,
        },
        'pre_tokenizer': {'type': 'BertPreTokenizer'},
        'post_processor': {
            'type': 'TemplateProcessing',
            'single': [
                {'SpecialToken': {'id': '[CLS]', 'type_id': 0}},
                {'Sequence': {'id': 'A', 'type_id': 0}},
                {'SpecialToken': {'id': '[SEP]', 'type_id': 0}},
            ],
            'pair': [
                {'SpecialToken': {'id': '[CLS]', 'type_id': 0}},
                {'Sequence': {'id': 'A', 'type_id': 0}},
                {'SpecialToken': {'id': '[SEP]', 'type_id': 0}},
                {'Sequence': {'id': 'B', 'type_id': 1}},
                {'SpecialToken': {'id': '[SEP]', 'type_id': 1}},
            ],
            'special_tokens': {
                '[CLS]': {'id': '[CLS]', 'ids': [CLS], 'tokens': ['[CLS]']},
                '[SEP]': {'id': '[SEP]', 'ids': [SEP], 'tokens': ['[SEP]']},
            },
        },
        'decoder': {'type': 'WordPiece', 'prefix': '##', 'cleanup': True},
        'model': {
            'type': 'WordPiece',
            'unk_token': '[UNK]',
            'continuing_subword_prefix': '##',
            'max_input_chars_per_word': 100,
            'vocab': {t: i for i, t in enumerate(vocab)},
        },
    }
    tokenizer_config = {
        'tokenizer_class': 'BertTokenizer',
        'do_lower_case': True,
        'tokenize_chinese_chars': True,
        'strip_accents': None,
        'model_max_length': MAX_LENGTH,
        'clean_up_tokenization_spaces': True,
        'cls_token': '[CLS]',
        'sep_token': '[SEP]',
        'pad_token': '[PAD]',
        'unk_token': '[UNK]',
        'mask_token': '[MASK]',
    }
    with open(os.path.join(out, 'config.json'), 'w') as f:
        json.dump(config, f, indent=2)
        f.write('\n')
    with open(os.path.join(out, 'tokenizer.json'), 'w') as f:
        json.dump(tokenizer, f, ensure_ascii=False, separators=(',', ':'))
    with open(os.path.join(out, 'tokenizer_config.json'), 'w') as f:
        json.dump(tokenizer_config, f, indent=2)
        f.write('\n')
    with open(os.path.join(out, 'vocab.txt'), 'w') as f:
        f.write('\n'.join(vocab) + '\n')


REFERENCE_TEXTS = [
    'How long does it take to recover from a sprained ankle?',
    'Résumé of knee surgery rehab — day 3, pain 4/10, no swelling.',
    'Shortness of breath and chest pain when climbing stairs',
]


def main():
    pairs_path, out = sys.argv[1], sys.argv[2]
    started = time.time()
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    rng = random.Random(SEED)

    with open(pairs_path) as f:
        pairs = [json.loads(line) for line in f if line.strip()]
    # Dev split by focus, so no topic of the dev pairs is seen in training.
    foci = sorted({p['focus'].lower() for p in pairs})
    random.Random(SEED).shuffle(foci)
    dev_foci = set(foci[: int(len(foci) * DEV_FRACTION)])
    dev = [p for p in pairs if p['focus'].lower() in dev_foci]
    train = [p for p in pairs if p['focus'].lower() not in dev_foci]
    print(f'{len(train)} training pairs, {len(dev)} dev pairs ({len(dev_foci)} held-out topics)', flush=True)

    texts = []
    for p in train:
        texts.append(' '.join([p['focus'], *p['synonyms'], p['question']]))
        texts.append(p['answer'])
    word_counts = collections.Counter()
    for t in texts:
        word_counts.update(words_of(t))
    vocab = learn_wordpiece_vocab(dict(sorted(word_counts.items())), VOCAB_SIZE)
    tok = WordPiece(vocab)
    print(f'vocabulary {len(vocab)} tokens from {len(word_counts)} distinct words ({time.time() - started:.0f} s)', flush=True)

    encoded = [encode_pair(tok, p) for p in train]
    dev_encoded = [encode_pair(tok, p) for p in dev]
    colon = tok.pieces(':')
    print(f'training text tokenised ({time.time() - started:.0f} s)', flush=True)
    model = TinyEncoder(len(vocab))
    answers = {p['answer']: e['answer'] for p, e in zip(train, encoded)}
    with torch.no_grad():
        emb, log_idf = lsa_init([answers[a] for a in sorted(answers)], len(vocab))
        model.word.weight.copy_(emb)
        # softplus(g) = idf at the start: the gate begins as BM25's term weight and is then learnt.
        idf = log_idf.exp()
        model.gate.weight.copy_(torch.log(torch.expm1(idf)).unsqueeze(1))
    print(f'LSA initialisation done ({time.time() - started:.0f} s)', flush=True)

    def dev_mrr():
        model.eval()
        with torch.no_grad():
            docs = [wrap(e['answer']) for e in dev_encoded]
            questions = [wrap(e['focus'] + e['question'], QUERY_MAX) for e in dev_encoded]
            dv = torch.cat([model.pooled_fast(*batch_tensor(docs[i : i + 64])) for i in range(0, len(docs), 64)])
            qv = torch.cat([model.pooled_fast(*batch_tensor(questions[i : i + 64])) for i in range(0, len(docs), 64)])
            # Question (with its focus) against every dev answer: rank of its own answer.
            sims = qv @ dv.T
            ranks = (sims > sims.diag().unsqueeze(1)).sum(1) + 1
        model.train()
        return float((1.0 / ranks.float()).mean())

    print(f'dev MRR before training {dev_mrr():.3f}', flush=True)
    optimiser = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    steps_per_epoch = math.ceil(2 * len(train) / BATCH)
    total = EPOCHS * steps_per_epoch
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min(1.0, (s + 1) / 50) * max(0.0, 1 - s / total)
    )
    step, history = 0, []
    for epoch in range(EPOCHS):
        examples = [(query_view(e, colon, rng), document_view(e, rng)) for e in encoded]
        examples += [x for x in (inverse_cloze(e, rng) for e in encoded) if x]
        rng.shuffle(examples)
        losses = []
        for i in range(0, len(examples), BATCH):
            chunk = examples[i : i + BATCH]
            if len(chunk) < 8:
                continue
            q = model.pooled_fast(*batch_tensor([a for a, _ in chunk]))
            d = model.pooled_fast(*batch_tensor([b for _, b in chunk]))
            logits = q @ d.T / TEMPERATURE
            target = torch.arange(len(chunk))
            loss = (nn.functional.cross_entropy(logits, target) + nn.functional.cross_entropy(logits.T, target)) / 2
            optimiser.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            schedule.step()
            step += 1
            losses.append(float(loss))
        mrr = dev_mrr()
        history.append({'epoch': epoch + 1, 'loss': round(float(np.mean(losses)), 4), 'devMrr': round(mrr, 4)})
        print(f'epoch {epoch + 1}: loss {np.mean(losses):.3f}, dev MRR {mrr:.3f} ({time.time() - started:.0f} s)', flush=True)
        if time.time() - started > TIME_BUDGET_S:
            print('time budget reached, stopping early', flush=True)
            break

    card = {
        'trainedBy': 'scripts/trainEmbeddingModel.py',
        'seed': SEED,
        'trainingPairs': len(train),
        'devPairs': len(dev),
        'history': history,
        'vocabularySize': len(vocab),
        'parameters': sum(p.numel() for p in model.parameters()),
    }
    write_folder(out, model, vocab, card)
    model.eval()
    with torch.no_grad():
        ref = pooled(model, *batch_tensor([tok.encode(t) for t in REFERENCE_TEXTS]))
    with open(os.path.join(out, 'reference_embeddings.json'), 'w') as f:
        json.dump(
            {
                'why': 'vectors computed in PyTorch at training time; transformers.js must reproduce them (same tokens, same graph)',
                'texts': REFERENCE_TEXTS,
                'tokenIds': [tok.encode(t) for t in REFERENCE_TEXTS],
                'vectors': [[round(float(x), 6) for x in v] for v in ref],
            },
            f,
        )
        f.write('\n')
    print(json.dumps(card), flush=True)
    print(f'written to {out} in {time.time() - started:.0f} s', flush=True)


if __name__ == '__main__':
    main()

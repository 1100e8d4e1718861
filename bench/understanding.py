"""How well the offline planner understands asks: the held-out set (bench/understanding/heldout.yaml), kept apart
from the training corpus (core/intents/corpus/*.yaml), and the training corpus itself (so over-fitting shows).

    .venv/bin/python bench/understanding.py [--no-heldout-text] [--folds 5]

Prints, for each set: agent accuracy (overall and per agent), environment accuracy, a confusion matrix, the asks it
got wrong, and the classification time per ask (p50/p99). First it flags near-duplicates between the held-out asks
and the corpus (normalized token Jaccard >= 0.8 or character-trigram cosine >= 0.9) by id only.

The agent is what the planner decides: the model's reading when it is confident; when it is not, the reading the
keyword rules single out, else the first of the choices it would offer (counted separately as "unclear"). The
environment is what the ask names (null when it names none), as the held-out labels are.
"""

from __future__ import annotations

import argparse
import math
import random
import re
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.intents.corpus import AGENTS, NONE, load_corpus
from core.intents.features import fold
from core.intents.model import IntentModel
from core.intents.reader import IntentReader, build_reader, sample_lexicon
from core.intents.training import SETTINGS
from core.llm.offline import decide

HELDOUT = ROOT / "bench" / "understanding" / "heldout.yaml"
SHORT = {a: a.removesuffix("_agent")[:6] for a in (*AGENTS, NONE)}


def _tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", fold(text)))


def _trigrams(text: str) -> Counter[str]:
    padded = f"  {' '.join(re.findall(r'[a-z0-9]+', fold(text)))}  "
    return Counter(padded[i : i + 3] for i in range(len(padded) - 2))


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    dot = sum(v * b.get(k, 0) for k, v in a.items())
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def near_duplicates(heldout: list[str], corpus: list[tuple[str, str]]) -> list[tuple[int, str, float, float]]:
    """(held-out index, corpus id, jaccard, cosine) for pairs too close to count as unseen."""
    corpus_tokens = [(_tokens(t), _trigrams(t)) for t, _ in corpus]
    found = []
    for i, text in enumerate(heldout):
        tokens, grams = _tokens(text), _trigrams(text)
        for j, (other_tokens, other_grams) in enumerate(corpus_tokens):
            union = tokens | other_tokens
            jaccard = len(tokens & other_tokens) / len(union) if union else 0.0
            if jaccard < 0.5:
                continue  # cannot reach 0.9 cosine either in practice; skips most of the work
            cosine = _cosine(grams, other_grams)
            if jaccard >= 0.8 or cosine >= 0.9:
                found.append((i, corpus[j][1], round(jaccard, 2), round(cosine, 2)))
    return found


def predicted(reader: IntentReader, text: str) -> tuple[str, str | None, bool, list[str], float]:
    """(agent, environment, unclear, offered agents, seconds)."""
    started = time.perf_counter()
    reading = reader.read(text)
    decision = decide(reading, text)
    elapsed = time.perf_counter() - started
    if decision.agent is not None:
        return decision.agent, reading.entities.environment, False, [], elapsed
    offered = list(decision.choices)
    return (offered[0] if offered else NONE), reading.entities.environment, decision.how == "unclear", offered, elapsed


def report(title: str, rows: list[dict], *, show_text: bool, timing: bool = True) -> None:
    total = len(rows)
    right = sum(r["agent"] == r["want_agent"] for r in rows)
    print(f"\n== {title}: {total} asks")
    print(f"agent accuracy: {right}/{total} = {right / total:.1%}")
    env_rows = [r for r in rows if "want_env" in r]
    if env_rows:
        env_right = sum(r["env"] == r["want_env"] for r in env_rows)
        print(f"environment accuracy: {env_right}/{len(env_rows)} = {env_right / len(env_rows):.1%}")
    unclear = [r for r in rows if r["unclear"]]
    if unclear:
        among = sum(r["want_agent"] in r["offered"] for r in unclear)
        print(f"unclear (choices offered): {len(unclear)}; the right agent among the choices in {among}")
    labels = [a for a in (*AGENTS, NONE) if any(r["want_agent"] == a or r["agent"] == a for r in rows)]
    print("per agent (recall):")
    for agent in labels:
        mine = [r for r in rows if r["want_agent"] == agent]
        if mine:
            ok = sum(r["agent"] == agent for r in mine)
            print(f"  {agent:<18} {ok:>4}/{len(mine):<4} {ok / len(mine):.1%}")
    print("confusion (rows: labelled, columns: predicted):")
    print(" " * 8 + "".join(f"{SHORT[a]:>7}" for a in labels))
    for want in labels:
        counts = Counter(r["agent"] for r in rows if r["want_agent"] == want)
        print(f"{SHORT[want]:<8}" + "".join(f"{counts.get(a, 0) or '.':>7}" for a in labels))
    wrong = [r for r in rows if r["agent"] != r["want_agent"] or ("want_env" in r and r["env"] != r["want_env"])]
    print(f"wrong: {len(wrong)}")
    if show_text:
        for r in wrong:
            env = f" env {r['env']} (want {r['want_env']})" if "want_env" in r and r["env"] != r["want_env"] else ""
            print(f"  [{r['id']}] {r['text']!r}: {r['agent']} (want {r['want_agent']}){env}")
    if timing:
        times = sorted(r["seconds"] * 1000 for r in rows)
        p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
        print(f"classification time per ask: p50 {statistics.median(times):.2f} ms, p99 {p99:.2f} ms")


def cross_validation(pairs: list[tuple[str, str]], folds: int) -> list[dict]:
    order = list(range(len(pairs)))
    random.Random(0).shuffle(order)
    rows = []
    for fold_number in range(folds):
        test = set(order[fold_number::folds])
        model = IntentModel.train([pairs[i] for i in order if i not in test], SETTINGS)
        reader = IntentReader(model, sample_lexicon())
        for i in sorted(test):
            agent, _, unclear, offered, seconds = predicted(reader, pairs[i][0])
            rows.append(
                {"id": f"corpus#{i}", "text": pairs[i][0], "want_agent": pairs[i][1], "agent": agent}
                | {"unclear": unclear, "offered": offered, "seconds": seconds}
            )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-heldout-text", action="store_true", help="print held-out figures only, never their texts")
    parser.add_argument("--folds", type=int, default=5, help="cross-validation folds on the training corpus (0: skip)")
    args = parser.parse_args()

    corpus = load_corpus()
    pairs = corpus.pairs()
    per_file: Counter[str] = Counter()
    ids = []
    for e in corpus.examples:
        per_file[e.source] += 1
        ids.append(f"{e.source}#{per_file[e.source]}")  # the n-th ask of that file
    heldout = yaml.safe_load(HELDOUT.read_text(encoding="utf-8"))["asks"]
    print(f"training corpus: {len(pairs)} asks ({', '.join(f'{k} {v}' for k, v in sorted(corpus.counts().items()))})")
    print(f"held-out: {len(heldout)} asks")

    duplicates = near_duplicates([a["text"] for a in heldout], list(zip([t for t, _ in pairs], ids, strict=True)))
    print(f"near-duplicates between held-out and corpus (jaccard >= 0.8 or trigram cosine >= 0.9): {len(duplicates)}")
    for i, corpus_id, jaccard, cosine in duplicates:
        print(f"  heldout#{i} ~ {corpus_id} (jaccard {jaccard}, cosine {cosine})")

    started = time.perf_counter()
    reader = build_reader()
    print(f"model ready in {time.perf_counter() - started:.2f}s (trained now or loaded from the cache)")
    started = time.perf_counter()
    IntentModel.train(pairs, SETTINGS)
    print(f"training time (always retrained here): {time.perf_counter() - started:.2f}s")

    rows = []
    for i, ask in enumerate(heldout):
        agent, env, unclear, offered, seconds = predicted(reader, ask["text"])
        rows.append(
            {"id": f"heldout#{i}", "text": ask["text"], "want_agent": ask["agent"], "agent": agent, "env": env}
            | {"want_env": ask.get("environment"), "unclear": unclear, "offered": offered, "seconds": seconds}
        )
    report("held-out", rows, show_text=not args.no_heldout_text)

    entity_keys = ("service", "region", "platform", "cve", "image", "time_range", "resource", "role")
    print("held-out entities (labelled → named by the reader; lenient: the label's words appear in what was read):")
    for key in entity_keys:
        labelled = [(a, r) for a, r in zip(heldout, rows, strict=True) if (a.get("entities") or {}).get(key)]
        if labelled:
            hit = sum(_entity_found(key, a["entities"][key], reader.read(a["text"]).entities.to_document()) for a, _ in labelled)
            print(f"  {key:<11} {hit:>3}/{len(labelled):<3}")

    training_rows = []
    for i, (text, label) in enumerate(pairs):
        agent, _, unclear, offered, seconds = predicted(reader, text)
        training_rows.append(
            {"id": ids[i], "text": text, "want_agent": label, "agent": agent, "unclear": unclear, "offered": offered}
            | {"seconds": seconds}
        )
    report("training corpus, resubstitution", training_rows, show_text=False)
    if args.folds > 1:
        report(
            f"training corpus, {args.folds}-fold cross-validation",
            cross_validation(pairs, args.folds),
            show_text=True,
            timing=False,
        )
    return 0


_ENTITY_FIELDS = {
    "service": "services",
    "region": "regions",
    "platform": "platforms",
    "cve": "cve_ids",
    "image": "images",
    "time_range": "time_range",
    "resource": "resources",
    "role": "roles",
}


def _entity_found(key: str, labelled: object, found: dict) -> bool:
    value = found.get(_ENTITY_FIELDS[key])
    if not value:
        return False
    read = fold(str(value)).replace("_", " ").replace("-", " ")
    wanted = labelled if isinstance(labelled, list) else [labelled]
    return all(
        any(
            word[:4] in read
            for word in re.findall(r"[a-z0-9]+", fold(str(w)).replace("_", " ").replace("-", " "))
            if len(word) > 2
        )
        for w in wanted
    )


if __name__ == "__main__":
    raise SystemExit(main())

"""nigehbaan cluster: re-posts kept together in every script, boilerplate and hubs kept apart,
every row out once in order with stable ids, bad rows with `error`."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from nigehbaan.inference.cluster import (
    TemplateConfig,
    ad_shingles,
    network_labels,
    template_labels,
    template_text,
)
from nigehbaan.inference.normalize import normalize

from benchmarks.campaign_data import BOILERPLATE, MUTATIONS, make_campaigns
from nigehbaan.cli import main

ADS = {
    "en": [
        "Dubai hotel jobs for waiters and kitchen helpers. Salary 1800 AED plus accommodation. "
        "Free visa and air ticket. Interviews in Lahore this week. Call 0321-4471985.",
        "Factory workers needed in Malaysia. Good salary 120000 monthly, overtime extra. "
        "Passport required, age 20-35. Office in Karachi. WhatsApp 0333 1234567.",
    ],
    "ur": [
        "دبئی میں ہوٹل کی نوکریاں۔ تنخواہ 1800 درہم اور رہائش مفت۔ ویزا اور ٹکٹ کمپنی دے گی۔ "
        "انٹرویو لاہور میں اس ہفتے۔ رابطہ 0321-4471985",
        "ملائیشیا میں فیکٹری ورکرز کی ضرورت ہے۔ تنخواہ 120000 ماہانہ، اوور ٹائم الگ۔ "
        "پاسپورٹ لازمی، عمر 20 سے 35۔ دفتر کراچی میں۔ واٹس ایپ 0333 1234567",
    ],
    "ur-Latn": [
        "Dubai mein hotel ki naukriyan. Tankhwah 1800 dirham aur rehaish muft. Visa aur ticket "
        "company degi. Interview Lahore mein is hafte. Rabta 0321-4471985",
        "Malaysia mein factory workers ki zaroorat hai. Tankhwah 120000 mahana, overtime alag. "
        "Passport lazmi, umar 20 se 35. Daftar Karachi mein. WhatsApp 0333 1234567",
    ],
}


def labels(texts: list[str]) -> list[int]:
    return template_labels([ad_shingles(normalize(t).text) for t in texts])[0].tolist()


@pytest.mark.parametrize("lang", sorted(ADS))
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
def test_each_mutation_keeps_the_template(lang, mutation):
    rng = random.Random(3)
    a, other = ADS[lang]
    mutated = MUTATIONS[mutation](a, rng)
    assert labels([a, mutated, other]) == [0, 0, 1], mutated


@pytest.mark.parametrize("lang", sorted(ADS))
def test_all_mutations_at_once_keep_the_template(lang):
    rng = random.Random(5)
    a, other = ADS[lang]
    posts = [a]
    for _ in range(10):
        t = a
        for m in rng.sample(sorted(MUTATIONS), 3):
            t = MUTATIONS[m](t, rng)
        posts.append(t)
    assert labels(posts + [other]) == [0] * 11 + [1]


def test_boilerplate_alone_does_not_merge():
    rng = random.Random(1)
    ads = []
    for i in range(300):  # many different short ads (five made-up words) with the same footer
        job = " ".join("".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=6)) for _ in range(5))
        ads.append(f"{job}. {BOILERPLATE[rng.choice(sorted(BOILERPLATE))]} 0300-{1000000 + i}")
    got, n_boiler = template_labels([ad_shingles(normalize(t).text) for t in ads])
    assert n_boiler > 0
    assert len(set(got.tolist())) == len(ads)


def test_signatures_equal_datasketch():
    from datasketch import MinHash
    from nigehbaan.inference.cluster.near_dup import signatures

    cfg = TemplateConfig()
    sets = [ad_shingles(normalize(t).text) for t in ADS["ur"]]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sets])])
    sig = signatures(np.concatenate(sets), offsets, cfg)
    for row, s in zip(sig, sets, strict=True):
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed, scheme="legacy", hashfunc=int)
        m.update_batch(s.tolist())
        assert row.tolist() == m.hashvalues.tolist()


def test_hub_contact_is_reported_not_merged():
    templates = np.arange(60)
    contacts = [["phone:+923001234567", f"phone:+9230000000{i:02d}"] for i in range(60)]
    contacts[1].append("email:x@agency.pk")
    contacts[2].append("email:x@agency.pk")
    nets, hubs = network_labels(templates, contacts, hub_cap=50)
    assert hubs == {"phone:+923001234567": 60}
    assert nets[1] == nets[2] and len(set(nets.tolist())) == 59


def test_template_text_marks_slots():
    t = template_text(["jobs in dubai salary 1800 call 0321", "jobs in qatar salary 2000 call 0333"])
    assert t == "jobs in {slot} salary {slot} call {slot}"


def _write(path, lines):
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def test_cli_rows_in_order_ids_stable_bad_rows(tmp_path):
    ads = make_campaigns(n=300, seed=2)[:300]
    lines = [json.dumps({"id": a["id"], "text": a["text"], "platform": "olx"}, ensure_ascii=False) for a in ads]
    lines[5] = "{broken json"
    lines[9] = json.dumps({"id": "no-text", "text": ""})
    src = tmp_path / "ads.jsonl"
    _write(src, lines)
    outs = []
    for k in range(2):
        out, cl = tmp_path / f"out{k}.jsonl", tmp_path / f"clusters{k}.jsonl"
        assert main(["cluster", str(src), "-o", str(out), "--clusters", str(cl)]) == 1
        outs.append([json.loads(x) for x in open(out, encoding="utf-8")])
    rows = outs[0]
    assert outs[0] == outs[1]  # stable ids
    assert len(rows) == 300
    assert [r["id"] for i, r in enumerate(rows) if i not in (5, 9)] == [
        a["id"] for i, a in enumerate(ads) if i not in (5, 9)
    ]
    assert all(r["template_id"] and r["network_id"] for r in rows)
    assert rows[5]["error"] and rows[5]["raw"] == "{broken json"
    assert rows[9]["error"] == "field 'text' is empty"
    others = [r["template_id"] for i, r in enumerate(rows) if i != 5]
    assert rows[5]["template_id"] not in others
    truth = {a["id"]: a["_template"] for a in ads}
    by_t = {}
    for r in rows:
        if not r.get("error"):
            by_t.setdefault(r["template_id"], set()).add(truth[r["id"]])
    assert all(len(v) == 1 for v in by_t.values())  # no template mixes two true templates
    summaries = [json.loads(x) for x in open(tmp_path / "clusters0.jsonl", encoding="utf-8")]
    kinds = {s["kind"] for s in summaries}
    assert kinds == {"template", "network"}
    s = next(s for s in summaries if s["kind"] == "template" and s["size"] > 2)
    assert s["platforms"] == {"olx": s["size"]} and s["risk_max"] is None and "{slot}" in s["template"]


def test_cli_csv_and_usage_errors(tmp_path, capsys):
    src = tmp_path / "ads.csv"
    src.write_text("id,text\na,Jobs in Dubai call 0321-4471985\nb,JOBS IN DUBAI call 0333-1234567\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    assert main(["cluster", str(src), "-o", str(out)]) == 0
    import csv

    rows = list(csv.DictReader(open(out, encoding="utf-8")))
    assert [r["id"] for r in rows] == ["a", "b"] and rows[0]["template_id"] == rows[1]["template_id"]
    assert main(["cluster", str(tmp_path / "missing.jsonl"), "-o", str(out)]) == 2
    assert main(["cluster", str(src), "-o", str(src)]) == 2
    assert "would overwrite the ads" in capsys.readouterr().err

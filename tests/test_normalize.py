from hypothesis import given, settings
from hypothesis import strategies as st
from nigehbaan.inference.normalize import normalize
from nigehbaan.inference.rules import match_lexicon

ZW = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202e"]


def test_html_entities_and_tags_are_removed_but_offsets_point_at_original():
    text = "<p>Visa&nbsp;<b>free</b> &amp; ticket</p>"
    n = normalize(text)
    assert n.text == "visa free & ticket"
    i = n.text.index("free")
    ev = n.evidence(i, i + 4)
    assert ev["text"] == "free" and text[ev["start"] : ev["end"]] == "free"
    amp = n.text.index("&")
    assert n.evidence(amp, amp + 1)["text"] == "&amp;"


def test_urdu_folding_digits_and_diacritics():
    # Arabic kaf/yeh, a diacritic (zabar), tatweel and Urdu digits.
    n = normalize("كمپني ـ پَاسپورٹ ۰۳۰۰۱۲۳۴۵۶۷")
    assert n.text == "کمپنی پاسپورٹ 03001234567"


def test_zero_width_bidi_and_homoglyphs_are_folded():
    n = normalize("Pass\u200bport \u202eWh\u0430tsApp")  # Cyrillic a inside
    assert n.text == "passport whatsapp"


def test_leetspeak_in_words_but_not_in_amounts_or_emails():
    n = normalize("W@tsapp v1sa p@$$port 5000rs info@abc.com 3lakh")
    assert n.text == "watsapp visa passport 5000rs info@abc.com 3lakh"


def test_spaced_digits_are_joined_but_ranges_are_not():
    assert normalize("0 3 0 0 . 1 2 3 4 5 6 7").text == "03001234567"
    assert normalize("age 18 - 25, 2 3 days").text == "age 18 - 25, 2 3 days"


def test_emoji_words_and_flags():
    n = normalize("📞 0300 ✈️ 🇦🇪")
    assert n.text == "phone 0300 flight flag_ae"
    i = n.text.index("flag_ae")
    assert n.evidence(i, i + 7)["text"] == "🇦🇪"


def test_nul_and_control_characters_are_dropped():
    assert normalize("visa\x00 free\x07").text == "visa free"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_every_normalised_span_maps_inside_the_original(text):
    n = normalize(text)
    assert len(n.starts) == len(n.ends) == len(n.text)
    for i in range(len(n.text)):
        s, e = n.to_original(i, i + 1)
        assert 0 <= s < e <= len(text)
    if n.text:
        s, e = n.to_original(0, len(n.text))
        assert n.evidence(0, len(n.text))["text"] == text[s:e]


noise = st.lists(
    st.sampled_from(ZW + ["&nbsp;", "<br>", "<b>", "</b>", "\u0640", " ", "۰", "٣"]), max_size=4
)


@settings(max_examples=200, deadline=None)
@given(
    before=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30),
    after=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30),
    junk=st.lists(st.sampled_from(ZW), min_size=1, max_size=3),
    prefix=noise,
)
def test_evidence_slices_the_original_exactly_whatever_is_hidden_in_the_keyword(
    before, after, junk, prefix
):
    # "passport" with zero-width characters hidden inside still matches document_retention,
    # and the evidence is exactly the original characters, hidden ones included.
    word = "pass" + "".join(junk) + "port"
    text = f"{before} {''.join(prefix)} original {word} jama karwayen {after}"
    n = normalize(text)
    hits = [h for h in match_lexicon([n])[0] if h.indicator == "document_retention"]
    assert hits, n.text
    for h in hits:
        ev = text[h.start : h.end]
        assert normalize(ev).text in n.text
    assert any(word in text[h.start : h.end] for h in hits)

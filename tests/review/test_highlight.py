"""Evidence highlighting: escaping, overlaps, offsets that do not match."""

from __future__ import annotations

from nigehbaan.review.highlight import highlight


def ind(ind_id, *spans, text):
    return {"id": ind_id, "evidence": [{"start": s, "end": e, "text": text[s:e]} for s, e in spans]}


def test_plain_text_is_escaped():
    html, skipped, _ = highlight("<b>bold</b> & 'quotes'", [])
    assert str(html) == "&lt;b&gt;bold&lt;/b&gt; &amp; &#39;quotes&#39;"
    assert skipped == 0


def test_overlapping_evidence_is_split_into_segments():
    text = "visa free ticket"
    html, _, _ = highlight(
        text,
        [ind("free_visa_travel", (0, 16), text=text), ind("urgency_pressure", (5, 9), text=text)],
    )
    assert str(html) == (
        '<mark class="ev ind-2" data-indicators="free_visa_travel" title="Free visa travel">visa </mark>'
        '<mark class="ev ind-2 multi" data-indicators="free_visa_travel urgency_pressure" '
        'title="Free visa travel, Urgency pressure">free</mark>'
        '<mark class="ev ind-2" data-indicators="free_visa_travel" title="Free visa travel"> ticket</mark>'
    )


def test_evidence_inside_markup_like_text_stays_escaped():
    text = "<script>pay fee</script>"
    html, _, _ = highlight(text, [ind("upfront_fee", (8, 15), text=text)])
    assert str(html) == (
        '&lt;script&gt;<mark class="ev ind-3" data-indicators="upfront_fee" title="Upfront fee">'
        "pay fee</mark>&lt;/script&gt;"
    )


def test_bad_offsets_are_skipped_and_counted():
    text = "short"
    bad = {
        "id": "upfront_fee",
        "evidence": [
            {"start": 2, "end": 99, "text": "x"},
            {"start": 0, "end": 5, "text": "other"},
            {"start": "a"},
        ],
    }
    html, skipped, _ = highlight(text, [bad])
    assert (str(html), skipped) == ("short", 3)


def test_hostile_indicator_ids_cannot_inject_markup():
    text = "abc"
    html, _, _ = highlight(
        text,
        [
            {
                "id": '"><img src=x onerror=alert(1)>',
                "evidence": [{"start": 0, "end": 1, "text": "a"}],
            }
        ],
    )
    assert "<img" not in str(html)
    assert 'class="ev ind-x"' in str(html)


def test_urdu_offsets_are_code_points():
    text = "ویزا اور ٹکٹ فری"
    html, _, _ = highlight(text, [ind("free_visa_travel", (0, len(text)), text=text)])
    assert f">{text}</mark>" in str(html)


def test_overlapping_evidence_of_one_indicator_is_one_mark():
    text = "تنخواہ تین لاکھ ماہانہ"
    spans = ((0, 15), (7, 22), (11, 22))
    html, _, _ = highlight(text, [ind("unrealistic_pay", *spans, text=text)])
    assert str(html) == (
        f'<mark class="ev ind-0" data-indicators="unrealistic_pay" title="Unrealistic pay">{text}</mark>'
    )

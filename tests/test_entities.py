import pytest
from nigehbaan.inference.entities import extract_entities
from nigehbaan.inference.normalize import normalize


def ents(text):
    return extract_entities(normalize(text))


def test_phones_in_every_written_form_come_out_as_e164():
    e = ents("call 0300-1234567, +92 321 7654321, 0092 333 1112223, ۰۳۴۵۱۲۳۴۵۶۷, 0 3 1 1 . 2 2 2 3 3 3 4")
    assert e["phones"] == ["+923001234567", "+923217654321", "+923331112223", "+923451234567", "+923112223334"]


def test_whatsapp_numbers_are_the_ones_tied_to_whatsapp():
    e = ents("Office 042-35761234. WhatsApp only: 0300 1234567. Link wa.me/923217654321")
    assert set(e["whatsapp"]) == {"+923001234567", "+923217654321"}
    assert "+924235761234" in e["phones"] and "+924235761234" not in e["whatsapp"]


def test_urdu_whatsapp_cue():
    assert ents("واٹس ایپ نمبر 03001234567")["whatsapp"] == ["+923001234567"]


@pytest.mark.parametrize(
    "text, currency, period, per_month",
    [
        ("salary 8000 AED monthly", "AED", "month", 8000 * 77),
        ("tankhwa 3 lakh mahana", "PKR", "month", 300_000),
        ("تنخواہ تین لاکھ روپے ماہانہ", "PKR", "month", 300_000),
        ("Rs. 1,500 per day", "PKR", "day", 1500 * 26),
        ("earn 50k", "PKR", None, None),
        ("€1200 per month", "EUR", "month", 1200 * 305),
    ],
)
def test_money_amount_currency_period_and_pkr_per_month(text, currency, period, per_month):
    (m,) = ents(text)["money"]
    assert m["currency"] == currency and m["period"] == period
    assert m["pkr_per_month"] == per_month
    assert text[m["start"] : m["end"]] == m["text"]


def test_salary_context_implies_a_month():
    (m,) = ents("Salary: SAR 1500")["money"]
    assert m["period"] == "month" and m["period_assumed"] is True


def test_bare_numbers_are_not_money():
    assert ents("room 12, 3 people, call 5 pm")["money"] == []


def test_ages_and_ranges():
    got = [(a["min"], a["max"]) for a in ents("girls 18-25 only, need 12 saal ki bachi, عمر 14")["ages"]]
    assert got == [(18, 25), (12, 12), (14, 14)]


def test_places_in_three_scripts_and_flags():
    locs = ents("Jobs in Dubai, Saudia aur لاہور se 🇶🇦")["locations"]
    assert [(x["name"], x["country"]) for x in locs] == [
        ("Dubai", "AE"), ("Saudi Arabia", "SA"), ("Lahore", "PK"), ("Qatar", "QA")
    ]


def test_licence_numbers_emails_urls_handles():
    e = ents("OEP Licence No. 2187/RWP. Email hr@falcon.com.pk, www.falcon.pk, insta @falcon_jobs, t.me/dubaijobs")
    assert [x["number"] for x in e["licences"]] == ["2187/RWP"]
    assert e["emails"] == ["hr@falcon.com.pk"]
    assert e["urls"] == ["t.me/dubaijobs", "www.falcon.pk"]
    assert e["handles"] == ["@dubaijobs", "@falcon_jobs"]

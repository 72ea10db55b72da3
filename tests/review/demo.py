"""Hand-written scored ads for screenshots, demos and tests, so none of them needs the scorer.

`scored_ad` builds a row in the scored-ad format with evidence offsets computed from phrases,
so the offsets are always right (`text[start:end] == evidence text`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

MODEL = {"name": "nigehbaan-demo", "version": "0.0-demo", "lexicon": "demo"}


def scored_ad(
    ad_id: str,
    text: str,
    risk: float,
    band: str,
    lang: str,
    indicators: dict[str, list[str]] | None = None,
    *,
    phones: Sequence[str] = (),
    emails: Sequence[str] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A scored-ad dict; `indicators` maps an indicator id to phrases found in `text`."""
    inds = []
    for ind_id, phrases in (indicators or {}).items():
        evidence = []
        for phrase in phrases:
            start = text.index(phrase)  # a typo in a demo phrase should fail loudly
            evidence.append({"start": start, "end": start + len(phrase), "text": phrase})
        inds.append({"id": ind_id, "score": round(min(0.99, risk + 0.05), 2), "evidence": evidence})
    return {
        "id": ad_id,
        "text": text,
        "risk": risk,
        "band": band,
        "lang": lang,
        "indicators": inds,
        "entities": {
            "phones": list(phones),
            "emails": list(emails),
            "urls": [],
            "money": [],
            "locations": [],
        },
        "model": MODEL,
        "error": None,
        **extra,
    }


URDU_AD = scored_ad(
    "demo-ur-1",
    "دبئی کے ہوٹل کے لیے لڑکیاں درکار ہیں۔ عمر 18 سے 25 سال۔ ویزا اور ٹکٹ فری۔ تجربہ ضروری نہیں۔ "
    "تنخواہ تین لاکھ ماہانہ۔ پاسپورٹ کمپنی کے پاس رہے گا۔\nفوری رابطہ کریں، صرف واٹس ایپ: 0300-1234567",
    0.94,
    "high",
    "ur",
    {
        "gender_age_targeting": ["لڑکیاں درکار ہیں", "عمر 18 سے 25 سال"],
        "free_visa_travel": ["ویزا اور ٹکٹ فری"],
        "no_experience_required": ["تجربہ ضروری نہیں"],
        "unrealistic_pay": ["تنخواہ تین لاکھ ماہانہ"],
        "document_retention": ["پاسپورٹ کمپنی کے پاس رہے گا"],
        "urgency_pressure": ["فوری رابطہ کریں"],
        "off_platform_contact": ["صرف واٹس ایپ"],
    },
    phones=["+923001234567"],
    platform="facebook",
    posted_at="2024-05-02",
)

ENGLISH_AD = scored_ad(
    "demo-en-1",
    "URGENT!!! Jobs in Europe ALL categories. Work on visit visa, no protector needed.\n"
    "Processing fee 50,000 after visa. Submit original passport at our office.\n"
    "Salary 8000 AED, no experience needed. Last 3 seats!\nWhatsApp only +92 300 1234567",
    0.91,
    "high",
    "en",
    {
        "vague_employer": ["Jobs in Europe ALL categories"],
        "unlicensed_overseas": ["Work on visit visa", "no protector needed"],
        "upfront_fee": ["Processing fee 50,000 after visa"],
        "document_retention": ["Submit original passport"],
        "unrealistic_pay": ["Salary 8000 AED"],
        "no_experience_required": ["no experience needed"],
        "urgency_pressure": ["URGENT!!!", "Last 3 seats!"],
        "off_platform_contact": ["WhatsApp only"],
    },
    phones=["+923001234567"],
    platform="classifieds",
    posted_at="2024-05-03",
    url="https://example.invalid/ads/123",
)

XSS_AD = scored_ad(
    "demo-xss",
    "Hiring girls for hostess job in Dubai <script>window.__xss = 1; alert('xss')</script> "
    "<img src=x onerror=\"window.__xss_img = 1; alert('img')\"> contact hr@example.com",
    0.88,
    "high",
    "en",
    {"gender_age_targeting": ["Hiring girls"], "sexual_services": ["hostess job in Dubai"]},
    emails=["hr@example.com"],
    platform="classifieds",
)

DEMO_ADS: list[dict[str, Any]] = [
    URDU_AD,
    ENGLISH_AD,
    XSS_AD,
    scored_ad(
        "demo-rur-1",
        "Saudi mein driver ki zaroorat. Koi tajurba zaroori nahi. Peshgi milegi, salary 6 mahine "
        "baad. 2 saal chutti nahi. Rabta 0321-7654321, inbox me message karein",
        0.83,
        "high",
        "ur-Latn",
        {
            "no_experience_required": ["Koi tajurba zaroori nahi"],
            "debt_bondage": ["Peshgi milegi", "salary 6 mahine baad"],
            "restricted_freedom": ["2 saal chutti nahi"],
            "off_platform_contact": ["inbox me"],
        },
        phones=["+923217654321"],
        platform="facebook",
    ),
    scored_ad(
        "demo-rur-2",
        "Italy by boat, dunki lagwayen, 100% guarantee. Iran Turkey route. Advance 5 lakh. "
        "Rabta 0300-1234567",
        0.79,
        "high",
        "ur-Latn",
        {
            "irregular_route": ["Italy by boat", "dunki lagwayen", "Iran Turkey route"],
            "upfront_fee": ["Advance 5 lakh"],
        },
        phones=["+923001234567"],
        platform="whatsapp",
    ),
    scored_ad(
        "demo-ur-2",
        "گردہ عطیہ کرنے والا چاہیے، معقول معاوضہ دیا جائے گا۔ رابطہ 0345-1112223",
        0.72,
        "high",
        "ur",
        {"organ_trade": ["گردہ عطیہ کرنے والا چاہیے"]},
        phones=["+923451112223"],
        platform="facebook",
    ),
    scored_ad(
        "demo-mixed-1",
        "Chinese rishta available, family ko 10 lakh milenge. Larki 18-22 saal. Contact +923331234567",
        0.55,
        "medium",
        "mixed",
        {
            "marriage_abroad": ["Chinese rishta", "family ko 10 lakh"],
            "gender_age_targeting": ["Larki 18-22 saal"],
        },
        phones=["+923331234567"],
        platform="facebook",
    ),
    scored_ad(
        "demo-en-2",
        "Hotel staff needed in Doha, accommodation provided. Send CV on WhatsApp 0312-5556667.",
        0.31,
        "medium",
        "en",
        {"off_platform_contact": ["Send CV on WhatsApp"]},
        phones=["+923125556667"],
        platform="job_board",
    ),
    scored_ad(
        "demo-en-3",
        "Al-Faisal Overseas Employment Promoters, OEP Licence No. 1234/RWP. Electricians for ABC "
        "Contracting, Riyadh. Salary SAR 1,800 + overtime. Protector and BE&OE registration as per "
        "law. Apply at 14 Mall Road, Lahore.",
        0.06,
        "low",
        "en",
        {},
        platform="job_board",
    ),
    {
        "id": "demo-err",
        "text": "",
        "risk": None,
        "band": None,
        "lang": "und",
        "indicators": [],
        "entities": {},
        "model": MODEL,
        "error": "empty text: nothing to score",
        "platform": "classifieds",
    },
]


# A campaign for the campaign page (issue 10, item 5): one Roman Urdu / English ad re-posted in
# six cities behind two WhatsApp numbers (template t-demo-gulf), and a driver ad sharing one of
# the numbers (template t-demo-driver): one network, n-demo. As `nigehbaan cluster` would mark
# them, with its --clusters summaries in CAMPAIGN_SUMMARIES.
_GULF = (
    "Girls required for hotel jobs in {city}. Age 18-25. Visa aur ticket free, "
    "tajurba zaroori nahi. Salary {pay} mahana. WhatsApp only {phone}"
)
_CITIES = ["Dubai", "Doha", "Riyadh", "Muscat", "Sharjah", "Bahrain"]
CAMPAIGN_ADS: list[dict[str, Any]] = [
    scored_ad(
        f"gulf-{i + 1}",
        _GULF.format(city=city, pay=f"{2 + i % 3} lakh", phone=phone),
        round(0.93 - 0.03 * i, 2),
        "high",
        "mixed" if i % 2 else "en",
        {
            "gender_age_targeting": ["Girls required", "Age 18-25"],
            "free_visa_travel": ["Visa aur ticket free"],
            "no_experience_required": ["tajurba zaroori nahi"],
            "off_platform_contact": ["WhatsApp only"],
        },
        phones=[f"+92{phone[1:].replace('-', '')}"],
        platform=("facebook", "olx", "telegram")[i % 3],
        posted_at=f"2024-06-{3 + 2 * i:02d}",
        template_id="t-demo-gulf",
        network_id="n-demo",
    )
    for i, (city, phone) in enumerate(
        zip(_CITIES, ["0301-5550101", "0301-5550101", "0345-5550202"] * 2, strict=True)
    )
] + [
    scored_ad(
        f"driver-{i + 1}",
        f"Driver chahiye Saudi ke liye. Peshgi milegi, salary {6 + i} mahine baad. "
        "Rabta 0345-5550202",
        0.71,
        "high",
        "ur-Latn",
        {"debt_bondage": ["Peshgi milegi"]},
        phones=["+923455550202"],
        platform="facebook",
        posted_at=f"2024-06-1{i}",
        template_id="t-demo-driver",
        network_id="n-demo",
    )
    for i in range(2)
]
CAMPAIGN_SUMMARIES: list[dict[str, Any]] = [
    {
        "id": "t-demo-gulf",
        "kind": "template",
        "size": 6,
        "members": [f"gulf-{i}" for i in range(1, 7)],
        "network_id": "n-demo",
        "template": "girls required for hotel jobs in {slot}. age 18-25. visa aur ticket free, "
        "tajurba zaroori nahi. salary {slot} lakh mahana. whatsapp only {slot}",
        "contacts": ["phone:+923015550101", "phone:+923455550202"],
    },
    {
        "id": "t-demo-driver",
        "kind": "template",
        "size": 2,
        "members": ["driver-1", "driver-2"],
        "network_id": "n-demo",
        "template": "driver chahiye saudi ke liye. peshgi milegi, salary {slot} mahine baad. "
        "rabta 0345-5550202",
        "contacts": ["phone:+923455550202"],
    },
    {
        "id": "n-demo",
        "kind": "network",
        "size": 8,
        "members": [],
        "templates": ["t-demo-gulf", "t-demo-driver"],
        "hubs": {},
    },
]
